"""Refused channels: the core notify action skips them and says so in the record's history."""

from __future__ import annotations

from typing import Any

from tests.plugins.sales.conftest import SalesApi, sales_config

WELCOME = {
    "welcome": {
        "entity": "contact",
        "on": {"event": "updated"},
        "do": [
            {
                "type": "notify",
                "to": {"fields": ["email"], "emails": ["sales@ventas.es"]},
                "subject": {"en": "Hello {record.name}"},
            }
        ],
    }
}
AUDIT = "query($id: ID!) { contact(id: $id) { audit { action diff } } }"


async def _sent(api: SalesApi) -> list[dict[str, Any]]:
    rows = await api.runtime.db.pending_outbox("ventas")
    return [r for r in rows if r["topic"] == "notify.email"]


async def test_a_refused_channel_is_skipped_and_recorded(api: SalesApi) -> None:
    doc = sales_config()
    doc["automations"] = WELCOME
    token = await api.tenant(doc)
    keen = await api.create("ventas", token, "Contact", {"name": "Ana", "email": "ana@a.es"})
    shy = await api.create(
        "ventas",
        token,
        "Contact",
        {"name": "Bea", "email": "Bea@B.es", "refusedChannels": ["email"]},
    )
    old = await api.create(
        "ventas", token, "Contact", {"name": "Cid", "email": "cid@c.es", "doNotEmail": True}
    )
    for c in (keen, shy, old):
        await api.ok(
            "ventas",
            token,
            'mutation($id: ID!) { updateContact(id: $id, input: {jobTitle: "CTO"}) { id } }',
            {"id": c["id"]},
        )
    sent = [sorted(m["payload"]["to"]) for m in await _sent(api)]
    assert sent == [["ana@a.es", "sales@ventas.es"], ["sales@ventas.es"], ["sales@ventas.es"]]
    history = (await api.ok("ventas", token, AUDIT, {"id": shy["id"]}))["contact"]["audit"]
    skips = [h["diff"] for h in history if h["action"] == "notify_skipped"]
    assert skips == [
        {
            "_skipped": [
                {"to": "bea@b.es", "channel": "email", "reason": "contact 'Bea' refuses email"}
            ],
            "_source": "automation:welcome",
        }
    ]


async def test_an_email_of_a_refusing_contact_is_skipped_on_other_records(api: SalesApi) -> None:
    doc = sales_config()
    doc["automations"] = {
        "tell": {
            "entity": "account",
            "on": {"event": "created"},
            "do": [{"type": "notify", "to": {"fields": ["email"]}, "subject": {"en": "New"}}],
        }
    }
    token = await api.tenant(doc)
    await api.create(
        "ventas",
        token,
        "Contact",
        {"name": "Bea", "email": "bea@b.es", "refusedChannels": ["email", "sms"]},
    )
    await api.create("ventas", token, "Account", {"name": "B S.L.", "email": "bea@b.es"})
    await api.create("ventas", token, "Account", {"name": "C S.L.", "email": "info@c.es"})
    assert [m["payload"]["to"] for m in await _sent(api)] == [["info@c.es"]]
