"""RecordService.users_by_email: settings name users by email; records store ids."""

from __future__ import annotations

from core.context import Principal
from core.store import Database
from tests.api_helpers import acme_config, make_runtime


async def test_users_are_found_by_email_in_the_callers_tenant_only(db: Database) -> None:
    rt = await make_runtime(db)
    await rt.apply_config(acme_config("acme"))
    await rt.apply_config(acme_config("other"))
    ana = await db.add_user("acme", "ana@acme.test", "Ana", "x", ["admin"], "en")
    await db.add_user("other", "bob@acme.test", "Bob", "x", ["admin"], "en")
    ctx = rt.context(await rt.model("acme"), Principal.system("acme"))
    found = await rt.service.users_by_email(ctx, [" ANA@acme.test", "bob@acme.test", "nobody@x"])
    assert found == {"ana@acme.test": {"id": ana, "email": "ana@acme.test", "name": "Ana"}}
