"""Service: cases and knowledge-base articles."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.hookspecs import hookimpl
from plugins.service.entities import ENTITIES


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    return copy.deepcopy(ENTITIES)
