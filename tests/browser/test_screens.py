"""The screens in real Chromium: sign in, lists, forms, board, approvals, as users would."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from tests.browser.conftest import shot, sign_in

Login = Callable[..., Page]

SZ = "shenzhen-components"
MAD = "madrid-componentes"
MNL = "manila-aircon"
#: Where a card is picked up: its top padding (its middle may be its state menu).
GRIP = {"x": 4, "y": 3}


def drag_card(card: Locator, column: Locator) -> None:
    """Drag a board card into another column, dropping it level with where it was picked
    up (a full column is taller than the window: its top or middle may be out of sight)."""
    card.scroll_into_view_if_needed()
    source, target = card.bounding_box(), column.bounding_box()
    assert source is not None and target is not None
    level = {"x": 40, "y": source["y"] - target["y"] + GRIP["y"]}
    card.drag_to(column, source_position=GRIP, target_position=level)


def test_sign_in_shows_the_user_and_the_tenant_language(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/t/{SZ}/app/")
    expect(page.locator("#login-email")).to_be_visible()
    shot(page, "login")
    sign_in(page, base_url, SZ, "sales")
    expect(page.get_by_test_id("me")).to_have_text("王芳 (Wang Fang)")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("navigation")).to_contain_text("客户")
    # Switch to English: labels come from the config in the other locale.
    page.get_by_label("语言").select_option("en")
    expect(page.get_by_role("navigation")).to_contain_text("Customers")
    page.get_by_label("Language").select_option("zh-CN")
    expect(page.get_by_role("navigation")).to_contain_text("客户")
    # Sign out: the session is gone, the login form is back.
    page.get_by_role("button", name="退出").click()
    expect(page.locator("#login-email")).to_be_visible()
    page.goto(f"{base_url}/t/{SZ}/app/e/account")
    expect(page.locator("#login-email")).to_be_visible()


def test_a_wrong_password_is_refused(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/t/{SZ}/app/")
    page.locator("#login-email").fill(f"sales@{SZ}.example")
    page.locator("#login-password").fill("not-the-password")
    page.locator("form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_test_id("me")).to_have_count(0)


@pytest.mark.parametrize(
    ("tenant", "user", "name", "fill", "shown"),
    [
        (
            SZ,
            "sales",
            "深圳测试电子有限公司",
            {"#f-wechat_id": "szceshi_01"},
            ["szceshi_01", "微信号"],
        ),
        (
            MAD,
            "comercial",
            "Componentes de Prueba S.L.",
            {"#f-nif_cif": "B12345674", "#f-provincia": "Madrid"},
            ["B12345674", "Provincia"],
        ),
        (
            MNL,
            "dispatcher",
            "Bayanihan Cooling Test Corp",
            {"#f-viber": "+63 917 555 0101"},
            ["+63 917 555 0101", "Viber"],
        ),
    ],
)
def test_create_an_account_with_a_custom_field_in_the_tenant_language(
    login: Login,
    base_url: str,
    tenant: str,
    user: str,
    name: str,
    fill: dict[str, str],
    shown: list[str],
) -> None:
    page = login(tenant, user)
    page.goto(f"{base_url}/t/{tenant}/app/e/account/new")
    page.locator("#f-name").fill(name)
    for selector, value in fill.items():
        page.locator(selector).fill(value)
    if tenant == SZ:
        shot(page, "form-new-account", full_page=True)
    page.locator("form.record-form button[type=submit]").click()
    expect(page.locator("#record-title")).to_have_text(name)
    details = page.locator("dl.fields")
    for text in shown:
        expect(details).to_contain_text(text)
    # The list finds it by a filter on the name.
    page.goto(f"{base_url}/t/{tenant}/app/e/account")
    page.locator(".filter-actions button[type=button]").first.click()
    page.locator("#fv-0").fill(name)
    page.locator(".filter-actions button[type=submit]").click()
    expect(page.get_by_test_id("count")).to_contain_text("1")
    expect(page.locator("table tbody")).to_contain_text(name)
    if tenant == SZ:
        shot(page, "list-accounts")


def test_server_validation_error_is_shown_at_its_field(login: Login, base_url: str) -> None:
    page = login(SZ, "sales")
    page.goto(f"{base_url}/t/{SZ}/app/e/account/new")
    page.locator("#f-name").fill("校验测试有限公司")
    page.locator("#f-uscc").fill("NOT-A-CODE")  # the config's pattern refuses it
    page.locator("form.record-form button[type=submit]").click()
    error = page.get_by_test_id("error-uscc")
    expect(error).to_be_visible()
    expect(page.locator("#f-uscc")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("form-banner")).to_contain_text("请更正")
    shot(page, "form-validation-error")
    # Nothing was saved: the form is still open on the new record.
    assert page.url.endswith("/e/account/new")


def test_form_rules_show_and_require_a_field_live(login: Login, base_url: str) -> None:
    page = login(MAD, "jefe")  # the IBAN is hidden from the comercial role
    page.goto(f"{base_url}/t/{MAD}/app/e/account/new")
    expect(page.locator("#f-iban")).to_have_count(0)
    page.locator("#f-forma_pago").select_option("recibo_sepa")  # visible_when / required_when
    expect(page.locator("#f-iban")).to_be_visible()
    page.locator("#f-name").fill("Regla Viva S.A.")
    page.locator("form.record-form button[type=submit]").click()
    expect(page.get_by_test_id("error-iban")).to_contain_text("obligatorio")
    page.locator("#f-forma_pago").select_option("transferencia")
    expect(page.locator("#f-iban")).to_have_count(0)


def test_saved_views_are_kept_per_user_on_the_server(login: Login, base_url: str) -> None:
    page = login(SZ, "sales")
    page.goto(f"{base_url}/t/{SZ}/app/e/account")
    page.locator(".filter-actions button[type=button]").first.click()
    page.locator("#ff-0").select_option("customer_level")
    page.locator("#fv-0").select_option("strategic")
    page.locator(".filter-actions button[type=submit]").click()
    expect(page.locator("td[data-label='客户等级']").last).to_have_text("战略客户")
    strategic = page.get_by_test_id("count").inner_text()
    page.locator("#view-name").fill("战略客户")
    page.get_by_role("button", name="保存视图").click()
    expect(page.locator("#saved-view option", has_text="战略客户")).to_have_count(1)
    # Another browser session of the same user finds the view (it lives on the server).
    page = login(SZ, "sales")
    page.goto(f"{base_url}/t/{SZ}/app/e/account")
    page.locator("#saved-view").select_option(label="战略客户")
    expect(page.get_by_test_id("count")).to_have_text(strategic)
    # The manager does not see the rep's view.
    page = login(SZ, "manager")
    page.goto(f"{base_url}/t/{SZ}/app/e/account")
    expect(page.locator("#saved-view option", has_text="战略客户")).to_have_count(0)


def test_any_list_exports_to_excel_as_filtered(login: Login, base_url: str) -> None:
    from openpyxl import load_workbook

    page = login(SZ, "sales")
    page.goto(f"{base_url}/t/{SZ}/app/e/account")
    page.locator(".filter-actions button[type=button]").first.click()
    page.locator("#ff-0").select_option("customer_level")
    page.locator("#fv-0").select_option("strategic")
    page.locator(".filter-actions button[type=submit]").click()
    expect(page.locator("td[data-label='客户等级']").last).to_have_text("战略客户")
    shown = int(re.sub(r"\D", "", page.get_by_test_id("count").inner_text()) or 0)
    with page.expect_download() as download:
        page.get_by_test_id("export-xlsx").click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as saved:  # the download has no file extension
        rows = list(load_workbook(io.BytesIO(saved.read())).active.iter_rows(values_only=True))
    header = rows[0]
    assert "名称" in header and "客户等级" in header  # the tenant's labels, in Chinese
    level = header.index("客户等级")
    assert len(rows) - 1 == shown and {r[level] for r in rows[1:]} == {"战略客户"}


def test_move_an_opportunity_on_the_board(login: Login, base_url: str) -> None:
    page = login(SZ, "sales")
    # A new opportunity for one of the rep's customers (relation picker with search).
    page.goto(f"{base_url}/t/{SZ}/app/e/opportunity/new")
    page.locator("#f-name").fill("看板测试商机")
    page.locator("#f-account").fill("")
    page.locator("#f-account-options li").first.click()
    expect(page.locator("[data-field=account] .chip")).to_have_count(1)
    page.locator("#f-amount").fill("88000")
    page.locator("form.record-form button[type=submit]").click()
    expect(page.locator("#record-title")).to_have_text("看板测试商机")
    card_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    page.goto(f"{base_url}/t/{SZ}/app/board/opportunity")
    card = page.locator(f".kcard[data-id='{card_id}']")
    expect(
        page.locator(f".column[data-state=prospecting] .kcard[data-id='{card_id}']")
    ).to_be_visible()
    drag_card(card, page.locator(".column[data-state=qualification]"))
    moved = page.locator(f".column[data-state=qualification] .kcard[data-id='{card_id}']")
    expect(moved).to_be_visible()
    expect(page.get_by_test_id("toast")).to_contain_text("需求确认")
    shot(page, "kanban")
    # The server has it: after a reload the card is still in the new column.
    page.reload()
    expect(moved).to_be_visible()
    # Lost needs a reason: the move is refused and the card snaps back, with the reason.
    drag_card(moved, page.locator(".column[data-state=closed_lost]"))
    expect(page.get_by_test_id("refusal")).to_contain_text("输单原因")
    expect(moved).to_be_visible()
    expect(
        page.locator(f".column[data-state=closed_lost] .kcard[data-id='{card_id}']")
    ).to_have_count(0)


def test_a_refused_move_snaps_back_with_the_reason(login: Login, base_url: str) -> None:
    page = login(SZ, "manager")
    page.goto(f"{base_url}/t/{SZ}/app/board/quote")
    card = page.locator(".column[data-state=draft] .kcard").first
    expect(card).to_be_visible()
    card_id = card.get_attribute("data-id")
    # No transition goes from draft to accepted.
    drag_card(card, page.locator(".column[data-state=accepted]"))
    expect(page.get_by_test_id("refusal")).to_be_visible()
    expect(page.locator(f".column[data-state=draft] .kcard[data-id='{card_id}']")).to_be_visible()
    expect(page.locator(f".column[data-state=accepted] .kcard[data-id='{card_id}']")).to_have_count(
        0
    )


def test_the_manager_approves_a_quote_from_the_inbox(login: Login, base_url: str) -> None:
    page = login(SZ, "manager")
    page.goto(f"{base_url}/t/{SZ}/app/approvals")
    item = page.get_by_test_id("inbox-approval").first
    expect(item).to_be_visible()
    expect(item.get_by_test_id("approval-status")).to_have_text("待审批")
    shot(page, "approvals-inbox")
    item.get_by_role("link").click()
    expect(page.locator("#record-title")).to_be_visible()
    card = page.get_by_test_id("approvals")
    card.get_by_role("button", name="批准").click()
    expect(card.get_by_test_id("approval-status").last).to_have_text("已批准")
    # The quote went on to the transition's target state, and the history says who did it.
    expect(page.locator("dl.fields")).to_contain_text("已发送")
    expect(page.get_by_test_id("history")).to_contain_text("李伟")
    shot(page, "record-approved", full_page=True)
    # The approved quote prints to PDF (the quoting plugin's template).
    with page.expect_download() as download:
        page.get_by_test_id("download-pdf").click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"


def test_my_tasks_inbox_groups_by_due_day(login: Login, base_url: str) -> None:
    page = login(MAD, "comercial")
    page.goto(f"{base_url}/t/{MAD}/app/tasks")
    for group in ("overdue", "today", "tomorrow"):
        expect(page.locator(f"[data-group={group}] li").first).to_be_visible()
    expect(page.locator("#tasks-title")).to_have_text("Mis tareas")
    shot(page, "tasks-inbox")


CHARTS = ("pipeline", "forecast", "per-rep", "aging", "cash")
REPORTS = r"salesForecast|salesPerformance|receivablesAging|cashFlow"


def test_dashboard_draws_charts_from_the_server_reports(login: Login, base_url: str) -> None:
    page = login(SZ, "manager")
    reports: list[str] = []

    def note_reports(request: Request) -> None:
        if request.url.endswith("/graphql"):
            reports.extend(re.findall(REPORTS, request.post_data or ""))

    page.on("request", note_reports)
    page.goto(f"{base_url}/t/{SZ}/app/dashboard")
    for key in CHARTS:
        expect(page.locator(f"[data-chart={key}] canvas")).to_be_visible()
    # Forecast, activities, aging and cash flow are the plugins' reports, not lists.
    assert sorted(set(reports)) == [
        "cashFlow",
        "receivablesAging",
        "salesForecast",
        "salesPerformance",
    ]
    # The charts are drawn: a canvas with pixels, not an empty box.
    for key in CHARTS:
        painted = page.locator(f"[data-chart={key}] canvas").evaluate(
            "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0)"
        )
        assert painted, key
    # Each has its figures as a table, in the user's language.
    aging = page.locator("[data-chart=aging]")
    aging.locator("summary").click()
    expect(aging.locator("tbody th")).to_have_text(
        ["未到期", "逾期 1–30 天", "逾期 31–60 天", "逾期 61–90 天", "逾期超过 90 天"]
    )
    expect(aging.locator("tbody td").first).to_contain_text("¥")
    shot(page, "dashboard", full_page=True)


def test_a_role_without_the_report_sees_the_rest_of_the_dashboard(
    login: Login, base_url: str
) -> None:
    page = login(SZ, "sales")  # may read invoices, not run the invoicing reports
    page.goto(f"{base_url}/t/{SZ}/app/dashboard")
    for key in ("pipeline", "forecast", "per-rep"):
        expect(page.locator(f"[data-chart={key}] canvas")).to_be_visible()
    for key in ("aging", "cash"):
        expect(page.locator(f"[data-chart={key}]")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)


def _columns(page: Page) -> list[str]:
    page.locator(".column").first.wait_for()
    return [c.get_attribute("data-state") or "" for c in page.locator(".column").all()]


def test_madrid_sees_its_own_form_and_pipeline(login: Login, base_url: str) -> None:
    page = login(MAD, "comercial")
    page.goto(f"{base_url}/t/{MAD}/app/e/account/new")
    expect(page.locator("#f-nif_cif")).to_be_visible()
    expect(page.locator("#f-uscc")).to_have_count(0)
    expect(page.locator("#form-title")).to_have_text("Nuevo Cliente")
    page.goto(f"{base_url}/t/{MAD}/app/board/quote")
    expect(page.locator("#board-title")).to_contain_text(re.compile("Presupuestos"))
    madrid_quotes = _columns(page)
    assert madrid_quotes == ["borrador", "enviado", "negociacion", "pedido", "perdido", "caducado"]
    shot(page, "madrid-board")
    page.goto(f"{base_url}/t/{MAD}/app/board/opportunity")
    assert _columns(page)[:3] == ["prospeccion", "visita_tecnica", "muestras"]
    # The same screens in Shenzhen: another form, other states.
    page = login(SZ, "sales")
    page.goto(f"{base_url}/t/{SZ}/app/e/account/new")
    expect(page.locator("#f-uscc")).to_be_visible()
    expect(page.locator("#f-nif_cif")).to_have_count(0)
    page.goto(f"{base_url}/t/{SZ}/app/board/quote")
    assert _columns(page) == ["draft", "pending_approval", "sent", "accepted", "rejected"]
    page.goto(f"{base_url}/t/{SZ}/app/board/opportunity")
    assert _columns(page)[:3] == ["prospecting", "qualification", "proposal"]


def test_the_user_picker_searches_the_tenants_users(login: Login, base_url: str) -> None:
    page = login(SZ, "manager")
    page.goto(f"{base_url}/t/{SZ}/app/e/opportunity/new")
    owner = page.locator("[data-field=owner]")
    # A new record starts as the caller's own.
    expect(owner.locator(".chip")).to_have_text(re.compile("李伟"))
    owner.get_by_role("button", name=re.compile("移除")).click()
    picker = page.locator("#f-owner")
    expect(picker).to_be_focused()
    # Search as you type, by name or email, any case; only this tenant's users.
    picker.fill("WANG")
    options = page.locator("#f-owner-options [role=option]")
    expect(options).to_have_text(["王芳 (Wang Fang)"])
    picker.fill("Lucía")  # a Madrid user
    expect(page.locator("#f-owner-options")).to_contain_text("无匹配结果")
    picker.fill("example")
    expect(options).to_have_count(3)  # demo, manager, sales
    # The keyboard picks: arrows move, Enter chooses.
    picker.fill("fang")
    expect(options).to_have_count(1)
    picker.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    picker.press("Enter")
    expect(owner.locator(".chip")).to_have_text(re.compile("王芳"))
    page.locator("#f-name").fill("选人测试商机")
    page.locator("#f-account").fill("")
    page.locator("#f-account-options [role=option]").first.click()
    page.locator("form.record-form button[type=submit]").click()
    expect(page.locator("#record-title")).to_have_text("选人测试商机")
    expect(page.locator("[data-field=owner] dd")).to_have_text("王芳 (Wang Fang)")


def test_a_comment_is_asked_in_the_page_not_in_a_dialog(login: Login, base_url: str) -> None:
    page = login(MAD, "jefe")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base_url}/t/{MAD}/app/board/quote")
    page.locator(".column[data-state=borrador] .kcard a").first.click()
    expect(page.locator("#record-title")).to_be_visible()
    lose = page.locator("[data-transition=perder]")
    lose.click()
    box = page.get_by_label(re.compile("Marcar como perdido · Comentario"))
    expect(box).to_be_focused()
    expect(lose).to_have_attribute("aria-expanded", "true")
    # An empty comment is refused where it is typed.
    form = page.get_by_test_id("comment-form")
    form.get_by_role("button", name="Marcar como perdido").click()
    expect(form.get_by_role("alert")).to_have_text("Se requiere un comentario")
    expect(box).to_have_attribute("aria-invalid", "true")
    # Escape puts it away and gives the focus back to the button.
    box.press("Escape")
    expect(form).to_have_count(0)
    expect(lose).to_be_focused()
    # With the keyboard alone: open, type, submit.
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    box.fill("El cliente eligió otro proveedor")
    shot(page, "transition-comment")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("[data-field=status] dd")).to_have_text("Perdido")
    expect(page.get_by_test_id("history")).to_contain_text("El cliente eligió otro proveedor")
    assert dialogs == []


def test_tagalog_screens_speak_tagalog(login: Login, base_url: str) -> None:
    page = login(MNL, "dispatcher")
    page.get_by_label("Language").select_option("tl-PH")
    nav = page.get_by_role("navigation")
    for word in ("Mga gawain ko", "Mga aaprubahan ko", "Dashboard"):
        expect(nav).to_contain_text(word)
    page.goto(f"{base_url}/t/{MNL}/app/e/account")
    expect(page.get_by_role("button", name="+ Magdagdag ng filter")).to_be_visible()
    expect(page.get_by_role("button", name="I-export sa Excel")).to_be_visible()
    expect(page.get_by_role("button", name="Susunod na pahina")).to_be_visible()
    page.get_by_label("Wika").select_option("en-PH")
    expect(nav).to_contain_text("My tasks")
