"""The audit trail is append-only in the database itself (D3, D8).

No code path updates or deletes audit rows; these triggers make that a
property of the database, so a bug, a plugin with raw SQL or a mistaken
operator statement cannot rewrite history either. (``TRUNCATE``, which
only the tables' owner may run, is not a row operation and is not stopped.)
"""

from __future__ import annotations

from core.store.url import Dialect

ID = "0005_append_only"


def statements(dialect: Dialect) -> list[str]:
    if dialect == "postgresql":
        return [
            """CREATE FUNCTION tessera_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$""",
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION tessera_append_only()",
        ]
    return [
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    ]
