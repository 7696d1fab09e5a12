"""Basic accessibility of the screens: labels, keyboard, visible focus, two screen sizes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import shot

SZ = "shenzhen-components"
Login = Callable[..., Page]

#: Form controls without an accessible name (a <label>, aria-label or aria-labelledby).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.id || el.name || el.outerHTML.slice(0, 80))"""

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_every_input_is_labelled_and_the_page_fits(
    login: Login, base_url: str, width: int, height: int
) -> None:
    page = login(SZ, "sales", width=width, height=height)
    routes = ["e/account", "e/account/new", "e/opportunity/new", "tasks", "board/quote"]
    routes += ["dashboard", "approvals", "e/quote/new", "e/lead"]
    for route in routes:
        page.goto(f"{base_url}/t/{SZ}/app/{route}")
        page.locator("main h1").first.wait_for()
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED) == [], route
        if not route.startswith("board/"):  # a board scrolls sideways inside itself
            assert page.evaluate(OVERFLOW) <= 0, f"{route} overflows at {width}px"
    # A record page with its actions, related lists and the comment box open.
    page.goto(f"{base_url}/t/{SZ}/app/e/lead")
    page.locator("table tbody a").first.click()
    page.locator("#record-title").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNLABELLED) == [], "a lead's page"
    assert page.evaluate(OVERFLOW) <= 0, f"a lead's page overflows at {width}px"
    if width < 500:
        page.goto(f"{base_url}/t/{SZ}/app/e/account/new")
        page.locator("#f-name").wait_for()
        shot(page, "phone-form", full_page=True)


def test_keyboard_reaches_the_form_with_a_visible_focus(login: Login, base_url: str) -> None:
    page = login(SZ, "sales")
    page.goto(f"{base_url}/t/{SZ}/app/e/account/new")
    page.locator("#f-name").wait_for()
    page.locator("body").focus()
    seen: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement && document.activeElement.id")
        seen.append(focused or "")
        if focused == "f-name":
            break
    assert "f-name" in seen, seen
    outline = page.locator("#f-name").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("none", ""), outline
    # Typing and saving work from the keyboard alone.
    page.keyboard.type("键盘客户有限公司")
    page.locator("form.record-form button[type=submit]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#record-title")).to_have_text("键盘客户有限公司")


def test_the_phone_menu_opens_from_its_button(login: Login, base_url: str) -> None:
    page = login(SZ, "sales", width=390, height=844)
    nav = page.get_by_role("navigation")
    toggle = nav.locator("button.menu-toggle")
    expect(toggle).to_be_visible()
    expect(nav.get_by_role("link", name="客户")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="客户").click()
    expect(page.locator("#list-title")).to_have_text("客户")
    shot(page, "phone-list", full_page=False)
