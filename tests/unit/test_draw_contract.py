"""An independent reference for the draw contract ``hashrank-v1``, written from DESIGN.md alone.

Nothing here imports the project's draw code: outside verifiers will write exactly this from
the published contract, so the project's public records must agree with it byte for byte.
The integration test ``tests/integration/test_contracts_api.py`` compares this reference with
the record served at ``GET /public/draws/{draw_id}``; the test below checks that the
project's ``fieldcase draw verify`` accepts a record computed here and rejects a changed one.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

ALGORITHM = "hashrank-v1"
REASONS = {"conflict", "certificate", "domain", "previous_lead", "workload", "on_leave"}
RECORD_KEYS = {
    "draw_id",
    "plan_id",
    "algorithm",
    "drawn_at",
    "commitment",
    "secret",
    "entropy",
    "pool_digest",
    "seed",
    "strata",
    "inspector_pool",
    "assignments",
}


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def commitment_of(secret: bytes) -> str:
    """Step 1: ``commitment = sha256(secret)`` hex."""
    return sha256(secret).hex()


def pool_digest_of(pools: Mapping[str, Iterable[str]]) -> str:
    """Step 2: ``sha256("\\n".join(sorted(all ids of all strata)))`` hex."""
    ids = sorted(i for pool in pools.values() for i in pool)
    return sha256("\n".join(ids).encode()).hex()


def seed_of(secret: bytes, pool_digest: str, entropy: str) -> bytes:
    """Step 3: ``sha256(secret || bytes.fromhex(pool_digest) || entropy.encode())``."""
    return sha256(secret, bytes.fromhex(pool_digest), entropy.encode("utf-8"))


def subject_score(seed: bytes, stratum: str, subject_id: str) -> int:
    """Step 4: big-endian integer of the subject's hash within its stratum."""
    digest = sha256(seed, b"\x00subject\x00", stratum.encode(), b"\x00", subject_id.encode("utf-8"))
    return int.from_bytes(digest, "big")


def inspector_score(seed: bytes, subject_id: str, inspector_id: str) -> int:
    """Step 5: the inspector's rank for one subject (lowest first)."""
    digest = sha256(
        seed, b"\x00inspector\x00", subject_id.encode("utf-8"), b"\x00", inspector_id.encode()
    )
    return int.from_bytes(digest, "big")


def quota_of(ratio: float | str | Fraction, pool_size: int) -> int:
    """``ceil(ratio × pool size)`` in exact arithmetic (0.28 × 25 is 7, not 8)."""
    exact = ratio if isinstance(ratio, Fraction) else Fraction(str(ratio))
    return min(pool_size, math.ceil(exact * pool_size))


# Static reasons an inspector cannot take a subject: (subject_id, inspector_id) -> reasons.
Blocked = Callable[[str, str], set[str]]


