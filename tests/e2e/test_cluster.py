"""The production topology as plain processes (ops/run-cluster.sh): a workflow across both api
processes while both schedulers run (their clock 40 days ahead, so the lead is overdue)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "ops" / "run-cluster.sh"


@pytest.fixture
def cluster() -> Iterator[dict[str, str]]:
    pg_bin = os.environ.get("FIELDCASE_PG_BIN", "/usr/lib/postgresql/15/bin")
    if not Path(pg_bin, "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {pg_bin}")
    env = dict(os.environ)
    env.update(
        VENV=str(Path(sys.executable).parent.parent),
        PG_BIN=pg_bin,
        FIELDCASE_JOB_INTERVALS="escalations.sweep=2,escalations.webhooks=2,audit.anchor=3",
        SCHEDULER_CLOCK_OFFSET_SECONDS=str(40 * 86400),
        FIELDCASE_ARGON2_TIME_COST="1",
        FIELDCASE_ARGON2_MEMORY_KIB="1024",
    )
    for key in ("FIELDCASE_DATABASE_URL", "FIELDCASE_STORAGE_URL", "FIELDCASE_VAR_DIR"):
        env.pop(key, None)
    # Directly under /tmp: PostgreSQL runs as its own user and must reach the folder.
    run_dir = Path(tempfile.mkdtemp(prefix="fieldcase-cluster-", dir="/tmp"))
    try:
        subprocess.run(
            [str(SCRIPT), "start", str(run_dir)], env=env, check=True, timeout=400,
            capture_output=True, text=True,
        )  # fmt: skip
        values = {}
        for line in (run_dir / "cluster.env").read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value.strip("'")
        demo_env = {**env, **values}
        subprocess.run(
            [str(Path(env["VENV"]) / "bin" / "fieldcase"), "demo", "--password", "pw-123456"],
            env=demo_env, check=True, timeout=300, capture_output=True,
        )  # fmt: skip
        yield values
    finally:
        subprocess.run([str(SCRIPT), "stop", str(run_dir)], env=env, timeout=120, check=False)
        shutil.rmtree(run_dir, ignore_errors=True)


def login(base: str, username: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": "pw-123456"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(check, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


@pytest.mark.e2e
def test_lead_on_one_api_escalates_through_two_schedulers_and_closes_on_the_other(cluster):
    api1, api2 = cluster["API1_URL"], cluster["API2_URL"]
    officer = login(api1, "officer1")
    units = httpx.get(f"{api1}/api/v1/org-units", headers=officer).json()
    unit = next(u for u in units if u["code"] == "JY-XXK")
    created = httpx.post(
        f"{api1}/api/v1/leads",
        headers=officer,
        json={"org_unit_id": unit["id"], "source": "patrol", "description": "占道经营"},
    )
    assert created.status_code == 201, created.text
    lead = created.json()
    assert httpx.get(f"{api2}/api/v1/leads/{lead['id']}", headers=officer).status_code == 200

    # The schedulers live 40 days ahead: the lead is past its 15 WD and escalates.
    leader = login(api2, "leader1")

    def escalated() -> list[dict[str, object]]:
        page = httpx.get(f"{api2}/api/v1/notifications", headers=leader).json()
        return [n for n in page["items"] if n["target_id"] == lead["id"]]

    notes = wait_for(escalated)
    assert [n["level"] for n in notes] == ["escalated"], notes

    head = login(api2, "head")
    decided = httpx.post(
        f"{api2}/api/v1/leads/{lead['id']}/not-filed",
        headers=head,
        json={"reason": "不属于违法行为", "version": lead["version"]},
    )
    assert decided.status_code == 200, decided.text

    def closed() -> bool:
        page = httpx.get(f"{api1}/api/v1/escalations?target_id={lead['id']}", headers=head).json()
        return page["total"] == 1 and page["items"][0]["status"] == "closed"

    assert wait_for(closed)
    # Exactly one record although two schedulers swept every 2 seconds.
    page = httpx.get(f"{api1}/api/v1/escalations?target_id={lead['id']}", headers=head).json()
    assert page["total"] == 1
    # The anchoring job wrote anchors to the S3 server; both apis list them.
    anchors = wait_for(lambda: httpx.get(f"{api1}/public/anchors").json())
    assert anchors and httpx.get(f"{api2}/public/anchors").json()
