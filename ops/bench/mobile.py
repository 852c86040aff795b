"""Benchmark of GET /mobile/v1/work: 100,000 inspection tasks in PostgreSQL, 32 phones.

Seeds subjects and 500 inspectors in bulk (as ops/bench/draw does), draws a plan that
creates ``FIELDCASE_BENCH_TASKS`` tasks (default 100,000) through the inspections
service, links 32 device users to drawn inspectors, starts the API as a real server
process, lets each phone do its first full sync, and then measures 32 concurrent
clients polling ``GET /mobile/v1/work?since=<cursor>`` (what a phone does all day),
against a bare Litestar JSON endpoint served the same way in the same run.
Targets: >= 25 % of the bare rate, p99 <= 150 ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from backend.core import clock
from backend.core.auth import system_principal
from backend.core.db import write_tx
from backend.inspections import draws, service
from backend.inspections import schemas as s
from backend.inspections.bulk import fetch_rows
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.settings import DatabaseUrl
from ops.bench.databases import fresh, machine_note, postgres_server
from ops.bench.draw import (
    RISK_CLASSES,
    bench_codes,
    seed_inspectors,
    seed_subjects,
    seed_units,
)

TASKS = int(os.environ.get("FIELDCASE_BENCH_TASKS", "100000"))
CLIENTS = 32
SECONDS = float(os.environ.get("FIELDCASE_BENCH_SECONDS", "10"))
PASSWORD = "bench-password-1"
BARE_APP = "ops.bench.mobile:bare_app"


def bare_app() -> Any:
    """The baseline: a bare Litestar app answering a small JSON body."""
    from litestar import Litestar, get

    @get("/json")
    async def hello() -> dict[str, Any]:
        return {"items": [], "removed": [], "cursor": "w1.0", "has_more": False}

    return Litestar(route_handlers=[hello])


async def seed(url: DatabaseUrl) -> list[str]:
    """Subjects, inspectors, a drawn plan of TASKS tasks, and 32 users; their usernames."""
    sysp = system_principal("bench")
    county, towns = await seed_units()
    item = await service.create_item(
        principal=sysp,
        data=s.ItemIn(
            code="BENCH-M", name="移动端基准事项", department="市场监管", domain="market",
            method="on_site",
        ),
    )  # fmt: skip
    codes = bench_codes(TASKS)
    await seed_subjects(codes, towns)
    await seed_inspectors(codes, towns)
    today = clock.now().date()
    per_stratum = TASKS // 4
    plan = await service.create_plan(
        principal=sysp,
        data=s.PlanIn(
            code="BENCH-M",
            name="移动端基准抽查",
            org_unit_id=county,
            item_codes=[item.code],
            planned_start=today,
            planned_end=today + dt.timedelta(days=30),
            counts=dict.fromkeys(RISK_CLASSES, per_stratum),
            team_size=2,
            workload_cap=max(20, TASKS),
            inspector_org_unit_ids=[county],
        ),
    )
    await service.publish_plan(principal=sysp, plan_id=plan.id)
    drawn = await draws.draw_plan(principal=sysp, plan_id=plan.id, entropy="bench")
    async with write_tx():
        busiest = await fetch_rows(
            "SELECT officer FROM task_inspector WHERE active GROUP BY officer "
            f"ORDER BY COUNT(*) DESC LIMIT {CLIENTS}"
        )
    usernames = []
    for n, row in enumerate(busiest):
        officer = await orgs.get_officer(principal=sysp, officer_id=row[0])
        user = await orgs.create_user(
            principal=sysp,
            data=org_schemas.UserIn(
                username=f"phone{n:02d}",
                password=PASSWORD,
                roles=["officer"],
                org_unit_id=officer.org_unit_id,
                officer_id=officer.id,
            ),
        )
        usernames.append(user.username)
    print(f"  seeded {drawn.selected:,} tasks for {len(usernames)} phones")
    return usernames


def serve(target: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *target, "--port", str(port)], env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on {port} did not start; see {log}")


class Connection:
    """One keep-alive HTTP/1.1 connection sending GETs: a load generator much lighter than
    httpx, whose own cost at 32 concurrent clients would otherwise be what gets measured."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self) -> int:
        """Send the request, read the whole response; its status code."""
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def load(urls: list[tuple[str, dict[str, str]]]) -> tuple[float, float, int]:
    """CLIENTS clients each calling its URL for SECONDS: (requests/s, p99 ms, errors)."""
    latencies: list[float] = []
    errors = 0
    connections = [Connection(u, h) for u, h in urls]
    await asyncio.gather(*[c.open() for c in connections])
    stop = time.monotonic() + SECONDS

    async def client(connection: Connection) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            status = await connection.get()
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*[client(c) for c in connections])
    took = time.monotonic() - started
    for c in connections:
        c.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0
    return len(latencies) / took, p99, errors


