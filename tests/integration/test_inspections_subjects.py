"""Subject directory: import by CLI service and upload, all-or-nothing, upsert by credit code."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import Workbook

from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.auth import system_principal
from backend.core.db import is_sqlite, write_tx
from backend.inspections import credit_code, subjects
from backend.inspections.bulk import fetch_rows
from backend.inspections.tables import Subject
from tests.factories import build_world, login

HEADER = "credit_code,name,subject_type,industry,org_unit,grid_code,risk_class,abnormal,lat,lon\n"


def code(n: int) -> str:
    return credit_code.complete(f"913202810{n:08d}")


def wrong_check(good: str) -> str:
    return good[:-1] + ("0" if good[-1] != "0" else "1")


async def test_import_upserts_and_rejects_the_whole_file_on_one_bad_row(db, engine, tmp_path):
    await build_world()
    good = tmp_path / "subjects.csv"
    good.write_text(
        HEADER
        + f"{code(1)},甲公司,enterprise,餐饮,C-A,C-A-G1-01,A,0,31.9,120.2\n"
        + f"{code(2)},乙商店,individual,零售,C-B,,D,是,,\n",
        encoding="utf-8",
    )
    seen: list[tuple[str, int, int]] = []
    report = await subjects.import_subjects(
        principal=system_principal("test"), path=good, progress=lambda *a: seen.append(a)
    )
    assert (report.applied, report.inserted, report.updated) == (True, 2, 0)
    assert seen[-1] == ("importing", 2, 2)
    if not is_sqlite():
        # The import vacuumed the table: its page is known to be all visible, and a draw
        # reads the pool from the index alone.
        async with write_tx():
            visible = await fetch_rows(
                "SELECT relallvisible FROM pg_class WHERE relname = 'subject'"
            )
        assert visible[0][0] >= 1
    row = await Subject.select().where(Subject.credit_code == code(2)).first()
    assert row["abnormal"] is True and row["risk_class"] == "D" and row["lat"] is None

    bad_code = wrong_check(code(3))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + f"{code(1)},甲公司改名,enterprise,餐饮,C-A,,B,0,,\n"
        + f"{bad_code},坏代码,enterprise,餐饮,C-A,,B,0,,\n"
        + f"{code(4)},无单位,enterprise,餐饮,NOPE,,B,0,,\n"
        + f"{code(5)},坏等级,enterprise,餐饮,C-A,,E,0,,\n"
        + f"{code(1)},重复,enterprise,餐饮,C-A,,B,0,,\n",
        encoding="utf-8",
    )
    report = await subjects.import_subjects(principal=system_principal("test"), path=bad)
    assert not report.applied
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (3, f"credit code {bad_code}"),
        (4, "unknown org unit NOPE"),
        (5, "risk class must be A, B, C or D, not E"),
        (6, f"credit code {code(1)} is already on line 2"),
    ]
    # Nothing half-applied: line 2 was valid but the rename did not happen.
    row = await Subject.select().where(Subject.credit_code == code(1)).first()
    assert row["name"] == "甲公司" and row["risk_class"] == "A"

    fixed = tmp_path / "fixed.csv"
    fixed.write_text(HEADER + f"{code(1)},甲公司改名,enterprise,餐饮,C-A,,B,0,,\n", "utf-8")
    report = await subjects.import_subjects(principal=system_principal("test"), path=fixed)
    assert (report.inserted, report.updated) == (0, 1)
    row = await Subject.select().where(Subject.credit_code == code(1)).first()
    assert row["name"] == "甲公司改名" and row["grid_code"] == ""
    events = await AuditEvent.select().where(AuditEvent.action == "subject.imported").run()
    assert len(events) == 2


async def test_reimport_writes_only_the_rows_that_changed(db, engine, tmp_path):
    """A directory re-imported every month is mostly unchanged: those rows are not written
    (their ``updated_at`` stays), the report and the audit event count them apart."""
    await build_world()
    first = tmp_path / "first.csv"
    first.write_text(
        HEADER
        + f"{code(1)},甲公司,enterprise,餐饮,C-A,C-A-G1-01,A,0,31.9,120.2\n"
        + f"{code(2)},乙商店,individual,零售,C-B,,D,是,,\n"
        + f"{code(3)},丙工厂,enterprise,建材,C-A,,C,0,31.5,120.5\n",
        encoding="utf-8",
    )
    await subjects.import_subjects(principal=system_principal("test"), path=first)
    stamps = {
        r["credit_code"]: r["updated_at"]
        for r in await Subject.select(Subject.credit_code, Subject.updated_at).run()
    }
    again = tmp_path / "again.csv"
    again.write_text(
        HEADER
        + f"{code(1)},甲公司,enterprise,餐饮,C-A,C-A-G1-01,A,0,31.9,120.2\n"
        + f"{code(2)},乙商店,individual,零售,C-B,,D,否,,\n"  # no longer abnormal
        + f"{code(3)},丙工厂,enterprise,建材,C-A,,C,0,31.5,120.5\n"
        + f"{code(4)},丁公司,enterprise,餐饮,C-A,,B,0,,\n",
        encoding="utf-8",
    )
    with clock.travel_to(clock.now() + dt.timedelta(days=30)):
        report = await subjects.import_subjects(principal=system_principal("test"), path=again)
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (4, 1, 1, 2)
    rows = {r["credit_code"]: r for r in await Subject.select().run()}
    assert rows[code(1)]["updated_at"] == stamps[code(1)]
    assert rows[code(3)]["updated_at"] == stamps[code(3)]
    assert rows[code(2)]["updated_at"] > stamps[code(2)] and rows[code(2)]["abnormal"] is False
    events = await AuditEvent.select().where(AuditEvent.action == "subject.imported").run()
    counts = sorted(
        (p["rows"], p["inserted"], p["updated"], p["unchanged"])
        for p in (json.loads(e["payload"]) for e in events)
    )
    assert counts == [(3, 3, 0, 0), (4, 1, 1, 2)]


async def test_upload_xlsx_and_bad_credit_code_is_400(client, db, tmp_path):
    await build_world()
    headers = await login(client, "supervisor")
    book = Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", "名称", "所属单位", "风险等级", "纬度"])
    sheet.append([code(10), "丙公司", "C-A", "C", 31.5])
    sheet.append([code(11), "丁公司", "C-B", "A", None])
    data = io.BytesIO()
    book.save(data)
    response = await client.post(
        "/api/v1/subjects/import",
        headers=headers,
        files={"data": ("名录.xlsx", data.getvalue(), "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 2
    listing = await client.get("/api/v1/subjects?risk_class=C", headers=headers)
    assert [s["credit_code"] for s in listing.json()["items"]] == [code(10)]

    bad = "\n".join([HEADER.strip(), f"{code(12)[:-1]}I,坏,x,x,C-A,,A,0,,"])
    response = await client.post(
        "/api/v1/subjects/import",
        headers=headers,
        files={"data": ("bad.csv", bad.encode(), "text/csv")},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "import.rejected_rows"
    assert body["rejected"][0]["line"] == 2 and "not allowed" in body["rejected"][0]["reason"]

    world_unit = listing.json()["items"][0]["org_unit_id"]
    response = await client.post(
        "/api/v1/subjects",
        headers=headers,
        json={"credit_code": wrong_check(code(13)), "name": "x", "org_unit_id": world_unit},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "subject.bad_credit_code"
    response = await client.post(
        "/api/v1/subjects",
        headers=headers,
        json={"credit_code": code(13), "name": "戊", "org_unit_id": world_unit, "risk_class": "B"},
    )
    assert response.status_code == 201, response.text


def test_cli_progress_bar_draws_one_line(capsys):
    from backend.inspections.cli import ProgressBar

    bar = ProgressBar()
    bar("checking", 5, 10)
    bar("checking", 10, 10)
    bar.close()
    err = capsys.readouterr().err
    assert "10/10 rows" in err and "#" * 30 in err


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite does not vacuum
async def test_an_import_does_not_wait_for_the_vacuum_after_it(db, engine, tmp_path):
    """On PostgreSQL the vacuum after an import skips a table another session is
    maintaining (a lock that lets the import write but not the vacuum run) instead of
    waiting for it; the import is applied and reported all the same."""
    import asyncio

    import asyncpg

    await build_world()
    path = tmp_path / "subjects.csv"
    path.write_text(HEADER + f"{code(7)},丙公司,enterprise,餐饮,C-A,,B,0,,\n", encoding="utf-8")
    url = db.url
    other = await asyncpg.connect(
        host=url.host, port=url.port, user=url.user, password=url.password, database=url.database
    )
    try:
        holder = other.transaction()
        await holder.start()
        await other.execute("LOCK TABLE subject IN SHARE UPDATE EXCLUSIVE MODE")
        report = await asyncio.wait_for(
            subjects.import_subjects(principal=system_principal("test"), path=path), 20
        )
        assert report.applied and report.inserted == 1
        await holder.rollback()
    finally:
        await other.close()
    async with write_tx():
        visible = await fetch_rows("SELECT relallvisible FROM pg_class WHERE relname = 'subject'")
    assert visible[0][0] == 0  # the vacuum was skipped, not waited for
    assert await Subject.count().where(Subject.credit_code == code(7)).run() == 1


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite does not vacuum
async def test_an_import_inside_a_callers_transaction_commits_with_it(db, engine, tmp_path):
    """No vacuum inside a transaction (PostgreSQL would refuse it and abort the
    transaction, losing the import): the import commits with its caller's transaction."""
    await build_world()
    path = tmp_path / "subjects.csv"
    path.write_text(HEADER + f"{code(8)},丁公司,enterprise,餐饮,C-A,,B,0,,\n", encoding="utf-8")
    async with write_tx():
        report = await subjects.import_subjects(principal=system_principal("test"), path=path)
        assert report.applied and report.inserted == 1
    assert await Subject.count().where(Subject.credit_code == code(8)).run() == 1
