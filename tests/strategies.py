"""Hypothesis strategies for semantically valid tenant configs.

The schema-derived strategy (tests/core/test_config_properties.py) explores
structure; almost none of its configs survive the semantic checks (unknown
currencies, relations to nowhere). These build configs that should be
applied and served, so the happy path is explored too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from core.metadata import FIELD_TYPES, NUMBER_SLOTS, TEXT_SLOTS

KEYS = st.from_regex(r"[a-z][a-z0-9]{0,8}(_[a-z0-9]{1,5})?", fullmatch=True).filter(
    lambda k: k not in ("id", "version", "created_at", "created_by", "updated_at", "updated_by")
)
LOCALE_SETS = st.sampled_from([["en"], ["zh-CN", "en"], ["es-ES", "en"], ["en-PH", "tl-PH"]])
CURRENCIES = st.sampled_from(["EUR", "CNY", "PHP", "USD", "JPY", "KWD"])
ZONES = st.sampled_from(["UTC", "Europe/Madrid", "Asia/Shanghai", "Asia/Manila", "America/Lima"])
TEXTY = {"text", "email", "phone", "url", "enum", "date", "datetime", "relation", "user"}
NUMERIC = {"integer", "decimal", "money", "percent", "boolean"}
PLAIN_TYPES = [t for t in FIELD_TYPES if t not in ("relation", "relation_list", "computed")]


def _labels(locales: list[str], text: str) -> dict[str, str]:
    return {loc: f"{text} ({loc})" for loc in locales}


@st.composite
def field_spec(
    draw: st.DrawFn, ftype: str, locales: list[str], targets: list[str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": ftype, "label": _labels(locales, ftype)}
    spec["required"] = draw(st.booleans()) and ftype not in ("relation_list",)
    if ftype in ("enum", "multi_enum"):
        values = draw(
            st.lists(
                KEYS.filter(lambda v: v not in ("true", "false", "null")),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        spec["options"] = [{"value": v, "label": _labels(locales, v)} for v in values]
    if ftype in ("relation", "relation_list"):
        spec["target"] = draw(st.sampled_from(targets))
    if ftype in ("integer", "decimal", "percent") and draw(st.booleans()):
        lo = draw(st.integers(-100, 100))
        spec["min"], spec["max"] = lo, lo + draw(st.integers(0, 1000))
    if ftype == "text" and draw(st.booleans()):
        spec["max_length"] = draw(st.integers(5, 60))
    if ftype in ("text", "email") and draw(st.booleans()):
        spec["unique"] = True
    if ftype in TEXTY | NUMERIC and draw(st.booleans()):
        spec["indexed"] = True
    return spec


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    locales = draw(LOCALE_SETS)
    entity_keys = draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
    entities: dict[str, Any] = {}
    for key in entity_keys:
        types = draw(
            st.lists(
                st.sampled_from([*PLAIN_TYPES, "relation", "relation_list"]),
                min_size=1,
                max_size=10,
            )
        )
        fields: dict[str, Any] = {}
        text_used = num_used = 0
        for i, ftype in enumerate(types):
            spec = draw(field_spec(ftype, locales, entity_keys))
            if spec.get("indexed") or spec.get("unique"):
                if ftype in TEXTY or (ftype in ("text", "email")):
                    text_used += 1
                    if text_used > len(TEXT_SLOTS):
                        spec.pop("indexed", None)
                        spec.pop("unique", None)
                elif ftype in NUMERIC:
                    num_used += 1
                    if num_used > len(NUMBER_SLOTS):
                        spec.pop("indexed", None)
            fields[f"f{i}_{ftype}"] = spec
        entities[key] = {
            "label": _labels(locales, key),
            "plural": f"{key}_list",
            "fields": fields,
        }
    tenant = draw(st.from_regex(r"t-[a-z0-9]{1,12}", fullmatch=True))
    return {
        "tenant": tenant,
        "name": _labels(locales, tenant),
        "locales": locales,
        "default_locale": locales[0],
        "currency": draw(CURRENCIES),
        "timezone": draw(ZONES),
        "plugins": [],
        "entities": entities,
    }
