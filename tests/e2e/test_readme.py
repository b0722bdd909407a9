"""A person follows the README's "Add it" section and sees the first toast in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_startproject import (
    LOGIN,
    PASSWORD,
    Server,
    follow_readme,
    readme_command,
    send_command,
)


@pytest.mark.timeout(240)
def test_first_toast_in_a_browser_after_following_the_readme(tmp_path, page):
    project, blocks = follow_readme(tmp_path)
    server = Server(readme_command(blocks, "run", "python manage.py runserver"), project)
    try:
        page.goto(server.url + "/")  # the home page sends a visitor to the admin's login
        expect(page).to_have_url(server.url + "/admin/login/?next=/")
        page.fill("#id_username", LOGIN)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("h1")).to_have_text(f"Hello, {LOGIN}")
        bell = page.locator("[data-notifications-bell]")
        expect(bell).to_have_attribute("data-notifications-status", "connected")

        project.run(*send_command(blocks))

        expect(page.locator(".ntf-toast .ntf-message")).to_have_text("Hello!")
        expect(page.locator("[data-notifications-unread]")).to_have_text("1")
    except BaseException:
        print(server.output())
        raise
    finally:
        server.stop()
