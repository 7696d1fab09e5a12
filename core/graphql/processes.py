"""GraphQL for processes that does not depend on the tenant (D6, D7).

Approvals (the inbox, a record's history, approve/reject), the transitions a
caller may run on a record (``meta { transitions }``) and the workflows of
the model (``meta { workflows }``); the root also carries the caller's saved
views (:mod:`core.graphql.saved_views`). Transition mutations and ``myTasks`` are
per tenant (they return tenant types) and live in :mod:`core.graphql.builder`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry

from core.graphql.context import GraphQLContext
from core.graphql.loaders import load_user
from core.graphql.saved_views import SavedViewMutation, SavedViewQuery
from core.metadata import TenantModel

__all__ = [
    "Approval",
    "ApprovalMutation",
    "ApprovalQuery",
    "MetaTransition",
    "MetaWorkflow",
    "TaskDue",
    "approval_from",
    "workflows_of",
]


@strawberry.enum(description="Which of the caller's open tasks to list.")
class TaskDue(enum.Enum):
    OVERDUE = "overdue"
    TODAY = "today"
    TOMORROW = "tomorrow"
    UPCOMING = "upcoming"
    OPEN = "open"


@strawberry.type(description="A user as approvals show them.")
class ApprovalUser:
    id: strawberry.ID
    email: str
    name: str


async def _user(info: strawberry.Info, user_id: str | None) -> ApprovalUser | None:
    if not user_id:
        return None
    found = await load_user(info.context, user_id)
    if found is None:
        return None
    return ApprovalUser(id=strawberry.ID(found["id"]), email=found["email"], name=found["name"])


@strawberry.type(description="One approver of a step and what they decided.")
class ApprovalDecision:
    user_id: strawberry.ID
    decision: str | None
    comment: str
    decided_at: datetime | None

    @strawberry.field
    async def user(self, info: strawberry.Info) -> ApprovalUser | None:
        return await _user(info, self.user_id)


@strawberry.type(description="A step of an approval: any one approver, or all of them.")
class ApprovalStep:
    index: int
    key: str
    label: str
    mode: str
    approvers: list[ApprovalDecision]


@strawberry.type(description="An approval request on a record's transition.")
class Approval:
    id: strawberry.ID
    entity: str
    record_id: strawberry.ID
    workflow: str
    transition: str
    transition_label: str
    from_state: str
    to_state: str
    status: str
    step: int
    steps: list[ApprovalStep]
    requested_by_id: strawberry.ID
    requested_at: datetime
    comment: str
    decided_at: datetime | None

    @strawberry.field
    async def requested_by(self, info: strawberry.Info) -> ApprovalUser | None:
        return await _user(info, self.requested_by_id)


def approval_from(row: Mapping[str, Any]) -> Approval:
    return Approval(
        id=strawberry.ID(row["id"]),
        entity=row["entity"],
        record_id=strawberry.ID(row["record_id"]),
        workflow=row["workflow"],
        transition=row["transition"],
        transition_label=row.get("transition_label") or row["transition"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        status=row["status"],
        step=int(row["step"]),
        steps=[
            ApprovalStep(
                index=s["index"],
                key=s["key"],
                label=s["label"],
                mode=s["mode"],
                approvers=[
                    ApprovalDecision(
                        user_id=strawberry.ID(a["user_id"]),
                        decision=a["decision"],
                        comment=a["comment"] or "",
                        decided_at=a["decided_at"],
                    )
                    for a in s["approvers"]
                ],
            )
            for s in row.get("steps") or ()
        ],
        requested_by_id=strawberry.ID(row["requested_by"]),
        requested_at=row["requested_at"],
        comment=row["comment"] or "",
        decided_at=row["decided_at"],
    )


def _engine(info: strawberry.Info) -> tuple[GraphQLContext, Any]:
    ctx: GraphQLContext = info.context
    return ctx, ctx.service.processes


@strawberry.type(description="A record with no recent activity, and its latest activity.")
class InactiveRecord:
    id: strawberry.ID
    entity: str
    title: str
    owner_id: strawberry.ID | None
    last_activity_id: strawberry.ID | None
    last_activity_at: datetime | None

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> ApprovalUser | None:
        return await _user(info, self.owner_id)


@strawberry.type
class ApprovalQuery(SavedViewQuery):
    @strawberry.field(
        description="Records of `entity` with no `activity` record (linked by its relation "
        "field `via`) dated within the last `days` days: customers nobody contacted or "
        "nobody ordered from. `dateField` is the activity's date (default createdAt)."
    )
    async def inactive_records(
        self,
        info: strawberry.Info,
        entity: str,
        days: int,
        activity: str,
        via: str,
        date_field: str = "created_at",
        first: int = 50,
    ) -> list[InactiveRecord]:
        ctx, engine = _engine(info)
        first = max(0, min(first, 200))
        found = await engine.inactive(ctx.call, entity, days, activity, via, date_field, first)
        model = ctx.call.model
        edef = model.entities[entity]
        owner_key = "owner" if "owner" in edef.fields else None
        out: list[InactiveRecord] = []
        for record, last in found:
            title = record.data.get(edef.title_field) if edef.title_field else None
            when = None
            if last is not None:
                value = last.data.get(date_field) if date_field in last.data else None
                when = value if isinstance(value, datetime) else last.created_at
            owner = record.data.get(owner_key) if owner_key else record.created_by
            out.append(
                InactiveRecord(
                    id=strawberry.ID(record.id),
                    entity=entity,
                    title=str(title or record.id),
                    owner_id=strawberry.ID(owner) if owner else None,
                    last_activity_id=strawberry.ID(last.id) if last else None,
                    last_activity_at=when,
                )
            )
        return out

    @strawberry.field(description="Approvals waiting for the caller's decision, oldest first.")
    async def approval_inbox(self, info: strawberry.Info) -> list[Approval]:
        ctx, engine = _engine(info)
        return [approval_from(r) for r in await engine.inbox(ctx.call)]

    @strawberry.field(description="Every approval of one record, oldest first (its history).")
    async def approvals(
        self, info: strawberry.Info, entity: str, id: strawberry.ID
    ) -> list[Approval]:
        ctx, engine = _engine(info)
        return [approval_from(r) for r in await engine.record_approvals(ctx.call, entity, str(id))]


@strawberry.type
class ApprovalMutation(SavedViewMutation):
    @strawberry.mutation(description="Approve your step of an approval.")
    async def approve(
        self, info: strawberry.Info, id: strawberry.ID, comment: str | None = None
    ) -> Approval:
        ctx, engine = _engine(info)
        row = await engine.decide(ctx.call, str(id), True, comment)
        return approval_from((await engine.approvals_view(ctx.call, [row]))[0])

    @strawberry.mutation(
        description="Take back your own pending request; the record returns to its state."
    )
    async def withdraw_approval(
        self, info: strawberry.Info, id: strawberry.ID, comment: str | None = None
    ) -> Approval:
        ctx, engine = _engine(info)
        row = await engine.withdraw(ctx.call, str(id), comment)
        return approval_from((await engine.approvals_view(ctx.call, [row]))[0])

    @strawberry.mutation(description="Reject an approval (a comment is required).")
    async def reject(self, info: strawberry.Info, id: strawberry.ID, comment: str) -> Approval:
        ctx, engine = _engine(info)
        row = await engine.decide(ctx.call, str(id), False, comment)
        return approval_from((await engine.approvals_view(ctx.call, [row]))[0])


@strawberry.type(description="A transition as offered to the caller for one record.")
class MetaTransition:
    key: str
    label: str
    to: str
    to_label: str
    allowed: bool
    reason: str | None
    reason_code: str | None = strawberry.field(
        description="Why not, as a stable code: TRANSITION_NOT_ALLOWED, TRANSITION_FORBIDDEN, "
        "TRANSITION_GUARD (the guard's own message is the reason), APPROVAL_PENDING or "
        "REQUIRED (requiredFields lists the fields)."
    )
    needs_approval: bool
    required_fields: list[str]
    comment_required: bool


@strawberry.type(description="A state of a workflow.")
class MetaState:
    key: str
    label: str
    initial: bool
    final: bool
    read_only: list[str]


@strawberry.type(description="A transition of a workflow, as configured.")
class MetaWorkflowTransition:
    key: str
    label: str
    sources: list[str] | None
    to: str
    roles: list[str]
    required_fields: list[str]
    needs_approval: bool
    guard: str | None


@strawberry.type(name="MetaWorkflow", description="A workflow on an entity's status field.")
class MetaWorkflow:
    key: str
    label: str
    entity: str
    field: str
    initial: str
    states: list[MetaState]
    transitions: list[MetaWorkflowTransition]


def workflows_of(model: TenantModel, locale: str) -> list[MetaWorkflow]:
    out: list[MetaWorkflow] = []
    for wf in model.processes.workflows.values():
        out.append(
            MetaWorkflow(
                key=wf.key,
                label=model.label(wf.label, locale),
                entity=wf.entity,
                field=wf.field,
                initial=wf.initial,
                states=[
                    MetaState(
                        key=s.key,
                        label=model.label(s.label, locale),
                        initial=s.initial,
                        final=s.final,
                        read_only=["*"] if isinstance(s.read_only, str) else sorted(s.read_only),
                    )
                    for s in wf.states.values()
                ],
                transitions=[
                    MetaWorkflowTransition(
                        key=t.key,
                        label=model.label(t.label, locale),
                        sources=None if t.sources is None else sorted(t.sources),
                        to=t.to,
                        roles=list(t.roles),
                        required_fields=list(t.required_fields),
                        needs_approval=t.approval is not None,
                        guard=t.guard.source if t.guard else None,
                    )
                    for t in wf.transitions.values()
                ],
            )
        )
    return out
