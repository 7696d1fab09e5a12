"""Plain resolvers: synchronous, side-effect free reads of the value being completed.

The execution context recognises them (see ``core.graphql.static`` and
``core.graphql.completion``) and reads ``value(source)`` directly, without a
resolve info, argument parsing or awaitable checks. Each is a small object with
``__slots__`` (one per field of a schema; a closure with attributes would cost
a ``__dict__`` each).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLResolveInfo

from core.context import Record

__all__ = ["ItemValue", "MethodValue", "PlainValue", "StoredValue", "SystemValue", "read_attr"]


def read_attr(obj: Any, name: str) -> Any:
    """The default resolver: service values (money, address, users, page info) are dicts."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name)


class PlainValue:
    """A resolver that only reads its source: ``value(source)`` is the field's value."""

    __slots__ = ()

    def value(self, source: Any) -> Any:
        raise NotImplementedError

    def __call__(self, source: Any, _info: GraphQLResolveInfo) -> Any:
        return self.value(source)


class StoredValue(PlainValue):
    """A record's stored value of one field."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def value(self, source: Record) -> Any:
        return source.data.get(self.key)


class SystemValue(StoredValue):
    """A record's own attribute (id, version, timestamps)."""

    __slots__ = ()

    def value(self, source: Record) -> Any:
        return getattr(source, self.key)


class ItemValue(PlainValue):
    """One item of a tuple (an edge is ``(cursor, record)``)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def value(self, source: Any) -> Any:
        return source[self.index]


class MethodValue(PlainValue):
    """The result of a method of the source taking no argument (``Connection.edges``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def value(self, source: Any) -> Any:
        return getattr(source, self.name)()
