"""Login, token rotation, logout and the lock-out after repeated failures."""

from __future__ import annotations

from datetime import timedelta

from backend.core import clock
from tests.factories import PASSWORD, build_world, login


async def test_login_returns_tokens_and_me(client, db):
    await build_world()
    response = await client.post(
        "/api/v1/auth/login", json={"username": "officer_a", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["username"] == "officer_a"
    assert me.json()["roles"] == ["officer"]


async def test_wrong_password_is_401_and_missing_token_is_401(client, db):
    await build_world()
    response = await client.post(
        "/api/v1/auth/login", json={"username": "officer_a", "password": "nope-nope"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "auth.invalid_credentials"
    response = await client.get("/api/v1/org-units")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.required"
    response = await client.get("/api/v1/org-units", headers={"Authorization": "Bearer junk"})
    assert response.status_code == 401


async def test_refresh_rotates_and_reuse_kills_the_session(client, db):
    await build_world()
    first = (
        await client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    ).json()
    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    # The spent token comes back: the whole session ends, the new tokens too.
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 401
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401


async def test_logout_ends_access_token_at_once(client, db):
    await build_world()
    headers = await login(client, "admin")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "auth.session_ended"


async def test_access_token_expires_after_15_minutes(client, db):
    await build_world()
    headers = await login(client, "admin")
    with clock.travel_to(clock.now() + timedelta(minutes=16)):
        response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"


async def test_ten_failures_lock_the_account_even_with_right_password(client, db):
    await build_world()
    for _ in range(10):
        bad = await client.post(
            "/api/v1/auth/login", json={"username": "officer_a", "password": "wrong-pass"}
        )
        assert bad.status_code == 401
    locked = await client.post(
        "/api/v1/auth/login", json={"username": "officer_a", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["code"] == "auth.locked"
    assert int(locked.headers["retry-after"]) > 0
    # Another account is not affected, and the lock lifts after the window.
    assert (
        await client.post(
            "/api/v1/auth/login", json={"username": "officer_b", "password": PASSWORD}
        )
    ).status_code == 200
    with clock.travel_to(clock.now() + timedelta(minutes=16)):
        unlocked = await client.post(
            "/api/v1/auth/login", json={"username": "officer_a", "password": PASSWORD}
        )
    assert unlocked.status_code == 200, unlocked.text


async def test_inactive_user_cannot_log_in(client, db):
    world = await build_world()
    headers = await login(client, "admin")
    response = await client.patch(
        f"/api/v1/users/{world.users['officer_a']}", headers=headers, json={"active": False}
    )
    assert response.status_code == 200
    response = await client.post(
        "/api/v1/auth/login", json={"username": "officer_a", "password": PASSWORD}
    )
    assert response.status_code == 401
