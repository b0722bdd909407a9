"""The inbox's states in headless Chromium: tabs, archive, snooze, pin, actions, groups, seen.

Each test drives the real client against Daphne + Redis + the database;
state changes made in one place (a button, the ORM) reach every open tab.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

import notifications
from notifications.models import Notification
from tests.e2e.axe import describe, run_axe

BELL = "[data-notifications-bell]"
ITEM = "[data-notifications-list] > li"
TOAST = ".ntf-toast"
THEMES = ["light", "dark"]


def open_page(context, base_url: str, path: str = "/"):
    page = context.new_page()
    page.goto(base_url + path)
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    return page


def row(page, n):
    return page.locator(f'{ITEM}[data-notification-id="{n.pk}"]')


def open_inbox(page):
    page.locator(BELL).click()
    expect(page.locator("[data-notifications-inbox]")).to_be_visible()


def tab(page, name):
    return page.locator(f'[data-notifications-tab="{name}"]')


@pytest.fixture
def alice_page(context, login, alice, live_server_url):
    login(context, alice)
    return open_page(context, live_server_url)


def test_tabs_filter_and_count_and_archive_moves_a_row(alice_page, alice, in_thread):
    page = alice_page
    one, _two, three = (in_thread(notifications.send, alice, m)[0] for m in ("one", "two", "three"))
    in_thread(lambda: Notification.objects.filter(pk=one.pk).mark_read())
    open_inbox(page)
    expect(page.locator(ITEM)).to_have_count(3)
    expect(tab(page, "unread")).to_have_text("Unread (2)")
    tab(page, "unread").click()
    expect(tab(page, "unread")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(ITEM)).to_have_count(2)
    row(page, three).get_by_role("button", name="Archive: three").click()
    expect(row(page, three)).to_have_count(0)
    expect(tab(page, "unread")).to_have_text("Unread (1)")
    expect(tab(page, "archived")).to_have_text("Archived (1)")
    tab(page, "archived").click()
    expect(page.locator(ITEM)).to_have_count(1)
    expect(row(page, three)).to_be_visible()
    row(page, three).get_by_role("button", name="Unarchive: three").click()
    expect(page.locator("[data-notifications-empty]")).to_be_visible()
    tab(page, "all").click()
    expect(page.locator(ITEM)).to_have_count(3)
    assert not Notification.objects.filter(archived_at__isnull=False).exists()


def test_archive_pin_and_snooze_follow_in_a_second_tab(
    context, login, alice, in_thread, live_server_url
):
    login(context, alice)
    first = open_page(context, live_server_url)
    second = open_page(context, live_server_url)
    older, newer = (in_thread(notifications.send, alice, m)[0] for m in ("older", "newer"))
    for page in (first, second):
        open_inbox(page)
        expect(page.locator(ITEM)).to_have_count(2)
    row(first, older).get_by_role("button", name="Pin: older").click()
    # Pinned first, in both tabs.
    for page in (first, second):
        expect(page.locator(ITEM).first).to_have_attribute("data-notification-id", str(older.pk))
        expect(page.locator(ITEM).first).to_have_attribute("data-pinned", "true")
    row(first, newer).get_by_role("button", name="Archive: newer").click()
    expect(row(second, newer)).to_have_count(0)
    row(first, older).get_by_role("button", name="Snooze: older").click()
    row(first, older).get_by_role("button", name="1 hour").click()
    expect(row(second, older)).to_have_count(0)
    snoozed = Notification.objects.get(pk=older.pk).snoozed_until
    assert timezone.now() + datetime.timedelta(minutes=59) < snoozed
    assert snoozed < timezone.now() + datetime.timedelta(minutes=61)


def test_a_snoozed_notification_comes_back_live_with_a_toast(alice_page, alice, in_thread):
    page = alice_page
    [n] = in_thread(notifications.send, alice, "remind me", title="Reminder")
    open_inbox(page)
    expect(row(page, n)).to_be_visible()
    until = timezone.now() + datetime.timedelta(seconds=2)
    in_thread(lambda: Notification.objects.filter(pk=n.pk).snooze(until))
    expect(row(page, n)).to_have_count(0)
    # Back at `until` without reloading: the socket's timer sends notification.unsnoozed.
    expect(row(page, n)).to_be_visible(timeout=10_000)
    expect(page.locator(TOAST).filter(has_text="remind me")).to_have_count(1)
    assert timezone.now() >= until


def test_an_action_button_posts_with_csrf_and_shows_the_result(alice_page, alice, in_thread):
    page = alice_page
    requests = []
    page.on("request", lambda r: requests.append(r) if "/demo/approve/" in r.url else None)
    [n] = in_thread(
        notifications.send,
        alice,
        "Expense report #7 is waiting.",
        key="expense-7",
        actions=[
            {"label": "Approve", "url": "/demo/approve/7/", "method": "post"},
            {"label": "Open report", "url": "/notifications/"},
        ],
    )
    # Toasts show the buttons too.
    expect(page.locator(TOAST).get_by_role("button", name="Approve")).to_be_visible()
    open_inbox(page)
    expect(row(page, n).get_by_role("link", name="Open report")).to_have_attribute(
        "href", "/notifications/"
    )
    row(page, n).get_by_role("button", name="Approve").click()
    expect(row(page, n).locator(".ntf-button-result")).to_have_text("Done")
    assert requests[0].method == "POST"
    assert requests[0].headers["x-csrftoken"]
    # The demo view marked it read, which every tab hears.
    expect(row(page, n)).to_have_attribute("data-read", "true")


def test_a_burst_of_one_group_is_one_inbox_entry_and_one_updating_toast(
    alice_page, alice, bob, in_thread, live_server_url
):
    page = alice_page

    def burst():
        for i in range(50):
            notifications.send(
                alice, f"comment {i}", title="New comment on Q3 plan", actor=bob, group_key="q3"
            )

    in_thread(burst)
    toast = page.locator(TOAST)
    expect(toast.first).to_contain_text("(50)", timeout=10_000)
    assert toast.count() <= 2
    open_inbox(page)
    expect(page.locator(ITEM)).to_have_count(1)
    expect(page.locator(ITEM)).to_have_attribute("data-group-count", "50")
    expect(page.locator(ITEM).locator(".ntf-message")).to_have_text("comment 49")
    # After a reload the server groups them the same way (?grouped=1).
    page.reload()
    open_inbox(page)
    expect(page.locator(ITEM)).to_have_count(1)
    expect(page.locator(ITEM)).to_have_attribute("data-group-count", "50")
    expect(page.locator(ITEM).locator(".ntf-group")).to_have_text("50 notifications")
    # Reading the entry reads the group.
    page.locator(ITEM).get_by_role("button", name="Mark read").click()
    expect(page.locator("[data-notifications-unread]")).to_have_attribute(
        "data-notifications-unread", "0"
    )
    assert not alice.notifications.unread().exists()


def test_opening_the_inbox_marks_what_it_shows_seen(alice_page, alice, in_thread):
    page = alice_page
    in_thread(notifications.send, alice, "a")
    in_thread(notifications.send, alice, "b")
    expect(page.locator(TOAST)).to_have_count(2)
    assert alice.notifications.unseen().count() == 2
    with page.expect_response(lambda r: r.url.endswith("/api/notifications/seen/")) as seen:
        open_inbox(page)
    assert seen.value.json()["changed"] == 2
    assert alice.notifications.unseen().count() == 0
    assert alice.notifications.unread().count() == 2  # Seen is not read.


@pytest.mark.parametrize("theme", THEMES)
def test_the_inbox_with_every_state_has_no_axe_violations(
    browser, login, alice, bob, in_thread, live_server_url, theme
):
    context = browser.new_context(color_scheme=theme)
    login(context, alice)

    def seed():
        for i in range(3):
            notifications.send(alice, f"comment {i}", title="Comment", actor=bob, group_key="g")
        notifications.send(alice, "Closed Friday", title="Office", pinned=True)
        notifications.send(
            alice,
            "Approve #7",
            actions=[
                {"label": "Approve", "url": "/demo/approve/7/", "method": "post"},
                {"label": "Open", "url": "/"},
            ],
            image="/favicon.svg",
        )

    in_thread(seed)
    page = open_page(context, live_server_url)
    open_inbox(page)
    expect(page.locator(ITEM)).to_have_count(3)
    page.locator(ITEM).first.get_by_role("button", name="Snooze", exact=False).first.click()
    violations = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert violations == [], "axe found:\n" + describe(violations)
    tab(page, "archived").click()
    violations = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert violations == [], "axe found:\n" + describe(violations)
    context.close()


def test_an_action_to_another_origin_never_gets_the_csrf_token(alice_page, alice, in_thread):
    page = alice_page
    seen = []

    def fulfil(route):
        seen.append(route.request.headers)
        route.fulfill(status=200, body="{}", headers={"Access-Control-Allow-Origin": "*"})

    page.route("https://elsewhere.example/**", fulfil)
    [n] = in_thread(
        notifications.send,
        alice,
        "Vote elsewhere",
        actions=[{"label": "Vote", "url": "https://elsewhere.example/vote/", "method": "post"}],
    )
    open_inbox(page)
    row(page, n).get_by_role("button", name="Vote", exact=True).click()
    expect(row(page, n).locator(".ntf-button-result")).to_have_text("Done")
    assert seen and all("x-csrftoken" not in headers for headers in seen)
    assert all("cookie" not in headers for headers in seen)
