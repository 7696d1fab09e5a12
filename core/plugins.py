"""The plugin host: the only caller of pluggy (D4).

Each plugin is loaded, checked and registered on its own, so a broken plugin
is reported in :attr:`PluginHost.failures` and skipped rather than stopping
the process. Hooks run in an explicit order (manifest ``order``, then name)
and only for the plugins a tenant enables; the host calls each implementation
itself instead of relying on pluggy's last-registered-first order.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import jsonschema
import pluggy
from litestar import Router
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from core import hookspecs
from core.context import CallContext, Operation, Record
from core.errors import PluginError, Problem, TesseraError, ValidationFailed
from core.hookspecs import (
    AutomationActionSpec,
    FieldTypeSpec,
    GraphQLContribution,
    JobSpec,
    TemplateSpec,
)
from core.metadata import FIELD_TYPES, PluginContribution, TenantModel

__all__ = [
    "CORE_VERSION",
    "DEFAULT_ORDER",
    "ENTRY_POINT_GROUP",
    "PluginFailure",
    "PluginHost",
    "enablement_guard",
    "read_manifest",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tessera"
DEFAULT_ORDER = 500
_MANIFEST_FILE = "manifest.json"
_MANIFEST_SCHEMA = "plugin-manifest.schema.json"


def _core_version() -> str:
    try:
        return importlib.metadata.version("tessera-crm")
    except importlib.metadata.PackageNotFoundError:
        # A source checkout that was never installed: the version in pyproject.toml.
        return "0.1.0"


#: The version plugin manifests' ``core_version`` specifiers are checked against.
CORE_VERSION = _core_version()


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be loaded, and why; it is not registered."""

    name: str
    error: str
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class _Plugin:
    """A registered plugin with everything its declarative hooks returned."""

    name: str
    obj: object
    manifest: Mapping[str, Any]
    order: int
    contribution: PluginContribution
    field_types: Mapping[str, FieldTypeSpec]
    jobs: tuple[JobSpec, ...]
    templates: tuple[TemplateSpec, ...]
    routes: tuple[Any, ...]
    actions: tuple[AutomationActionSpec, ...] = ()

    @property
    def requires(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("requires", ()))


