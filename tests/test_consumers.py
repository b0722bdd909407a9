"""The websocket consumer through the project's full ASGI stack."""

import json
import sys

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

import notifications
from tests.conftest import connected

# Python < 3.13 raises RecursionError for a 2000-deep array; 3.13 parses it (not an object).
DEEP_ARRAY_CODE = "invalid_json" if sys.version_info < (3, 13) else "invalid_message"

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

send = sync_to_async(notifications.send)


async def handshake(communicator):
    accepted, _ = await communicator.connect(timeout=5)
    assert accepted
    state = await communicator.receive_json_from(timeout=5)
    assert state["type"] == "state"
    return state


async def test_connect_sends_state(alice):
    await send(alice, "one")
    await send(alice, "two")
    async with connected(alice) as ws:
        assert await handshake(ws) == {"type": "state", "cursor": 2, "unread_count": 2}


async def test_anonymous_socket_is_closed_4401():
    async with connected(None) as ws:
        accepted, _ = await ws.connect(timeout=5)
        assert accepted  # Accepted only to tell the browser why: 4401.
        assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_new_notification_reaches_every_socket_of_recipient_only(alice, bob):
    async with connected(alice) as a1, connected(alice) as a2, connected(bob) as b1:
        for ws in (a1, a2, b1):
            await handshake(ws)
        [n] = await send(alice, "for alice", title="Hi")
        for ws in (a1, a2):
            frame = await ws.receive_json_from(timeout=5)
            assert frame["type"] == "notification.created"
            assert frame["notification"]["id"] == n.pk
            assert frame["notification"]["title"] == "Hi"
            assert frame["unread_count"] == 1
        assert await b1.receive_nothing(timeout=0.3)
        await send(bob, "for bob")
        frame = await b1.receive_json_from(timeout=5)
        assert frame["notification"]["message"] == "for bob"
        assert await a1.receive_nothing(timeout=0.3)


async def test_ping_answers_with_cursor_and_unread(alice):
    async with connected(alice) as ws:
        await handshake(ws)
        await send(alice, "x")
        await ws.receive_json_from(timeout=5)
        await ws.send_json_to({"action": "ping", "ref": "p1"})
        assert await ws.receive_json_from(timeout=5) == {
            "type": "pong",
            "cursor": 1,
            "unread_count": 1,
            "ref": "p1",
        }


async def test_sync_returns_missed_notifications_in_order(alice):
    for i in range(5):
        await send(alice, f"n{i}")
    async with connected(alice) as ws:
        await handshake(ws)
        await ws.send_json_to({"action": "sync", "after": 2})
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] == "sync"
        assert [n["message"] for n in frame["notifications"]] == ["n2", "n3", "n4"]
        assert [n["cursor"] for n in frame["notifications"]] == [3, 4, 5]
        assert frame["complete"] is True
        assert frame["cursor"] == 5


async def test_sync_pages_and_reports_incomplete(alice):
    for i in range(5):
        await send(alice, f"n{i}")
    async with connected(alice) as ws:
        await handshake(ws)
        await ws.send_json_to({"action": "sync", "after": 0, "limit": 2})
        frame = await ws.receive_json_from(timeout=5)
        assert [n["cursor"] for n in frame["notifications"]] == [1, 2]
        assert frame["complete"] is False


