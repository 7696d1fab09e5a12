"""Quoting: products, quotes and quote lines with computed line amounts."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.context import CallContext, Operation
from core.hookspecs import hookimpl
from plugins.quoting.amounts import set_line_amount
from plugins.quoting.entities import ENTITIES


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)


@hookimpl
def tessera_pre_operation(ctx: CallContext, operation: Operation) -> None:
    set_line_amount(ctx, operation)