class _Rejected(Exception):
    """Raised while loading one plugin; becomes its :class:`PluginFailure`."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


# -- manifests ----------------------------------------------------------------


def _schema_text() -> str:
    # A source checkout keeps schemas/ next to core/; an installed wheel ships
    # the same files as package data under core/_schemas/.
    checkout = Path(__file__).resolve().parent.parent / "schemas" / _MANIFEST_SCHEMA
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    return resources.files("core").joinpath("_schemas", _MANIFEST_SCHEMA).read_text("utf-8")


@functools.cache
def _manifest_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(_schema_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def read_manifest(plugin: object) -> Mapping[str, Any]:
    """The manifest of a plugin: ``manifest.json`` of its package, or ``TESSERA_MANIFEST``.

    Raises :class:`PluginError` when there is none or it is not a JSON object.
    """
    declared = getattr(plugin, "TESSERA_MANIFEST", None)
    if isinstance(declared, Mapping):
        return declared
    if isinstance(plugin, ModuleType) and hasattr(plugin, "__path__"):
        try:
            text = resources.files(plugin.__name__).joinpath(_MANIFEST_FILE).read_text("utf-8")
        except FileNotFoundError:
            raise PluginError(f"package '{plugin.__name__}' has no {_MANIFEST_FILE}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PluginError(
                f"{plugin.__name__}/{_MANIFEST_FILE} is not valid JSON: {exc}",
                [Problem("JSON_SYNTAX", str(exc), "", _MANIFEST_FILE)],
            ) from None
        if not isinstance(doc, dict):
            raise PluginError(f"{plugin.__name__}/{_MANIFEST_FILE} must be a JSON object")
        return doc
    raise PluginError(
        f"{plugin!r} has no manifest: a package needs {_MANIFEST_FILE}, "
        "any other object a TESSERA_MANIFEST mapping"
    )


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _schema_problems(manifest: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    errors = sorted(_manifest_validator().iter_errors(manifest), key=lambda e: list(e.path))
    for err in errors:
        code = f"SCHEMA_{str(err.validator).upper()}"
        where = list(err.absolute_path)
        # Point at the missing or unexpected property itself, not at its parent.
        if err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            problems += [
                Problem(code, err.message, _pointer([*where, k]), _MANIFEST_FILE) for k in missing
            ]
        elif err.validator == "additionalProperties":
            known = err.schema.get("properties", {})
            extra = [k for k in err.instance if k not in known]
            problems += [
                Problem(code, f"unexpected property '{k}'", _pointer([*where, k]), _MANIFEST_FILE)
                for k in extra
            ]
        else:
            problems.append(Problem(code, err.message, _pointer(where), _MANIFEST_FILE))
    return problems


def _manifest_problems(manifest: Mapping[str, Any], core_version: str) -> list[Problem]:
    problems = _schema_problems(manifest)
    if problems:
        return problems
    try:
        spec = SpecifierSet(manifest["core_version"])
    except InvalidSpecifier:
        return [
            Problem(
                "CORE_VERSION_INVALID",
                f"'{manifest['core_version']}' is not a PEP 440 version specifier",
                "/core_version",
                _MANIFEST_FILE,
            )
        ]
    if not spec.contains(Version(core_version), prereleases=True):
        return [
            Problem(
                "CORE_VERSION_INCOMPATIBLE",
                f"needs core {spec}, this is core {core_version}",
                "/core_version",
                _MANIFEST_FILE,
            )
        ]
    return []


# -- the host -------------------------------------------------------------------


class PluginHost:
    """Loads plugins and calls their hooks in order, per tenant."""

    def __init__(self, core_version: str = CORE_VERSION) -> None:
        self.core_version = core_version
        self.failures: list[PluginFailure] = []
        self._pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self._pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, _Plugin] = {}
        self._ordered: tuple[_Plugin, ...] = ()

    @classmethod
    def from_entry_points(
        cls,
        group: str = ENTRY_POINT_GROUP,
        extra: Iterable[object] = (),
        *,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
        core_version: str = CORE_VERSION,
    ) -> PluginHost:
        """Load every plugin of the entry-point ``group``, then the ``extra`` objects.

        ``entry_points`` replaces the installed ones (tests use it). A plugin
        that fails to import, has an invalid or incompatible manifest, a
        misspelt hook, or needs a plugin that is not loaded, is recorded in
        ``failures`` and skipped.
        """
        host = cls(core_version)
        eps = importlib.metadata.entry_points(group=group) if entry_points is None else entry_points
        for ep in sorted(eps, key=lambda e: e.name):
            try:
                obj = ep.load()
            except Exception as exc:
                host._fail(ep.name, f"import of '{ep.value}' failed: {type(exc).__name__}: {exc}")
                continue
            host._add(obj, ep.name)
        for obj in extra:
            host._add(obj, None)
        host._drop_unmet_requirements()
        return host

    # -- loading ------------------------------------------------------------

    def _fail(self, name: str, error: str, problems: Iterable[Problem] = ()) -> None:
        log.warning("plugin '%s' skipped: %s", name, error)
        self.failures.append(PluginFailure(name, error, tuple(problems)))

    def _add(self, obj: object, expected_name: str | None) -> None:
        label = expected_name or str(getattr(obj, "__name__", None) or repr(obj))
        try:
            manifest = read_manifest(obj)
        except PluginError as exc:
            self._fail(label, exc.message, exc.problems)
            return
        name = str(manifest.get("name") or label)
        problems = _manifest_problems(manifest, self.core_version)
        if problems:
            self._fail(
                expected_name or name, f"invalid manifest: {problems[0].located()}", problems
            )
            return
        if expected_name is not None and name != expected_name:
            self._fail(
                expected_name,
                f"the manifest names the plugin '{name}' but its entry point is '{expected_name}'",
            )
            return
        loaded = self._plugins.get(name)
        if loaded is not None and loaded.obj is obj:
            return  # the same plugin offered twice (entry point and extra): nothing to do
        if loaded is not None or self._pm.get_plugin(name) is not None:
            self._fail(name, f"a plugin named '{name}' is already loaded")
            return
        try:
            self._check_markers(obj)
            self._pm.register(obj, name=name)
        except (_Rejected, pluggy.PluginValidationError, ValueError) as exc:
            self._fail(name, str(exc), getattr(exc, "problems", ()))
            return
        try:
            self._pm.check_pending()
            self._check_no_wrappers(name)
            plugin = self._describe(name, obj, manifest)
        except (_Rejected, pluggy.PluginValidationError) as exc:
            self._pm.unregister(obj)
            self._fail(name, str(exc), getattr(exc, "problems", ()))
            return
        self._plugins[name] = plugin
        self._reorder()

    @staticmethod
    def _check_markers(obj: object) -> None:
        # An undecorated ``tessera_*`` function would be silently ignored by pluggy.
        marker = f"{ENTRY_POINT_GROUP}_impl"
        for attr in dir(obj):
            value = getattr(obj, attr, None)
            if attr.startswith("tessera_") and callable(value) and not hasattr(value, marker):
                raise _Rejected(f"'{attr}' is not decorated with @hookimpl")

    def _check_no_wrappers(self, name: str) -> None:
        for impl in self._impls_of(name):
            if impl.wrapper or impl.hookwrapper:
                raise _Rejected(
                    f"'{impl.function.__name__}' is a hook wrapper; "
                    "use the manifest 'order' to run before or after other plugins"
                )

    def _impls_of(self, name: str) -> list[pluggy.HookImpl]:
        return [
            impl
            for caller in self._pm.get_hookcallers(self._pm.get_plugin(name)) or ()
            for impl in caller.get_hookimpls()
            if impl.plugin_name == name
        ]

    def _declared(self, name: str, hook: str) -> list[Any]:
        """Results of one plugin's declarative hook; awaitables are refused."""
        out: list[Any] = []
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name != name:
                continue
            try:
                result = _call(impl, {})
            except Exception as exc:
                raise _Rejected(f"{hook} raised {type(exc).__name__}: {exc}") from exc
            if inspect.isawaitable(result):
                _discard(result)
                raise _Rejected(f"{hook} must return its value, not an awaitable")
            if result is not None:
                out.append(result)
        return out

    def _describe(self, name: str, obj: object, manifest: Mapping[str, Any]) -> _Plugin:
        entities: dict[str, Mapping[str, Any]] = {}
        for result in self._declared(name, "tessera_entities"):
            if not isinstance(result, Mapping) or not all(
                isinstance(v, Mapping) for v in result.values()
            ):
                raise _Rejected("tessera_entities must return a mapping of entity specs")
            entities.update(result)
        missing = set(manifest.get("entities", ())) - set(entities)
        if missing:
            raise _Rejected(
                f"the manifest lists entities {sorted(missing)} that tessera_entities "
                "does not return"
            )
        settings_schema = manifest.get("settings")
        if settings_schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(settings_schema)
            except jsonschema.SchemaError as exc:
                raise _Rejected(
                    f"the manifest's settings schema is invalid: {exc.message}"
                ) from None
        field_types: dict[str, FieldTypeSpec] = {}
        for result in self._declared(name, "tessera_field_types"):
            if not isinstance(result, Mapping):
                raise _Rejected("tessera_field_types must return a mapping")
            for tname, spec in result.items():
                self._check_field_type(name, tname, spec)
                field_types[tname] = spec
        jobs = self._listed(name, "tessera_jobs", JobSpec)
        templates = self._listed(name, "tessera_document_templates", TemplateSpec)
        actions = tuple(
            dataclasses.replace(a, plugin=name)
            for a in self._listed(name, "tessera_automation_actions", AutomationActionSpec)
        )
        routes = tuple(r for result in self._declared(name, "tessera_http_routes") for r in result)
        return _Plugin(
            name=name,
            obj=obj,
            manifest=MappingProxyType(dict(manifest)),
            order=int(manifest.get("order", DEFAULT_ORDER)),
            contribution=PluginContribution(
                name=name,
                version=str(manifest["version"]),
                entities=MappingProxyType(entities),
                field_types=MappingProxyType({t: s.base for t, s in field_types.items()}),
                actions=frozenset(f"{name}.{a.name}" for a in actions),
                settings_schema=manifest.get("settings"),
            ),
            field_types=MappingProxyType(field_types),
            jobs=tuple(dataclasses.replace(j, plugin=name) for j in jobs),
            templates=tuple(dataclasses.replace(t, plugin=name) for t in templates),
            routes=routes,
            actions=actions,
        )

    def _check_field_type(self, name: str, tname: str, spec: object) -> None:
        if not isinstance(spec, FieldTypeSpec):
            raise _Rejected(f"field type '{tname}' must be a FieldTypeSpec")
        if tname in FIELD_TYPES:
            raise _Rejected(f"field type '{tname}' is a built-in type")
        if spec.base not in FIELD_TYPES or spec.base == "computed":
            raise _Rejected(f"field type '{tname}' refines unknown base type '{spec.base}'")
        for other in self._plugins.values():
            if tname in other.field_types:
                raise _Rejected(f"field type '{tname}' is already defined by '{other.name}'")

    def _listed(self, name: str, hook: str, kind: type) -> list[Any]:
        items = [item for result in self._declared(name, hook) for item in result]
        for item in items:
            if not isinstance(item, kind):
                raise _Rejected(f"{hook} must return {kind.__name__} items, got {item!r}")
        return items

    def _drop_unmet_requirements(self) -> None:
        # Dropping one plugin may leave another without its requirement: repeat.
        changed = True
        while changed:
            changed = False
            for plugin in list(self._ordered):
                missing = [r for r in plugin.requires if r not in self._plugins]
                if missing:
                    self._remove(plugin, f"requires plugin(s) that are not loaded: {missing}")
                    changed = True
                    continue
                provided = {
                    key
                    for r in plugin.requires
                    for key in self._plugins[r].manifest.get("entities", ())
                }
                own = set(plugin.manifest.get("entities", ()))
                foreign = set(plugin.contribution.entities) - own - provided
                if foreign:
                    self._remove(
                        plugin,
                        f"extends entities {sorted(foreign)} that neither it nor a required "
                        "plugin defines",
                    )
                    changed = True

    def _remove(self, plugin: _Plugin, error: str) -> None:
        self._pm.unregister(plugin.obj)
        del self._plugins[plugin.name]
        self._reorder()
        self._fail(plugin.name, error)

    def _reorder(self) -> None:
        self._ordered = tuple(sorted(self._plugins.values(), key=lambda p: (p.order, p.name)))

    # -- what is installed ----------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Loaded plugins in hook order."""
        return [p.name for p in self._ordered]

    @property
    def manifests(self) -> dict[str, Mapping[str, Any]]:
        return {p.name: p.manifest for p in self._ordered}

    def contributions(self) -> dict[str, PluginContribution]:
        """What every loaded plugin contributes to tenant models."""
        return {p.name: p.contribution for p in self._ordered}

    def requirement_problems(self, enabled: Sequence[str]) -> list[Problem]:
        """Problems of a tenant's ``plugins`` list: a plugin enabled without what it requires."""
        problems: list[Problem] = []
        for i, name in enumerate(enabled):
            plugin = self._plugins.get(name)
            for needed in plugin.requires if plugin else ():
                if needed not in enabled:
                    problems.append(
                        Problem(
                            "PLUGIN_REQUIRES",
                            f"plugin '{name}' needs plugin '{needed}' enabled too",
                            f"/plugins/{i}",
                        )
                    )
        return problems

    def _enabled(self, enabled: Collection[str]) -> list[_Plugin]:
        return [p for p in self._ordered if p.name in enabled]

    # -- stage hooks (D3) -----------------------------------------------------

    async def _run(self, hook: str, enabled: Collection[str], **kwargs: Any) -> None:
        by_plugin: dict[str, list[pluggy.HookImpl]] = {}
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            by_plugin.setdefault(impl.plugin_name, []).append(impl)
        for plugin in self._enabled(enabled):
            for impl in by_plugin.get(plugin.name, ()):
                try:
                    result = _call(impl, kwargs)
                    if inspect.isawaitable(result):
                        await result
                except TesseraError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin '{plugin.name}' failed in {hook}: {type(exc).__name__}: {exc}",
                        [Problem("PLUGIN_ERROR", str(exc) or type(exc).__name__)],
                    ) from exc

    async def pre_validate(self, ctx: CallContext, operation: Operation) -> None:
        """Check plugin field types, then run ``tessera_pre_validate`` of enabled plugins."""
        self._check_field_types(ctx, operation)
        await self._run("tessera_pre_validate", ctx.model.plugins, ctx=ctx, operation=operation)

    async def pre_operation(self, ctx: CallContext, operation: Operation) -> None:
        await self._run("tessera_pre_operation", ctx.model.plugins, ctx=ctx, operation=operation)

    async def post_operation(self, ctx: CallContext, operation: Operation, record: Record) -> None:
        await self._run(
            "tessera_post_operation",
            ctx.model.plugins,
            ctx=ctx,
            operation=operation,
            record=record,
        )

    async def plugin_event(self, ctx: CallContext, event: str, payload: Mapping[str, Any]) -> None:
        """Tell the enabled plugins about a business event (``tessera_plugin_event``)."""
        await self._run(
            "tessera_plugin_event", ctx.model.plugins, ctx=ctx, event=event, payload=payload
        )

    async def message_refusals(
        self,
        ctx: CallContext,
        channel: str,
        recipients: Sequence[str],
        entity: str,
        record: Record,
    ) -> dict[str, str]:
        """Recipient -> reason, for those an enabled plugin says refuse ``channel``.

        Every enabled plugin is asked (in hook order); the first reason given for a
        recipient is kept. A plugin that fails refuses the write, like a stage hook.
        """
        refused: dict[str, str] = {}
        if not recipients:
            return refused
        by_plugin: dict[str, list[pluggy.HookImpl]] = {}
        for impl in self._pm.hook.tessera_message_refusals.get_hookimpls():
            by_plugin.setdefault(impl.plugin_name, []).append(impl)
        kwargs = {
            "ctx": ctx,
            "channel": channel,
            "recipients": list(recipients),
            "entity": entity,
            "record": record,
        }
        for plugin in self._enabled(ctx.model.plugins):
            for impl in by_plugin.get(plugin.name, ()):
                try:
                    result = _call(impl, kwargs)
                    if inspect.isawaitable(result):
                        result = await result
                except TesseraError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin '{plugin.name}' failed in tessera_message_refusals: "
                        f"{type(exc).__name__}: {exc}",
                        [Problem("PLUGIN_ERROR", str(exc) or type(exc).__name__)],
                    ) from exc
                for recipient, reason in (result or {}).items():
                    refused.setdefault(str(recipient), str(reason))
        return refused

    async def after_commit(
        self, enabled: Sequence[str], tenant: str, topic: str, payload: Mapping[str, Any]
    ) -> None:
        """Deliver one outbox event to the enabled plugins; raises so the worker retries."""
        await self._run(
            "tessera_after_commit", enabled, tenant=tenant, topic=topic, payload=payload
        )

    def _check_field_types(self, ctx: CallContext, operation: Operation) -> None:
        entity = ctx.model.entities.get(operation.entity)
        if entity is None:
            return
        validators: dict[str, tuple[str, Callable[[Any], str | None]]] = {
            tname: (p.name, spec.validate)
            for p in self._enabled(ctx.model.plugins)
            for tname, spec in p.field_types.items()
        }
        problems: list[Problem] = []
        for key, value in operation.values.items():
            f = entity.fields.get(key)
            if f is None or value is None or f.type not in validators:
                continue
            owner, validate = validators[f.type]
            try:
                message = validate(value)
            except Exception as exc:
                raise PluginError(
                    f"plugin '{owner}' failed validating field type '{f.type}': {exc}",
                    [Problem("PLUGIN_ERROR", str(exc) or type(exc).__name__, f.graphql_name)],
                ) from exc
            if message:
                problems.append(Problem("FORMAT", message, f.graphql_name))
        if problems:
            raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)

    # -- GraphQL, jobs, templates, routes ------------------------------------

    def _graphql(self, hook: str, model: TenantModel) -> list[GraphQLContribution]:
        out: list[GraphQLContribution] = []
        for plugin in self._enabled(model.plugins):
            for impl in getattr(self._pm.hook, hook).get_hookimpls():
                if impl.plugin_name != plugin.name:
                    continue
                result = _call(impl, {"model": model})
                if inspect.isawaitable(result):
                    _discard(result)
                    raise PluginError(f"plugin '{plugin.name}': {hook} must not be async")
                for item in result or ():
                    if not isinstance(item, GraphQLContribution):
                        raise PluginError(
                            f"plugin '{plugin.name}': {hook} must return GraphQLContribution items"
                        )
                    out.append(dataclasses.replace(item, plugin=plugin.name))
        return out

    def graphql_actions(self, model: TenantModel) -> list[GraphQLContribution]:
        """Mutations of the plugins ``model`` enables, in hook order."""
        return self._graphql("tessera_graphql_actions", model)

    def graphql_reports(self, model: TenantModel) -> list[GraphQLContribution]:
        """Queries of the plugins ``model`` enables, in hook order."""
        return self._graphql("tessera_graphql_reports", model)

    def jobs(self, enabled: Collection[str]) -> list[JobSpec]:
        return [job for p in self._enabled(enabled) for job in p.jobs]

    def automation_action(self, name: str) -> AutomationActionSpec | None:
        """The automation action ``<plugin>.<name>``, if that plugin is loaded."""
        plugin, _, local = name.partition(".")
        found = self._plugins.get(plugin)
        if found is None:
            return None
        return next((a for a in found.actions if a.name == local), None)

    def templates(self, enabled: Collection[str]) -> list[TemplateSpec]:
        return [t for p in self._enabled(enabled) for t in p.templates]

    def http_routes(self, guards: Sequence[Any] = ()) -> list[Router]:
        """One router per plugin with routes, at ``/t/{tenant}/x/<plugin>``.

        Each router carries ``opt["tessera_plugin"]``; pass
        :func:`enablement_guard` (after authentication) so a tenant reaches
        only the routes of the plugins it enables.
        """
        return [
            Router(
                path=f"/t/{{tenant:str}}/x/{p.name}",
                route_handlers=list(p.routes),
                guards=list(guards),
                opt={"tessera_plugin": p.name},
            )
            for p in self._ordered
            if p.routes
        ]


def enablement_guard(
    enabled_plugins: Callable[[str], Awaitable[Collection[str]]],
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A litestar guard: 404 unless the URL's tenant enables the route's plugin.

    ``enabled_plugins(tenant)`` returns the plugin names the tenant enables.
    """

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        plugin = handler.opt.get("tessera_plugin")
        tenant = str(connection.path_params.get("tenant", ""))
        if plugin is None or plugin not in await enabled_plugins(tenant):
            raise NotFoundException()

    return guard


def _call(impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> Any:
    # pluggy's own calling convention: positional, only the arguments the impl names.
    return impl.function(*(kwargs[arg] for arg in impl.argnames))


def _discard(awaitable: Awaitable[Any]) -> None:
    # Close a coroutine we refuse, so Python does not warn it was never awaited.
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
