"""The schema cache's bound (``TESSERA_TENANT_CACHE_SIZE``) and a server's GC freezing."""

from __future__ import annotations

import gc
import weakref
from collections import OrderedDict
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BadRequest
from core.graphql import SchemaRegistry
from core.graphql.registry import (
    CACHE_SIZE_VAR,
    DEFAULT_CACHE_SIZE,
    FREEZE_VAR,
    cache_size_from_env,
    freeze_builds_from_env,
)
from core.metadata import TenantModel
from tests.core.graphql.conftest import config, make_model

_CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CNY")


@pytest.fixture(scope="module")
def models() -> list[TenantModel]:
    """Five distinct models (distinct version keys)."""
    return [make_model(config(currency=c)) for c in _CURRENCIES]


@pytest.fixture
def thawed() -> Iterator[None]:
    """Whatever a test freezes is unfrozen afterwards (the test process is no server)."""
    frozen = gc.get_freeze_count()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()


def test_the_cache_size_is_read_from_the_environment() -> None:
    assert cache_size_from_env({}) == DEFAULT_CACHE_SIZE
    assert cache_size_from_env({CACHE_SIZE_VAR: ""}) == DEFAULT_CACHE_SIZE
    assert cache_size_from_env({CACHE_SIZE_VAR: " 3000 "}) == 3000


@given(st.integers(min_value=1, max_value=10**9))
def test_any_whole_number_from_one_is_a_cache_size(size: int) -> None:
    assert cache_size_from_env({CACHE_SIZE_VAR: str(size)}) == size


def _not_a_size(raw: str) -> bool:
    try:
        return raw.strip() != "" and int(raw) < 1
    except ValueError:
        return True


@given(
    st.one_of(
        st.integers(max_value=0).map(str),
        st.floats(allow_nan=True).map(str),
        st.text(min_size=1).filter(_not_a_size),
    )
)
def test_anything_else_is_refused_at_the_variable(raw: str) -> None:
    with pytest.raises(BadRequest) as err:
        cache_size_from_env({CACHE_SIZE_VAR: raw})
    (problem,) = err.value.problems
    assert (problem.code, problem.path) == ("TENANT_CACHE_SIZE", CACHE_SIZE_VAR)
    assert CACHE_SIZE_VAR in err.value.message and repr(raw) in err.value.message


def test_a_registry_takes_its_bound_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_SIZE_VAR, "7")
    assert SchemaRegistry().max_schemas == 7
    assert SchemaRegistry(max_schemas=3).max_schemas == 3
    monkeypatch.setenv(CACHE_SIZE_VAR, "seven")
    with pytest.raises(BadRequest):
        SchemaRegistry()
    with pytest.raises(ValueError, match="at least 1"):
        SchemaRegistry(max_schemas=0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(min_value=1, max_value=4),
    visits=st.lists(st.integers(min_value=0, max_value=len(_CURRENCIES) - 1), max_size=12),
)
def test_the_cache_keeps_the_most_recently_used_schemas(
    models: list[TenantModel], size: int, visits: list[int]
) -> None:
    registry = SchemaRegistry(max_schemas=size)
    expected: OrderedDict[str, None] = OrderedDict()
    for i in visits:
        key = models[i].version_key
        registry.get(models[i])
        expected[key] = None
        expected.move_to_end(key)
        if len(expected) > size:
            expected.popitem(last=False)
        assert list(registry._schemas) == list(expected)


def test_freezing_is_on_unless_turned_off() -> None:
    assert freeze_builds_from_env({}) is True
    for off in ("0", "false", "No ", "FALSE"):
        assert freeze_builds_from_env({FREEZE_VAR: off}) is False
    assert freeze_builds_from_env({FREEZE_VAR: "1"}) is True


def test_a_registry_outside_a_server_never_freezes(models: list[TenantModel]) -> None:
    registry = SchemaRegistry(max_schemas=1)
    assert registry.freeze_builds is False
    before = gc.get_freeze_count()
    registry.get(models[0])
    registry.get(models[1])
    assert gc.get_freeze_count() == before and registry.dropped_frozen == 0


def test_a_server_freezes_each_build_and_thaws_to_take_dropped_schemas_back(
    models: list[TenantModel], thawed: None
) -> None:
    registry = SchemaRegistry(max_schemas=1)
    registry.freeze_builds, registry.thaw_after = True, 2
    first = weakref.ref(registry.get(models[0]))
    assert gc.get_freeze_count() > 0
    assert gc.get_count()[0] < 100  # collected, then frozen: nothing young left to walk
    second = weakref.ref(registry.get(models[1]))  # drops the first
    gc.collect()
    # A dropped schema is a reference cycle; frozen, the collector does not see it.
    assert first() is not None and registry.dropped_frozen == 1
    registry.get(models[2])  # drops the second: two dropped, thawed and collected
    assert first() is None and second() is None
    assert registry.dropped_frozen == 0


def test_the_thaw_interval_follows_the_bound() -> None:
    assert SchemaRegistry(max_schemas=10).thaw_after == 32
    assert SchemaRegistry(max_schemas=1600).thaw_after == 100
