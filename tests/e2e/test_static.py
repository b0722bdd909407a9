"""collectstatic + ManifestStaticFilesStorage: the hashed client works, and only one copy runs.

Issue 12, item 7: importing the client by another URL than the tag's (the
README's example under hashed storage) must not start a second client (every
toast twice). Both with Django's default (imports left as they are) and with
``support_js_module_import_aggregation`` (imports rewritten to hashed names).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

import notifications
from tests.conftest import (
    ROOT,
    TEST_REDIS_URL,
    database_url_for_children,
    free_port,
    terminate,
    wait_for_port,
)

STORAGES = {
    "manifest": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    "manifest-module-imports": "tests.e2e.manifest_storage.ModuleManifestStaticFilesStorage",
}
HASHED = re.compile(r"/static/notifications/notifications\.[0-9a-f]{12}\.js$")


@pytest.fixture(params=sorted(STORAGES))
def hashed_server(request, transactional_db, redis_for_sends, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.e2e.manifest_settings",
        "NOTIFICATIONS_TEST_STATIC_ROOT": str(tmp_path / "static"),
        "NOTIFICATIONS_TEST_STATIC_BACKEND": STORAGES[request.param],
        "DATABASE_URL": database_url_for_children(),
        "REDIS_URL": TEST_REDIS_URL,
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    port = free_port()
    log = tmp_path / "daphne.log"
    with open(log, "w+b") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "tests.e2e.manifest_asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(process, port, 20, log.read_text)
            yield f"http://127.0.0.1:{port}", request.param
        finally:
            terminate(process)


def test_hashed_client_runs_once_whatever_url_imports_it(
    hashed_server, context, login, alice, in_thread
):
    url, storage = hashed_server
    login(context, alice)
    page = context.new_page()
    sockets, static = [], []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("response", lambda r: "/static/" in r.url and static.append((r.url, r.status)))
    page.goto(url + "/api-example/")
    expect(page.locator("[data-notifications-bell]")).to_have_attribute(
        "data-notifications-status", "connected"
    )
    src = page.locator("script[data-notifications-client]").get_attribute("src")
    assert HASHED.search(src), src
    assert static and all(status == 200 for _, status in static), static
    if storage == "manifest-module-imports":
        # The entry's imports were rewritten: the modules load by their hashed names too.
        assert any(re.search(r"/client/store\.[0-9a-f]{12}\.js$", u) for u, _ in static), static

    # The README's import through {% static %}, the tag's own URL, and the plain
    # unhashed URL all give the one client of the page.
    same = page.evaluate(
        """async () => {
          const script = document.querySelector("script[data-notifications-client]");
          const viaTag = (await import(script.src)).default;
          const viaPlainUrl = (await import("/static/notifications/notifications.js")).default;
          return [viaTag === window.__viaStatic, viaPlainUrl === viaTag, typeof viaTag.markRead];
        }"""
    )
    assert same == [True, True, "function"]

    in_thread(notifications.send, alice, "Only once", title="Once")
    expect(page.locator(".ntf-toast")).to_have_count(1)
    expect(page.locator("[data-example-count]")).to_have_text("1 unread")
    in_thread(notifications.send, alice, "Still once", title="Twice?")
    expect(page.locator("[data-notifications-unread]")).to_have_attribute(
        "data-notifications-unread", "2"
    )
    expect(page.locator(".ntf-toast")).to_have_count(2)  # not 4
    assert len(sockets) == 1

    # The public API works through the imported module.
    page.evaluate("() => window.__viaStatic.markAllRead()")
    expect(page.locator("[data-example-count]")).to_have_text("0 unread")
