"""The verifiable draw ``hashrank-v1`` (contract in DESIGN.md), as pure functions.

The draw service and ``fieldcase draw verify`` share this module: what the server
computes is exactly what an outside verifier recomputes from the public record.
Nothing here touches the database or the clock.

Steps: ``seed = sha256(secret || pool_digest || entropy)``; each stratum selects its
quota of lowest subject scores; subjects are then staffed in order of stratum name,
then score, by walking the inspectors in the order of their score for that subject
and taking the first ones that pass every constraint until the team is full.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALGORITHM = "hashrank-v1"
STRATA = ("A", "B", "C", "D", "flagged")

# Why a pool inspector was passed over. The first three hold for the whole draw, the next
# two for one (inspector, subject) pair, the last depends on the draw so far.
REASONS = ("on_leave", "certificate", "domain", "conflict", "previous_lead", "workload")
DRAW_WIDE_REASONS = frozenset({"on_leave", "certificate", "domain"})


def commitment(secret: bytes) -> str:
    """What is published when the plan is published: ``sha256(secret)`` hex."""
    return hashlib.sha256(secret).hexdigest()


def pool_digest(ids: Iterable[str], *, presorted: bool = False) -> str:
    """``sha256("\\n".join(sorted(ids)))`` hex over the ids of every stratum."""
    ordered = ids if presorted else sorted(ids)
    return hashlib.sha256("\n".join(ordered).encode("utf-8")).hexdigest()


def seed(secret: bytes, digest_hex: str, entropy: str) -> bytes:
    return hashlib.sha256(secret + bytes.fromhex(digest_hex) + entropy.encode("utf-8")).digest()


def subject_score(seed_: bytes, stratum: str, subject_id: str) -> int:
    """A subject's score in a stratum: the big-endian integer of its hash."""
    prefix = seed_ + b"\x00subject\x00" + stratum.encode("utf-8") + b"\x00"
    return int.from_bytes(hashlib.sha256(prefix + subject_id.encode("utf-8")).digest(), "big")


def inspector_score(seed_: bytes, subject_id: str, inspector_id: str) -> int:
    prefix = seed_ + b"\x00inspector\x00" + subject_id.encode("utf-8") + b"\x00"
    return int.from_bytes(hashlib.sha256(prefix + inspector_id.encode("utf-8")).digest(), "big")


def _scored(prefix: bytes, ids: Iterable[str]) -> Iterable[tuple[bytes, str]]:
    """(digest, id) pairs; digests of equal length compare like their big-endian integers.

    One ``sha256(prefix + id)`` per id: constructing a hash object over the joined bytes
    is cheaper in CPython than copying a primed one and updating it. The digests are
    collected in a list of bytes and paired lazily: a list of a million tuples would
    be tracked by the garbage collector, which then walks it again and again.
    """
    ids = ids if isinstance(ids, Sequence) else list(ids)
    sha256 = hashlib.sha256
    digests = [sha256(prefix + ident.encode("utf-8")).digest() for ident in ids]
    return zip(digests, ids, strict=True)


def top_scores(prefix: bytes, pieces: Sequence[bytes], k: int) -> list[tuple[bytes, str]]:
    """The ``k`` lowest (digest, id) of ids given as newline-separated UTF-8 ``pieces``.

    What ``select`` does, over part of a pool shipped as bytes (cheap to send to a worker
    process; ids never contain a newline: the pool digest joins them with one). The
    lowest ``k`` of a pool are among the lowest ``k`` of each of its parts.
    """
    sha256 = hashlib.sha256
    best: list[tuple[bytes, bytes]] = []
    for piece in pieces:
        if not piece:
            continue
        raw = piece.split(b"\n")
        digests = [sha256(prefix + ident).digest() for ident in raw]
        best.extend(heapq.nsmallest(k, zip(digests, raw, strict=True)))
    return [(d, ident.decode("utf-8")) for d, ident in heapq.nsmallest(k, best)]


