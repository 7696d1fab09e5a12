"""Test helpers for plugin authors: a tenant with your plugin enabled, in one call::

    h = harness(my_plugin, config={"currency": "EUR"})
    op = await h.write("quote_line", {"quote": "q1", "quantity": Decimal(2)})
    assert op.values["amount"] is None  # no unit price yet

The harness runs the stage hooks exactly as the service does (same order,
same per-tenant enablement) without a database, so a plugin's rules can be
tested in milliseconds.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.context import CallContext, Operation, Principal, Record
from core.errors import PluginError
from core.metadata import TenantModel, build_tenant_model
from core.plugins import ENTRY_POINT_GROUP, PluginHost, read_manifest

__all__ = ["FIRST_PARTY", "PluginHarness", "harness", "plugin_host"]

#: Modules of the first-party plugins, used when their entry points are not installed.
FIRST_PARTY = ("plugins.sales", "plugins.quoting", "plugins.invoicing", "plugins.service")


def plugin_host(*plugins: object, installed: bool = True) -> PluginHost:
    """A host with the installed plugins plus ``plugins``; raises if any of them fails.

    ``plugins`` win over an installed entry point of the same name, so a
    package under development can be tested while an older version is
    installed. Without installed entry points (a source checkout), the
    first-party plugins are loaded from their modules.
    """
    own = {str(read_manifest(p).get("name")) for p in plugins}
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)) if installed else []
    extra: list[object] = list(plugins)
    if installed and not eps:
        extra = [importlib.import_module(m) for m in FIRST_PARTY] + extra
    others = [ep for ep in eps if ep.name not in own]
    host = PluginHost.from_entry_points(entry_points=others, extra=_dedupe(extra))
    # Another installed plugin that fails is reported in host.failures, not raised here.
    unrelated = {ep.name for ep in others}
    failed = [f for f in host.failures if f.name not in unrelated]
    if failed:
        raise PluginError(
            "; ".join(f"plugin '{f.name}': {f.error}" for f in failed),
            [p for f in failed for p in f.problems],
        )
    return host


def _dedupe(objects: Iterable[object]) -> list[object]:
    seen: dict[int, object] = {}
    for obj in objects:
        seen.setdefault(id(obj), obj)
    return list(seen.values())


def _with_requirements(host: PluginHost, names: Iterable[str]) -> list[str]:
    out: list[str] = []

    def visit(name: str) -> None:
        if name in out:
            return
        for needed in host.manifests.get(name, {}).get("requires", ()):
            visit(needed)
        out.append(name)

    for name in names:
        visit(name)
    return out


@dataclass(frozen=True, slots=True)
class PluginHarness:
    """A tenant model, a principal and the host, for driving stage hooks."""

    host: PluginHost
    model: TenantModel
    principal: Principal
    now: datetime = field(default_factory=lambda: datetime(2025, 1, 15, 9, 30, tzinfo=UTC))

    def context(self) -> CallContext:
        """A call context at the harness's fixed time."""
        return CallContext(model=self.model, principal=self.principal, clock=lambda: self.now)

    def record(self, entity: str, data: Mapping[str, Any], *, version: int = 1) -> Record:
        """A stored record to pass as ``previous`` of an update."""
        return Record(
            id=str(uuid.uuid4()),
            entity=entity,
            version=version,
            data=dict(data),
            created_at=self.now,
            created_by=self.principal.user_id,
            updated_at=self.now,
            updated_by=self.principal.user_id,
        )

    async def write(
        self,
        entity: str,
        values: Mapping[str, Any],
        *,
        previous: Record | None = None,
        action: str | None = None,
    ) -> Operation:
        """Run ``pre_validate`` and ``pre_operation`` on a write; return the operation.

        ``action`` defaults to ``update`` when ``previous`` is given, else ``create``.
        """
        operation = Operation(
            entity=entity,
            action=action or ("update" if previous else "create"),
            record_id=previous.id if previous else str(uuid.uuid4()),
            values=dict(values),
            previous=previous,
        )
        ctx = self.context()
        await self.host.pre_validate(ctx, operation)
        await self.host.pre_operation(ctx, operation)
        return operation

    async def persisted(self, operation: Operation, record: Record) -> None:
        """Run ``post_operation`` as if ``record`` had just been written."""
        await self.host.post_operation(self.context(), operation, record)


def harness(
    *plugins: object,
    config: Mapping[str, Any] | None = None,
    enable: Iterable[str] | None = None,
    roles: tuple[str, ...] = ("admin",),
    installed: bool = True,
) -> PluginHarness:
    """A harness whose tenant enables ``plugins`` (and what they require).

    ``config`` is merged into a minimal tenant config (tenant ``test``,
    locale ``en``, currency ``USD``); ``enable`` names the enabled plugins
    instead of those of ``plugins``.
    """
    host = plugin_host(*plugins, installed=installed)
    names = list(enable) if enable is not None else [str(read_manifest(p)["name"]) for p in plugins]
    doc: dict[str, Any] = {
        "tenant": "test",
        "locales": ["en"],
        "currency": "USD",
        "timezone": "UTC",
        **(config or {}),
    }
    doc["plugins"] = _with_requirements(host, [*doc.get("plugins", ()), *names])
    model = build_tenant_model(doc, host.contributions())
    principal = Principal(
        tenant=model.tenant, user_id="user-1", email="tester@example.com", roles=roles
    )
    return PluginHarness(host=host, model=model, principal=principal)
