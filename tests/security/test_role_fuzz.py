"""Role fuzz: random roles and random queries never show what the role may not read.

Each example gives user ``u`` one generated role (entity actions, record
scope, field access, default deny or not), applies it, and sends queries that
hypothesis-graphql generates over the schema ``u`` sees, plus one query that
selects every field ``u``'s schema offers. The records were written once by
``u``, ``v`` (who reports to ``u``), ``w`` and the admin; every text value is a
unique canary and every quantity a unique number. The oracle is computed from
the role alone, following the rules in docs/tenant-config.md ("Roles"):

- a record is visible when the role grants ``read`` on its entity and the
  record is in scope (``own``: owned by ``u``, ``team``: by ``u`` or ``v``,
  ``all``); a widget's owner is its ``owner`` field, a part's its creator;
- a field is readable unless the role hides it, or, with ``field_security``,
  unless the role grants it ``read`` or ``write``; a relation to an entity the
  role cannot read is not readable.

No response may contain a canary of a record that is not visible or of a field
that is not readable (``headline`` is computed from ``title``, so a title shows
through a readable headline), nor the id of a widget that is not visible.
The full query must return exactly the visible records.
"""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_graphql import queries

from core.security import hash_password, issue_token
from core.store import Database
from tests.api_helpers import Api, acme_config, make_runtime
from tests.security.campaign import (
    campaign_settings,
    drop_leaked_connections,
    record_figures,
    size,
)

#: Each example sends one full query and three generated ones.
CI_EXAMPLES, FULL_EXAMPLES = 25, 1000
GENERATED_PER_EXAMPLE = 3
REQUEST_TIMEOUT = 10

ENTITIES = ("part", "widget")
FIELDS = {
    "part": ("name", "code"),
    "widget": (
        "title", "notes", "quantity", "weight", "price", "discount", "active", "due_on",
        "seen_at", "grade", "tags", "email", "phone", "site", "main_part", "parts", "owner",
        "address", "serial", "total_weight", "heavy", "headline",
    ),
}  # fmt: skip
#: Which fields show a canary written to a field (a computed field repeats its source).
SHOWN_BY = {("widget", "title"): ("title", "headline")}
RELATIONS = {("widget", "main_part"): "part", ("widget", "parts"): "part"}
ACTIONS = ("create", "read", "update", "delete", "transition", "run")
PERMISSIVE = {"permissions": {"entities": {"*": ["*"]}, "record_scope": "all"}}


@dataclass
class Seeded:
    entity: str
    id: str
    owner: str | None
    canaries: dict[str, str]  # canary -> field it was written to


@dataclass
class World:
    api: Api
    users: dict[str, str] = field(default_factory=dict)  # name -> user id
    tokens: dict[str, str] = field(default_factory=dict)
    records: list[Seeded] = field(default_factory=list)
    requests: int = 0
    leaks: int = 0
    roles_tried: int = 0


def _config(role: dict[str, Any]) -> dict[str, Any]:
    doc = acme_config("rolefuzz")
    doc["roles"] = {"fuzz": role, "member": copy.deepcopy(PERMISSIVE)}
    return doc


def _canary(what: str) -> str:
    return f"zr{what}{uuid.uuid4().hex[:10]}"


async def _gql(world: World, user: str, query: str, variables: Any = None) -> dict[str, Any]:
    body = await world.api.gql("rolefuzz", world.tokens[user], query, variables)
    assert "errors" not in body, body
    return body


