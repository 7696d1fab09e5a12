"""Lossless backups of one tenant: ``crm tenant export`` / ``crm tenant import``.

The file is gzip'd JSON lines, written and read as a stream (a tenant is
never held in memory whole; tables are read in keyset pages):

1. a header: ``{"format": "tessera-tenant-export", "version": 1, "tenant": ...,
   "exported_at": ..., "core_version": ..., "migrations": [...], "tables": {...}}``
   (``tables`` names each table's columns, in the order they are written);
2. one line per row: ``{"table": "record", "row": {column: value, ...}}``
   (``tenant_id`` is left out: the header names the tenant);
3. file lines, ``{"file": {...}}``: none yet (no attachments exist), the
   place they join later; the trailer counts them;
4. a trailer: ``{"end": {"counts": {table: rows}, "files": 0, "sha256": ...}}``,
   the SHA-256 of every line before it (header included, each with its
   newline), so a truncated or edited file is refused on import.

Values are written in an engine-neutral form, so an export from SQLite
imports into PostgreSQL and back: times as ISO-8601 UTC with microseconds,
numbers of the slot columns as decimal strings, JSON columns as the JSON
itself, booleans as ``true``/``false``, NULL as ``null``.

The file holds password hashes and token hashes: it is as sensitive as the
database itself.
"""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import asyncpg
import orjson
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from core.errors import ConfigInvalid, Conflict, NotFound, Problem, TesseraError
from core.metadata import NUMBER_SLOTS, TEXT_SLOTS
from core.store.migrations import TENANT_TABLES
from core.store.values import as_datetime, bind_number, dump_json, load_json, placeholders, utcnow

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.store.database import Database

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TABLES",
    "BackupInvalid",
    "BackupSummary",
    "export_tenant",
    "import_tenant",
]

FORMAT: Final = "tessera-tenant-export"
FORMAT_VERSION: Final = 1
PAGE_SIZE: Final = 1000  # rows per keyset page on export
_PARAMS_PER_INSERT: Final = 900  # bound parameters per multi-row INSERT (SQLite's old limit: 999)

Kind = Literal["text", "int", "bool", "time", "json", "number"]
Progress = Callable[[str, int], None]
"""Called with a table and its row count when the table is done."""


class BackupInvalid(TesseraError):
    """The file is not a complete, unmodified tenant export this version can read."""

    code = "BACKUP_INVALID"


@dataclass(frozen=True, slots=True)
class _Table:
    """What is written of one tenant table: its columns and its key (for keyset pages)."""

    key: tuple[str, ...]
    columns: Mapping[str, Kind]


def _text(*names: str) -> dict[str, Kind]:
    return dict.fromkeys(names, "text")


