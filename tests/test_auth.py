"""Logins, sessions, CSRF and lockout: authentication hardening, over HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.errors import TooManyAttempts, Unauthenticated
from core.http import CSRF_COOKIE, SESSION_COOKIE, create_app, csrf_token
from core.security import LOCK_MINUTES, MAX_FAILED_LOGINS, hash_password, login
from core.store import Database
from tests.api_helpers import acme_config, error_codes, make_runtime

PASSWORD = "correct horse battery"
QUERY = {"query": "{ parts { totalCount } }"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    runtime = await make_runtime(db)
    for tenant in ("acme", "globex"):
        await runtime.apply_config(acme_config(tenant))
        await db.add_user(
            tenant, "ana@example.com", "Ana", hash_password(PASSWORD), ["admin"], "en"
        )
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as c:
        yield c


async def _login(
    client: httpx.AsyncClient, password: str = PASSWORD, tenant: str = "acme"
) -> httpx.Response:
    return await client.post(
        f"/t/{tenant}/auth/login", json={"email": "Ana@Example.com", "password": password}
    )


async def test_login_sets_a_hardened_session_and_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await _login(client)
    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("tsr_") and body["csrfToken"] == csrf_token(body["token"])
    assert datetime.fromisoformat(body["expiresAt"]) - datetime.now(UTC) <= timedelta(hours=12)
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    session = cookies[SESSION_COOKIE]
    assert "httponly" in session and "secure" in session and "samesite=strict" in session
    assert "path=/t/acme" in session
    assert "httponly" not in cookies[CSRF_COOKIE] and "secure" in cookies[CSRF_COOKIE]
    # The token works as a bearer token, without CSRF.
    bearer = await client.post(
        "/t/acme/graphql", json=QUERY, headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert bearer.json() == {"data": {"parts": {"totalCount": 0}}}
    # The cookie alone is not enough to change anything: the CSRF header is required.
    no_csrf = await client.post("/t/acme/graphql", json=QUERY)
    assert no_csrf.status_code == 403
    assert no_csrf.json()["errors"][0]["extensions"]["errors"][0]["code"] == "CSRF_FAILED"
    wrong = await client.post("/t/acme/graphql", json=QUERY, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    ok = await client.post(
        "/t/acme/graphql", json=QUERY, headers={"X-CSRF-Token": body["csrfToken"]}
    )
    assert ok.json() == {"data": {"parts": {"totalCount": 0}}}
    # A session of one tenant opens nothing of another.
    other = await client.post(
        "/t/globex/graphql", json=QUERY, headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert error_codes(other.json()) == ["FORBIDDEN"]


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    body = (await _login(client)).json()
    headers = {"X-CSRF-Token": body["csrfToken"]}
    out = await client.post("/t/acme/auth/logout", headers=headers)
    assert out.status_code == 200
    client.cookies.set(SESSION_COOKIE, body["token"], domain="test", path="/t/acme")
    again = await client.post("/t/acme/graphql", json=QUERY, headers=headers)
    assert error_codes(again.json()) == ["UNAUTHENTICATED"]


async def test_wrong_email_and_wrong_password_look_alike(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_password = await _login(client, "nope-nope-nope")
    unknown = await client.post(
        "/t/acme/auth/login", json={"email": "eve@example.com", "password": "x"}
    )
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json()
    assert "nope-nope-nope" not in caplog.text and PASSWORD not in caplog.text
    bad = await client.post("/t/acme/auth/login", content=b"{not json")
    assert error_codes(bad.json()) == ["BAD_REQUEST"]


async def test_repeated_failures_lock_the_user_even_with_the_right_password(
    client: httpx.AsyncClient,
) -> None:
    codes = [
        error_codes((await _login(client, f"guess-{i}")).json()) for i in range(MAX_FAILED_LOGINS)
    ]
    assert codes == [["UNAUTHENTICATED"]] * (MAX_FAILED_LOGINS - 1) + [["TOO_MANY_ATTEMPTS"]]
    locked = await _login(client)
    assert locked.status_code == 429 and error_codes(locked.json()) == ["TOO_MANY_ATTEMPTS"]
    # Another tenant's Ana is a different user: not locked.
    assert (await _login(client, tenant="globex")).status_code == 200


async def test_the_lock_ends_and_success_resets_the_count(db: Database) -> None:
    runtime = await make_runtime(db)
    await runtime.apply_config(acme_config("acme"))
    await db.add_user("acme", "bo@example.com", "Bo", hash_password(PASSWORD), ["admin"], "en")
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    for i in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(Unauthenticated):
            await login(db, "acme", "bo@example.com", f"x{i}", now)
    await login(db, "acme", "bo@example.com", PASSWORD, now)  # resets the count
    for i in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(Unauthenticated):
            await login(db, "acme", "bo@example.com", f"y{i}", now)
    with pytest.raises(TooManyAttempts):
        await login(db, "acme", "bo@example.com", "z", now)
    with pytest.raises(TooManyAttempts):
        await login(
            db, "acme", "bo@example.com", PASSWORD, now + timedelta(minutes=LOCK_MINUTES - 1)
        )
    token, _, principal = await login(
        db, "acme", "bo@example.com", PASSWORD, now + timedelta(minutes=LOCK_MINUTES, seconds=1)
    )
    assert token.startswith("tsr_") and principal.email == "bo@example.com"


async def test_one_address_cannot_spray_logins(client: httpx.AsyncClient) -> None:
    statuses = []
    for i in range(25):
        response = await client.post(
            "/t/acme/auth/login", json={"email": f"user{i}@example.com", "password": "x"}
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
