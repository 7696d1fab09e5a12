"""Numbering series: config checks, gapless and unique under concurrency, rollback, backups."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from core.backup import export_tenant, import_tenant
from core.context import CallContext, Principal
from core.errors import ValidationFailed
from core.numbering import format_number, numbering_problems, series_of
from core.store import Database, open_database
from tests.api_helpers import Api, make_runtime
from tests.plugins.quoting.helpers import Tenant, config


def _problems(runtime: Any, numbering: dict[str, Any]) -> list[tuple[str, str]]:
    _, problems = runtime.validate(config(numbering=numbering))
    return [(p.code, p.path) for p in problems]


async def test_a_bad_series_is_a_located_problem(db: Database) -> None:
    runtime = await make_runtime(db)
    assert _problems(runtime, {"quote": {"field": "number", "pattern": "Q-{YYYY}-{seq:4}"}}) == []
    assert _problems(runtime, {"quote": {"field": "title", "pattern": "Q{seq:3}"}}) == [
        ("NUMBERING_FIELD_WRITABLE", "/numbering/quote/field")
    ]
    assert _problems(runtime, {"quote": {"field": "nope", "pattern": "Q{seq:3}"}}) == [
        ("FIELD_UNKNOWN", "/numbering/quote/field")
    ]
    assert ("NUMBERING_PATTERN", "/numbering/quote/pattern") in _problems(
        runtime, {"quote": {"field": "number", "pattern": "Q-{YYYY}-{n}"}}
    )
    assert _problems(
        runtime, {"quote": {"field": "number", "pattern": "Q-{seq:4}", "reset": "yearly"}}
    ) == [("NUMBERING_RESET", "/numbering/quote/pattern")]
    assert _problems(runtime, {"ghost": {"field": "number", "pattern": "{seq:2}"}}) == [
        ("ENTITY_UNKNOWN", "/numbering/ghost")
    ]


def test_format_with_year_month_and_padding() -> None:
    from core.metadata import build_tenant_model
    from core.testing import plugin_host

    doc = config(
        numbering={
            "quote": {"field": "number", "pattern": "报价-{YY}{MM}-{seq:3}", "reset": "monthly"}
        }
    )
    model = build_tenant_model(doc, plugin_host().contributions())
    series = series_of(model, "quote")
    assert series is not None and numbering_problems(model) == []
    moment = datetime(2026, 3, 9, tzinfo=UTC)
    assert format_number(series, moment, 7) == "报价-2603-007"
    assert format_number(series, moment, 12345) == "报价-2603-12345"  # grows, never wraps


async def test_concurrent_creates_over_http_get_every_number_once(db: Database) -> None:
    api = Api(await make_runtime(db))
    t = await Tenant.open(api)
    year = datetime.now(UTC).astimezone().year
    quotes = await asyncio.gather(*(t.quote(f"Q{i}") for i in range(40)))
    numbers = sorted(q["number"] for q in quotes)
    assert numbers == [f"Q-{year}/{n:04d}" for n in range(1, 41)]
    # The number is read-only to users: the input type does not even offer it.
    body = await t.raw('mutation { createQuote(input: {title: "x", number: "Q-1"}) { id } }')
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await api.close()


async def test_a_rolled_back_create_leaves_no_gap(db: Database) -> None:
    api = Api(await make_runtime(db))
    t = await Tenant.open(api)
    first = await t.quote("one")
    # A create refused inside its transaction (an unknown account) gives its number back.
    body = await t.raw(
        'mutation { createQuote(input: {title: "bad", accountId: "missing"}) { id } }'
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    runtime = api.runtime
    model = await runtime.model(t.tenant)
    ctx = CallContext(model=model, principal=Principal.system(t.tenant))
    with pytest.raises(ValidationFailed):
        async with runtime.db.transaction():
            await runtime.service.create(ctx, "quote", {"title": "rolled back"})
            raise ValidationFailed("changed my mind")
    second = await t.quote("two")
    assert int(second["number"][-4:]) == int(first["number"][-4:]) + 1
    await api.close()


async def test_export_and_import_keep_the_counter(db: Database, tmp_path: Any) -> None:
    api = Api(await make_runtime(db))
    t = await Tenant.open(api)
    for i in range(3):
        await t.quote(f"Q{i}")
    out = io.BytesIO()
    await export_tenant(db, t.tenant, out)
    await api.close()
    # Restore into an empty database: the next quote continues the series.
    if db.dialect == "postgresql":
        from tests.conftest import _TABLES

        await db.execute(f"TRUNCATE {', '.join(_TABLES)}")
        target = db
    else:
        target = await open_database(f"sqlite:///{tmp_path / 'restored.db'}")
        await target.migrate()
    restored = Api(await make_runtime(target))
    await import_tenant(restored.runtime, io.BytesIO(out.getvalue()))
    again = Tenant(restored, t.tenant, t.token)
    fourth = await again.quote("after restore")
    assert fourth["number"].endswith("/0004")
    await restored.close()
    if target is not db:
        await target.close()