@dataclass
class Expected:
    """What a correct ``hashrank-v1`` draw must publish, computed from first principles."""

    commitment: str
    pool_digest: str
    seed: str
    quotas: dict[str, int]
    selected: dict[str, list[str]]
    # subject -> (inspectors taken, [(skipped inspector, reasons that would justify it)])
    walks: dict[str, tuple[list[str], list[tuple[str, set[str]]]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)


def reference_draw(
    *,
    secret: bytes,
    entropy: str,
    pools: Mapping[str, Iterable[str]],
    quotas: Mapping[str, int],
    inspectors: Iterable[str],
    team_size: int,
    workload_cap: int,
    blocked: Blocked,
) -> Expected:
    pools = {name: list(ids) for name, ids in pools.items()}
    digest = pool_digest_of(pools)
    seed = seed_of(secret, digest, entropy)
    selected: dict[str, list[str]] = {}
    for name, ids in pools.items():
        ranked = sorted(ids, key=lambda i, n=name: (subject_score(seed, n, i), i))  # type: ignore[misc]
        selected[name] = ranked[: quotas[name]]
    out = Expected(
        commitment=commitment_of(secret),
        pool_digest=digest,
        seed=seed.hex(),
        quotas=dict(quotas),
        selected=selected,
    )
    inspector_ids = list(inspectors)
    load = dict.fromkeys(inspector_ids, 0)
    # Subjects are processed in order of stratum name, then score; the cap counts in the draw.
    for name in sorted(selected):
        for subject in selected[name]:
            out.order.append(subject)
            walk = sorted(inspector_ids, key=lambda o, s=subject: (inspector_score(seed, s, o), o))  # type: ignore[misc]
            team: list[str] = []
            skipped: list[tuple[str, set[str]]] = []
            for officer in walk:
                if len(team) == team_size:
                    break
                reasons = set(blocked(subject, officer))
                if load[officer] >= workload_cap:
                    reasons.add("workload")
                if reasons:
                    skipped.append((officer, reasons))
                else:
                    team.append(officer)
                    load[officer] += 1
            if len(team) < team_size:
                out.short.append(subject)
            out.walks[subject] = (team, skipped)
    return out


def check_record(record: Mapping[str, Any], expected: Expected, *, entropy: str) -> None:
    """Assert that a public draw record is exactly what ``hashrank-v1`` gives on these inputs."""
    assert set(record) == RECORD_KEYS, f"record fields: {sorted(record)}"
    assert record["algorithm"] == ALGORITHM
    assert record["entropy"] == entropy
    secret = bytes.fromhex(record["secret"])
    assert len(secret) == 32
    assert record["commitment"] == expected.commitment
    assert record["pool_digest"] == expected.pool_digest
    assert record["seed"] == expected.seed
    strata = {s["name"]: s for s in record["strata"]}
    assert len(strata) == len(record["strata"])
    assert set(strata) == set(expected.selected), f"strata: {sorted(strata)}"
    for name, stratum in strata.items():
        assert set(stratum) == {"name", "pool", "quota", "selected"}
        assert stratum["quota"] == expected.quotas[name], f"stratum {name} quota"
        assert stratum["selected"] == expected.selected[name], f"stratum {name} selected"
    assignments = {a["subject_id"]: a for a in record["assignments"]}
    assert [a["subject_id"] for a in record["assignments"]] == expected.order
    for subject, (team, skipped) in expected.walks.items():
        got = assignments[subject]
        assert set(got) == {"subject_id", "inspectors", "skipped"}
        assert got["inspectors"] == team, f"team of {subject}"
        assert [s["inspector_id"] for s in got["skipped"]] == [o for o, _ in skipped], (
            f"skipped of {subject}"
        )
        for entry, (officer, reasons) in zip(got["skipped"], skipped, strict=True):
            assert set(entry) == {"inspector_id", "reason"}
            assert entry["reason"] in reasons, f"{subject}/{officer}: {entry['reason']} ∉ {reasons}"


# ---------------------------------------------------------------------------
# A random instance, verified by the project's `fieldcase draw verify`


def credit_code(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    body = "91" + "".join(rng.choice(alphabet) for _ in range(15))
    total = sum(alphabet.index(c) * w for c, w in zip(body, weights, strict=True))
    return body + alphabet[(31 - total % 31) % 31]


def record_from(
    expected: Expected,
    *,
    secret: bytes,
    entropy: str,
    pools: Mapping[str, list[str]],
    inspectors: list[str],
) -> dict[str, Any]:
    return {
        "draw_id": str(uuid.uuid4()),
        "plan_id": str(uuid.uuid4()),
        "algorithm": ALGORITHM,
        "drawn_at": "2026-11-23T02:00:00+00:00",
        "commitment": expected.commitment,
        "secret": secret.hex(),
        "entropy": entropy,
        "pool_digest": expected.pool_digest,
        "seed": expected.seed,
        "strata": [
            {
                "name": name,
                "pool": sorted(pools[name]),
                "quota": expected.quotas[name],
                "selected": expected.selected[name],
            }
            for name in sorted(pools)
        ],
        "inspector_pool": sorted(inspectors),
        "assignments": [
            {
                "subject_id": subject,
                "inspectors": expected.walks[subject][0],
                "skipped": [
                    {"inspector_id": o, "reason": sorted(r)[0]}
                    for o, r in expected.walks[subject][1]
                ],
            }
            for subject in expected.order
        ],
    }


@pytest.mark.parametrize("instance", range(3))
def test_project_verifier_accepts_the_reference_and_rejects_a_changed_selection(
    instance: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend import cli

    rng = random.Random(instance)
    pools = {
        name: [credit_code(rng) for _ in range(rng.randint(3, 30))]
        for name in ("A", "B", "C", "D", "flagged")
    }
    ratios = {"A": 0.03, "B": 0.05, "C": 0.28, "D": 0.3, "flagged": 1}
    quotas = {name: quota_of(ratios[name], len(ids)) for name, ids in pools.items()}
    inspectors = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(40)]
    conflicts = {(rng.choice(pools["C"]), rng.choice(inspectors)) for _ in range(30)}
    secret = secrets.token_bytes(32)
    entropy = "福彩3D 第2026321期 5 8 1"
    expected = reference_draw(
        secret=secret,
        entropy=entropy,
        pools=pools,
        quotas=quotas,
        inspectors=inspectors,
        team_size=2,
        workload_cap=3,
        blocked=lambda s, o: {"conflict"} if (s, o) in conflicts else set(),
    )
    assert not expected.short
    record = record_from(
        expected, secret=secret, entropy=entropy, pools=pools, inspectors=inspectors
    )
    check_record(record, expected, entropy=entropy)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["draw", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("OK")

    stratum = next(s for s in record["strata"] if s["selected"] and len(s["pool"]) > s["quota"])
    outsider = next(c for c in stratum["pool"] if c not in stratum["selected"])
    stratum["selected"][-1] = outsider
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["draw", "verify", str(path)]) == 1
    assert "OK" not in capsys.readouterr().out


def test_reference_building_blocks() -> None:
    secret = bytes(range(32))
    assert commitment_of(secret) == hashlib.sha256(secret).hexdigest()
    assert pool_digest_of({"B": ["b", "a"], "A": ["c"]}) == hashlib.sha256(b"a\nb\nc").hexdigest()
    assert quota_of(0.28, 25) == 7 and quota_of(0.03, 1) == 1 and quota_of(0, 9) == 0
    assert quota_of(1, 4) == 4
