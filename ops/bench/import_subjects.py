"""Benchmark of ``fieldcase import subjects``: 1,000,000 rows from CSV, on SQLite and
PostgreSQL, upserted by credit code three times: as inserts into an empty directory; the
same file again (every row unchanged: checked, compared, not written); and a file in
which every row changed (the address), so that every row is updated.

Prints rows/s and the ratio to a baseline measured in the same run: only reading the
file with ``csv.reader`` (no checks, no database). Target: ≤ 60 s for the million rows.
``FIELDCASE_BENCH_IMPORT_ROWS`` lowers the size for a quick run.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import tempfile
import time
from pathlib import Path

from backend.core.auth import system_principal
from backend.inspections import subjects
from backend.settings import DatabaseUrl
from ops.bench.databases import fresh, kind_name, machine_note, postgres_server, sqlite_database
from ops.bench.draw import bench_codes, seed_units

ROWS = int(os.environ.get("FIELDCASE_BENCH_IMPORT_ROWS", "1000000"))
TARGET_S = 60.0


def write_file(path: Path, rows: int, *, street: str = "人民路") -> None:
    rng = random.Random(1)
    industries = ["餐饮", "食品销售", "零售", "住宿", "建材"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(subjects.FIELDS)
        for n, code in enumerate(bench_codes(rows)):
            writer.writerow(
                [
                    code,
                    f"江阴市基准{n}号商贸有限公司",
                    "enterprise",
                    rng.choice(industries),
                    f"江阴市{street}{n % 999}号",
                    f"{31.8 + rng.random() / 10:.6f}",
                    f"{120.1 + rng.random() / 2:.6f}",
                    f"B-{n % 4}",
                    "",
                    "ABCD"[n % 4],
                    "1" if n % 97 == 0 else "0",
                    "0",
                    "active",
                ]
            )


def read_baseline(path: Path) -> float:
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as handle:
        for _ in csv.reader(handle):
            pass
    return time.perf_counter() - started


async def run_one(url: DatabaseUrl, path: Path, baseline: float) -> None:
    async with fresh(url):
        await seed_units()
        changed = path.with_name("changed.csv")
        for label, source in (("insert", path), ("unchanged", path), ("update", changed)):
            started = time.perf_counter()
            report = await subjects.import_subjects(
                principal=system_principal("bench"), path=source
            )
            took = time.perf_counter() - started
            assert report.applied, report.rejected[:3]
            verdict = "OK" if took <= TARGET_S * report.rows / 1_000_000 else "OVER TARGET"
            print(
                f"{kind_name(url):<10} {label:<9}: {report.rows:,} rows in {took:.1f} s = "
                f"{report.rows / took:,.0f} rows/s ({report.inserted:,} new, "
                f"{report.updated:,} updated, {report.unchanged:,} unchanged); "
                f"{took / baseline:.1f}x reading the CSV "
                f"({baseline:.1f} s)  [target <= {TARGET_S:.0f} s per million: {verdict}]"
            )


def main() -> None:
    print(f"({machine_note()})")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subjects.csv"
        write_file(path, ROWS)
        write_file(path.with_name("changed.csv"), ROWS, street="解放路")
        baseline = read_baseline(path)
        asyncio.run(run_one(sqlite_database(Path(tmp)), path, baseline))
        with postgres_server() as new_database:
            if new_database is None:
                print("PostgreSQL: skipped (no server and no PostgreSQL binaries)")
                return
            asyncio.run(run_one(new_database(), path, baseline))


if __name__ == "__main__":
    main()
