"""Tenant settings for a plugin are checked against the schema its manifest declares."""

from __future__ import annotations

from typing import Any

from core.config import validate_config
from core.metadata import PluginContribution

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "mode": {"enum": ["warn", "block"]},
        "threshold": {"type": "number", "minimum": 0, "maximum": 100},
    },
}
PLUGINS = {
    "dedupe": PluginContribution(name="dedupe", version="1.0", settings_schema=SCHEMA),
    "plain": PluginContribution(name="plain", version="1.0"),
}


def config(settings: dict[str, Any], plugins: list[str] | None = None) -> dict[str, Any]:
    return {
        "tenant": "acme",
        "name": {"en": "Acme"},
        "locales": ["en"],
        "currency": "USD",
        "timezone": "UTC",
        "plugins": ["dedupe", "plain"] if plugins is None else plugins,
        "settings": settings,
    }


def test_valid_settings_reach_the_model() -> None:
    model, problems = validate_config(config({"dedupe": {"mode": "block"}}), PLUGINS)
    assert problems == []
    assert model is not None and model.settings["dedupe"]["mode"] == "block"


def test_each_bad_setting_is_located_under_its_plugin() -> None:
    doc = config({"dedupe": {"mode": "sometimes", "threshold": 120, "colour": "red"}})
    model, problems = validate_config(doc, PLUGINS)
    assert model is None
    found = {(p.path, p.code) for p in problems}
    assert found == {
        ("/settings/dedupe/mode", "SCHEMA_ENUM"),
        ("/settings/dedupe/threshold", "SCHEMA_MAXIMUM"),
        ("/settings/dedupe/colour", "SCHEMA_ADDITIONAL_PROPERTY"),
    }


def test_settings_for_a_plugin_the_tenant_does_not_enable_are_refused() -> None:
    model, problems = validate_config(config({"dedupe": {}}, plugins=["plain"]), PLUGINS)
    assert model is None
    assert [(p.path, p.code) for p in problems] == [
        ("/settings/dedupe", "SETTINGS_PLUGIN_DISABLED")
    ]


def test_plugins_without_a_schema_and_other_keys_stay_free_form() -> None:
    doc = config({"plain": {"anything": [1, 2]}, "branding": {"colour": "#123456"}})
    model, problems = validate_config(doc, PLUGINS)
    assert problems == [] and model is not None
