"""The persistence layer: shared tables on SQLite or PostgreSQL (D1).

Every statement is parameterised SQL run through piccolo's engine
(``QueryString`` with ``{}`` placeholders). Every table is keyed by
``tenant_id`` first; nothing here creates database objects per tenant.

On PostgreSQL row-level security is a second wall (D8, migration 0002): each
method acting for a tenant runs in a transaction whose ``tessera.tenant``
setting names that tenant; the few cross-tenant reads (tenant list, token
look-up, the worker's outbox poll) run in the read-only ``system`` scope.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from enum import Enum
from typing import Any, Final, NamedTuple

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

from core.metadata import NUMBER_SLOTS, TEXT_SLOTS, EntityDef
from core.query import Filter, OrderBy, Page
from core.store.approvals import ApprovalStore
from core.store.errors import UniqueViolation
from core.store.jobs import JobStore
from core.store.migrations import MIGRATIONS
from core.store.querying import (
    Cursor,
    SortKey,
    Sql,
    after_sql,
    compile_filter,
    compile_order,
    order_by_sql,
    reads_document,
    walk_sort_index_first,
)
from core.store.reindex import ReindexStore
from core.store.url import Dialect, parse_database_url
from core.store.values import (
    as_datetime,
    bind_number,
    bind_time,
    dump_json,
    load_json,
    ordered_id,
    placeholders,
    utcnow,
)

__all__ = ["Database", "NewAudit", "NewMessage", "NewRecord", "open_database"]

_SLOTS: tuple[str, ...] = (*TEXT_SLOTS, *NUMBER_SLOTS)
_RECORD_COLUMNS = (
    "tenant_id, id, entity, version, data, created_at, created_by, updated_at, updated_by"
)
_USER_COLUMNS = (
    "tenant_id, id, email, name, password_hash, roles, locale, created_at, active, manager_id"
)
_OUTBOX_COLUMNS = (
    "tenant_id, id, topic, payload, idempotency_key, created_at, available_at, attempts, "
    "delivered_at, last_error"
)
_CHUNK = 500  # ids per IN (...) list; well under SQLite's parameter limit
#: A bounded walk of the sort index (SQLite, see ``walk_sort_index_first``) reads up
#: to these many rows per row of the page, in turn, before leaving it to the planner.
_WALK_TIERS = (8, 64)
_WALK_MAX_ROWS = 10_000
_BULK_ROWS = 5_000  # rows per bulk INSERT statement (PostgreSQL)
_JSON_DATA = frozenset({"data"})
#: SQLite page cache of a bulk-writing transaction (128 MiB).
BULK_CACHE_KIB = 131_072
_SQLITE_PARAMS = 32_000  # SQLite >= 3.32 accepts 32,766 parameters per statement
_MIGRATION_LOCK = 7_305_531_201  # pg_advisory_xact_lock key for migrate()
_SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for the write lock
_SET_SCOPE = (
    "SELECT set_config('tessera.tenant', {}, true) AS tenant, "
    "set_config('tessera.scope', {}, true) AS scope"
)


class _NoScope(Enum):
    """No row-level security scope set: the transaction sees no tenant rows."""

    NONE = "none"


_NO_SCOPE: Final = _NoScope.NONE

Scope = str | None
"""A row-level security scope: a tenant key, or ``None`` for the system read scope."""


async def open_database(url: str) -> Database:
    """Connect (PostgreSQL: start a pool; SQLite: WAL mode). Does not migrate."""
    parsed = parse_database_url(url)
    if parsed.dialect == "sqlite":
        engine: SQLiteEngine | PostgresEngine = SQLiteEngine(
            path=parsed.path, timeout=_SQLITE_BUSY_TIMEOUT
        )
        # WAL lets readers proceed while a writer holds the lock; it persists in the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")
    else:
        engine = PostgresEngine(config={"dsn": parsed.url})
        await engine.start_connection_pool(min_size=1, max_size=10, reset=keep_session)
    return Database(engine, parsed.dialect, url)


async def keep_session(_connection: Any) -> None:
    """asyncpg's pool ``reset``: nothing beyond the rollback asyncpg always does.

    On release asyncpg rolls back an open transaction, then by default runs
    ``RESET ALL; CLOSE ALL; UNLISTEN *; pg_advisory_unlock_all()`` — one more
    round trip per request. The store keeps no session state (its settings are
    ``set_config(..., true)`` and its locks ``pg_advisory_xact_lock``, both
    transaction-scoped), so there is nothing to reset.
    """


def _new_id() -> str:
    return uuid.uuid4().hex


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class NewRecord(NamedTuple):
    """A record row for :meth:`Database.insert_records` (``data`` in storage form)."""

    id: str
    data: dict[str, Any]
    slots: dict[str, Any]
    actor: str
    at: datetime


class NewAudit(NamedTuple):
    """An audit entry for :meth:`Database.append_audits`."""

    record_id: str
    entity: str
    action: str
    actor: str
    at: datetime
    diff: dict[str, Any]


class NewMessage(NamedTuple):
    """An outbox message for :meth:`Database.enqueue_many`."""

    topic: str
    payload: dict[str, Any]
    idempotency_key: str
    at: datetime


class Database:
    """One database (SQLite file or PostgreSQL pool) holding every tenant."""

    def __init__(self, engine: SQLiteEngine | PostgresEngine, dialect: Dialect, url: str) -> None:
        self.engine = engine
        self.dialect: Dialect = dialect
        self.url = url
        # The scope already set in the current transaction, as (transaction, scope):
        # later statements of the same transaction skip the set_config round trip.
        self._held: ContextVar[tuple[object, Scope] | None] = ContextVar(
            f"tessera_scope_{id(self)}", default=None
        )
        self.approvals = ApprovalStore(self)
        self.jobs = JobStore(self)
        self.reindex = ReindexStore(self)
        self._reader: Any = None  # SQLite: the connection reads outside transactions use

    # -- plumbing -----------------------------------------------------------

    async def migrate(self) -> None:
        """Apply pending migrations, in one transaction; safe to call any time."""
        async with self.transaction():
            if self.dialect == "postgresql":
                # Two processes starting at once: the second waits, then finds nothing to do.
                await self.fetch("SELECT pg_advisory_xact_lock({})", _MIGRATION_LOCK)
            await self.execute(
                "CREATE TABLE IF NOT EXISTS tessera_migration "
                "(id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
            )
            applied = {r["id"] for r in await self.fetch("SELECT id FROM tessera_migration")}
            for migration in MIGRATIONS:
                if migration.ID in applied:
                    continue
                for statement in migration.statements(self.dialect):
                    await self.execute(statement)
                await self.execute(
                    "INSERT INTO tessera_migration (id, applied_at) VALUES ({}, {})",
                    migration.ID,
                    self._time(utcnow()),
                )

    async def close(self) -> None:
        if isinstance(self.engine, PostgresEngine) and self.engine.pool is not None:
            await self.engine.close_connection_pool()
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.close()

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """A writer transaction; inside another one it joins it (same transaction)."""
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        if isinstance(self.engine, SQLiteEngine):
            # IMMEDIATE takes the write lock up front: no "database is locked" upgrade.
            async with self.engine.transaction(transaction_type=TransactionType.immediate):
                yield
        else:
            outermost = self.engine.current_transaction.get() is None
            try:
                async with self.engine.transaction():
                    yield
            finally:
                if outermost:
                    self._held.set(None)  # drop the reference to the finished transaction

    def tenant_scope(self, tenant: str) -> AbstractAsyncContextManager[None]:
        """Run the raw ``fetch``/``execute`` calls inside as ``tenant``.

        On PostgreSQL this is a transaction (joining an enclosing one) in which
        row-level security shows and accepts only ``tenant``'s rows; on SQLite
        it does nothing.
        """
        return self._scoped(tenant)

    @asynccontextmanager
    async def _scoped(self, scope: Scope) -> AsyncIterator[None]:
        """A transaction on PostgreSQL whose row-level security scope is ``scope``.

        A tenant scope stays set for the rest of an enclosing transaction (it is
        that tenant's transaction); the system scope is undone on exit, so it
        never widens the statements that follow it.
        """
        if not isinstance(self.engine, PostgresEngine):
            yield
            return
        if scope == "":
            raise ValueError("a tenant scope needs a tenant key")
        enclosing = self.engine.current_transaction.get() is not None
        async with self.transaction():
            tx = self.engine.current_transaction.get()
            held = self._held.get()
            previous: Scope | _NoScope = held[1] if held and held[0] is tx else _NO_SCOPE
            if previous != scope:
                await self._set_scope(scope)
                self._held.set((tx, scope))
            yield
            if enclosing and scope is None and previous is not None:
                await self._set_scope(previous)
                self._held.set(None if previous is _NO_SCOPE else (tx, previous))

    async def _set_scope(self, scope: Scope | _NoScope) -> None:
        if scope is _NO_SCOPE:
            tenant, system = "", ""
        elif scope is None:
            tenant, system = "", "system"
        else:
            tenant, system = scope, ""
        await self.execute(_SET_SCOPE, tenant, system)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run parameterised SQL (``{}`` placeholders); rows as dicts."""
        if (
            isinstance(self.engine, SQLiteEngine)
            and self.engine.current_transaction.get() is None
            and sql.lstrip()[:6].upper() == "SELECT"
        ):
            return await self._sqlite_read(QueryString(sql, *args))
        rows = await self.engine.run_querystring(QueryString(sql, *args))
        return [dict(r) for r in rows or ()]

    async def _sqlite_read(self, query: QueryString) -> list[dict[str, Any]]:
        """A read outside any transaction, on one connection kept open.

        piccolo opens a new connection (and thread) for every statement outside
        a transaction, 1-3 ms each; in WAL mode a long-lived autocommit reader
        sees every committed write at the start of each statement.
        """
        assert isinstance(self.engine, SQLiteEngine)
        if self._reader is None:
            import aiosqlite
            from piccolo.engine.sqlite import dict_factory

            reader = aiosqlite.connect(**self.engine.connection_kwargs)
            # A reader left open (a script that never closes the database) must not keep
            # the process alive at exit.
            reader._thread.daemon = True
            await reader
            reader.row_factory = dict_factory  # type: ignore[assignment]
            self._reader = reader
        text, args = query.compile_string(engine_type=self.engine.engine_type)
        async with self._reader.execute(text, args) as cursor:
            rows = await cursor.fetchall()
        return [dict(r) for r in rows]

    async def execute(self, sql: str, *args: Any) -> None:
        await self.engine.run_querystring(QueryString(sql, *args))

    async def _fetch_as(self, scope: Scope, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._scoped(scope):
            return await self.fetch(sql, *args)

    async def _execute_as(self, scope: Scope, sql: str, *args: Any) -> None:
        async with self._scoped(scope):
            await self.execute(sql, *args)

    async def _run(self, sql: Sql, *, slow: bool = False) -> list[dict[str, Any]]:
        """Run a compiled query; ``slow`` ones (SQLite) skip the shared reader.

        The shared reader runs one statement at a time: a scan of a large
        tenant there (seconds) held up every other read of the process, every
        tenant's, token and config checks included. On a connection of its
        own (1-3 ms to open) it holds up only its own request.
        """
        if slow and isinstance(self.engine, SQLiteEngine):
            rows = await self.engine.run_querystring(QueryString(sql.text, *sql.args))
            return [dict(r) for r in rows or ()]
        return await self.fetch(sql.text, *sql.args)

    def _time(self, value: datetime | None) -> Any:
        return None if value is None else bind_time(self.dialect, value)

    # -- tenants & configs --------------------------------------------------

    async def list_tenants(self) -> list[dict[str, Any]]:
        return await self._fetch_as(
            None, "SELECT tenant_id, name, config_version FROM tenant ORDER BY tenant_id"
        )

    async def current_config(self, tenant: str) -> dict[str, Any] | None:
        rows = await self._fetch_as(
            tenant,
            "SELECT c.version, c.config, c.version_key, c.applied_at FROM tenant t "
            "JOIN tenant_config c ON c.tenant_id = t.tenant_id AND c.version = t.config_version "
            "WHERE t.tenant_id = {}",
            tenant,
        )
        return self._config_row(rows[0]) if rows else None

    async def config_version(self, tenant: str) -> int | None:
        """The tenant's current config version: the cheap check before using a cached model."""
        rows = await self._fetch_as(
            tenant, "SELECT config_version FROM tenant WHERE tenant_id = {}", tenant
        )
        return int(rows[0]["config_version"]) if rows else None

    async def config_state(self, tenant: str) -> tuple[int, int] | None:
        """The tenant's config version and its number of unfinished re-indexes, in one read.

        What a runtime asks every check window: a changed version means a new
        model; a changed count, that a re-index finished (or started).
        """
        rows = await self._fetch_as(
            tenant,
            "SELECT t.config_version, (SELECT COUNT(*) FROM reindex r "
            "WHERE r.tenant_id = t.tenant_id AND r.finished_at IS NULL) AS pending "
            "FROM tenant t WHERE t.tenant_id = {}",
            tenant,
        )
        return (int(rows[0]["config_version"]), int(rows[0]["pending"])) if rows else None

    async def config_at(self, tenant: str, version: int) -> dict[str, Any] | None:
        """One stored version of the tenant's config (a pinned run's model)."""
        rows = await self._fetch_as(
            tenant,
            "SELECT version, config, version_key, applied_at FROM tenant_config "
            "WHERE tenant_id = {} AND version = {}",
            tenant,
            version,
        )
        return self._config_row(rows[0]) if rows else None

    async def config_history(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self._fetch_as(
            tenant,
            "SELECT version, config, version_key, applied_at, applied_by FROM tenant_config "
            "WHERE tenant_id = {} ORDER BY version",
            tenant,
        )
        return [self._config_row(r) for r in rows]

    @staticmethod
    def _config_row(row: dict[str, Any]) -> dict[str, Any]:
        row["config"] = load_json(row["config"])
        row["applied_at"] = as_datetime(row["applied_at"])
        return row

    async def save_config(
        self, tenant: str, name: str, config: dict[str, Any], version_key: str, applied_by: str
    ) -> int:
        """Store ``config`` as the tenant's next version and make it current."""
        now = self._time(utcnow())
        async with self.transaction(), self._scoped(tenant):
            await self.execute(
                "INSERT INTO tenant (tenant_id, name, config_version, created_at) "
                "VALUES ({}, {}, 0, {}) ON CONFLICT (tenant_id) DO NOTHING",
                tenant,
                name,
                now,
            )
            # The UPDATE locks the tenant row, so concurrent applies get distinct versions.
            rows = await self.fetch(
                "UPDATE tenant SET config_version = config_version + 1, name = {} "
                "WHERE tenant_id = {} RETURNING config_version",
                name,
                tenant,
            )
            version = int(rows[0]["config_version"])
            await self.execute(
                "INSERT INTO tenant_config "
                "(tenant_id, version, config, version_key, applied_at, applied_by) "
                "VALUES ({}, {}, {}, {}, {}, {})",
                tenant,
                version,
                dump_json(config),
                version_key,
                now,
                applied_by,
            )
        return version

    # -- records ------------------------------------------------------------

    def _slot_args(self, slots: dict[str, Any]) -> list[Any]:
        unknown = set(slots) - set(_SLOTS)
        if unknown:
            raise ValueError(f"unknown slot column(s): {sorted(unknown)}")
        out: list[Any] = []
        for slot in _SLOTS:
            value = slots.get(slot)
            if value is not None and slot in NUMBER_SLOTS:
                value = bind_number(self.dialect, int(value) if isinstance(value, bool) else value)
            out.append(value)
        return out

    def _record_row(self, row: dict[str, Any]) -> dict[str, Any]:
        row["data"] = load_json(row["data"])
        row["created_at"] = as_datetime(row["created_at"])
        row["updated_at"] = as_datetime(row["updated_at"])
        return row

    async def insert_record(
        self,
        tenant: str,
        entity: str,
        id: str,
        data: dict[str, Any],
        slots: dict[str, Any],
        actor: str,
        now: datetime,
    ) -> None:
        at = self._time(now)
        await self._execute_as(
            tenant,
            f"INSERT INTO record ({_RECORD_COLUMNS}, archived, {', '.join(_SLOTS)}) "
            f"VALUES ({placeholders(10 + len(_SLOTS))})",
            tenant,
            id,
            entity,
            1,
            dump_json(data),
            at,
            actor,
            at,
            actor,
            False,
            *self._slot_args(slots),
        )

    async def update_record(
        self,
        tenant: str,
        entity: str,
        id: str,
        expected_version: int,
        data: dict[str, Any],
        slots: dict[str, Any],
        actor: str,
        now: datetime,
    ) -> int | None:
        """Compare-and-set: the new version, or ``None`` if the row moved on."""
        assignments = ", ".join(f"{slot} = {{}}" for slot in _SLOTS)
        rows = await self._fetch_as(
            tenant,
            "UPDATE record SET version = version + 1, data = {}, updated_at = {}, "
            f"updated_by = {{}}, {assignments} "
            "WHERE tenant_id = {} AND entity = {} AND id = {} AND version = {} AND NOT archived "
            "RETURNING version",
            dump_json(data),
            self._time(now),
            actor,
            *self._slot_args(slots),
            tenant,
            entity,
            id,
            expected_version,
        )
        return int(rows[0]["version"]) if rows else None

    async def archive_record(
        self, tenant: str, entity: str, id: str, expected_version: int, actor: str, now: datetime
    ) -> int | None:
        """Soft-delete with the same compare-and-set as an update."""
        rows = await self._fetch_as(
            tenant,
            "UPDATE record SET archived = {}, version = version + 1, updated_at = {}, "
            "updated_by = {} "
            "WHERE tenant_id = {} AND entity = {} AND id = {} AND version = {} AND NOT archived "
            "RETURNING version",
            True,
            self._time(now),
            actor,
            tenant,
            entity,
            id,
            expected_version,
        )
        return int(rows[0]["version"]) if rows else None

    async def get_record(self, tenant: str, entity: str, id: str) -> dict[str, Any] | None:
        rows = await self._fetch_as(
            tenant,
            f"SELECT {_RECORD_COLUMNS} FROM record "
            "WHERE tenant_id = {} AND id = {} AND entity = {} AND NOT archived",
            tenant,
            id,
            entity,
        )
        return self._record_row(rows[0]) if rows else None

    async def lock_record(self, tenant: str, entity: str, id: str) -> None:
        """Inside a transaction: hold the record's row until commit (PostgreSQL).

        Serialises decisions that read before they write (a transition checking
        for a pending approval, say). SQLite's writer transactions already run
        one at a time.
        """
        if self.dialect == "postgresql":
            await self._fetch_as(
                tenant,
                "SELECT id FROM record WHERE tenant_id = {} AND id = {} AND entity = {} FOR UPDATE",
                tenant,
                id,
                entity,
            )

    async def get_records(
        self, tenant: str, entity: str, ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        async with self._scoped(tenant):
            for chunk in _chunks(list(dict.fromkeys(ids))):
                rows = await self.fetch(
                    f"SELECT {_RECORD_COLUMNS} FROM record WHERE tenant_id = {{}} "
                    f"AND id IN ({placeholders(len(chunk))}) AND entity = {{}} AND NOT archived",
                    tenant,
                    *chunk,
                    entity,
                )
                out.update((r["id"], self._record_row(r)) for r in rows)
        return out

    async def existing_ids(self, tenant: str, entity: str, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        async with self._scoped(tenant):
            for chunk in _chunks(list(dict.fromkeys(ids))):
                rows = await self.fetch(
                    f"SELECT id FROM record WHERE tenant_id = {{}} "
                    f"AND id IN ({placeholders(len(chunk))}) AND entity = {{}} AND NOT archived",
                    tenant,
                    *chunk,
                    entity,
                )
                found.update(r["id"] for r in rows)
        return found

    def _where(
        self,
        tenant: str,
        entity: EntityDef,
        filter: Filter | None,
        pending: frozenset[str] = frozenset(),
    ) -> Sql:
        where = Sql("tenant_id = {} AND entity = {} AND NOT archived", (tenant, entity.key))
        if filter is not None:
            where = where & compile_filter(self.dialect, entity, filter, pending)
        return where

    async def query_records(
        self,
        tenant: str,
        entity: EntityDef,
        filter: Filter | None,
        order: Sequence[OrderBy],
        limit: int,
        after: str | None,
    ) -> Page:
        """One keyset page of live records matching ``filter``, in ``order``.

        Fields whose slot a re-index is still rewriting are read from ``data``.
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        pending = await self.reindex.pending_slots(tenant, entity.key)
        keys = compile_order(self.dialect, entity, order, pending)
        rows = None
        if walk_sort_index_first(self.dialect, entity, filter, keys, pending):
            rows = await self._walked_page(tenant, entity, filter, keys, limit + 1, after, pending)
        if rows is None:
            sql = self._page_sql(tenant, entity, filter, keys, limit + 1, after, pending)
            async with self._scoped(tenant):
                # Fields read from the JSON document (unindexed, or being re-indexed): a scan.
                rows = await self._run(sql, slow=reads_document(entity, filter, order, pending))
        has_next = len(rows) > limit
        rows = rows[:limit]
        signature = Cursor.signature(keys)
        names = [f"_k{i}" for i in range(len(keys))]
        cursors = [Cursor.encode(keys, [row.pop(n) for n in names], signature) for row in rows]
        return Page(
            rows=[self._record_row(r) for r in rows],
            cursors=cursors,
            has_next=has_next,
            end_cursor=cursors[-1] if cursors else None,
        )

    async def _walked_page(
        self,
        tenant: str,
        entity: EntityDef,
        filter: Filter | None,
        keys: Sequence[SortKey],
        limit: int,
        after: str | None,
        pending: frozenset[str],
    ) -> list[dict[str, Any]] | None:
        """The page's rows found by walking the sort index a bounded way, or ``None``.

        Reads the first rows in page order without the filter (the sort index
        serves that), each with whether it matches, ``limit`` × 8 of them, then
        × 64. The page is known once ``limit`` rows matched or the walk reached
        the end; its rows are then read by ``rowid``. Otherwise ``None``: the
        matches are too rare for a walk, and the planner's choice serves them.
        """
        assert filter is not None
        where = self._where(tenant, entity, None)
        if after:
            where = where & after_sql(self.dialect, keys, Cursor.decode(keys, after))
        match = compile_filter(self.dialect, entity, filter, pending)
        async with self._scoped(tenant):
            for tier in _WALK_TIERS:
                size = min(limit * tier, _WALK_MAX_ROWS)
                walked = await self._run(
                    Sql(
                        f"SELECT rowid AS r, CASE WHEN {match.text} THEN 1 ELSE 0 END AS m "
                        f"FROM record WHERE {where.text} ORDER BY {order_by_sql(keys)} "
                        "LIMIT {}",
                        (*match.args, *where.args, size),
                    )
                )
                found = [w["r"] for w in walked if w["m"]][:limit]
                if len(found) == limit or len(walked) < size:
                    break
                if size == _WALK_MAX_ROWS:
                    return None
            else:
                return None
            if not found:
                return []
            selects = ", ".join(f"{k.expr.select} AS _k{i}" for i, k in enumerate(keys))
            rows = await self._run(
                Sql(
                    f"SELECT rowid AS _rowid, {_RECORD_COLUMNS}, {selects} FROM record "
                    f"WHERE tenant_id = {{}} AND rowid IN ({', '.join('{}' for _ in found)})",
                    (tenant, *found),
                )
            )
        by_rowid = {r.pop("_rowid"): r for r in rows}
        return [by_rowid[r] for r in found]

    def _page_sql(
        self,
        tenant: str,
        entity: EntityDef,
        filter: Filter | None,
        keys: Sequence[SortKey],
        limit: int,
        after: str | None,
        pending: frozenset[str] = frozenset(),
    ) -> Sql:
        where = self._where(tenant, entity, filter, pending)
        if after:
            where = where & after_sql(self.dialect, keys, Cursor.decode(keys, after))
        selects = ", ".join(f"{k.expr.select} AS _k{i}" for i, k in enumerate(keys))
        return Sql(
            f"SELECT {_RECORD_COLUMNS}, {selects} FROM record WHERE {where.text} "
            f"ORDER BY {order_by_sql(keys)} LIMIT {{}}",
            (*where.args, limit),
        )

    async def explain_records(
        self,
        tenant: str,
        entity: EntityDef,
        filter: Filter | None,
        order: Sequence[OrderBy],
        limit: int,
    ) -> list[str]:
        """The engine's plan for a first page of ``query_records`` (one line per step)."""
        pending = await self.reindex.pending_slots(tenant, entity.key)
        keys = compile_order(self.dialect, entity, order, pending)
        sql = self._page_sql(tenant, entity, filter, keys, limit + 1, None, pending)
        prefix = "EXPLAIN QUERY PLAN " if self.dialect == "sqlite" else "EXPLAIN "
        async with self._scoped(tenant):
            rows = await self._run(Sql(prefix + sql.text, sql.args))
        if self.dialect == "sqlite":
            return [str(r["detail"]) for r in rows]
        return [str(r["QUERY PLAN"]) for r in rows]

    async def count_records(self, tenant: str, entity: EntityDef, filter: Filter | None) -> int:
        pending = await self.reindex.pending_slots(tenant, entity.key) if filter else frozenset()
        where = self._where(tenant, entity, filter, pending)
        async with self._scoped(tenant):
            rows = await self._run(
                Sql(f"SELECT COUNT(*) AS n FROM record WHERE {where.text}", where.args),
                slow=reads_document(entity, filter, (), pending),
            )
        return int(rows[0]["n"])

    async def backfill_slots(self, tenant: str, entity: EntityDef) -> int:
        """Recompute every slot column of ``entity``'s records now, in batches; how many.

        A tool for tests and repairs: a config apply schedules a re-index
        instead (:mod:`core.store.reindex`), which rewrites only the slots
        that changed, pausing between batches.
        """
        return await self.reindex.rewrite_all(tenant, entity)

    # -- unique values ------------------------------------------------------

    async def claim_unique(
        self, tenant: str, entity: str, field: str, value: str, record_id: str
    ) -> None:
        """Claim ``value`` for ``record_id``; :class:`UniqueViolation` if another holds it."""
        async with self.transaction(), self._scoped(tenant):
            rows = await self.fetch(
                "INSERT INTO unique_value (tenant_id, entity, field, value, record_id) "
                "VALUES ({}, {}, {}, {}, {}) "
                "ON CONFLICT (tenant_id, entity, field, value) DO NOTHING RETURNING record_id",
                tenant,
                entity,
                field,
                value,
                record_id,
            )
            if rows:
                return
            owner = await self.fetch(
                "SELECT record_id FROM unique_value "
                "WHERE tenant_id = {} AND entity = {} AND field = {} AND value = {}",
                tenant,
                entity,
                field,
                value,
            )
        if owner and owner[0]["record_id"] == record_id:
            return
        raise UniqueViolation(entity, field, value)

    async def drop_unique_claims(self, tenant: str, entity: str, field: str) -> None:
        """Forget every claim of a field that is no longer unique."""
        await self._execute_as(
            tenant,
            "DELETE FROM unique_value WHERE tenant_id = {} AND entity = {} AND field = {}",
            tenant,
            entity,
            field,
        )

    async def release_unique(
        self, tenant: str, entity: str, field: str, value: str, record_id: str
    ) -> None:
        await self._execute_as(
            tenant,
            "DELETE FROM unique_value WHERE tenant_id = {} AND entity = {} AND field = {} "
            "AND value = {} AND record_id = {}",
            tenant,
            entity,
            field,
            value,
            record_id,
        )

    # -- audit & outbox -----------------------------------------------------

    async def append_audit(
        self,
        tenant: str,
        entity: str,
        record_id: str,
        action: str,
        actor: str,
        at: datetime,
        diff: dict[str, Any],
    ) -> None:
        await self._execute_as(
            tenant,
            "INSERT INTO audit (tenant_id, id, record_id, entity, action, actor, at, diff) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
            tenant,
            ordered_id(),
            record_id,
            entity,
            action,
            actor,
            self._time(at),
            dump_json(diff),
        )

    async def audit_for(self, tenant: str, record_id: str) -> list[dict[str, Any]]:
        """The audit trail of one record, oldest first."""
        rows = await self._fetch_as(
            tenant,
            "SELECT id, record_id, entity, action, actor, at, diff FROM audit "
            "WHERE tenant_id = {} AND record_id = {} ORDER BY at, id",
            tenant,
            record_id,
        )
        for row in rows:
            row["at"] = as_datetime(row["at"])
            row["diff"] = load_json(row["diff"])
        return rows

    async def enqueue(
        self, tenant: str, topic: str, payload: dict[str, Any], idempotency_key: str, at: datetime
    ) -> None:
        """Add a message; a second one with the same idempotency key is ignored."""
        when = self._time(at)
        await self._execute_as(
            tenant,
            f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES ({placeholders(10)}) "
            "ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
            tenant,
            ordered_id(),
            topic,
            dump_json(payload),
            idempotency_key,
            when,
            when,
            0,
            None,
            None,
        )

    async def pending_outbox(
        self, tenant: str | None = None, limit: int = 100, due: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Undelivered messages, oldest first (only those available by ``due`` if given)."""
        where = Sql("delivered_at IS NULL")
        if tenant is not None:
            where = where & Sql("tenant_id = {}", (tenant,))
        if due is not None:
            where = where & Sql("available_at <= {}", (self._time(due),))
        rows = await self._fetch_as(
            tenant,
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where.text} "
            "ORDER BY available_at, id LIMIT {}",
            *where.args,
            limit,
        )
        for row in rows:
            row["payload"] = load_json(row["payload"])
            for col in ("created_at", "available_at", "delivered_at"):
                row[col] = as_datetime(row[col])
        return rows

    # -- bulk writes (imports: core.bulk) ---------------------------------------

    async def prepare_bulk_writes(self) -> None:
        """Inside a transaction that will write many rows (an import): tune its connection.

        SQLite keeps up to ``BULK_CACHE_KIB`` of pages in memory instead of its
        2 MiB default, so the pages of a growing table's indexes are not read
        again and spilled to the log as every row lands in a different leaf
        (15 % of an import's CPU at 50,000 rows). The connection is the
        transaction's own and closes with it. PostgreSQL: nothing to do.
        """
        if self.dialect == "sqlite":
            await self.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")

    async def _insert_rows(
        self,
        tenant: str,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        json_columns: frozenset[str] = frozenset(),
        suffix: str = "",
    ) -> list[dict[str, Any]]:
        """Insert ``rows`` as ``tenant`` with one statement per chunk; the rows ``suffix``
        returns (``RETURNING ...``). Values of ``json_columns`` are Python objects.

        Runs on the enclosing transaction's own connection, past piccolo's
        per-statement path. PostgreSQL gets the chunk as one JSON document
        expanded by ``jsonb_populate_recordset`` (``COPY`` is refused under
        row-level security; arrays per column cost several times more client
        CPU to encode); SQLite an ``executemany``, or multi-row ``VALUES`` when
        rows are returned.
        """
        if not rows:
            return []
        out: list[dict[str, Any]] = []
        names = ", ".join(columns)
        async with self.transaction(), self._scoped(tenant):
            tx: Any = self.engine.current_transaction.get()
            conn = tx.connection
            if self.dialect == "postgresql":
                sql = (
                    f"INSERT INTO {table} ({names}) SELECT {names} "
                    f"FROM jsonb_populate_recordset(NULL::public.{table}, $1::jsonb) {suffix}"
                )
                for start in range(0, len(rows), _BULK_ROWS):
                    chunk = rows[start : start + _BULK_ROWS]
                    doc = dump_json([dict(zip(columns, row, strict=True)) for row in chunk])
                    out += [dict(r) for r in await conn.fetch(sql, doc)]
                return out
            at = [i for i, c in enumerate(columns) if c in json_columns]
            if at:
                rows = [
                    [dump_json(v) if i in at and v is not None else v for i, v in enumerate(row)]
                    for row in rows
                ]
            one = "(" + ", ".join("?" for _ in columns) + ")"
            if "RETURNING" not in suffix:
                cursor = await conn.executemany(
                    f"INSERT INTO {table} ({names}) VALUES {one} {suffix}", rows
                )
                await cursor.close()
                return out
            per = max(1, _SQLITE_PARAMS // len(columns))
            for start in range(0, len(rows), per):
                chunk = rows[start : start + per]
                sql = (
                    f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))} {suffix}"
                )
                params = [value for row in chunk for value in row]
                async with conn.execute(sql, params) as cursor:
                    found = await cursor.fetchall()
                    keys = [d[0] for d in cursor.description or ()]
                # piccolo gives its connections a dict row factory; plain tuples otherwise.
                out += [
                    r if isinstance(r, dict) else dict(zip(keys, r, strict=True)) for r in found
                ]
        return out

    async def insert_records(self, tenant: str, entity: str, records: Sequence[NewRecord]) -> None:
        """Insert new records (version 1) at once; the rows ``insert_record`` would write."""
        rows = []
        for r in records:
            at = self._time(r.at)
            rows.append(
                (
                    tenant,
                    r.id,
                    entity,
                    1,
                    r.data,
                    at,
                    r.actor,
                    at,
                    r.actor,
                    False,
                    *self._slot_args(r.slots),
                )
            )
        columns = (*_RECORD_COLUMNS.split(", "), "archived", *_SLOTS)
        await self._insert_rows(tenant, "record", columns, rows, json_columns=_JSON_DATA)

    async def claim_uniques(
        self, tenant: str, entity: str, claims: Sequence[tuple[str, str, str]]
    ) -> list[tuple[str, str]]:
        """Claim ``(field, value, record_id)`` triples at once; the ``(field, value)`` pairs
        some other record already holds, which stay theirs.
        """
        rows = [(tenant, entity, field, value, rid) for field, value, rid in claims]
        claimed = await self._insert_rows(
            tenant,
            "unique_value",
            ("tenant_id", "entity", "field", "value", "record_id"),
            rows,
            suffix="ON CONFLICT (tenant_id, entity, field, value) DO NOTHING "
            "RETURNING field, value",
        )
        done = {(str(r["field"]), str(r["value"])) for r in claimed}
        return [(field, value) for field, value, _ in claims if (field, value) not in done]

    async def append_audits(self, tenant: str, entries: Sequence[NewAudit]) -> None:
        """Append many audit entries at once (as ``append_audit`` each)."""
        rows = [
            (
                tenant,
                ordered_id(),
                e.record_id,
                e.entity,
                e.action,
                e.actor,
                self._time(e.at),
                e.diff,
            )
            for e in entries
        ]
        await self._insert_rows(
            tenant,
            "audit",
            ("tenant_id", "id", "record_id", "entity", "action", "actor", "at", "diff"),
            rows,
            json_columns=frozenset({"diff"}),
        )

    async def enqueue_many(self, tenant: str, messages: Sequence[NewMessage]) -> None:
        """Add many outbox messages at once; one whose idempotency key exists is ignored."""
        rows = []
        for m in messages:
            when = self._time(m.at)
            rows.append(
                (
                    tenant,
                    ordered_id(),
                    m.topic,
                    m.payload,
                    m.idempotency_key,
                    when,
                    when,
                    0,
                    None,
                    None,
                )
            )
        await self._insert_rows(
            tenant,
            "outbox",
            _OUTBOX_COLUMNS.split(", "),
            rows,
            json_columns=frozenset({"payload"}),
            suffix="ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
        )

    async def next_numbers(self, tenant: str, series: str, period: str, count: int) -> int:
        """Take ``count`` numbers of a numbering series at once; the last one taken.

        The same counter row ``core.numbering`` increments one at a time, so
        numbers stay gapless; call inside the creating transaction.
        """
        rows = await self._fetch_as(
            tenant,
            "INSERT INTO number_series (tenant_id, series, period, last_value) "
            "VALUES ({}, {}, {}, {}) ON CONFLICT (tenant_id, series, period) "
            "DO UPDATE SET last_value = number_series.last_value + excluded.last_value "
            "RETURNING last_value",
            tenant,
            series,
            period,
            count,
        )
        return int(rows[0]["last_value"])

    # -- users & tokens -----------------------------------------------------

    @staticmethod
    def _user_row(row: dict[str, Any]) -> dict[str, Any]:
        row["roles"] = list(load_json(row["roles"]) or ())
        row["created_at"] = as_datetime(row["created_at"])
        row["active"] = bool(row["active"])
        return row

    async def add_user(
        self,
        tenant: str,
        email: str,
        name: str,
        password_hash: str,
        roles: Sequence[str],
        locale: str | None,
        manager_id: str | None = None,
    ) -> str:
        """A new user's id; :class:`UniqueViolation` if the tenant has the email."""
        email = email.strip().lower()
        rows = await self._fetch_as(
            tenant,
            f"INSERT INTO app_user ({_USER_COLUMNS}) VALUES ({placeholders(10)}) "
            "ON CONFLICT (tenant_id, email) DO NOTHING RETURNING id",
            tenant,
            _new_id(),
            email,
            name,
            password_hash,
            dump_json(list(roles)),
            locale,
            self._time(utcnow()),
            True,
            manager_id,
        )
        if not rows:
            raise UniqueViolation("app_user", "email", email)
        return str(rows[0]["id"])

    async def login_state(self, tenant: str, email: str) -> dict[str, Any] | None:
        """A user with what a login needs: password hash, active, failures, lock."""
        rows = await self._fetch_as(
            tenant,
            "SELECT id, email, password_hash, active, failed_logins, locked_until "
            "FROM app_user WHERE tenant_id = {} AND email = {}",
            tenant,
            email.strip().lower(),
        )
        if not rows:
            return None
        row = rows[0]
        row["active"] = bool(row["active"])
        row["locked_until"] = as_datetime(row["locked_until"])
        return row

    async def login_failed(
        self, tenant: str, user_id: str, now: datetime, max_failures: int, lock_until: datetime
    ) -> datetime | None:
        """Count a failed login; at ``max_failures`` in a row the user is locked. The lock."""
        rows = await self._fetch_as(
            tenant,
            "UPDATE app_user SET failed_logins = failed_logins + 1, locked_until = CASE "
            "WHEN failed_logins + 1 >= {} THEN {} ELSE locked_until END "
            "WHERE tenant_id = {} AND id = {} RETURNING locked_until",
            max_failures,
            self._time(lock_until),
            tenant,
            user_id,
        )
        locked = as_datetime(rows[0]["locked_until"]) if rows else None
        return locked if locked is not None and locked > now else None

    async def login_succeeded(self, tenant: str, user_id: str) -> None:
        await self._execute_as(
            tenant,
            "UPDATE app_user SET failed_logins = 0, locked_until = NULL "
            "WHERE tenant_id = {} AND id = {}",
            tenant,
            user_id,
        )

    async def set_manager(self, tenant: str, user_id: str, manager_id: str | None) -> None:
        """Who approves for ``user_id`` when an approval step asks for the owner's manager."""
        await self._execute_as(
            tenant,
            "UPDATE app_user SET manager_id = {} WHERE tenant_id = {} AND id = {}",
            manager_id,
            tenant,
            user_id,
        )

    async def team_of(self, tenant: str, user_id: str) -> frozenset[str]:
        """``user_id`` and everyone who reports to them, directly or not (the org tree)."""
        rows = await self._fetch_as(
            tenant,
            "SELECT id, manager_id FROM app_user WHERE tenant_id = {} AND manager_id IS NOT NULL",
            tenant,
        )
        reports: dict[str, list[str]] = {}
        for row in rows:
            reports.setdefault(str(row["manager_id"]), []).append(str(row["id"]))
        team, todo = {user_id}, [user_id]
        while todo:  # a cycle in the tree (a data mistake) ends: each user is visited once
            for member in reports.get(todo.pop(), ()):
                if member not in team:
                    team.add(member)
                    todo.append(member)
        return frozenset(team)

    async def users_with_roles(self, tenant: str, roles: Sequence[str]) -> list[dict[str, Any]]:
        """Active users holding any of ``roles``, by email."""
        rows = await self._fetch_as(
            tenant,
            f"SELECT {_USER_COLUMNS} FROM app_user WHERE tenant_id = {{}} AND active "
            "ORDER BY email",
            tenant,
        )
        wanted = set(roles)
        users = [self._user_row(r) for r in rows]
        return [u for u in users if wanted & set(u["roles"])]

    async def search_users(
        self, tenant: str, search: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Active users whose name or email contains ``search`` (ASCII letters in any
        case, like a ``contains`` filter), by name then email: ``{id, email, name}``."""
        where = Sql("tenant_id = {} AND active", (tenant,))
        if search:
            like = "ILIKE" if self.dialect == "postgresql" else "LIKE"
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            where = where & Sql(
                f"(name {like} {{}} ESCAPE '\\' OR email {like} {{}} ESCAPE '\\')",
                (pattern, pattern),
            )
        rows = await self._fetch_as(
            tenant,
            f"SELECT id, email, name FROM app_user WHERE {where.text} "
            "ORDER BY name, email, id LIMIT {}",
            *where.args,
            limit,
        )
        return [{"id": str(r["id"]), "email": r["email"], "name": r["name"] or ""} for r in rows]

    async def get_user(self, tenant: str, email: str) -> dict[str, Any] | None:
        rows = await self._fetch_as(
            tenant,
            f"SELECT {_USER_COLUMNS} FROM app_user WHERE tenant_id = {{}} AND email = {{}}",
            tenant,
            email.strip().lower(),
        )
        return self._user_row(rows[0]) if rows else None

    async def get_user_by_id(self, tenant: str, user_id: str) -> dict[str, Any] | None:
        rows = await self._fetch_as(
            tenant,
            f"SELECT {_USER_COLUMNS} FROM app_user WHERE tenant_id = {{}} AND id = {{}}",
            tenant,
            user_id,
        )
        return self._user_row(rows[0]) if rows else None

    async def store_token(
        self,
        token_hash: str,
        tenant: str,
        user_id: str,
        expires_at: datetime | None = None,
        label: str = "",
    ) -> None:
        await self._execute_as(
            tenant,
            "INSERT INTO api_token (token_hash, tenant_id, user_id, created_at, expires_at, label) "
            "VALUES ({}, {}, {}, {}, {}, {})",
            token_hash,
            tenant,
            user_id,
            self._time(utcnow()),
            self._time(expires_at),
            label,
        )

    async def token_principal(self, token_hash: str, now: datetime) -> dict[str, Any] | None:
        """Who a token stands for, if it is neither revoked nor expired and the user is active."""
        rows = await self._fetch_as(
            None,
            "SELECT u.tenant_id, u.id AS user_id, u.email, u.name, u.roles, u.locale "
            "FROM api_token t JOIN app_user u ON u.tenant_id = t.tenant_id AND u.id = t.user_id "
            "WHERE t.token_hash = {} AND t.revoked_at IS NULL "
            "AND (t.expires_at IS NULL OR t.expires_at > {}) AND u.active",
            token_hash,
            self._time(now),
        )
        if not rows:
            return None
        row = rows[0]
        row["roles"] = list(load_json(row["roles"]) or ())
        return row

    async def revoke_token(self, token_hash: str, now: datetime) -> bool:
        """Revoke a token; ``False`` if it is unknown or already revoked."""
        async with self.transaction():
            # The token decides the tenant; the system scope only reads, so the
            # update itself runs as that tenant.
            owner = await self._fetch_as(
                None, "SELECT tenant_id FROM api_token WHERE token_hash = {}", token_hash
            )
            if not owner:
                return False
            rows = await self._fetch_as(
                owner[0]["tenant_id"],
                "UPDATE api_token SET revoked_at = {} "
                "WHERE token_hash = {} AND revoked_at IS NULL RETURNING token_hash",
                self._time(now),
                token_hash,
            )
        return bool(rows)