async def test_sync_ignores_injected_user_fields(alice, bob):
    await send(bob, "bob's secret")
    async with connected(alice) as ws:
        await handshake(ws)
        await ws.send_json_to({"action": "sync", "after": 0, "user": bob.pk})
        frame = await ws.receive_json_from(timeout=5)
        assert frame["code"] == "invalid_params"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, "too_large"),
        ("[" * 2000 + "]" * 2000, DEEP_ARRAY_CODE),
        ("null", "invalid_message"),
        ("[]", "invalid_message"),
        ("0", "invalid_message"),
        ('"x"', "invalid_message"),
        ("1e999", "invalid_message"),
        ("9" * 5000, "invalid_json"),
        ('{"action": "nope"}', "unknown_action"),
        ('{"action": ["sync"]}', "unknown_action"),
        ('{"type": "notifications.frame", "text": "spoof"}', "unknown_action"),
        ('{"type": "websocket.disconnect"}', "unknown_action"),
        ('{"action": "sync"}', "invalid_params"),
        ('{"action": "sync", "after": "1"}', "invalid_params"),
        ('{"action": "sync", "after": true}', "invalid_params"),
        ('{"action": "sync", "after": -1}', "invalid_params"),
        ('{"action": "sync", "after": 0, "limit": 100000}', "invalid_params"),
        ('{"action": "ping", "extra": 1}', "invalid_params"),
        # WS-07: a frame dressed as a server event reaches no handler.
        ('{"type": "notification.created", "notification": {"id": 1}}', "unknown_action"),
        # IDOR-01/02: the socket has no state-changing action at all (HTTP has them).
        ('{"action": "mark_read", "id": 1}', "unknown_action"),
        ('{"action": "mark_all_read"}', "unknown_action"),
    ],
)
async def test_bad_frames_get_error_and_socket_stays_open(alice, frame, code):
    with override_settings(NOTIFICATIONS={"MAX_FRAME_BYTES": 8192}):
        async with connected(alice) as ws:
            await handshake(ws)
            # send_input, not send_to: the test client refuses empty frames.
            await ws.send_input({"type": "websocket.receive", "text": frame})
            error = await ws.receive_json_from(timeout=5)
            assert error["type"] == "error"
            assert error["code"] == code
            # Still alive and still answering.
            await ws.send_json_to({"action": "ping"})
            assert (await ws.receive_json_from(timeout=5))["type"] == "pong"


async def test_binary_frame_gets_error(alice):
    async with connected(alice) as ws:
        await handshake(ws)
        await ws.send_to(bytes_data=b"\x00\x01")
        assert (await ws.receive_json_from(timeout=5))["code"] == "binary_not_supported"


async def test_spoofed_layer_event_sends_nothing_to_others(alice, bob):
    async with connected(alice) as a, connected(bob) as b:
        await handshake(a)
        await handshake(b)
        await a.send_json_to(
            {"type": "notifications.frame", "text": "x", "action": "notify", "user": bob.pk}
        )
        assert (await a.receive_json_from(timeout=5))["type"] == "error"
        assert await b.receive_nothing(timeout=0.3)


async def test_flood_is_closed_with_4429(alice):
    with override_settings(NOTIFICATIONS={"RATE_LIMIT_BURST": 5, "RATE_LIMIT_PER_SECOND": 0.001}):
        async with connected(alice) as ws:
            await handshake(ws)
            for _ in range(6):
                await ws.send_to(text_data=json.dumps({"action": "ping"}))
            outputs = [await ws.receive_output(timeout=5) for _ in range(6)]
            assert [o["type"] for o in outputs[:5]] == ["websocket.send"] * 5
            assert outputs[5] == {"type": "websocket.close", "code": 4429}


# Flow control (issue 14.6, LOAD-03) ---------------------------------------------


async def receive_all(ws, quiet=0.5):
    """Frames until none arrives for ``quiet`` seconds."""
    frames = []
    while not await ws.receive_nothing(timeout=quiet):
        frames.append(await ws.receive_json_from(timeout=5))
    return frames


async def test_unacknowledged_window_turns_into_one_resync_then_resumes_after_ack(alice):
    """Past MAX_UNACKED_BYTES the socket gets one resync and nothing more until it acks."""
    with override_settings(NOTIFICATIONS={"MAX_UNACKED_BYTES": 3000, "ACK_TIMEOUT_SECONDS": 30}):
        async with connected(alice) as ws:
            await handshake(ws)
            for i in range(20):
                await send(alice, f"n{i}")
            frames = await receive_all(ws)
            types = [f["type"] for f in frames]
            assert types[-1] == "resync" and types.count("resync") == 1, types
            assert 1 <= types.count("notification.created") < 20
            # The client catches up (over HTTP) and acknowledges all it got.
            await ws.send_json_to({"action": "ack", "frames": 1 + len(frames)})
            await send(alice, "after the ack")
            frame = await ws.receive_json_from(timeout=5)
            assert frame["notification"]["message"] == "after the ack"


