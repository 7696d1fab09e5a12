"""A process keeps a bounded number of tenants ready (``TESSERA_TENANT_CACHE_SIZE``).

Idle tenants' models are dropped least recently used first and re-derived from
their stored config on their next request; nothing of a dropped tenant (its
shared model, its check time) stays behind.
"""

from __future__ import annotations

import gc

import pytest

from core.errors import BadRequest
from core.graphql.registry import CACHE_SIZE_VAR, DEFAULT_CACHE_SIZE, FREEZE_VAR
from core.http import create_app
from core.plugins import PluginHost
from core.runtime import Runtime
from core.store import Database
from tests.api_helpers import acme_config


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def _cached(rt: Runtime) -> list[str]:
    return list(rt._models)


async def test_idle_tenants_are_dropped_beyond_the_cache_size(
    db: Database, host: PluginHost
) -> None:
    rt = Runtime(db, host, cache_size=2)
    for tenant in ("one", "two", "three"):
        await rt.apply_config(acme_config(tenant))
    assert _cached(rt) == ["two", "three"]
    one = await rt.model("one")  # re-derived; drops "two", the least recently used
    two = await rt.model("two")  # drops "three"
    assert _cached(rt) == ["one", "two"]
    assert await rt.model("one") is one  # a hit makes "one" the most recent
    await rt.model("three")  # drops "two"
    assert _cached(rt) == ["one", "three"]
    # Nothing of the dropped tenant stays: its shared model, its check time.
    assert two.version_key not in rt._shared and "two" not in rt._checked
    assert set(rt._shared) == {m.version_key for _, m in rt._models.values()}
    again = await rt.model("two")
    assert again is not two and again.version_key == two.version_key
    assert len(rt._models) == 2 and len(rt._shared) == 2


async def test_a_new_version_replaces_the_cached_one(db: Database, host: PluginHost) -> None:
    rt = Runtime(db, host, cache_size=4)
    await rt.apply_config(acme_config())
    first = await rt.model("acme")
    changed = acme_config()
    changed["entities"]["part"]["fields"]["colour"] = {"type": "text", "label": {"en": "Colour"}}
    await rt.apply_config(changed)
    second = await rt.model("acme")
    assert second.version_key != first.version_key
    assert set(rt._shared) == {second.version_key}  # the old version is not kept
    # A run started under version 1 still gets its model, pinned and shared.
    pinned = await rt.model_at("acme", 1)
    assert pinned.version_key == first.version_key
    assert await rt.model_at("acme", 1) is pinned
    assert set(rt._shared) == {first.version_key, second.version_key}


async def test_pinned_versions_are_bounded_too(db: Database, host: PluginHost) -> None:
    rt = Runtime(db, host, cache_size=2)
    doc = acme_config()
    await rt.apply_config(doc)
    for n in range(3):
        doc["entities"]["part"]["fields"][f"extra_{n}"] = {"type": "text", "label": {"en": "X"}}
        await rt.apply_config(doc)
    for version in (1, 2, 3):
        await rt.model_at("acme", version)
    assert list(rt._pinned) == [("acme", 2), ("acme", 3)]
    current = (await rt.model("acme")).version_key
    pinned = {m.version_key for m in rt._pinned.values()}
    assert set(rt._shared) == pinned | {current}


async def test_the_environment_sets_the_bound_of_models_and_schemas(
    db: Database, host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Runtime(db, host).cache_size == DEFAULT_CACHE_SIZE
    monkeypatch.setenv(CACHE_SIZE_VAR, "3")
    rt = Runtime(db, host)
    assert rt.cache_size == 3 and rt.schemas.max_schemas == 3
    monkeypatch.setenv(CACHE_SIZE_VAR, "0")
    with pytest.raises(BadRequest) as err:
        Runtime(db, host)
    assert [(p.code, p.path) for p in err.value.problems] == [("TENANT_CACHE_SIZE", CACHE_SIZE_VAR)]


@pytest.mark.parametrize(("value", "freezes"), [(None, True), ("0", False)])
async def test_a_started_server_freezes_schema_builds_unless_told_not_to(
    db: Database,
    host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    freezes: bool,
) -> None:
    if value is None:
        monkeypatch.delenv(FREEZE_VAR, raising=False)
    else:
        monkeypatch.setenv(FREEZE_VAR, value)
    rt = Runtime(db, host)
    app = create_app(rt)
    assert rt.schemas.freeze_builds is False  # an app not started (tests, tools) never freezes
    frozen = gc.get_freeze_count()
    try:
        for hook in app.on_startup:
            await hook()  # type: ignore[misc]
        assert rt.schemas.freeze_builds is freezes
    finally:
        if not frozen:
            gc.unfreeze()
