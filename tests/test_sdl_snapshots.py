"""graphql/<tenant>.graphql is the reviewed contract of each demo tenant's API.

Regenerate after an intended change with ``TESSERA_UPDATE_SDL=1 make test``
and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import load_config_file, validate_config
from core.graphql import SchemaRegistry
from core.plugins import PluginHost

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "tenant_configs").glob("*.json"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_sdl_snapshot_is_current(path: Path) -> None:
    host = PluginHost.from_entry_points()
    doc, problems = load_config_file(path)
    assert doc is not None and not problems
    model, problems = validate_config(doc, host.contributions(), file=str(path))
    assert model is not None, problems
    sdl = SchemaRegistry(host).get(model).sdl()
    snapshot = ROOT / "graphql" / f"{model.tenant}.graphql"
    if os.environ.get("TESSERA_UPDATE_SDL") == "1":
        snapshot.write_text(sdl + "\n", encoding="utf-8")
    assert snapshot.is_file(), f"missing {snapshot}: run with TESSERA_UPDATE_SDL=1"
    assert snapshot.read_text(encoding="utf-8") == sdl + "\n", (
        f"{snapshot.name} is stale: review the API change, then TESSERA_UPDATE_SDL=1 make test"
    )