async def _seed(world: World) -> None:
    api = world.api
    world.tokens["admin"] = await api.tenant(_config(PERMISSIVE), email="admin@rolefuzz.test")
    admin = await api.runtime.db.get_user("rolefuzz", "admin@rolefuzz.test")
    assert admin is not None
    world.users["admin"] = str(admin["id"])
    db = api.runtime.db
    for name, role in (("u", "fuzz"), ("v", "member"), ("w", "member")):
        world.users[name] = await db.add_user(
            "rolefuzz", f"{name}@rolefuzz.test", name.upper(), hash_password("x" * 10), [role], "en"
        )
        world.tokens[name] = await issue_token(db, "rolefuzz", world.users[name])
    await db.set_manager("rolefuzz", world.users["v"], world.users["u"])
    quantity = iter(range(731_001, 739_999, 7))
    part_ids: list[str] = []
    for creator, count in (("u", 2), ("v", 2), ("w", 1), ("admin", 1)):
        for _ in range(count):
            values = {"name": _canary("pn"), "code": _canary("pc")}
            body = await _gql(
                world,
                creator,
                "mutation($i: PartCreateInput!) { createPart(input: $i) { id } }",
                {"i": values},
            )
            pid = body["data"]["createPart"]["id"]
            part_ids.append(pid)
            canaries = {values["name"]: "name", values["code"]: "code"}
            world.records.append(Seeded("part", pid, world.users[creator], canaries))
    owners = ["u", "u", "v", "v", "w", "admin", None]
    for i, owner in enumerate(owners):
        title, notes = _canary("wt"), _canary("wn")
        mail, site = _canary("we"), _canary("ws")
        street, city = _canary("wa"), _canary("wc")
        values: dict[str, Any] = {
            "title": title,
            "notes": notes,
            "quantity": next(quantity),
            "email": f"{mail}@x.test",
            "site": f"https://{site}.test",
            "address": {"street": street, "city": city},
            "mainPartId": part_ids[i % len(part_ids)],
            "partsIds": part_ids[:2],
            "weight": "1.500",
        }
        if owner is not None:
            values["ownerId"] = world.users[owner]
        body = await _gql(
            world,
            "admin",
            "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
            {"i": values},
        )
        canaries = {
            title: "title",
            notes: "notes",
            str(values["quantity"]): "quantity",
            mail: "email",
            site: "site",
            street: "address",
            city: "address",
        }
        wid = body["data"]["createWidget"]["id"]
        world.records.append(Seeded("widget", wid, world.users[owner] if owner else None, canaries))
        # A second version, so the history holds diffs of every field.
        new_notes = _canary("wn")
        await _gql(
            world,
            "admin",
            "mutation($id: ID!, $n: String) { updateWidget(id: $id, input: {notes: $n}) { id } }",
            {"id": wid, "n": new_notes},
        )
        canaries[new_notes] = "notes"


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    w = World(Api(await make_runtime(db)))
    await _seed(w)
    yield w
    try:
        record_figures(
            "role_fuzz", db.dialect, roles=w.roles_tried, requests=w.requests, leaks=w.leaks
        )
    finally:
        await w.api.close()
        await asyncio.sleep(0.2)
        drop_leaked_connections(db.engine)


# -- the role and its oracle --------------------------------------------------


def _roles() -> st.SearchStrategy[dict[str, Any]]:
    actions = st.lists(st.sampled_from([*ACTIONS, "*"]), unique=True, max_size=4)
    entities = st.dictionaries(st.sampled_from([*ENTITIES, "*"]), actions, max_size=3)
    # Reading is what the fuzz is about: most roles read something.
    entities = st.one_of(
        entities,
        st.fixed_dictionaries({e: st.just(["read"]) for e in ENTITIES}),
        st.fixed_dictionaries({"part": st.just(["read", "update"]), "widget": actions}),
    )

    def field_map(entity: str) -> st.SearchStrategy[dict[str, str]]:
        return st.dictionaries(
            st.sampled_from(FIELDS[entity]),
            st.sampled_from(["hidden", "read", "write"]),
            max_size=len(FIELDS[entity]),
        )

    return st.builds(
        lambda ents, scope, fsec, fields: {
            "permissions": {
                "entities": ents,
                "record_scope": scope,
                "field_security": fsec,
                "fields": {e: f for e, f in fields.items() if f},
            }
        },
        entities,
        st.sampled_from(["own", "team", "all"]),
        st.booleans(),
        st.fixed_dictionaries({e: field_map(e) for e in ENTITIES}),
    )


@dataclass(frozen=True)
class Oracle:
    role: dict[str, Any]
    users: dict[str, str]

    @property
    def _perms(self) -> dict[str, Any]:
        perms: dict[str, Any] = self.role["permissions"]
        return perms

    def reads(self, entity: str) -> bool:
        granted = set(self._perms["entities"].get(entity, ())) | set(
            self._perms["entities"].get("*", ())
        )
        return bool(granted & {"read", "*"})

    def in_scope(self, record: Seeded) -> bool:
        scope = self._perms["record_scope"]
        if scope == "all":
            return True
        team = {self.users["u"]} if scope == "own" else {self.users["u"], self.users["v"]}
        return record.owner in team

    def visible(self, record: Seeded) -> bool:
        return self.reads(record.entity) and self.in_scope(record)

    def readable(self, entity: str, key: str) -> bool:
        target = RELATIONS.get((entity, key))
        if target is not None and not self.reads(target):
            return False
        access = self._perms["fields"].get(entity, {}).get(key)
        if self._perms["field_security"]:
            return access in ("read", "write")
        return access != "hidden"

    def shows(self, record: Seeded, written_to: str) -> bool:
        shown_by = SHOWN_BY.get((record.entity, written_to), (written_to,))
        return self.visible(record) and any(self.readable(record.entity, f) for f in shown_by)


# -- queries --------------------------------------------------------------------


