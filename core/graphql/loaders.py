"""Per-request batch loaders: one ``get_many`` per entity and one user look-up per tick."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from core.context import Record
from core.graphql.context import GraphQLContext

__all__ = ["load_record", "load_records", "load_user"]


def _records(ctx: GraphQLContext, entity: str) -> DataLoader[str, Record | None]:
    key = ("record", entity)
    loader: DataLoader[str, Record | None] | None = ctx.loaders.get(key)
    if loader is None:

        async def load(ids: list[str]) -> list[Record | None]:
            found = await ctx.service.get_many(ctx.call, entity, ids)
            return [found.get(i) for i in ids]

        # No cache across the request: a mutation may change a record read earlier.
        loader = DataLoader(load_fn=load, cache=False)
        ctx.loaders[key] = loader
    return loader


def _users(ctx: GraphQLContext) -> DataLoader[str, dict[str, Any] | None]:
    loader: DataLoader[str, dict[str, Any] | None] | None = ctx.loaders.get("users")
    if loader is None:

        async def load(ids: list[str]) -> list[dict[str, Any] | None]:
            found = await ctx.service.user_names(ctx.call, ids)
            return [found.get(i) for i in ids]

        loader = DataLoader(load_fn=load)
        ctx.loaders["users"] = loader
    return loader


async def load_record(ctx: GraphQLContext, entity: str, id: str) -> Record | None:
    """The record, or ``None`` when it does not exist (or is not visible)."""
    return await _records(ctx, entity).load(id)


async def load_records(ctx: GraphQLContext, entity: str, ids: list[str]) -> list[Record]:
    """The records that exist, in the order of ``ids``."""
    found = await _records(ctx, entity).load_many(ids)
    return [r for r in found if r is not None]


async def load_user(ctx: GraphQLContext, id: str) -> dict[str, Any] | None:
    """``{id, email, name}`` of a user of the tenant, or ``None``."""
    return await _users(ctx).load(id)
