"""Quoting: products, price lists, quotes with exact amounts, versions, documents.

Everything here uses the public hooks and the service path only, as a
partner's plugin would (docs/plugins/quoting.md).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.context import CallContext, Operation, Record
from core.hookspecs import (
    AutomationActionSpec,
    GraphQLContribution,
    TemplateSpec,
    hookimpl,
)
from core.metadata import TenantModel
from plugins.quoting import graphql
from plugins.quoting.amounts import set_line_amount
from plugins.quoting.entities import ENTITIES
from plugins.quoting.events import announce_acceptance
from plugins.quoting.layouts import TEMPLATES
from plugins.quoting.pricing import fill_line_defaults
from plugins.quoting.routes import ROUTES
from plugins.quoting.totals import keep_totals, recalculate_total, total_on_discount
from plugins.quoting.versions import frozen_versions, stamp_revision


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)


@hookimpl
def tessera_pre_validate(ctx: CallContext, operation: Operation) -> None:
    frozen_versions(ctx, operation)


@hookimpl
async def tessera_pre_operation(ctx: CallContext, operation: Operation) -> None:
    stamp_revision(ctx, operation)
    await fill_line_defaults(ctx, operation)
    set_line_amount(ctx, operation)
    await total_on_discount(ctx, operation)


@hookimpl
async def tessera_post_operation(ctx: CallContext, operation: Operation, record: Record) -> None:
    await keep_totals(ctx, operation, record)
    await announce_acceptance(ctx, operation, record)


@hookimpl
def tessera_automation_actions() -> list[AutomationActionSpec]:
    label = {
        "en": "Recalculate the quote total",
        "zh-CN": "重新计算报价总额",
        "es-ES": "Recalcular el total del presupuesto",
        "tl-PH": "Kuwentahin muli ang kabuuan ng quotation",
    }
    return [AutomationActionSpec("recalculate_total", recalculate_total, label=label)]


@hookimpl
def tessera_graphql_actions(model: TenantModel) -> list[GraphQLContribution]:
    return graphql.actions(model)


@hookimpl
def tessera_graphql_reports(model: TenantModel) -> list[GraphQLContribution]:
    return graphql.reports(model)


@hookimpl
def tessera_document_templates() -> list[TemplateSpec]:
    return list(TEMPLATES)


@hookimpl
def tessera_http_routes() -> list[Any]:
    return list(ROUTES)
