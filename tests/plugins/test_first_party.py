"""The first-party plugins: manifests, the entity contract, labels and index budgets."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from core.metadata import NUMBER_SLOTS, TEXT_SLOTS, build_tenant_model
from core.plugins import read_manifest
from core.testing import FIRST_PARTY, plugin_host
from plugins import LOCALES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "plugin-manifest.schema.json").read_text("utf-8"))
TEXT_KINDS = {"text", "email", "phone", "url", "enum", "date", "datetime", "relation", "user"}
NUMBER_KINDS = {"integer", "decimal", "money", "percent", "boolean"}

# The contract with tenant configs: entity -> (plural, title, {field: type}, required,
# indexed, unique, {field: default}, {relation: target}).
CONTRACT: dict[str, tuple[Any, ...]] = {
    "account": (
        "accounts",
        "name",
        "name:text party_type:enum level:enum industry:text source:enum owner:user "
        "territory:text credit_limit:money phone:phone email:email website:url "
        "address:address notes:long_text possible_duplicates:relation_list",
        {"name", "party_type"},
        {"name", "party_type", "owner"},
        set(),
        {"party_type": "customer"},
        {"possible_duplicates": "account"},
    ),
    "contact": (
        "contacts",
        "name",
        "name:text account:relation job_title:text phone:phone mobile:phone email:email "
        "preferred_channel:enum do_not_email:boolean do_not_call:boolean "
        "refused_channels:multi_enum owner:user possible_duplicates:relation_list",
        {"name"},
        {"name", "account"},
        set(),
        {},
        {"account": "account", "possible_duplicates": "contact"},
    ),
    "lead": (
        "leads",
        "name",
        "name:text company:text phone:phone email:email source:enum status:enum "
        "owner:user territory:text notes:long_text matched_account:relation "
        "possible_duplicates:relation_list converted_account:relation "
        "converted_contact:relation converted_opportunity:relation converted_at:datetime",
        {"name"},
        {"name", "status", "owner"},
        set(),
        {"status": "new"},
        {
            "matched_account": "account",
            "possible_duplicates": "lead",
            "converted_account": "account",
            "converted_contact": "contact",
            "converted_opportunity": "opportunity",
        },
    ),
    "opportunity": (
        "opportunities",
        "name",
        "name:text account:relation stage:enum probability:percent amount:money "
        "close_date:date owner:user lost_reason:text pipeline:enum contact:relation "
        "lead:relation closed_on:date",
        {"name"},
        {"account", "stage", "close_date"},
        set(),
        {"stage": "prospecting", "pipeline": "default"},
        {"account": "account", "contact": "contact", "lead": "lead"},
    ),
    "activity": (
        "activities",
        "subject",
        "subject:text kind:enum due_at:datetime done:boolean account:relation "
        "contact:relation opportunity:relation owner:user notes:long_text",
        {"subject", "kind"},
        {"due_at", "account", "owner"},
        set(),
        {},
        {"account": "account", "contact": "contact", "opportunity": "opportunity"},
    ),
    "match_key": (
        "match_keys",
        "key",
        "target:text record:text key:text",
        {"target", "record", "key"},
        {"target", "record", "key"},
        set(),
        {},
        {},
    ),
    "assignment_cursor": (
        "assignment_cursors",
        "rule",
        "rule:text position:integer",
        {"rule"},
        set(),
        {"rule"},
        {"position": 0},
        {},
    ),
    "product": (
        "products",
        "name",
        "name:text model:text unit:text price:money tax_rate:percent active:boolean",
        {"name"},
        {"name"},
        {"model"},
        {"active": True},
        {},
    ),
    "quote": (
        "quotes",
        "title",
        "number:text title:text account:relation status:enum valid_until:date "
        "discount:percent currency:text price_list:relation total:money revision:integer "
        "notes:long_text owner:user",
        {"title"},
        {"account", "status"},
        {"number"},
        {"status": "draft"},
        {"account": "account", "price_list": "price_list"},
    ),
    "quote_line": (
        "quote_lines",
        "description",
        "quote:relation product:relation description:text quantity:decimal "
        "unit_price:money discount:percent tax_rate:percent amount:money",
        {"quote", "quantity"},
        {"quote"},
        set(),
        {},
        {"quote": "quote", "product": "product"},
    ),
    "invoice": (
        "invoices",
        "number",
        "number:text account:relation issue_date:date due_date:date total:money "
        "source_quote:text quote_number:text status:enum",
        set(),
        {"account", "issue_date", "due_date"},
        {"number"},
        {"status": "draft"},
        {"account": "account"},
    ),
    "payment": (
        "payments",
        "reference",
        "invoice:relation reference:text amount:money paid_on:date method:enum direction:enum",
        {"amount"},
        {"invoice", "paid_on"},
        set(),
        {"direction": "in"},
        {"invoice": "invoice"},
    ),
    "case": (
        "cases",
        "subject",
        "subject:text account:relation contact:relation channel:enum priority:enum "
        "status:enum description:long_text owner:user",
        {"subject"},
        {"account", "status", "owner"},
        set(),
        {"priority": "normal", "status": "new"},
        {"account": "account", "contact": "contact"},
    ),
    "kb_article": (
        "kb_articles",
        "title",
        "title:text problem:long_text solution:long_text keywords:text",
        {"title"},
        {"title"},
        set(),
        {},
        {},
    ),
}
OPTIONS = {
    ("account", "party_type"): "customer prospect competitor partner supplier",
    ("account", "level"): "a b c d",
    ("account", "source"): "referral website trade_show cold_call partner other",
    ("lead", "source"): "referral website trade_show cold_call partner other",
    ("lead", "status"): "new working qualified disqualified converted",
    ("contact", "preferred_channel"): "phone email im visit",
    ("contact", "refused_channels"): "email phone sms im visit mail",
    ("opportunity", "stage"): "prospecting qualification proposal negotiation closed_won "
    "closed_lost",
    ("activity", "kind"): "call email visit meeting im task",
    ("quote", "status"): "draft sent accepted rejected",
    ("invoice", "status"): "draft issued partially_paid paid cancelled",
    ("payment", "method"): "cash bank_transfer card cheque mobile_wallet",
    ("payment", "direction"): "in out",
    ("case", "channel"): "phone email web chat visit",
    ("case", "priority"): "low normal high urgent",
    ("case", "status"): "new in_progress waiting resolved closed",
}
READ_ONLY = {
    ("quote", "number"),
    ("quote", "total"),
    ("quote", "revision"),
    ("quote_line", "amount"),
    ("invoice", "source_quote"),
    ("invoice", "quote_number"),
    ("account", "possible_duplicates"),
    ("contact", "possible_duplicates"),
    ("lead", "possible_duplicates"),
    ("lead", "matched_account"),
    ("lead", "converted_account"),
    ("lead", "converted_contact"),
    ("lead", "converted_opportunity"),
    ("lead", "converted_at"),
    ("opportunity", "closed_on"),
}
BOUNDS = {
    ("opportunity", "probability"): (0, 100),
    ("quote", "discount"): (0, 100),
    ("quote_line", "discount"): (0, 100),
    ("quote_line", "tax_rate"): (0, 100),
    ("quote_line", "quantity"): (0, None),
}


@pytest.fixture(scope="module")
def model() -> Any:
    host = plugin_host()
    config = {"tenant": "all", "plugins": ["sales", "quoting", "invoicing", "service"]}
    return build_tenant_model(config, host.contributions())


@pytest.mark.parametrize("module", FIRST_PARTY)
def test_manifest_validates_and_lists_the_entities_the_plugin_returns(module: str) -> None:
    plugin = importlib.import_module(module)
    manifest = read_manifest(plugin)
    jsonschema.Draft202012Validator(SCHEMA).validate(manifest)
    assert manifest["name"] == module.rsplit(".", 1)[1]
    assert set(manifest["entities"]) == set(plugin.tessera_entities())
    assert set(manifest["description"]) == set(LOCALES)


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("entity", CONTRACT)
def test_entity_matches_the_contract(model: Any, entity: str) -> None:
    plural, title, types, required, indexed, unique, defaults, targets = CONTRACT[entity]
    e = model.entities[entity]
    assert (e.plural, e.title_field) == (plural, title)
    assert {k: f.type for k, f in e.fields.items()} == dict(t.split(":") for t in types.split())
    assert {k for k, f in e.fields.items() if f.required} == required
    assert {k for k, f in e.fields.items() if f.indexed} == indexed
    assert {k for k, f in e.fields.items() if f.unique} == unique
    assert {k: f.default for k, f in e.fields.items() if f.default is not None} == defaults
    assert {k: f.target for k, f in e.fields.items() if f.target} == targets
    assert {k for k, f in e.fields.items() if f.read_only} == {
        f for ent, f in READ_ONLY if ent == entity
    }
    for (ent, key), values in OPTIONS.items():
        if ent == entity:
            assert e.fields[key].option_values == tuple(values.split())
    for (ent, key), (lo, hi) in BOUNDS.items():
        if ent == entity:
            f = e.fields[key]
            assert (f.min, f.max) == (lo, hi)


def test_every_label_is_in_the_four_first_party_locales(model: Any) -> None:
    for entity in model.entities.values():
        assert set(entity.label) == set(LOCALES), entity.key
        assert set(entity.plural_label) == set(LOCALES), entity.key
        for f in entity.fields.values():
            assert set(f.label) == set(LOCALES), (entity.key, f.key)
            assert all(text.strip() for text in f.label.values())
            for option in f.options:
                assert set(option.label) == set(LOCALES), (entity.key, f.key, option.value)


def test_plugins_leave_index_slots_for_tenants(model: Any) -> None:
    # The contract indexes invoice.number/account/issue_date/due_date: 4 text slots,
    # still one free. Every other entity keeps at least two.
    for entity in model.entities.values():
        slots = [f for f in entity.fields.values() if f.slot]
        text = [f for f in slots if f.value_type in TEXT_KINDS]
        number = [f for f in slots if f.value_type in NUMBER_KINDS]
        assert len(text) <= (4 if entity.key == "invoice" else 3), entity.key
        assert len(text) < len(TEXT_SLOTS) and len(number) < len(NUMBER_SLOTS), entity.key
