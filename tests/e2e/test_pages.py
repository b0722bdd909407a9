"""The history page, the demo's Latest list and the bell: live with JavaScript, useful without.

Also link safety in every renderer (issue 14, item 5) and relative times.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from playwright.sync_api import expect

import notifications
from notifications.models import Notification
from notifications.validators import validate_link

BELL = "[data-notifications-bell]"
HISTORY = "[data-notifications-history-list] > li[data-notification-id]"
LATEST = "[data-notifications-latest] > li[data-notification-id]"


def connected(page):
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")


@pytest.fixture
def alice_context(context, login, alice):
    login(context, alice)
    return context


# Without JavaScript --------------------------------------------------------------


def test_without_javascript_the_bell_links_to_history_and_shows_the_real_count(
    browser, login, alice, live_server_url, in_thread
):
    in_thread(lambda: [notifications.send(alice, f"n{i}") for i in range(3)])
    context = login(browser.new_context(java_script_enabled=False), alice)
    page = context.new_page()
    page.goto(live_server_url + "/")
    bell = page.locator(BELL)
    expect(bell).to_have_attribute("href", "/notifications/")
    expect(bell.locator("[data-notifications-unread]")).to_have_text("3")
    expect(bell).to_have_accessible_name("Notifications 3 unread")
    bell.click()
    expect(page).to_have_url(live_server_url + "/notifications/")
    expect(page.locator(HISTORY)).to_have_count(3)
    # The plain form still works.
    page.locator(HISTORY).first.get_by_role("button", name="Mark read").click()
    expect(page.locator("[data-history-unread]")).to_have_text("2 unread")
    context.close()


# Live pages ------------------------------------------------------------------------


def test_history_page_updates_live(alice_context, alice, live_server_url, in_thread):
    [first] = in_thread(notifications.send, alice, "already here")
    page = alice_context.new_page()
    page.goto(live_server_url + "/notifications/")
    connected(page)
    expect(page.locator("[data-history-unread]")).to_have_text("1 unread")

    [new] = in_thread(notifications.warning, alice, "arrived live", title="Live")
    row = page.locator(f'{HISTORY}[data-notification-id="{new.pk}"]')
    expect(row).to_have_count(1)
    expect(page.locator(HISTORY).first).to_have_attribute("data-notification-id", str(new.pk))
    expect(row.locator(".ntf-level")).to_contain_text("Warning")
    expect(page.locator("[data-history-unread]")).to_have_text("2 unread")

    # Read in another tab: this page follows.
    other = alice_context.new_page()
    other.goto(live_server_url + "/")
    connected(other)
    other.evaluate(
        """async (id) => {
          const script = document.querySelector("script[data-notifications-client]");
          return (await import(script.src)).default.markRead(id);
        }""",
        first.pk,
    )
    old_row = page.locator(f'{HISTORY}[data-notification-id="{first.pk}"]')
    expect(old_row).to_have_attribute("data-read", "true")
    expect(old_row.get_by_role("button", name="Mark unread")).to_be_visible()
    expect(page.locator("[data-history-unread]")).to_have_text("1 unread")

    # Its buttons go through the API: no page load, focus stays on the row's button.
    page.evaluate("window.__sameDocument = true")
    row.get_by_role("button", name="Mark read").click()
    expect(row).to_have_attribute("data-read", "true")
    expect(page.locator("[data-history-unread]")).to_have_text("0 unread")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Mark unread"
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    assert not Notification.objects.filter(pk=new.pk).exists()


def test_demo_latest_list_updates_live(alice_context, alice, live_server_url, in_thread):
    page = alice_context.new_page()
    page.goto(live_server_url + "/")
    connected(page)
    expect(page.locator("[data-notifications-latest]")).to_contain_text("Nothing yet")
    [n] = in_thread(notifications.success, alice, "Paid.", title="Invoice")
    row = page.locator(f'{LATEST}[data-notification-id="{n.pk}"]')
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-read", "false")
    expect(row.locator(".ntf-level")).to_contain_text("Success")
    page.locator(BELL).click()
    page.locator(f'[data-notifications-list] > li[data-notification-id="{n.pk}"]').get_by_role(
        "button", name="Mark read"
    ).click()
    expect(row).to_have_attribute("data-read", "true")


def test_times_are_relative_with_the_absolute_time_as_title(
    alice_context, alice, live_server_url, in_thread
):
    [n] = in_thread(notifications.send, alice, "an hour ago")
    Notification.objects.filter(pk=n.pk).update(created_at=n.created_at - timedelta(minutes=61))
    in_thread(notifications.send, alice, "just now")
    for path, rows in (("/", LATEST), ("/notifications/", HISTORY)):
        page = alice_context.new_page()
        page.goto(live_server_url + path)
        connected(page)
        times = page.locator(f"{rows} time")
        expect(times).to_have_text(["now", "1 hour ago"])
        title = times.nth(1).get_attribute("title")
        assert title and "ago" not in title
        assert times.nth(1).get_attribute("datetime").startswith(str(n.created_at.year))
        page.locator(BELL).click()
        expect(page.locator("[data-notifications-list] time")).to_have_text(["now", "1 hour ago"])
        page.close()


# One safeHref, the server's rules --------------------------------------------------------

URLS = [
    "/", "/a/b?c=d#e", "/\t/evil.example/", "/a\tb", "/a\nb", "/a\rb", "/\x00", "/a\x7f",
    " /a", "/a ", "/a\u00a0", "\u2028/a", "/a\u0085", "/a\ufeff", "\ufeff/a", "//evil.example",
    "/\\evil.example", "\\\\evil", "http://", "https://", "http://a", "https://a", "HTTPS://X.Y/",
    "https://😀", "http://😀", "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:x",
    "data:text/html,x", "mailto:a@b", "ftp://x", "a/b", "?x", "#x", "https:/x", "https:x", "",
    "/\ud800", "/a\udc00b", "/😀", "https://x/\u2028y", "HtTp://x", "http:///", "/\u3000",
]  # fmt: skip


def server_accepts(url: str) -> bool:
    try:
        validate_link(url)
    except ValidationError:
        return False
    return url != ""


def test_safe_href_refuses_exactly_what_the_validator_refuses(alice_context, live_server_url):
    page = alice_context.new_page()
    page.goto(live_server_url + "/")
    got = page.evaluate(
        """async (urls) => {
          const { safeHref } = await import("/static/notifications/client/links.js");
          return urls.map((u) => safeHref(u) !== null);
        }""",
        URLS,
    )
    mismatches = [
        (url, js, server_accepts(url))
        for url, js in zip(URLS, got, strict=True)
        if js != server_accepts(url)
    ]
    assert mismatches == []


def test_a_tab_in_a_stored_url_is_never_a_link_anywhere(
    alice_context, alice, live_server_url, in_thread
):
    [n] = in_thread(notifications.send, alice, "tabbed", title="Tab", url="/ok/")
    Notification.objects.filter(pk=n.pk).update(url="/\t/evil.example/")  # skips validators
    page = alice_context.new_page()
    page.goto(live_server_url + "/notifications/")
    connected(page)
    history_row = page.locator(f'{HISTORY}[data-notification-id="{n.pk}"]')
    expect(history_row).to_have_count(1)
    assert history_row.locator("a").count() == 0
    page.locator(BELL).click()
    inbox_row = page.locator(f'[data-notifications-list] > li[data-notification-id="{n.pk}"]')
    expect(inbox_row).to_have_count(1)
    assert inbox_row.locator("a").count() == 0
    assert page.locator('a[href*="evil"]').count() == 0
