"""Helpers for testing a project that sends notifications.

Capture what was sent, like ``django.core.mail.outbox``::

    from notifications.testing import assert_notified, capture_notifications

    def test_export_notifies_the_owner(client, alice):
        with capture_notifications() as outbox:
            client.post("/exports/", {"owner": alice.pk})
        assert [n.title for n in outbox] == ["Export"]
        assert_notified(alice, title="Export", level="success")

Open a logged-in socket through the project's own ``ASGI_APPLICATION``::

    from notifications.testing import communicator

    @pytest.mark.django_db(transaction=True)
    @pytest.mark.asyncio
    async def test_socket(alice):
        socket = await communicator(alice)
        connected, _ = await socket.connect()
        assert (await socket.receive_json_from())["type"] == "state"
        await socket.disconnect()
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, connections

from .signals import notification_created

if TYPE_CHECKING:
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AbstractBaseUser

    from .models import Notification


class Outbox(list):
    """The notifications sent (committed and pushed) while capturing, in order."""

    def to(self, user: Any) -> list[Notification]:
        """Return the captured notifications whose recipient is ``user``."""
        return [n for n in self if n.recipient_id == getattr(user, "pk", user)]

    def _receive(self, sender: Any, notification: Notification, **kwargs: Any) -> None:
        self.append(notification)


@contextlib.contextmanager
def capture_notifications(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[Outbox]:
    """Collect every notification sent inside the block into the yielded list.

    A notification counts as sent when it is committed: that is when it is
    pushed and ``notification_created`` fires. Inside a test's transaction
    (Django's ``TestCase``, pytest-django's ``db``) nothing ever commits, so on
    leaving the block the commit callbacks registered inside it are run, as
    ``TestCase.captureOnCommitCallbacks(execute=True)`` does: assert after the
    block. In transactional tests the list fills as soon as each send commits.
    """
    outbox = Outbox()
    uid = f"notifications.testing.{id(outbox)}"
    notification_created.connect(outbox._receive, weak=False, dispatch_uid=uid)
    connection = connections[using]
    start = len(connection.run_on_commit)
    try:
        yield outbox
        if _in_test_transaction(connection):
            _run_on_commit_callbacks(connection, start)
    finally:
        notification_created.disconnect(dispatch_uid=uid)


def _in_test_transaction(connection: Any) -> bool:
    # Only the test case's own atomic blocks are open: they never commit, so
    # the callbacks would otherwise never run. In any other open transaction
    # they will run at its commit, and running them here would push twice.
    blocks = connection.atomic_blocks
    return bool(blocks) and all(getattr(block, "_from_testcase", False) for block in blocks)


def _run_on_commit_callbacks(connection: Any, start: int) -> None:
    # Callbacks may register more callbacks (as Django's own helper allows).
    while start < len(connection.run_on_commit):
        end = len(connection.run_on_commit)
        for _savepoints, callback, robust in connection.run_on_commit[start:end]:
            if robust:
                with contextlib.suppress(Exception):
                    callback()
            else:
                callback()
        start = end


def assert_notified(user: AbstractBaseUser, **fields: Any) -> Notification:
    """Assert that ``user`` has a notification matching ``fields``; return the newest.

    ``fields`` are model lookups (``title="Export"``, ``message__contains="ready"``,
    ``category="exports"``); ``level`` also takes a name (``level="success"``).
    Reads the database, so it works whether or not the transaction committed.
    """
    matches = _matching(user, fields)
    found = matches.first()
    if found is None:
        got = [n.as_dict() for n in _matching(user, {})[:5]]
        lines = "\n".join(
            f"  - title={n['title']!r} message={n['message']!r} level={n['level']!r} "
            f"category={n['category']!r}"
            for n in got
        )
        raise AssertionError(
            f"{user} was not notified with {fields!r}. Their latest notifications:\n"
            + (lines or "  (none)")
        )
    return found


def assert_not_notified(user: AbstractBaseUser, **fields: Any) -> None:
    """Assert that ``user`` has no notification matching ``fields`` (any, if none given)."""
    found = _matching(user, fields).first()
    if found is not None:
        raise AssertionError(f"{user} was notified with {fields!r}: {found.as_dict()!r}")


def _matching(user: Any, fields: dict[str, Any]) -> Any:
    # Imported here: this module may be imported before the app registry is ready.
    from .api import _level
    from .models import Notification

    if isinstance(fields.get("level"), str):
        fields = {**fields, "level": _level(fields["level"])}
    return Notification.objects.for_user(user).filter(**fields).order_by("-cursor")


async def communicator(
    user: AbstractBaseUser | None,
    *,
    path: str | None = None,
    application: Any = None,
    host: str = "testserver",
    origin: str | None = None,
) -> WebsocketCommunicator:
    """Return a communicator for a socket opened by ``user``'s browser (not connected yet).

    The handshake carries what a browser would send: ``Host`` (``testserver``,
    which Django's test set-up adds to ``ALLOWED_HOSTS``), the page's
    ``Origin`` and the session cookie of a fresh login of ``user`` (``None``
    for an anonymous visitor). ``application`` defaults to the project's
    ``ASGI_APPLICATION``, so the test goes through the project's real origin
    check and auth stack. Needs a transactional database
    (``@pytest.mark.django_db(transaction=True)`` or ``TransactionTestCase``).
    ``path`` defaults to the one the browser client uses
    (``notifications.routing.socket_path()``: ``NOTIFICATIONS["SOCKET_PATH"]``
    or the route found in ``ASGI_APPLICATION``).
    Call ``await communicator.disconnect()`` at the end.
    """
    from channels.db import database_sync_to_async
    from channels.routing import get_default_application
    from channels.testing import WebsocketCommunicator

    from .routing import socket_path

    headers = [(b"host", host.encode()), (b"origin", (origin or f"http://{host}").encode())]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(
        application or get_default_application(), path or socket_path(), headers=headers
    )


def session_cookie(user: AbstractBaseUser) -> str:
    """Log ``user`` in with a new session; return the ``Cookie`` header value."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"
