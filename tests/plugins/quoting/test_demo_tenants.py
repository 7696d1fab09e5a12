"""The demo tenants quote with the plugin: Shenzhen with approval, Madrid without."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from pypdf import PdfReader

from core.store import Database
from tests.api_helpers import Api, make_runtime
from tests.plugins.quoting.helpers import Tenant

CONFIGS = Path(__file__).resolve().parents[3] / "tenant_configs"
ACTION = "{ id number status revision pendingApproval }"


def _config(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
    return doc


async def test_shenzhen_discount_goes_to_the_manager_then_downloads(db: Database) -> None:
    api = Api(await make_runtime(db))
    admin = await Tenant.open(api, _config("shenzhen-components"))
    rep = await admin.user("li@example.com", "sales_rep")
    manager = await admin.user("wang@example.com", "sales_manager")
    account = await rep.account("东莞精密电子有限公司")
    q = await rep.quote("MCU 报价", accountId=account, validUntil="2030-06-30", discount="12")
    assert q["number"].startswith("报价-") and q["number"].endswith("-0001")
    await rep.line(q["id"], "500", "8.80", description="STM32F103C8T6")  # 13 % VAT by default
    sent = await rep.gql(f"mutation($q: ID!) {{ sendQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert sent["sendQuote"]["status"] == "pending_approval"
    approval = (await manager.gql("{ approvalInbox { id } }"))["approvalInbox"][0]["id"]
    await manager.gql("mutation($a: ID!) { approve(id: $a) { status } }", {"a": approval})
    data = await rep.gql(
        "query($q: ID!) { quote(id: $q) { status total { amount } } }", {"q": q["id"]}
    )
    # 500 × 8.80 × 1.13 = 4972.00, less 12 % = 4375.36
    assert data["quote"] == {"status": "sent", "total": {"amount": "4375.36"}}
    pdf = await rep.get(f"quotes/{q['id']}/quote.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "东莞精密电子有限公司" in text and q["number"] in text and "4,375.36" in text
    xlsx = await rep.get(f"quotes/{q['id']}/quote.xlsx")
    values = [
        c.value for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows() for c in row
    ]
    assert 4375.36 in values and q["number"] in values
    await api.close()


async def test_madrid_runs_the_same_plugins_without_approval(db: Database) -> None:
    api = Api(await make_runtime(db))
    admin = await Tenant.open(api, _config("madrid-componentes"))
    rep = await admin.user("lucia@example.com", "comercial")
    account = (
        await admin.gql(
            'mutation { createAccount(input: {name: "Electrónica Ibérica S.L.", '
            'creditLimit: {amount: "50000"}}) { id } }'
        )
    )["createAccount"]["id"]
    q = await rep.quote("Conectores", accountId=account, validUntil="2030-06-30")
    assert q["number"].startswith("PRE-") and q["number"].endswith("/0001")
    await rep.line(q["id"], "100", "1.25", description="Conector USB-C")  # IVA 21 % by default
    sent = await rep.gql(f"mutation($q: ID!) {{ sendQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert sent["sendQuote"]["status"] == "enviado" and not sent["sendQuote"]["pendingApproval"]
    done = await rep.gql(f"mutation($q: ID!) {{ acceptQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert done["acceptQuote"]["status"] == "pedido"
    html = await rep.gql(
        'query($q: ID!) { quoteDocument(id: $q, locale: "es-ES") { html } }', {"q": q["id"]}
    )
    assert "Presupuesto" in html["quoteDocument"]["html"]
    assert "151,25\xa0€" in html["quoteDocument"]["html"]  # 125.00 + 21 % IVA
    invoices = await admin.gql("{ invoices { edges { node { quoteNumber status } } } }")
    assert invoices["invoices"]["edges"] == [
        {"node": {"quoteNumber": q["number"], "status": "draft"}}
    ]
    await api.close()
