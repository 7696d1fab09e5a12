"""A quote's life over HTTP: revise, approval, accept -> draft invoice, documents, history."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from openpyxl import load_workbook
from pypdf import PdfReader

from core.store import Database
from tests.api_helpers import Api, make_runtime
from tests.plugins.quoting.helpers import Tenant, config

ACTION = "{ id number status revision version pendingApproval }"


async def _setup(db: Database) -> tuple[Api, Tenant, Tenant, Tenant, str, str]:
    api = Api(await make_runtime(db))
    admin = await Tenant.open(api)
    rep = await admin.user("rep@example.com", "rep")
    manager = await admin.user("boss@example.com", "manager")
    account = await rep.account("深圳华强电子有限公司")
    product = (
        await admin.gql(
            'mutation { createProduct(input: {name: "MCU", model: "STM32F103", unit: "pcs", '
            'price: {amount: "2.50"}, taxRate: "13"}) { id } }'
        )
    )["createProduct"]["id"]
    return api, admin, rep, manager, account, product


async def test_revise_approve_accept_and_the_invoice_draft(db: Database) -> None:
    api, admin, rep, manager, account, product = await _setup(db)
    q = await rep.quote("Parts", accountId=account, validUntil="2030-01-31")
    assert q["revision"] == 1 and q["number"].startswith("Q-")
    await rep.line(q["id"], "1000", productId=product)  # price 2.50 and tax 13 % from the product
    assert await rep.total(q["id"]) == "2825.00"
    # A 12 % discount needs the manager's approval before the quote goes out.
    await rep.gql(
        'mutation($q: ID!) { updateQuote(id: $q, input: {discount: "12"}) { id } }', {"q": q["id"]}
    )
    sent = await rep.gql(f"mutation($q: ID!) {{ sendQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert sent["sendQuote"]["pendingApproval"] is True
    assert sent["sendQuote"]["status"] == "pending_approval"
    inbox = await manager.gql("{ approvalInbox { id } }")
    approval = inbox["approvalInbox"][0]["id"]
    await manager.gql(
        "mutation($a: ID!) { approve(id: $a) { status } }",
        {"a": approval},
    )
    # Revising a sent quote freezes revision 1 and opens revision 2 as a draft.
    revised = await rep.gql(f"mutation($q: ID!) {{ reviseQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert revised["reviseQuote"]["revision"] == 2
    assert revised["reviseQuote"]["status"] == "draft"
    versions = await rep.gql(
        "query($q: ID!) { quoteVersions(filter: {quote: {eq: $q}}) "
        "{ edges { node { id revision number total { amount } } } } }",
        {"q": q["id"]},
    )
    node = versions["quoteVersions"]["edges"][0]["node"]
    assert (node["revision"], node["number"], node["total"]["amount"]) == (
        1,
        q["number"],
        "2486.00",
    )
    frozen = await rep.gql(
        "query($v: ID!) { quoteVersionLines(id: $v) { quantity unitPrice { amount } amount { amount } } }",
        {"v": node["id"]},
    )
    assert frozen["quoteVersionLines"] == [
        {"quantity": "1000", "unitPrice": {"amount": "2.50"}, "amount": {"amount": "2825.00"}}
    ]
    # Versions never change, whoever asks.
    body = await admin.raw(
        "mutation($v: ID!) { deleteQuoteVersion(id: $v) { id } }", {"v": node["id"]}
    )
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "VERSION_FROZEN"
    # The new revision is editable: drop the discount, send (no approval), accept.
    await rep.gql(
        "mutation($q: ID!) { updateQuote(id: $q, input: {discount: null}) { id } }", {"q": q["id"]}
    )
    sent = await rep.gql(f"mutation($q: ID!) {{ sendQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert sent["sendQuote"]["status"] == "sent" and not sent["sendQuote"]["pendingApproval"]
    accepted = await rep.gql(
        f"mutation($q: ID!) {{ acceptQuote(id: $q) {ACTION} }}", {"q": q["id"]}
    )
    assert accepted["acceptQuote"]["status"] == "accepted"
    # The invoicing plugin heard of it and made one draft invoice.
    invoices = await admin.gql(
        "{ invoices { edges { node { status sourceQuote quoteNumber total { amount } } } } }"
    )
    assert [e["node"] for e in invoices["invoices"]["edges"]] == [
        {
            "status": "draft",
            "sourceQuote": q["id"],
            "quoteNumber": q["number"],
            "total": {"amount": "2825.00"},
        }
    ]
    await api.close()


async def test_actions_need_run_and_reject_needs_a_comment(db: Database) -> None:
    api, admin, rep, _manager, account, _product = await _setup(db)
    q = await rep.quote("Parts", accountId=account)
    await rep.line(q["id"], "1", "10.00")
    await rep.gql(f"mutation($q: ID!) {{ sendQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    body = await rep.raw(f"mutation($q: ID!) {{ rejectQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert body["errors"][0]["extensions"]["errors"][0]["field"] == "comment"
    done = await rep.gql(
        f'mutation($q: ID!) {{ rejectQuote(id: $q, comment: "too dear") {ACTION} }}',
        {"q": q["id"]},
    )
    assert done["rejectQuote"]["status"] == "rejected"
    # A role without run on quotes may not call the actions at all.
    doc = config()
    doc["roles"]["viewer"] = {"permissions": {"entities": {"quote": ["read"]}}}
    await api.runtime.apply_config(doc)
    viewer = await admin.user("viewer@example.com", "viewer")
    body = await viewer.raw(f"mutation($q: ID!) {{ reviseQuote(id: $q) {ACTION} }}", {"q": q["id"]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    response = await viewer.get(f"quotes/{q['id']}/quote.pdf")
    assert response.status_code == 403
    await api.close()


async def test_documents_pdf_with_chinese_text_and_excel_with_numbers(db: Database) -> None:
    api, _admin, rep, _manager, account, product = await _setup(db)
    q = await rep.quote("Parts", accountId=account)
    await rep.line(q["id"], "1000", productId=product)
    await rep.line(q["id"], "3", "19.99", description="电源模块", taxRate="13")
    pdf = await rep.get(f"quotes/{q['id']}/quote.pdf", locale="zh-CN")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "深圳华强电子有限公司" in text and "电源模块" in text and "报价单" in text
    assert q["number"] in text
    assert "€2,892.77" in text  # 2825.00 + 67.77, formatted for zh-CN
    html = await rep.gql(
        'query($q: ID!) { quoteDocument(id: $q, locale: "es-ES") { html pdfUrl } }', {"q": q["id"]}
    )
    assert "Presupuesto" in html["quoteDocument"]["html"]
    assert "2.892,77\xa0€" in html["quoteDocument"]["html"]
    xlsx = await rep.get(f"quotes/{q['id']}/quote.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = {c.coordinate: c for row in sheet.iter_rows() for c in row if c.value is not None}
    amounts = [c for c in cells.values() if isinstance(c.value, int | float) and c.column == 6]
    assert sorted(c.value for c in amounts) == [67.77, 2825.0, 2892.77]
    assert all("EUR" in c.number_format for c in amounts)
    # A list export takes the same filter as the quotes query.
    other = await rep.quote("Other")
    listed = await rep.get("quotes.xlsx", filter=f'{{"account": {{"eq": "{account}"}}}}')
    rows = list(load_workbook(io.BytesIO(listed.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [q["number"]]
    assert other["number"] not in [r[0] for r in rows]
    bad = await rep.get("quotes.xlsx", filter='{"nope": {"eq": 1}}')
    assert bad.status_code == 400 and bad.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    await api.close()


async def test_history_by_customer_product_and_date(db: Database) -> None:
    api, _admin, rep, _manager, account, product = await _setup(db)
    other = await rep.account("Otro S.L.")
    a = await rep.quote("A", accountId=account)
    await rep.line(a["id"], "1", productId=product)
    b = await rep.quote("B", accountId=other)
    await rep.line(b["id"], "1", "5.00")
    query = (
        "query($a: ID, $p: ID, $f: Date, $t: Date) { quoteHistory(accountId: $a, productId: $p, "
        "createdFrom: $f, createdTo: $t) { number accountId } }"
    )

    async def found(**v: Any) -> list[str]:
        data = await rep.gql(query, v)
        return sorted(e["number"] for e in data["quoteHistory"])

    today = datetime.now(UTC).date().isoformat()
    assert await found(a=account) == [a["number"]]
    assert await found(p=product) == [a["number"]]
    assert await found(f=today, t=today) == sorted([a["number"], b["number"]])
    assert await found(t="2000-01-01") == []
    await api.close()


async def test_disabling_the_plugin_hides_its_types_and_keeps_its_data(db: Database) -> None:
    api = Api(await make_runtime(db))
    t = await Tenant.open(api)
    q = await t.quote("kept")
    off = config(plugins=["sales", "invoicing"], numbering={}, settings={}, workflows={})
    off.pop("entities")
    for role in off["roles"].values():
        for key in (
            "product",
            "price_list",
            "price_list_item",
            "quote",
            "quote_line",
            "quote_version",
        ):
            role["permissions"]["entities"].pop(key, None)
    await api.runtime.apply_config(off)
    body = await t.raw('{ __type(name: "Quote") { name } }')
    assert body["data"]["__type"] is None
    assert (await t.get(f"quotes/{q['id']}/quote.pdf")).status_code == 404
    await api.runtime.apply_config(config())
    data = await t.gql("query($q: ID!) { quote(id: $q) { number title } }", {"q": q["id"]})
    assert data["quote"] == {"number": q["number"], "title": "kept"}
    await api.close()