ORDER_HEAD = 16


def inspector_orders(
    seed_: bytes, subjects: Sequence[str], inspectors: Sequence[str], head: int
) -> bytes:
    """The head of each subject's inspector ranking: positions in ``inspectors`` of its
    first ``head`` (``array("I")`` bytes, subjects in order). ``assign`` walks a head
    and, in the rare case that it walks past one, ranks the rest itself."""
    sha256 = hashlib.sha256
    encoded = [i.encode("utf-8") for i in inspectors]
    positions = range(len(inspectors))
    width = min(head, len(inspectors))
    out = array("I")
    for subject in subjects:
        prefix = _inspector_prefix(seed_, subject)
        digests = [sha256(prefix + raw).digest() for raw in encoded]
        out.extend(heapq.nsmallest(width, positions, key=digests.__getitem__))
    return out.tobytes()


def subject_prefix(seed_: bytes, stratum: str) -> bytes:
    """What every subject id of ``stratum`` is appended to before hashing (step 4)."""
    return seed_ + b"\x00subject\x00" + stratum.encode("utf-8") + b"\x00"


def _inspector_prefix(seed_: bytes, subject_id: str) -> bytes:
    return seed_ + b"\x00inspector\x00" + subject_id.encode("utf-8") + b"\x00"


def select(seed_: bytes, stratum: str, pool: Iterable[str], quota: int) -> list[str]:
    """The ``quota`` ids of ``pool`` with the lowest scores, lowest first."""
    return [i for _, i in heapq.nsmallest(quota, _scored(subject_prefix(seed_, stratum), pool))]


def rank(seed_: bytes, stratum: str, pool: Iterable[str]) -> list[str]:
    """The whole pool of a stratum in score order (replacements walk on past the quota)."""
    return [i for _, i in sorted(_scored(subject_prefix(seed_, stratum), pool))]


def inspector_order(seed_: bytes, subject_id: str, inspectors: Iterable[str]) -> list[str]:
    return [i for _, i in sorted(_scored(_inspector_prefix(seed_, subject_id), inspectors))]


def _walk(seed_: bytes, subject_id: str, inspectors: Sequence[tuple[bytes, str]]) -> Any:
    """The inspector ranking of one subject, lazily: a draw rarely walks far into it.

    ``inspectors`` are (UTF-8 bytes, id) pairs, encoded once for the whole draw.
    """
    prefix = _inspector_prefix(seed_, subject_id)
    sha256 = hashlib.sha256
    heap = [(sha256(prefix + raw).digest(), ident) for raw, ident in inspectors]
    heapq.heapify(heap)
    while heap:
        yield heapq.heappop(heap)[1]


def _walk_from(
    seed_: bytes, subject_id: str, inspectors: Sequence[tuple[bytes, str]], head: list[str]
) -> Any:
    """A subject's inspector ranking whose head is already known."""
    yield from head
    if len(head) < len(inspectors):
        yield from itertools.islice(_walk(seed_, subject_id, inspectors), len(head), None)


def quota_for(pool_size: int, *, ratio: Any = None, count: int | None = None) -> int:
    """``ceil(ratio × pool size)`` in exact decimal arithmetic, or the fixed count (capped)."""
    from decimal import ROUND_CEILING, Decimal

    if count is not None:
        return min(count, pool_size)
    exact = Decimal(str(ratio)) * pool_size
    return min(int(exact.to_integral_value(rounding=ROUND_CEILING)), pool_size)


# ---------------------------------------------------------------------------
# Inspector assignment


