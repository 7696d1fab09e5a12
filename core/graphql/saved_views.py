"""Saved views: a user's named filters and sort of one list screen (GraphQL).

Views are records of the built-in ``saved_view`` entity, written through the
service (validated, audited) as the system acting for the caller, because
every user may keep views whatever their roles grant on other entities. The
resolvers here are the wall: a caller only ever lists, replaces or deletes
views whose ``owner`` is themselves. ``definition`` is the screens' JSON
(filters and sort); the server stores it as text of bounded size.
"""

from __future__ import annotations

import dataclasses
import json

import strawberry

from core.context import CallContext, Record
from core.errors import NotFound, Problem, ValidationFailed
from core.graphql.context import GraphQLContext
from core.query import And, Condition, OrderBy

__all__ = ["MyView", "SavedViewMutation", "SavedViewQuery"]

ENTITY = "saved_view"
#: Views one user may keep per list.
MAX_VIEWS_PER_LIST = 50


@strawberry.type(description="A named filter and sort of one list, kept for its owner.")
class MyView:
    id: strawberry.ID
    name: str
    entity: str
    definition: str


def _view(record: Record) -> MyView:
    return MyView(
        id=strawberry.ID(record.id),
        name=str(record.data.get("name") or ""),
        entity=str(record.data.get("list_entity") or ""),
        definition=str(record.data.get("definition") or "{}"),
    )


def _system(ctx: GraphQLContext) -> CallContext:
    call = ctx.call
    return dataclasses.replace(call, principal=dataclasses.replace(call.principal, is_system=True))


async def _mine(ctx: GraphQLContext, entity: str, name: str | None = None) -> list[Record]:
    conditions = [
        Condition("owner", "eq", ctx.call.principal.user_id),
        Condition("list_entity", "eq", entity),
    ]
    if name is not None:
        conditions.append(Condition("name", "eq", name))
    records, _page = await ctx.service.list(
        _system(ctx), ENTITY, And(tuple(conditions)), [OrderBy("name")], MAX_VIEWS_PER_LIST, None
    )
    return records


def _check(ctx: GraphQLContext, entity: str, definition: str) -> None:
    problems: list[Problem] = []
    if entity not in ctx.call.model.entities or entity == ENTITY:
        problems.append(Problem("UNKNOWN_ENTITY", f"no entity '{entity}'", "entity"))
    try:
        if not isinstance(json.loads(definition), dict):
            raise ValueError
    except ValueError:
        problems.append(Problem("INVALID_JSON", "must be a JSON object", "definition"))
    if problems:
        raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)


@strawberry.type
class SavedViewQuery:
    @strawberry.field(description="The caller's saved views of one entity's list, by name.")
    async def my_views(self, info: strawberry.Info, entity: str) -> list[MyView]:
        return [_view(r) for r in await _mine(info.context, entity)]


@strawberry.type
class SavedViewMutation:
    @strawberry.mutation(
        description="Save a view of a list under a name; a view of the same name is replaced."
    )
    async def save_my_view(
        self, info: strawberry.Info, entity: str, name: str, definition: str
    ) -> MyView:
        ctx: GraphQLContext = info.context
        _check(ctx, entity, definition)
        values = {"name": name.strip(), "list_entity": entity, "definition": definition}
        same = await _mine(ctx, entity, values["name"])
        if same:
            record = await ctx.service.update(_system(ctx), ENTITY, same[0].id, values, None)
        else:
            if len(await _mine(ctx, entity)) >= MAX_VIEWS_PER_LIST:
                raise ValidationFailed(
                    f"at most {MAX_VIEWS_PER_LIST} views per list",
                    [Problem("TOO_MANY", f"at most {MAX_VIEWS_PER_LIST} views per list", "name")],
                )
            values["owner"] = ctx.call.principal.user_id
            record = await ctx.service.create(_system(ctx), ENTITY, values)
        return _view(record)

    @strawberry.mutation(description="Delete one of your saved views.")
    async def delete_my_view(self, info: strawberry.Info, id: strawberry.ID) -> bool:
        ctx: GraphQLContext = info.context
        system = _system(ctx)
        try:
            record = await ctx.service.get(system, ENTITY, str(id))
        except NotFound:
            record = None
        if record is None or record.data.get("owner") != ctx.call.principal.user_id:
            # Someone else's view is as absent as a view that does not exist.
            raise NotFound(f"no saved view '{id}'")
        await ctx.service.delete(system, ENTITY, str(id))
        return True
