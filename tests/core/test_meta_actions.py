"""Record actions: plugin mutations on one record, offered by ``meta`` to callers who may run them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry

from core.context import CallContext, Principal
from core.errors import ConfigInvalid
from core.graphql import GraphQLContext, SchemaRegistry
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel
from core.store import Database
from tests.api_helpers import error_codes, make_runtime
from tests.core.graphql.conftest import make_model
from tests.plugins.sales.conftest import SalesApi, sales_config

ACTIONS = """query($l: String) { meta { entities {
  key recordActions { name label(locale: $l) labels { locale text } links { field entity } }
} } }"""


def _config() -> dict[str, Any]:
    doc = sales_config("ventas")
    doc["plugins"] = ["sales", "quoting"]
    doc["roles"] = {
        # May run actions on leads, but reads no opportunity.
        "rep": {
            "label": {"en": "Rep"},
            "permissions": {
                "entities": {
                    "lead": ["create", "read", "update", "run"],
                    "account": ["create", "read"],
                    "contact": ["create", "read"],
                    "quote": ["read"],
                },
                "record_scope": "all",
            },
        },
        "viewer": {
            "label": {"en": "Viewer"},
            "permissions": {"entities": {"*": ["read"]}, "record_scope": "all"},
        },
    }
    return doc


@pytest.fixture
async def api(db: Database) -> AsyncIterator[SalesApi]:
    client = SalesApi(await make_runtime(db))
    yield client
    await client.close()


async def _actions(api: SalesApi, token: str, locale: str | None = None) -> dict[str, Any]:
    data = await api.ok("ventas", token, ACTIONS, {"l": locale})
    return {e["key"]: e["recordActions"] for e in data["meta"]["entities"] if e["recordActions"]}


async def test_meta_offers_the_record_actions_of_enabled_plugins(api: SalesApi) -> None:
    admin = await api.tenant(_config())
    actions = await _actions(api, admin)
    assert set(actions) == {"lead", "quote"}
    (convert,) = actions["lead"]
    assert convert["name"] == "convertLead" and convert["label"] == "Convert lead"
    assert {t["locale"] for t in convert["labels"]} == {"en", "zh-CN", "es-ES", "tl-PH"}
    # Every ...Id field of the result that names a record the caller may read.
    assert convert["links"] == [
        {"field": "leadId", "entity": "lead"},
        {"field": "accountId", "entity": "account"},
        {"field": "contactId", "entity": "contact"},
        {"field": "opportunityId", "entity": "opportunity"},
    ]
    # Send, accept and reject are workflow transitions on the page already: not offered twice.
    assert [a["name"] for a in actions["quote"]] == ["reviseQuote"]
    assert actions["quote"][0]["links"] == []


@pytest.mark.parametrize(
    ("locale", "label"),
    [
        ("es-ES", "Convertir cliente potencial"),
        ("es", "Convertir cliente potencial"),  # the language's label
        ("zh-CN", "转化线索"),
        ("tl-PH", "I-convert ang lead"),
        ("fr", "Convert lead"),  # no French: the tenant's default locale
    ],
)
async def test_labels_follow_the_requested_locale(api: SalesApi, locale: str, label: str) -> None:
    admin = await api.tenant(_config())
    assert (await _actions(api, admin, locale))["lead"][0]["label"] == label


async def test_meta_says_what_the_callers_roles_allow(api: SalesApi) -> None:
    admin = await api.tenant(_config())
    _rep, rep = await api.user("ventas", "rep@ventas.test", ["rep"])
    query = "{ meta { entities { key allowedActions recordActions { name returnsObject } } } }"

    async def allowed(token: str) -> dict[str, list[str]]:
        data = await api.ok("ventas", token, query)
        return {e["key"]: e["allowedActions"] for e in data["meta"]["entities"]}

    everything = ["create", "read", "update", "delete", "transition", "run"]
    assert (await allowed(admin))["lead"] == everything
    rep_allows = await allowed(rep)
    assert rep_allows["lead"] == ["create", "read", "update", "run"]
    assert rep_allows["quote"] == ["read"] and rep_allows["opportunity"] == []
    data = await api.ok("ventas", admin, query)
    returns = {
        a["name"]: a["returnsObject"] for e in data["meta"]["entities"] for a in e["recordActions"]
    }
    assert returns == {"convertLead": True, "reviseQuote": True}


async def test_only_callers_who_may_run_the_action_see_it(api: SalesApi) -> None:
    admin = await api.tenant(_config())
    _rep, rep = await api.user("ventas", "rep@ventas.test", ["rep"])
    _viewer, viewer = await api.user("ventas", "viewer@ventas.test", ["viewer"])
    assert await _actions(api, viewer) == {}
    rep_actions = await _actions(api, rep)
    assert set(rep_actions) == {"lead"}  # no run on quotes
    # The rep cannot read opportunities: no link to one.
    assert [link["entity"] for link in rep_actions["lead"][0]["links"]] == [
        "lead",
        "account",
        "contact",
    ]
    # What meta offers is what the API allows: the viewer is refused, the rep may run it
    # selecting the offered links.
    lead = await api.create("ventas", admin, "Lead", {"name": "Ana", "company": "Cables SA"})
    mutation = "mutation($id: ID!) { convertLead(id: $id, createOpportunity: false) { %s } }"
    refused = await api.gql("ventas", viewer, mutation % "__typename", {"id": lead["id"]})
    assert error_codes(refused) == ["FORBIDDEN"]
    fields = " ".join(link["field"] for link in rep_actions["lead"][0]["links"])
    done = await api.ok("ventas", rep, mutation % f"__typename {fields}", {"id": lead["id"]})
    assert done["convertLead"]["__typename"] == "LeadConversion"
    assert done["convertLead"]["leadId"] == lead["id"] and done["convertLead"]["accountId"]


# -- a plugin's record action must take the record as its only required argument ------


@strawberry.type
class _Result:
    ok: bool
    sales_order_id: strawberry.ID | None
    account_id: strawberry.ID | None
    note_id: strawberry.ID | None  # no entity 'note': not a link


@strawberry.field
def _good(id: strawberry.ID, comment: str | None = None, notify: bool = True) -> _Result:
    return _Result(ok=True, sales_order_id=id, account_id=None, note_id=None)


@strawberry.field
def _needs_reason(id: strawberry.ID, reason: str) -> bool:
    return True


@strawberry.field
def _no_id(code: str | None = None) -> bool:
    return True


class _Contributions:
    def __init__(
        self,
        actions: list[GraphQLContribution],
        reports: list[GraphQLContribution] | None = None,
    ) -> None:
        self.actions, self.reports = actions, reports or []

    def graphql_actions(self, model: TenantModel) -> list[GraphQLContribution]:
        return self.actions

    def graphql_reports(self, model: TenantModel) -> list[GraphQLContribution]:
        return self.reports


def _action(field: Any, entity: str | None = "sales_order") -> GraphQLContribution:
    return GraphQLContribution(
        "doIt", field, plugin="acme", entity=entity, record_action=True, label={"en": "Do it"}
    )


def _problems(contributions: _Contributions) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigInvalid) as raised:
        SchemaRegistry(contributions).get(make_model())
    return [(p.code, p.path, p.message) for p in raised.value.problems]


async def test_a_record_action_with_optional_extras_is_accepted() -> None:
    model = make_model()
    schema = SchemaRegistry(_Contributions([_action(_good)])).get(model)
    admin = Principal(tenant="acme", user_id="u1", email="a@x.test", roles=("admin",))
    context = GraphQLContext(call=CallContext(model=model, principal=admin), service=None)  # type: ignore[arg-type]
    body = await schema.execute(
        "{ meta { entities { key recordActions { name label links { field entity } } } } }",
        None,
        None,
        context,
    )
    entities = body["data"]["meta"]["entities"]
    offered = {e["key"]: e["recordActions"] for e in entities if e["recordActions"]}
    assert offered == {
        "sales_order": [
            {
                "name": "doIt",
                "label": "Do it",
                "links": [
                    {"field": "salesOrderId", "entity": "sales_order"},
                    {"field": "accountId", "entity": "account"},
                ],
            }
        ],
    }


def test_a_second_required_argument_is_refused_where_it_is() -> None:
    assert _problems(_Contributions([_action(_needs_reason)])) == [
        (
            "PLUGIN_RECORD_ACTION",
            "/plugins/acme/actions/doIt/reason",
            "a record action's only required argument is 'id'; give 'reason' a default",
        )
    ]


def test_a_record_action_without_id_is_refused() -> None:
    assert _problems(_Contributions([_action(_no_id)])) == [
        (
            "PLUGIN_RECORD_ACTION",
            "/plugins/acme/actions/doIt",
            "a record action takes the record as 'id: ID!'",
        )
    ]


def test_a_record_action_names_its_entity_and_is_a_mutation() -> None:
    assert [p[2] for p in _problems(_Contributions([_action(_good, entity=None)]))] == [
        "a record action must name its entity"
    ]
    as_report = _Contributions([], reports=[_action(_good)])
    assert [p[:2] for p in _problems(as_report)] == [
        ("PLUGIN_RECORD_ACTION", "/plugins/acme/reports/doIt")
    ]