def _selection(type_: graphql.GraphQLObjectType, depth: int = 0) -> str:
    """Every field of ``type_`` that needs no arguments, objects two levels deep."""
    parts = []
    for name, fdef in type_.fields.items():
        if any(isinstance(a.type, graphql.GraphQLNonNull) for a in fdef.args.values()):
            continue
        inner = graphql.get_named_type(fdef.type)
        if isinstance(inner, graphql.GraphQLObjectType):
            if depth < 1:
                parts.append(f"{name} {{ {_selection(inner, depth + 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts) or "__typename"


def _full_queries(schema: graphql.GraphQLSchema) -> list[tuple[str, str, str]]:
    """(list field, entity, a query selecting every field the schema offers)."""
    out = []
    for plural, entity, type_name in (("parts", "part", "Part"), ("widgets", "widget", "Widget")):
        node = schema.get_type(type_name)
        if plural in schema.query_type.fields and isinstance(node, graphql.GraphQLObjectType):
            selection = _selection(node)
            query = f"{{ {plural}(first: 20) {{ totalCount edges {{ node {{ {selection} }} }} }} }}"
            out.append((plural, entity, query))
    return out


def _scalars(world: World) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    ids = sorted(r.id for r in world.records)

    def string(s: str) -> graphql.StringValueNode:
        return graphql.StringValueNode(value=s)

    return {
        "ID": st.sampled_from(ids).map(string),
        "String": st.one_of(st.sampled_from(ids), st.text(max_size=8)).map(string),
        "Decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2).map(
            lambda d: string(str(d))
        ),
        "Date": st.dates().map(lambda d: string(d.isoformat())),
        "DateTime": st.datetimes().map(lambda d: string(d.isoformat() + "Z")),
        "JSON": st.just(string("{}")),
    }


async def _send(world: World, oracle: Oracle, operation: str) -> str:
    response = await asyncio.wait_for(
        world.api.client.post(
            "/t/rolefuzz/graphql",
            content=orjson.dumps({"query": operation}),
            headers={"Authorization": f"Bearer {world.tokens['u']}"},
        ),
        REQUEST_TIMEOUT,
    )
    world.requests += 1
    text = response.text
    assert response.status_code < 500, (operation, text[:2000])
    found = []
    for record in world.records:
        if record.entity == "widget" and not oracle.visible(record):
            if record.id in text and record.id not in operation:
                found.append(("id", record.id))
        for canary, written_to in record.canaries.items():
            if written_to == "quantity":
                present = re.search(rf"\b{canary}\b", text) is not None
            else:
                present = canary in text
            if present and canary not in operation and not oracle.shows(record, written_to):
                found.append((written_to, canary))
    if found:
        world.leaks += 1
        record_figures(
            "role_fuzz_leak",
            world.api.runtime.db.dialect,
            role=oracle.role,
            operation=operation,
            found=found,
            response=text[:4000],
        )
    assert not found, (oracle.role, operation, found, text[:2000])
    return text


@campaign_settings(CI_EXAMPLES, FULL_EXAMPLES)
@given(role=_roles(), data=st.data())
async def test_a_role_never_reads_what_it_may_not(
    world: World, role: dict[str, Any], data: st.DataObject
) -> None:
    await world.api.runtime.apply_config(_config(role))
    world.roles_tried += 1
    oracle = Oracle(role, world.users)
    body = await world.api.gql(
        "rolefuzz", world.tokens["u"], graphql.get_introspection_query(descriptions=False)
    )
    schema = graphql.build_client_schema(body["data"])
    for plural, entity, query in _full_queries(schema):
        answer = orjson.loads(await _send(world, oracle, query))
        listed = (answer.get("data") or {}).get(plural)
        if not oracle.reads(entity):
            assert listed is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            continue
        assert "errors" not in answer, (role, answer["errors"])
        got = {e["node"]["id"] for e in listed["edges"]}
        expected = {r.id for r in world.records if r.entity == entity and oracle.visible(r)}
        assert got == expected, (role, plural)
        assert listed["totalCount"] == len(expected)
    sdl = graphql.print_schema(schema)
    operations = queries(sdl, custom_scalars=_scalars(world), allow_x00=False)
    for _ in range(GENERATED_PER_EXAMPLE):
        await _send(world, oracle, data.draw(operations))


async def test_the_fuzz_reaches_every_scope_and_field_mode(world: World) -> None:
    """The oracle and the service agree on hand-picked roles (a failing fuzz is not luck)."""
    cases = [
        ({"entities": {"widget": ["read"]}, "record_scope": "own"}, {"u"}),
        ({"entities": {"widget": ["read"]}, "record_scope": "team"}, {"u", "v"}),
        ({"entities": {"*": ["read"]}, "record_scope": "all"}, {"u", "v", "w", "admin", None}),
    ]
    for perms, owners in cases:
        role = {
            "permissions": {
                **perms,
                "field_security": True,
                "fields": {"widget": {"title": "read"}},
            }
        }
        await world.api.runtime.apply_config(_config(role))
        body = await _gql(world, "u", "{ widgets(first: 50) { edges { node { id title } } } }")
        got = {e["node"]["id"] for e in body["data"]["widgets"]["edges"]}
        by_user = {v: k for k, v in world.users.items()}
        expected = {
            r.id
            for r in world.records
            if r.entity == "widget" and (by_user.get(r.owner) if r.owner else None) in owners
        }
        assert got == expected
        # Default deny: notes were not granted, so the schema does not offer them.
        refused = await world.api.gql(
            "rolefuzz", world.tokens["u"], "{ widgets { edges { node { notes } } } }"
        )
        assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert size(CI_EXAMPLES, FULL_EXAMPLES) >= CI_EXAMPLES