@dataclass(frozen=True)
class Constraints:
    """What decides whether a pool inspector may join a subject's team."""

    team_size: int
    workload_cap: int
    # inspector -> on_leave | certificate | domain: holds for the whole draw.
    unavailable: Mapping[str, str] = field(default_factory=dict)
    # subject -> inspectors with a recorded conflict of interest.
    conflicts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # subject -> lead inspector of its previous inspection.
    previous_lead: Mapping[str, str] = field(default_factory=dict)

    def reason(self, inspector: str, subject: str, workload: int) -> str | None:
        """Why ``inspector`` cannot inspect ``subject`` now, or None (checked in REASONS order)."""
        fixed = self.unavailable.get(inspector)
        if fixed is not None:
            return fixed
        if inspector in self.conflicts.get(subject, ()):
            return "conflict"
        if self.previous_lead.get(subject) == inspector:
            return "previous_lead"
        if workload >= self.workload_cap:
            return "workload"
        return None


@dataclass
class Assignment:
    subject_id: str
    inspectors: list[str]
    skipped: list[tuple[str, str]]

    def as_record(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "inspectors": list(self.inspectors),
            "skipped": [{"inspector_id": i, "reason": r} for i, r in self.skipped],
        }


def assign(
    seed_: bytes,
    subjects: Sequence[str],
    inspector_pool: Sequence[str],
    constraints: Constraints,
    *,
    workload: dict[str, int] | None = None,
    orders: Sequence[Sequence[int] | None] | None = None,
) -> list[Assignment]:
    """Staff ``subjects`` (already in stratum-name, score order) from ``inspector_pool``.

    ``orders`` may give the head of each subject's inspector ranking already computed
    (positions in ``inspector_pool``, see ``inspector_orders``; None for a subject whose
    head is not known); the rest is computed as walked.
    A subject that cannot be fully staffed keeps the inspectors it got; the caller
    refuses the draw (see ``shortfall``).
    """
    load: dict[str, int] = workload if workload is not None else {}
    encoded = [(i.encode("utf-8"), i) for i in inspector_pool]
    out: list[Assignment] = []
    for n, subject in enumerate(subjects):
        taken: list[str] = []
        skipped: list[tuple[str, str]] = []
        known = orders[n] if orders is not None else None
        walk = (
            _walk(seed_, subject, encoded)
            if known is None
            else _walk_from(seed_, subject, encoded, [inspector_pool[k] for k in known])
        )
        for inspector in walk:
            why = constraints.reason(inspector, subject, load.get(inspector, 0))
            if why is not None:
                skipped.append((inspector, why))
                continue
            taken.append(inspector)
            load[inspector] = load.get(inspector, 0) + 1
            if len(taken) == constraints.team_size:
                break
        out.append(Assignment(subject_id=subject, inspectors=taken, skipped=skipped))
    return out


def shortfall(assignments: Iterable[Assignment], team_size: int) -> dict[str, int]:
    """Subjects whose team is not full, with how many inspectors they lack."""
    return {
        a.subject_id: team_size - len(a.inspectors)
        for a in assignments
        if len(a.inspectors) < team_size
    }


# ---------------------------------------------------------------------------
# The whole draw


@dataclass
class Draw:
    pool_digest: str
    seed: bytes
    strata: list[dict[str, Any]]
    assignments: list[Assignment]


def draw(
    *,
    secret: bytes,
    entropy: str,
    pools: Mapping[str, Sequence[str]],
    quotas: Mapping[str, int],
    inspector_pool: Sequence[str],
    constraints: Constraints,
    sorted_ids: Sequence[str] | None = None,
) -> Draw:
    """Steps 2–5 of hashrank-v1. ``sorted_ids`` may pass the union of pools already sorted."""
    digest = pool_digest(sorted_ids, presorted=True) if sorted_ids is not None else None
    if digest is None:
        digest = pool_digest(i for pool in pools.values() for i in pool)
    seed_ = seed(secret, digest, entropy)
    strata = []
    order: list[str] = []
    for name in sorted(pools):
        chosen = select(seed_, name, pools[name], quotas[name])
        strata.append(
            {"name": name, "pool": list(pools[name]), "quota": quotas[name], "selected": chosen}
        )
        order.extend(chosen)
    return Draw(
        pool_digest=digest,
        seed=seed_,
        strata=strata,
        assignments=assign(seed_, order, inspector_pool, constraints),
    )


