"""What `make run` does, as real processes: migrate, demo on first run, serve; data is kept."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import httpx

from tests.conftest import PG_BIN
from tests.e2e.conftest import FIELDCASE, Deployment

PASSWORD = "fieldcase-demo"


def _login(base: str, username: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_first_run_serves_demo_and_second_run_keeps_data(deployment: Deployment) -> None:
    deployment.cli("migrate")
    first = deployment.cli("demo", "--first-run")
    assert "demo data ready" in first.stdout
    assert "supervisor" in first.stdout and PASSWORD in first.stdout

    base = deployment.serve("--with-scheduler")
    assert httpx.get(f"{base}/health").json()["status"] == "ok"
    ready = httpx.get(f"{base}/ready")
    assert ready.status_code == 200, ready.text
    assert httpx.get(f"{base}/schema/openapi.json").json()["info"]["title"] == "Fieldcase"

    headers = _login(base, "admin")
    units = httpx.get(f"{base}/api/v1/org-units", headers=headers).json()
    codes = {u["code"] for u in units}
    assert {"JY", "JY-XXK", "JY-XQ", "JY-ZZ", "JY-GX"} <= codes
    created = httpx.post(
        f"{base}/api/v1/org-units",
        headers=headers,
        json={
            "code": "JY-XXK-E2E",
            "name": "测试村",
            "kind": "village",
            "parent_id": next(u["id"] for u in units if u["code"] == "JY-XXK"),
        },
    )
    assert created.status_code == 201, created.text
    deployment.stop()

    # The second start: migrate and demo are no-ops, and what was written is still there.
    deployment.cli("migrate")
    second = deployment.cli("demo", "--first-run")
    assert "already present" in second.stdout
    base = deployment.serve()
    headers = _login(base, "admin")
    codes_after = {u["code"] for u in httpx.get(f"{base}/api/v1/org-units", headers=headers).json()}
    assert "JY-XXK-E2E" in codes_after
    deployment.stop()

    verified = deployment.cli("audit", "verify")
    assert verified.stdout.startswith("OK: ")


def test_audit_verify_names_a_row_edited_by_hand(deployment: Deployment) -> None:
    if deployment.database_path is None:
        # PostgreSQL: the same edit through psql.
        deployment.cli("migrate")
        deployment.cli("demo")
        edit = 'UPDATE audit_event SET payload = \'{"code": "FORGED"}\' WHERE id = ('
        edit += "SELECT id FROM audit_event WHERE action = 'org_unit.created' ORDER BY id LIMIT 1)"
        url = deployment.env["FIELDCASE_DATABASE_URL"]
        subprocess.run(
            [str(PG_BIN / "psql"), url, "-v", "ON_ERROR_STOP=1", "-qc", edit],
            check=True,
            capture_output=True,
        )
        row = (
            subprocess.run(
                [
                    str(PG_BIN / "psql"),
                    url,
                    "-qAtc",
                    "SELECT stream, seq FROM audit_event WHERE payload::text LIKE '%FORGED%'",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .split("|")
        )
        stream, seq = row[0], int(row[1])
    else:
        deployment.cli("migrate")
        deployment.cli("demo")
        with sqlite3.connect(deployment.database_path) as conn:
            stream, seq = conn.execute(
                "SELECT stream, seq FROM audit_event WHERE action = 'org_unit.created' "
                "ORDER BY id LIMIT 1"
            ).fetchone()
            conn.execute(
                "UPDATE audit_event SET payload = ? WHERE stream = ? AND seq = ?",
                ('{"code": "FORGED"}', stream, seq),
            )
    result = deployment.cli("audit", "verify", check=False)
    assert result.returncode == 1
    assert f"{stream} seq {seq}" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_commands_have_help_and_fail_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDCASE_")}
    env["FIELDCASE_VAR_DIR"] = str(tmp_path)
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["demo", "--help"],
        ["audit", "verify", "--help"],
    ):
        done = subprocess.run(
            [FIELDCASE, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (args, done.stderr)
        assert "usage:" in done.stdout
    bad = dict(env, FIELDCASE_PORT="eighty")
    done = subprocess.run(
        [FIELDCASE, "migrate"], env=bad, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "FIELDCASE_PORT" in done.stderr
    assert "Traceback" not in done.stderr
