from playwright.sync_api import expect
import notifications
from tests.e2e.test_client import open_page, expect_unread, BELL, ITEM

def test_dbg(context, login, alice, live_server_url, in_thread):
    sent = in_thread(lambda: [notifications.send(alice, f"n{i}")[0] for i in range(25)])
    login(context, alice)
    page = open_page(context, live_server_url)
    page.on("console", lambda m: print("CONSOLE", m.type, m.text))
    page.on("pageerror", lambda e: print("PAGEERROR", e))
    page.locator(BELL).click()
    page.get_by_role("button", name="Load more").click()
    expect(page.locator(ITEM)).to_have_count(25)
    page.get_by_role("button", name="Mark all read").click()
    expect_unread(page, 0)
    page.wait_for_timeout(500)
    print(page.evaluate("[...document.querySelectorAll('[data-notifications-list] > li')].map(l => l.dataset.cursor + ':' + l.dataset.read).join(' ')"))
