"""Durable process state: timers, approvals, worker leases, users' managers (D6).

- ``timer``: one row per scheduled timer of a record; fired by ``crm worker``.
  ``config_version`` pins the run to the tenant config it started under.
- ``approval`` and ``approval_assignee``: an approval request on a record's
  transition, its steps' approvers and their decisions (history is kept).
- ``outbox`` gains a lease (``lease_until``/``leased_by``) so several workers
  can deliver at once without taking the same message, and the config version
  the message was produced under.
- ``app_user`` gains ``manager_id`` (approvals by the owner's manager).

Every new table gets the tenant wall of migration 0002 on PostgreSQL; the
worker may read ``timer`` across tenants (to find due work), never write.
"""

from __future__ import annotations

from core.store.migrations.m0002_row_security import system_read, tenant_wall
from core.store.url import Dialect

ID = "0003_processes"

NEW_TABLES = ("timer", "approval", "approval_assignee")


def statements(dialect: Dialect) -> list[str]:
    pg = dialect == "postgresql"
    key = 'TEXT COLLATE "C"' if pg else "TEXT"
    ts = "TIMESTAMPTZ"
    out = [
        f"""CREATE TABLE timer (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  timer_key {key} NOT NULL,
  entity {key} NOT NULL,
  record_id {key} NOT NULL,
  due_at {ts} NOT NULL,
  status TEXT NOT NULL,
  config_version INTEGER NOT NULL,
  created_at {ts} NOT NULL,
  fired_at {ts},
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  lease_until {ts},
  leased_by TEXT,
  PRIMARY KEY (tenant_id, id)
)""",
        "CREATE INDEX timer_due ON timer (tenant_id, status, due_at, id)",
        "CREATE INDEX timer_record ON timer (tenant_id, record_id, timer_key, status)",
        f"""CREATE TABLE approval (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  entity {key} NOT NULL,
  record_id {key} NOT NULL,
  workflow {key} NOT NULL,
  transition {key} NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  status TEXT NOT NULL,
  step INTEGER NOT NULL,
  config_version INTEGER NOT NULL,
  requested_by {key} NOT NULL,
  requested_at {ts} NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  decided_at {ts},
  PRIMARY KEY (tenant_id, id)
)""",
        "CREATE INDEX approval_record ON approval (tenant_id, record_id, requested_at, id)",
        "CREATE INDEX approval_status ON approval (tenant_id, status, requested_at, id)",
        f"""CREATE TABLE approval_assignee (
  tenant_id {key} NOT NULL,
  approval_id {key} NOT NULL,
  step INTEGER NOT NULL,
  user_id {key} NOT NULL,
  decision TEXT,
  comment TEXT NOT NULL DEFAULT '',
  decided_at {ts},
  PRIMARY KEY (tenant_id, approval_id, step, user_id)
)""",
        "CREATE INDEX approval_assignee_user ON approval_assignee (tenant_id, user_id, decision)",
        f"ALTER TABLE outbox ADD COLUMN lease_until {ts}",
        "ALTER TABLE outbox ADD COLUMN leased_by TEXT",
        "ALTER TABLE outbox ADD COLUMN config_version INTEGER",
        f"ALTER TABLE app_user ADD COLUMN manager_id {key}",
    ]
    if pg:
        for table in NEW_TABLES:
            out += tenant_wall(table)
        # The worker finds the tenants with due timers across tenants (read only).
        out.append(system_read("timer"))
    return out
