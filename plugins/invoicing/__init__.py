"""Invoicing: invoices and payments."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.hookspecs import hookimpl
from plugins.invoicing.entities import ENTITIES


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)
