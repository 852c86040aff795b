"""The fast row check of the subject import agrees with the plain one, row for row."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.core.ids import uuid7_texts
from backend.inspections import credit_code, subjects

LOCKED = credit_code.complete("91320281MA1X2Y3Q5")
CTX = subjects._Context(org_units={"B-0": "u0", "B-1": "u1"}, grids={"G1"}, locked_codes={LOCKED})
AT = {field: n for n, field in enumerate(subjects.FIELDS)}
GOOD = credit_code.complete("91320281MA1X2Y3Q4")

# Every column gets valid texts and texts that break one rule.
CELLS = [
    st.sampled_from(
        [GOOD, GOOD.lower(), f" {GOOD} ", GOOD[:17] + "0", LOCKED, "9132", "", "O" * 18]
    ),
    st.sampled_from(["某公司", "", " x ", "名" * 201]),
    st.sampled_from(["enterprise", "", "t" * 61]),
    st.sampled_from(["餐饮", "i" * 101]),
    st.sampled_from(["人民路1号", "a" * 301]),
    st.sampled_from(["", "31.8", "91", "north", " 30 "]),
    st.sampled_from(["", "120.1", "-181", "1e3"]),
    st.sampled_from(["B-0", " B-1", "B-9", ""]),
    st.sampled_from(["", "G1", "G2"]),
    st.sampled_from(["A", "d", " B ", "E", ""]),
    st.sampled_from(["", "1", "是", "maybe"]),
    st.sampled_from(["0", "false", "2"]),
    st.sampled_from(["", "active", "注销", "gone"]),
]


def plain(cells: list[str]) -> tuple[object, ...] | str:
    try:
        return subjects._check_row(cells, AT, CTX)
    except ValueError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(*CELLS).map(list), min_size=1, max_size=30))
def test_fast_check_gives_the_same_rows_and_reasons(rows: list[list[str]]) -> None:
    check = subjects._row_checker(AT, CTX)
    for cells in rows:
        try:
            fast: tuple[object, ...] | str = check(cells)
        except ValueError as exc:
            fast = str(exc)
        assert fast == plain(cells)


def test_credit_code_is_valid_matches_problem() -> None:
    codes = [GOOD, GOOD[:17] + "0", GOOD.lower(), "I" * 18, GOOD + "1", GOOD[:17], ""]
    for code in codes:
        assert credit_code.is_valid(code) == (credit_code.problem(code) is None)


def test_import_ids_are_increasing_version_7_uuids() -> None:
    ids = uuid7_texts(1000)
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert {uuid.UUID(i).version for i in ids} == {7}
    assert [uuid.UUID(i) for i in ids] == sorted(uuid.UUID(i) for i in ids)
    assert uuid7_texts(0) == []


@pytest.mark.parametrize("cell", ["1", "是", "TRUE"])
def test_remembered_columns_keep_their_meaning(cell: str) -> None:
    check = subjects._row_checker(AT, CTX)
    row = [GOOD, "某公司", "", "", "", "", "", "B-0", "", "a", cell, "0", ""]
    assert check(row)[7:] == ("u0", "", "A", True, False, "active")
    assert check(row)[7:] == ("u0", "", "A", True, False, "active")
