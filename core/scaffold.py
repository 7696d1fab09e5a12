"""``crm plugin new``: a plugin package that installs, loads and passes its own tests.

The package follows docs/plugins-publishing.md: a ``pyproject.toml`` with the
``tessera`` entry point, ``manifest.json`` shipped as package data, hook
implementations with an entity and a validation hook, and tests that use
:mod:`core.testing`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["new_plugin"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{title} for Tessera CRM"
requires-python = ">=3.11"
dependencies = ["tessera-crm>=0.1,<0.2"]

[project.optional-dependencies]
test = ["pytest>=9", "pytest-asyncio>=1.5"]

[project.entry-points.tessera]
{name} = "{name}"

[tool.setuptools.package-data]
{name} = ["manifest.json"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
"""

_INIT = '''\
"""{title}: a Tessera CRM plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.context import CallContext, Operation
from core.errors import Problem, ValidationFailed
from core.hookspecs import hookimpl


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    """The entities this plugin defines (listed in manifest.json)."""
    return {{
        "{entity}": {{
            "label": {{"en": "{title} record"}},
            "plural": "{entity}s",
            "title_field": "name",
            "fields": {{
                "name": {{"type": "text", "label": {{"en": "Name"}}, "required": True}},
                "score": {{"type": "integer", "label": {{"en": "Score"}}, "min": 0}},
            }},
        }}
    }}


@hookimpl
def tessera_pre_validate(ctx: CallContext, operation: Operation) -> None:
    """Refuse a write before its transaction starts; the error is located at its field."""
    if operation.entity != "{entity}":
        return
    name = operation.values.get("name")
    if isinstance(name, str) and name.strip().lower() == "test":
        problem = Problem("NAME_RESERVED", "'test' is reserved", "name")
        raise ValidationFailed("the name is reserved", [problem])
'''

_TEST = '''\
"""Tests of the {name} plugin, without a database (core.testing)."""

from __future__ import annotations

import pytest

import {name}
from core.errors import ValidationFailed
from core.testing import harness


async def test_a_valid_record_passes() -> None:
    h = harness({name})
    op = await h.write("{entity}", {{"name": "First", "score": 3}})
    assert op.values["name"] == "First"


async def test_a_reserved_name_is_refused_at_its_field() -> None:
    h = harness({name})
    with pytest.raises(ValidationFailed) as refused:
        await h.write("{entity}", {{"name": "test"}})
    assert [p.path for p in refused.value.problems] == ["name"]
'''

_README = """\
# {title}

A Tessera CRM plugin. Install it next to Tessera and enable it per tenant:

```sh
pip install -e '.[test]'
crm plugin list                      # shows {name}
pytest -q
```

In a tenant config: `"plugins": ["{name}"]`. Its records are in the tenant's
GraphQL API as `{entity_type}` (`{entity}s(first: 10) {{ ... }}`).

See Tessera's docs/plugin-hooks.md for every hook and
docs/plugins-publishing.md for publishing.
"""


def new_plugin(name: str, parent: Path) -> Path:
    """Write a new plugin package ``<parent>/<name with dashes>/``; its folder.

    ``ValueError`` for a bad name or an existing folder (nothing is written).
    """
    if not _NAME.match(name):
        raise ValueError(
            f"'{name}' is not a plugin name: lower-case letters, digits and underscores, "
            "starting with a letter (2 to 63 characters)"
        )
    dist = name.replace("_", "-")
    root = parent / dist
    if root.exists():
        raise ValueError(f"{root} already exists; choose another name or folder")
    title = name.replace("_", " ").capitalize()
    entity = f"{name}_item" if not name.endswith("item") else name
    entity_type = "".join(part.capitalize() for part in entity.split("_"))
    values = {
        "name": name,
        "dist": dist,
        "title": title,
        "entity": entity,
        "entity_type": entity_type,
    }
    manifest = {
        "name": name,
        "version": "0.1.0",
        "label": {"en": title},
        "description": {"en": f"{title} for Tessera CRM."},
        "core_version": ">=0.1,<0.2",
        "requires": [],
        "entities": [entity],
    }
    package = root / name
    (root / "tests").mkdir(parents=True)
    package.mkdir()
    (root / "pyproject.toml").write_text(_PYPROJECT.format(**values), encoding="utf-8")
    (root / "README.md").write_text(_README.format(**values), encoding="utf-8")
    (package / "__init__.py").write_text(_INIT.format(**values), encoding="utf-8")
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    (root / "tests" / f"test_{name}.py").write_text(_TEST.format(**values), encoding="utf-8")
    return root
