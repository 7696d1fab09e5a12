"""The one read/write path every caller uses (D3).

authorize -> validate -> pre_validate hooks -> BEGIN -> pre_operation hooks
-> persist (version check) -> post_operation hooks -> audit + outbox -> COMMIT.

Any exception inside the transaction rolls everything back: no record, no
audit entry, no outbox row survives a failed write.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from core import authz, numbering
from core.computed import ComputedFields
from core.context import CallContext, Operation, Record
from core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PluginError,
    Problem,
    TesseraError,
    ValidationFailed,
)
from core.metadata import SYSTEM_FIELDS, EntityDef, FieldDef
from core.query import And, Condition, Filter, Or, OrderBy, Page
from core.store import Database, UniqueViolation
from core.store.database import NewAudit, NewMessage
from core.values import (
    STORAGE_CONVERTERS,
    coerce,
    condition_value,
    slot_value,
    to_storage,
    unique_key,
)
from core.workflow.engine import ProcessEngine

__all__ = ["RecordService", "ReferenceLookup", "StageHooks"]

log = logging.getLogger(__name__)

_UPDATE_RETRIES = 5
_TEAM = "team_members"  # CallContext.extra: the caller's team, resolved once per call
_Rows = list[dict[str, Any]]
_UNSET = object()
_TOPICS = {
    "create": "record.created",
    "update": "record.updated",
    "delete": "record.deleted",
    "transition": "record.transitioned",
}


class ReferenceLookup(Protocol):
    """Where references are looked up: the database, or ids read ahead for a batch."""

    async def existing_ids(self, tenant: str, entity: str, ids: Sequence[str]) -> set[str]: ...
    async def get_user_by_id(self, tenant: str, user_id: str) -> dict[str, Any] | None: ...


def _unknown(value: Any) -> Any:  # pragma: no cover - a marker, never called
    return value


_UNKNOWN: Callable[[Any], Any] = _unknown
_Reader = Callable[[Any], Any]
_Readers = tuple[dict[str, _Reader | None], tuple[tuple[str, _Reader], ...]]
_READERS: dict[int, tuple[EntityDef, _Readers]] = {}


def _readers(entity: EntityDef) -> _Readers:
    """Field key -> its storage converter (None: stored as shown), and the converted ones.

    Kept per entity definition (models are immutable), with the definition itself
    so that its id is not reused while cached.
    """
    found = _READERS.get(id(entity))
    if found is not None and found[0] is entity:
        return found[1]
    readers = {key: STORAGE_CONVERTERS.get(f.value_type) for key, f in entity.fields.items()}
    converted = tuple((key, c) for key, c in readers.items() if c is not None)
    if len(_READERS) > 4096:
        _READERS.clear()
    _READERS[id(entity)] = (entity, (readers, converted))
    return readers, converted


class StageHooks(Protocol):
    """The part of the plugin host the service calls."""

    async def pre_validate(self, ctx: CallContext, operation: Operation) -> None: ...
    async def pre_operation(self, ctx: CallContext, operation: Operation) -> None: ...
    async def post_operation(
        self, ctx: CallContext, operation: Operation, record: Record
    ) -> None: ...
    async def plugin_event(
        self, ctx: CallContext, event: str, payload: Mapping[str, Any]
    ) -> None: ...


class RecordService:
    """Create, read, update, delete and list records of any entity."""

    def __init__(self, db: Database, hooks: StageHooks) -> None:
        self.db = db
        self.hooks = hooks
        self.computed = ComputedFields()
        self.processes = ProcessEngine(self)

    # -- helpers -----------------------------------------------------------

    @staticmethod
    def _entity(ctx: CallContext, entity: str) -> EntityDef:
        try:
            return ctx.model.entities[entity]
        except KeyError:
            raise NotFound(f"entity '{entity}' does not exist for this tenant") from None

    @staticmethod
    def _record(entity: EntityDef, row: Mapping[str, Any]) -> Record:
        # Only the stored keys, converting only the types whose storage form differs:
        # a list page converts thousands of values.
        readers, converted = _readers(entity)
        raw = row["data"]
        if raw.keys() <= readers.keys() and None not in raw.values():
            # The usual case, at C speed: copy, then convert the few typed values.
            data = dict(raw)
            for key, convert in converted:
                value = data.get(key)
                if value is not None:
                    data[key] = convert(value)
        else:
            data = {}
            for key, value in raw.items():
                if value is None:
                    continue
                reader = readers.get(key, _UNKNOWN)
                if reader is None:
                    data[key] = value
                elif reader is not _UNKNOWN:  # a field the config no longer has is left out
                    data[key] = reader(value)
        return Record(
            id=row["id"],
            entity=entity.key,
            version=row["version"],
            data=data,
            created_at=row["created_at"],
            created_by=row["created_by"],
            updated_at=row["updated_at"],
            updated_by=row["updated_by"],
        )

    def _check_values(
        self,
        ctx: CallContext,
        entity: EntityDef,
        values: Mapping[str, Any],
        *,
        creating: bool = False,
        trusted: bool = False,
    ) -> dict[str, Any]:
        """Coerce every input value; raise once with every problem found.

        ``trusted`` values come from plugin hooks, which may set read-only
        fields (a computed amount, say); callers may not, except processes
        acting as the system (an automation setting a plugin's read-only total).
        """
        problems: list[Problem] = []
        out: dict[str, Any] = {}
        for key, raw in values.items():
            f = entity.fields.get(key)
            if f is None:
                problems.append(
                    Problem("UNKNOWN_FIELD", f"'{entity.key}' has no field '{key}'", key)
                )
                continue
            # Processes (automations, plugin actions) may fill read-only fields; nobody
            # writes a computed one.
            system = ctx.principal.is_system and f.type != "computed"
            if f.read_only and not (trusted or system):
                problems.append(
                    Problem("READ_ONLY", "this field cannot be written", f.graphql_name)
                )
                continue
            value, problem = coerce(f, raw, ctx.model)
            if problem is not None:
                problems.append(problem)
            else:
                out[key] = value
        if creating:
            for key, f in entity.fields.items():
                if key not in values and f.default is not None and not f.read_only:
                    value, problem = coerce(f, f.default, ctx.model)
                    if problem is None:
                        out[key] = value
        if problems:
            raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)
        return out

    @staticmethod
    def _required(entity: EntityDef, data: Mapping[str, Any]) -> list[Problem]:
        return [
            Problem("REQUIRED", "this field is required", f.graphql_name)
            for key, f in entity.fields.items()
            if f.required and not f.read_only and data.get(key) is None
        ]

    async def _check_references(
        self,
        ctx: CallContext,
        entity: EntityDef,
        values: Mapping[str, Any],
        lookup: ReferenceLookup | None = None,
    ) -> list[Problem]:
        """Relations and users must point into the caller's own tenant.

        ``lookup`` answers in place of the database (a batch that read every
        referenced id at once: ``core.bulk``).
        """
        db = lookup or self.db
        problems: list[Problem] = []
        for key, value in values.items():
            f = entity.fields[key]
            if value is None:
                continue
            t = f.value_type
            if t in ("relation", "relation_list") and f.target:
                ids = [value] if t == "relation" else list(value)
                found = await db.existing_ids(ctx.tenant, f.target, ids)
                missing = [i for i in ids if i not in found]
                if missing:
                    problems.append(
                        Problem(
                            "RELATION_NOT_FOUND",
                            f"no {f.target} with id '{missing[0]}'",
                            f.graphql_name,
                        )
                    )
            elif t == "user" and await db.get_user_by_id(ctx.tenant, value) is None:
                problems.append(
                    Problem("USER_NOT_FOUND", f"no user with id '{value}'", f.graphql_name)
                )
        return problems

    @staticmethod
    def _storage(entity: EntityDef, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: to_storage(entity.fields[key], value)
            for key, value in data.items()
            if value is not None and key in entity.fields
        }

    @staticmethod
    def _slots(entity: EntityDef, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            f.slot: slot_value(f, data.get(key))
            for key, f in entity.fields.items()
            if f.slot is not None
        }

    async def _run_hook(self, stage: str, call: Any) -> None:
        try:
            await call
        except TesseraError:
            raise
        except Exception as exc:
            log.exception("plugin hook %s failed", stage)
            raise PluginError(
                f"a plugin refused the operation in {stage}: {exc}",
                [Problem("PLUGIN_ERROR", str(exc) or type(exc).__name__, "")],
            ) from exc

    async def _claim_uniques(
        self,
        ctx: CallContext,
        entity: EntityDef,
        record_id: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> None:
        problems: list[Problem] = []
        for key, f in entity.fields.items():
            if not f.unique:
                continue
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            if before is not None:
                await self.db.release_unique(
                    ctx.tenant, entity.key, key, unique_key(f, before), record_id
                )
            if after is not None:
                try:
                    await self.db.claim_unique(
                        ctx.tenant, entity.key, key, unique_key(f, after), record_id
                    )
                except UniqueViolation:
                    problems.append(
                        Problem("UNIQUE", "another record already has this value", f.graphql_name)
                    )
        if problems:
            raise ValidationFailed("a unique value is already taken", problems)

    @staticmethod
    def _diff(
        entity: EntityDef, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> dict[str, list[Any]]:
        diff: dict[str, list[Any]] = {}
        for key in dict.fromkeys([*old, *new]):
            before, after = old.get(key), new.get(key)
            if before != after:
                diff[key] = [before, after]
        return diff

    async def _write(
        self,
        ctx: CallContext,
        entity: EntityDef,
        op: Operation,
        previous_data: Mapping[str, Any],
    ) -> Record:
        """Validate, then persist inside one transaction (create or update)."""
        # Stage hooks read and write other records through this same service.
        ctx.extra.setdefault("service", self)
        await self._run_hook("pre_validate", self.hooks.pre_validate(ctx, op))
        now = ctx.clock()
        actor = ctx.principal.user_id
        async with self.db.transaction():
            if op.previous is None:
                # Inside the transaction: a create that rolls back gives its number back.
                await numbering.assign(self.db, ctx.model, ctx.tenant, entity.key, now, op.values)
            await self._run_hook("pre_operation", self.hooks.pre_operation(ctx, op))
            data = await self._validated(ctx, entity, op, previous_data)
            await self._claim_uniques(ctx, entity, op.record_id, previous_data, data)
            stored = self._storage(entity, data)
            slots = self._slots(entity, data)
            if op.previous is None:
                await self.db.insert_record(
                    ctx.tenant, entity.key, op.record_id, stored, slots, actor, now
                )
                version = 1
            else:
                new_version = await self.db.update_record(
                    ctx.tenant,
                    entity.key,
                    op.record_id,
                    op.previous.version,
                    stored,
                    slots,
                    actor,
                    now,
                )
                if new_version is None:
                    raise Conflict(
                        f"{entity.key} '{op.record_id}' was changed by someone else",
                        [Problem("CONFLICT", "the record has a newer version", "")],
                    )
                version = new_version
            old_stored = self._storage(entity, previous_data)
            op.changes = self._diff(entity, old_stored, stored)
            record = Record(
                id=op.record_id,
                entity=entity.key,
                version=version,
                data=data,
                created_at=op.previous.created_at if op.previous else now,
                created_by=op.previous.created_by if op.previous else actor,
                updated_at=now,
                updated_by=actor,
            )
            await self._run_hook("post_operation", self.hooks.post_operation(ctx, op, record))
            await self._finish(ctx, entity, op, record, now)
            await self.processes.after_write(ctx, entity, op, record, previous_data)
        return record

    async def _validated(
        self,
        ctx: CallContext,
        entity: EntityDef,
        op: Operation,
        previous_data: Mapping[str, Any],
        *,
        checked: Mapping[str, Any] | None = None,
        hooks_ran: bool = True,
        lookup: ReferenceLookup | None = None,
    ) -> dict[str, Any]:
        """The record's data as it will be stored, after the pre_operation hooks.

        Re-checks the values (hooks may have set some), applies computed fields,
        then checks required fields, references and rules; raises with every
        problem. ``checked`` holds the values as they were checked before the
        hooks: a value still the very same immutable object is not checked
        twice (``core.bulk``); lists and objects, which a hook may change in
        place, are unless no hook ran.
        """
        if checked is None:
            # Hooks may have set values: check them like user input.
            op.values = self._check_values(ctx, entity, op.values, trusted=True)
        else:
            fresh = {
                k: v
                for k, v in op.values.items()
                if checked.get(k, _UNSET) is not v or (hooks_ran and isinstance(v, list | dict))
            }
            if fresh:
                rechecked = self._check_values(ctx, entity, fresh, trusted=True)
                op.values = {k: rechecked.get(k, v) for k, v in op.values.items()}
        data = {**previous_data, **op.values}
        data = {k: v for k, v in data.items() if v is not None}
        data = self.computed.apply(ctx, entity, data, previous_data or None)
        problems = self._required(entity, data)
        problems += await self._check_references(ctx, entity, op.values, lookup)
        if not problems:
            problems += await self.processes.rule_problems(
                ctx, entity, data, previous_data if op.previous else None, op.action
            )
        if problems:
            raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)
        return data

    async def _finish(
        self, ctx: CallContext, entity: EntityDef, op: Operation, record: Record, now: Any
    ) -> None:
        audit, message = self._journal(ctx, entity, op, record, now)
        await self.db.append_audit(
            ctx.tenant, entity.key, record.id, audit.action, audit.actor, now, audit.diff
        )
        await self.db.enqueue(
            ctx.tenant, message.topic, message.payload, message.idempotency_key, now
        )

    @staticmethod
    def _journal(
        ctx: CallContext, entity: EntityDef, op: Operation, record: Record, now: Any
    ) -> tuple[NewAudit, NewMessage]:
        """The audit entry and the outbox message a write leaves."""
        actor = ctx.principal.user_id
        action = op.action
        diff = dict(op.changes)
        if op.action == "transition":
            action = f"transition:{op.transition}" if op.transition else "state"
            if op.comment:
                diff["_comment"] = op.comment
        payload = {
            "entity": entity.key,
            "id": record.id,
            "version": record.version,
            "action": op.action,
            "actor": actor,
            "changes": op.changes,
            "transition": op.transition,
            "comment": op.comment,
        }
        return (
            NewAudit(record.id, entity.key, action, actor, now, diff),
            NewMessage(
                _TOPICS[op.action], payload, f"{record.id}:{record.version}:{op.action}", now
            ),
        )

    # -- reads -------------------------------------------------------------

    @staticmethod
    def _masked(acc: authz.Access, record: Record) -> Record:
        if acc.readable is None:
            return record
        return dataclasses.replace(record, data=acc.visible(record.data))

    async def _access(self, ctx: CallContext, edef: EntityDef) -> authz.Access:
        """The caller's access to ``edef``, with their team resolved for ``team`` scope."""
        acc = authz.access(ctx, edef)
        if not acc.team:
            return acc
        members = ctx.extra.get(_TEAM)
        if members is None:  # once per call: the org tree does not change mid-request
            members = ctx.extra[_TEAM] = await self.db.team_of(ctx.tenant, ctx.principal.user_id)
        return dataclasses.replace(acc, members=members)

    @staticmethod
    def _in_scope(ctx: CallContext, acc: authz.Access, record: Record) -> bool:
        if not acc.own_only:
            return True
        owners = acc.owners(ctx.principal.user_id)
        if acc.owner_field == "created_by":
            return record.created_by in owners
        return record.data.get(acc.owner_field) in owners

    async def _load(
        self,
        ctx: CallContext,
        edef: EntityDef,
        id: str,
        acc: authz.Access,
        *,
        reading: bool = False,
    ) -> Record:
        """The whole record (unmasked), if it exists and is within the caller's scope."""
        row = await self.db.get_record(ctx.tenant, edef.key, id)
        record = self._record(edef, row) if row is not None else None
        if (
            reading
            and record is not None
            and not self._in_scope(ctx, acc, record)
            # An approver reads what they are asked to approve, beyond their scope.
            and await self.db.approvals.is_asked(ctx.tenant, record.id, ctx.principal.user_id)
        ):
            return record
        if record is None or not self._in_scope(ctx, acc, record):
            raise NotFound(
                f"no {edef.key} with id '{id}'", [Problem("NOT_FOUND", "not found", "id")]
            )
        return record

    async def get(self, ctx: CallContext, entity: str, id: str) -> Record:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "read")
        acc = await self._access(ctx, edef)
        return self._masked(acc, await self._load(ctx, edef, id, acc, reading=True))

    async def get_many(
        self, ctx: CallContext, entity: str, ids: Sequence[str]
    ) -> dict[str, Record]:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "read")
        acc = await self._access(ctx, edef)
        rows = await self.db.get_records(ctx.tenant, entity, list(dict.fromkeys(ids)))
        records = (self._record(edef, row) for row in rows.values())
        return {r.id: self._masked(acc, r) for r in records if self._in_scope(ctx, acc, r)}

    @staticmethod
    def _check_readable(
        edef: EntityDef, acc: authz.Access, fields: Sequence[str], what: str
    ) -> None:
        denied = [f for f in fields if f in edef.fields and not acc.can_read(f)]
        if denied:
            raise Forbidden(
                f"your roles do not allow {what} these fields",
                [
                    Problem(
                        "FIELD_HIDDEN",
                        f"you may not {what} this field",
                        edef.fields[f].graphql_name,
                    )
                    for f in denied
                ],
            )

    def _scoped_filter(
        self, ctx: CallContext, edef: EntityDef, acc: authz.Access, flt: Filter | None
    ) -> Filter | None:
        """The caller's filter in storage form, narrowed to the records in scope."""
        if flt is not None:
            self._check_readable(edef, acc, _filter_fields(flt), "filter on")
        stored = self._storage_filter(ctx, edef, flt) if flt is not None else None
        if not acc.own_only:
            return stored
        owners = sorted(acc.owners(ctx.principal.user_id))
        mine = (
            Condition(acc.owner_field, "eq", owners[0])
            if len(owners) == 1
            else Condition(acc.owner_field, "in", owners)
        )
        return mine if stored is None else And((mine, stored))

    def _storage_filter(self, ctx: CallContext, entity: EntityDef, flt: Filter) -> Filter:
        if isinstance(flt, And):
            return And(tuple(self._storage_filter(ctx, entity, i) for i in flt.items))
        if isinstance(flt, Or):
            return Or(tuple(self._storage_filter(ctx, entity, i) for i in flt.items))
        f: FieldDef | None = entity.fields.get(flt.field)
        if f is None and flt.field not in SYSTEM_FIELDS:
            raise BadRequest(
                f"'{entity.key}' has no field '{flt.field}' to filter on",
                [Problem("UNKNOWN_FIELD", "unknown field", flt.field)],
            )
        try:
            value = condition_value(f, flt.op, flt.value, ctx.model)
        except Exception as exc:
            raise ValidationFailed(
                "invalid filter value",
                [
                    Problem(
                        "TYPE",
                        str(exc) or "invalid filter value",
                        f.graphql_name if f else flt.field,
                    )
                ],
            ) from None
        return Condition(flt.field, flt.op, value)

    async def list(
        self,
        ctx: CallContext,
        entity: str,
        filter: Filter | None,
        order: Sequence[OrderBy],
        first: int,
        after: str | None,
    ) -> tuple[list[Record], Page]:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "read")
        acc = await self._access(ctx, edef)
        self._check_readable(edef, acc, [o.field for o in order], "sort by")
        stored_filter = self._scoped_filter(ctx, edef, acc, filter)
        page = await self.db.query_records(ctx.tenant, edef, stored_filter, order, first, after)
        return [self._masked(acc, self._record(edef, row)) for row in page.rows], page

    async def iterate(
        self,
        ctx: CallContext,
        entity: str,
        filter: Filter | None = None,
        order: Sequence[OrderBy] = (),
        *,
        page_size: int = 200,
    ) -> AsyncIterator[Record]:
        """Every record :meth:`list` gives, a page at a time (reports, sweeps)."""
        after: str | None = None
        while True:
            records, page = await self.list(ctx, entity, filter, order, page_size, after)
            for record in records:
                yield record
            if not page.has_next:
                return
            after = page.end_cursor

    async def count(self, ctx: CallContext, entity: str, filter: Filter | None) -> int:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "read")
        acc = await self._access(ctx, edef)
        return await self.db.count_records(
            ctx.tenant, edef, self._scoped_filter(ctx, edef, acc, filter)
        )

    async def audit(self, ctx: CallContext, entity: str, id: str) -> _Rows:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "read")
        acc = await self._access(ctx, edef)
        await self._load(ctx, edef, id, acc, reading=True)
        entries = await self.db.audit_for(ctx.tenant, id)
        if acc.readable is None:
            return entries
        # History must not reveal what the record itself hides.
        return [{**e, "diff": acc.visible(e.get("diff") or {})} for e in entries]

    async def users_by_email(
        self, ctx: CallContext, emails: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The tenant's users with these emails (lower-cased) as ``{id, email, name}``.

        Tenant settings name users by email (assignment rules, quotas); this
        gives the ids records store. Unknown emails are left out.
        """
        out: dict[str, dict[str, Any]] = {}
        for email in dict.fromkeys(e.strip().lower() for e in emails):
            user = await self.db.get_user(ctx.tenant, email)
            if user is not None:
                out[email] = {"id": user["id"], "email": email, "name": user.get("name") or ""}
        return out

    async def user_names(self, ctx: CallContext, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for uid in dict.fromkeys(ids):
            user = await self.db.get_user_by_id(ctx.tenant, uid)
            if user is not None:
                out[uid] = {"id": uid, "email": user["email"], "name": user.get("name") or ""}
        return out

    async def search_users(self, ctx: CallContext, search: str | None, first: int) -> _Rows:
        """Active users of the caller's tenant whose name or email contains ``search``
        (ASCII letters in any case), by name, at most ``first``, as ``{id, email, name}``."""
        return await self.db.search_users(ctx.tenant, search, first)

    # -- writes ------------------------------------------------------------

    async def create(self, ctx: CallContext, entity: str, values: Mapping[str, Any]) -> Record:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "create")
        acc = await self._access(ctx, edef)
        op = self._create_operation(ctx, edef, acc, values)
        return self._masked(acc, await self._write(ctx, edef, op, {}))

    def _create_operation(
        self, ctx: CallContext, edef: EntityDef, acc: authz.Access, values: Mapping[str, Any]
    ) -> Operation:
        """A create's operation: values checked, defaults and initial state set, in scope."""
        acc.check_writes(edef, values)
        checked = self._check_values(ctx, edef, values, creating=True)
        problems = self.processes.prepare_create(ctx, edef, checked)
        problems += self._required(edef, checked)
        if problems:
            raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)
        if acc.own_only and acc.owner_field != "created_by":
            # A user limited to their own (or team's) records creates records in scope.
            checked.setdefault(acc.owner_field, ctx.principal.user_id)
            if checked[acc.owner_field] not in acc.owners(ctx.principal.user_id):
                raise Forbidden(
                    "you may only create records you (or your team) own",
                    [
                        Problem(
                            "FORBIDDEN",
                            "must be yourself or someone in your team",
                            edef.fields[acc.owner_field].graphql_name,
                        )
                    ],
                )
        return Operation(
            entity=edef.key, action="create", record_id=uuid.uuid4().hex, values=checked
        )

    async def update(
        self,
        ctx: CallContext,
        entity: str,
        id: str,
        values: Mapping[str, Any],
        expected_version: int | None,
    ) -> Record:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "update")
        acc = await self._access(ctx, edef)
        acc.check_writes(edef, values)
        checked = self._check_values(ctx, edef, values)
        for _attempt in range(_UPDATE_RETRIES):
            current = await self._load(ctx, edef, id, acc)
            if expected_version is not None and current.version != expected_version:
                raise Conflict(
                    f"{entity} '{id}' is at version {current.version}, not {expected_version}",
                    [Problem("CONFLICT", "the record has a newer version", "expectedVersion")],
                )
            problems = self.processes.check_update(ctx, edef, current, checked)
            if problems:
                raise ValidationFailed(f"{len(problems)} invalid value(s)", problems)
            op = Operation(
                entity=entity,
                action="update",
                record_id=id,
                values=dict(checked),
                previous=current,
            )
            try:
                return self._masked(acc, await self._write(ctx, edef, op, current.data))
            except Conflict:
                # Without an expected version the caller asked for its fields to win:
                # re-read and apply them on the newest version (no lost update).
                if expected_version is not None:
                    raise
        raise Conflict(f"{entity} '{id}' is changing too often; try again")

    async def delete(self, ctx: CallContext, entity: str, id: str) -> Record:
        edef = self._entity(ctx, entity)
        authz.require(ctx, entity, "delete")
        acc = await self._access(ctx, edef)
        current = await self._load(ctx, edef, id, acc)
        op = Operation(entity=entity, action="delete", record_id=id, values={}, previous=current)
        ctx.extra.setdefault("service", self)
        await self._run_hook("pre_validate", self.hooks.pre_validate(ctx, op))
        now = ctx.clock()
        async with self.db.transaction():
            await self._run_hook("pre_operation", self.hooks.pre_operation(ctx, op))
            version = await self.db.archive_record(
                ctx.tenant, entity, id, current.version, ctx.principal.user_id, now
            )
            if version is None:
                raise Conflict(f"{entity} '{id}' was changed by someone else")
            for key, f in edef.fields.items():
                if f.unique and current.data.get(key) is not None:
                    await self.db.release_unique(
                        ctx.tenant, entity, key, unique_key(f, current.data[key]), id
                    )
            op.changes = self._diff(edef, self._storage(edef, current.data), {})
            record = Record(
                id=id,
                entity=entity,
                version=version,
                data=current.data,
                created_at=current.created_at,
                created_by=current.created_by,
                updated_at=now,
                updated_by=ctx.principal.user_id,
            )
            await self._run_hook("post_operation", self.hooks.post_operation(ctx, op, record))
            await self._finish(ctx, edef, op, record, now)
            await self.processes.after_write(ctx, edef, op, record, current.data)
        return self._masked(acc, record)

    # -- plugin events and units of work --------------------------------------

    def atomic(self) -> Any:
        """One transaction around several service calls (a plugin action): all or nothing.

        Calls inside join it; an exception rolls every write of the block back.
        """
        return self.db.transaction()

    async def announce(self, ctx: CallContext, event: str, payload: Mapping[str, Any]) -> None:
        """Tell every enabled plugin about a business event (``tessera_plugin_event``).

        Runs in the caller's transaction: a handler that raises rolls the
        announcing write back with it.
        """
        ctx.extra.setdefault("service", self)
        async with self.db.transaction():
            await self._run_hook("plugin_event", self.hooks.plugin_event(ctx, event, payload))

    # -- processes (core.workflow.engine) ------------------------------------

    async def transition(
        self,
        ctx: CallContext,
        entity: str,
        id: str,
        transition: str,
        comment: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Record:
        """Run a workflow transition (or open its approval); see ``ProcessEngine``."""
        edef = self._entity(ctx, entity)
        record = await self.processes.transition(ctx, entity, id, transition, comment, values)
        return self._masked(await self._access(ctx, edef), record)


def _filter_fields(flt: Filter) -> list[str]:
    if isinstance(flt, And | Or):
        return [f for item in flt.items for f in _filter_fields(item)]
    return [flt.field]
