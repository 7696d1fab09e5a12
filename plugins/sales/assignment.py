"""Assignment rules (``settings.sales.assignment``): who owns a new record.

Applied in ``pre_operation`` of a create that names no owner (a lead
conversion creates its records the same way). Rules, per entity:

- ``round_robin``: the listed users take turns. The turn is a counter row
  (``assignment_cursor``) advanced with a version check inside the write's
  transaction, so concurrent creates get consecutive turns and no user gets
  more than one record more than another.
- ``territory``: the users listed for the record's territory take turns;
  a territory without users falls back to ``users``.
- ``capacity``: the listed user with the fewest open records of the entity
  (open leads: new or working; open opportunities: not closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.context import CallContext, Operation
from core.errors import Conflict, ValidationFailed
from core.query import And, Condition, Filter
from plugins.sales.duplicates import system_context
from plugins.sales.settings import sales_settings

__all__ = ["assign_owner", "next_in_turn"]

_ATTEMPTS = 20


async def _user_ids(ctx: CallContext, emails: Sequence[str]) -> list[str]:
    found = await ctx.extra["service"].users_by_email(ctx, list(emails))
    return [found[e.strip().lower()]["id"] for e in emails if e.strip().lower() in found]


async def next_in_turn(ctx: CallContext, rule: str, users: Sequence[str]) -> str:
    """The next of ``users`` for ``rule``, advancing its counter (inside the write's transaction)."""
    service = ctx.extra["service"]
    system = system_context(ctx)
    for _attempt in range(_ATTEMPTS):
        rows, _page = await service.list(
            system, "assignment_cursor", Condition("rule", "eq", rule), [], 1, None
        )
        if not rows:
            try:
                await service.create(system, "assignment_cursor", {"rule": rule, "position": 1})
            except ValidationFailed:
                continue  # another create started the counter first: take the next turn
            return users[0]
        cursor = rows[0]
        position = int(cursor.data.get("position") or 0)
        try:
            await service.update(
                system, "assignment_cursor", cursor.id, {"position": position + 1}, cursor.version
            )
        except Conflict:
            continue  # a concurrent create took this turn
        return users[position % len(users)]
    raise Conflict(f"assignment rule '{rule}' is too busy; try again")


def _open(entity: str) -> Filter | None:
    if entity == "lead":
        return Condition("status", "in", ["new", "working"])
    if entity == "opportunity":
        return Condition("closed_on", "is_null", True)
    return None


async def _least_loaded(ctx: CallContext, entity: str, users: Sequence[str]) -> str:
    service = ctx.extra["service"]
    system = system_context(ctx)
    loads: list[tuple[int, int, str]] = []
    for order, user in enumerate(users):
        mine: Filter = Condition("owner", "eq", user)
        extra = _open(entity)
        count = await service.count(system, entity, And((mine, extra)) if extra else mine)
        loads.append((count, order, user))
    return min(loads)[2]


async def choose_owner(ctx: CallContext, entity: str, values: Mapping[str, Any]) -> str | None:
    """The owner the tenant's rule gives a new ``entity`` record, or ``None`` (no rule)."""
    rule: Mapping[str, Any] | None = (sales_settings(ctx.model).get("assignment") or {}).get(entity)
    if not rule:
        return None
    kind = str(rule["rule"])
    users = await _user_ids(ctx, rule.get("users") or ())
    if kind == "territory":
        field = str(rule.get("field") or "territory")
        territory = values.get(field)
        local = (rule.get("territories") or {}).get(str(territory)) if territory else None
        local_ids = await _user_ids(ctx, local or ())
        if local_ids:
            return await next_in_turn(ctx, f"{entity}:territory:{territory}", local_ids)
        kind = "round_robin"
    if not users:
        return None
    if kind == "capacity":
        return await _least_loaded(ctx, entity, users)
    return await next_in_turn(ctx, f"{entity}:round_robin", users)


async def assign_owner(ctx: CallContext, operation: Operation) -> None:
    """Set ``owner`` of a create that has none, per the tenant's rule (pre_operation)."""
    if operation.action != "create" or operation.values.get("owner"):
        return
    entity = ctx.model.entities.get(operation.entity)
    if (
        entity is None
        or "owner" not in entity.fields
        or "assignment_cursor" not in ctx.model.entities
    ):
        return
    owner = await choose_owner(ctx, operation.entity, operation.values)
    if owner is not None:
        operation.values["owner"] = owner
