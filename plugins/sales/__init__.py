"""Sales: accounts, contacts, leads, opportunities and activities.

Adds duplicate prevention, lead conversion, assignment rules, pipelines,
contact channel preferences and the sales reports; every piece uses only the
public hooks and the service path. See docs/plugins/sales.md.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from core.context import CallContext, Operation, Record
from core.errors import Problem, ValidationFailed
from core.hookspecs import GraphQLContribution, hookimpl
from core.metadata import TenantModel
from plugins.sales import graphql
from plugins.sales.assignment import assign_owner
from plugins.sales.conversion import guard_lead_status
from plugins.sales.duplicates import check_create, refresh_keys
from plugins.sales.entities import ENTITIES
from plugins.sales.pipeline import apply_pipeline
from plugins.sales.preferences import refusals


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)


#: Rows the plugin keeps for itself (duplicate-check keys, round-robin turns).
_BOOKKEEPING = frozenset({"match_key", "assignment_cursor"})


@hookimpl
async def tessera_pre_validate(ctx: CallContext, operation: Operation) -> None:
    if operation.entity in _BOOKKEEPING and not ctx.principal.is_system:
        raise ValidationFailed(
            f"{operation.entity} records are kept by the sales plugin",
            [Problem("MAINTAINED_BY_PLUGIN", "kept by the sales plugin; not written by hand")],
        )
    await check_create(ctx, operation)


@hookimpl
async def tessera_pre_operation(ctx: CallContext, operation: Operation) -> None:
    guard_lead_status(ctx, operation)
    apply_pipeline(ctx, operation)
    await assign_owner(ctx, operation)


@hookimpl
async def tessera_post_operation(ctx: CallContext, operation: Operation, record: Record) -> None:
    await refresh_keys(ctx, operation, record)


@hookimpl
async def tessera_message_refusals(
    ctx: CallContext, channel: str, recipients: Sequence[str], entity: str, record: Record
) -> Mapping[str, str]:
    return await refusals(ctx, channel, recipients, entity, record)


@hookimpl
def tessera_graphql_actions(model: TenantModel) -> list[GraphQLContribution]:
    return graphql.actions(model)


@hookimpl
def tessera_graphql_reports(model: TenantModel) -> list[GraphQLContribution]:
    return graphql.reports(model)
