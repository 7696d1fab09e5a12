"""The per-tenant GraphQL API (D7): a schema per TenantModel, cached by version."""

from __future__ import annotations

from core.graphql.context import GraphQLContext, RecordService
from core.graphql.limits import Limits
from core.graphql.registry import GraphQLContributions, SchemaRegistry
from core.graphql.schema import TenantSchema

__all__ = [
    "GraphQLContext",
    "GraphQLContributions",
    "Limits",
    "RecordService",
    "SchemaRegistry",
    "TenantSchema",
]
