"""axe-core (WCAG 2.2 AA) on every page a person sees, in light and dark mode: 0 violations.

A failing test names the rule, the element and axe's reason.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import notifications
from tests.e2e.axe import describe, run_axe

BELL = "[data-notifications-bell]"
THEMES = ["light", "dark"]


def connected(page):
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")


def sample(in_thread, user):
    """One notification of each level, the last with a link and a long text."""

    def send():
        notifications.debug(user, "Cache warmed in 2.1 s.", title="Debug")
        notifications.info(user, "Bob mentioned you in “Q3 plan”.")
        notifications.success(user, "Payment received.", title="Invoice #42")
        notifications.warning(user, "Disk almost full. " * 20, title="Storage", url="/")
        notifications.error(user, "The nightly export failed.", title="Export", url="/")

    in_thread(send)


@pytest.fixture
def themed(browser, login, live_server_url):
    contexts = []

    def make(user, theme):
        context = browser.new_context(color_scheme=theme)
        contexts.append(context)
        if user is not None:
            login(context, user)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def assert_no_violations(page, include=None):
    violations = run_axe(page, include=include)
    assert violations == [], "axe found:\n" + describe(violations)


@pytest.mark.parametrize("theme", THEMES)
def test_home_page(themed, alice, in_thread, live_server_url, theme):
    sample(in_thread, alice)
    page = themed(alice, theme)
    page.goto(live_server_url + "/")
    connected(page)
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_home_page_empty(themed, alice, live_server_url, theme):
    page = themed(alice, theme)
    page.goto(live_server_url + "/")
    connected(page)
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_open_inbox(themed, alice, in_thread, live_server_url, theme):
    sample(in_thread, alice)
    page = themed(alice, theme)
    page.goto(live_server_url + "/")
    connected(page)
    page.locator(BELL).click()
    expect(page.locator("[data-notifications-list] > li")).to_have_count(5)
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_toasts_visible(themed, alice, in_thread, live_server_url, theme):
    page = themed(alice, theme)
    page.goto(live_server_url + "/")
    connected(page)
    sample(in_thread, alice)
    expect(page.locator(".ntf-toast")).to_have_count(5)
    page.wait_for_function("document.getAnimations().every((a) => a.playState !== 'running')")
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_history_page(themed, alice, in_thread, live_server_url, theme):
    sample(in_thread, alice)
    page = themed(alice, theme)
    page.goto(live_server_url + "/notifications/")
    connected(page)
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_login_page(themed, live_server_url, theme):
    page = themed(None, theme)
    page.goto(live_server_url + "/login/")
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_strict_csp_page(themed, alice, in_thread, live_server_url, theme):
    sample(in_thread, alice)
    page = themed(alice, theme)
    page.goto(live_server_url + "/strict-csp/")
    connected(page)
    assert_no_violations(page)


@pytest.mark.parametrize("theme", THEMES)
def test_admin_compose_and_preview(themed, make_user, live_server_url, theme):
    admin = make_user("root", is_staff=True, is_superuser=True)
    page = themed(admin, theme)
    page.goto(live_server_url + "/admin/notifications/notification/send/")
    assert_no_violations(page, include="#content-main")
    page.fill("#id_title", "Release tonight")
    page.fill("#id_message", "Deploy starts at 22:00.")
    page.select_option("#id_level", label="warning")
    page.check('input[name="audience"][value="everyone"]')
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-notifications-preview] .ntf-toast")).to_be_visible()
    assert_no_violations(page, include="#content-main")
