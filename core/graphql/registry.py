"""One schema per tenant model, cached by ``version_key`` (D2, D7).

Identical models share one :class:`TenantSchema`. The static part is built
once per registry; a tenant build only makes the tenant's own types. The
cache is bounded (``TESSERA_TENANT_CACHE_SIZE``): the least recently used
schema beyond it is dropped and rebuilt on its tenant's next request.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from graphql import GraphQLField, GraphQLNamedType, GraphQLObjectType

from core.errors import BadRequest, Problem
from core.graphql.builder import build_tenant_schema
from core.graphql.limits import Limits
from core.graphql.schema import TenantSchema
from core.graphql.static import build_static_schema
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel

__all__ = [
    "CACHE_SIZE_VAR",
    "DEFAULT_CACHE_SIZE",
    "FREEZE_VAR",
    "GraphQLContributions",
    "SchemaRegistry",
    "cache_size_from_env",
    "freeze_builds_from_env",
]

#: How many tenants one process keeps ready: their models and their schemas.
CACHE_SIZE_VAR = "TESSERA_TENANT_CACHE_SIZE"
#: A process serving 1,000 generated tenants, all cached, holds 838 MiB
#: (docs/performance.md, P5): 1,500 fit the 1.5 GiB target. 256 made such a
#: process rebuild on three requests in four.
DEFAULT_CACHE_SIZE = 1500
#: ``0`` stops a server freezing what schema builds leave alive (see ``freeze_builds``).
FREEZE_VAR = "TESSERA_GC_FREEZE"


def cache_size_from_env(env: Mapping[str, str] | None = None) -> int:
    """``TESSERA_TENANT_CACHE_SIZE`` (a whole number ≥ 1), or the default when unset."""
    raw = (os.environ if env is None else env).get(CACHE_SIZE_VAR, "")
    if not raw.strip():
        return DEFAULT_CACHE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise BadRequest(
            f"{CACHE_SIZE_VAR} must be a whole number of tenants, at least 1 (got {raw!r})",
            [Problem("TENANT_CACHE_SIZE", f"not a whole number ≥ 1: {raw!r}", CACHE_SIZE_VAR)],
        )
    return size


def freeze_builds_from_env(env: Mapping[str, str] | None = None) -> bool:
    """``TESSERA_GC_FREEZE``: on unless ``0``, ``false`` or ``no``."""
    raw = (os.environ if env is None else env).get(FREEZE_VAR, "1")
    return raw.strip().lower() not in ("0", "false", "no")


class GraphQLContributions(Protocol):
    """Where plugin root fields come from (core.plugins.PluginHost)."""

    def graphql_actions(self, model: TenantModel) -> list[GraphQLContribution]: ...

    def graphql_reports(self, model: TenantModel) -> list[GraphQLContribution]: ...


class SchemaRegistry:
    """Builds and caches tenant schemas; one per process (it owns the static schema)."""

    def __init__(
        self,
        plugin_contributions_for_graphql: GraphQLContributions | None = None,
        limits: Limits = Limits(),  # noqa: B008 - frozen, immutable default
        max_schemas: int | None = None,
    ) -> None:
        self.plugins = plugin_contributions_for_graphql
        self.limits = limits
        #: Schemas kept (one per model, and per role set that hides fields); the
        #: least recently used beyond it are dropped. Default: ``TESSERA_TENANT_CACHE_SIZE``.
        self.max_schemas = cache_size_from_env() if max_schemas is None else max_schemas
        if self.max_schemas < 1:
            raise ValueError(f"max_schemas must be at least 1 (got {self.max_schemas})")
        self.static = build_static_schema()
        type_map = self.static._schema.type_map
        self._query: GraphQLObjectType = type_map["Query"]  # type: ignore[assignment]
        mutation = self.static._schema.mutation_type
        assert mutation is not None
        self._mutation: GraphQLObjectType = mutation
        self._shared: Mapping[str, GraphQLNamedType] = {
            name: t
            for name, t in type_map.items()
            if not name.startswith("__") and name not in ("Query", mutation.name)
        }
        self._schemas: OrderedDict[str, TenantSchema] = OrderedDict()
        #: Set by a serving process once it has started (core.http): what each build
        #: leaves alive is frozen (``gc.freeze``), so the collector's full passes never
        #: walk the schemas again. Without it a process holding 1,000 tenants (~4
        #: million objects) stops for seconds at each full collection.
        self.freeze_builds = False
        #: Frozen schemas dropped since the last thaw: their memory stays until the
        #: next thaw (``gc.unfreeze``) lets one full collection take them back.
        self.dropped_frozen = 0
        self.thaw_after = max(32, self.max_schemas // 16)

    def _convert(self, field: Any) -> GraphQLField:
        # Plugin fields are strawberry fields: strawberry's converter keeps their
        # argument conversion, Info and error handling.
        return self.static.schema_converter.from_field(field)

    def get(
        self, model: TenantModel, hidden: Mapping[str, frozenset[str]] | None = None
    ) -> TenantSchema:
        """The schema of ``model`` — without the ``hidden`` fields, for a role set that
        cannot read them — built on first use (least recently used are dropped)."""
        key = model.version_key
        if hidden:
            parts = sorted(f"{e}.{f}" for e, fields in hidden.items() for f in fields)
            key = f"{key}:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        schema = self._schemas.get(key)
        if schema is not None:
            self._schemas.move_to_end(key)
            return schema
        schema = self._build(model, hidden)
        self._schemas[key] = schema
        if len(self._schemas) > self.max_schemas:
            self._schemas.popitem(last=False)
            if self.freeze_builds:
                self.dropped_frozen += 1
        if self.freeze_builds:
            self._freeze()
        return schema

    def _freeze(self) -> None:
        """Collect what is not frozen yet (little: what came since the last build), then
        freeze what lives. Dropped frozen schemas are reference cycles the collector
        no longer sees; every :attr:`thaw_after` of them, everything is thawed and
        this one collection walks the whole heap to take them back."""
        if self.dropped_frozen >= self.thaw_after:
            gc.unfreeze()
            self.dropped_frozen = 0
        gc.collect()
        gc.freeze()

    def _build(
        self, model: TenantModel, hidden: Mapping[str, frozenset[str]] | None = None
    ) -> TenantSchema:
        reports = self.plugins.graphql_reports(model) if self.plugins else []
        actions = self.plugins.graphql_actions(model) if self.plugins else []
        # A build allocates many small objects; collecting midway only costs time.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            graphql_schema = build_tenant_schema(
                model,
                self._shared,
                self._query,
                self.limits,
                self._convert,
                reports,
                actions,
                static_mutation=self._mutation,
                hidden=hidden,
            )
            return TenantSchema(self.static, graphql_schema, model.version_key, self.limits)
        finally:
            if was_enabled:
                gc.enable()
