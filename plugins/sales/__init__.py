"""Sales: accounts, contacts, leads, opportunities and activities."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.hookspecs import hookimpl
from plugins.sales.entities import ENTITIES


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)
