"""Generated invalid tenant configs: every one refused, located, nothing applied.

A valid config (entities, relations, computed fields, workflows with an
approval, automations, timers, roles, forms) is applied and holds records.
Each example breaks it in one to three places, each break invalid by
construction (an unknown field type, a relation to a missing entity, a CEL
expression naming a missing field, a transition from a missing state, a wrong
JSON type, an unknown key, a role action that does not exist, a field made
unique while records share a value, a type change of a field holding values,
an enum option removed while records hold it, ...), and applies
it through ``crm tenant apply``'s path. The oracle:

- the apply is refused with problems, each with a stable code, a message and a
  JSON pointer that exists in the document (or names a missing key of an
  existing object);
- a break is reported at its own location (or inside it); validation runs in
  stages, so a later stage's breaks may wait for the earlier ones to be fixed;
- the tenant is exactly as before: config version, GraphQL schema, records.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigInvalid
from core.store import Database
from tests.api_helpers import Api, make_runtime
from tests.security.campaign import campaign_settings, record_figures

CI_EXAMPLES, FULL_EXAMPLES = 40, 2000
BASE: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "process.json").read_text()
)
BASE["tenant"] = "breakme"
BASE["forms"] = {
    "order": {"sections": [{"key": "main", "label": {"en": "Main"}, "fields": ["title", "total"]}]}
}

Break = Callable[[dict[str, Any], st.DataObject], str]
"""Breaks the document in place; returns the JSON pointer of the break."""


def _ptr(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _field(doc: dict[str, Any], data: st.DataObject) -> tuple[str, str, dict[str, Any]]:
    entity = data.draw(st.sampled_from(sorted(doc["entities"])))
    key = data.draw(st.sampled_from(sorted(doc["entities"][entity]["fields"])))
    return entity, key, doc["entities"][entity]["fields"][key]


def unknown_type(doc: dict[str, Any], data: st.DataObject) -> str:
    entity, key, spec = _field(doc, data)
    spec["type"] = data.draw(st.sampled_from(["colour", "float", "string", "money2"]))
    return _ptr("entities", entity, "fields", key)


def missing_target(doc: dict[str, Any], data: st.DataObject) -> str:
    entity = data.draw(st.sampled_from(sorted(doc["entities"])))
    key = data.draw(st.sampled_from(["link_x", "link_y"]))
    doc["entities"][entity]["fields"][key] = {
        "type": "relation",
        "label": {"en": "Link"},
        "target": data.draw(st.sampled_from(["ghost", "invoice", "orders"])),
    }
    return _ptr("entities", entity, "fields", key)


def bad_expression(doc: dict[str, Any], data: st.DataObject) -> str:
    expression = data.draw(
        st.sampled_from(
            [
                "record.nosuchfield > 1",
                "record.title +",
                "record.discount > 'ten'",
                "record.title * 2",
                "related.nobody.name == 'x'",
            ]
        )
    )
    where = data.draw(st.sampled_from(["computed", "guard", "automation"]))
    if where == "computed":
        doc["entities"]["order"]["fields"]["broken"] = {
            "type": "computed",
            "result_type": "boolean",
            "label": {"en": "Broken"},
            "expression": expression,
        }
        return _ptr("entities", "order", "fields", "broken")
    if where == "guard":
        doc["workflows"]["order_flow"]["transitions"]["confirm"]["guard"] = expression
        return _ptr("workflows", "order_flow", "transitions", "confirm", "guard")
    doc["automations"]["note_high"]["when"] = expression
    return _ptr("automations", "note_high", "when")


def missing_state(doc: dict[str, Any], data: st.DataObject) -> str:
    transitions = doc["workflows"]["order_flow"]["transitions"]
    name = data.draw(st.sampled_from(sorted(transitions)))
    side = data.draw(st.sampled_from(["from", "to"]))
    transitions[name][side] = ["limbo"] if side == "from" else "limbo"
    return _ptr("workflows", "order_flow", "transitions", name, side)


#: Values of the wrong JSON type for a place (a value the schema would accept is never drawn).
_WRONG_TYPES: dict[tuple[str, ...], list[Any]] = {
    ("locales",): [42, None, "en", {"x": 1}, True],
    ("currency",): [42, None, [], {"x": 1}, True],
    ("entities", "order", "plural"): [42, None, [], {"x": 1}, True],
    ("entities", "customer", "fields", "name", "required"): [42, None, [], {"x": 1}, "yes"],
    ("roles", "rep", "permissions", "record_scope"): [42, None, [], {"x": 1}, True],
    ("timers", "follow_up", "offset", "amount"): [None, [], {"x": 1}, "three", 1.5],
}


def wrong_json_type(doc: dict[str, Any], data: st.DataObject) -> str:
    path = data.draw(st.sampled_from(sorted(_WRONG_TYPES)))
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = data.draw(st.sampled_from(_WRONG_TYPES[path]))
    return _ptr(*path)


def unknown_key(doc: dict[str, Any], data: st.DataObject) -> str:
    path = data.draw(
        st.sampled_from(
            [
                (),
                ("entities", "order"),
                ("entities", "order", "fields", "title"),
                ("workflows", "order_flow"),
                ("roles", "rep", "permissions"),
                ("automations", "note_high"),
            ]
        )
    )
    node = doc
    for part in path:
        node = node[part]
    name = data.draw(st.sampled_from(["colour", "lable", "requried", "x_extra"]))
    node[name] = "?"
    return _ptr(*path, name)


def bad_role_action(doc: dict[str, Any], data: st.DataObject) -> str:
    doc["roles"]["rep"]["permissions"]["entities"]["order"] = [
        data.draw(st.sampled_from(["approve", "write", "export", "READ"]))
    ]
    return _ptr("roles", "rep", "permissions", "entities", "order")


def form_unknown_field(doc: dict[str, Any], data: st.DataObject) -> str:
    doc["forms"]["order"]["sections"][0]["fields"].append(
        data.draw(st.sampled_from(["ghost", "totals", "customer_name"]))
    )
    return _ptr("forms", "order", "sections", "0", "fields")


def bad_default(doc: dict[str, Any], data: st.DataObject) -> str:
    doc["entities"]["order"]["fields"]["priority"]["default"] = data.draw(
        st.sampled_from(["urgentest", 7, ["high"]])
    )
    return _ptr("entities", "order", "fields", "priority")


def unique_on_shared_values(doc: dict[str, Any], data: st.DataObject) -> str:
    doc["entities"]["order"]["fields"]["title"]["unique"] = True
    return _ptr("entities", "order", "fields", "title", "unique")


def type_change_with_data(doc: dict[str, Any], data: st.DataObject) -> str:
    doc["entities"]["order"]["fields"]["notes"]["type"] = data.draw(
        st.sampled_from(["integer", "date", "boolean", "money"])
    )
    return _ptr("entities", "order", "fields", "notes")


def option_in_use(doc: dict[str, Any], data: st.DataObject) -> str:
    options = doc["entities"]["order"]["fields"]["priority"]["options"]
    options[:] = [o for o in options if o["value"] != "normal"]  # held by two orders
    return _ptr("entities", "order", "fields", "priority", "options")


BREAKS: list[Break] = [
    unique_on_shared_values,
    type_change_with_data,
    option_in_use,
    unknown_type,
    missing_target,
    bad_expression,
    missing_state,
    wrong_json_type,
    unknown_key,
    bad_role_action,
    form_unknown_field,
    bad_default,
]


@dataclass
class Tenant:
    api: Api
    token: str
    tried: int = 0
    breaks: int = 0
    located: int = 0


SNAPSHOT = "{ orders(first: 50) { edges { node { id version title status } } } }"


@pytest.fixture
async def tenant(db: Database) -> AsyncIterator[Tenant]:
    api = Api(await make_runtime(db))
    token = await api.tenant(copy.deepcopy(BASE))
    # Two orders share a title; one is high priority; all have notes.
    for title, priority in (("order 1", "normal"), ("order 1", "high"), ("order 2", "normal")):
        body = await api.gql(
            "breakme",
            token,
            "mutation($t: String!, $p: OrderPriority) "
            '{ createOrder(input: {title: $t, priority: $p, notes: "kept"}) { id } }',
            {"t": title, "p": priority},
        )
        assert "errors" not in body, body
    t = Tenant(api, token)
    yield t
    record_figures(
        "invalid_configs",
        db.dialect,
        configs=t.tried,
        applied=0,
        breaks=t.breaks,
        located_in_first_report=t.located,
    )
    await api.close()


def _exists(doc: Any, pointer: str) -> bool:
    """The pointer resolves in ``doc``, or names a missing key of an object there."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node = doc
    for i, part in enumerate(parts):
        if isinstance(node, dict):
            if part not in node:
                return i == len(parts) - 1
            node = node[part]
        elif isinstance(node, list) and re.fullmatch(r"\d+", part) and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


