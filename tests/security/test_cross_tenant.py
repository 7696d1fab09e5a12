"""Cross-tenant fuzz: generated operations on tenant A never see or touch tenant B.

Tenants ``alpha`` and ``bravo`` have the same config (so their GraphQL
schemas are identical: the worst case for isolation), ``charlie`` a different
one. Every text value of bravo and charlie is a unique canary string, and
their record and user ids are known. hypothesis-graphql generates queries and
mutations over alpha's schema whose ``ID`` arguments are drawn from bravo's and
charlie's real ids (and alpha's), whose strings include their canaries and
cursors, and alpha's admin sends them. The oracle needs nothing from the code
under test: no response body may contain a foreign id or canary, and the
foreign tenants' data must be exactly as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from core.security import hash_password
from core.store import Database
from tests.api_helpers import Api, acme_config, error_codes, make_runtime
from tests.security.campaign import (
    campaign_settings,
    drop_leaked_connections,
    record_figures,
    size,
)

#: Each example sends one query and one mutation: full size is 2 × 5,000 requests.
CI_EXAMPLES, FULL_EXAMPLES = 60, 5000
#: A request that takes this long is hung (the server must keep serving).
REQUEST_TIMEOUT = 10

SNAPSHOT = """
{ parts(first: 50) { totalCount edges { cursor node { id version name code
    audit { action diff actorId } } } }
  widgets(first: 50) { totalCount edges { cursor node { id version title notes quantity
    weight discount active dueOn seenAt grade tags email phone site serial
    price { amount currency } mainPartId partsIds ownerId
    address { street city region postalCode country } audit { action diff actorId } } } }
  tasks(first: 50) { totalCount edges { node { id version } } }
}
"""


def _canary(tenant: str, what: str) -> str:
    return f"zq{tenant[:2]}{what}{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    api: Api
    tokens: dict[str, str]
    ids: dict[str, set[str]] = field(default_factory=dict)
    canaries: dict[str, set[str]] = field(default_factory=dict)
    cursors: list[str] = field(default_factory=list)
    sdl: str = ""
    requests: int = 0
    leaks: int = 0
    operations: st.SearchStrategy[tuple[str, str]] | None = None
    before: dict[str, Any] | None = None
    failed: bool = False
    bait: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)

    def foreign(self) -> set[str]:
        return {
            marker
            for tenant in ("bravo", "charlie")
            for marker in self.ids[tenant] | self.canaries[tenant]
        }

    async def snapshot(self, tenant: str) -> dict[str, Any]:
        body = await self.api.gql(tenant, self.tokens[tenant], SNAPSHOT)
        assert "errors" not in body, body
        return body


async def _seed(world: World, tenant: str, doc: dict[str, Any], canaries: bool) -> None:
    api = world.api
    token = await api.tenant(doc, email=f"owner@{tenant}.test")
    world.tokens[tenant] = token
    db = api.runtime.db
    ids: set[str] = set()
    marks: set[str] = set()

    def text(what: str) -> str:
        value = _canary(tenant, what) if canaries else f"{tenant}{what}"
        marks.add(value)
        return value

    email = f"{text('user')}@{tenant}.test"
    ids.add(await db.add_user(tenant, email, text("name"), hash_password("x" * 8), ["admin"], "en"))
    marks.add(email)
    owner = await db.get_user(tenant, f"owner@{tenant}.test")
    assert owner is not None
    ids.add(str(owner["id"]))
    if canaries:
        marks.add(f"owner@{tenant}.test")
    part_ids: list[str] = []
    for i in range(3):
        body = await api.gql(
            tenant,
            token,
            "mutation($i: PartCreateInput!) { createPart(input: $i) { id } }",
            {"i": {"name": text(f"part{i}"), "code": text(f"code{i}")}},
        )
        assert "errors" not in body, body
        part_ids.append(body["data"]["createPart"]["id"])
    for i in range(3):
        widget = {
            "title": text(f"w{i}")[:80],
            "notes": text(f"notes{i}"),
            "email": f"{text(f'mail{i}')}@x.test",
            "phone": "+34 600 000 00" + str(i),
            "site": f"https://{text(f'site{i}')}.test",
            "quantity": 700_000 + i,
            "weight": f"{i}.125",
            "mainPartId": part_ids[i],
            "partsIds": part_ids,
            "address": {"street": text(f"street{i}"), "city": text(f"city{i}")},
            "grade": "a",
            "tags": ["red"],
        }
        body = await api.gql(
            tenant,
            token,
            "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
            {"i": widget},
        )
        assert "errors" not in body, body
        ids.add(body["data"]["createWidget"]["id"])
        marks.add(widget["email"])
    ids.update(part_ids)
    snap = await world.snapshot(tenant)
    world.cursors.extend(e["cursor"] for e in snap["data"]["parts"]["edges"])
    ids.update(e["node"]["id"] for e in snap["data"]["tasks"]["edges"])
    world.ids[tenant] = ids
    world.canaries[tenant] = marks


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    api = Api(await make_runtime(db))
    w = World(api, {})
    await _seed(w, "alpha", acme_config("alpha"), canaries=False)
    await _seed(w, "bravo", acme_config("bravo"), canaries=True)
    other = acme_config("charlie")
    other["entities"]["part"]["fields"]["grade"] = {"type": "text", "label": {"en": "Grade"}}
    await _seed(w, "charlie", other, canaries=True)
    model = await api.runtime.model("alpha")
    w.sdl = api.runtime.schemas.get(model).sdl()
    assert w.sdl == api.runtime.schemas.get(await api.runtime.model("bravo")).sdl()
    yield w
    try:
        if w.before is not None and not w.failed:
            # Whatever alpha sent, bravo and charlie are exactly as they were.
            after = {
                t: await asyncio.wait_for(w.snapshot(t), REQUEST_TIMEOUT)
                for t in ("bravo", "charlie")
            }
            assert after == w.before
            record_figures("cross_tenant_fuzz", db.dialect, requests=w.requests, leaks=w.leaks)
            assert w.requests >= 2 * size(CI_EXAMPLES, FULL_EXAMPLES) * 0.9
    finally:
        await api.close()
        await asyncio.sleep(0.2)
        drop_leaked_connections(db.engine)


def _value_nodes(world: World) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Scalar strategies: foreign ids, canaries and cursors mixed with arbitrary values."""
    ids = sorted(world.ids["alpha"] | world.ids["bravo"] | world.ids["charlie"])
    # Half of the canaries are bait (sent as arguments); the other half are sentinels.
    canaries = sorted(world.canaries["bravo"] | world.canaries["charlie"])[::2]
    world.bait = set(canaries)
    strings = st.one_of(
        st.sampled_from(canaries),
        st.sampled_from(world.cursors),
        st.sampled_from(ids),
        st.text(max_size=12),
    )

    def string(s: str) -> graphql.StringValueNode:
        return graphql.StringValueNode(value=s)

    return {
        "ID": st.sampled_from(ids).map(string),
        "String": strings.map(string),
        "Decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2).map(
            lambda d: string(str(d))
        ),
        "Date": st.dates().map(lambda d: string(d.isoformat())),
        "DateTime": st.datetimes().map(lambda d: string(d.isoformat() + "Z")),
        "JSON": st.just(string("{}")),
    }


