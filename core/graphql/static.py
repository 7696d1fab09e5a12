"""The part of every tenant's schema that does not depend on the tenant.

Built once per registry as a ``strawberry.Schema``: shared scalars, Money and
Address, the filter inputs per value kind, ``SortDirection``, ``PageInfo``,
``User``, ``AuditEntry`` and the ``meta`` query. Tenant schemas take these
types from its type map, so they exist once per process.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from core import authz
from core.graphql.completion import Completer, PlanCache
from core.graphql.context import GraphQLContext
from core.graphql.leaves import PlainValue, read_attr
from core.graphql.loaders import load_user
from core.graphql.meta import Meta, MetaUser, meta_for
from core.graphql.processes import ApprovalMutation, ApprovalQuery, TaskDue
from core.graphql.scalars import DATE, DATETIME, DECIMAL

__all__ = ["FILTER_OPS", "JSON", "AuditEntry", "SortDirection", "build_static_schema"]

#: GraphQL names of the filter operator fields -> core.query operator names.
FILTER_OPS: Mapping[str, str] = {
    "eq": "eq",
    "ne": "ne",
    "in": "in",
    "lt": "lt",
    "lte": "lte",
    "gt": "gt",
    "gte": "gte",
    "contains": "contains",
    "startsWith": "starts_with",
    "isNull": "is_null",
}


@strawberry.enum(description="Sort order of a list.")
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.type(description="An exact amount of money in one currency.")
class Money:
    amount: Decimal
    currency: str


@strawberry.input(name="MoneyInput", description="Currency defaults to the tenant's.")
class MoneyInput:
    amount: Decimal
    currency: str | None = strawberry.UNSET


@strawberry.type(description="A postal address.")
class Address:
    street: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None


@strawberry.input(name="AddressInput", description="Parts left out are not stored.")
class AddressInput:
    street: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


@strawberry.type(description="A user of the tenant.")
class User:
    id: strawberry.ID
    email: str
    name: str


@strawberry.type(description="One write to a record: who, when, what changed.")
class AuditEntry:
    at: datetime
    actor_id: strawberry.ID | None
    action: str
    diff: JSON | None

    @strawberry.field
    async def actor(self, info: strawberry.Info) -> User | None:
        if not self.actor_id:
            return None
        user = await load_user(info.context, self.actor_id)
        return (
            User(id=strawberry.ID(user["id"]), email=user["email"], name=user["name"])
            if user
            else None
        )


@strawberry.type(description="Where a page of a list ends.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


_IN = "in"


@strawberry.input(description="Conditions on a text field; all given must hold.")
class StringFilter:
    eq: str | None = strawberry.UNSET
    ne: str | None = strawberry.UNSET
    in_: list[str] | None = strawberry.field(default=strawberry.UNSET, name=_IN)
    lt: str | None = strawberry.UNSET
    lte: str | None = strawberry.UNSET
    gt: str | None = strawberry.UNSET
    gte: str | None = strawberry.UNSET
    contains: str | None = strawberry.UNSET
    starts_with: str | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on an integer field; all given must hold.")
class IntFilter:
    eq: int | None = strawberry.UNSET
    ne: int | None = strawberry.UNSET
    in_: list[int] | None = strawberry.field(default=strawberry.UNSET, name=_IN)
    lt: int | None = strawberry.UNSET
    lte: int | None = strawberry.UNSET
    gt: int | None = strawberry.UNSET
    gte: int | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on a decimal, percent or money amount.")
class DecimalFilter:
    eq: Decimal | None = strawberry.UNSET
    ne: Decimal | None = strawberry.UNSET
    in_: list[Decimal] | None = strawberry.field(default=strawberry.UNSET, name=_IN)
    lt: Decimal | None = strawberry.UNSET
    lte: Decimal | None = strawberry.UNSET
    gt: Decimal | None = strawberry.UNSET
    gte: Decimal | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on a boolean field.")
class BooleanFilter:
    eq: bool | None = strawberry.UNSET
    ne: bool | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on a date field.")
class DateFilter:
    eq: date | None = strawberry.UNSET
    ne: date | None = strawberry.UNSET
    in_: list[date] | None = strawberry.field(default=strawberry.UNSET, name=_IN)
    lt: date | None = strawberry.UNSET
    lte: date | None = strawberry.UNSET
    gt: date | None = strawberry.UNSET
    gte: date | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on a date-time field.")
class DateTimeFilter:
    eq: datetime | None = strawberry.UNSET
    ne: datetime | None = strawberry.UNSET
    in_: list[datetime] | None = strawberry.field(default=strawberry.UNSET, name=_IN)
    lt: datetime | None = strawberry.UNSET
    lte: datetime | None = strawberry.UNSET
    gt: datetime | None = strawberry.UNSET
    gte: datetime | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on an id, a relation or a user field.")
class IDFilter:
    eq: strawberry.ID | None = strawberry.UNSET
    ne: strawberry.ID | None = strawberry.UNSET
    in_: list[strawberry.ID] | None = strawberry.field(default=strawberry.UNSET, name=_IN)
    is_null: bool | None = strawberry.UNSET


@strawberry.input(description="Conditions on a list of ids (relation lists).")
class IDListFilter:
    contains: strawberry.ID | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.type
class Query(ApprovalQuery):
    @strawberry.field(description="The tenant's model, for screens and tools.")
    def meta(self, info: strawberry.Info) -> Meta:
        ctx: GraphQLContext = info.context
        call = ctx.call
        p = call.principal
        caller = MetaUser(
            id=strawberry.ID(p.user_id),
            email=p.email,
            name=p.name,
            roles=list(p.roles),
            locale=call.locale,
        )
        return meta_for(call.model, call.locale, caller, authz.hidden_fields(call))


#: Types that tenant schemas reference but the static root does not reach.
_SHARED_TYPES: tuple[Any, ...] = (
    SortDirection,
    Money,
    MoneyInput,
    Address,
    AddressInput,
    User,
    AuditEntry,
    PageInfo,
    TaskDue,
    StringFilter,
    IntFilter,
    DecimalFilter,
    BooleanFilter,
    DateFilter,
    DateTimeFilter,
    IDFilter,
    IDListFilter,
)


class _RootInTurn(StrawberryGraphQLCoreExecutionContext):
    """Root fields of a query run one after another, as a mutation's do.

    graphql-core runs a query's root fields concurrently; when one fails its
    siblings are abandoned mid-flight, and on PostgreSQL a transaction they
    held never gives its pooled connection back. Root fields are few, each
    already batches its own work, so running them in turn costs little.
    """

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        # A plain value shown as a scalar or enum (most fields of a record whose parent
        # was not planned, see complete_value) needs no resolve info, no argument
        # parsing and no awaitable checks. Anything unusual (no value for a non-null
        # field, a value the type refuses, middleware) takes graphql-core's full path,
        # which reports it.
        node = field_details_list[0].node
        field_def = parent_type.fields.get(node.name.value)
        resolver = field_def.resolve if field_def is not None else None
        if isinstance(resolver, PlainValue) and not node.arguments and not self._middleware:
            return_type = field_def.type
            nullable = not isinstance(return_type, GraphQLNonNull)
            leaf = return_type if nullable else return_type.of_type
            if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
                try:
                    value = resolver.value(source)
                    if value is None:
                        if nullable:
                            return None
                    else:
                        out = leaf.serialize(value)
                        if out is not None and out is not Undefined:
                            return out
                except Exception:
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        # An object (or a list of them) whose selection only reads plain data is
        # completed by a compiled plan in one pass; see core.graphql.completion.
        plan = self._plan(return_type, field_details_list)
        if plan is not None:
            try:
                return plan(result)
            except Exception:  # graphql-core completes it again and reports the problem
                pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    @property
    def _middleware(self) -> bool:
        manager = self.middleware_manager
        return bool(manager and manager.middlewares)

    def _plan(self, return_type: Any, field_details_list: Any) -> Completer | None:
        named = return_type
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        if not isinstance(named, GraphQLObjectType):
            return None
        memo: dict[tuple[Any, int], tuple[Any, Completer | None]] | None
        memo = self.__dict__.get("_plans")
        if memo is None:
            memo = self.__dict__["_plans"] = {}
        key = (return_type, id(field_details_list))
        found = memo.get(key)
        if found is not None:
            return found[1]
        plan: Completer | None = None
        if not self._middleware:
            cache: PlanCache | None = getattr(self.schema, "_tessera_plans", None)
            if cache is None:
                cache = PlanCache()
                self.schema._tessera_plans = cache  # type: ignore[attr-defined]
            plan = cache.get(self, return_type, field_details_list)
        # The list is kept with its plan, so its id is not reused during this execution.
        memo[key] = (field_details_list, plan)
        return plan

    def execute_fields(
        self,
        parent_type: Any,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if path is None:
            return self.execute_fields_serially(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )


def build_static_schema() -> strawberry.Schema:
    """The shared part, built once; tenant schemas borrow its types and state."""
    return strawberry.Schema(
        query=Query,
        mutation=ApprovalMutation,
        types=_SHARED_TYPES,
        config=StrawberryConfig(default_resolver=read_attr),
        execution_context_class=_RootInTurn,
        scalar_overrides={Decimal: DECIMAL, date: DATE, datetime: DATETIME},
    )
