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


async def test_tenants_with_the_same_config_get_the_same_api(db: Database) -> None:
    runtime = await make_runtime(db)
    await runtime.apply_config(acme_config("one"))
    await runtime.apply_config(acme_config("two"))
    one, two = await runtime.model("one"), await runtime.model("two")
    assert one.tenant == "one" and two.tenant == "two"
    assert runtime.schemas.get(one).sdl() == runtime.schemas.get(two).sdl()
