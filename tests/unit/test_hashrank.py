"""hashrank-v1 as pure functions: properties on random instances, and the verifier."""

from __future__ import annotations

import copy
import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.inspections import credit_code, hashrank

IDS = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=6, max_size=18)


@st.composite
def instances(draw):  # type: ignore[no-untyped-def]
    ids = draw(st.lists(IDS, min_size=1, max_size=60, unique=True))
    strata: dict[str, list[str]] = {}
    for ident in ids:
        strata.setdefault(draw(st.sampled_from(hashrank.STRATA)), []).append(ident)
    quotas = {name: draw(st.integers(0, len(pool))) for name, pool in strata.items()}
    inspectors = draw(st.lists(st.uuids().map(str), min_size=2, max_size=25, unique=True))
    unavailable = {
        i: draw(st.sampled_from(sorted(hashrank.DRAW_WIDE_REASONS)))
        for i in inspectors
        if draw(st.booleans()) and draw(st.booleans())
    }
    conflicts = {
        s: frozenset(draw(st.lists(st.sampled_from(inspectors), max_size=3)))
        for s in ids
        if draw(st.integers(0, 4)) == 0
    }
    previous = {s: draw(st.sampled_from(inspectors)) for s in ids if draw(st.integers(0, 3)) == 0}
    constraints = hashrank.Constraints(
        team_size=draw(st.integers(2, 4)),
        workload_cap=draw(st.integers(1, 6)),
        unavailable=unavailable,
        conflicts=conflicts,
        previous_lead=previous,
    )
    return {
        "secret": draw(st.binary(min_size=32, max_size=32)),
        "entropy": draw(st.text(max_size=20)),
        "pools": strata,
        "quotas": quotas,
        "inspector_pool": inspectors,
        "constraints": constraints,
    }


def _run(inst: dict) -> hashrank.Draw:  # type: ignore[type-arg]
    return hashrank.draw(**inst)


def _record(inst: dict, result: hashrank.Draw) -> dict:  # type: ignore[type-arg]
    return hashrank.public_record(
        draw_id="d",
        plan_id="p",
        drawn_at="2026-11-23T00:00:00Z",
        secret=inst["secret"],
        entropy=inst["entropy"],
        result=result,
        inspector_pool=inst["inspector_pool"],
    )


@settings(max_examples=80, deadline=None)
@given(instances(), st.randoms(use_true_random=False))
def test_same_inputs_same_draw_and_pool_order_does_not_matter(inst, rnd):  # type: ignore[no-untyped-def]
    first = _run(inst)
    again = _run(copy.deepcopy(inst))
    shuffled = dict(inst)
    shuffled["pools"] = {k: rnd.sample(v, len(v)) for k, v in reversed(inst["pools"].items())}
    shuffled["inspector_pool"] = rnd.sample(inst["inspector_pool"], len(inst["inspector_pool"]))
    third = _run(shuffled)
    for other in (again, third):
        assert other.pool_digest == first.pool_digest
        assert other.seed == first.seed
        assert [s["selected"] for s in other.strata] == [s["selected"] for s in first.strata]
        assert [a.as_record() for a in other.assignments] == [
            a.as_record() for a in first.assignments
        ]


@settings(max_examples=80, deadline=None)
@given(instances())
def test_quota_exact_and_no_constraint_violated(inst):  # type: ignore[no-untyped-def]
    result = _run(inst)
    c: hashrank.Constraints = inst["constraints"]
    for stratum in result.strata:
        assert len(stratum["selected"]) == inst["quotas"][stratum["name"]]
        assert set(stratum["selected"]) <= set(inst["pools"][stratum["name"]])
    load: dict[str, int] = {}
    for a in result.assignments:
        assert len(a.inspectors) <= c.team_size
        assert len(set(a.inspectors)) == len(a.inspectors)
        for inspector in a.inspectors:
            assert inspector not in c.unavailable
            assert inspector not in c.conflicts.get(a.subject_id, ())
            assert c.previous_lead.get(a.subject_id) != inspector
            load[inspector] = load.get(inspector, 0) + 1
            assert load[inspector] <= c.workload_cap
        for inspector, reason in a.skipped:
            assert reason in hashrank.REASONS
            if reason in hashrank.DRAW_WIDE_REASONS:
                assert c.unavailable[inspector] == reason
            if reason == "conflict":
                assert inspector in c.conflicts[a.subject_id]
            if reason == "previous_lead":
                assert c.previous_lead[a.subject_id] == inspector
    short = hashrank.shortfall(result.assignments, c.team_size)
    if not short:
        hashrank.verify(_record(inst, result))


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.text(max_size=10), st.text(max_size=10))
def test_a_different_entropy_changes_the_draw(secret, e1, e2):  # type: ignore[no-untyped-def]
    if e1 == e2:
        return
    pool = [f"S{i:04d}" for i in range(40)]
    digest = hashrank.pool_digest(pool)
    s1, s2 = hashrank.seed(secret, digest, e1), hashrank.seed(secret, digest, e2)
    assert s1 != s2
    assert hashrank.select(s1, "A", pool, 20) != hashrank.select(s2, "A", pool, 20)


