"""Many tenants in one process (P5, first measurement): models and schemas of 1,000 configs.

Run: ``python tests/benchmarks/bench_tenants.py [--tenants N]``. No database:
what one process holds per tenant is its ``TenantModel`` and its GraphQL
schema, both derived from the config. Measures, for ``N`` distinct generated
configs (tests/benchmarks/generator.py): the time to validate a config into a
model, the time to build its schema, and the memory all ``N`` models and
schemas retain together (growth of the resident set, Linux), against the
registry's cache bound (``SchemaRegistry.max_schemas``).

There is no floor for these: a model and a schema are only ever built this
way. The reference config's numbers are P4 (bench_api.py).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.config import validate_config
from core.graphql.registry import SchemaRegistry
from core.metadata import TenantModel
from core.plugins import PluginHost
from tests.benchmarks.common import Measurement, Stats, markdown_table
from tests.benchmarks.generator import generated_configs


def _rss_mib() -> float:
    """Resident memory of this process (tracemalloc would slow the builds 3-4×)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    args = parser.parse_args()
    host = PluginHost.from_entry_points()
    contributions = host.contributions()
    registry = SchemaRegistry(host, max_schemas=args.tenants)
    docs = list(generated_configs(args.tenants))
    gc.collect()
    base = _rss_mib()
    models: list[TenantModel] = []
    validate_ms: list[float] = []
    build_ms: list[float] = []
    types = 0
    for doc in docs:
        start = time.perf_counter()
        model, problems = validate_config(doc, contributions)
        validate_ms.append((time.perf_counter() - start) * 1000)
        if model is None:
            raise SystemExit(f"generated config {doc['tenant']} is invalid: {problems[:3]}")
        models.append(model)
        start = time.perf_counter()
        schema = registry.get(model)
        build_ms.append((time.perf_counter() - start) * 1000)
        types += len(schema._schema.type_map)
    gc.collect()
    retained = _rss_mib() - base
    n = len(models)
    rows = [
        Measurement("P5 validate config → model", "—", work=Stats.of([validate_ms])),
        Measurement(
            "P5 build tenant schema",
            "—",
            work=Stats.of([build_ms]),
            note=f"{types / n:.0f} types per schema on average",
        ),
    ]
    rows[0].note = (
        f"{n} tenants: {sum(validate_ms) / 1000:.1f} s validating, "
        f"{sum(build_ms) / 1000:.1f} s building"
    )
    print(markdown_table(rows))
    print()
    default_bound = inspect.signature(SchemaRegistry).parameters["max_schemas"].default
    print(
        f"Retained by {n} models and schemas: {retained:.0f} MiB "
        f"({retained / n:.2f} MiB per tenant); the registry keeps "
        f"{default_bound} schemas by default."
    )


if __name__ == "__main__":
    main()
