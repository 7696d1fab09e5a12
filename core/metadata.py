"""The TenantModel: plugin definitions merged with a tenant config, once.

Everything downstream (record validation, the GraphQL schema, forms, the
store's index slots) is derived from a ``TenantModel`` and cached under its
``version_key``. Building a model also performs the semantic checks that a
JSON Schema cannot express (a relation's target exists, a form names real
fields, index slots are not exhausted); each failure is a located
:class:`~core.errors.Problem` with a JSON pointer into the tenant config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from core.builtin_entities import CORE_ENTITIES
from core.errors import ConfigInvalid, ProblemList
from core.naming import camel, pascal

if TYPE_CHECKING:
    from core.workflow.definitions import Processes

__all__ = [
    "FIELD_TYPES",
    "NUMBER_SLOTS",
    "TEXT_SLOTS",
    "EntityDef",
    "FieldDef",
    "FormDef",
    "FormField",
    "FormSection",
    "Labels",
    "Option",
    "PluginContribution",
    "RoleDef",
    "TenantModel",
    "build_tenant_model",
    "freeze",
    "label_in",
]

Labels = Mapping[str, str]

#: Every field type a config may name. ``computed`` carries a CEL expression.
FIELD_TYPES: tuple[str, ...] = (
    "text",
    "long_text",
    "integer",
    "decimal",
    "money",
    "percent",
    "boolean",
    "date",
    "datetime",
    "enum",
    "multi_enum",
    "email",
    "phone",
    "url",
    "relation",
    "relation_list",
    "user",
    "address",
    "computed",
)

# D1: a fixed set of typed, indexed columns on the shared record table.
# Fields marked ``indexed`` are mapped onto them per entity by the model, so
# the number of database objects never grows with tenants or fields.
TEXT_SLOTS: tuple[str, ...] = ("s_t1", "s_t2", "s_t3", "s_t4", "s_t5")
NUMBER_SLOTS: tuple[str, ...] = ("s_n1", "s_n2", "s_n3")

_TEXT_SLOT_TYPES = frozenset(
    {"text", "email", "phone", "url", "enum", "date", "datetime", "relation", "user"}
)
_NUMBER_SLOT_TYPES = frozenset({"integer", "decimal", "money", "percent", "boolean"})
_RESULT_TYPES = frozenset({"text", "integer", "decimal", "boolean", "date", "datetime"})
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")

#: Built-in columns every record has; filterable and sortable like fields.
SYSTEM_FIELDS: tuple[str, ...] = (
    "id",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)


def label_in(labels: Labels, locale: str, fallbacks: Iterable[str] = (), default: str = "") -> str:
    """The label for ``locale``, else its language, else a fallback locale."""
    if locale in labels:
        return labels[locale]
    language = locale.split("-")[0]
    for key, text in labels.items():
        if key.split("-")[0] == language:
            return text
    for fb in fallbacks:
        if fb in labels:
            return labels[fb]
    return next(iter(labels.values()), default)


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: Labels


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of an entity, as merged from plugins and the tenant config."""

    key: str
    type: str
    label: Labels
    source: str  # "tenant" or "plugin:<name>"
    help: Labels = field(default_factory=dict)
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: tuple[Option, ...] = ()
    target: str | None = None
    expression: str | None = None
    result_type: str | None = None
    scale: int | None = None
    default: Any = None
    slot: str | None = None
    base_type: str | None = None  # for plugin field types: the built-in type they refine

    @property
    def graphql_name(self) -> str:
        return camel(self.key)

    @property
    def value_type(self) -> str:
        """The built-in type that describes how values are stored and exposed."""
        if self.type == "computed":
            return self.result_type or "text"
        return self.base_type or self.type

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


@dataclass(frozen=True, slots=True)
class EntityDef:
    key: str
    label: Labels
    plural_label: Labels
    plural: str
    fields: Mapping[str, FieldDef]
    source: str
    title_field: str | None = None
    description: Labels = field(default_factory=dict)
    #: Bookkeeping a plugin keeps for itself: not offered in the screens' navigation.
    internal: bool = False

    @property
    def type_name(self) -> str:
        return pascal(self.key)

    @property
    def query_name(self) -> str:
        return camel(self.key)

    @property
    def list_query_name(self) -> str:
        return camel(self.plural)

    def field(self, key: str) -> FieldDef:
        return self.fields[key]

    def slot_of(self, key: str) -> str | None:
        f = self.fields.get(key)
        return f.slot if f else None


