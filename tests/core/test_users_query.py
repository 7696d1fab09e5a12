"""The ``users`` query: the caller's active colleagues, searched, bounded, on both engines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.security import issue_token
from core.store import Database
from tests.api_helpers import Api, error_codes, make_runtime
from tests.plugins.sales.conftest import sales_config

USERS = "query($s: String, $n: Int) { users(search: $s, first: $n) { id email name } }"


class UsersApi(Api):
    async def add(self, tenant: str, email: str, name: str, roles: list[str] | None = None) -> str:
        # Tokens are issued directly: no password needed (hashing one costs ~0.3 s).
        return await self.runtime.db.add_user(tenant, email, name, "x", roles or ["admin"], "en")

    async def token(self, tenant: str, user_id: str) -> str:
        return await issue_token(self.runtime.db, tenant, user_id)

    async def users(
        self, tenant: str, token: str, search: str | None = None, first: int | None = None
    ) -> list[dict[str, str]]:
        variables: dict[str, object] = {"s": search}
        if first is not None:
            variables["n"] = first
        body = await self.gql(tenant, token, USERS, variables)
        assert "errors" not in body, body
        found: list[dict[str, str]] = body["data"]["users"]
        return found


@pytest.fixture
async def api(db: Database) -> AsyncIterator[UsersApi]:
    client = UsersApi(await make_runtime(db))
    yield client
    await client.close()


async def test_only_active_users_of_the_callers_tenant_are_listed(api: UsersApi) -> None:
    await api.runtime.apply_config(sales_config("ventas"))
    await api.runtime.apply_config(sales_config("otra"))
    ana = await api.add("ventas", "ana@ventas.test", "Ana García")
    bea = await api.add("ventas", "bea@ventas.test", "Beatriz Ruiz", roles=["nobody"])
    gone = await api.add("ventas", "old@ventas.test", "Antonio Viejo")
    await api.runtime.db._execute_as(
        "ventas",
        "UPDATE app_user SET active = {} WHERE tenant_id = {} AND id = {}",
        False,
        "ventas",
        gone,
    )
    await api.add("otra", "ana@otra.test", "Ana Otra")
    token = await api.token("ventas", ana)
    found = await api.users("ventas", token)
    assert found == [
        {"id": ana, "email": "ana@ventas.test", "name": "Ana García"},
        {"id": bea, "email": "bea@ventas.test", "name": "Beatriz Ruiz"},
    ]
    # A role with no permissions at all may still see its colleagues' names.
    assert [u["id"] for u in await api.users("ventas", await api.token("ventas", bea))] == [
        ana,
        bea,
    ]
    # The other tenant's token sees only its own users, never ventas'.
    other = await api.token("otra", (await api.runtime.db.get_user("otra", "ana@otra.test"))["id"])
    assert [u["name"] for u in await api.users("otra", other, "ana")] == ["Ana Otra"]
    # And it cannot ask ventas' endpoint.
    body = await api.gql("ventas", other, USERS)
    assert (body["_status"], error_codes(body)) == (403, ["FORBIDDEN"])


async def test_search_matches_name_or_email_in_any_case(api: UsersApi) -> None:
    await api.runtime.apply_config(sales_config("ventas"))
    ana = await api.add("ventas", "ana@ventas.test", "Ana García")
    await api.add("ventas", "javier.ortega@ventas.test", "Javier Ortega")
    await api.add("ventas", "wang@ventas.test", "王芳 (Wang Fang)")
    await api.add("ventas", "pct@ventas.test", "100% Sales_Team")
    token = await api.token("ventas", ana)

    async def names(search: str) -> list[str]:
        return [u["name"] for u in await api.users("ventas", token, search)]

    assert await names("JAVIER") == ["Javier Ortega"]
    assert await names("ortega@") == ["Javier Ortega"]  # the email
    assert await names("王芳") == ["王芳 (Wang Fang)"]
    assert await names("wang fang") == ["王芳 (Wang Fang)"]
    # LIKE wildcards in the search are plain characters.
    assert await names("%") == ["100% Sales_Team"]
    assert await names("s_t") == ["100% Sales_Team"]
    assert await names("a_a") == []
    assert await names("   ") == await names("")  # blank: everyone
    assert len(await names("")) == 4


async def test_first_bounds_the_answer(api: UsersApi) -> None:
    await api.runtime.apply_config(sales_config("ventas"))
    ids = [await api.add("ventas", f"u{i}@ventas.test", f"User {i:03d}") for i in range(105)]
    token = await api.token("ventas", ids[0])
    assert len(await api.users("ventas", token)) == 20  # the default
    assert [u["name"] for u in await api.users("ventas", token, first=3)] == [
        "User 000",
        "User 001",
        "User 002",
    ]
    assert len(await api.users("ventas", token, first=100)) == 100
    assert await api.users("ventas", token, first=0) == []
    for first, code in ((101, "LIMIT_EXCEEDED"), (-1, "MIN")):
        body = await api.gql("ventas", token, USERS, {"n": first})
        assert error_codes(body) == ["VALIDATION_FAILED"], body
        problems = body["errors"][0]["extensions"]["errors"]
        assert [(p["code"], p["field"]) for p in problems] == [(code, "first")], body


async def test_unauthenticated_callers_get_nothing(api: UsersApi) -> None:
    await api.runtime.apply_config(sales_config("ventas"))
    await api.add("ventas", "ana@ventas.test", "Ana García")
    body = await api.gql("ventas", "not-a-token", USERS)
    assert (body["_status"], error_codes(body)) == (401, ["UNAUTHENTICATED"])
    assert "data" not in body


_NAME = st.text(alphabet="abAB_%\\ x", min_size=1, max_size=6)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=st.lists(_NAME, min_size=1, max_size=5), search=_NAME)
async def test_search_is_a_case_insensitive_substring_for_all_inputs(
    api: UsersApi, names: list[str], search: str
) -> None:
    db = api.runtime.db
    if not hasattr(api, "caller"):  # one tenant per test, not per example
        await api.runtime.apply_config(sales_config("ventas"))
        # Neither the name nor the email holds a character the searches are made of.
        caller = await api.add("ventas", "9@9.test", "9")
        api.caller = (caller, await api.token("ventas", caller))  # type: ignore[attr-defined]
    caller, token = api.caller  # type: ignore[attr-defined]
    # Earlier examples' users leave the search (only active users are listed).
    await db._execute_as(
        "ventas",
        "UPDATE app_user SET active = {} WHERE tenant_id = {} AND id <> {}",
        False,
        "ventas",
        caller,
    )
    emails = [f"{uuid.uuid4().hex[:8]}@example.test" for _ in names]
    for email, name in zip(emails, names, strict=True):
        await api.add("ventas", email, name)
    found = sorted(u["email"] for u in await api.users("ventas", token, search, first=100))
    needle = search.strip().lower()
    people = [*zip(emails, names, strict=True), ("9@9.test", "9")]
    expected = sorted(e for e, n in people if needle in n.lower() or needle in e)
    assert found == expected
