"""A logged-in page shows a toast with the exact text, and the badge counts up."""

from playwright.sync_api import expect

import notifications


def test_send_shows_toast_with_exact_text_and_bumps_badge(
    page, login, alice, live_server_url, in_thread, artifacts
):
    login(page.context, alice)
    page.goto(live_server_url + "/")
    badge = page.locator("[data-notifications-unread]")
    expect(badge).to_have_attribute("data-notifications-unread", "0")
    # Send once the socket is open (the state frame has arrived).
    expect(page.locator("[data-notifications-bell]")).to_have_attribute(
        "data-notifications-status", "connected"
    )
    in_thread(notifications.send, alice, "Your export is ready.", title="Export")
    toast = page.locator(".ntf-toast")
    expect(toast).to_have_count(1)
    expect(toast.locator(".ntf-title")).to_have_text("Export")
    expect(toast.locator(".ntf-message")).to_have_text("Your export is ready.")
    expect(badge).to_have_attribute("data-notifications-unread", "1")
    expect(badge).to_have_text("1")
    page.screenshot(path=str(artifacts / "toast.png"))
