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

# For every visible element under the selectors: is it inside the viewport
# horizontally, and does every button / action keep its label on one line?
MEASURE = """(selectors) => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  const wrapped = [];
  const name = (e) => e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\\s+/).join(".") : "")
    + (e.textContent ? ` "${e.textContent.trim().slice(0, 30)}"` : "");
  for (const selector of selectors) {
    for (const root of document.querySelectorAll(selector)) {
      for (const e of [root, ...root.querySelectorAll("*")]) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden") continue;
        if (e.closest(".ntf-sr")) continue;
        if (r.left < -0.5 || r.right > width + 0.5) outside.push(`${name(e)}: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
        if (e.matches("button, .ntf-action, .site-nav > a, .ntf-history-link, .ntf-all")) {
          // The lines its visible text occupies (screen-reader-only text aside).
          const tops = new Set();
          const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
          for (let t = walker.nextNode(); t; t = walker.nextNode()) {
            if (!t.textContent.trim() || t.parentElement.closest(".ntf-sr")) continue;
            const range = document.createRange();
            range.selectNodeContents(t);
            for (const q of range.getClientRects()) if (q.width > 0) tops.add(Math.round(q.top + q.height / 2));
          }
          if (tops.size > 1) wrapped.push(`${name(e)}: ${tops.size} lines`);
        }
      }
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    width,
    outside,
    wrapped,
  };
}"""

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