async def phones(base: str, usernames: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Log every phone in and do its first full sync; the URL it then polls."""
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=300) as http:
        for n, name in enumerate(usernames):
            login = await http.post(
                "/mobile/v1/auth/login",
                json={"username": name, "password": PASSWORD, "device_id": f"bench-{n:02d}"},
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            cursor, count = "", 0
            while True:
                page = await http.get(
                    "/mobile/v1/work" + (f"?since={cursor}" if cursor else ""), headers=headers
                )
                page.raise_for_status()
                body = page.json()
                cursor, count = body["cursor"], count + len(body["items"])
                if not body["has_more"]:
                    break
            out.append((f"{base}/mobile/v1/work?since={cursor}", headers))
    print(f"  first sync done: {len(out)} phones")
    return out


async def run(url: DatabaseUrl, db_text: str, tmp: Path) -> None:
    started = time.monotonic()
    async with fresh(url):
        usernames = await seed(url)
    print(f"  seed took {time.monotonic() - started:,.0f} s")
    env = {
        **os.environ,
        "FIELDCASE_DATABASE_URL": db_text,
        "FIELDCASE_STORAGE_URL": f"file://{tmp}/objects",
        "FIELDCASE_VAR_DIR": str(tmp / "var"),
        "FIELDCASE_LOG_LEVEL": "WARNING",
        "FIELDCASE_DB_POOL_SIZE": str(CLIENTS),
    }
    from tests.conftest import free_port

    api_port, bare_port = free_port(), free_port()
    api = serve(["backend.cli", "serve"], api_port, env, tmp / "api.log")
    bare = serve(
        ["uvicorn", "--factory", BARE_APP, "--log-level", "warning"],
        bare_port,
        env,
        tmp / "bare.log",
    )
    try:
        started = time.monotonic()
        targets = await phones(f"http://127.0.0.1:{api_port}", usernames)
        print(f"  first sync of {len(targets)} phones took {time.monotonic() - started:,.0f} s")
        bare_rate, bare_p99, _ = await load([(f"http://127.0.0.1:{bare_port}/json", {})] * CLIENTS)
        rate, p99, errors = await load(targets)
    finally:
        for proc in (api, bare):
            proc.kill()
            proc.wait()
    print(f"  ({machine_note()} after the measurements)")
    share = rate / bare_rate if bare_rate else 0.0
    verdict = "OK" if share >= 0.25 and p99 <= 150 else "OVER TARGET"
    print(
        f"  bare Litestar JSON: {bare_rate:,.0f} req/s, p99 {bare_p99:.1f} ms\n"
        f"  GET /mobile/v1/work (delta, {CLIENTS} phones): {rate:,.0f} req/s, p99 {p99:.1f} ms, "
        f"{errors} errors = {share:.0%} of bare  [target >= 25 % and p99 <= 150 ms: {verdict}]"
    )


def main() -> None:
    print(f"({machine_note()}; {TASKS:,} tasks, {CLIENTS} clients, {SECONDS:.0f} s each)")
    with postgres_server() as new_database, tempfile.TemporaryDirectory() as tmp:
        if new_database is None:
            print("PostgreSQL: skipped (no server and no PostgreSQL binaries)")
            return
        url = new_database()
        text = f"postgresql://{url.user}@{url.host}:{url.port}/{url.database}"
        if url.password:
            text = f"postgresql://{url.user}:{url.password}@{url.host}:{url.port}/{url.database}"
        asyncio.run(run(url, text, Path(tmp)))


if __name__ == "__main__":
    main()
