"""Layout at 320, 375, 768 and 1280 px, light and dark: nothing off-screen, no sideways scroll.

Measured in the browser with getBoundingClientRect / scrollWidth. Each run also
takes the screenshots that docs/ keeps (``make screenshots`` copies them there).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

import notifications

BELL = "[data-notifications-bell]"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = [320, 375, 768, 1280]

MEASURE = (Path(__file__).parent / "measure_layout.js").read_text(encoding="utf-8")

SELECTORS = ["header", ".ntf-inbox", ".ntf-toasts", "main"]


def seed(in_thread, user):
    def send():
        notifications.success(
            user, "Payment of €120.00 received from ACME Ltd.", title="Invoice #42"
        )
        notifications.info(
            user, "Bob mentioned you in “Q3 plan”: " + "Let's discuss. " * 12, url="/"
        )
        notifications.warning(user, "Your export is ready to download.", title="Export", url="/")
        notifications.error(
            user,
            "Supercalifragilisticexpialidocious" * 4 + " could not be reached.",
            title="A very long title that goes on and on without a break " * 2,
        )

    in_thread(send)


@pytest.fixture
def sized(browser, login, live_server_url):
    contexts = []

    def make(user, width, theme, height=800):
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=theme, device_scale_factor=1
        )
        contexts.append(context)
        login(context, user)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def settle(page):
    page.wait_for_function("document.getAnimations().every((a) => a.playState !== 'running')")


def assert_fits(page, where):
    m = page.evaluate(MEASURE, SELECTORS)
    assert m["scrollWidth"] <= m["width"], f"{where}: page scrolls sideways ({m})"
    assert m["bodyScrollWidth"] <= m["width"], f"{where}: body scrolls sideways ({m})"
    assert m["outside"] == [], f"{where}: off-screen: " + "; ".join(m["outside"])
    assert m["wrapped"] == [], f"{where}: labels broken over lines: " + "; ".join(m["wrapped"])
    return m


def shot(page, artifacts, name):
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("NOTIFICATIONS_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_home_with_toasts_and_open_inbox_fits(
    sized, alice, in_thread, live_server_url, artifacts, width, theme
):
    page = sized(alice, width, theme)
    page.goto(live_server_url + "/")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    seed(in_thread, alice)
    expect(page.locator(".ntf-toast")).to_have_count(4)
    settle(page)
    assert_fits(page, f"home {width}px {theme}")
    shot(page, artifacts, f"home-{width}-{theme}")

    page.locator(BELL).click()
    inbox = page.locator("[data-notifications-inbox]")
    expect(inbox).to_be_visible()
    expect(page.locator("[data-notifications-list] > li")).to_have_count(4)
    settle(page)
    assert_fits(page, f"inbox {width}px {theme}")
    box = inbox.bounding_box()
    viewport = page.viewport_size
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 0.5
    if width <= 640:  # a full-screen sheet on phones
        assert box["x"] == 0 and box["width"] == viewport["width"]
    # The header stays while the list scrolls; long text is clamped, with "More".
    assert (
        page.locator(".ntf-inbox-head").evaluate("e => getComputedStyle(e.parentElement).overflow")
        == "hidden"
    )
    long_row = page.locator("[data-notifications-list] > li").nth(0)
    expect(long_row.get_by_role("button", name="More")).to_be_visible()
    shot(page, artifacts, f"inbox-{width}-{theme}")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_history_page_fits(sized, alice, in_thread, live_server_url, artifacts, width, theme):
    seed(in_thread, alice)
    page = sized(alice, width, theme)
    page.goto(live_server_url + "/notifications/")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    assert_fits(page, f"history {width}px {theme}")
    shot(page, artifacts, f"history-{width}-{theme}")
