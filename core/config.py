"""Tenant config files: locate the JSON Schemas, load files, validate configs.

Validation has two halves. The structural half (this module) checks a
document against ``schemas/tenant.schema.json``; the semantic half
(:func:`core.metadata.build_tenant_model`) checks what a schema cannot, such
as a relation's target existing. Both report located
:class:`~core.errors.Problem` values whose ``path`` is a JSON pointer.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import zoneinfo
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import babel.numbers
import referencing
import referencing.jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from core.errors import ConfigInvalid, Problem
from core.expressions import compile_expression, record_variables
from core.metadata import PluginContribution, TenantModel, build_tenant_model
from core.numbering import numbering_problems
from core.templates import template_problems

__all__ = [
    "SCHEMA_BASE",
    "TENANT_SCHEMA",
    "load_config_file",
    "load_schema_registry",
    "resolved_schema",
    "schema_dir",
    "schema_problems",
    "validate_config",
]

#: Base of every schema ``$id``; a schema file's name is its id relative to it.
SCHEMA_BASE = "https://tessera-crm.dev/schemas/"
TENANT_SCHEMA = "tenant.schema.json"

_SHORT = 60  # longest rendering of an offending value inside a message


def schema_dir() -> Path:
    """The folder holding the JSON Schemas.

    A source checkout has ``<repo>/schemas/`` next to the ``core`` package;
    an installed wheel carries the same files as ``core/_schemas/``.
    """
    checkout = Path(__file__).resolve().parent.parent / "schemas"
    if (checkout / TENANT_SCHEMA).is_file():
        return checkout
    return Path(str(resources.files("core") / "_schemas"))


@cache
def load_schema_registry() -> referencing.Registry[Any]:
    """Every schema of :func:`schema_dir`, registered under its ``$id``."""
    resources_: list[tuple[str, referencing.Resource[Any]]] = []
    for path in sorted(schema_dir().glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        uri = contents.get("$id", SCHEMA_BASE + path.name)
        resources_.append((uri, referencing.jsonschema.DRAFT202012.create_resource(contents)))
    return referencing.Registry().with_resources(resources_)


@cache
def _validator(schema: str) -> Draft202012Validator:
    registry = load_schema_registry()
    contents = registry.contents(SCHEMA_BASE + schema)
    return Draft202012Validator(contents, registry=registry)


def resolved_schema(schema: str = TENANT_SCHEMA) -> dict[str, Any]:
    """A copy of ``schema`` with every ``$ref`` replaced by its target.

    For tools that cannot follow references across files (editors, data
    generators). Our schemas are not recursive, so the result is finite.
    """
    registry = load_schema_registry()

    def target(ref: str, base: str) -> tuple[Any, str]:
        uri, _, fragment = urljoin(base, ref).partition("#")
        node = registry.contents(uri)
        for part in filter(None, fragment.split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, uri

    def inline(node: Any, base: str) -> Any:
        if isinstance(node, list):
            return [inline(v, base) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: inline(v, base) for k, v in node.items() if k not in ("$ref", "$defs", "$id")}
        if "$ref" in node:
            contents, uri = target(node["$ref"], base)
            # Keywords next to $ref (a description) yield to the target's own.
            out = {**out, **inline(contents, uri)}
        return out

    uri = SCHEMA_BASE + schema
    result: dict[str, Any] = inline(registry.contents(uri), uri)
    return result


# -- errors as Problems ----------------------------------------------------------


def _pointer(parts: Iterator[str | int] | Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _count(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"


def _code(keyword: str | None) -> str:
    if keyword is None:
        return "SCHEMA_NOT_ALLOWED"
    if keyword == "additionalProperties":
        return "SCHEMA_ADDITIONAL_PROPERTY"
    return "SCHEMA_" + re.sub(r"(?<!^)(?=[A-Z])", "_", keyword).upper()


def _extra_properties(error: ValidationError) -> list[str]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]


def _message(error: ValidationError) -> str:
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"expected {wanted}, got {_json_type(value)} {_short(value)}"
    if keyword == "enum":
        return f"{_short(value)} is not one of {', '.join(map(_short, expected))}"
    if keyword == "const":
        return f"{_short(value)} must be {_short(expected)}"
    if keyword == "pattern":
        return f"{_short(value)} does not match {expected}"
    if keyword in ("minLength", "maxLength"):
        bound = "at least" if keyword == "minLength" else "at most"
        return f"{_short(value)} must be {bound} {expected} characters long"
    if keyword in ("minItems", "maxItems", "minProperties", "maxProperties"):
        bound = "at least" if keyword.startswith("min") else "at most"
        noun = "item" if keyword.endswith("Items") else "entry"
        return f"needs {bound} {_count(expected, noun)}, has {len(value)}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[keyword]
        return f"{_short(value)} must be {relation} {expected}"
    if keyword == "uniqueItems":
        texts = [_short(v) for v in value]
        repeated = sorted({t for t in texts if texts.count(t) > 1})
        return f"items must be unique: {', '.join(repeated)} repeated"
    if keyword is None:
        return "no value is allowed here"
    return error.message if len(error.message) <= 200 else error.message[:197] + "..."


def _problems_of(error: ValidationError, file: str | None, seen: set[Any]) -> list[Problem]:
    where = _pointer(error.absolute_path)
    keyword = error.validator
    if keyword == "required":
        # One error per missing property, all alike: report each name once.
        key = (where, tuple(error.absolute_schema_path))
        if key in seen:
            return []
        seen.add(key)
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        return [
            Problem(
                "SCHEMA_REQUIRED",
                f"'{name}' is required here",
                f"{where}/{_pointer([name])[1:]}",
                file,
            )
            for name in error.validator_value
            if name not in instance
        ]
    if keyword == "additionalProperties" and error.validator_value is False:
        out = []
        for name in _extra_properties(error):
            known = list(error.schema.get("properties", {}))
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (allowed: {', '.join(known)})"
            out.append(
                Problem(
                    "SCHEMA_ADDITIONAL_PROPERTY",
                    f"unknown property '{name}'{hint}",
                    f"{where}/{_pointer([name])[1:]}",
                    file,
                )
            )
        return out
    if "propertyNames" in error.relative_schema_path:
        # The error is about a key of the object, which is not itself a path step.
        name = str(error.instance)
        return [
            Problem(
                "SCHEMA_PROPERTY_NAMES",
                f"key {_short(name)} is not allowed: {_message(error)}",
                f"{where}/{_pointer([name])[1:]}",
                file,
            )
        ]
    return [Problem(_code(keyword), _message(error), where, file)]


def schema_problems(
    doc: Any, file: str | None = None, *, schema: str = TENANT_SCHEMA
) -> list[Problem]:
    """Every JSON-Schema error of ``doc`` as a located Problem, ordered by path.

    Codes are ``SCHEMA_<KEYWORD>`` (``SCHEMA_REQUIRED``, ``SCHEMA_TYPE``, ...).
    For a missing or an unknown property the pointer names that property.
    ``schema`` names another file of :func:`schema_dir` to validate against.
    """
    seen: set[Any] = set()
    problems: list[Problem] = []
    for error in _validator(schema).iter_errors(doc):
        problems.extend(_problems_of(error, file, seen))
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.path, p.code))


# -- files -----------------------------------------------------------------------


def _duplicate_key_problems(
    doc: Any, duplicates: Mapping[int, list[str]], file: str
) -> list[Problem]:
    """Locate keys that appeared twice in one JSON object (the last one won)."""
    out: list[Problem] = []
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for name in duplicates.get(id(node), ()):
                out.append(
                    Problem(
                        "JSON_DUPLICATE_KEY",
                        f"key '{name}' appears more than once in this object; "
                        "only the last one would count",
                        f"{where}/{_pointer([name])[1:]}",
                        file,
                    )
                )
            stack.extend((v, f"{where}/{_pointer([k])[1:]}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(node))
    return sorted(out, key=lambda p: p.path)


def load_config_file(path: str | Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Read a tenant config file: the parsed object, or located problems.

    Parse problems (``FILE_UNREADABLE``, ``JSON_SYNTAX`` with line and column,
    ``SCHEMA_TYPE`` for a top level that is not an object) return no document;
    duplicate keys (``JSON_DUPLICATE_KEY``) return it along with the problems.
    The file name need not match the ``tenant`` key.
    """
    name = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        return None, [Problem("FILE_UNREADABLE", f"cannot read file: {exc.strerror}", "", name)]
    except UnicodeDecodeError as exc:
        return None, [Problem("JSON_SYNTAX", f"not UTF-8 text (byte offset {exc.start})", "", name)]

    duplicates: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                duplicates.setdefault(id(obj), []).append(key)
            obj[key] = value
        return obj

    try:
        doc = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None, [Problem("JSON_SYNTAX", message, "", name)]
    if not isinstance(doc, dict):
        return None, [Problem("SCHEMA_TYPE", f"expected object, got {_json_type(doc)}", "", name)]
    return doc, _duplicate_key_problems(doc, duplicates, name)


