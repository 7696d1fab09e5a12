"""Resolvers of a record's stored values, which the execution context reads directly."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from core.context import Record

__all__ = ["StoredValue", "SystemValue"]


class StoredValue:
    """Resolves a record's stored value of one field (small: one per field of a schema).

    The execution context recognises it and reads ``leaf_value`` directly for
    scalar and enum fields (see ``core.graphql.static``).
    """

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def leaf_value(self, rec: Record) -> Any:
        return rec.data.get(self.key)

    def __call__(self, rec: Record, _info: GraphQLResolveInfo) -> Any:
        return rec.data.get(self.key)


class SystemValue(StoredValue):
    """Resolves a record's own attribute (id, version, timestamps)."""

    __slots__ = ()

    def leaf_value(self, rec: Record) -> Any:
        return getattr(rec, self.key)

    def __call__(self, rec: Record, _info: GraphQLResolveInfo) -> Any:
        return getattr(rec, self.key)
