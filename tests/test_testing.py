"""notifications.testing: the helpers projects use in their own tests."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

import notifications
from notifications.testing import (
    assert_not_notified,
    assert_notified,
    capture_notifications,
    communicator,
)


class Boom(Exception):
    pass


def test_outbox_captures_sends_in_a_test_transaction(alice, bob):
    with capture_notifications() as outbox:
        notifications.send([alice, bob], "Standup", title="Meeting")
        notifications.success(alice, "Saved")
    assert [(n.recipient_id, n.message) for n in outbox] == [
        (alice.pk, "Standup"),
        (bob.pk, "Standup"),
        (alice.pk, "Saved"),
    ]
    assert [n.message for n in outbox.to(alice)] == ["Standup", "Saved"]
    assert all(n.pk and n.cursor for n in outbox)


def test_outbox_skips_rolled_back_sends(alice):
    with capture_notifications() as outbox:
        with pytest.raises(Boom), transaction.atomic():
            notifications.send(alice, "Never committed")
            raise Boom
        notifications.send(alice, "Committed")
    assert [n.message for n in outbox] == ["Committed"]


def test_outbox_ignores_sends_outside_the_block(alice):
    with capture_notifications() as outbox:
        pass
    notifications.send(alice, "Later")
    assert outbox == []


@pytest.mark.django_db(transaction=True)
def test_outbox_fills_at_commit_in_transactional_tests(make_user):
    alice = make_user("alice")
    with capture_notifications() as outbox:
        notifications.send(alice, "Autocommit")
        assert [n.message for n in outbox] == ["Autocommit"]
        with transaction.atomic():
            notifications.send(alice, "In a transaction")
            assert len(outbox) == 1  # Not sent until it commits...
        assert [n.message for n in outbox] == ["Autocommit", "In a transaction"]  # ...once.


def test_assert_notified_returns_the_newest_match(alice):
    notifications.send(alice, "First", category="exports")
    second = notifications.success(alice, "Export ready", category="exports")[0]
    assert assert_notified(alice, category="exports") == second
    assert assert_notified(alice, level="success", message__contains="ready") == second


def test_assert_notified_fails_with_what_the_user_got(alice, bob):
    notifications.send(alice, "Something else", title="Other")
    notifications.send(bob, "Export ready", title="Export")
    with pytest.raises(AssertionError) as excinfo:
        assert_notified(alice, title="Export")
    assert "alice was not notified with {'title': 'Export'}" in str(excinfo.value)
    assert "title='Other' message='Something else'" in str(excinfo.value)
    assert "Export ready" not in str(excinfo.value)


def test_assert_not_notified(alice, bob):
    assert_not_notified(alice)
    notifications.warning(alice, "Disk full")
    assert_not_notified(alice, level="error")
    assert_not_notified(bob)
    with pytest.raises(AssertionError, match="Disk full"):
        assert_not_notified(alice, level="warning")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_communicator_opens_a_logged_in_socket(make_user):
    alice = await database_sync_to_async(make_user)("alice")
    socket = await communicator(alice)
    try:
        connected, _ = await socket.connect(timeout=5)
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "state"
        await database_sync_to_async(notifications.send)(alice, "Over the socket")
        frame = await socket.receive_json_from(timeout=5)
        assert frame["type"] == "notification.created"
        assert frame["notification"]["message"] == "Over the socket"
    finally:
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_communicator_for_an_anonymous_visitor_is_closed_4401():
    socket = await communicator(None)
    try:
        await socket.connect(timeout=5)
        assert (await socket.receive_output(timeout=5))["code"] == 4401
    finally:
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_communicator_goes_through_the_origin_check(make_user):
    alice = await database_sync_to_async(make_user)("alice")
    socket = await communicator(alice, origin="https://evil.example")
    try:
        connected, _ = await socket.connect(timeout=5)
        assert not connected
    finally:
        await socket.disconnect()