async def test_socket_that_never_acknowledges_a_resync_is_closed_4408(alice, caplog):
    settings = {"MAX_UNACKED_BYTES": 1000, "ACK_TIMEOUT_SECONDS": 0.3}
    with override_settings(NOTIFICATIONS=settings), caplog.at_level("WARNING"):
        async with connected(alice) as ws:
            await handshake(ws)
            for i in range(10):
                await send(alice, f"n{i}")
            outputs = []
            while (output := await ws.receive_output(timeout=5))["type"] == "websocket.send":
                outputs.append(json.loads(output["text"]))
            assert output == {"type": "websocket.close", "code": 4408}
            assert outputs[-1]["type"] == "resync"
    [record] = [r for r in caplog.records if "did not acknowledge a resync" in r.getMessage()]
    assert "frame(s) dropped" in record.getMessage()


async def test_ack_of_frames_never_sent_is_refused(alice):
    async with connected(alice) as ws:
        await handshake(ws)
        await ws.send_json_to({"action": "ack", "frames": 99})
        assert (await ws.receive_json_from(timeout=5))["code"] == "invalid_params"
        await ws.send_json_to({"action": "ack", "frames": 1})  # The state frame.
        assert await ws.receive_nothing(timeout=0.3)


async def test_ping_may_carry_the_ack(alice):
    with override_settings(NOTIFICATIONS={"MAX_UNACKED_BYTES": 1500}):
        async with connected(alice) as ws:
            await handshake(ws)
            for i in range(3):
                await send(alice, f"n{i}")
            frames = await receive_all(ws)
            await ws.send_json_to({"action": "ping", "frames": 1 + len(frames)})
            assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
            await send(alice, "still flowing")
            frame = await ws.receive_json_from(timeout=5)
            assert frame.get("notification", {}).get("message") == "still flowing", frame


# Limits -------------------------------------------------------------------------


async def test_socket_over_the_per_user_cap_is_closed_4409_others_keep_working(alice, bob):
    """Issue 14.7 / LOAD-04: one socket more than MAX_SOCKETS_PER_USER is refused with 4409."""
    with override_settings(NOTIFICATIONS={"MAX_SOCKETS_PER_USER": 2}):
        async with (
            connected(alice) as a1,
            connected(alice) as a2,
            connected(alice) as a3,
            connected(bob) as b1,
        ):
            await handshake(a1)
            await handshake(a2)
            assert (await a3.connect(timeout=5))[0]
            assert await a3.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}
            await handshake(b1)  # The cap is per user.
            await send(alice, "still here")
            for ws in (a1, a2):
                assert (await ws.receive_json_from(timeout=5))["notification"]["message"] == (
                    "still here"
                )


