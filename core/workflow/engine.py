"""Running processes: rules, transitions, approvals, automations and timers (D6).

The engine works inside :class:`core.service.RecordService`'s write path, so a
transition, an approval decision or an automation's action is checked,
audited and rolled back exactly like a user's edit:

- **rules** are evaluated on every create/update after computed fields; a
  false rule refuses the write with its localised message.
- **transitions** (``transition<Entity>``) check the state, roles, required
  fields, comment and guard; if the transition needs approval, an approval
  request is opened instead (the record may wait in a pending state), else the
  record moves and the transition's actions run.
- **approvals** advance step by step ("any of" or "all of" the step's
  approvers); a rejection sends the record back. Approvals are pinned to the
  config version they started under.
- **automations** run in the same transaction after a write, for the events
  created, updated, field_changed, transitioned and timer. Their writes may
  trigger further automations up to the tenant's ``automation_depth``; going
  deeper refuses the whole write with the chain that looped. A ``set_fields``
  that changes nothing writes nothing, so idempotent rules settle by
  themselves.
- **timers** tied to a date field are rescheduled whenever that field
  changes; others start with a ``start_timer`` action. ``crm worker`` fires
  them (``fire_timer``) and runs the ``timer`` automations.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from core import authz
from core.context import CallContext, Operation, Principal, Record, utcnow
from core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    TesseraError,
    ValidationFailed,
)
from core.expressions import Expression, ExpressionError, bindings, from_cel
from core.expressions.values import record_to_cel
from core.metadata import EntityDef, TenantModel, label_in
from core.query import And, Condition, Filter, Or, OrderBy
from core.workflow.definitions import (
    Action,
    Automation,
    Offset,
    Processes,
    Transition,
    Workflow,
)

if TYPE_CHECKING:
    from core.service import RecordService

__all__ = ["AutomationDepthExceeded", "ProcessEngine", "TransitionOption"]

log = logging.getLogger(__name__)

#: ``CallContext.extra`` keys of a pinned run: its config version, and its timer's id.
CONFIG_VERSION = "config_version"
RUN_ID = "run_id"

#: The automations running now, outermost first (bounded by ``automation_depth``).
_CHAIN: ContextVar[tuple[str, ...]] = ContextVar("tessera_automation_chain", default=())
#: The transition being completed by ``_move`` (its definition may come from a pinned config).
_COMPLETING: ContextVar[Transition | None] = ContextVar("tessera_completing", default=None)
_PLACEHOLDER = re.compile(r"\{(record|related)\.([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?\}")


class AutomationDepthExceeded(TesseraError):
    """Automations triggered one another deeper than the tenant allows."""

    code = "AUTOMATION_DEPTH"


@dataclass(frozen=True, slots=True)
class TransitionOption:
    """A transition as offered to one caller for one record."""

    key: str
    label: str
    to: str
    to_label: str
    allowed: bool
    reason: str | None
    #: A stable code for ``reason``: TRANSITION_NOT_ALLOWED, TRANSITION_FORBIDDEN,
    #: TRANSITION_GUARD, APPROVAL_PENDING or REQUIRED.
    reason_code: str | None
    needs_approval: bool
    required_fields: tuple[str, ...]
    comment_required: bool


def _processes(model: TenantModel) -> Processes:
    return model.processes


def _localised(ctx: CallContext, labels: Mapping[str, str], default: str = "") -> str:
    return label_in(labels, ctx.locale, (ctx.model.default_locale, "en"), default)


def _system_ctx(ctx: CallContext, user_id: str, *, name: str = "") -> CallContext:
    """Acting for a process: every rule of the service applies, role limits do not."""
    p = ctx.principal
    principal = Principal(
        tenant=p.tenant,
        user_id=user_id,
        email=p.email,
        roles=p.roles,
        name=name or p.name,
        locale=p.locale,
        is_system=True,
    )
    return CallContext(model=ctx.model, principal=principal, clock=ctx.clock, extra=ctx.extra)


class ProcessEngine:
    def __init__(self, service: RecordService) -> None:
        self.service = service
        self.db = service.db
        self.plugins = service.hooks
        #: Set by the runtime: the model of a tenant's config version (pinned runs).
        self.model_at: Callable[[str, int], Awaitable[TenantModel]] | None = None

    # -- expressions ----------------------------------------------------------

    async def _related(
        self, ctx: CallContext, entity: EntityDef, data: Mapping[str, Any], keys: Iterable[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in keys:
            f = entity.fields.get(key)
            target_id = data.get(key)
            if f is None or not f.target or not target_id:
                continue
            row = await self.db.get_record(ctx.tenant, f.target, str(target_id))
            if row is None:
                continue
            target = ctx.model.entities[f.target]
            rec = self.service._record(target, row)
            values = {**rec.data, **_system_values(rec)}
            out[key] = record_to_cel(target, values)
        return out

    async def evaluate(
        self,
        ctx: CallContext,
        expr: Expression,
        entity: EntityDef,
        data: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
    ) -> Any:
        """Evaluate a process expression over a record (``related`` loaded on demand)."""
        variables = bindings(
            entity,
            data,
            previous=previous,
            principal=ctx.principal,
            now=ctx.clock(),
            timezone=ctx.model.timezone,
        )
        used = expr.usage.get("related", frozenset())
        keys = entity.fields.keys() if used is None else used
        variables["related"] = await self._related(ctx, entity, data, keys) if keys else {}
        return expr.evaluate(variables)

    async def _holds(
        self,
        ctx: CallContext,
        expr: Expression | None,
        entity: EntityDef,
        data: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
    ) -> bool:
        if expr is None:
            return True
        return bool(await self.evaluate(ctx, expr, entity, data, previous) is True)

    # -- checks on ordinary writes -------------------------------------------------

    def prepare_create(
        self, ctx: CallContext, entity: EntityDef, values: dict[str, Any]
    ) -> list[Problem]:
        """New records start in the workflow's initial state."""
        wf = _processes(ctx.model).workflow_of(entity.key)
        if wf is None:
            return []
        given = values.get(wf.field)
        if given is None:
            values[wf.field] = wf.initial
            return []
        if given != wf.initial and not ctx.principal.is_system:
            label = _localised(ctx, wf.states[wf.initial].label, wf.initial)
            return [
                Problem(
                    "STATE_NOT_INITIAL",
                    f"new records start in '{label}'; use a transition to move them",
                    entity.fields[wf.field].graphql_name,
                )
            ]
        return []

    def check_update(
        self, ctx: CallContext, entity: EntityDef, current: Record, values: Mapping[str, Any]
    ) -> list[Problem]:
        """The status moves only by transitions; a state may lock fields."""
        wf = _processes(ctx.model).workflow_of(entity.key)
        if wf is None or ctx.principal.is_system:
            return []
        problems: list[Problem] = []
        state = wf.states.get(str(current.data.get(wf.field)))
        for key, value in values.items():
            if key not in entity.fields or current.data.get(key) == value:
                continue
            name = entity.fields[key].graphql_name
            if key == wf.field:
                problems.append(
                    Problem(
                        "STATUS_BY_TRANSITION",
                        "the status changes only through a transition",
                        name,
                    )
                )
            elif state is not None and state.locks(key):
                label = _localised(ctx, state.label, state.key)
                problems.append(
                    Problem("READ_ONLY_IN_STATE", f"cannot be changed while '{label}'", name)
                )
        return problems

    async def rule_problems(
        self,
        ctx: CallContext,
        entity: EntityDef,
        data: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        action: str,
    ) -> list[Problem]:
        rules = _processes(ctx.model).rules.get(entity.key, ())
        problems: list[Problem] = []
        when = "create" if previous is None else "update"
        for rule in rules:
            if when not in rule.on:
                continue
            path = entity.fields[rule.field].graphql_name if rule.field else ""
            try:
                ok = await self._holds(ctx, rule.expression, entity, data, previous)
            except ExpressionError as exc:
                problems.append(
                    Problem(
                        "RULE_ERROR",
                        f"{_localised(ctx, rule.message, rule.key)} (rule '{rule.key}' "
                        f"could not be evaluated: {exc})",
                        path,
                    )
                )
                continue
            if not ok:
                problems.append(
                    Problem("RULE_FAILED", _localised(ctx, rule.message, rule.key), path)
                )
        problems += await self._form_requirements(ctx, entity, data, previous)
        return problems

    async def _form_requirements(
        self,
        ctx: CallContext,
        entity: EntityDef,
        data: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
    ) -> list[Problem]:
        """Form fields whose ``required_when`` holds, shown, and left empty.

        A field the caller may not write is not asked of them (the form shows it
        read-only), nor is one its ``visible_when`` hides. Forms speak to people:
        writes by the system (automations, timers) are not held to them.
        """
        requirements = _processes(ctx.model).requirements.get(entity.key, ())
        if not requirements or ctx.principal.is_system:
            return []
        problems: list[Problem] = []
        writable = authz.access(ctx, entity).writable
        for req in requirements:
            if data.get(req.field) not in (None, "", []) or entity.fields[req.field].read_only:
                continue
            if writable is not None and req.field not in writable:
                continue
            try:
                if not await self._holds(ctx, req.required_when, entity, data, previous):
                    continue
                if req.visible_when is not None and not await self._holds(
                    ctx, req.visible_when, entity, data, previous
                ):
                    continue
            except ExpressionError:
                continue  # the screens show such a field as optional too
            problems.append(
                Problem("REQUIRED", "this field is required", entity.fields[req.field].graphql_name)
            )
        return problems

    # -- transitions ------------------------------------------------------------

    def _workflow(self, ctx: CallContext, entity: EntityDef) -> Workflow:
        wf = _processes(ctx.model).workflow_of(entity.key)
        if wf is None:
            raise BadRequest(
                f"'{entity.key}' has no workflow",
                [Problem("NO_WORKFLOW", "this entity has no workflow", "transition")],
            )
        return wf

    def _role_allowed(self, ctx: CallContext, t: Transition) -> bool:
        p = ctx.principal
        if not t.roles or p.is_system or "admin" in p.roles or not ctx.model.roles:
            return True
        return bool(set(t.roles) & set(p.roles))

    async def _refusal(
        self,
        ctx: CallContext,
        entity: EntityDef,
        wf: Workflow,
        t: Transition,
        record: Record,
        data: Mapping[str, Any],
    ) -> Problem | None:
        """Why ``t`` cannot run on ``record`` now (None: it can)."""
        state = record.data.get(wf.field)
        if not t.leaves(None if state is None else str(state), wf):
            here = wf.states.get(str(state))
            label = _localised(ctx, here.label, str(state)) if here else str(state)
            return Problem(
                "TRANSITION_NOT_ALLOWED",
                f"'{_localised(ctx, t.label, t.key)}' is not possible from '{label}'",
                "transition",
            )
        if not self._role_allowed(ctx, t) or not authz.allowed(ctx, entity.key, "transition"):
            return Problem(
                "TRANSITION_FORBIDDEN", "your roles do not allow this transition", "transition"
            )
        return None

    async def _guard_refusal(
        self,
        ctx: CallContext,
        entity: EntityDef,
        t: Transition,
        record: Record,
        data: Mapping[str, Any],
    ) -> Problem | None:
        try:
            if not await self._holds(ctx, t.guard, entity, data, record.data):
                message = (
                    _localised(ctx, t.guard_message) or "the transition's condition is not met"
                )
                return Problem("TRANSITION_GUARD", message, "transition")
        except ExpressionError as exc:
            return Problem(
                "TRANSITION_GUARD", f"the condition could not be checked: {exc}", "transition"
            )
        return None

    async def options(self, ctx: CallContext, entity_key: str, id: str) -> list[TransitionOption]:
        """Every transition of the record's workflow, with whether the caller may run it now."""
        entity = self.service._entity(ctx, entity_key)
        wf = _processes(ctx.model).workflow_of(entity.key)
        if wf is None:
            return []
        authz.require(ctx, entity.key, "read")
        acc = await self.service._access(ctx, entity)
        record = await self.service._load(ctx, entity, id, acc)
        pending = await self.db.approvals.pending_for_record(ctx.tenant, id)
        out: list[TransitionOption] = []
        state = record.data.get(wf.field)
        for t in wf.transitions.values():
            if not t.leaves(None if state is None else str(state), wf):
                continue
            problem = await self._refusal(ctx, entity, wf, t, record, record.data)
            missing = [k for k in t.required_fields if record.data.get(k) is None]
            if problem is None and not missing:
                problem = await self._guard_refusal(ctx, entity, t, record, record.data)
            if pending is not None:
                problem = Problem("APPROVAL_PENDING", "an approval is pending", "transition")
            if problem is None and missing:
                names = ", ".join(_localised(ctx, entity.fields[k].label, k) for k in missing)
                problem = Problem("REQUIRED", f"fill in first: {names}", "transition")
            reason = problem.message if problem else None
            needs = False
            if t.approval is not None:
                try:
                    needs = await self._holds(ctx, t.approval.when, entity, record.data, None)
                except ExpressionError:
                    needs = True
            target = wf.states.get(t.to)
            out.append(
                TransitionOption(
                    key=t.key,
                    label=_localised(ctx, t.label, t.key),
                    to=t.to,
                    to_label=_localised(ctx, target.label, t.to) if target else t.to,
                    allowed=reason is None,
                    reason=reason,
                    reason_code=problem.code if problem else None,
                    needs_approval=needs,
                    required_fields=t.required_fields,
                    comment_required=t.comment_required,
                )
            )
        return out

    async def transition(
        self,
        ctx: CallContext,
        entity_key: str,
        id: str,
        name: str,
        comment: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Record:
        """Run transition ``name`` on a record (or open its approval)."""
        entity = self.service._entity(ctx, entity_key)
        wf = self._workflow(ctx, entity)
        t = wf.transitions.get(name)
        if t is None:
            known = ", ".join(wf.transitions) or "none"
            raise ValidationFailed(
                f"'{entity.key}' has no transition '{name}'",
                [
                    Problem(
                        "TRANSITION_UNKNOWN", f"unknown transition (known: {known})", "transition"
                    )
                ],
            )
        acc = await self.service._access(ctx, entity)
        given = dict(values or {})
        acc.check_writes(entity, given)
        checked = self.service._check_values(ctx, entity, given) if given else {}
        if wf.field in checked:
            raise ValidationFailed(
                "the status is set by the transition",
                [
                    Problem(
                        "STATUS_BY_TRANSITION",
                        "set by the transition",
                        entity.fields[wf.field].graphql_name,
                    )
                ],
            )
        comment = (comment or "").strip()
        async with self.db.transaction():
            # One transition (or approval request) per record at a time.
            await self.db.lock_record(ctx.tenant, entity.key, id)
            current = await self.service._load(ctx, entity, id, acc)
            problems = self.check_update(ctx, entity, current, checked)
            data = {**current.data, **checked}
            refusal = await self._refusal(ctx, entity, wf, t, current, data)
            if refusal is not None:
                raise (Forbidden if refusal.code == "TRANSITION_FORBIDDEN" else ValidationFailed)(
                    refusal.message, [refusal]
                )
            if await self.db.approvals.pending_for_record(ctx.tenant, id) is not None:
                raise Conflict(
                    "an approval is pending on this record",
                    [Problem("APPROVAL_PENDING", "wait for the pending approval", "transition")],
                )
            problems += [
                Problem("REQUIRED", "required by this transition", entity.fields[k].graphql_name)
                for k in t.required_fields
                if data.get(k) is None
            ]
            if t.comment_required and not comment:
                problems.append(Problem("REQUIRED", "this transition needs a comment", "comment"))
            if problems:
                raise ValidationFailed(f"{len(problems)} problem(s) with this transition", problems)
            refusal = await self._guard_refusal(ctx, entity, t, current, data)
            if refusal is not None:
                raise ValidationFailed(refusal.message, [refusal])
            if t.approval is not None and await self._holds(
                ctx, t.approval.when, entity, data, current.data
            ):
                return await self._request_approval(ctx, entity, wf, t, current, checked, comment)
            return await self._move(ctx, entity, wf, t, current, checked, t.to, comment)

    async def _move(
        self,
        ctx: CallContext,
        entity: EntityDef,
        wf: Workflow,
        t: Transition,
        current: Record,
        values: Mapping[str, Any],
        to: str,
        comment: str,
        *,
        complete: bool = True,
    ) -> Record:
        """Write the new state (and values); run the transition's actions when ``complete``."""
        op = Operation(
            entity=entity.key,
            action="transition",
            record_id=current.id,
            values={**values, wf.field: to},
            previous=current,
            transition=t.key if complete else None,
            comment=comment,
        )
        token = _COMPLETING.set(t if complete else None)
        try:
            record = await self.service._write(ctx, entity, op, current.data)
        finally:
            _COMPLETING.reset(token)
        # The transition's actions and automations may have changed it since.
        row = await self.db.get_record(ctx.tenant, entity.key, record.id)
        return self.service._record(entity, row) if row is not None else record

    async def _request_approval(
        self,
        ctx: CallContext,
        entity: EntityDef,
        wf: Workflow,
        t: Transition,
        current: Record,
        values: Mapping[str, Any],
        comment: str,
    ) -> Record:
        assert t.approval is not None
        now = ctx.clock()
        state = str(current.data.get(wf.field))
        version = await self._version(ctx)
        approval_id = await self.db.approvals.create(
            ctx.tenant,
            entity=entity.key,
            record_id=current.id,
            workflow=wf.key,
            transition=t.key,
            from_state=state,
            to_state=t.to,
            config_version=version,
            requested_by=ctx.principal.user_id,
            requested_at=now,
            comment=comment,
        )
        record = current
        pending = t.approval.pending_state
        if values or (pending is not None and pending != state):
            record = await self._move(
                ctx, entity, wf, t, current, values, pending or state, comment, complete=False
            )
        # Every step must have someone to decide it, or the request could never finish.
        for step in range(1, len(t.approval.steps)):
            await self._step_approvers(ctx, entity, t, record, step, ctx.principal.user_id)
        await self._open_step(ctx, entity, t, record, approval_id, 0, ctx.principal.user_id)
        await self.db.append_audit(
            ctx.tenant,
            entity.key,
            current.id,
            "approval_requested",
            ctx.principal.user_id,
            now,
            {"transition": t.key, "approval": approval_id, "comment": comment},
        )
        return record

    async def _approvers(
        self, ctx: CallContext, entity: EntityDef, t: Transition, record: Record, step: int
    ) -> list[dict[str, Any]]:
        assert t.approval is not None
        spec = t.approval.steps[step]
        users: dict[str, dict[str, Any]] = {}
        if spec.roles:
            for u in await self.db.users_with_roles(ctx.tenant, spec.roles):
                users[u["id"]] = u
        if spec.manager_of is not None:
            whose = (
                record.created_by
                if spec.manager_of == "created_by"
                else record.updated_by
                if spec.manager_of == "updated_by"
                else record.data.get(spec.manager_of)
            )
            person = await self.db.get_user_by_id(ctx.tenant, str(whose)) if whose else None
            manager_id = person.get("manager_id") if person else None
            manager = await self.db.get_user_by_id(ctx.tenant, manager_id) if manager_id else None
            if manager is not None and manager["active"]:
                users[manager["id"]] = manager
        return list(users.values())

    async def _step_approvers(
        self,
        ctx: CallContext,
        entity: EntityDef,
        t: Transition,
        record: Record,
        step: int,
        requester: str,
    ) -> list[dict[str, Any]]:
        """Who decides ``step`` (never the requester); APPROVERS_NONE if nobody can."""
        assert t.approval is not None
        spec = t.approval.steps[step]
        users = [
            u for u in await self._approvers(ctx, entity, t, record, step) if u["id"] != requester
        ]
        if not users:
            raise ValidationFailed(
                "nobody can approve this",
                [
                    Problem(
                        "APPROVERS_NONE",
                        f"no user can approve step '{_localised(ctx, spec.label, spec.key)}' "
                        "(no user has the approver role, or the owner has no manager)",
                        "transition",
                    )
                ],
            )
        return users

    async def _open_step(
        self,
        ctx: CallContext,
        entity: EntityDef,
        t: Transition,
        record: Record,
        approval_id: str,
        step: int,
        requester: str,
    ) -> None:
        assert t.approval is not None
        users = await self._step_approvers(ctx, entity, t, record, step, requester)
        await self.db.approvals.advance(ctx.tenant, approval_id, step)
        await self.db.approvals.assign(ctx.tenant, approval_id, step, [u["id"] for u in users])
        title = _title(entity, record)
        subject = f"{_localised(ctx, t.label, t.key)}: {title}"
        await self.db.enqueue(
            ctx.tenant,
            "notify.email",
            {
                "to": [u["email"] for u in users],
                "subject": subject,
                "body": f"{subject}\n{entity.key} {record.id}\napproval {approval_id}",
                "locale": ctx.model.default_locale,
                "entity": entity.key,
                "record_id": record.id,
                "approval_id": approval_id,
            },
            f"approval:{approval_id}:{step}:notify",
            ctx.clock(),
        )

    async def _version(self, ctx: CallContext) -> int:
        """The config version runs started now are pinned to: a pinned run's own, else current."""
        pinned = ctx.extra.get(CONFIG_VERSION)
        if isinstance(pinned, int):
            return pinned
        return await self.db.config_version(ctx.tenant) or 0

    # -- approval decisions -------------------------------------------------------

    async def _pinned(self, tenant: str, version: int, current: TenantModel) -> TenantModel:
        if self.model_at is None:
            return current
        try:
            return await self.model_at(tenant, version)
        except TesseraError:
            return current

    async def decide(
        self, ctx: CallContext, approval_id: str, approve: bool, comment: str | None = None
    ) -> dict[str, Any]:
        """Approve or reject the caller's part of an approval; returns the approval."""
        comment = (comment or "").strip()
        now = ctx.clock()
        me = ctx.principal.user_id
        async with self.db.transaction():
            # Decisions on one approval run one after the other ("all of" counts them).
            row = await self.db.approvals.get(ctx.tenant, approval_id, lock=True)
            if row is None:
                raise NotFound(
                    f"no approval '{approval_id}'", [Problem("NOT_FOUND", "not found", "id")]
                )
            if row["status"] != "pending":
                raise Conflict(
                    f"this approval is already {row['status']}",
                    [Problem("APPROVAL_CLOSED", f"already {row['status']}", "id")],
                )
            step = int(row["step"])
            decided = await self.db.approvals.decide(
                ctx.tenant,
                approval_id,
                step,
                me,
                "approved" if approve else "rejected",
                comment,
                now,
            )
            if not decided:
                raise Forbidden(
                    "you are not an approver waiting on this step",
                    [Problem("NOT_APPROVER", "you cannot decide this approval now", "id")],
                )
            if not approve and not comment:
                raise ValidationFailed(
                    "a rejection needs a comment",
                    [Problem("REQUIRED", "say why you reject", "comment")],
                )
            pinned = await self._pinned(ctx.tenant, int(row["config_version"]), ctx.model)
            wf = _processes(pinned).workflows.get(row["workflow"]) or self._workflow(
                ctx, self.service._entity(ctx, row["entity"])
            )
            t = wf.transitions[row["transition"]]
            assert t.approval is not None
            entity = self.service._entity(ctx, row["entity"])
            acting = _system_ctx(ctx, me)
            record = await self.service._load(
                acting, entity, row["record_id"], authz.access(acting, entity)
            )
            if not approve:
                await self.db.approvals.close(ctx.tenant, approval_id, "rejected", now)
                back = t.approval.reject_to or row["from_state"]
                if record.data.get(wf.field) != back:
                    await self._move(
                        acting, entity, wf, t, record, {}, back, comment, complete=False
                    )
                await self._approval_event(ctx, entity, record, row, "rejected", comment)
            else:
                assignees = [
                    a
                    for a in await self.db.approvals.assignees(ctx.tenant, [approval_id])
                    if a["step"] == step
                ]
                mode = t.approval.steps[step].mode if step < len(t.approval.steps) else "any"
                done = mode == "any" or all(a["decision"] == "approved" for a in assignees)
                if done and step + 1 < len(t.approval.steps):
                    await self._open_step(
                        acting, entity, t, record, approval_id, step + 1, row["requested_by"]
                    )
                elif done:
                    await self.db.approvals.close(ctx.tenant, approval_id, "approved", now)
                    await self._move(acting, entity, wf, t, record, {}, t.to, comment)
                    await self._approval_event(ctx, entity, record, row, "approved", comment)
            found = await self.db.approvals.get(ctx.tenant, approval_id)
            assert found is not None
            return found

    async def withdraw(
        self, ctx: CallContext, approval_id: str, comment: str | None = None
    ) -> dict[str, Any]:
        """The requester (or an admin) takes a pending request back; the record
        returns to the state it was requested from."""
        comment = (comment or "").strip()
        now = ctx.clock()
        async with self.db.transaction():
            row = await self.db.approvals.get(ctx.tenant, approval_id, lock=True)
            if row is None:
                raise NotFound(
                    f"no approval '{approval_id}'", [Problem("NOT_FOUND", "not found", "id")]
                )
            p = ctx.principal
            if row["requested_by"] != p.user_id and not (p.is_system or "admin" in p.roles):
                raise Forbidden(
                    "only the requester may withdraw a request",
                    [Problem("NOT_REQUESTER", "you did not request this approval", "id")],
                )
            if row["status"] != "pending":
                raise Conflict(
                    f"this approval is already {row['status']}",
                    [Problem("APPROVAL_CLOSED", f"already {row['status']}", "id")],
                )
            await self.db.approvals.close(ctx.tenant, approval_id, "withdrawn", now)
            entity = self.service._entity(ctx, row["entity"])
            pinned = await self._pinned(ctx.tenant, int(row["config_version"]), ctx.model)
            wf = _processes(pinned).workflows.get(row["workflow"])
            t = wf.transitions.get(row["transition"]) if wf else None
            acting = _system_ctx(ctx, p.user_id)
            record = await self.service._load(
                acting, entity, row["record_id"], authz.access(acting, entity)
            )
            if wf is not None and t is not None and record.data.get(wf.field) != row["from_state"]:
                await self._move(
                    acting, entity, wf, t, record, {}, row["from_state"], comment, complete=False
                )
            await self._approval_event(ctx, entity, record, row, "withdrawn", comment)
            found = await self.db.approvals.get(ctx.tenant, approval_id)
            assert found is not None
            return found

    async def _approval_event(
        self,
        ctx: CallContext,
        entity: EntityDef,
        record: Record,
        row: Mapping[str, Any],
        outcome: str,
        comment: str,
    ) -> None:
        now = ctx.clock()
        await self.db.append_audit(
            ctx.tenant,
            entity.key,
            record.id,
            f"approval_{outcome}",
            ctx.principal.user_id,
            now,
            {"transition": row["transition"], "approval": row["id"], "comment": comment},
        )
        requester = await self.db.get_user_by_id(ctx.tenant, row["requested_by"])
        payload: dict[str, Any] = {
            "entity": entity.key,
            "record_id": record.id,
            "approval_id": row["id"],
            "outcome": outcome,
            "comment": comment,
        }
        await self.db.enqueue(
            ctx.tenant, f"approval.{outcome}", payload, f"approval:{row['id']}:{outcome}", now
        )
        if requester is not None:
            subject = f"{outcome}: {_title(entity, record)}"
            await self.db.enqueue(
                ctx.tenant,
                "notify.email",
                {
                    **payload,
                    "to": [requester["email"]],
                    "subject": subject,
                    "body": f"{subject}\n{comment}",
                    "locale": requester.get("locale") or ctx.model.default_locale,
                },
                f"approval:{row['id']}:{outcome}:notify",
                now,
            )

    async def approvals_view(
        self, ctx: CallContext, rows: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Approvals with their approvers and labels, for GraphQL."""
        assignees = await self.db.approvals.assignees(ctx.tenant, [r["id"] for r in rows])
        out: list[dict[str, Any]] = []
        for row in rows:
            pinned = await self._pinned(ctx.tenant, int(row["config_version"]), ctx.model)
            wf = _processes(pinned).workflows.get(row["workflow"])
            t = wf.transitions.get(row["transition"]) if wf else None
            steps = []
            if t is not None and t.approval is not None:
                for i, s in enumerate(t.approval.steps):
                    steps.append(
                        {
                            "index": i,
                            "key": s.key,
                            "label": _localised(ctx, s.label, s.key),
                            "mode": s.mode,
                            "approvers": [
                                a
                                for a in assignees
                                if a["approval_id"] == row["id"] and a["step"] == i
                            ],
                        }
                    )
            out.append(
                {
                    **row,
                    "transition_label": _localised(ctx, t.label, row["transition"])
                    if t
                    else row["transition"],
                    "steps": steps,
                }
            )
        return out

    async def inbox(self, ctx: CallContext) -> list[dict[str, Any]]:
        rows = await self.db.approvals.inbox(ctx.tenant, ctx.principal.user_id)
        return await self.approvals_view(ctx, rows)

    async def record_approvals(
        self, ctx: CallContext, entity_key: str, id: str
    ) -> list[dict[str, Any]]:
        entity = self.service._entity(ctx, entity_key)
        authz.require(ctx, entity.key, "read")
        await self.service._load(
            ctx, entity, id, await self.service._access(ctx, entity), reading=True
        )
        return await self.approvals_view(ctx, await self.db.approvals.for_record(ctx.tenant, id))

    # -- after every write: automations and timers -------------------------------------

    async def after_write(
        self,
        ctx: CallContext,
        entity: EntityDef,
        op: Operation,
        record: Record,
        previous: Mapping[str, Any],
    ) -> None:
        procs = _processes(ctx.model)
        if op.action == "delete":
            await self.db.jobs.cancel_timers(ctx.tenant, record.id, ctx.clock())
            pending = await self.db.approvals.pending_for_record(ctx.tenant, record.id)
            if pending is not None:  # nothing left to approve
                await self.db.approvals.close(ctx.tenant, pending["id"], "cancelled", ctx.clock())
            return
        changed = set(op.changes)
        events: list[tuple[str, Callable[[Automation], bool]]] = []
        if op.action == "create":
            events.append(("created", lambda a: True))
        elif op.action == "update":
            events.append(("updated", lambda a: True))
        wf = procs.workflow_of(entity.key)
        if op.action == "transition" and op.transition is not None:
            # A pinned approval completes the transition its config version defined.
            t = _COMPLETING.get()
            if t is None or t.key != op.transition:
                t = wf.transitions.get(op.transition) if wf else None
            if t is not None:
                await self.run_actions(
                    ctx, entity, record, previous, t.actions, f"transition:{t.key}"
                )
            state = record.data.get(wf.field) if wf else None
            events.append(
                (
                    "transitioned",
                    lambda a: (a.transition in (None, op.transition)) and (a.to in (None, state)),
                )
            )
        if changed and op.action != "create":
            events.append(("field_changed", lambda a: bool(a.fields & changed)))
        for timer in procs.field_timers(entity.key):
            assert timer.field is not None
            if op.action == "create" or timer.field in changed:
                await self._schedule_field_timer(ctx, entity, record, timer.key)
        for event, matches in events:
            for automation in procs.automations_for(entity.key, event):
                if matches(automation):
                    await self.run_automation(ctx, entity, record, previous, automation)

    async def run_automation(
        self,
        ctx: CallContext,
        entity: EntityDef,
        record: Record,
        previous: Mapping[str, Any] | None,
        automation: Automation,
    ) -> None:
        try:
            if not await self._holds(ctx, automation.when, entity, record.data, previous):
                return
        except ExpressionError as exc:
            log.warning("automation %s: condition failed: %s", automation.key, exc)
            return
        await self.run_actions(
            ctx, entity, record, previous, automation.actions, f"automation:{automation.key}"
        )

    async def run_actions(
        self,
        ctx: CallContext,
        entity: EntityDef,
        record: Record,
        previous: Mapping[str, Any] | None,
        actions: Sequence[Action],
        source: str,
    ) -> None:
        if not actions:
            return
        chain = _CHAIN.get()
        limit = _processes(ctx.model).automation_depth
        if len(chain) >= limit:
            # Transitions' and automations' actions count alike: either can loop.
            path = " → ".join([*chain, source])
            raise AutomationDepthExceeded(
                f"automations triggered one another more than {limit} deep: {path}",
                [Problem("AUTOMATION_DEPTH", f"stopped at depth {limit}: {path}", "")],
            )
        acting = _system_ctx(ctx, ctx.principal.user_id)
        token = _CHAIN.set((*chain, source))
        try:
            for index, action in enumerate(actions):
                await self._action(acting, entity, record, previous, action, source, index)
                if action.type in ("set_fields", "plugin_action", "transition"):
                    # Later actions see the record as the earlier ones left it.
                    row = await self.db.get_record(ctx.tenant, entity.key, record.id)
                    if row is not None:
                        record = self.service._record(entity, row)
        finally:
            _CHAIN.reset(token)

    async def _values(
        self,
        ctx: CallContext,
        action: Action,
        entity: EntityDef,
        record: Record,
        previous: Mapping[str, Any] | None,
        target: EntityDef,
    ) -> dict[str, Any]:
        values = dict(action.values)
        for key, expr in action.expressions.items():
            f = target.fields[key]
            try:
                raw = await self.evaluate(
                    ctx, expr, entity, {**record.data, **_system_values(record)}, previous
                )
            except ExpressionError as exc:
                raise ValidationFailed(
                    f"{source_name(action)} could not compute '{key}': {exc}",
                    [Problem("EXPRESSION_FAILED", str(exc), action.pointer)],
                ) from None
            result_type = "decimal" if f.value_type in ("money", "percent") else f.value_type
            if f.value_type in ("enum", "email", "phone", "url", "user", "relation", "long_text"):
                result_type = "text"
            value = from_cel(result_type, raw, scale=f.scale)
            if f.value_type == "money" and value is not None:
                value = {"amount": value, "currency": ctx.model.currency}
            values[key] = value
        return values

    async def _action(
        self,
        ctx: CallContext,
        entity: EntityDef,
        record: Record,
        previous: Mapping[str, Any] | None,
        action: Action,
        source: str,
        index: int,
    ) -> None:
        spec = action.spec
        kind = action.type
        if kind == "set_fields":
            values = await self._values(ctx, action, entity, record, previous, entity)
            await self._set(ctx, entity, record, values)
        elif kind == "create_record":
            target = ctx.model.entities[str(spec["entity"])]
            values = await self._values(ctx, action, entity, record, previous, target)
            if spec.get("link_field"):
                values[str(spec["link_field"])] = record.id
            await self.service.create(ctx, target.key, values)
        elif kind == "create_task":
            await self._create_task(ctx, entity, record, action, source)
        elif kind == "notify":
            await self._notify(ctx, entity, record, action, source, index)
        elif kind == "webhook":
            await self.db.enqueue(
                ctx.tenant,
                "webhook",
                {
                    "url": spec["url"],
                    "body": {
                        "event": source,
                        "tenant": ctx.tenant,
                        "entity": entity.key,
                        "id": record.id,
                        "version": record.version,
                        "record": self.service._storage(entity, record.data),
                    },
                },
                _message_key(ctx, record, source, index),
                ctx.clock(),
            )
        elif kind == "plugin_action":
            found = getattr(self.plugins, "automation_action", None)
            plugin_action = found(str(spec["action"])) if found else None
            if plugin_action is None:
                raise ValidationFailed(
                    f"automation action '{spec['action']}' is not installed",
                    [Problem("ACTION_UNKNOWN", "the plugin is not installed", action.pointer)],
                )
            call_ctx = replace(ctx, extra={**ctx.extra, "service": self.service})
            result = await plugin_action.run(call_ctx, record, dict(spec.get("params") or {}))
            if result:
                await self._set(ctx, entity, record, dict(result))
        elif kind == "start_timer":
            await self._start_timer(ctx, entity, record, str(spec["timer"]), ctx.clock())
        elif kind == "cancel_timer":
            await self.db.jobs.cancel_timers(ctx.tenant, record.id, ctx.clock(), str(spec["timer"]))
        elif kind == "transition":
            wf = _processes(ctx.model).workflow_of(entity.key)
            state = record.data.get(wf.field) if wf else None
            t = wf.transitions.get(str(spec["transition"])) if wf else None
            if wf is None or t is None or not t.leaves(None if state is None else str(state), wf):
                return  # not applicable in the record's current state
            await self.transition(ctx, entity.key, record.id, t.key, f"{source}")

    async def _set(
        self, ctx: CallContext, entity: EntityDef, record: Record, values: Mapping[str, Any]
    ) -> None:
        changes = {k: v for k, v in values.items() if record.data.get(k) != v}
        if changes:  # an action that changes nothing writes nothing: idempotent rules settle
            await self.service.update(ctx, entity.key, record.id, changes, None)

    def _calendar(self, model: TenantModel) -> Any:
        from core.workflow.calendar import calendar_for

        return calendar_for(model)

    def _due(self, model: TenantModel, start: datetime, offset: Offset) -> datetime:
        return self._calendar(model).add(start, offset.amount, offset.unit, at=offset.at)  # type: ignore[no-any-return]

    async def _create_task(
        self, ctx: CallContext, entity: EntityDef, record: Record, action: Action, source: str
    ) -> None:
        spec = action.spec
        assignee = str(spec.get("assignee") or "owner")
        owner: str | None
        if assignee == "actor":
            owner = ctx.principal.user_id
        elif assignee == "created_by":
            owner = record.created_by
        else:
            owner = record.data.get(assignee) if assignee in entity.fields else None
            owner = owner or record.data.get(authz.owner_field(entity)) or record.created_by
        values: dict[str, Any] = {
            "subject": _render(ctx, _localised(ctx, spec["subject"]), entity, record)[:300],
            "related_entity": entity.key,
            "related_id": record.id,
            "source": source[:127],
            "done": False,
        }
        if owner and await self.db.get_user_by_id(ctx.tenant, str(owner)) is not None:
            values["owner"] = owner
        if spec.get("notes"):
            values["notes"] = _render(ctx, _localised(ctx, spec["notes"]), entity, record)
        if spec.get("due"):
            due = spec["due"]
            at = None
            if due.get("at"):
                hh, mm = str(due["at"]).split(":")
                at = time(int(hh), int(mm))
            values["due_at"] = self._due(
                ctx.model, ctx.clock(), Offset(int(due["amount"]), str(due["unit"]), at)
            )
        await self.service.create(ctx, "task", values)

    async def _notify(
        self,
        ctx: CallContext,
        entity: EntityDef,
        record: Record,
        action: Action,
        source: str,
        index: int,
    ) -> None:
        spec = action.spec
        to = spec.get("to") or {}
        emails: list[str] = [str(e) for e in to.get("emails") or ()]
        if to.get("roles"):
            emails += [u["email"] for u in await self.db.users_with_roles(ctx.tenant, to["roles"])]
        for key in to.get("fields") or ():
            value = (
                record.created_by
                if key == "created_by"
                else record.updated_by
                if key == "updated_by"
                else record.data.get(key)
            )
            if not value:
                continue
            f = entity.fields.get(key)
            if f is not None and f.value_type == "email":
                emails.append(str(value))
            else:
                user = await self.db.get_user_by_id(ctx.tenant, str(value))
                if user is not None:
                    emails.append(user["email"])
        emails = list(dict.fromkeys(e.lower() for e in emails))
        emails = await self._honour_refusals(ctx, "email", emails, entity, record, source)
        if not emails:
            return
        subject = _render(ctx, _localised(ctx, spec["subject"]), entity, record)
        body = _render(ctx, _localised(ctx, spec.get("body") or {}, subject), entity, record)
        await self.db.enqueue(
            ctx.tenant,
            "notify.email",
            {
                "to": emails,
                "subject": subject,
                "body": body,
                "locale": ctx.model.default_locale,
                "entity": entity.key,
                "record_id": record.id,
                "source": source,
            },
            _message_key(ctx, record, source, index),
            ctx.clock(),
        )

    async def _honour_refusals(
        self,
        ctx: CallContext,
        channel: str,
        recipients: list[str],
        entity: EntityDef,
        record: Record,
        source: str,
    ) -> list[str]:
        """``recipients`` less those a plugin says refuse ``channel``.

        A skip is not an error: the record's history gets a ``notify_skipped``
        entry naming who was skipped and why, and the rest are messaged.
        """
        ask = getattr(self.plugins, "message_refusals", None)
        if ask is None or not recipients:
            return recipients
        ctx.extra.setdefault("service", self.service)
        refused: Mapping[str, str] = await ask(ctx, channel, recipients, entity.key, record)
        if not refused:
            return recipients
        skipped = [
            {"to": r, "channel": channel, "reason": refused[r]} for r in recipients if r in refused
        ]
        await self.db.append_audit(
            ctx.tenant,
            entity.key,
            record.id,
            "notify_skipped",
            ctx.principal.user_id,
            ctx.clock(),
            {"_skipped": skipped, "_source": source},
        )
        return [r for r in recipients if r not in refused]

    # -- reminders ------------------------------------------------------------------------

    async def my_tasks(self, ctx: CallContext, window: str, first: int) -> list[Record]:
        """The caller's open tasks: overdue (before today), today, tomorrow, upcoming or open.

        Days are the tenant's local days; everything else (roles, record scope,
        hidden fields) is the ordinary list path's.
        """
        cal = self._calendar(ctx.model)
        now = ctx.clock()
        conditions: list[Filter] = [
            Condition("owner", "eq", ctx.principal.user_id),
            Or((Condition("done", "eq", False), Condition("done", "is_null", True))),
        ]
        today = cal.start_of_local_day(now)
        if window in ("today", "tomorrow"):
            start, end = cal.local_day_bounds(now, window)
            conditions += [Condition("due_at", "gte", start), Condition("due_at", "lt", end)]
        elif window == "overdue":
            conditions.append(Condition("due_at", "lt", today))
        elif window == "upcoming":
            conditions.append(Condition("due_at", "gte", cal.local_day_bounds(now, "tomorrow")[1]))
        records, _ = await self.service.list(
            ctx, "task", And(tuple(conditions)), [OrderBy("due_at")], first, None
        )
        return records

    async def inactive(
        self,
        ctx: CallContext,
        entity_key: str,
        days: int,
        activity: str,
        via: str,
        date_field: str = "created_at",
        first: int = 50,
    ) -> list[tuple[Record, Record | None]]:
        """Records of ``entity_key`` with no ``activity`` record (linked by its relation
        field ``via``) dated within the last ``days`` days — the forgotten customers.

        Returns each such record with its latest activity ever (or ``None``).
        """
        entity = self.service._entity(ctx, entity_key)
        act = self.service._entity(ctx, activity)
        link = act.fields.get(via)
        if link is None or link.value_type != "relation" or link.target != entity.key:
            raise BadRequest(
                f"'{activity}.{via}' is not a relation to '{entity.key}'",
                [Problem("RELATION_INVALID", "not a relation to the entity", "via")],
            )
        if date_field not in act.fields and date_field not in ("created_at", "updated_at"):
            raise BadRequest(
                f"'{activity}' has no field '{date_field}'",
                [Problem("UNKNOWN_FIELD", "unknown field", "dateField")],
            )
        if days < 0 or days > 3650:
            raise BadRequest(
                "days must be between 0 and 3650", [Problem("RANGE", "0..3650", "days")]
            )
        cal = self._calendar(ctx.model)
        cutoff = cal.add(cal.start_of_local_day(ctx.clock()), -days, "days")
        cutoff_value: Any = cutoff
        if date_field in act.fields and act.fields[date_field].value_type == "date":
            cutoff_value = cutoff.astimezone(cal.zone()).date()
        since = Condition(date_field, "gte", cutoff_value)
        recent = {  # every target touched since the cutoff
            str(r.data[via])
            async for r in self.service.iterate(ctx, activity, since)
            if r.data.get(via)
        }
        out: list[tuple[Record, Record | None]] = []
        after: str | None = None
        while len(out) < first:
            records, page = await self.service.list(
                ctx, entity.key, None, [OrderBy("created_at")], 200, after
            )
            for record in records:
                if record.id in recent or len(out) >= first:
                    continue
                last, _ = await self.service.list(
                    ctx,
                    activity,
                    Condition(via, "eq", record.id),
                    [OrderBy(date_field, descending=True)],
                    1,
                    None,
                )
                out.append((record, last[0] if last else None))
            if not page.has_next:
                break
            after = page.end_cursor
        return out

    # -- timers -------------------------------------------------------------------------

    async def _start_timer(
        self, ctx: CallContext, entity: EntityDef, record: Record, key: str, start: datetime
    ) -> None:
        timer = _processes(ctx.model).timers[key]
        due = self._due(ctx.model, start, timer.offset)
        version = await self._version(ctx)
        await self.db.jobs.schedule_timer(
            ctx.tenant, key, entity.key, record.id, due, version, ctx.clock()
        )

    async def _schedule_field_timer(
        self, ctx: CallContext, entity: EntityDef, record: Record, key: str
    ) -> None:
        timer = _processes(ctx.model).timers[key]
        assert timer.field is not None
        value = record.data.get(timer.field)
        if value is None:
            await self.db.jobs.cancel_timers(ctx.tenant, record.id, ctx.clock(), key)
            return
        if not isinstance(value, datetime):
            # A date: its start in the tenant's zone.
            from zoneinfo import ZoneInfo

            value = datetime.combine(value, time(0), tzinfo=ZoneInfo(ctx.model.timezone))
        await self._start_timer(ctx, entity, record, key, value.astimezone(UTC))

    async def fire_timer(self, tenant: str, row: Mapping[str, Any]) -> None:
        """Run the ``timer`` automations of a due timer, as its pinned config says."""
        if self.model_at is None:
            raise RuntimeError("the engine has no model source")
        model = await self.model_at(tenant, int(row["config_version"]))
        procs = _processes(model)
        timer = procs.timers.get(str(row["timer_key"]))
        entity = model.entities.get(str(row["entity"]))
        if timer is None or entity is None:
            return  # the pinned config no longer has it: nothing to do
        now = row.get("now")
        clock: Callable[[], datetime] = (lambda: now) if isinstance(now, datetime) else utcnow
        ctx = CallContext(
            model=model,
            principal=Principal.system(tenant),
            clock=clock,
            # What this run starts stays on its version; its messages are its own.
            extra={CONFIG_VERSION: int(row["config_version"]), RUN_ID: str(row["id"])},
        )
        db_row = await self.db.get_record(tenant, entity.key, str(row["record_id"]))
        if db_row is None:
            return
        record = self.service._record(entity, db_row)
        for automation in procs.automations_for(entity.key, "timer"):
            if automation.timer == timer.key:
                await self.run_automation(ctx, entity, record, record.data, automation)


def _message_key(ctx: CallContext, record: Record, source: str, index: int) -> str:
    """Idempotency key of an action's message: one per write, or per timer run."""
    run = ctx.extra.get(RUN_ID)
    base = f"{record.id}:{record.version}:{source}:{index}"
    return f"{base}:{run}" if run else base


def source_name(action: Action) -> str:
    return f"action {action.pointer}"


def _system_values(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "version": record.version,
        "created_at": record.created_at,
        "created_by": record.created_by,
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
    }


def _title(entity: EntityDef, record: Record) -> str:
    if entity.title_field and record.data.get(entity.title_field):
        return str(record.data[entity.title_field])
    return record.id


def _render(ctx: CallContext, template: str, entity: EntityDef, record: Record) -> str:
    """``{record.field}`` placeholders filled from the record (unknown ones kept)."""

    def value(m: re.Match[str]) -> str:
        if m[1] != "record":
            return m[0]
        key = m[2]
        v = record.data.get(key) if key in entity.fields else _system_values(record).get(key)
        if v is None:
            return ""
        f = entity.fields.get(key)
        if f is not None and f.value_type == "enum":
            option = next((o for o in f.options if o.value == v), None)
            return _localised(ctx, option.label, str(v)) if option else str(v)
        if isinstance(v, Mapping) and "amount" in v:
            return f"{v['amount']} {v.get('currency', '')}".strip()
        return str(v)

    return _PLACEHOLDER.sub(value, template)