@dataclass(frozen=True, slots=True)
class FormField:
    field: str
    widget: str | None = None
    width: int | None = None
    visible_when: str | None = None
    required_when: str | None = None


@dataclass(frozen=True, slots=True)
class FormSection:
    key: str
    label: Labels
    fields: tuple[FormField, ...]
    columns: int = 2


@dataclass(frozen=True, slots=True)
class FormDef:
    entity: str
    sections: tuple[FormSection, ...]
    list_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleDef:
    key: str
    label: Labels
    permissions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PluginContribution:
    """What one plugin contributes to models: entity specs and field types.

    ``entities`` uses the same JSON shape as a tenant config's ``entities``
    section; ``field_types`` maps a new type name to the built-in type it
    refines (its validator lives in the plugin).
    """

    name: str
    version: str
    entities: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    field_types: Mapping[str, str] = field(default_factory=dict)
    #: Automation actions it offers, as ``<plugin>.<name>``.
    actions: frozenset[str] = frozenset()
    #: JSON Schema of the tenant's ``settings.<plugin>`` object (manifest ``settings``).
    settings_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TenantModel:
    """Immutable, versioned description of one tenant."""

    tenant: str
    name: Labels
    locales: tuple[str, ...]
    default_locale: str
    currency: str
    timezone: str
    country: str | None
    plugins: tuple[str, ...]
    entities: Mapping[str, EntityDef]
    forms: Mapping[str, FormDef]
    roles: Mapping[str, RoleDef]
    config: Mapping[str, Any]
    version_key: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: Automation actions of the enabled plugins (``<plugin>.<name>``).
    plugin_actions: frozenset[str] = frozenset()
    #: Workflows, automations, timers and rules, compiled (core.workflow.definitions).
    processes: Processes = field(default=None)  # type: ignore[assignment]

    def entity(self, key: str) -> EntityDef:
        return self.entities[key]

    def label(self, labels: Labels, locale: str | None = None) -> str:
        return label_in(labels, locale or self.default_locale, (self.default_locale, "en"))


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON-shaped data (mappings become MappingProxyType)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def config_hash(config: Mapping[str, Any], plugins: Iterable[tuple[str, str]]) -> str:
    """Version key: the config's canonical JSON plus the enabled plugin set."""
    payload = json.dumps(
        {"config": config, "plugins": sorted(plugins)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class _Builder:
    def __init__(
        self,
        config: Mapping[str, Any],
        contributions: Mapping[str, PluginContribution],
        file: str | None,
    ) -> None:
        self.config = config
        self.contributions = contributions
        self.file = file
        self.problems = ProblemList()
        self.field_types: dict[str, tuple[str, str]] = {}  # name -> (base, plugin)

    def add(self, code: str, message: str, path: str) -> None:
        self.problems.add(code, message, path, self.file)

    def build(self) -> TenantModel:
        cfg = self.config
        enabled = [str(p) for p in cfg.get("plugins", [])]
        for i, name in enumerate(enabled):
            if name not in self.contributions:
                known = ", ".join(sorted(self.contributions)) or "none"
                self.add(
                    "PLUGIN_UNKNOWN",
                    f"plugin '{name}' is not installed (installed: {known})",
                    f"/plugins/{i}",
                )
        active = [self.contributions[n] for n in enabled if n in self.contributions]
        for contrib in active:
            for tname, refined in contrib.field_types.items():
                self.field_types[tname] = (refined, contrib.name)

        locales = tuple(cfg.get("locales") or ("en",))
        default_locale = cfg.get("default_locale") or locales[0]
        if default_locale not in locales:
            self.add(
                "LOCALE_UNKNOWN",
                f"default_locale '{default_locale}' is not one of the tenant's locales {list(locales)}",
                "/default_locale",
            )

        specs: dict[str, tuple[str, dict[str, Any]]] = {}
        field_sources: dict[tuple[str, str], str] = {}
        for ekey, core_spec in CORE_ENTITIES.items():
            specs[ekey] = ("core", {**core_spec, "fields": dict(core_spec["fields"])})
            for fkey in core_spec["fields"]:
                field_sources[(ekey, fkey)] = "core"
        for contrib in active:
            for ekey, espec in contrib.entities.items():
                merged = dict(espec)
                merged["fields"] = dict(espec.get("fields", {}))
                if ekey in specs:
                    # A plugin may extend another plugin's entity with fields.
                    _src, prev = specs[ekey]
                    for fkey, fspec in merged["fields"].items():
                        if fkey not in prev["fields"]:
                            prev["fields"][fkey] = fspec
                            field_sources[(ekey, fkey)] = f"plugin:{contrib.name}"
                    continue
                specs[ekey] = (f"plugin:{contrib.name}", merged)
                for fkey in merged["fields"]:
                    field_sources[(ekey, fkey)] = f"plugin:{contrib.name}"

        for ekey, espec in (cfg.get("entities") or {}).items():
            ptr = f"/entities/{ekey}"
            if ekey in specs:
                _origin, base = specs[ekey]
                for attr in ("label", "plural_label", "title_field", "description"):
                    if attr in espec:
                        base[attr] = espec[attr]
                if "plural" in espec and espec["plural"] != base.get("plural"):
                    self.add(
                        "PLURAL_FIXED",
                        f"entity '{ekey}' comes from a plugin; its plural '{base.get('plural')}' cannot change",
                        f"{ptr}/plural",
                    )
                for fkey, fspec in (espec.get("fields") or {}).items():
                    existing = base["fields"].get(fkey)
                    if existing is not None:
                        if fspec.get("type", existing.get("type")) != existing.get("type"):
                            self.add(
                                "FIELD_REDEFINED",
                                f"field '{fkey}' is defined by a plugin as "
                                f"'{existing.get('type')}'; a tenant may relabel it but not change its type",
                                f"{ptr}/fields/{fkey}/type",
                            )
                        base["fields"][fkey] = {**existing, **fspec, "type": existing.get("type")}
                    else:
                        base["fields"][fkey] = dict(fspec)
                        field_sources[(ekey, fkey)] = "tenant"
            else:
                if "label" not in espec:
                    self.add(
                        "ENTITY_UNKNOWN",
                        f"entity '{ekey}' is not defined by an enabled plugin; "
                        "a new entity needs a label",
                        f"{ptr}",
                    )
                specs[ekey] = ("tenant", {**espec, "fields": dict(espec.get("fields") or {})})
                for fkey in specs[ekey][1]["fields"]:
                    field_sources[(ekey, fkey)] = "tenant"

        entities: dict[str, EntityDef] = {}
        plurals: dict[str, str] = {}
        for ekey, (source, espec) in specs.items():
            ptr = f"/entities/{ekey}"
            if not _KEY.match(ekey):
                self.add("KEY_INVALID", f"entity key '{ekey}' must match {_KEY.pattern}", ptr)
                continue
            plural = str(espec.get("plural") or f"{ekey}s")
            if plural == ekey:
                self.add(
                    "PLURAL_INVALID",
                    f"entity '{ekey}' needs a plural different from its key",
                    f"{ptr}/plural",
                )
            for other_key in (plural,):
                if other_key in plurals or (other_key in specs and other_key != ekey):
                    self.add(
                        "NAME_COLLISION",
                        f"plural '{plural}' of entity '{ekey}' collides with another entity",
                        f"{ptr}/plural",
                    )
            plurals[plural] = ekey
            fields = self._fields(ekey, espec.get("fields") or {}, field_sources, specs, ptr)
            title = espec.get("title_field")
            if title is not None and title not in fields:
                self.add(
                    "FIELD_UNKNOWN",
                    f"title_field '{title}' is not a field of '{ekey}'",
                    f"{ptr}/title_field",
                )
            label = dict(espec.get("label") or {"en": ekey})
            entities[ekey] = EntityDef(
                key=ekey,
                label=freeze(label),
                plural_label=freeze(dict(espec.get("plural_label") or label)),
                plural=plural,
                fields=MappingProxyType(fields),
                source=source,
                title_field=title,
                description=freeze(dict(espec.get("description") or {})),
                internal=bool(espec.get("internal", False)),
            )

        forms = self._forms(cfg.get("forms") or {}, entities)
        roles = {
            rkey: RoleDef(
                key=rkey,
                label=freeze(dict(rspec.get("label") or {"en": rkey})),
                permissions=freeze(dict(rspec.get("permissions") or {})),
            )
            for rkey, rspec in (cfg.get("roles") or {}).items()
        }
        if self.problems:
            raise ConfigInvalid(
                f"{len(self.problems.items)} problem(s) in tenant config", self.problems.items
            )
        plugin_set = [(c.name, c.version) for c in active]
        model = TenantModel(
            tenant=str(cfg.get("tenant", "")),
            name=freeze(dict(cfg.get("name") or {})),
            locales=locales,
            default_locale=default_locale,
            currency=str(cfg.get("currency", "USD")),
            timezone=str(cfg.get("timezone", "UTC")),
            country=cfg.get("country"),
            plugins=tuple(enabled),
            entities=MappingProxyType(entities),
            forms=MappingProxyType(forms),
            roles=MappingProxyType(roles),
            config=freeze(dict(cfg)),
            version_key=config_hash(cfg, plugin_set),
            settings=freeze(dict(cfg.get("settings") or {})),
            plugin_actions=frozenset(a for c in active for a in c.actions),
        )
        # Processes compile CEL, which needs the entities: built on the finished model.
        from core.workflow.definitions import build_processes

        processes, problems = build_processes(model, self.file)
        if problems:
            raise ConfigInvalid(f"{len(problems)} problem(s) in tenant config", problems)
        return dataclasses.replace(model, processes=processes)

    def _fields(
        self,
        ekey: str,
        fspecs: Mapping[str, Mapping[str, Any]],
        sources: Mapping[tuple[str, str], str],
        all_specs: Mapping[str, tuple[str, dict[str, Any]]],
        eptr: str,
    ) -> dict[str, FieldDef]:
        out: dict[str, FieldDef] = {}
        free_text = list(TEXT_SLOTS)
        free_num = list(NUMBER_SLOTS)
        for fkey, spec in fspecs.items():
            ptr = f"{eptr}/fields/{fkey}"
            if not _KEY.match(fkey):
                self.add("KEY_INVALID", f"field key '{fkey}' must match {_KEY.pattern}", ptr)
                continue
            if fkey in SYSTEM_FIELDS:
                self.add("KEY_RESERVED", f"'{fkey}' is a built-in field of every record", ptr)
                continue
            ftype = str(spec.get("type", ""))
            base_type: str | None = None
            if ftype in self.field_types:
                base_type = self.field_types[ftype][0]
            elif ftype not in FIELD_TYPES:
                self.add(
                    "FIELD_TYPE_UNKNOWN",
                    f"unknown field type '{ftype}' (known: {', '.join(FIELD_TYPES)})",
                    f"{ptr}/type",
                )
                continue
            value_type = base_type or ftype
            target = spec.get("target")
            if value_type in ("relation", "relation_list"):
                if not target:
                    self.add("RELATION_TARGET_MISSING", "a relation needs a 'target' entity", ptr)
                elif target not in all_specs:
                    self.add(
                        "RELATION_TARGET_UNKNOWN",
                        f"relation target '{target}' is not an entity of this tenant",
                        f"{ptr}/target",
                    )
            options = tuple(
                Option(str(o["value"]), freeze(dict(o.get("label") or {"en": str(o["value"])})))
                for o in spec.get("options") or ()
                if isinstance(o, Mapping) and "value" in o
            )
            if value_type in ("enum", "multi_enum"):
                values = [o.value for o in options]
                if not values:
                    self.add(
                        "OPTIONS_MISSING", "an enum needs at least one option", f"{ptr}/options"
                    )
                if len(set(values)) != len(values):
                    self.add(
                        "OPTIONS_DUPLICATE", "enum option values must be unique", f"{ptr}/options"
                    )
                for i, v in enumerate(values):
                    if not _KEY.match(v) or v in ("true", "false", "null"):
                        self.add(
                            "OPTION_INVALID",
                            f"option value '{v}' must match {_KEY.pattern} and not be true/false/null",
                            f"{ptr}/options/{i}/value",
                        )
            pattern = spec.get("pattern")
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    self.add(
                        "PATTERN_INVALID", f"pattern does not compile: {exc}", f"{ptr}/pattern"
                    )
            lo, hi = _decimal(spec.get("min")), _decimal(spec.get("max"))
            if lo is not None and hi is not None and lo > hi:
                self.add("RANGE_INVALID", f"min {lo} is greater than max {hi}", f"{ptr}/min")
            lmin, lmax = spec.get("min_length"), spec.get("max_length")
            if lmin is not None and lmax is not None and lmin > lmax:
                self.add(
                    "RANGE_INVALID",
                    f"min_length {lmin} is greater than max_length {lmax}",
                    f"{ptr}/min_length",
                )
            result_type = spec.get("result_type")
            if ftype == "computed":
                if not spec.get("expression"):
                    self.add("EXPRESSION_MISSING", "a computed field needs an 'expression'", ptr)
                if result_type not in _RESULT_TYPES:
                    self.add(
                        "RESULT_TYPE_INVALID",
                        f"result_type must be one of {sorted(_RESULT_TYPES)}",
                        f"{ptr}/result_type",
                    )
            slot: str | None = None
            if spec.get("indexed") or spec.get("unique"):
                pool = (
                    free_text
                    if value_type in _TEXT_SLOT_TYPES
                    else free_num
                    if value_type in _NUMBER_SLOT_TYPES
                    else None
                )
                if pool is None:
                    if spec.get("indexed"):
                        self.add(
                            "INDEX_UNSUPPORTED",
                            f"fields of type '{value_type}' cannot be indexed",
                            f"{ptr}/indexed",
                        )
                elif pool:
                    slot = pool.pop(0)
                elif spec.get("indexed"):
                    limit = len(TEXT_SLOTS) if pool is free_text else len(NUMBER_SLOTS)
                    self.add(
                        "INDEX_LIMIT",
                        f"entity '{ekey}' has more than {limit} indexed fields of this kind",
                        f"{ptr}/indexed",
                    )
            scale = spec.get("scale")
            out[fkey] = FieldDef(
                key=fkey,
                type=ftype,
                label=freeze(dict(spec.get("label") or {"en": fkey})),
                source=sources.get((ekey, fkey), "tenant"),
                help=freeze(dict(spec.get("help") or {})),
                required=bool(spec.get("required", False)),
                unique=bool(spec.get("unique", False)),
                indexed=bool(spec.get("indexed", False)),
                read_only=bool(spec.get("read_only", False)) or ftype == "computed",
                min=lo,
                max=hi,
                min_length=lmin,
                max_length=lmax,
                pattern=pattern,
                options=options,
                target=target,
                expression=spec.get("expression"),
                result_type=result_type,
                scale=int(scale) if scale is not None else None,
                default=freeze(spec.get("default")),
                slot=slot,
                base_type=base_type,
            )
        return out

    def _forms(
        self, specs: Mapping[str, Mapping[str, Any]], entities: Mapping[str, EntityDef]
    ) -> dict[str, FormDef]:
        forms: dict[str, FormDef] = {}
        for ekey, fspec in specs.items():
            ptr = f"/forms/{ekey}"
            entity = entities.get(ekey)
            if entity is None:
                self.add("ENTITY_UNKNOWN", f"form for unknown entity '{ekey}'", ptr)
                continue
            sections = []
            for si, sec in enumerate(fspec.get("sections") or ()):
                items = []
                for fi, item in enumerate(sec.get("fields") or ()):
                    spec = {"field": item} if isinstance(item, str) else dict(item)
                    if spec.get("field") not in entity.fields:
                        self.add(
                            "FIELD_UNKNOWN",
                            f"form names field '{spec.get('field')}', which '{ekey}' does not have",
                            f"{ptr}/sections/{si}/fields/{fi}",
                        )
                        continue
                    items.append(
                        FormField(
                            field=spec["field"],
                            widget=spec.get("widget"),
                            width=int(spec["width"]) if spec.get("width") is not None else None,
                            visible_when=spec.get("visible_when"),
                            required_when=spec.get("required_when"),
                        )
                    )
                sections.append(
                    FormSection(
                        key=str(sec.get("key") or f"section_{si}"),
                        label=freeze(dict(sec.get("label") or {})),
                        fields=tuple(items),
                        columns=int(sec.get("columns", 2)),
                    )
                )
            columns = tuple(fspec.get("list_columns") or ())
            for ci, col in enumerate(columns):
                if col not in entity.fields and col not in SYSTEM_FIELDS:
                    self.add(
                        "FIELD_UNKNOWN",
                        f"list column '{col}' is not a field of '{ekey}'",
                        f"{ptr}/list_columns/{ci}",
                    )
            forms[ekey] = FormDef(entity=ekey, sections=tuple(sections), list_columns=columns)
        return forms


def build_tenant_model(
    config: Mapping[str, Any],
    contributions: Mapping[str, PluginContribution],
    *,
    file: str | None = None,
) -> TenantModel:
    """Merge plugin contributions and a (schema-valid) tenant config.

    Raises :class:`ConfigInvalid` listing every semantic problem found.
    ``contributions`` holds every *installed* plugin; only those the config
    enables are merged.
    """
    return _Builder(config, contributions, file).build()
