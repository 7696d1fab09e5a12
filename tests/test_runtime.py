"""Runtimes share nothing but the database: a config applied by one reaches all."""

from __future__ import annotations

from core.store import Database
from tests.api_helpers import acme_config, make_runtime


async def test_a_config_applied_elsewhere_is_seen_on_the_next_request(db: Database) -> None:
    first, second = await make_runtime(db), await make_runtime(db)
    await first.apply_config(acme_config())
    before = await first.model("acme")
    assert await first.model("acme") is before  # cached while the version holds

    changed = acme_config()
    changed["entities"]["part"]["fields"]["colour"] = {"type": "text", "label": {"en": "Colour"}}
    result = await second.apply_config(changed)
    assert result.version == 2

    after = await first.model("acme")
    assert "colour" in after.entities["part"].fields
    assert after.version_key == result.model.version_key


async def test_a_checked_version_is_trusted_for_the_check_window(db: Database) -> None:
    from core.plugins import PluginHost
    from core.runtime import Runtime

    clock = [100.0]
    first = Runtime(db, PluginHost.from_entry_points(), config_check_seconds=0.5)
    second = await make_runtime(db)
    first._monotonic = lambda: clock[0]
    await first.apply_config(acme_config())
    before = await first.model("acme")
    changed = acme_config()
    changed["entities"]["part"]["fields"]["colour"] = {"type": "text", "label": {"en": "C"}}
    await second.apply_config(changed)
    clock[0] += 0.4
    assert await first.model("acme") is before  # within the window: not asked again
    clock[0] += 0.2
    assert "colour" in (await first.model("acme")).entities["part"].fields
    # A config applied through this runtime is served at once.
    changed["entities"]["part"]["fields"]["size"] = {"type": "text", "label": {"en": "S"}}
    await first.apply_config(changed)
    assert "size" in (await first.model("acme")).entities["part"].fields


async def test_tenants_with_the_same_config_get_the_same_api(db: Database) -> None:
    runtime = await make_runtime(db)
    await runtime.apply_config(acme_config("one"))
    await runtime.apply_config(acme_config("two"))
    one, two = await runtime.model("one"), await runtime.model("two")
    assert one.tenant == "one" and two.tenant == "two"
    assert runtime.schemas.get(one).sdl() == runtime.schemas.get(two).sdl()


async def test_index_slots_survive_the_database_reordering_config_keys(db: Database) -> None:
    """PostgreSQL's JSONB returns object keys sorted (shorter first), not as written.

    A field added in front of a longer one gets different slots in file order
    and in stored order; the backfill at apply time and every later read must
    use the same ones, or filters on indexed fields find nothing.
    """
    from core.context import CallContext, Principal
    from core.query import Condition

    rt = await make_runtime(db)
    doc = {
        "tenant": "slots",
        "name": {"en": "Slots"},
        "locales": ["en"],
        "currency": "EUR",
        "timezone": "UTC",
        "entities": {
            "thing": {
                "label": {"en": "Thing"},
                "plural": "things",
                "fields": {
                    "a_rather_long_reference": {
                        "type": "text",
                        "label": {"en": "Reference"},
                        "indexed": True,
                    }
                },
            }
        },
    }
    await rt.apply_config(doc)
    ctx = CallContext(model=await rt.model("slots"), principal=Principal.system("slots"))
    for ref in ("R-1", "R-2"):
        await rt.service.create(ctx, "thing", {"a_rather_long_reference": ref})
    fields = doc["entities"]["thing"]["fields"]
    doc["entities"]["thing"]["fields"] = {
        **fields,
        "b": {"type": "text", "label": {"en": "B"}, "indexed": True},
    }
    await rt.apply_config(doc)
    ctx = CallContext(model=await rt.model("slots"), principal=Principal.system("slots"))
    found, _ = await rt.service.list(
        ctx, "thing", Condition("a_rather_long_reference", "eq", "R-2"), [], 10, None
    )
    assert [r.data["a_rather_long_reference"] for r in found] == ["R-2"]
