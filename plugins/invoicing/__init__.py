"""Invoicing: invoices and payments; accepted quotes become draft invoices."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.context import CallContext
from core.hookspecs import hookimpl
from plugins.invoicing.drafts import QUOTE_ACCEPTED, draft_from_quote
from plugins.invoicing.entities import ENTITIES


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)


@hookimpl
async def tessera_plugin_event(ctx: CallContext, event: str, payload: Mapping[str, Any]) -> None:
    if event == QUOTE_ACCEPTED and "invoice" in ctx.model.entities:
        await draft_from_quote(ctx, payload)
