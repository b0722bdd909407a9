"""Reaching people who are not looking, in headless Chromium.

The preferences page (with and without JavaScript), the tab title's unread
count, desktop alerts, and the Web Push subscribe flow. Headless Chromium has
no push service to subscribe with (no Google services, no network here), so
``PushManager.subscribe`` is the one thing stubbed: it returns a subscription
to this test's own push service, with keys the test holds; everything else is
real (the permission prompt on click, the service worker registered for scope
"/" from under the include, the subscription POST with CSRF, the server's
encrypted, VAPID-signed push once no tab is open).
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

import notifications
from notifications import webpush
from notifications.models import NotificationPreference, PushSubscription
from tests.conftest import TEST_REDIS_URL, DaphneServer, database_url_for_children
from tests.test_webpush import PRIVATE, PUBLIC, SUBJECT, Browser, PushService

BELL = "[data-notifications-bell]"
REACH = {
    "CATEGORIES": {
        "billing": {"label": "Billing", "description": "Invoices"},
        "security": {"label": "Security", "critical": True},
    },
    "WEBPUSH_VAPID_PUBLIC_KEY": PUBLIC,
    "WEBPUSH_VAPID_PRIVATE_KEY": PRIVATE,
    "WEBPUSH_VAPID_SUBJECT": SUBJECT,
}


@pytest.fixture(scope="module")
def reach_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        database_url = database_url_for_children()
    server = DaphneServer(
        database_url,
        TEST_REDIS_URL,
        "tests.daphne_settings",
        extra_env={"TEST_NOTIFICATIONS": json.dumps(REACH)},
    )
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def reach(settings, reach_server, redis_for_sends):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, **REACH}
    return reach_server


@pytest.fixture
def page_for(browser, reach):
    from tests.conftest import session_cookie

    contexts = []

    def open_page(user, **options):
        context = browser.new_context(**options)
        contexts.append(context)
        name, value = session_cookie(user).split("=", 1)
        context.add_cookies([{"name": name, "value": value, "url": reach}])
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def connected(page):
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")


def test_preferences_page_from_the_inbox(page_for, alice, reach):
    page = page_for(alice)
    page.goto(reach + "/")
    connected(page)
    page.locator(BELL).click()
    page.get_by_role("link", name="Preferences").click()
    expect(page).to_have_url(reach + "/notifications/preferences/")
    email = page.get_by_role("checkbox", name="Billing: by email")
    expect(email).to_be_checked()
    expect(page.get_by_role("checkbox", name="Security: by email")).to_be_disabled()
    email.uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-notifications-preferences-saved]")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Billing: by email")).not_to_be_checked()
    assert (
        NotificationPreference.objects.get(user=alice, category="billing", channel="email").enabled
        is False
    )


def test_preferences_page_works_without_javascript(page_for, alice, reach):
    page = page_for(alice, java_script_enabled=False)
    page.goto(reach + "/notifications/preferences/")
    page.get_by_role("checkbox", name="Billing: in the app").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-notifications-preferences-saved]")).to_be_visible()
    assert notifications.send(alice, "muted", category="billing") == []


def test_tab_title_counts_unread(page_for, alice, reach, in_thread):
    page = page_for(alice)
    page.goto(reach + "/")
    connected(page)
    title = page.title()
    assert not title.startswith("(")
    in_thread(notifications.send, alice, "one")
    in_thread(notifications.send, alice, "two")
    expect(page).to_have_title(f"(2) {title}")
    page.locator(BELL).click()
    page.get_by_role("button", name="Mark all read").click()
    expect(page).to_have_title(title)


def test_desktop_alert_while_hidden_after_opting_in(page_for, alice, reach, in_thread):
    page = page_for(alice)
    page.context.grant_permissions(["notifications"], origin=reach)
    page.add_init_script(
        """
        window.__shown = [];
        window.Notification = class extends EventTarget {
          static permission = "default";
          static async requestPermission() { this.permission = "granted"; return "granted"; }
          constructor(title, options) { super(); window.__shown.push({ title, ...options }); }
          close() {}
        };
        Object.defineProperty(document, "visibilityState", {
          get: () => window.__visibility || "visible",
        });
        """
    )
    page.goto(reach + "/")
    connected(page)
    page.locator(BELL).click()
    toggle = page.locator("[data-notifications-alerts-toggle]")
    expect(toggle).to_have_text("Desktop alerts: off")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    in_thread(notifications.send, alice, "while visible")
    expect(page.locator(".ntf-toast").filter(has_text="while visible")).to_be_visible()
    page.evaluate("window.__visibility = 'hidden'")
    [n] = in_thread(notifications.send, alice, "Server down", title="Ops")
    page.wait_for_function("window.__shown.length === 1")
    assert page.evaluate("window.__shown") == [
        {"title": "Ops", "body": "Server down", "tag": f"notification-{n.pk}"}
    ]


def test_subscribe_flow_then_push_when_no_tab_is_open(page_for, alice, reach, in_thread):
    service = PushService()
    try:
        browser_keys = Browser(service, "chromium")
        page = page_for(alice)
        page.context.grant_permissions(["notifications"], origin=reach)
        fake = json.dumps(browser_keys.json())
        page.add_init_script(
            f"window.__fake = {fake};"
            + """
            PushManager.prototype.subscribe = async function (options) {
              const key = new Uint8Array(options.applicationServerKey);
              window.__subscribeKey = key.length;
              window.__subscribed = {
                endpoint: window.__fake.endpoint,
                toJSON: () => window.__fake,
                unsubscribe: async () => { window.__subscribed = null; return true; },
              };
              return window.__subscribed;
            };
            PushManager.prototype.getSubscription = async function () {
              return window.__subscribed || null;
            };
            """
        )
        page.goto(reach + "/")
        connected(page)
        page.locator(BELL).click()
        button = page.locator("[data-notifications-push-toggle]")
        expect(button).to_have_text("Push when closed: off")
        button.click()
        expect(button).to_have_text("Push when closed: on")
        assert page.evaluate("window.__subscribeKey") == 65
        scope = page.evaluate(
            "navigator.serviceWorker.getRegistration('/').then((r) => r && r.scope)"
        )
        assert scope == reach + "/"
        subscription = PushSubscription.objects.get()
        assert (subscription.user, subscription.endpoint) == (alice, browser_keys.endpoint)

        # While the tab is open: no push. Closed: a push.
        in_thread(notifications.send, alice, "seen live")
        page.context.close()
        in_thread(wait_offline, alice)
        in_thread(notifications.send, alice, "while away", title="Later")
        assert in_thread(webpush.flush, 10)
        [(_name, _headers, body, _claims)] = service.wait_for(1)
        assert browser_keys.decrypt(body)["title"] == "Later"
    finally:
        service.close()


def wait_offline(user, timeout=10.0):
    """Wait until the transport no longer sees a socket of ``user`` (the tab closed)."""
    import time

    from notifications import delivery

    key = delivery.user_key(user.pk)
    deadline = time.monotonic() + timeout
    while key in (delivery.online([key]) or set()):
        assert time.monotonic() < deadline, "the closed tab's socket stayed present"
        time.sleep(0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_preferences_page_and_reach_buttons_pass_axe(page_for, alice, reach, scheme):
    from tests.e2e.axe import describe, run_axe

    page = page_for(alice, color_scheme=scheme)
    page.goto(reach + "/notifications/preferences/")
    connected(page)
    violations = run_axe(page)
    assert violations == [], "axe found:\n" + describe(violations)
    page.locator(BELL).click()
    expect(page.locator("[data-notifications-push-toggle]")).to_be_visible()
    violations = run_axe(page, include="[data-notifications-inbox]")
    assert violations == [], "axe found:\n" + describe(violations)


def test_preferences_screenshot(page_for, alice, reach, artifacts):
    """The preferences page as the README shows it (`make screenshots` refreshes docs/)."""
    import os
    import shutil
    from pathlib import Path

    page = page_for(alice, viewport={"width": 900, "height": 560})
    page.goto(reach + "/notifications/preferences/")
    connected(page)
    path = artifacts / "preferences.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("NOTIFICATIONS_UPDATE_SCREENSHOTS") == "1":
        docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
        shutil.copy(path, docs / "preferences.png")
