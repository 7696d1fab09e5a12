"""Sizing and bookkeeping shared by the adversarial campaign.

The campaign runs at a reduced size by default, so the whole of it fits in CI
while still failing when isolation, roles or concurrency break. Setting
``TESSERA_CAMPAIGN_SCALE=full`` runs every test at the size recorded in
``docs/security.md``; a number (``TESSERA_CAMPAIGN_SCALE=3``) multiplies the CI
size instead. With ``TESSERA_CAMPAIGN_REPORT=path.jsonl`` each test appends the
figures it reached (requests sent, leaks found, ...) so they can be recorded.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from hypothesis import HealthCheck, Phase, settings

__all__ = ["FULL", "campaign_settings", "drop_leaked_connections", "record_figures", "size"]

_SCALE = os.environ.get("TESSERA_CAMPAIGN_SCALE", "ci").strip().lower()
FULL = _SCALE == "full"


def size(ci: int, full: int) -> int:
    """How many examples (or writers, or requests) a test uses at the current scale."""
    if FULL:
        return full
    try:
        factor = float(_SCALE)
    except ValueError:
        return ci
    return max(1, min(full, round(ci * factor)))


def campaign_settings(ci: int, full: int) -> settings:
    """Hypothesis settings for a campaign property: no deadline, shared fixtures allowed."""
    return settings(
        max_examples=size(ci, full),
        deadline=None,
        derandomize=not FULL,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
        database=None,
        # No shrinking: one failing request is reported as generated, and a hung server
        # does not turn into hundreds of timed-out shrink attempts.
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
    )


def record_figures(test: str, engine: str, **figures: Any) -> None:
    """Append what a test reached to ``$TESSERA_CAMPAIGN_REPORT`` (if set)."""
    path = os.environ.get("TESSERA_CAMPAIGN_REPORT")
    if not path:
        return
    line = {"test": test, "engine": engine, "scale": _SCALE, "at": time.time(), **figures}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")


def drop_leaked_connections(engine: Any) -> int:
    """Terminate a PostgreSQL pool that still lends connections after a test.

    A leaked connection makes closing the pool wait forever, which would hang
    the whole run instead of failing one test. Returns how many were leaked.
    """
    pool = getattr(engine, "pool", None)
    if pool is None:
        return 0
    leaked = int(pool.get_size() - pool.get_idle_size())
    if leaked:
        pool.terminate()
    return leaked
