"""Keyboard only, with what a screen reader hears asserted from the live region's text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import notifications

BELL = "[data-notifications-bell]"
ITEM = "[data-notifications-list] > li"

# Every text the polite live region is given, in order (recorded from page load).
ANNOUNCEMENTS = """
window.__said = [];
document.addEventListener("DOMContentLoaded", () => {
  const region = document.querySelector("[data-notifications-announce]");
  if (!region) return;
  new MutationObserver(() => {
    const text = region.textContent.trim();
    if (text) window.__said.push(text);
  }).observe(region, { childList: true, characterData: true, subtree: true });
});
"""


def focused(page) -> dict:
    return page.evaluate(
        """() => {
          const e = document.activeElement;
          const row = e.closest("[data-notifications-list] > li");
          return { tag: e.tagName.toLowerCase(), bell: e.matches("[data-notifications-bell]"),
                   row: row ? Number(row.dataset.notificationId) : null,
                   text: (e.getAttribute("aria-label") || e.textContent).trim().slice(0, 60) };
        }"""
    )


def said(page) -> list[str]:
    return page.evaluate("window.__said")


def wait_said(page, text: str) -> None:
    page.wait_for_function("(t) => window.__said.includes(t)", arg=text, timeout=5000)


@pytest.fixture
def page3(context, login, alice, live_server_url, in_thread):
    sent = in_thread(
        lambda: [
            notifications.info(alice, "First message", title="one")[0],
            notifications.warning(alice, "Second message", title="two")[0],
            notifications.error(alice, "Third message", title="three")[0],
        ]
    )
    login(context, alice)
    page = context.new_page()
    page.add_init_script(ANNOUNCEMENTS)
    page.goto(live_server_url + "/")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    return page, list(reversed(sent))  # newest first, as listed


def test_keyboard_walk_through_the_inbox(page3):
    page, (three, two, one) = page3
    deletes = []
    page.on("request", lambda r: "/delete/" in r.url and deletes.append(r.url))
    bell = page.locator(BELL)
    expect(bell).to_have_attribute("aria-haspopup", "dialog")
    bell.focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-notifications-inbox]")).to_be_visible()
    expect(bell).to_have_attribute("aria-expanded", "true")
    assert focused(page)["row"] == three.pk  # into the list, on the newest

    # One Tab stop into the list: arrows move between items.
    page.keyboard.press("ArrowDown")
    assert focused(page)["row"] == two.pk
    page.keyboard.press("End")
    assert focused(page)["row"] == one.pk
    page.keyboard.press("Home")
    assert focused(page)["row"] == three.pk
    page.keyboard.press("ArrowDown")
    tab_stops = page.locator('[data-notifications-list] [tabindex="0"]').evaluate_all(
        "els => els.map((e) => e.closest('li').dataset.notificationId)"
    )
    assert set(tab_stops) == {str(two.pk)}  # only the active item (and its buttons) are tabbable

    # Tab to its "Mark read", press it: announced, focus stays on the (new) toggle.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Mark read"
    page.keyboard.press("Enter")
    wait_said(page, "Marked as read")
    expect(page.locator(f'{ITEM}[data-notification-id="{two.pk}"]')).to_have_attribute(
        "data-read", "true"
    )
    expect(page.locator(BELL).locator("[data-notifications-unread]")).to_have_text("2")
    now = focused(page)
    assert (now["row"], now["text"]) == (two.pk, "Mark unread")

    # Delete it, then undo: the row comes back and keeps focus.
    page.keyboard.press("Tab")
    assert focused(page)["text"].startswith("Delete notification: two")
    page.keyboard.press("Enter")
    wait_said(page, "Deleted. Undo")
    expect(page.locator(f'{ITEM}[data-notification-id="{two.pk}"]')).to_have_count(0)
    assert focused(page)["row"] == one.pk  # the next item, not <body>
    page.keyboard.press("Shift+Tab")  # from the list back to the Undo button
    assert focused(page)["text"] == "Undo"
    page.keyboard.press("Enter")
    wait_said(page, "Restored")
    expect(page.locator(f'{ITEM}[data-notification-id="{two.pk}"]')).to_have_count(1)
    assert focused(page)["row"] == two.pk
    assert deletes == []  # undone before it was sent

    # Escape closes the inbox and returns to the bell.
    page.keyboard.press("Escape")
    expect(page.locator("[data-notifications-inbox]")).to_be_hidden()
    assert focused(page)["bell"] is True
    expect(bell).to_have_attribute("aria-expanded", "false")
    assert "Connecting…" not in " ".join(said(page))  # the connection is not announced


def test_escape_closes_the_newest_toast_and_errors_are_alerts(page3, alice, in_thread):
    page, _ = page3
    in_thread(notifications.info, alice, "a toast")
    in_thread(notifications.error, alice, "an error toast")
    toasts = page.locator(".ntf-toast")
    expect(toasts).to_have_count(2)
    expect(toasts.nth(1)).to_have_attribute("role", "alert")
    assert toasts.nth(0).get_attribute("role") is None  # polite: via the live region
    wait_said(page, "a toast")
    page.keyboard.press("Escape")
    expect(toasts).to_have_count(1)
    expect(toasts.locator(".ntf-message")).to_have_text("a toast")
    page.keyboard.press("Escape")
    expect(toasts).to_have_count(0)


def test_closing_a_toast_moves_focus_to_the_next_one_then_the_bell(page3, alice, in_thread):
    page, _ = page3
    in_thread(notifications.error, alice, "first")
    in_thread(notifications.error, alice, "second")
    close = page.get_by_role("button", name="Dismiss notification")
    expect(close).to_have_count(2)
    close.first.focus()
    page.keyboard.press("Enter")
    expect(close).to_have_count(1)
    assert focused(page)["text"] == "Dismiss notification"
    page.keyboard.press("Enter")
    expect(close).to_have_count(0)
    assert focused(page)["bell"] is True


def test_tabbing_out_of_the_inbox_closes_it(page3):
    page, _ = page3
    page.locator(BELL).click()
    page.locator("[data-notifications-inbox] .ntf-all").focus()
    page.keyboard.press("Tab")
    expect(page.locator("[data-notifications-inbox]")).to_be_hidden()


def test_the_unread_count_is_announced_once_when_it_changes(page3, alice, in_thread):
    page, _ = page3
    in_thread(lambda: [notifications.info(alice, f"n{i}") for i in range(3)])
    wait_said(page, "6 unread notifications")
    assert said(page).count("6 unread notifications") == 1
    assert not any(s in said(page) for s in ("4 unread notifications", "5 unread notifications"))