async def test_flood_is_logged_once_per_socket_with_a_count(alice, caplog):
    """Issue 14.8: one WARNING per rate-limited socket, not one per frame."""
    limits = {"RATE_LIMIT_BURST": 5, "RATE_LIMIT_PER_SECOND": 0.001}
    with override_settings(NOTIFICATIONS=limits), caplog.at_level("INFO", logger="notifications"):
        async with connected(alice) as ws:
            await handshake(ws)
            for _ in range(200):
                await ws.send_to(text_data=json.dumps({"action": "ping"}))
            while (await ws.receive_output(timeout=5))["type"] != "websocket.close":
                pass
    records = [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "200 frame(s) received" in records[0].getMessage()


async def test_a_failing_handler_closes_only_its_socket_and_logs_who_not_what(
    alice, bob, monkeypatch, caplog
):
    """LIFE-05: an exception in one handler: that socket ends, the log names the user only."""
    import logging

    from notifications import consumers

    real = consumers._state

    async def failing_once(user_id):
        monkeypatch.setattr(consumers, "_state", real)
        raise RuntimeError("database went away")

    async with connected(bob) as other:
        await handshake(other)
        # The communicator re-raises the application's exception (Daphne would
        # log it and close the socket 1011), again when it is disconnected.
        with (
            caplog.at_level(logging.ERROR, logger="notifications.consumers"),
            pytest.raises(RuntimeError, match="database went away"),
        ):
            async with connected(alice) as failing:
                await handshake(failing)
                monkeypatch.setattr(consumers, "_state", failing_once)
                await failing.send_json_to({"action": "ping", "ref": "secret-payload"})
                await failing.receive_output(timeout=5)
        await other.send_json_to({"action": "ping"})
        assert (await other.receive_json_from(timeout=5))["type"] == "pong"
    [record] = [r for r in caplog.records if r.name == "notifications.consumers"]
    assert f"user {alice.pk}" in record.getMessage()
    assert "'ping'" in record.getMessage()
    assert "secret-payload" not in caplog.text


# Inbox states ---------------------------------------------------------------


async def test_archive_seen_and_pin_reach_a_second_socket(alice):
    from notifications.models import Notification

    [n] = await send(alice, "x")
    mine = Notification.objects.filter(pk=n.pk)
    async with connected(alice) as first, connected(alice) as second:
        await handshake(first)
        await handshake(second)
        for change, kind in [
            (mine.mark_seen, "notification.seen"),
            (mine.pin, "notification.pinned"),
            (mine.archive, "notification.archived"),
        ]:
            await sync_to_async(change)()
            for ws in (first, second):
                frame = await ws.receive_json_from(timeout=5)
                assert (frame["type"], frame["ids"]) == (kind, [n.pk])
        assert frame["unread_count"] == 0  # Archived: no longer counted.


async def test_a_snoozed_notification_resurfaces_live_on_an_open_socket(alice):
    import datetime

    from django.utils import timezone

    from notifications.models import Notification

    [n] = await send(alice, "later")
    async with connected(alice) as ws:
        assert (await handshake(ws))["unread_count"] == 1
        until = timezone.now() + datetime.timedelta(seconds=1)
        await sync_to_async(Notification.objects.filter(pk=n.pk).snooze)(until)
        frame = await ws.receive_json_from(timeout=5)
        assert (frame["type"], frame["unread_count"]) == ("notification.snoozed", 0)
        frame = await ws.receive_json_from(timeout=5)  # At `until`, by the socket's timer.
        assert frame["type"] == "notification.unsnoozed"
        assert (frame["notification"]["id"], frame["unread_count"]) == (n.pk, 1)
        assert timezone.now() >= until


async def test_a_socket_opened_during_a_snooze_wakes_it_too(alice):
    import datetime

    from django.utils import timezone

    from notifications.models import Notification

    [n] = await send(alice, "later")
    until = timezone.now() + datetime.timedelta(seconds=1)
    await sync_to_async(Notification.objects.filter(pk=n.pk).snooze)(until)
    async with connected(alice) as ws:
        assert (await handshake(ws))["unread_count"] == 0
        frame = await ws.receive_json_from(timeout=5)
        assert (frame["type"], frame["notification"]["id"]) == ("notification.unsnoozed", n.pk)


async def test_sync_leaves_out_expired_and_snoozed(alice):
    import datetime

    from django.utils import timezone

    await send(alice, "kept")
    await send(alice, "gone", expires_at=timezone.now() - datetime.timedelta(seconds=1))
    async with connected(alice) as ws:
        assert (await handshake(ws))["unread_count"] == 1
        await ws.send_json_to({"action": "sync", "after": 0})
        reply = await ws.receive_json_from(timeout=5)
        assert [n["message"] for n in reply["notifications"]] == ["kept"]
