"""Compiled completion of selection sets that only read plain data.

graphql-core completes a value field by field: for each field of each object it
builds a path, a resolve info, parses arguments, calls the resolver, checks for
awaitables and recurses. A list page of 50 records with a dozen fields is ~700
such steps per request, most of the CPU of a list query.

Most of those fields only read their source: a record's stored values, an
edge's cursor and node, a connection's edges, money and address parts. Their
resolvers are :class:`~core.graphql.leaves.PlainValue` objects or strawberry's
basic fields. For a selection made only of such fields, a *plan* is compiled
once per (document, type, selection) and then completes a whole value — a page,
with every edge and node — in one tight loop of dictionary builds.

A plan gives exactly graphql-core's answer or none: anything unusual while
running it (a missing non-null value, a value a scalar refuses, a wrong shape)
abandons the plan for that value and graphql-core completes it again from the
start, reporting errors as usual. Plans are pure reads, so running twice is
safe. Selections with arguments, directives (``@include``/``@skip`` depend on
variables), abstract types or resolvers that do real work (relations, counts)
are not planned; their parents fall back, and their plain children are still
planned when graphql-core reaches them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
)

from core.graphql.leaves import PlainValue, read_attr

__all__ = ["Completer", "PlanCache", "plain_getter"]

Completer = Callable[[Any], Any]
Getter = Callable[[Any], Any]

#: Plans kept per schema; a tenant's screens use a few dozen documents.
_CACHE_SIZE = 2048


class Abandon(Exception):
    """A plan met something it does not handle; graphql-core completes the value."""


def plain_getter(field: GraphQLField) -> Getter | None:
    """How to read a field without graphql-core, if its resolver only reads."""
    resolve = field.resolve
    if isinstance(resolve, PlainValue):
        return resolve.value
    # strawberry's resolver of a field without a resolver function, exception
    # handlers or extensions ("basic" fields: Money.amount, PageInfo.endCursor...).
    if not getattr(resolve, "_is_default", False):
        return None
    definition = field.extensions.get("strawberry-definition")
    if (
        definition is not None
        and definition.base_resolver is None
        and definition.default_resolver is read_attr
    ):
        name = definition.python_name

        def read(source: Any) -> Any:
            # read_attr, without its abstract-class check for the usual plain dict.
            return source.get(name) if type(source) is dict else read_attr(source, name)

        return read
    return resolve  # type: ignore[no-any-return]


def _leaf(leaf: GraphQLScalarType | GraphQLEnumType) -> Completer:
    coerce = leaf.coerce_output_value if hasattr(leaf, "coerce_output_value") else leaf.serialize
    # Strings and ids serialise a str as itself.
    text = leaf is GraphQLString or leaf is GraphQLID

    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if text and type(value) is str:
            return value
        out = coerce(value)
        if out is None or out is Undefined:
            raise Abandon
        return out

    return complete


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        out = inner(value)
        if out is None:
            raise Abandon
        return out

    return complete


def _list(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, list | tuple):
            raise Abandon
        return [inner(item) for item in value]

    return complete


def _constant(value: str) -> Getter:
    return lambda _source: value


def _same(value: Any) -> Any:
    return value


def _object(entries: tuple[tuple[str, Getter, Completer], ...]) -> Completer:
    def complete(source: Any) -> Any:
        if source is None or source is Undefined:
            return None
        if isinstance(source, Exception):
            raise Abandon
        return {name: finish(get(source)) for name, get, finish in entries}

    return complete


def _has_directives(selection_set: SelectionSetNode | None, fragments: dict[str, Any]) -> bool:
    """Whether collecting this selection could depend on variables."""
    if selection_set is None:
        return False
    for node in selection_set.selections:
        if node.directives:
            return True
        if isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is None or fragment.directives:
                return True
            if _has_directives(fragment.selection_set, fragments):
                return True
        elif isinstance(node, InlineFragmentNode | FieldNode):
            if _has_directives(node.selection_set, fragments):
                return True
    return False


class PlanCache:
    """Compiled plans of one schema, keyed by the type and the selection's AST nodes.

    Documents are parsed once and cached (``OperationCache``), so the same
    query reaches the same nodes every time. An entry keeps its nodes alive,
    so their ids cannot be reused by another document while it is cached.
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._plans: dict[tuple[Any, ...], tuple[tuple[FieldNode, ...], Completer | None]] = {}

    def get(self, executor: Any, return_type: GraphQLOutputType, details: Any) -> Completer | None:
        nodes = tuple(d.node for d in details)
        key = (return_type, *map(id, nodes))
        found = self._plans.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], nodes, strict=True)):
            return found[1]
        plan = _Compiler(executor).compile(return_type, details)
        if len(self._plans) >= self.size:
            self._plans.clear()
        self._plans[key] = (nodes, plan)
        return plan


class _Compiler:
    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def compile(self, return_type: GraphQLOutputType, details: Any) -> Completer | None:
        fragments = self.executor.fragment_definitions
        if any(_has_directives(d.node.selection_set, fragments) for d in details):
            return None
        return self._type(return_type, details)

    def _type(self, t: GraphQLOutputType, details: Any) -> Completer | None:
        if isinstance(t, GraphQLNonNull):
            inner = self._type(t.of_type, details)
            return _non_null(inner) if inner is not None else None
        if isinstance(t, GraphQLList):
            inner = self._type(t.of_type, details)
            return _list(inner) if inner is not None else None
        if isinstance(t, GraphQLScalarType | GraphQLEnumType):
            return _leaf(t)
        if isinstance(t, GraphQLObjectType) and t.is_type_of is None:
            return self._object(t, details)
        return None  # interfaces and unions: graphql-core resolves the runtime type

    def _object(self, t: GraphQLObjectType, details: Any) -> Completer | None:
        grouped, defer_usages, *_ = self.executor.collect_subfields(t, details)
        if defer_usages:
            return None
        entries: list[tuple[str, Getter, Completer]] = []
        for name, field_details in _items(grouped):
            node: FieldNode = field_details[0].node
            field_name = node.name.value
            if field_name == "__typename":
                entries.append((name, _constant(t.name), _same))
                continue
            field = t.fields.get(field_name)
            if field is None or field.args or node.arguments:
                return None
            get = plain_getter(field)
            if get is None:
                return None
            finish = self._type(field.type, field_details)
            if finish is None:
                return None
            entries.append((name, get, finish))
        return _object(tuple(entries))


def _items(grouped: Any) -> Iterable[tuple[str, Any]]:
    return grouped.items()  # type: ignore[no-any-return]
