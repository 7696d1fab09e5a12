"""The running framework: database, plugins, models, schemas, service.

One ``Runtime`` per process. Tenant models are cached by config version and
re-derived when another process applies a new config (D12: the tenant row
holds the current version; every request compares against it).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core import authz
from core.config import validate_config
from core.context import CallContext, Principal, utcnow
from core.errors import ConfigInvalid, NotFound, Problem
from core.graphql import SchemaRegistry
from core.graphql.registry import cache_size_from_env
from core.hookspecs import JobSpec
from core.metadata import TenantModel
from core.plugins import PluginHost
from core.reindex import Backfill, BackfillReport, ProgressFn
from core.service import RecordService
from core.store import Database, default_database_url, open_database
from core.store.reindex import Reindex, SlotTarget, changed_slots
from core.store.values import stored_order

__all__ = ["ApplyResult", "Runtime"]

#: Timer keys of plugin jobs (``job:<plugin>.<name>``) and the record they hang on.
#: Seconds a checked config version is trusted (``TESSERA_CONFIG_CHECK_SECONDS``).
CONFIG_CHECK_VAR = "TESSERA_CONFIG_CHECK_SECONDS"
DEFAULT_CONFIG_CHECK_SECONDS = 0.5
JOB_PREFIX = "job:"
JOB_RECORD = "_job"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """A committed apply. ``reindex``: the tenant's re-indexes still to run after it
    (this apply's and any earlier one's): run them with :meth:`Runtime.reindex`,
    or let ``crm worker`` do it. Reads are correct meanwhile, only slower."""

    tenant: str
    version: int
    changed: bool
    model: TenantModel
    reindex: tuple[Reindex, ...] = field(default_factory=tuple)


class Runtime:
    def __init__(
        self,
        db: Database,
        plugins: PluginHost,
        *,
        config_check_seconds: float | None = None,
        cache_size: int | None = None,
    ) -> None:
        self.db = db
        self.plugins = plugins
        self.service = RecordService(db, plugins)
        #: Tenants whose model (and schema) stay in memory, least recently used
        #: dropped beyond it (``TESSERA_TENANT_CACHE_SIZE``); a dropped one is
        #: re-derived from its stored config on its next request.
        self.cache_size = cache_size_from_env() if cache_size is None else cache_size
        self.schemas = SchemaRegistry(plugins, max_schemas=self.cache_size)
        self._models: OrderedDict[str, tuple[int, TenantModel]] = OrderedDict()
        #: How long a tenant's config version, once checked, is trusted without asking
        #: the database again: a config applied by another process is served at most
        #: this much later. One applied here is served at once.
        self.config_check_seconds = (
            float(os.environ.get(CONFIG_CHECK_VAR, DEFAULT_CONFIG_CHECK_SECONDS))
            if config_check_seconds is None
            else config_check_seconds
        )
        self._checked: dict[str, float] = {}
        self._monotonic: Callable[[], float] = time.monotonic  # tests step it
        self._shared: dict[str, TenantModel] = {}
        self._pinned: OrderedDict[tuple[str, int], TenantModel] = OrderedDict()
        self._hidden: dict[tuple[str, bool, tuple[str, ...]], dict[str, frozenset[str]]] = {}
        #: What "now" is for work the runtime schedules itself (tests inject a clock).
        self.clock: Callable[[], datetime] = utcnow
        self.service.processes.model_at = self.model_at

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        plugins: PluginHost | None = None,
        extra_plugins: Iterable[object] = (),
        migrate: bool = True,
    ) -> Runtime:
        db = await open_database(url or default_database_url())
        if migrate:
            await db.migrate()
        host = plugins or PluginHost.from_entry_points(extra=extra_plugins)
        return cls(db, host)

    async def close(self) -> None:
        await self.db.close()

    # -- models ------------------------------------------------------------

    def validate(
        self, doc: Any, file: str | None = None
    ) -> tuple[TenantModel | None, list[Problem]]:
        return validate_config(doc, self.plugins.contributions(), file=file)

    async def model(self, tenant: str) -> TenantModel:
        """The tenant's current model; re-derived only when its version changed."""
        cached = self._models.get(tenant)
        if cached is not None:
            self._models.move_to_end(tenant)
            now = self._monotonic()
            if now - self._checked.get(tenant, -math.inf) < self.config_check_seconds:
                return cached[1]
            # One read: the version, and how many re-indexes are pending (reads of
            # their slots go through the JSON document until they finish).
            state = await self.db.config_state(tenant)
            if state is not None and cached[0] == state[0]:
                await self.db.reindex.note_pending(tenant, state[1])
                self._checked[tenant] = now
                return cached[1]
        checked = self._monotonic()
        current = await self.db.current_config(tenant)
        if current is None:
            raise NotFound(f"tenant '{tenant}' does not exist")
        # After the config: an apply committing in between leaves more slots pending
        # than this model needs (reads stay right), never fewer.
        await self.db.reindex.load_pending(tenant)
        # In a thread: validating a large config takes 0.1-1 s of CPU, during which
        # an event loop would serve no other tenant (the thread yields the GIL).
        model, problems = await asyncio.to_thread(self.validate, current["config"])
        if model is None:
            raise ConfigInvalid(
                f"the stored config of '{tenant}' no longer validates "
                "(a plugin was removed or changed?)",
                problems,
            )
        model = self._remember(tenant, current["version"], model)
        self._checked[tenant] = checked
        return model

    async def model_at(self, tenant: str, version: int) -> TenantModel:
        """The model of one config version: what a run started under (D6) follows."""
        cached = self._models.get(tenant)
        if cached is not None and cached[0] == version:
            return cached[1]
        pinned = self._pinned.get((tenant, version))
        if pinned is not None:
            self._pinned.move_to_end((tenant, version))
            return pinned
        stored = await self.db.config_at(tenant, version)
        if stored is None:
            raise NotFound(f"tenant '{tenant}' has no config version {version}")
        model, problems = self.validate(stored["config"])
        if model is None:
            raise ConfigInvalid(
                f"config version {version} of '{tenant}' no longer validates", problems
            )
        model = self._shared.setdefault(model.version_key, model)
        self._pinned[(tenant, version)] = model
        while len(self._pinned) > self.cache_size:
            self._release(self._pinned.popitem(last=False)[1])
        return model

    def _remember(self, tenant: str, version: int, model: TenantModel) -> TenantModel:
        """Cache ``model`` as the tenant's current one; drop the least recently used
        tenants beyond :attr:`cache_size`. The model returned is the shared object
        of its version key (model and model_at of one version agree)."""
        model = self._shared.setdefault(model.version_key, model)
        replaced = self._models.pop(tenant, None)
        self._models[tenant] = (version, model)
        if replaced is not None:
            self._release(replaced[1])
        while len(self._models) > self.cache_size:
            idle, (_, dropped) = self._models.popitem(last=False)
            self._checked.pop(idle, None)
            self._release(dropped)
        return model

    def _release(self, model: TenantModel) -> None:
        """Forget the shared object of ``model`` once no cached entry holds its version."""
        key = model.version_key
        current = self._models.get(model.tenant)
        if current is not None and current[1].version_key == key:
            return
        if any(m.version_key == key for m in self._pinned.values()):
            return
        self._shared.pop(key, None)

    async def fire_timer(self, tenant: str, row: Mapping[str, Any]) -> None:
        """Run what a due timer triggers (called by the worker inside its transaction).

        Plugin jobs (``tessera_jobs``) ride on timers too: ``job:<plugin>.<name>``
        runs the job, then schedules its next run in the same transaction.
        """
        key = str(row["timer_key"])
        if not key.startswith(JOB_PREFIX):
            await self.service.processes.fire_timer(tenant, row)
            return
        model = await self.model(tenant)
        now = row.get("now") or utcnow()
        job = self._job(model, key)
        if job is None:
            return  # the plugin was disabled or dropped the job: it is not rescheduled
        await job.run(tenant, self)
        await self._schedule_job(tenant, model, job, now)

    @staticmethod
    def _job_key(job: JobSpec) -> str:
        return f"{JOB_PREFIX}{job.plugin}.{job.name}"

    def _job(self, model: TenantModel, key: str) -> JobSpec | None:
        return next((j for j in self.plugins.jobs(model.plugins) if self._job_key(j) == key), None)

    async def _schedule_job(
        self, tenant: str, model: TenantModel, job: JobSpec, after: datetime
    ) -> None:
        version = await self.db.config_version(tenant) or 0
        due = job.next_run(after, model.timezone)
        await self.db.jobs.schedule_timer(
            tenant, self._job_key(job), JOB_PREFIX, JOB_RECORD, due, version, after
        )

    async def seed_jobs(self, tenant: str, now: datetime | None = None) -> int:
        """Schedule the first run of every job of the tenant's plugins not yet scheduled."""
        model = await self.model(tenant)
        now = now or self.clock()
        pending = {
            t["timer_key"]
            for t in await self.db.jobs.timers_for(tenant, JOB_RECORD)
            if t["status"] == "pending"
        }
        seeded = 0
        for job in self.plugins.jobs(model.plugins):
            if self._job_key(job) not in pending:
                await self._schedule_job(tenant, model, job, now)
                seeded += 1
        return seeded

    def hidden_fields(self, ctx: CallContext) -> dict[str, frozenset[str]]:
        """What the caller's role set may not read, memoised per model and role set."""
        key = (ctx.model.version_key, ctx.principal.is_system, tuple(sorted(ctx.principal.roles)))
        found = self._hidden.get(key)
        if found is None:
            if len(self._hidden) > 4096:
                self._hidden.clear()
            found = self._hidden[key] = authz.hidden_fields(ctx)
        return found

    def context(self, model: TenantModel, principal: Principal) -> CallContext:
        return CallContext(model=model, principal=principal, clock=self.clock)

    async def apply_config(
        self, doc: Mapping[str, Any], *, actor: str = "cli", file: str | None = None
    ) -> ApplyResult:
        """Validate and apply a tenant config atomically, as a new version.

        Returns once the version is committed. Existing records whose index
        slots the change re-maps are re-indexed afterwards
        (:meth:`reindex`, or ``crm worker``); until then filters and sorts on
        the fields concerned read the JSON document: correct, slower.
        """
        # The model is built from the config as the database will return it, so the
        # slots re-indexed now are the slots every later read uses.
        doc = stored_order(dict(doc), self.db.dialect)
        model, problems = self.validate(doc, file)
        if model is None:
            raise ConfigInvalid(f"{len(problems)} problem(s) in {file or 'config'}", problems)
        tenant = model.tenant
        current = await self.db.current_config(tenant)
        previous: TenantModel | None = None
        if current is not None:
            if current["version_key"] == model.version_key:
                pending = tuple(await self.db.reindex.unfinished(tenant))
                return ApplyResult(tenant, current["version"], False, model, pending)
            previous, _ = self.validate(current["config"])
        from core.plan import data_problems

        # Checked before the transaction and again inside it would be stricter; a
        # write racing an apply is refused by the claims recorded below instead.
        problems, uniques = await data_problems(self.db, previous, model, file)
        if problems:
            raise ConfigInvalid(
                f"{len(problems)} problem(s) with the stored data of '{tenant}'", problems
            )
        remap = await self._slot_changes(tenant, previous, model)
        name = model.label(model.name) or tenant
        now = utcnow()
        async with self.db.transaction():
            version = await self.db.save_config(tenant, name, dict(doc), model.version_key, actor)
            for claims in uniques:
                for record_id, value in claims.claims:
                    await self.db.claim_unique(
                        tenant, claims.entity, claims.field, value, record_id
                    )
            if previous is not None:
                for key, entity in previous.entities.items():
                    kept = model.entities.get(key)
                    if kept is None:
                        await self.db.reindex.abandon(tenant, key, now)
                    for f in entity.fields.values():
                        still = kept.fields.get(f.key) if kept else None
                        if f.unique and (still is None or not still.unique):
                            await self.db.drop_unique_claims(tenant, key, f.key)
            for key, (changes, rows) in remap.items():
                await self.db.reindex.schedule(tenant, key, changes, version, rows, now)
        # Served from the next request on, whatever the check window; reads of the
        # slots being re-indexed use the JSON document from now on.
        self._checked.pop(tenant, None)
        pending = tuple(await self.db.reindex.unfinished(tenant))
        await self.db.reindex.load_pending(tenant)
        await self.seed_jobs(tenant)
        return ApplyResult(tenant, version, True, model, pending)

    async def _slot_changes(
        self, tenant: str, previous: TenantModel | None, model: TenantModel
    ) -> dict[str, tuple[dict[str, SlotTarget | None], int]]:
        """Per entity: the slot columns whose content the new model changes, and its rows.

        An entity the previous model had may hold records (or get some from a
        server still on the previous model): re-indexed whenever its slots
        change. One new to the model only if records of that key are stored.
        """
        out: dict[str, tuple[dict[str, SlotTarget | None], int]] = {}
        if previous is None:
            return out
        for key, entity in model.entities.items():
            old = previous.entities.get(key)
            changes = changed_slots(old, entity)
            if not changes:
                continue
            rows = await self.db.reindex.count_rows(tenant, key)  # an estimate, outside the txn
            if old is not None or rows:
                out[key] = (changes, rows)
        return out

    async def reindex(
        self,
        tenant: str,
        *,
        progress: ProgressFn | None = None,
        budget: float | None = None,
        wait: bool = False,
        owner: str | None = None,
        batch: int | None = None,
    ) -> BackfillReport:
        """Run the tenant's pending re-indexes (after :meth:`apply_config` returned).

        Batches of ``batch`` records (``TESSERA_REINDEX_BATCH``, default 5,000),
        each its own short transaction, with a pause after each. Returns when
        all are done, after ``budget`` seconds (the position is kept), or when
        another process holds them (unless ``wait``: then it follows that
        process and takes over if it stops). Safe to call from several
        processes and to interrupt anywhere.
        """
        runner = Backfill(
            self.db,
            owner=owner,
            settle=self.config_check_seconds,
            batch=batch,
            progress=progress,
        )
        report = await runner.run(tenant, budget=budget, wait=wait)
        if report.finished:
            self._checked.pop(tenant, None)
        return report