# -- whole validation --------------------------------------------------------------


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(babel.numbers.list_currencies())


def _header_problems(doc: Mapping[str, Any], file: str | None) -> list[Problem]:
    """Checks of the tenant header a pattern cannot make: real zone and currency."""
    out: list[Problem] = []
    zones = _known_timezones()
    tz = doc.get("timezone")
    # Without a tz database on the host every name would look unknown: skip then.
    if zones and tz is not None and tz not in zones and tz != "UTC":
        close = difflib.get_close_matches(tz, zones, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        out.append(
            Problem("TIMEZONE_UNKNOWN", f"unknown time zone '{tz}'{hint}", "/timezone", file)
        )
    country = doc.get("country")
    if country is not None:
        from core.workflow.calendar import validate_country

        message = validate_country(country)
        if message is not None:
            out.append(Problem("COUNTRY_UNKNOWN", message, "/country", file))
    currency = doc.get("currency")
    if currency is not None and currency not in _known_currencies():
        out.append(
            Problem("CURRENCY_UNKNOWN", f"'{currency}' is not an ISO 4217 code", "/currency", file)
        )
    return out


def validate_config(
    doc: Any,
    contributions: Mapping[str, PluginContribution],
    file: str | None = None,
) -> tuple[TenantModel | None, list[Problem]]:
    """Validate a tenant config fully; the model when valid, else every problem.

    Schema problems come first and alone: the semantic checks assume a
    structurally valid document. ``contributions`` holds every installed plugin.
    """
    problems = schema_problems(doc, file)
    if problems:
        return None, problems
    problems = _header_problems(doc, file) + settings_problems(doc, contributions, file)
    try:
        model = build_tenant_model(doc, contributions, file=file)
    except ConfigInvalid as exc:
        # Sorted by location: the same config gives the same list whatever order its
        # keys come in (PostgreSQL's JSONB returns them reordered).
        return None, sorted(problems + exc.problems, key=lambda p: (p.path, p.code))
    problems += expression_problems(model, file)
    problems += numbering_problems(model, file) + template_problems(model, file)
    problems += default_problems(model, file)
    if problems:
        return None, sorted(problems, key=lambda p: (p.path, p.code))
    return model, []


def default_problems(model: TenantModel, file: str | None = None) -> list[Problem]:
    """Each field's ``default`` must be a value the field accepts."""
    from core.values import coerce

    problems: list[Problem] = []
    for entity in model.entities.values():
        for f in entity.fields.values():
            if f.default is None or f.read_only:
                continue
            _, problem = coerce(f, f.default, model)
            if problem is not None:
                problems.append(
                    Problem(
                        "DEFAULT_INVALID",
                        f"the default is not a valid value: {problem.message}",
                        f"/entities/{entity.key}/fields/{f.key}/default",
                        file,
                    )
                )
    return problems


def settings_problems(
    doc: Mapping[str, Any],
    contributions: Mapping[str, PluginContribution],
    file: str | None = None,
) -> list[Problem]:
    """Check ``settings.<plugin>`` against the schema that plugin's manifest declares.

    A settings object for an installed plugin the tenant does not enable is
    refused: it would silently do nothing. Other keys stay free-form.
    """
    settings = doc.get("settings") or {}
    enabled = set(doc.get("plugins") or ())
    problems: list[Problem] = []
    for name, value in settings.items():
        contrib = contributions.get(name)
        if contrib is None:
            continue
        where = f"/settings/{_pointer([name])[1:]}"
        if name not in enabled:
            message = f"settings for plugin '{name}', which this tenant does not enable"
            problems.append(Problem("SETTINGS_PLUGIN_DISABLED", message, where, file))
            continue
        if contrib.settings_schema is None:
            continue
        seen: set[Any] = set()
        validator = Draft202012Validator(
            contrib.settings_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        for error in validator.iter_errors(value):
            for p in _problems_of(error, file, seen):
                problems.append(Problem(p.code, p.message, where + p.path, file))
    return sorted(dict.fromkeys(problems), key=lambda p: (p.path, p.code))


def expression_problems(model: TenantModel, file: str | None = None) -> list[Problem]:
    """Compile every CEL expression of the model; each failure located in the config."""
    problems: list[Problem] = []

    def check(source: str, entity: str, pointer: str, result: str | None) -> None:
        _, found = compile_expression(
            source,
            variables=record_variables(model.entities[entity]),
            pointer=pointer,
            result=result,
        )
        problems.extend(dataclasses.replace(p, file=file) for p in found)

    for ekey, entity in model.entities.items():
        for fkey, f in entity.fields.items():
            if f.expression:
                check(
                    f.expression, ekey, f"/entities/{ekey}/fields/{fkey}/expression", f.result_type
                )
    for ekey, form in model.forms.items():
        for si, section in enumerate(form.sections):
            for fi, item in enumerate(section.fields):
                for attr in ("visible_when", "required_when"):
                    source = getattr(item, attr)
                    if source:
                        pointer = f"/forms/{ekey}/sections/{si}/fields/{fi}/{attr}"
                        check(source, ekey, pointer, "boolean")
    return problems
