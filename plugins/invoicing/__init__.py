"""Invoicing: invoices and payments; accepted quotes become draft invoices.

Adds the receivables aging and cash-flow reports; every piece uses only the
public hooks and the service path. See docs/plugins/invoicing.md.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.context import CallContext
from core.hookspecs import GraphQLContribution, hookimpl
from core.metadata import TenantModel
from plugins.invoicing import graphql
from plugins.invoicing.drafts import QUOTE_ACCEPTED, draft_from_quote
from plugins.invoicing.entities import ENTITIES


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)


@hookimpl
async def tessera_plugin_event(ctx: CallContext, event: str, payload: Mapping[str, Any]) -> None:
    if event == QUOTE_ACCEPTED and "invoice" in ctx.model.entities:
        await draft_from_quote(ctx, payload)


@hookimpl
def tessera_graphql_reports(model: TenantModel) -> list[GraphQLContribution]:
    return graphql.reports(model)
