"""A tenant's schema: strawberry's execution pipeline on a per-tenant GraphQLSchema.

``TenantSchema`` subclasses ``strawberry.Schema`` but does not run its
constructor (that costs ~300 ms per tenant): it reuses the static schema's
converter, config and extensions and swaps in the tenant's ``GraphQLSchema``.
This leans on strawberry internals (``Schema._schema``,
``GraphQLSchema._strawberry_schema``); strawberry's version is pinned and the
route is covered by tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeGuard

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    execute,
    lexicographic_sort_schema,
    parse,
    print_schema,
    specified_rules,
)
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ExecutionContext

from core.graphql.context import GraphQLContext
from core.graphql.errors import format_error, is_unexpected, log
from core.graphql.limits import Limits, limit_error, limit_rules

__all__ = ["OperationCache", "TenantSchema"]

_CACHE_SIZE = 256


@dataclass(slots=True)
class _Prepared:
    document: DocumentNode
    errors: list[GraphQLError] | None = None  # None until validated


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return optimized_is_awaitable(value)


def _answer(data: Any, errors: list[GraphQLError] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"data": data}
    if errors:
        out["errors"] = [format_error(e) for e in errors]
    return out


class OperationCache:
    """Parsed and validated operations of one schema, keyed by query text (LRU).

    Validation depends only on the schema, the document and the rules; all
    three are fixed per cache, so a hit skips both parsing and validation.
    """

    def __init__(self, limits: Limits, size: int = _CACHE_SIZE) -> None:
        self.limits = limits
        self.size = size
        self.rules = (*specified_rules, *limit_rules(limits))
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, _Prepared] = OrderedDict()

    def document(self, query: str) -> DocumentNode:
        item = self._items.get(query)
        if item is not None:
            self.hits += 1
            self._items.move_to_end(query)
            return item.document
        self.misses += 1
        try:
            document = parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLSyntaxError as exc:
            if "tokens" in exc.message and "Parsing aborted" in exc.message:
                raise limit_error(
                    f"the document has more than {self.limits.max_tokens} tokens"
                ) from None
            raise
        self._items[query] = _Prepared(document)
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return document

    def validated(self, query: str) -> DocumentNode | None:
        """The document of ``query`` if it was parsed and validated without errors."""
        item = self._items.get(query)
        if item is None or item.errors is None or item.errors:
            return None
        self.hits += 1
        self._items.move_to_end(query)
        return item.document

    def errors(
        self, schema: GraphQLSchema, query: str, document: DocumentNode
    ) -> list[GraphQLError]:
        item = self._items.get(query)
        if item is None or item.document is not document:
            return validate_document(schema, document, self.rules)
        if item.errors is None:
            item.errors = validate_document(schema, document, self.rules)
        return item.errors


class _CachedOperation(SchemaExtension):
    """Serves parse and validation from the schema's :class:`OperationCache`."""

    def __init__(self, cache: OperationCache) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        ec: ExecutionContext = self.execution_context
        if ec.query is not None and ec.graphql_document is None:
            try:
                ec.graphql_document = self.cache.document(ec.query)
            except GraphQLError as exc:
                if exc.extensions and "code" in exc.extensions:
                    raise
                # Leave it to strawberry, which reports syntax errors in its own way.
        yield

    def on_validate(self) -> Iterator[None]:
        ec: ExecutionContext = self.execution_context
        if ec.graphql_document is not None and ec.query is not None:
            ec.pre_execution_errors = self.cache.errors(
                ec.schema._schema, ec.query, ec.graphql_document
            )
        yield


class TenantSchema(strawberry.Schema):
    """One tenant's executable schema; get it from a SchemaRegistry."""

    def __init__(
        self,
        static: strawberry.Schema,
        graphql_schema: GraphQLSchema,
        version_key: str,
        limits: Limits,
    ) -> None:
        self.__dict__.update(static.__dict__)
        self.version_key = version_key
        self.limits = limits
        self.cache = OperationCache(limits)
        self.extensions = (*static.extensions, partial(_CachedOperation, self.cache))
        self._schema = graphql_schema
        graphql_schema._strawberry_schema = self  # type: ignore[attr-defined]
        self._sdl: str | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Our own errors are answers, not incidents; only log the unexpected.
        for error in errors:
            if is_unexpected(error):
                log.error("unexpected error in a resolver", exc_info=error.original_error)

    async def execute(  # type: ignore[override]
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: GraphQLContext,
    ) -> dict[str, Any]:
        """Run one operation; the result is JSON-ready: ``{"data":..., "errors":[...]}``.

        An operation already parsed and validated without errors goes straight to
        graphql-core: strawberry's pipeline around it (an execution context, the
        extension hooks of each phase) only serves our cache extension, which has
        answered already. Anything else (a new document, a syntax or validation
        error) takes strawberry's path, which reports it in its own way.
        """
        if not self.extensions_beyond_cache:
            document = self.cache.validated(query)
            if document is not None:
                outcome = execute(
                    self._schema,
                    document,
                    context_value=context,
                    variable_values=variables,
                    operation_name=operation_name,
                    executor_class=self.execution_context_class,
                    is_awaitable=_is_awaitable,
                )
                result: GraphQLExecutionResult = (
                    await outcome if _is_awaitable(outcome) else outcome  # type: ignore[assignment]
                )
                if result.errors:
                    self.process_errors(result.errors)
                return _answer(result.data, result.errors)
        done = await super().execute(
            query, variable_values=variables, context_value=context, operation_name=operation_name
        )
        return _answer(done.data, done.errors)

    @property
    def extensions_beyond_cache(self) -> bool:
        """Whether strawberry extensions other than our operation cache are installed."""
        return len(self.extensions) > 1

    def sdl(self) -> str:
        """The schema as SDL, types and fields sorted: identical models print identically."""
        if self._sdl is None:
            self._sdl = print_schema(lexicographic_sort_schema(self._schema))
        return self._sdl
