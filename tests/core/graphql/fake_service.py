"""An in-memory RecordService that applies filters, orders and cursors like the real one."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.context import CallContext, Record
from core.errors import Conflict, NotFound, Problem, ValidationFailed
from core.query import And, Condition, Filter, Or, OrderBy, Page

_AuditEntries = list[dict[str, Any]]  # before ``FakeService.list`` shadows the builtin

_SYSTEM = ("id", "version", "created_at", "created_by", "updated_at", "updated_by")


def _field_value(rec: Record, key: str) -> Any:
    if key in _SYSTEM:
        return getattr(rec, key)
    value = rec.data.get(key)
    if isinstance(value, dict) and "amount" in value:
        return value["amount"]
    return value


def _matches(rec: Record, flt: Filter) -> bool:
    if isinstance(flt, And):
        return all(_matches(rec, f) for f in flt.items)
    if isinstance(flt, Or):
        return any(_matches(rec, f) for f in flt.items)
    return _holds(_field_value(rec, flt.field), flt)


def _holds(value: Any, c: Condition) -> bool:
    if c.op == "is_null":
        return (value is None or value == []) is bool(c.value)
    if c.op == "contains":
        return value is not None and c.value in value
    if c.op == "eq":
        return value == c.value
    if c.op == "ne":
        return value != c.value
    if c.op == "in":
        return value in c.value
    if value is None:
        return False
    if c.op == "starts_with":
        return str(value).startswith(c.value)
    ops = {
        "lt": value < c.value,
        "lte": value <= c.value,
        "gt": value > c.value,
        "gte": value >= c.value,
    }
    return ops[c.op]


class FakeService:
    """Records every call in ``calls`` so tests can see what the API asked for."""

    def __init__(self, users: dict[str, dict[str, Any]] | None = None) -> None:
        self.records: dict[str, dict[str, Record]] = {}
        self.audits: dict[str, list[dict[str, Any]]] = {}
        self.users = users or {}
        self.calls: list[tuple[str, Any]] = []
        self._ids = itertools.count(1)

    # -- reads ---------------------------------------------------------------

    async def get(self, ctx: CallContext, entity: str, id: str) -> Record:
        self.calls.append(("get", (entity, id)))
        rec = self.records.get(entity, {}).get(id)
        if rec is None:
            raise NotFound(f"no {entity} with id '{id}'", [Problem("NOT_FOUND", "not found", "id")])
        return rec

    async def get_many(
        self, ctx: CallContext, entity: str, ids: Sequence[str]
    ) -> dict[str, Record]:
        self.calls.append(("get_many", (entity, list(ids))))
        table = self.records.get(entity, {})
        return {i: table[i] for i in ids if i in table}

    def _rows(self, entity: str, filter: Filter | None) -> list[Record]:
        rows = list(self.records.get(entity, {}).values())
        return [r for r in rows if filter is None or _matches(r, filter)]

    async def list(
        self,
        ctx: CallContext,
        entity: str,
        filter: Filter | None,
        order: Sequence[OrderBy],
        first: int,
        after: str | None,
    ) -> tuple[list[Record], Page]:
        self.calls.append(("list", (entity, filter, list(order), first, after)))
        rows = sorted(self._rows(entity, filter), key=lambda r: r.id)
        for o in reversed(order):
            present = [r for r in rows if _field_value(r, o.field) is not None]
            missing = [r for r in rows if _field_value(r, o.field) is None]
            present.sort(key=lambda r: _field_value(r, o.field), reverse=o.descending)
            rows = present + missing
        start = int(after.removeprefix("o:")) if after else 0
        page = rows[start : start + first]
        cursors = [f"o:{start + i + 1}" for i in range(len(page))]
        has_next = start + first < len(rows)
        return page, Page(page, cursors, has_next, cursors[-1] if cursors else None)

    async def count(self, ctx: CallContext, entity: str, filter: Filter | None) -> int:
        self.calls.append(("count", (entity, filter)))
        return len(self._rows(entity, filter))

    async def audit(self, ctx: CallContext, entity: str, id: str) -> _AuditEntries:
        await self.get(ctx, entity, id)
        return self.audits.get(id, [])

    async def user_names(self, ctx: CallContext, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.calls.append(("user_names", list(ids)))
        return {i: self.users[i] for i in ids if i in self.users}

    # -- writes --------------------------------------------------------------

    def _check(self, ctx: CallContext, entity: str, values: dict[str, Any], creating: bool) -> None:
        edef = ctx.model.entity(entity)
        problems = []
        for key, value in values.items():
            f = edef.fields[key]
            if f.value_type == "relation" and value is not None:
                if value not in self.records.get(f.target or "", {}):
                    problems.append(
                        Problem("RELATION_NOT_FOUND", "no such record", f"{f.graphql_name}Id")
                    )
            if f.value_type == "money" and value is not None:
                if not isinstance(value["amount"], Decimal):
                    problems.append(Problem("TYPE", "not a Decimal", f"{f.graphql_name}.amount"))
        if creating:
            for f in edef.fields.values():
                if f.required and values.get(f.key) is None:
                    problems.append(Problem("REQUIRED", "this field is required", f.graphql_name))
        if problems:
            raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)

    @staticmethod
    def _normal(values: dict[str, Any]) -> dict[str, Any]:
        return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in values.items()}

    def _log(self, ctx: CallContext, rec: Record, action: str, diff: dict[str, Any]) -> None:
        self.audits.setdefault(rec.id, []).append(
            {"at": ctx.clock(), "actor": ctx.principal.user_id, "action": action, "diff": diff}
        )

    async def create(self, ctx: CallContext, entity: str, values: dict[str, Any]) -> Record:
        self.calls.append(("create", (entity, dict(values))))
        self._check(ctx, entity, values, creating=True)
        now, actor = ctx.clock(), ctx.principal.user_id
        data = {k: v for k, v in self._normal(values).items() if v is not None}
        rec = Record(f"{entity}-{next(self._ids)}", entity, 1, data, now, actor, now, actor)
        self.records.setdefault(entity, {})[rec.id] = rec
        self._log(ctx, rec, "create", data)
        return rec

    async def update(
        self,
        ctx: CallContext,
        entity: str,
        id: str,
        values: dict[str, Any],
        expected_version: int | None,
    ) -> Record:
        self.calls.append(("update", (entity, id, dict(values), expected_version)))
        current = await self.get(ctx, entity, id)
        if expected_version is not None and expected_version != current.version:
            raise Conflict(
                f"{entity} '{id}' is at version {current.version}",
                [Problem("CONFLICT", "the record has a newer version", "expectedVersion")],
            )
        self._check(ctx, entity, values, creating=False)
        data = dict(current.data)
        for k, v in self._normal(values).items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        rec = Record(
            id,
            entity,
            current.version + 1,
            data,
            current.created_at,
            current.created_by,
            ctx.clock(),
            ctx.principal.user_id,
        )
        self.records[entity][id] = rec
        self._log(ctx, rec, "update", values)
        return rec

    async def delete(self, ctx: CallContext, entity: str, id: str) -> Record:
        self.calls.append(("delete", (entity, id)))
        rec = await self.get(ctx, entity, id)
        del self.records[entity][id]
        return rec