def public_record(
    *,
    draw_id: str,
    plan_id: str,
    drawn_at: str,
    secret: bytes,
    entropy: str,
    result: Draw,
    inspector_pool: Sequence[str],
) -> dict[str, Any]:
    """The record published at ``GET /public/draws/{draw_id}``, in the contract's shape."""
    return {
        "draw_id": draw_id,
        "plan_id": plan_id,
        "algorithm": ALGORITHM,
        "drawn_at": drawn_at,
        "commitment": commitment(secret),
        "secret": secret.hex(),
        "entropy": entropy,
        "pool_digest": result.pool_digest,
        "seed": result.seed.hex(),
        "strata": result.strata,
        "inspector_pool": list(inspector_pool),
        "assignments": [a.as_record() for a in result.assignments],
    }


# ---------------------------------------------------------------------------
# Verification from the public record alone


class Mismatch(Exception):
    """The first place where a record disagrees with its recomputation."""


def _need(record: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in record:
        raise Mismatch(f"missing field {key}")
    value = record[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Mismatch(f"field {key} has the wrong type")
    return value


def _hex(record: Mapping[str, Any], key: str) -> bytes:
    text = _need(record, key, str)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise Mismatch(f"field {key} is not hex") from None


def _id_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Mismatch(f"{where} must be a list of strings")
    if len(set(value)) != len(value):
        raise Mismatch(f"{where} lists an id twice")
    return value


def verify(record: Mapping[str, Any]) -> None:
    """Recompute a public draw record; raise ``Mismatch`` naming the first difference."""
    if _need(record, "algorithm", str) != ALGORITHM:
        raise Mismatch(f"algorithm is {record['algorithm']!r}, expected {ALGORITHM!r}")
    secret = _hex(record, "secret")
    if commitment(secret) != _need(record, "commitment", str):
        raise Mismatch("commitment is not sha256(secret)")
    strata = _need(record, "strata", list)
    pools: dict[str, list[str]] = {}
    for n, stratum in enumerate(strata):
        if not isinstance(stratum, dict):
            raise Mismatch(f"strata[{n}] is not an object")
        name = _need(stratum, "name", str)
        if name in pools:
            raise Mismatch(f"stratum {name} is listed twice")
        pools[name] = _id_list(stratum.get("pool"), f"stratum {name} pool")
    everything = [i for pool in pools.values() for i in pool]
    if len(set(everything)) != len(everything):
        raise Mismatch("a subject is in the pool of two strata")
    digest = pool_digest(everything)
    if digest != _need(record, "pool_digest", str):
        raise Mismatch(f"pool_digest is {record['pool_digest']}, recomputed {digest}")
    entropy = _need(record, "entropy", str)
    seed_ = seed(secret, digest, entropy)
    if seed_.hex() != _need(record, "seed", str):
        raise Mismatch(f"seed is {record['seed']}, recomputed {seed_.hex()}")

    order: list[str] = []
    for stratum in sorted(strata, key=lambda s: s["name"]):
        name = stratum["name"]
        quota = _need(stratum, "quota", int)
        if not 0 <= quota <= len(pools[name]):
            raise Mismatch(f"stratum {name}: quota {quota} is outside 0..{len(pools[name])}")
        selected = _id_list(stratum.get("selected"), f"stratum {name} selected")
        expected = select(seed_, name, pools[name], quota)
        if selected != expected:
            at = next(
                (k for k, (a, b) in enumerate(zip(selected, expected, strict=False)) if a != b),
                min(len(selected), len(expected)),
            )
            got = selected[at] if at < len(selected) else "nothing"
            want = expected[at] if at < len(expected) else "nothing"
            raise Mismatch(f"stratum {name}: selected[{at}] is {got}, expected {want}")
        order.extend(selected)

    _verify_assignments(record, seed_, order)


def _verify_assignments(record: Mapping[str, Any], seed_: bytes, order: list[str]) -> None:
    inspector_pool = _id_list(record.get("inspector_pool"), "inspector_pool")
    assignments = _need(record, "assignments", list)
    if len(assignments) != len(order):
        raise Mismatch(f"{len(assignments)} assignments for {len(order)} selected subjects")
    team_sizes: set[int] = set()
    draw_wide: dict[str, str] = {}
    taken_anywhere: set[str] = set()
    load: dict[str, int] = {}
    max_load_taken = -1  # the largest workload an inspector had when taken
    min_load_refused: int | None = None  # the smallest workload refused as "workload"
    for n, (entry, subject) in enumerate(zip(assignments, order, strict=True)):
        if not isinstance(entry, dict):
            raise Mismatch(f"assignments[{n}] is not an object")
        if entry.get("subject_id") != subject:
            raise Mismatch(
                f"assignments[{n}] is for {entry.get('subject_id')}, expected {subject} "
                "(stratum name, then score order)"
            )
        taken = _id_list(entry.get("inspectors"), f"assignments[{n}] inspectors")
        skipped_raw = entry.get("skipped")
        if not isinstance(skipped_raw, list):
            raise Mismatch(f"assignments[{n}] skipped must be a list")
        skipped: dict[str, str] = {}
        for item in skipped_raw:
            if not isinstance(item, dict) or item.get("reason") not in REASONS:
                raise Mismatch(f"assignments[{n}]: a skipped entry has no valid reason")
            skipped[str(item.get("inspector_id"))] = item["reason"]
        walk = inspector_order(seed_, subject, inspector_pool)
        prefix = walk[: len(taken) + len(skipped)]
        walked_taken = [i for i in prefix if i not in skipped]
        walked_skipped = [i for i in prefix if i in skipped]
        listed_skipped = [str(item.get("inspector_id")) for item in skipped_raw]
        if walked_taken != taken or walked_skipped != listed_skipped:
            raise Mismatch(
                f"assignments[{n}] ({subject}): inspectors and skipped are not the walk order "
                f"of the inspector ranking (expected to take {walked_taken[: len(taken)]})"
            )
        if taken and prefix and prefix[-1] != taken[-1]:
            raise Mismatch(
                f"assignments[{n}] ({subject}): the walk went on after the team was full"
            )
        team_sizes.add(len(taken))
        for inspector in prefix:
            reason = skipped.get(inspector)
            current = load.get(inspector, 0)
            if reason is None:
                if inspector in draw_wide:
                    raise Mismatch(
                        f"assignments[{n}]: {inspector} was taken though skipped earlier "
                        f"for {draw_wide[inspector]}"
                    )
                taken_anywhere.add(inspector)
                max_load_taken = max(max_load_taken, current)
                load[inspector] = current + 1
            elif reason in DRAW_WIDE_REASONS:
                if inspector in taken_anywhere or draw_wide.get(inspector, reason) != reason:
                    raise Mismatch(
                        f"assignments[{n}]: {inspector} skipped for {reason}, "
                        "which contradicts the rest of the draw"
                    )
                draw_wide[inspector] = reason
            elif reason == "workload":
                min_load_refused = (
                    current if min_load_refused is None else min(min_load_refused, current)
                )
        if list(skipped.values()).count("previous_lead") > 1:
            raise Mismatch(f"assignments[{n}]: more than one previous lead skipped")
    if len(team_sizes) > 1:
        raise Mismatch(f"teams have different sizes: {sorted(team_sizes)}")
    if team_sizes and min(team_sizes) < 2:
        raise Mismatch("a team has fewer than 2 inspectors")
    if min_load_refused is not None and min_load_refused <= max_load_taken:
        raise Mismatch(
            f"an inspector was refused for workload at {min_load_refused} subjects while another "
            f"was taken at {max_load_taken}: no single workload cap explains the draw"
        )
