"""Quoting: products, quotes and quote lines with computed line amounts."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.context import CallContext, Operation
from core.hookspecs import AutomationActionSpec, hookimpl
from plugins.quoting.amounts import set_line_amount
from plugins.quoting.entities import ENTITIES
from plugins.quoting.totals import recalculate_total


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)


@hookimpl
def tessera_pre_operation(ctx: CallContext, operation: Operation) -> None:
    set_line_amount(ctx, operation)


@hookimpl
def tessera_automation_actions() -> list[AutomationActionSpec]:
    label = {
        "en": "Recalculate the quote total",
        "zh-CN": "重新计算报价总额",
        "es-ES": "Recalcular el total del presupuesto",
        "tl-PH": "Kuwentahin muli ang kabuuan ng quotation",
    }
    return [AutomationActionSpec("recalculate_total", recalculate_total, label=label)]
