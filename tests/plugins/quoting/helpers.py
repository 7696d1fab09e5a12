"""A quoting tenant over HTTP, the way a user reaches it."""

from __future__ import annotations

import copy
from typing import Any

from core.security import hash_password, issue_token
from tests.api_helpers import Api

STATES = {
    "draft": {"initial": True},
    "pending_approval": {"read_only": "*"},
    "sent": {"read_only": ["account", "discount", "total", "valid_until"]},
    "accepted": {"final": True, "read_only": "*"},
    "rejected": {"final": True},
}

CONFIG: dict[str, Any] = {
    "tenant": "quotes",
    "name": {"en": "Quotes Ltd", "zh-CN": "报价有限公司"},
    "locales": ["en", "zh-CN", "es-ES"],
    "currency": "EUR",
    "timezone": "Europe/Madrid",
    "plugins": ["sales", "quoting", "invoicing"],
    "entities": {
        "quote": {
            "fields": {
                "status": {"options": [{"value": s, "label": {"en": s.title()}} for s in STATES]}
            }
        }
    },
    "numbering": {"quote": {"field": "number", "pattern": "Q-{YYYY}/{seq:4}", "reset": "yearly"}},
    "settings": {"quoting": {"transitions": {"reject": "decline"}, "default_tax_rate": 21}},
    "roles": {
        "rep": {
            "permissions": {
                "entities": {
                    "account": ["create", "read", "update"],
                    "product": ["read"],
                    "price_list": ["read"],
                    "price_list_item": ["read"],
                    "quote": ["create", "read", "update", "transition", "run"],
                    "quote_line": ["create", "read", "update", "delete"],
                    "quote_version": ["create", "read"],
                    "invoice": ["read"],
                },
                "record_scope": "own",
            }
        },
        "manager": {"permissions": {"entities": {"*": ["*"]}, "record_scope": "all"}},
        "admin": {"permissions": {"entities": {"*": ["*"]}, "record_scope": "all"}},
    },
    "workflows": {
        "quote_flow": {
            "entity": "quote",
            "field": "status",
            "states": STATES,
            "transitions": {
                "send": {
                    "from": ["draft"],
                    "to": "sent",
                    "approval": {
                        "when": "has(record.discount) && record.discount > 10.0",
                        "pending_state": "pending_approval",
                        "reject_to": "draft",
                        "steps": [{"key": "manager", "approvers": {"roles": ["manager"]}}],
                    },
                },
                "revise": {"from": ["sent"], "to": "draft"},
                "accept": {"from": ["sent"], "to": "accepted"},
                "decline": {"from": ["sent"], "to": "rejected", "comment_required": True},
            },
        }
    },
}


def config(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(CONFIG)
    doc.update(changes)
    return doc


class Tenant:
    """A tenant with an admin token and helpers that fail loudly on GraphQL errors."""

    def __init__(self, api: Api, tenant: str, token: str) -> None:
        self.api = api
        self.tenant = tenant
        self.token = token

    @classmethod
    async def open(cls, api: Api, doc: dict[str, Any] | None = None) -> Tenant:
        doc = doc or config()
        token = await api.tenant(doc)
        return cls(api, doc["tenant"], token)

    async def user(self, email: str, role: str) -> Tenant:
        db = self.api.runtime.db
        uid = await db.add_user(
            self.tenant, email, email.split("@")[0], hash_password("password123"), [role], "en"
        )
        return Tenant(self.api, self.tenant, await issue_token(db, self.tenant, uid))

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.api.gql(self.tenant, self.token, query, variables)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.raw(query, variables)
        assert "errors" not in body, body
        return dict(body["data"])

    async def get(self, path: str, **params: str) -> Any:
        return await self.api.client.get(
            f"/t/{self.tenant}/x/quoting/{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    async def account(self, name: str) -> str:
        data = await self.gql(
            "mutation($n: String!) { createAccount(input: {name: $n}) { id } }", {"n": name}
        )
        return str(data["createAccount"]["id"])

    async def quote(self, title: str = "Q", **fields: Any) -> dict[str, Any]:
        data = await self.gql(
            "mutation($i: QuoteCreateInput!) { createQuote(input: $i) { id number revision } }",
            {"i": {"title": title, **fields}},
        )
        return dict(data["createQuote"])

    async def line(self, quote: str, quantity: str, price: str | None = None, **more: Any) -> str:
        values: dict[str, Any] = {"quoteId": quote, "quantity": quantity, **more}
        if price is not None:
            values["unitPrice"] = {"amount": price}
        data = await self.gql(
            "mutation($i: QuoteLineCreateInput!) { createQuoteLine(input: $i) { id } }",
            {"i": values},
        )
        return str(data["createQuoteLine"]["id"])

    async def total(self, quote: str) -> str | None:
        data = await self.gql("query($q: ID!) { quote(id: $q) { total { amount } } }", {"q": quote})
        total = data["quote"]["total"]
        return None if total is None else str(total["amount"])
