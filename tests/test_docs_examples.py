"""docs/tenant-config.md shows real files: each example is valid and shown verbatim."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config_file, schema_problems, validate_config
from core.metadata import PluginContribution

DOCS = Path(__file__).resolve().parents[1] / "docs"
REFERENCE = DOCS / "tenant-config.md"
EXAMPLES = sorted((DOCS / "examples").glob("*.json"))
INCLUDE = re.compile(r"<!-- example: (\S+) -->\n```json\n(.*?)\n```", re.DOTALL)


def included() -> dict[str, str]:
    return dict(INCLUDE.findall(REFERENCE.read_text(encoding="utf-8")))


def installed_plugins() -> dict[str, PluginContribution]:
    try:
        from core.plugins import PluginHost
    except ImportError:
        return {}
    contributions: dict[str, PluginContribution] = dict(
        PluginHost.from_entry_points().contributions()
    )
    return contributions


def test_every_example_is_included_and_every_include_exists() -> None:
    assert sorted(included()) == [p.name for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_shown_verbatim(path: Path) -> None:
    shown = included()[path.name]
    assert shown == path.read_text(encoding="utf-8").rstrip("\n"), (
        f"docs/tenant-config.md shows an outdated copy of {path.name}"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_valid_tenant_config(path: Path) -> None:
    doc, problems = load_config_file(path)
    assert problems == []
    assert schema_problems(doc, path.name) == []
    contributions = installed_plugins()
    absent = set(doc.get("plugins", [])) - set(contributions)
    if absent:
        pytest.skip(f"plugins not installed: {sorted(absent)}")
    model, problems = validate_config(doc, contributions, file=path.name)
    assert [p.located() for p in problems] == []
    assert model is not None


def _field_types(doc: dict[str, Any]) -> set[str]:
    return {
        f["type"]
        for entity in doc.get("entities", {}).values()
        for f in entity.get("fields", {}).values()
        if "type" in f
    }


def test_the_field_types_example_covers_every_builtin_type() -> None:
    from core.metadata import FIELD_TYPES

    doc, _ = load_config_file(DOCS / "examples" / "field-types.json")
    assert doc is not None
    assert _field_types(doc) == set(FIELD_TYPES)


def test_every_builtin_type_has_a_row_in_the_reference() -> None:
    from core.metadata import FIELD_TYPES

    text = REFERENCE.read_text(encoding="utf-8")
    table = text[text.index("### Field types") : text.index("**Index slots.**")]
    assert [t for t in FIELD_TYPES if f"`{t}`" not in table] == []
