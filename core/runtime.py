"""The running framework: database, plugins, models, schemas, service.

One ``Runtime`` per process. Tenant models are cached by config version and
re-derived when another process applies a new config (D12: the tenant row
holds the current version; every request compares against it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.config import validate_config
from core.context import CallContext, Principal
from core.errors import ConfigInvalid, NotFound, Problem
from core.graphql import SchemaRegistry
from core.metadata import TenantModel
from core.plugins import PluginHost
from core.service import RecordService
from core.store import Database, default_database_url, open_database

__all__ = ["ApplyResult", "Runtime"]


@dataclass(frozen=True, slots=True)
class ApplyResult:
    tenant: str
    version: int
    changed: bool
    model: TenantModel
    reindexed: dict[str, int] = field(default_factory=dict)


class Runtime:
    def __init__(self, db: Database, plugins: PluginHost) -> None:
        self.db = db
        self.plugins = plugins
        self.service = RecordService(db, plugins)
        self.schemas = SchemaRegistry(plugins)
        self._models: dict[str, tuple[int, TenantModel]] = {}
        self._shared: dict[str, TenantModel] = {}

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
        if cached is not None and cached[0] == await self.db.config_version(tenant):
            return cached[1]
        current = await self.db.current_config(tenant)
        if current is None:
            raise NotFound(f"tenant '{tenant}' does not exist")
        model, problems = self.validate(current["config"])
        if model is None:
            raise ConfigInvalid(
                f"the stored config of '{tenant}' no longer validates "
                "(a plugin was removed or changed?)",
                problems,
            )
        # Tenants with identical models share one object (and so one schema).
        model = self._shared.setdefault(model.version_key, model)
        self._models[tenant] = (current["version"], model)
        return model

    def context(self, model: TenantModel, principal: Principal) -> CallContext:
        return CallContext(model=model, principal=principal)

    async def apply_config(
        self, doc: Mapping[str, Any], *, actor: str = "cli", file: str | None = None
    ) -> ApplyResult:
        """Validate and apply a tenant config atomically, as a new version."""
        model, problems = self.validate(doc, file)
        if model is None:
            raise ConfigInvalid(f"{len(problems)} problem(s) in {file or 'config'}", problems)
        tenant = model.tenant
        current = await self.db.current_config(tenant)
        previous: TenantModel | None = None
        if current is not None:
            if current["version_key"] == model.version_key:
                return ApplyResult(tenant, current["version"], False, model)
            previous, _ = self.validate(current["config"])
        name = model.label(model.name) or tenant
        reindexed: dict[str, int] = {}
        async with self.db.transaction():
            version = await self.db.save_config(tenant, name, dict(doc), model.version_key, actor)
            for key, entity in model.entities.items():
                old = previous.entities.get(key) if previous else None
                new_slots = {f.key: f.slot for f in entity.fields.values() if f.slot}
                old_slots = {f.key: f.slot for f in old.fields.values() if f.slot} if old else {}
                if new_slots != old_slots and old is not None:
                    reindexed[key] = await self.db.backfill_slots(tenant, entity)
        return ApplyResult(tenant, version, True, model, reindexed)
