"""Every hook a Tessera plugin may implement (D4).

Hooks are named ``tessera_*`` and documented in ``docs/plugin-hooks.md``; a
test fails when a hook or one of its arguments is missing there. Only
:class:`core.plugins.PluginHost` calls them. Stage hooks and
``tessera_after_commit`` may return an awaitable, which the host awaits; the
declarative hooks (model, jobs, templates, routes, GraphQL) must return their
value directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pluggy import HookimplMarker, HookspecMarker

from core.context import CallContext, Operation, Record
from core.metadata import Labels, TenantModel

__all__ = [
    "AutomationActionSpec",
    "FieldTypeSpec",
    "GraphQLContribution",
    "JobSpec",
    "TemplateSpec",
    "hookimpl",
    "hookspec",
]

hookspec = HookspecMarker("tessera")
#: The marker plugins decorate their implementations with.
hookimpl = HookimplMarker("tessera")


@dataclass(frozen=True, slots=True)
class FieldTypeSpec:
    """A field type refining a built-in one.

    ``validate`` receives the value already checked as ``base`` and returns an
    error message, or ``None`` when the value is acceptable.
    """

    base: str
    validate: Callable[[Any], str | None]
    label: Labels = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GraphQLContribution:
    """One root field: ``field`` is a ``strawberry.field``-decorated resolver.

    ``name`` is the GraphQL field name (camelCase); ``plugin`` is filled in by
    the host. With ``entity`` set, only roles granted ``run`` on that entity
    may call the field (others get ``FORBIDDEN`` before the resolver runs);
    every action or report that reads or changes records should name one.

    ``record_action`` marks an action the screens offer as a button on a record
    page of ``entity``: its only required argument is ``id: ID!`` (the record).
    ``label`` (locale -> text) is the button's text.
    """

    name: str
    field: Any
    plugin: str = ""
    entity: str | None = None
    record_action: bool = False
    label: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A periodic job, run once per tenant that enables the plugin.

    ``run(tenant, runtime)`` returns an awaitable; exactly one of ``interval``
    and ``schedule`` (a five-field cron expression) is set.
    """

    name: str
    run: Callable[[str, Any], Awaitable[None]]
    interval: timedelta | None = None
    schedule: str | None = None
    plugin: str = ""

    def __post_init__(self) -> None:
        if (self.interval is None) == (self.schedule is None):
            raise ValueError(f"job '{self.name}' needs exactly one of interval and schedule")
        if self.interval is not None and self.interval.total_seconds() < 1:
            raise ValueError(f"job '{self.name}': the interval must be at least one second")
        if self.schedule is not None:
            from cronsim import CronSim, CronSimError

            try:
                CronSim(self.schedule, datetime.now(UTC))
            except CronSimError as exc:
                raise ValueError(f"job '{self.name}': bad cron schedule: {exc}") from None

    def next_run(self, after: datetime, timezone: str) -> datetime:
        """When the job runs next after ``after`` (cron in the tenant's time zone), in UTC."""
        if self.interval is not None:
            return after + self.interval
        from cronsim import CronSim

        assert self.schedule is not None
        local = after.astimezone(ZoneInfo(timezone))
        return next(CronSim(self.schedule, local)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AutomationActionSpec:
    """An action tenant automations may call as ``{"type": "plugin_action",
    "action": "<plugin>.<name>", "params": {...}}``.

    ``run(ctx, record, params)`` runs inside the transaction of the write that
    triggered it, as the automation's principal; it may return field values
    to set on ``record`` (checked like any other write), and raising refuses
    the whole write. Reads and writes of other records go through
    ``ctx.extra["service"]`` (the same service, so every rule applies).
    """

    name: str
    run: Callable[[CallContext, Record, Mapping[str, Any]], Awaitable[Mapping[str, Any] | None]]
    label: Labels = field(default_factory=dict)
    plugin: str = ""


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A document template (quote, invoice...) for one entity and locale."""

    key: str
    entity: str
    locale: str
    content: str
    media_type: str = "text/html"
    plugin: str = ""


# ---------------------------------------------------------------------------
# Model: what a plugin adds to every tenant model that enables it
# ---------------------------------------------------------------------------


@hookspec
def tessera_entities() -> Mapping[str, Mapping[str, Any]] | None:
    """Entity specs this plugin defines or extends, keyed by entity key.

    Each spec has the shape of a tenant config's ``entities`` entry. The keys
    of the entities a plugin defines must equal its manifest's ``entities``.
    """


@hookspec
def tessera_field_types() -> Mapping[str, FieldTypeSpec] | None:
    """New field types, keyed by type name, each refining a built-in type."""


# ---------------------------------------------------------------------------
# Service stages (D3), in ascending manifest ``order`` then plugin name
# ---------------------------------------------------------------------------


@hookspec
def tessera_pre_validate(ctx: CallContext, operation: Operation) -> Awaitable[None] | None:
    """Check a write before the transaction opens; raise to reject it cheaply.

    :param ctx: the call context (tenant model, principal, clock).
    :param operation: the write; hooks may change ``operation.values``.
    """


@hookspec
def tessera_pre_operation(ctx: CallContext, operation: Operation) -> Awaitable[None] | None:
    """Adjust or reject a write inside the transaction, before it is persisted.

    :param ctx: the call context (tenant model, principal, clock).
    :param operation: the write; hooks may change ``operation.values``.
    """


@hookspec
def tessera_post_operation(
    ctx: CallContext, operation: Operation, record: Record
) -> Awaitable[None] | None:
    """React to a persisted write inside the transaction; raising rolls it back.

    :param ctx: the call context (tenant model, principal, clock).
    :param operation: the write, with ``operation.changes`` filled in.
    :param record: the record as persisted.
    """


@hookspec
def tessera_after_commit(
    tenant: str, topic: str, payload: Mapping[str, Any]
) -> Awaitable[None] | None:
    """Handle an outbox event after its transaction committed (retried on failure).

    :param tenant: the tenant key.
    :param topic: the event topic, such as ``record.created``.
    :param payload: the JSON payload of the event.
    """


@hookspec
def tessera_plugin_event(
    ctx: CallContext, event: str, payload: Mapping[str, Any]
) -> Awaitable[None] | None:
    """React to a business event a plugin announced, inside the announcing transaction.

    :param ctx: the call context of the write behind the event; ``ctx.extra["service"]``
        is the service.
    :param event: ``<plugin>.<name>``, such as ``quoting.quote_accepted``.
    :param payload: the event's data, as the announcing plugin documents it.
    """


# ---------------------------------------------------------------------------
# Messages to people outside the tenant
# ---------------------------------------------------------------------------


@hookspec
def tessera_message_refusals(
    ctx: CallContext, channel: str, recipients: Sequence[str], entity: str, record: Record
) -> Mapping[str, str] | Awaitable[Mapping[str, str]] | None:
    """Recipients who refuse messages on ``channel``, each with a reason; they are skipped.

    :param ctx: the call context of the write whose automation sends;
        ``ctx.extra["service"]`` is the service.
    :param channel: ``email``, ``sms``, ``phone``, ``im``...
    :param recipients: the addresses about to be messaged (lower-case emails for ``email``).
    :param entity: the entity of the record the message is about.
    :param record: the record the message is about.
    """


# ---------------------------------------------------------------------------
# GraphQL (D7)
# ---------------------------------------------------------------------------


@hookspec
def tessera_graphql_actions(model: TenantModel) -> list[GraphQLContribution] | None:
    """Mutations this plugin adds to the tenant's GraphQL schema.

    :param model: the tenant model the schema is built for.
    """


@hookspec
def tessera_graphql_reports(model: TenantModel) -> list[GraphQLContribution] | None:
    """Queries (reports) this plugin adds to the tenant's GraphQL schema.

    :param model: the tenant model the schema is built for.
    """


# ---------------------------------------------------------------------------
# Jobs, documents and HTTP
# ---------------------------------------------------------------------------


@hookspec
def tessera_jobs() -> list[JobSpec] | None:
    """Periodic jobs the worker runs for every tenant that enables this plugin."""


@hookspec
def tessera_automation_actions() -> list[AutomationActionSpec] | None:
    """Actions tenant automations and transitions can call by ``<plugin>.<name>``."""


@hookspec
def tessera_document_templates() -> list[TemplateSpec] | None:
    """Document templates (quotes, invoices...) this plugin ships."""


@hookspec
def tessera_http_routes() -> list[Any] | None:
    """Litestar route handlers, mounted under ``/t/{tenant}/x/<plugin>/``."""
