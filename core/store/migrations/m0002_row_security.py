"""Row-level security on ``tenant_id`` for every tenant table (PostgreSQL only; D8).

Each table gets ``tenant_isolation``: a row is visible and writable only when
its ``tenant_id`` equals the transaction-local setting ``tessera.tenant``.
The few tables the system must read across tenants (tenants, users and tokens
for token look-up, the outbox for the worker) also get ``system_read``: rows
are visible, never writable, when ``tessera.scope`` is ``system``. Both
settings are set by the store with ``set_config(..., true)``, so they end
with the transaction and a pooled connection never carries them over.
RLS is FORCE'd because the application connects as the tables' owner.
Superusers and BYPASSRLS roles are never subject to it. SQLite: nothing.
"""

from __future__ import annotations

from core.store.url import Dialect

ID = "0002_row_security"

TENANT_TABLES = (
    "tenant",
    "tenant_config",
    "record",
    "unique_value",
    "audit",
    "outbox",
    "app_user",
    "api_token",
)
SYSTEM_READ_TABLES = ("tenant", "outbox", "app_user", "api_token")

_TENANT = "tenant_id = current_setting('tessera.tenant', true)"
_SYSTEM = "current_setting('tessera.scope', true) = 'system'"


def tenant_wall(table: str) -> list[str]:
    """The statements that put ``table`` behind the tenant wall (PostgreSQL)."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({_TENANT}) WITH CHECK ({_TENANT})",
    ]


def system_read(table: str) -> str:
    """The policy that lets the system scope read ``table`` across tenants."""
    return f"CREATE POLICY system_read ON {table} FOR SELECT USING ({_SYSTEM})"


def statements(dialect: Dialect) -> list[str]:
    if dialect != "postgresql":
        return []
    out: list[str] = []
    for table in TENANT_TABLES:
        out += tenant_wall(table)
    for table in SYSTEM_READ_TABLES:
        out.append(system_read(table))
    return out
