"""The core tables: tenants, configs, records, unique values, audit, outbox, users, tokens.

``tenant_id`` leads every primary key and index so the schema can be
distributed by tenant. On PostgreSQL, text that is compared or sorted uses
the "C" collation, so ordering is by code point on both engines and the
indexes serve the same expressions the queries use.
"""

from __future__ import annotations

from core.metadata import NUMBER_SLOTS, TEXT_SLOTS
from core.store.url import Dialect

ID = "0001_initial"


def statements(dialect: Dialect) -> list[str]:
    pg = dialect == "postgresql"
    key = 'TEXT COLLATE "C"' if pg else "TEXT"  # compared/sorted text
    json = "JSONB" if pg else "TEXT"
    ts = "TIMESTAMPTZ"  # SQLite: ISO-8601 text, decoded by the declared type
    boolean = "BOOLEAN"
    false = "FALSE" if pg else "0"
    text_slots = ",\n  ".join(f"{s} {key}" for s in TEXT_SLOTS)
    number_slots = ",\n  ".join(f"{s} NUMERIC" for s in NUMBER_SLOTS)
    out = [
        f"""CREATE TABLE tenant (
  tenant_id {key} PRIMARY KEY,
  name TEXT NOT NULL,
  config_version INTEGER NOT NULL DEFAULT 0,
  created_at {ts} NOT NULL
)""",
        f"""CREATE TABLE tenant_config (
  tenant_id {key} NOT NULL,
  version INTEGER NOT NULL,
  config {json} NOT NULL,
  version_key TEXT NOT NULL,
  applied_at {ts} NOT NULL,
  applied_by TEXT NOT NULL,
  PRIMARY KEY (tenant_id, version)
)""",
        f"""CREATE TABLE record (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  entity {key} NOT NULL,
  version INTEGER NOT NULL,
  data {json} NOT NULL,
  created_at {ts} NOT NULL,
  created_by {key} NOT NULL,
  updated_at {ts} NOT NULL,
  updated_by {key} NOT NULL,
  archived {boolean} NOT NULL DEFAULT {false},
  {text_slots},
  {number_slots},
  PRIMARY KEY (tenant_id, id)
)""",
        f"""CREATE TABLE unique_value (
  tenant_id {key} NOT NULL,
  entity {key} NOT NULL,
  field {key} NOT NULL,
  value {key} NOT NULL,
  record_id {key} NOT NULL,
  PRIMARY KEY (tenant_id, entity, field, value)
)""",
        f"""CREATE TABLE audit (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  record_id {key} NOT NULL,
  entity {key} NOT NULL,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  at {ts} NOT NULL,
  diff {json} NOT NULL,
  PRIMARY KEY (tenant_id, id)
)""",
        f"""CREATE TABLE outbox (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  topic TEXT NOT NULL,
  payload {json} NOT NULL,
  idempotency_key {key} NOT NULL,
  created_at {ts} NOT NULL,
  available_at {ts} NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at {ts},
  last_error TEXT,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, idempotency_key)
)""",
        f"""CREATE TABLE app_user (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  email {key} NOT NULL,
  name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  roles {json} NOT NULL,
  locale TEXT,
  created_at {ts} NOT NULL,
  active {boolean} NOT NULL DEFAULT {"TRUE" if pg else "1"},
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, email)
)""",
        f"""CREATE TABLE api_token (
  token_hash TEXT PRIMARY KEY,
  tenant_id {key} NOT NULL,
  user_id {key} NOT NULL,
  created_at {ts} NOT NULL,
  expires_at {ts},
  revoked_at {ts},
  label TEXT NOT NULL DEFAULT ''
)""",
    ]
    for slot in (*TEXT_SLOTS, *NUMBER_SLOTS):
        out.append(f"CREATE INDEX record_{slot} ON record (tenant_id, entity, {slot}, id)")
    out += [
        "CREATE INDEX record_created ON record (tenant_id, entity, created_at, id)",
        "CREATE INDEX record_updated ON record (tenant_id, entity, updated_at, id)",
        "CREATE INDEX audit_record ON audit (tenant_id, record_id, at, id)",
        "CREATE INDEX outbox_pending ON outbox (tenant_id, delivered_at, available_at, id)",
        "CREATE INDEX api_token_user ON api_token (tenant_id, user_id)",
    ]
    return out
