"""tessera_message_refusals: the notify action skips refused recipients and records the skip."""

from __future__ import annotations

from typing import Any

from core.context import CallContext, Record
from core.hookspecs import hookimpl
from core.store import Database
from tests.api_helpers import Api, make_runtime, plugin_manifest


class QuietPlugin:
    """Refuses email to anyone at quiet.test, and is asked with every argument."""

    TESSERA_MANIFEST = plugin_manifest("quiet")

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str], str]] = []

    @hookimpl
    async def tessera_message_refusals(
        self, ctx: CallContext, channel: str, recipients: list[str], entity: str, record: Record
    ) -> dict[str, str]:
        assert ctx.extra["service"] is not None and record.entity == entity
        self.asked.append((channel, list(recipients), entity))
        return {r: "asked not to be emailed" for r in recipients if r.endswith("@quiet.test")}


def config(plugins: list[str]) -> dict[str, Any]:
    return {
        "tenant": "notes",
        "name": {"en": "Notes"},
        "locales": ["en"],
        "currency": "USD",
        "timezone": "UTC",
        "plugins": plugins,
        "entities": {
            "note": {
                "label": {"en": "Note"},
                "plural": "notes",
                "fields": {"title": {"type": "text", "label": {"en": "Title"}}},
            }
        },
        "automations": {
            "tell": {
                "entity": "note",
                "on": {"event": "created"},
                "do": [
                    {
                        "type": "notify",
                        "to": {"emails": ["a@quiet.test", "b@loud.test", "C@Quiet.test"]},
                        "subject": {"en": "New note {record.title}"},
                    }
                ],
            }
        },
    }


async def _note(api: Api, token: str) -> str:
    body = await api.gql("notes", token, 'mutation { createNote(input: {title: "x"}) { id } }')
    assert "errors" not in body, body
    return str(body["data"]["createNote"]["id"])


async def test_refused_recipients_are_skipped_and_the_skip_is_in_the_history(db: Database) -> None:
    quiet = QuietPlugin()
    api = Api(await make_runtime(db, [quiet]))
    token = await api.tenant(config(["quiet"]))
    note = await _note(api, token)
    sent = [m for m in await db.pending_outbox("notes") if m["topic"] == "notify.email"]
    assert [m["payload"]["to"] for m in sent] == [["b@loud.test"]]
    assert quiet.asked == [("email", ["a@quiet.test", "b@loud.test", "c@quiet.test"], "note")]
    history = await api.gql(
        "notes", token, "query($id: ID!) { note(id: $id) { audit { action diff } } }", {"id": note}
    )
    skips = [a["diff"] for a in history["data"]["note"]["audit"] if a["action"] == "notify_skipped"]
    assert skips == [
        {
            "_skipped": [
                {"to": "a@quiet.test", "channel": "email", "reason": "asked not to be emailed"},
                {"to": "c@quiet.test", "channel": "email", "reason": "asked not to be emailed"},
            ],
            "_source": "automation:tell",
        }
    ]
    await api.close()


async def test_a_disabled_plugin_is_not_asked(db: Database) -> None:
    quiet = QuietPlugin()
    api = Api(await make_runtime(db, [quiet]))
    token = await api.tenant(config([]))
    await _note(api, token)
    sent = [m for m in await db.pending_outbox("notes") if m["topic"] == "notify.email"]
    assert [sorted(m["payload"]["to"]) for m in sent] == [
        ["a@quiet.test", "b@loud.test", "c@quiet.test"]
    ]
    assert quiet.asked == []
    await api.close()
