"""Approval requests, their steps' approvers and decisions (migration 0003).

An approval belongs to one record's transition. ``step`` is the index of the
step waiting for decisions; each step's approvers are rows of
``approval_assignee`` written when the step becomes current, so the inbox is
one indexed query and the history shows exactly who was asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.store.values import as_datetime, ordered_id

if TYPE_CHECKING:
    from core.store.database import Database

__all__ = ["ApprovalStore"]

_COLUMNS = (
    "tenant_id, id, entity, record_id, workflow, transition, from_state, to_state, status, "
    "step, config_version, requested_by, requested_at, comment, decided_at"
)
_ASSIGNEE_COLUMNS = "tenant_id, approval_id, step, user_id, decision, comment, decided_at"


def _approval(row: dict[str, Any]) -> dict[str, Any]:
    for col in ("requested_at", "decided_at"):
        row[col] = as_datetime(row[col])
    return row


def _assignee(row: dict[str, Any]) -> dict[str, Any]:
    row["decided_at"] = as_datetime(row["decided_at"])
    return row


class ApprovalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        tenant: str,
        *,
        entity: str,
        record_id: str,
        workflow: str,
        transition: str,
        from_state: str,
        to_state: str,
        config_version: int,
        requested_by: str,
        requested_at: datetime,
        comment: str,
    ) -> str:
        approval_id = ordered_id()
        await self.db._execute_as(
            tenant,
            f"INSERT INTO approval ({_COLUMNS}) VALUES "
            "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            tenant,
            approval_id,
            entity,
            record_id,
            workflow,
            transition,
            from_state,
            to_state,
            "pending",
            0,
            config_version,
            requested_by,
            self.db._time(requested_at),
            comment,
            None,
        )
        return approval_id

    async def assign(self, tenant: str, approval_id: str, step: int, users: Sequence[str]) -> None:
        for user_id in dict.fromkeys(users):
            await self.db._execute_as(
                tenant,
                f"INSERT INTO approval_assignee ({_ASSIGNEE_COLUMNS}) "
                "VALUES ({}, {}, {}, {}, {}, {}, {})",
                tenant,
                approval_id,
                step,
                user_id,
                None,
                "",
                None,
            )

    async def get(
        self, tenant: str, approval_id: str, *, lock: bool = False
    ) -> dict[str, Any] | None:
        """One approval; ``lock`` holds its row until commit (PostgreSQL), so
        concurrent decisions on it run one after the other."""
        lock_clause = " FOR UPDATE" if lock and self.db.dialect == "postgresql" else ""
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_COLUMNS} FROM approval WHERE tenant_id = {{}} AND id = {{}}{lock_clause}",
            tenant,
            approval_id,
        )
        return _approval(rows[0]) if rows else None

    async def for_record(self, tenant: str, record_id: str) -> list[dict[str, Any]]:
        """Every approval of a record, oldest first."""
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_COLUMNS} FROM approval WHERE tenant_id = {{}} AND record_id = {{}} "
            "ORDER BY requested_at, id",
            tenant,
            record_id,
        )
        return [_approval(r) for r in rows]

    async def pending_for_record(self, tenant: str, record_id: str) -> dict[str, Any] | None:
        found = [a for a in await self.for_record(tenant, record_id) if a["status"] == "pending"]
        return found[-1] if found else None

    async def assignees(self, tenant: str, approval_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not approval_ids:
            return []
        marks = ", ".join("{}" for _ in approval_ids)
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_ASSIGNEE_COLUMNS} FROM approval_assignee "
            f"WHERE tenant_id = {{}} AND approval_id IN ({marks}) ORDER BY step, user_id",
            tenant,
            *approval_ids,
        )
        return [_assignee(r) for r in rows]

    async def inbox(self, tenant: str, user_id: str) -> list[dict[str, Any]]:
        """Pending approvals whose current step waits for ``user_id``'s decision."""
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))} "
            "FROM approval_assignee s JOIN approval a "
            "ON a.tenant_id = s.tenant_id AND a.id = s.approval_id AND a.step = s.step "
            "WHERE s.tenant_id = {} AND s.user_id = {} AND s.decision IS NULL "
            "AND a.status = 'pending' ORDER BY a.requested_at, a.id",
            tenant,
            user_id,
        )
        return [_approval(r) for r in rows]

    async def is_asked(self, tenant: str, record_id: str, user_id: str) -> bool:
        """Whether ``user_id`` was ever asked to approve something on the record."""
        rows = await self.db._fetch_as(
            tenant,
            "SELECT 1 AS asked FROM approval_assignee s JOIN approval a "
            "ON a.tenant_id = s.tenant_id AND a.id = s.approval_id "
            "WHERE s.tenant_id = {} AND s.user_id = {} AND a.record_id = {} LIMIT 1",
            tenant,
            user_id,
            record_id,
        )
        return bool(rows)

    async def decide(
        self,
        tenant: str,
        approval_id: str,
        step: int,
        user_id: str,
        decision: str,
        comment: str,
        at: datetime,
    ) -> bool:
        """Record one approver's decision; ``False`` if they were not waiting to decide."""
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE approval_assignee SET decision = {}, comment = {}, decided_at = {} "
            "WHERE tenant_id = {} AND approval_id = {} AND step = {} AND user_id = {} "
            "AND decision IS NULL RETURNING user_id",
            decision,
            comment,
            self.db._time(at),
            tenant,
            approval_id,
            step,
            user_id,
        )
        return bool(rows)

    async def advance(self, tenant: str, approval_id: str, step: int) -> None:
        await self.db._execute_as(
            tenant,
            "UPDATE approval SET step = {} WHERE tenant_id = {} AND id = {}",
            step,
            tenant,
            approval_id,
        )

    async def close(self, tenant: str, approval_id: str, status: str, at: datetime) -> None:
        """End an approval: ``approved``, ``rejected`` or ``cancelled``."""
        await self.db._execute_as(
            tenant,
            "UPDATE approval SET status = {}, decided_at = {} WHERE tenant_id = {} AND id = {}",
            status,
            self.db._time(at),
            tenant,
            approval_id,
        )
