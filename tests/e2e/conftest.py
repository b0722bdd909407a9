"""Browser tests: headless Debian Chromium driven by Playwright, against Daphne + Redis.

Run as their own pytest invocation (``pytest tests/e2e``): Playwright's sync
API keeps an event loop running in the test thread, which breaks
pytest-asyncio tests in the same process.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import (
    TEST_REDIS_URL,
    DaphneServer,
    database_url_for_children,
    redis_problem,
    require,
    session_cookie,
)

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make here are still plain blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        require("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    """One Daphne process with the Redis layer for the whole browser session."""
    require("Redis", redis_problem())
    with django_db_blocker.unblock():
        database_url = database_url_for_children()
    server = DaphneServer(database_url, TEST_REDIS_URL)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_for_sends(redis_layer):
    """send() from the test process must use the same Redis as Daphne."""
    return redis_layer


@pytest.fixture
def login(live_server_url, redis_for_sends):
    """Return a function that logs ``user`` into a browser context."""

    def login_context(context, user):
        name, value = session_cookie(user).split("=", 1)
        context.add_cookies([{"name": name, "value": value, "url": live_server_url}])
        return context

    return login_context


_worker = ThreadPoolExecutor(max_workers=1)


def _run_and_close(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    finally:
        connection.close()


@pytest.fixture
def in_thread():
    """Run a function in a worker thread (async_to_sync refuses Playwright's thread)."""

    def run(fn, *args, **kwargs):
        return _worker.submit(_run_and_close, fn, *args, **kwargs).result(timeout=30)

    return run


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_configure(config):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
