"""Fixtures: a tenant model with every field type, a registry, the fake service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.context import CallContext, Principal
from core.graphql import GraphQLContext, SchemaRegistry, TenantSchema
from core.metadata import PluginContribution, TenantModel, build_tenant_model
from tests.core.graphql.fake_service import FakeService

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SALES = PluginContribution(
    name="sales",
    version="1.0",
    entities={
        "account": {
            "label": {"en": "Account", "es": "Cuenta"},
            "plural": "accounts",
            "title_field": "name",
            "fields": {
                "name": {"type": "text", "label": {"en": "Name", "es": "Nombre"}, "required": True},
                "party_type": {
                    "type": "enum",
                    "label": {"en": "Party type"},
                    "options": [
                        {"value": "company", "label": {"en": "Company", "es": "Empresa"}},
                        {"value": "person", "label": {"en": "Person"}},
                    ],
                },
            },
        }
    },
)


def config(**extra: Any) -> dict[str, Any]:
    """A tenant with every field type on ``sales_order``."""
    doc: dict[str, Any] = {
        "tenant": "acme",
        "name": {"en": "Acme", "es": "Acme ES"},
        "locales": ["en", "es"],
        "default_locale": "en",
        "currency": "EUR",
        "timezone": "Europe/Madrid",
        "plugins": ["sales"],
        "entities": {
            "sales_order": {
                "label": {"en": "Sales order", "es": "Pedido"},
                "plural": "sales_orders",
                "title_field": "title",
                "fields": {
                    "title": {"type": "text", "label": {"en": "Title"}, "required": True},
                    "notes": {"type": "long_text", "label": {"en": "Notes"}},
                    "email": {"type": "email", "label": {"en": "Email"}},
                    "phone": {"type": "phone", "label": {"en": "Phone"}},
                    "site": {"type": "url", "label": {"en": "Site"}},
                    "quantity": {"type": "integer", "label": {"en": "Quantity"}, "min": 0},
                    "weight": {"type": "decimal", "label": {"en": "Weight"}},
                    "discount": {"type": "percent", "label": {"en": "Discount"}},
                    "total": {"type": "money", "label": {"en": "Total"}},
                    "paid": {"type": "boolean", "label": {"en": "Paid"}},
                    "due_on": {"type": "date", "label": {"en": "Due on"}},
                    "shipped_at": {"type": "datetime", "label": {"en": "Shipped at"}},
                    "customer_level": {
                        "type": "enum",
                        "label": {"en": "Level"},
                        "options": [{"value": "gold"}, {"value": "silver"}],
                    },
                    "tags": {
                        "type": "multi_enum",
                        "label": {"en": "Tags"},
                        "options": [{"value": "rush"}, {"value": "gift"}],
                    },
                    "account": {
                        "type": "relation",
                        "target": "account",
                        "label": {"en": "Account"},
                    },
                    "related": {
                        "type": "relation_list",
                        "target": "account",
                        "label": {"en": "Related"},
                    },
                    "owner": {"type": "user", "label": {"en": "Owner"}},
                    "ship_to": {"type": "address", "label": {"en": "Ship to"}},
                    "score": {
                        "type": "computed",
                        "label": {"en": "Score"},
                        "expression": "quantity * 2",
                        "result_type": "integer",
                    },
                    "code": {"type": "text", "label": {"en": "Code"}, "read_only": True},
                },
            }
        },
        "forms": {
            "sales_order": {
                "sections": [
                    {
                        "key": "main",
                        "label": {"en": "Main", "es": "Principal"},
                        "fields": [
                            "title",
                            {"field": "quantity", "widget": "stepper", "visible_when": "paid"},
                        ],
                    }
                ],
                "list_columns": ["title", "quantity"],
            }
        },
    }
    doc.update(extra)
    return doc


def make_model(doc: dict[str, Any] | None = None) -> TenantModel:
    return build_tenant_model(doc or config(), {"sales": SALES})


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry()


@pytest.fixture(scope="session")
def model() -> TenantModel:
    return make_model()


@pytest.fixture
def service() -> FakeService:
    return FakeService(
        users={
            "u1": {"id": "u1", "email": "ana@example.com", "name": "Ana"},
            "u2": {"id": "u2", "email": "bo@example.com", "name": "Bo"},
        }
    )


Run = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def run(registry: SchemaRegistry, model: TenantModel, service: FakeService) -> Run:
    """Execute an operation as user u1 (locale es) against the fake service."""

    async def _run(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        schema: TenantSchema | None = None,
        locale: str | None = "es",
    ) -> dict[str, Any]:
        principal = Principal(
            tenant="acme",
            user_id="u1",
            email="ana@example.com",
            roles=("admin",),
            name="Ana",
            locale=locale,
        )
        ctx = GraphQLContext(
            call=CallContext(model=model, principal=principal, clock=lambda: NOW), service=service
        )
        return await (schema or registry.get(model)).execute(query, variables, None, ctx)

    return _run