def _operations(world: World) -> st.SearchStrategy[tuple[str, str]]:
    scalars = _value_nodes(world)
    return st.tuples(
        queries(world.sdl, custom_scalars=scalars, allow_x00=False),
        mutations(world.sdl, custom_scalars=scalars, allow_x00=False),
    )


async def _send(world: World, operation: str) -> None:
    response = await asyncio.wait_for(
        world.api.client.post(
            "/t/alpha/graphql",
            content=orjson.dumps({"query": operation}),
            headers={"Authorization": f"Bearer {world.tokens['alpha']}"},
        ),
        REQUEST_TIMEOUT,
    )
    world.requests += 1
    text = response.text
    # A marker the request itself carried may be echoed back (as in "no record <id>"),
    # and an id or bait string an earlier mutation wrote into alpha's own records (a
    # title, a task's relatedId) may be read back: neither reveals anything of bravo.
    # Sentinel canaries are never sent, so they are checked in every answer.
    if operation.lstrip().startswith("mutation"):
        world.sent.update(m for m in world.foreign() if m in operation)
    found = [m for m in world.foreign() if m in text and m not in operation and m not in world.sent]
    if found:
        world.leaks += 1
        record_figures(
            "cross_tenant_leak",
            world.api.runtime.db.dialect,
            operation=operation,
            response=text,
            found=found,
        )
    assert not found, (operation, found, text[:2000])
    assert response.status_code < 500, (operation, text[:2000])


