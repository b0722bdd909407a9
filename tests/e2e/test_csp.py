"""Nonce-only policies from django-csp 4 and from Django 6's own CSP: the bell connects.

Both libraries hand out a lazy nonce that is falsy until read; the tag must
read it, or the browser blocks the client's script and the bell says
"connecting" for ever.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

import notifications
from tests.conftest import (
    ROOT,
    TEST_REDIS_URL,
    DaphneServer,
    database_url_for_children,
    redis_problem,
    require,
    session_cookie,
)
from tests.e2e.test_client import BELL, RECORDER, TOAST


@pytest.fixture(params=["tests.e2e.settings_django_csp", "tests.e2e.settings_builtin_csp"])
def csp_server(request, transactional_db, redis_for_sends):
    if request.param.endswith("builtin_csp"):
        pytest.importorskip("django.utils.csp", reason="Django 6.0+ has a built-in CSP")
    require("Redis", redis_problem())
    server = DaphneServer(database_url_for_children(), TEST_REDIS_URL, request.param)
    try:
        yield server
    finally:
        server.stop()


def test_nonce_only_policy_lets_the_client_connect_and_toast(csp_server, context, alice, in_thread):
    name, value = session_cookie(alice).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": csp_server.url}])
    page = context.new_page()
    page.add_init_script(RECORDER)
    response = page.goto(csp_server.url + "/")
    policy = response.headers["content-security-policy"]
    # The served HTML: Chromium hides nonce values from the DOM.
    [script] = re.findall(r"<script [^>]*data-notifications-client[^>]*>", response.text())
    nonce = re.search(r'nonce="([^"]+)"', script)
    assert nonce, f"the client's script has no nonce: {script}"
    # The nonce on the script is the one in the policy, and the policy is nonce-only.
    assert f"script-src 'nonce-{nonce[1]}'" in policy, policy
    assert "'self'" not in policy.split("script-src", 1)[1].split(";", 1)[0]

    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    in_thread(notifications.send, alice, "Under a nonce-only policy", title="CSP")
    expect(page.locator(f"{TOAST} .ntf-title")).to_have_text("CSP")
    violations = page.evaluate("window.__csp")
    assert not [v for v in violations if v.startswith(("script-src", "connect-src"))], violations


def test_nonce_only_policies_pass_every_check(csp_server):
    """notifications.W101 stays silent for these policies (the browser test shows why)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**csp_server.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
