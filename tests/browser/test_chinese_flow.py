"""Tried as a new user would: a Shenzhen lead worked to an approved quote, entirely in Chinese.

The demo user ``make demo`` prints (the tenant's administrator) converts the demo
lead 陈静 with the lead page's own button
(the sales plugin's record action), opens the opportunity it made, goes to its
customer and creates a quote there with a 15 % discount, adds a line from the
quote's page and sends it: over 10 % the tenant's workflow asks the sales
manager (李伟) first. The manager approves it from their inbox; the quote is then
sent and prints to PDF. On every page the test checks that the screens' own
words are Chinese: data (names, amounts, numbers) may be anything, labels,
buttons, headings and messages may not be English.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import shot

Login = Callable[..., Page]

SZ = "shenzhen-components"

#: Visible words of the screens (not data) that hold Latin letters: one string per text node.
#: Record data is marked ``data-value`` (titles, values, chips, options of record pickers)
#: or sits in table cells and <dd>.
UI_TEXTS = """() => {
  const data = '[data-value], td, dd, option, script, style, .toast, [data-testid=me]';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const text = n.textContent.trim();
    if (!text || !el || el.closest(data)) continue;
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]'))
    if (el.checkVisibility()) out.push(el.getAttribute('placeholder'));
  for (const el of document.querySelectorAll('select'))
    if (el.checkVisibility() && el.selectedOptions[0] && !el.closest('[data-value]'))
      out.push(el.selectedOptions[0].textContent.trim());
  return out;
}"""
#: Latin words the Chinese screens may show: file formats, the currency code, "ISO 4217".
ALLOWED_LATIN = {"PDF", "Excel", "CNY", "ISO"}


def assert_chinese(page: Page, where: str) -> None:
    """Every visible word of the screens on ``page`` is Chinese (no English fallback)."""
    page.wait_for_load_state("networkidle")
    english = [
        text
        for text in page.evaluate(UI_TEXTS)
        if set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_LATIN
    ]
    assert english == [], f"English on {where}: {english}"


def _record_id(page: Page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def test_a_lead_becomes_an_approved_quote_in_chinese(login: Login, base_url: str) -> None:
    page = login(SZ, "demo", locale="zh-CN")
    app = f"{base_url}/t/{SZ}/app"

    # The lead, from the menu.
    page.get_by_role("navigation").get_by_role("link", name="线索", exact=True).click()
    expect(page.locator("#list-title")).to_have_text("线索")
    # Found by a filter on the name (the full demo has hundreds of leads).
    page.get_by_role("button", name="+ 添加条件").click()
    page.get_by_label("字段").select_option("name")
    page.get_by_label("值").fill("陈静")
    page.get_by_role("button", name="应用").click()
    expect(page.get_by_test_id("count")).to_have_text("共 1 条")
    assert_chinese(page, "the leads list")
    page.get_by_role("link", name="陈静").click()
    expect(page.locator("#record-title")).to_have_text("陈静")
    assert_chinese(page, "the lead")

    # Convert it: the sales plugin's action, offered on the lead's page.
    page.get_by_role("button", name="转化线索").click()
    result = page.get_by_test_id("action-result")
    expect(result).to_contain_text("已完成：转化线索")
    # The demo lead's company (traditional characters) matches an existing customer
    # (simplified): the conversion reuses it rather than making a duplicate.
    expect(result.locator("[data-entity=account] a")).to_have_text("深圳市华强电子有限公司")
    expect(result.locator("[data-entity=contact] a")).to_have_text("陈静")
    expect(page.locator("[data-field=status] dd")).to_have_text("已转化")
    shot(page, "zh-lead-converted", full_page=True)
    assert_chinese(page, "the converted lead")

    # The opportunity it made, then its customer.
    result.locator("[data-entity=opportunity] a").click()
    expect(page.locator("[data-field=stage] dd")).to_have_text("初步接洽")
    expect(page.locator("[data-field=lead] dd")).to_have_text("陈静")
    assert_chinese(page, "the opportunity")
    page.locator("[data-field=account] dd a").click()
    expect(page.locator("#record-title")).to_have_text("深圳市华强电子有限公司")
    assert_chinese(page, "the customer")

    # A quote for the customer: the form comes with the customer and the owner filled in.
    page.locator("[data-related-new=quote]").click()
    expect(page.locator("#form-title")).to_have_text("新建 报价单")
    expect(page.locator("[data-field=account] .chip")).to_contain_text("深圳市华强电子有限公司")
    expect(page.locator("[data-field=owner] .chip")).to_contain_text("深圳华芯元器件有限公司")
    expect(page.locator("#f-status")).to_be_disabled()  # only transitions move the state
    page.locator("#f-title").fill("华强 MCU 年度框架报价")
    page.locator("#f-valid_until").fill("2026-12-31")
    page.locator("#f-discount").fill("15")
    assert_chinese(page, "the new quote form")
    page.get_by_role("button", name="保存").click()
    # Back on the customer, whose quotes list has it.
    quotes = page.locator("[data-related=quote]")
    expect(quotes).to_contain_text("华强 MCU 年度框架报价")
    quotes.get_by_role("link", name="华强 MCU 年度框架报价").click()
    expect(page.locator("#record-title")).to_have_text("华强 MCU 年度框架报价")
    quote_id = _record_id(page)
    expect(page.locator("[data-field=status] dd")).to_have_text("草稿")
    assert_chinese(page, "the draft quote")

    # A line, from the quote's page: the quote is filled in, a part is picked by search.
    page.locator("[data-related-new=quote_line]").click()
    expect(page.locator("[data-field=quote] .chip")).to_contain_text("华强 MCU 年度框架报价")
    page.locator("#f-product").fill("")
    page.locator("#f-product-options li").first.click()
    expect(page.locator("[data-field=product] .chip")).to_have_count(1)
    page.locator("#f-quantity").fill("1000")
    page.locator("#f-unit_price").fill("12.50")
    assert_chinese(page, "the new quote line form")
    shot(page, "zh-quote-line", full_page=True)
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#record-title")).to_have_text("华强 MCU 年度框架报价")
    expect(page.locator("[data-related=quote_line]")).to_contain_text("(1)")
    # The quoting plugin totals the lines: 1000 × ¥12.50, less the quote's 15 %, plus the
    # part's tax rate (sample parts have their own).
    total = page.locator("[data-field=total] dd")
    expect(total).to_have_text(re.compile(r"^¥[\d,]+\.\d\d$"))
    assert 10_625 <= float(total.inner_text()[1:].replace(",", "")) <= 10_625 * 1.3

    # Send it: with 15 % off, the sales manager approves first.
    page.get_by_role("button", name=re.compile("发送给客户")).click()
    expect(page.locator("[data-field=status] dd")).to_have_text("待经理审批")
    expect(page.get_by_test_id("approval-status")).to_have_text("待审批")
    assert_chinese(page, "the quote waiting for approval")

    # The manager finds it in their inbox and approves it.
    manager = login(SZ, "manager", locale="zh-CN")
    manager.get_by_role("navigation").get_by_role("link", name="我的审批").click()
    item = manager.get_by_test_id("inbox-approval").filter(
        has=manager.locator(f"a[href='e/quote/{quote_id}']")
    )
    expect(item).to_have_count(1)
    expect(item.get_by_test_id("approval-status")).to_have_text("待审批")
    assert_chinese(manager, "the manager's inbox")
    item.get_by_role("button", name="批准").click()
    expect(item).to_have_count(0)
    manager.goto(f"{app}/e/quote/{quote_id}")
    expect(manager.locator("[data-field=status] dd")).to_have_text("已发送")
    expect(manager.get_by_test_id("approval-status")).to_have_text("已批准")
    expect(manager.get_by_test_id("history")).to_contain_text("李伟")
    assert_chinese(manager, "the approved quote")

    # Back with the demo user: the quote is sent, and prints to PDF.
    page.reload()
    expect(page.locator("[data-field=status] dd")).to_have_text("已发送")
    expect(page.get_by_test_id("approval-status")).to_have_text("已批准")
    shot(page, "zh-quote-approved", full_page=True)
    assert_chinese(page, "the sent quote")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 PDF").click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