@campaign_settings(CI_EXAMPLES, FULL_EXAMPLES)
@given(data=st.data())
async def test_generated_operations_never_reach_another_tenant(
    world: World, data: st.DataObject
) -> None:
    """The snapshot comparison and the request count are checked when ``world`` ends."""
    if world.operations is None:
        world.operations = _operations(world)
        world.before = {t: await world.snapshot(t) for t in ("bravo", "charlie")}
    for operation in data.draw(world.operations):
        try:
            await _send(world, operation)
        except BaseException:
            world.failed = True
            raise


async def test_foreign_ids_look_exactly_like_missing_ids(world: World) -> None:
    """No existence oracle: a foreign id is answered as a random, never-used id is."""
    probes = [
        "query($id: ID!) { part(id: $id) { id name } }",
        "query($id: ID!) { widget(id: $id) { id } }",
        'mutation($id: ID!) { updatePart(id: $id, input: {name: "x"}) { id } }',
        "mutation($id: ID!) { deletePart(id: $id) { id } }",
        'mutation($id: ID!) { createWidget(input: {title: "t", mainPartId: $id}) { id } }',
        'mutation($id: ID!) { createWidget(input: {title: "t", partsIds: [$id]}) { id } }',
        'mutation($id: ID!) { createWidget(input: {title: "t", ownerId: $id}) { id } }',
        "query($id: ID!) { widgets(filter: {mainPartId: {eq: $id}}) { totalCount } }",
        "query($id: ID!) { widgets(filter: {id: {in: [$id]}}) { totalCount } }",
    ]
    before = await world.snapshot("alpha")
    for foreign in sorted(world.ids["bravo"] | world.ids["charlie"]):
        missing = uuid.uuid4().hex
        for query in probes:
            seen = await world.api.gql("alpha", world.tokens["alpha"], query, {"id": foreign})
            unseen = await world.api.gql("alpha", world.tokens["alpha"], query, {"id": missing})
            assert orjson.dumps(seen).decode().replace(foreign, "<id>") == orjson.dumps(
                unseen
            ).decode().replace(missing, "<id>"), (query, seen, unseen)
    after = await world.snapshot("alpha")
    assert after["data"]["parts"] == before["data"]["parts"]


async def test_a_token_of_one_tenant_is_refused_on_another(world: World) -> None:
    probes = [
        "{ meta { me { id } } }",
        "{ parts { totalCount edges { node { id name } } } }",
        'mutation { createPart(input: {name: "from alpha"}) { id } }',
    ]
    for tenant in ("bravo", "charlie"):
        for query in probes:
            body = await world.api.gql(tenant, world.tokens["alpha"], query)
            assert body["_status"] == 403 and error_codes(body) == ["FORBIDDEN"], body
            assert not any(m in orjson.dumps(body).decode() for m in world.foreign())
    # An unknown tenant and a tenant-less token are refused the same way.
    body = await world.api.gql("nosuch", world.tokens["alpha"], probes[0])
    assert error_codes(body) == ["FORBIDDEN"], body
    body = await world.api.gql("bravo", "not-a-token", probes[0])
    assert body["_status"] == 401 and error_codes(body) == ["UNAUTHENTICATED"], body
    snapshot = await world.snapshot("bravo")
    assert snapshot["data"]["parts"]["totalCount"] == 3
