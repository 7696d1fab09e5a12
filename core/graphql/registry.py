"""One schema per tenant model, cached by ``version_key`` (D2, D7).

Identical models share one :class:`TenantSchema`. The static part is built
once per registry; a tenant build only makes the tenant's own types.
"""

from __future__ import annotations

import gc
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from graphql import GraphQLField, GraphQLNamedType, GraphQLObjectType

from core.graphql.builder import build_tenant_schema
from core.graphql.limits import Limits
from core.graphql.schema import TenantSchema
from core.graphql.static import build_static_schema
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel

__all__ = ["GraphQLContributions", "SchemaRegistry"]

_MAX_SCHEMAS = 256


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
        max_schemas: int = _MAX_SCHEMAS,
    ) -> None:
        self.plugins = plugin_contributions_for_graphql
        self.limits = limits
        self.max_schemas = max_schemas
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
        return schema

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