@campaign_settings(CI_EXAMPLES, FULL_EXAMPLES)
@given(data=st.data(), breaks=st.lists(st.sampled_from(BREAKS), min_size=1, max_size=3))
async def test_every_invalid_config_is_refused_located_and_changes_nothing(
    tenant: Tenant, data: st.DataObject, breaks: list[Break]
) -> None:
    runtime = tenant.api.runtime
    doc = copy.deepcopy(BASE)
    where = [b(doc, data) for b in breaks]
    before_config = await runtime.db.current_config("breakme")
    before_sdl = runtime.schemas.get(await runtime.model("breakme")).sdl()
    before_rows = await tenant.api.gql("breakme", tenant.token, SNAPSHOT)

    with pytest.raises(ConfigInvalid) as refused:
        await runtime.apply_config(doc)
    tenant.tried += 1
    problems = refused.value.problems
    assert problems
    for p in problems:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", p.code), p
        assert p.message.strip(), p
        assert _exists(doc, p.path), (p, where)

    # Validation runs in stages (JSON Schema, then the model, then expressions and
    # processes), each reporting all of its problems: at least one break is reported
    # at its own location, inside it, or at the object that holds it.
    def located(pointer: str) -> bool:
        return any(
            p.path == pointer
            or p.path.startswith(pointer + "/")
            or pointer.startswith(p.path + "/")
            for p in problems
        )

    assert any(located(pointer) for pointer in where), (where, [(p.path, p.code) for p in problems])
    tenant.located += sum(located(pointer) for pointer in where)
    tenant.breaks += len(where)

    assert await runtime.db.current_config("breakme") == before_config
    assert runtime.schemas.get(await runtime.model("breakme")).sdl() == before_sdl
    assert await tenant.api.gql("breakme", tenant.token, SNAPSHOT) == before_rows