#: Every tenant table, in the order written and restored. ``tenant`` comes
#: first (import checks it before anything else), then the config history
#: (validated before records arrive).
TABLES: Final[Mapping[str, _Table]] = {
    "tenant": _Table((), {"name": "text", "config_version": "int", "created_at": "time"}),
    "tenant_config": _Table(
        ("version",),
        {
            "version": "int",
            "config": "json",
            "version_key": "text",
            "applied_at": "time",
            "applied_by": "text",
        },
    ),
    "app_user": _Table(
        ("id",),
        {
            **_text("id", "email", "name", "password_hash"),
            "roles": "json",
            "locale": "text",
            "created_at": "time",
            "active": "bool",
            "manager_id": "text",
            "failed_logins": "int",
            "locked_until": "time",
        },
    ),
    "api_token": _Table(
        ("token_hash",),
        {
            **_text("token_hash", "user_id"),
            "created_at": "time",
            "expires_at": "time",
            "revoked_at": "time",
            "label": "text",
        },
    ),
    "record": _Table(
        ("id",),
        {
            **_text("id", "entity"),
            "version": "int",
            "data": "json",
            "created_at": "time",
            "created_by": "text",
            "updated_at": "time",
            "updated_by": "text",
            "archived": "bool",
            **_text(*TEXT_SLOTS),
            **dict.fromkeys(NUMBER_SLOTS, "number"),
        },
    ),
    "unique_value": _Table(
        ("entity", "field", "value"), _text("entity", "field", "value", "record_id")
    ),
    "audit": _Table(
        ("id",),
        {**_text("id", "record_id", "entity", "action", "actor"), "at": "time", "diff": "json"},
    ),
    "outbox": _Table(
        ("id",),
        {
            **_text("id", "topic"),
            "payload": "json",
            "idempotency_key": "text",
            "created_at": "time",
            "available_at": "time",
            "attempts": "int",
            "delivered_at": "time",
            "last_error": "text",
            "lease_until": "time",
            "leased_by": "text",
            "config_version": "int",
        },
    ),
    "timer": _Table(
        ("id",),
        {
            **_text("id", "timer_key", "entity", "record_id"),
            "due_at": "time",
            "status": "text",
            "config_version": "int",
            "created_at": "time",
            "fired_at": "time",
            "attempts": "int",
            "last_error": "text",
            "lease_until": "time",
            "leased_by": "text",
        },
    ),
    "approval": _Table(
        ("id",),
        {
            **_text(
                "id", "entity", "record_id", "workflow", "transition", "from_state", "to_state"
            ),
            "status": "text",
            "step": "int",
            "config_version": "int",
            "requested_by": "text",
            "requested_at": "time",
            "comment": "text",
            "decided_at": "time",
        },
    ),
    "approval_assignee": _Table(
        ("approval_id", "step", "user_id"),
        {
            "approval_id": "text",
            "step": "int",
            "user_id": "text",
            "decision": "text",
            "comment": "text",
            "decided_at": "time",
        },
    ),
    # Numbering counters (core.numbering): a restored tenant goes on where it stopped.
    "number_series": _Table(
        ("series", "period"), {"series": "text", "period": "text", "last_value": "int"}
    ),
    # Re-indexes still running (core.store.reindex): the restored tenant finishes them.
    "reindex": _Table(
        ("id",),
        {
            **_text("id", "entity"),
            "slots": "json",
            "config_version": "int",
            "last_id": "text",
            "rows_total": "int",
            "rows_done": "int",
            "rows_changed": "int",
            "created_at": "time",
            "applied_at": "time",
            "updated_at": "time",
            "scanned_at": "time",
            "finished_at": "time",
            "lease_until": "time",
            "leased_by": "text",
        },
    ),
}
if set(TABLES) != set(TENANT_TABLES):  # a new tenant table must join the backup format
    raise ImportError(f"core.backup does not cover {sorted(set(TENANT_TABLES) ^ set(TABLES))}")


@dataclass(slots=True)
class BackupSummary:
    """What an export wrote or an import restored."""

    tenant: str
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0
    sha256: str = ""
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


# -- values ------------------------------------------------------------------------


def _encode(kind: Kind, value: Any) -> Any:
    """A stored value in the file's engine-neutral form."""
    if value is None:
        return None
    if kind == "time":
        moment = as_datetime(value)
        assert moment is not None
        return moment.isoformat(timespec="microseconds")
    if kind == "json":
        return load_json(value)
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "number":
        # SQLite hands back int or float (its NUMERIC), PostgreSQL a Decimal.
        return repr(value) if isinstance(value, float) else str(value)
    return str(value)


