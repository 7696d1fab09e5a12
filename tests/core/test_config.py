"""Tenant config loading and validation: every problem is located exactly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from core.config import (
    SCHEMA_BASE,
    TENANT_SCHEMA,
    load_config_file,
    load_schema_registry,
    resolved_schema,
    schema_dir,
    schema_problems,
    validate_config,
)
from core.errors import Problem
from core.metadata import FIELD_TYPES, PluginContribution

REPO = Path(__file__).resolve().parents[2]
TENANT_CONFIGS = REPO / "tenant_configs"
DEMO_FILES = sorted(TENANT_CONFIGS.glob("*.json"))

MINIMAL: dict[str, Any] = {
    "tenant": "acme",
    "name": {"en": "Acme"},
    "locales": ["en", "es-ES"],
    "currency": "EUR",
    "timezone": "Europe/Madrid",
    "entities": {
        "part": {
            "label": {"en": "Part"},
            "plural": "parts",
            "title_field": "name",
            "fields": {
                "name": {"type": "text", "label": {"en": "Name"}, "required": True},
                "grade": {
                    "type": "enum",
                    "options": [{"value": "a", "label": {"en": "A"}}],
                },
            },
        }
    },
    "forms": {"part": {"sections": [{"key": "main", "fields": ["name", {"field": "grade"}]}]}},
}

ACCOUNT = PluginContribution(
    name="sales",
    version="1.0",
    entities={
        "account": {
            "label": {"en": "Account"},
            "plural": "accounts",
            "title_field": "name",
            "fields": {"name": {"type": "text", "required": True, "indexed": True}},
        }
    },
)


def config(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MINIMAL)
    doc.update(changes)
    return doc


def located(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in problems}


# -- schemas -----------------------------------------------------------------------


def test_schema_dir_is_the_checkout_folder() -> None:
    assert schema_dir() == REPO / "schemas"


@pytest.mark.parametrize("path", sorted((REPO / "schemas").glob("*.json")), ids=lambda p: p.name)
def test_every_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_BASE + path.name


def test_registry_holds_every_schema_by_id() -> None:
    registry = load_schema_registry()
    for name in ("tenant", "entity", "field", "form", "role", "labels"):
        assert registry.contents(f"{SCHEMA_BASE}{name}.schema.json")["$id"].endswith(
            name + ".schema.json"
        )


def test_builtin_field_types_match_the_core() -> None:
    field = load_schema_registry().contents(SCHEMA_BASE + "field.schema.json")
    assert tuple(field["$defs"]["builtin_type"]["enum"]) == FIELD_TYPES


def test_resolved_schema_has_no_references_and_validates_alike() -> None:
    flat = resolved_schema(TENANT_SCHEMA)
    assert "$ref" not in json.dumps(flat)
    bad = config(entities={"part": {"fields": {"x": {"type": "enum"}}}})
    assert not Draft202012Validator(flat).is_valid(bad)
    assert Draft202012Validator(flat).is_valid(MINIMAL)


# -- schema problems: one test per located shape -------------------------------------


def test_minimal_config_has_no_problems() -> None:
    assert schema_problems(MINIMAL) == []


def test_missing_required_property_is_located_at_that_property() -> None:
    doc = config()
    del doc["currency"], doc["timezone"]
    problems = schema_problems(doc, "acme.json")
    assert problems == [
        Problem("SCHEMA_REQUIRED", "'currency' is required here", "/currency", "acme.json"),
        Problem("SCHEMA_REQUIRED", "'timezone' is required here", "/timezone", "acme.json"),
    ]


def test_missing_nested_required_property() -> None:
    doc = config(forms={"part": {"sections": [{"fields": ["name"]}]}})
    assert located(schema_problems(doc)) == {("SCHEMA_REQUIRED", "/forms/part/sections/0/key")}


def test_wrong_type() -> None:
    problems = schema_problems(config(locales="en"))
    assert located(problems) == {("SCHEMA_TYPE", "/locales")}
    assert problems[0].message == 'expected array, got string "en"'


def test_wrong_type_deep_in_a_field() -> None:
    doc = config()
    doc["entities"]["part"]["fields"]["name"]["required"] = "yes"
    assert located(schema_problems(doc)) == {("SCHEMA_TYPE", "/entities/part/fields/name/required")}


def test_bad_pattern() -> None:
    doc = config(currency="eur")
    doc["entities"]["part"]["fields"]["grade"]["options"][0]["value"] = "Grade A"
    problems = schema_problems(doc)
    assert located(problems) == {
        ("SCHEMA_PATTERN", "/currency"),
        ("SCHEMA_PATTERN", "/entities/part/fields/grade/options/0/value"),
    }
    assert problems[0].message == '"eur" does not match ^[A-Z]{3}$'


def test_additional_property_names_the_extra_key_and_suggests_the_right_one() -> None:
    doc = config(timezon="UTC")
    doc["entities"]["part"]["fields"]["name"]["lable"] = {"en": "Name"}
    problems = schema_problems(doc)
    assert located(problems) == {
        ("SCHEMA_ADDITIONAL_PROPERTY", "/timezon"),
        ("SCHEMA_ADDITIONAL_PROPERTY", "/entities/part/fields/name/lable"),
    }
    assert "did you mean 'label'?" in problems[0].message


def test_additional_property_with_a_slash_is_escaped() -> None:
    assert located(schema_problems(config(**{"a/b~c": 1}))) == {
        ("SCHEMA_ADDITIONAL_PROPERTY", "/a~1b~0c")
    }


def test_invalid_map_key_is_located_at_the_key() -> None:
    doc = config(entities={"SampleRequest": {"label": {"en": "Sample"}}})
    problems = schema_problems(doc)
    assert located(problems) == {("SCHEMA_PROPERTY_NAMES", "/entities/SampleRequest")}
    assert "^[a-z][a-z0-9_]*$" in problems[0].message


@pytest.mark.parametrize(
    ("field", "missing"),
    [
        ({"type": "enum"}, ["options"]),
        ({"type": "multi_enum"}, ["options"]),
        ({"type": "relation"}, ["target"]),
        ({"type": "relation_list"}, ["target"]),
        ({"type": "computed"}, ["expression", "result_type"]),
    ],
)
def test_per_type_requirements(field: dict[str, Any], missing: list[str]) -> None:
    doc = config(entities={"part": {"label": {"en": "P"}, "fields": {"x": field}}})
    assert located(schema_problems(doc)) == {
        ("SCHEMA_REQUIRED", f"/entities/part/fields/x/{name}") for name in missing
    }


def test_a_plugin_field_may_be_relabelled_without_a_type() -> None:
    doc = config(entities={"account": {"fields": {"name": {"label": {"en": "Company"}}}}})
    assert schema_problems(doc) == []


def test_enum_keyword() -> None:
    doc = config(roles={"rep": {"permissions": {"entities": {"part": ["read", "fly"]}}}})
    problems = schema_problems(doc)
    assert located(problems) == {("SCHEMA_ENUM", "/roles/rep/permissions/entities/part/1")}
    assert problems[0].message.startswith('"fly" is not one of "create", "read"')


def test_counts_and_uniqueness() -> None:
    assert located(schema_problems(config(locales=[]))) == {("SCHEMA_MIN_ITEMS", "/locales")}
    problems = schema_problems(config(locales=["en", "en"]))
    assert located(problems) == {("SCHEMA_UNIQUE_ITEMS", "/locales")}
    assert problems[0].message == 'items must be unique: "en" repeated'


def test_form_item_that_is_neither_key_nor_object() -> None:
    doc = config(forms={"part": {"sections": [{"key": "m", "fields": ["name", 3, "Bad"]}]}})
    assert located(schema_problems(doc)) == {
        ("SCHEMA_TYPE", "/forms/part/sections/0/fields/1"),
        ("SCHEMA_PATTERN", "/forms/part/sections/0/fields/2"),
    }


def test_messages_stay_short_for_huge_values() -> None:
    problems = schema_problems(config(name=list(range(10_000))))
    assert located(problems) == {("SCHEMA_TYPE", "/name")}
    assert len(problems[0].message) < 120


def test_a_non_object_document() -> None:
    assert located(schema_problems([1, 2])) == {("SCHEMA_TYPE", "")}


# -- files -------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "acme.json") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_load_valid_file(tmp_path: Path) -> None:
    doc, problems = load_config_file(write(tmp_path, json.dumps(MINIMAL)))
    assert (doc, problems) == (MINIMAL, [])


def test_json_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "tenant": "acme",\n  "name": {"en": "A"},\n}\n')
    doc, problems = load_config_file(path)
    assert doc is None
    assert problems == [
        Problem(
            "JSON_SYNTAX",
            "invalid JSON at line 4, column 1: Expecting property name enclosed in double quotes",
            "",
            str(path),
        )
    ]


def test_non_object_top_level(tmp_path: Path) -> None:
    doc, problems = load_config_file(write(tmp_path, "[1, 2]"))
    assert doc is None
    assert located(problems) == {("SCHEMA_TYPE", "")}
    assert problems[0].message == "expected object, got array"


def test_missing_file(tmp_path: Path) -> None:
    doc, problems = load_config_file(tmp_path / "nope.json")
    assert doc is None
    assert located(problems) == {("FILE_UNREADABLE", "")}


def test_not_utf8(tmp_path: Path) -> None:
    doc, problems = load_config_file(write(tmp_path, b'{"tenant": "\xff"}'))
    assert doc is None
    assert located(problems) == {("JSON_SYNTAX", "")}


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    doc, problems = load_config_file(write(tmp_path, "\ufeff" + json.dumps(MINIMAL)))
    assert (doc, problems) == (MINIMAL, [])


def test_duplicate_keys_are_located(tmp_path: Path) -> None:
    text = (
        '{"tenant": "a", "entities": {"part": {"fields": '
        '{"x": {"type": "text"}, "x": {"type": "integer"}}}}, "tenant": "b"}'
    )
    doc, problems = load_config_file(write(tmp_path, text))
    assert doc is not None and doc["tenant"] == "b"
    assert located(problems) == {
        ("JSON_DUPLICATE_KEY", "/tenant"),
        ("JSON_DUPLICATE_KEY", "/entities/part/fields/x"),
    }


def test_file_name_need_not_match_the_tenant(tmp_path: Path) -> None:
    folder = tmp_path / "tenant_configs"
    folder.mkdir()
    path = write(folder, json.dumps(MINIMAL), name="other-name.json")
    doc, problems = load_config_file(path)
    assert problems == []
    assert validate_config(doc, {}, file=str(path))[1] == []


# -- whole validation ---------------------------------------------------------------


def test_validate_returns_the_model() -> None:
    model, problems = validate_config(MINIMAL, {"sales": ACCOUNT})
    assert problems == []
    assert model is not None
    assert model.tenant == "acme"
    assert set(model.entities) == {"part", "task", "saved_view"}  # built in: every tenant has them


def test_validate_merges_enabled_plugins() -> None:
    doc = config(plugins=["sales"])
    doc["entities"]["account"] = {"fields": {"vip": {"type": "boolean"}}}
    model, problems = validate_config(doc, {"sales": ACCOUNT})
    assert problems == []
    assert model is not None
    assert set(model.entities["account"].fields) == {"name", "vip"}


def test_schema_problems_come_alone() -> None:
    # The relation target is unknown too, but the semantic half never runs.
    doc = config(currency=978)
    doc["entities"]["part"]["fields"]["owner"] = {"type": "relation", "target": "nobody"}
    model, problems = validate_config(doc, {}, file="f.json")
    assert model is None
    assert located(problems) == {("SCHEMA_TYPE", "/currency")}
    assert problems[0].file == "f.json"


def test_semantic_problems_are_located() -> None:
    doc = config(plugins=["sales", "marketing"])
    doc["entities"]["part"]["fields"]["owner"] = {"type": "relation", "target": "nobody"}
    model, problems = validate_config(doc, {"sales": ACCOUNT}, file="f.json")
    assert model is None
    assert located(problems) == {
        ("PLUGIN_UNKNOWN", "/plugins/1"),
        ("RELATION_TARGET_UNKNOWN", "/entities/part/fields/owner/target"),
    }
    assert {p.file for p in problems} == {"f.json"}


def test_unknown_time_zone_and_currency() -> None:
    model, problems = validate_config(config(timezone="Asia/Shangai", currency="ABC"), {})
    assert model is None
    assert located(problems) == {
        ("TIMEZONE_UNKNOWN", "/timezone"),
        ("CURRENCY_UNKNOWN", "/currency"),
    }
    [timezone] = [p for p in problems if p.path == "/timezone"]
    assert "did you mean 'Asia/Shanghai'?" in timezone.message


def test_lead_fixture_is_schema_valid() -> None:
    doc, problems = load_config_file(REPO / "tests" / "fixtures" / "acme.json")
    assert problems == []
    assert schema_problems(doc) == []


# -- demo tenants --------------------------------------------------------------------


def demo(path: Path) -> dict[str, Any]:
    doc, problems = load_config_file(path)
    assert problems == [] and doc is not None
    return doc


def test_the_three_demo_tenants_exist() -> None:
    assert [p.name for p in DEMO_FILES] == [
        "madrid-componentes.json",
        "manila-aircon.json",
        "shenzhen-components.json",
    ]


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.stem)
def test_demo_tenant_is_schema_valid_and_named_by_its_key(path: Path) -> None:
    doc = demo(path)
    assert schema_problems(doc, str(path)) == []
    assert doc["tenant"] == path.stem


def _labels(node: Any, where: str = "") -> list[tuple[str, dict[str, str]]]:
    """Every label map (label, plural_label, help, description) under ``node``."""
    out: list[tuple[str, dict[str, str]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key in ("label", "plural_label", "help", "description") and isinstance(value, dict):
                out.append((here, value))
            else:
                out.extend(_labels(value, here))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_labels(value, f"{where}/{i}"))
    return out


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.stem)
def test_demo_tenant_labels_cover_every_locale(path: Path) -> None:
    doc = demo(path)
    locales = set(doc["locales"])
    missing = [
        where
        for where, labels in _labels({k: doc.get(k) for k in ("entities", "forms", "roles")})
        if set(labels) != locales
    ]
    assert missing == []
    assert set(doc["name"]) == locales


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.stem)
def test_demo_tenant_customises_enough(path: Path) -> None:
    doc = demo(path)
    entities = doc["entities"]
    custom_fields = [
        (e, f)
        for e, spec in entities.items()
        for f, fspec in spec.get("fields", {}).items()
        if "type" in fspec
    ]
    assert len(custom_fields) >= 5
    new_entities = [e for e, spec in entities.items() if "label" in spec and "plural" in spec]
    assert new_entities
    for key in new_entities:
        fields = entities[key]["fields"].values()
        assert any(f.get("indexed") for f in fields), key
    assert set(new_entities) <= set(doc["forms"])
    assert "admin" in doc["roles"]


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.stem)
def test_demo_tenant_builds_with_the_first_party_plugins(path: Path) -> None:
    plugins = pytest.importorskip("core.plugins")
    contributions = plugins.PluginHost.from_entry_points().contributions()
    doc = demo(path)
    absent = set(doc["plugins"]) - set(contributions)
    if absent:
        pytest.skip(f"plugins not installed yet: {sorted(absent)}")
    model, problems = validate_config(doc, contributions, file=str(path))
    assert [p.located() for p in problems] == []
    assert model is not None and model.tenant == doc["tenant"]
