"""Properties of config validation over configs generated from the tenant schema."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import hypothesis_jsonschema._from_schema as hjs_from_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis_jsonschema import from_schema
from hypothesis_jsonschema._encode import encode_canonical_json

from core.config import TENANT_SCHEMA, resolved_schema, schema_problems, validate_config


class _LegacyMany:
    """``many(...).more()`` on top of the iterator API of hypothesis >= 6.170.

    hypothesis-jsonschema 0.23.1 still calls ``more()``, removed upstream; its
    object strategy fails without this. Spans are not observed, so nothing is
    left open when the strategy stops drawing early.
    """

    _STOP = object()

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = conjecture_utils.many(data, **sizes)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        return next(self._elements, self._STOP) is not self._STOP

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


if not hasattr(conjecture_utils.many, "more"):
    hjs_from_schema.cu = SimpleNamespace(many=_LegacyMany)  # type: ignore[attr-defined]


def _memoised(build: Callable[..., Any]) -> Callable[..., Any]:
    """Build each sub-strategy once: the library rebuilds (and re-checks) one per draw."""
    built: dict[tuple[str, int, int], Any] = {}

    def from_schema_once(schema: Any, *, alphabet: Any, custom_formats: Any) -> Any:
        key = (encode_canonical_json(schema), id(alphabet), id(custom_formats))
        if key not in built:
            built[key] = build(schema, alphabet=alphabet, custom_formats=custom_formats)
        return built[key]

    return from_schema_once


_BUILD = "__from_schema"  # a module global of the library, not a mangled name
setattr(hjs_from_schema, _BUILD, _memoised(getattr(hjs_from_schema, _BUILD)))

TENANT = resolved_schema(TENANT_SCHEMA)
REQUIRED: list[str] = TENANT["required"]
# A value of the wrong JSON type for each top-level property.
WRONG_TYPE: dict[str, Any] = {
    "tenant": 7,
    "name": "Acme",
    "locales": "en",
    "default_locale": ["en"],
    "currency": 978,
    "timezone": None,
    "country": False,
    "plugins": {"sales": True},
    "entities": [],
    "forms": "none",
    "roles": 1.5,
    "settings": [],
}

FAST = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _clamped(node: Any) -> Any:
    """The schema with small collections: every config it allows, TENANT allows.

    Real bounds (500 fields, 200 entities) make generation far too slow.
    """
    if isinstance(node, list):
        return [_clamped(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clamped(v) for k, v in node.items()}
    if "propertyNames" in out:  # a map (entities, fields, labels), not a record
        out["maxProperties"] = min(out.get("maxProperties", 3), 3)
    if out.get("type") == "array":
        out["maxItems"] = min(out.get("maxItems", 3), 3)
    return out


configs = from_schema(_clamped(TENANT))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@FAST
@given(configs)
def test_generated_configs_are_accepted(doc: dict[str, Any]) -> None:
    assert schema_problems(doc) == []


@FAST
@given(configs)
def test_full_validation_of_generated_configs_never_raises(doc: dict[str, Any]) -> None:
    model, problems = validate_config(doc, {})
    assert (model is None) == bool(problems)
    assert all(p.code and p.message for p in problems)


@FAST
@given(configs, st.sampled_from(REQUIRED))
def test_dropping_a_required_key_is_located(doc: dict[str, Any], key: str) -> None:
    broken = copy.deepcopy(doc)
    del broken[key]
    problems = schema_problems(broken)
    assert ("SCHEMA_REQUIRED", f"/{key}") in {(p.code, p.path) for p in problems}


@FAST
@given(configs, st.sampled_from(sorted(WRONG_TYPE)))
def test_a_wrong_type_is_located(doc: dict[str, Any], key: str) -> None:
    broken = {**doc, key: WRONG_TYPE[key]}
    problems = schema_problems(broken)
    assert ("SCHEMA_TYPE", f"/{key}") in {(p.code, p.path) for p in problems}


@FAST
@given(json_values)
def test_any_json_value_gives_problems_not_exceptions(doc: Any) -> None:
    problems = schema_problems(doc)
    assert problems
    assert all(p.path == "" or p.path.startswith("/") for p in problems)
    model, more = validate_config(doc, {})
    assert model is None and more