def _decode(db: Database, kind: Kind, value: Any) -> Any:
    """A value of the file as the target engine binds it; ValueError if it does not fit."""
    if value is None:
        return None
    if kind == "time":
        if not isinstance(value, str):
            raise ValueError("a time must be an ISO-8601 string")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a time must carry its UTC offset")
        return db._time(moment)
    if kind == "json":
        return dump_json(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        return value
    if kind == "number":
        if not isinstance(value, str):
            raise ValueError("a number must be a decimal string")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return bind_number(db.dialect, number)
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


# -- export ------------------------------------------------------------------------


@asynccontextmanager
async def _snapshot(db: Database, tenant: str) -> AsyncIterator[None]:
    """One read transaction over the whole export: every table as of one moment.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction (its first statement
    sets that) scoped to ``tenant``. SQLite: a deferred transaction, which in
    WAL mode reads one snapshot from its first read on without blocking writers.
    """
    if isinstance(db.engine, SQLiteEngine):
        async with db.engine.transaction(transaction_type=TransactionType.deferred):
            yield
        return
    if db.engine.current_transaction.get() is not None:
        raise RuntimeError("export its own transaction: do not call it inside another one")
    async with db.transaction():
        await db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        async with db.tenant_scope(tenant):
            yield


async def _pages(db: Database, tenant: str, name: str, table: _Table) -> AsyncIterator[list[Any]]:
    """The tenant's rows of one table, in key order, one page at a time."""
    columns = ", ".join(table.columns)
    base = f"SELECT {columns} FROM {name} WHERE tenant_id = {{}}"
    if not table.key:
        yield await db._fetch_as(tenant, base, tenant)
        return
    key = ", ".join(table.key)
    after: list[Any] | None = None
    while True:
        if after is None:
            rows = await db._fetch_as(
                tenant, f"{base} ORDER BY {key} LIMIT {{}}", tenant, PAGE_SIZE
            )
        else:
            rows = await db._fetch_as(
                tenant,
                f"{base} AND ({key}) > ({placeholders(len(after))}) ORDER BY {key} LIMIT {{}}",
                tenant,
                *after,
                PAGE_SIZE,
            )
        if rows:
            yield rows
        if len(rows) < PAGE_SIZE:
            return
        after = [rows[-1][k] for k in table.key]


async def _applied_migrations(db: Database) -> list[str]:
    rows = await db.fetch("SELECT id FROM tessera_migration ORDER BY id")
    return [str(r["id"]) for r in rows]


def _core_version() -> str:
    from core.plugins import CORE_VERSION

    return CORE_VERSION


async def export_tenant(
    db: Database,
    tenant: str,
    sink: IO[bytes],
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> BackupSummary:
    """Write ``tenant``'s config history, rows and files to ``sink`` (gzip'd JSON lines).

    Everything is read in one snapshot transaction, page by page; ``sink``
    is left open. :class:`~core.errors.NotFound` if the tenant does not exist.
    """
    started = time.perf_counter()
    summary = BackupSummary(tenant)
    digest = hashlib.sha256()
    with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0) as out:

        def write(line: dict[str, Any]) -> None:
            data = orjson.dumps(line) + b"\n"
            digest.update(data)
            out.write(data)

        async with _snapshot(db, tenant):
            exists = await db._fetch_as(
                tenant, "SELECT 1 AS found FROM tenant WHERE tenant_id = {}", tenant
            )
            if not exists:
                raise NotFound(f"tenant '{tenant}' does not exist")
            write(
                {
                    "format": FORMAT,
                    "version": FORMAT_VERSION,
                    "tenant": tenant,
                    "exported_at": (now or utcnow()).isoformat(timespec="microseconds"),
                    "core_version": _core_version(),
                    "migrations": await _applied_migrations(db),
                    "tables": {name: list(t.columns) for name, t in TABLES.items()},
                }
            )
            for name, table in TABLES.items():
                count = 0
                async for page in _pages(db, tenant, name, table):
                    for row in page:
                        encoded = {c: _encode(k, row[c]) for c, k in table.columns.items()}
                        write({"table": name, "row": encoded})
                    count += len(page)
                summary.counts[name] = count
                if progress is not None:
                    progress(name, count)
        summary.sha256 = digest.hexdigest()
        trailer = {"counts": summary.counts, "files": summary.files, "sha256": summary.sha256}
        out.write(orjson.dumps({"end": trailer}) + b"\n")
    summary.seconds = time.perf_counter() - started
    return summary


# -- import ------------------------------------------------------------------------


def _lines(source: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of the gzip'd file; a damaged stream is :class:`BackupInvalid`."""
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as stream:
            yield from enumerate(stream, start=1)
    except (OSError, EOFError, zlib.error) as err:
        # gzip.BadGzipFile is an OSError; a cut-off stream is an EOFError.
        raise BackupInvalid(f"the file is damaged or not a tenant export: {err}") from None


def _parse(number: int, line: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise BackupInvalid(
            "a line is not JSON", [Problem("BACKUP_LINE", str(err), f"line {number}")]
        ) from None
    if not isinstance(doc, dict):
        raise BackupInvalid(
            "a line is not a JSON object",
            [Problem("BACKUP_LINE", "expected {...}", f"line {number}")],
        )
    return doc


def _check_header(doc: Mapping[str, Any], applied: list[str]) -> str:
    if doc.get("format") != FORMAT:
        raise BackupInvalid(f"not a Tessera tenant export (format {doc.get('format')!r})")
    if doc.get("version") != FORMAT_VERSION:
        raise BackupInvalid(
            f"export format version {doc.get('version')!r} is not supported "
            f"(this version of Tessera reads version {FORMAT_VERSION})"
        )
    tenant = doc.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise BackupInvalid("the header names no tenant")
    migrations = doc.get("migrations")
    if not isinstance(migrations, list):
        raise BackupInvalid("the header lists no migrations")
    newer = [m for m in migrations if m not in applied]
    if newer:
        raise BackupInvalid(
            f"the export was made by a newer Tessera (migrations {', '.join(map(str, newer))} "
            "are unknown here): upgrade first"
        )
    tables = doc.get("tables")
    # An export made before a table existed simply has none of its rows.
    if not isinstance(tables, dict) or any(
        name not in TABLES or columns != list(TABLES[name].columns)
        for name, columns in tables.items()
    ):
        raise BackupInvalid("the header's table columns differ from this format version's")
    return tenant


class _Importer:
    """Inserts rows in multi-row batches, one table at a time, as ``tenant``."""

    def __init__(self, db: Database, tenant: str, progress: Progress | None) -> None:
        self.db = db
        self.tenant = tenant
        self.progress = progress
        self.table: str | None = None
        self.batch: list[list[Any]] = []
        self.first_line = 0
        self.counts: dict[str, int] = {}

    async def add(self, number: int, name: str, row: list[Any]) -> None:
        if name != self.table:
            await self.finish_table()
            if name in self.counts:
                raise BackupInvalid(
                    f"rows of table {name} are not together",
                    [
                        Problem(
                            "BACKUP_ORDER", "rows of one table must be contiguous", f"line {number}"
                        )
                    ],
                )
            self.table = name
            self.counts[name] = 0
        if not self.batch:
            self.first_line = number
        self.batch.append(row)
        self.counts[name] += 1
        if len(self.batch) * (len(TABLES[name].columns) + 1) >= _PARAMS_PER_INSERT:
            await self.flush()

    async def flush(self) -> None:
        if not self.batch or self.table is None:
            return
        name, rows = self.table, self.batch
        columns = ["tenant_id", *TABLES[name].columns]
        values = ", ".join(f"({placeholders(len(columns))})" for _ in rows)
        args = [arg for row in rows for arg in (self.tenant, *row)]
        try:
            await self.db._execute_as(
                self.tenant, f"INSERT INTO {name} ({', '.join(columns)}) VALUES {values}", *args
            )
        except (sqlite3.Error, asyncpg.PostgresError) as err:
            last = self.first_line + len(rows) - 1
            raise BackupInvalid(
                f"a row of table {name} does not fit this database",
                [
                    Problem(
                        "BACKUP_ROW", str(err).splitlines()[0], f"lines {self.first_line}-{last}"
                    )
                ],
            ) from None
        self.batch = []

    async def finish_table(self) -> None:
        await self.flush()
        if self.table is not None and self.progress is not None:
            self.progress(self.table, self.counts[self.table])


async def _refuse_existing(db: Database, tenant: str) -> None:
    """Import fills an empty tenant: any row of ``tenant`` in any table refuses it."""
    for name in TABLES:
        found = await db._fetch_as(
            tenant, f"SELECT 1 AS found FROM {name} WHERE tenant_id = {{}} LIMIT 1", tenant
        )
        if found:
            raise Conflict(
                f"tenant '{tenant}' already exists in this database (it has {name} rows): "
                "import restores into a database without it"
            )


def _row_values(db: Database, number: int, name: str, row: Any) -> list[Any]:
    table = TABLES[name]
    if not isinstance(row, dict) or set(row) != set(table.columns):
        raise BackupInvalid(
            f"a {name} row does not have this format's columns",
            [
                Problem(
                    "BACKUP_ROW", f"expected columns {', '.join(table.columns)}", f"line {number}"
                )
            ],
        )
    values: list[Any] = []
    for column, kind in table.columns.items():
        try:
            values.append(_decode(db, kind, row[column]))
        except ValueError as err:
            raise BackupInvalid(
                f"a {name} value does not fit",
                [Problem("BACKUP_VALUE", str(err), f"line {number}/{column}")],
            ) from None
    return values


async def import_tenant(
    runtime: Runtime, source: IO[bytes], *, progress: Progress | None = None
) -> BackupSummary:
    """Restore an export into this database, where its tenant must not exist yet.

    One transaction: a damaged or edited file (checksum, counts, a missing
    trailer), an unknown format version, a config the installed plugins no
    longer accept (:class:`~core.errors.ConfigInvalid`, with its located
    problems) or a row that does not fit leaves nothing behind.
    """
    db = runtime.db
    started = time.perf_counter()
    digest = hashlib.sha256()
    lines = _lines(source)
    first = next(lines, None)
    if first is None:
        raise BackupInvalid("the file is empty")
    header = _parse(*first)
    tenant = _check_header(header, await _applied_migrations(db))
    digest.update(first[1])
    summary = BackupSummary(tenant)
    trailer: dict[str, Any] | None = None
    current_version: int | None = None
    validated = False
    async with db.transaction(), db.tenant_scope(tenant):
        await _refuse_existing(db, tenant)
        importer = _Importer(db, tenant, progress)
        for number, line in lines:
            if trailer is not None:
                raise BackupInvalid(
                    "there is data after the trailer",
                    [
                        Problem(
                            "BACKUP_TRAILER", "the trailer must be the last line", f"line {number}"
                        )
                    ],
                )
            doc = _parse(number, line)
            if "end" in doc:
                trailer = doc["end"] if isinstance(doc["end"], dict) else {}
                continue
            digest.update(line)
            if "file" in doc:  # attachments join in a later format version
                raise BackupInvalid("file lines are not part of format version 1")
            name = doc.get("table", "")
            if not isinstance(name, str) or name not in TABLES:
                raise BackupInvalid(
                    f"unknown table {name!r}",
                    [Problem("BACKUP_TABLE", f"not a tenant table: {name!r}", f"line {number}")],
                )
            if importer.table is None and name != "tenant":
                raise BackupInvalid("the tenant row must come first")
            row = doc.get("row", {})
            values = _row_values(db, number, name, row)
            if name == "tenant":
                if importer.counts.get("tenant"):
                    raise BackupInvalid("the file holds more than one tenant row")
                current_version = row["config_version"]
            elif name == "tenant_config" and row["version"] == current_version:
                # The config this tenant runs on must still be served by the
                # installed plugins; checked before any record is restored.
                config = row["config"]
                if not isinstance(config, dict) or config.get("tenant") != tenant:
                    raise BackupInvalid(f"the stored config is not the config of '{tenant}'")
                model, problems = runtime.validate(config)
                if model is None:
                    raise ConfigInvalid(
                        f"the stored config of '{tenant}' (version {current_version}) does not "
                        "validate with the installed plugins",
                        problems,
                    )
                validated = True
            elif not validated and name != "tenant_config":
                raise BackupInvalid(
                    f"config version {current_version} of '{tenant}' is missing from the file"
                )
            await importer.add(number, name, values)
        await importer.finish_table()
        summary.counts = {name: importer.counts.get(name, 0) for name in TABLES}
        if trailer is None:
            raise BackupInvalid("the file has no trailer: it was cut off (truncated)")
        summary.sha256 = digest.hexdigest()
        if trailer.get("sha256") != summary.sha256:
            raise BackupInvalid("the checksum does not match: the file was changed or damaged")
        if trailer.get("counts") != summary.counts or trailer.get("files") != summary.files:
            raise BackupInvalid("the row counts do not match the trailer")
        if not validated:
            raise BackupInvalid(f"the file holds no config for '{tenant}'")
    summary.seconds = time.perf_counter() - started
    return summary
