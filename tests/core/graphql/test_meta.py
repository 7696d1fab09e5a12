"""The ``meta`` query: the model for screens, in the caller's locale by default."""

from __future__ import annotations

from tests.core.graphql.conftest import Run

QUERY = """query($l: String) {
  meta {
    tenant { key name defaultName: name(locale: "en") locales defaultLocale currency timezone }
    me { id email name roles locale }
    entities {
      key typeName queryName listQueryName label english: label(locale: $l)
      labels { locale text } pluralLabel titleField
      fields { key graphqlName type valueType label required unique indexed readOnly
               min max minLength maxLength pattern target
               options { value label labels { locale text } } }
    }
    forms { entity listColumns
            sections { key label columns fields { field widget width visibleWhen requiredWhen } } }
    workflows { key entity field }
  }
}"""


async def test_meta_describes_the_model_in_the_callers_locale(run: Run) -> None:
    body = await run(QUERY, {"l": "en"})
    assert "errors" not in body, body
    meta = body["data"]["meta"]
    assert meta["tenant"] == {
        "key": "acme",
        "name": "Acme ES",
        "defaultName": "Acme",
        "locales": ["en", "es"],
        "defaultLocale": "en",
        "currency": "EUR",
        "timezone": "Europe/Madrid",
    }
    assert meta["me"] == {
        "id": "u1",
        "email": "ana@example.com",
        "name": "Ana",
        "roles": ["admin"],
        "locale": "es",
    }
    entities = {e["key"]: e for e in meta["entities"]}
    order = entities["sales_order"]
    assert order["typeName"] == "SalesOrder" and order["queryName"] == "salesOrder"
    assert order["listQueryName"] == "salesOrders" and order["titleField"] == "title"
    assert order["label"] == "Pedido" and order["english"] == "Sales order"
    assert {"locale": "en", "text": "Sales order"} in order["labels"]
    fields = {f["key"]: f for f in order["fields"]}
    assert fields["customer_level"]["graphqlName"] == "customerLevel"
    assert fields["quantity"]["min"] == "0" and fields["quantity"]["valueType"] == "integer"
    assert fields["title"]["required"] is True and fields["code"]["readOnly"] is True
    assert fields["score"]["type"] == "computed" and fields["score"]["valueType"] == "integer"
    assert fields["account"]["target"] == "account"
    party = {f["key"]: f for f in entities["account"]["fields"]}["party_type"]
    assert party["options"][0]["value"] == "company" and party["options"][0]["label"] == "Empresa"
    # A locale without a label falls back to the tenant's default locale.
    assert party["options"][1]["label"] == "Person"
    (form,) = meta["forms"]
    assert form["entity"] == "sales_order" and form["listColumns"] == ["title", "quantity"]
    (section,) = form["sections"]
    assert section["label"] == "Principal" and section["columns"] == 2
    assert section["fields"][1] == {
        "field": "quantity",
        "widget": "stepper",
        "width": None,
        "visibleWhen": "paid",
        "requiredWhen": None,
    }
    assert meta["workflows"] == []


async def test_without_a_caller_locale_the_tenant_default_is_used(run: Run) -> None:
    body = await run("{ meta { entities { key label } } }", locale=None)
    labels = {e["key"]: e["label"] for e in body["data"]["meta"]["entities"]}
    assert labels == {
        "account": "Account",
        "sales_order": "Sales order",
        "task": "Task",
        "saved_view": "Saved view",
    }
