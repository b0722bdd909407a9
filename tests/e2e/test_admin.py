"""An admin broadcasts from the admin UI; recipients' open pages show it live."""

import re

from django.contrib.auth.models import Group
from playwright.sync_api import expect

import notifications


def open_home(browser, login, user, live_server_url):
    context = login(browser.new_context(), user)
    page = context.new_page()
    page.goto(live_server_url + "/")
    # Only send once the socket is open: the state frame has arrived.
    expect(page.locator("[data-notifications-bell]")).to_have_attribute(
        "data-notifications-status", "connected"
    )
    return page


def test_admin_broadcast_to_a_group_shows_toasts_to_members_only(
    browser, login, make_user, live_server_url, in_thread, artifacts
):
    admin = make_user("root", is_staff=True, is_superuser=True)
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    team = Group.objects.create(name="night shift")
    team.user_set.add(alice, bob)

    recipients = [open_home(browser, login, user, live_server_url) for user in (alice, bob)]
    outsider = open_home(browser, login, carol, live_server_url)

    # The admin composes in their own browser context.
    admin_page = login(browser.new_context(), admin).new_page()
    admin_page.goto(live_server_url + "/admin/notifications/notification/")
    admin_page.get_by_role("link", name="Send a notification").click()
    expect(admin_page).to_have_url(re.compile(r"/admin/notifications/notification/send/$"))
    admin_page.fill("#id_title", "Release tonight")
    admin_page.fill("#id_message", "Deploy starts at <b>22:00</b>.")
    admin_page.select_option("#id_level", label="warning")
    admin_page.check('input[name="audience"][value="groups"]')
    # The groups field is the admin's select2 autocomplete.
    admin_page.locator(".field-groups .select2-selection").click()
    admin_page.locator(".field-groups .select2-search__field").fill("night")
    admin_page.locator(".select2-results__option", has_text="night shift").click()
    admin_page.screenshot(path=str(artifacts / "admin-compose.png"), full_page=True)
    admin_page.get_by_role("button", name="Preview").click()

    preview = admin_page.locator("[data-notifications-preview] .ntf-toast")
    expect(preview).to_have_attribute("data-level", "warning")
    expect(preview.locator(".ntf-title")).to_have_text("Release tonight")
    expect(preview.locator(".ntf-message")).to_have_text("Deploy starts at <b>22:00</b>.")
    expect(preview.locator(".ntf-level")).to_have_text("Warning")
    # In its own shadow root: the client's colours, not the admin's (which would
    # turn the text teal).
    assert preview.evaluate("e => e.getRootNode() instanceof ShadowRoot")
    client_fg = preview.evaluate("e => getComputedStyle(e).getPropertyValue('--ntf-fg').trim()")
    assert client_fg in ("#111827", "#f9fafb")
    colour = preview.locator(".ntf-title").evaluate("e => getComputedStyle(e).color")
    assert colour in ("rgb(17, 24, 39)", "rgb(249, 250, 251)"), colour
    expect(admin_page.locator("[data-recipient-count]")).to_have_text("2 users")
    admin_page.screenshot(path=str(artifacts / "admin-preview.png"))
    admin_page.get_by_role("button", name="Send to 2 users").click()
    expect(admin_page.locator(".messagelist")).to_contain_text("Sent to 2 users.")
    expect(admin_page.locator("#result_list")).to_contain_text("night shift")
    admin_page.screenshot(path=str(artifacts / "admin-history.png"))

    for page in recipients:
        toast = page.locator(".ntf-toast").first
        expect(toast).to_contain_text("Release tonight", timeout=5000)
        expect(toast).to_contain_text("Deploy starts at <b>22:00</b>.")
        expect(page.locator("[data-notifications-unread]")).to_have_attribute(
            "data-notifications-unread", "1"
        )
    recipients[0].screenshot(path=str(artifacts / "admin-broadcast-toast.png"))

    # Carol was not in the audience. Frames reach one socket in order, so once
    # a later notification to her shows, the broadcast would have shown first.
    in_thread(notifications.send, carol, "Just for Carol", title="Marker")
    expect(outsider.locator(".ntf-toast").first).to_contain_text("Just for Carol", timeout=5000)
    expect(outsider.locator(".ntf-toast")).to_have_count(1)
    expect(outsider.locator(".ntf-toast", has_text="Release tonight")).to_have_count(0)