def test_contract_formulas_match_the_design_text():
    secret = bytes(range(32))
    pool = {"B": ["X2", "X1"], "A": ["Y1"]}
    digest = hashlib.sha256(b"X1\nX2\nY1").hexdigest()
    assert hashrank.pool_digest(["X2", "X1", "Y1"]) == digest
    seed = hashlib.sha256(secret + bytes.fromhex(digest) + "开奖 123".encode()).digest()
    assert hashrank.seed(secret, digest, "开奖 123") == seed
    score = int.from_bytes(hashlib.sha256(seed + b"\x00subject\x00B\x00X1").digest(), "big")
    assert hashrank.subject_score(seed, "B", "X1") == score
    expected = sorted(pool["B"], key=lambda i: hashrank.subject_score(seed, "B", i))
    assert hashrank.select(seed, "B", pool["B"], 2) == expected
    officer = int.from_bytes(hashlib.sha256(seed + b"\x00inspector\x00X1\x00o1").digest(), "big")
    assert hashrank.inspector_score(seed, "X1", "o1") == officer
    assert hashrank.quota_for(100, ratio=0.03) == 3  # not 4: exact decimal arithmetic
    assert hashrank.quota_for(101, ratio=0.03) == 4
    assert hashrank.quota_for(5, count=9) == 5


def _valid_instance() -> dict:  # type: ignore[type-arg]
    rng = random.Random(7)
    pools = {s: [f"{s}{n:03d}" for n in range(30)] for s in ("A", "B", "flagged")}
    inspectors = [f"officer-{n}" for n in range(12)]
    return {
        "secret": bytes(rng.randrange(256) for _ in range(32)),
        "entropy": "",
        "pools": pools,
        "quotas": {"A": 3, "B": 5, "flagged": 30},
        "inspector_pool": inspectors,
        "constraints": hashrank.Constraints(
            team_size=2,
            workload_cap=8,
            unavailable={"officer-3": "on_leave", "officer-5": "certificate"},
            conflicts={"A001": frozenset({"officer-1", "officer-2"})},
            previous_lead={"B004": "officer-4"},
        ),
    }


def test_verify_accepts_the_record_and_names_the_first_tampering():
    inst = _valid_instance()
    result = _run(inst)
    assert not hashrank.shortfall(result.assignments, 2)
    record = _record(inst, result)
    hashrank.verify(record)
    reasons = {r["reason"] for a in record["assignments"] for r in a["skipped"]}
    assert {"on_leave", "certificate"} <= reasons

    tampered = copy.deepcopy(record)
    stratum = tampered["strata"][0]
    outsider = next(i for i in stratum["pool"] if i not in stratum["selected"])
    stratum["selected"][1] = outsider
    with pytest.raises(hashrank.Mismatch, match=r"stratum A: selected\[1\]"):
        hashrank.verify(tampered)

    for mutate, message in (
        (lambda r: r.update(secret="00" * 32), "commitment"),
        (lambda r: r["strata"][1]["pool"].append("NEW"), "pool_digest"),
        (lambda r: r.update(entropy="x"), "seed"),
        (lambda r: r["assignments"][0]["inspectors"].reverse(), "walk order"),
        (lambda r: r["assignments"][2]["skipped"].clear(), "walk order"),
        (lambda r: r["assignments"].pop(), "assignments for"),
    ):
        broken = copy.deepcopy(record)
        mutate(broken)
        with pytest.raises(hashrank.Mismatch, match=message):
            hashrank.verify(broken)


def test_verify_rejects_a_workload_skip_no_cap_explains():
    inst = _valid_instance()
    record = _record(inst, _run(inst))
    # Re-label the first taken inspector of the first subject as refused for workload: it had
    # done nothing yet, while others were taken with work already done.
    broken = copy.deepcopy(record)
    first = broken["assignments"][-1]
    moved = first["inspectors"].pop(0)
    first["skipped"].append({"inspector_id": moved, "reason": "workload"})
    with pytest.raises(hashrank.Mismatch):
        hashrank.verify(broken)


def test_credit_code_check_character():
    assert credit_code.problem("91350100M000100Y43") is None
    assert "check character" in (credit_code.problem("91350100M000100Y44") or "")
    assert "18 characters" in (credit_code.problem("9135") or "")
    assert "not allowed" in (credit_code.problem("91350100M000100YO3") or "")
    body = "91320281MA1X2Y3Z4"
    assert credit_code.problem(credit_code.complete(body.replace("Z", "Q"))) is None
