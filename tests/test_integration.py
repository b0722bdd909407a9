"""Cross-process delivery: a real Daphne subprocess, real Redis, a real websocket client."""

import asyncio
import json
import threading

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection, transaction

import notifications
from tests.conftest import session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def open_socket(daphne, user, origin=None):
    cookie = await sync_to_async(session_cookie)(user) if user else None
    headers = {"Origin": origin or daphne.url}
    if cookie:
        headers["Cookie"] = cookie
    ws = await websockets.connect(daphne.ws_url, additional_headers=headers, open_timeout=10)
    return ws


async def next_frame(ws, wait=5):
    return json.loads(await asyncio.wait_for(ws.recv(), wait))


async def test_send_in_test_process_reaches_socket_served_by_daphne(daphne, alice):
    async with await open_socket(daphne, alice) as ws:
        assert (await next_frame(ws))["type"] == "state"
        [n] = await sync_to_async(notifications.send)(alice, "across processes", title="Hi")
        frame = await next_frame(ws)
        assert frame["type"] == "notification.created"
        assert frame["notification"]["id"] == n.pk
        assert frame["notification"]["message"] == "across processes"
        assert frame["unread_count"] == 1


async def test_other_user_receives_nothing_across_processes(daphne, alice, bob):
    async with await open_socket(daphne, alice) as a, await open_socket(daphne, bob) as b:
        await next_frame(a)
        await next_frame(b)
        await sync_to_async(notifications.send)(alice, "only alice")
        assert (await next_frame(a))["notification"]["message"] == "only alice"
        with pytest.raises(TimeoutError):
            await next_frame(b, wait=0.5)


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "http://127.0.0.1.evil.example", "https://127.0.0.1"],
)
async def test_foreign_origin_handshake_is_refused_with_403(daphne, alice, origin):
    with pytest.raises(websockets.exceptions.InvalidStatus) as excinfo:
        await open_socket(daphne, alice, origin=origin)
    assert excinfo.value.response.status_code == 403


async def test_anonymous_socket_is_closed_4401_by_daphne(daphne):
    async with await open_socket(daphne, None) as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosed) as excinfo:
            await next_frame(ws)
    assert excinfo.value.rcvd.code == 4401


async def test_reconnecting_client_gets_notification_committed_late(daphne, alice):
    """Out-of-order commit, end to end.

    T1 creates N1 and holds its transaction open; T2 creates N2. Whatever the
    client sees while T1 is open, the cursor it keeps lets it recover N1 after
    reconnecting once T1 has committed.
    """
    t1_created, t1_may_commit = threading.Event(), threading.Event()

    def t1():
        try:
            with transaction.atomic():
                notifications.send(alice, "N1 (committed late)")
                t1_created.set()
                t1_may_commit.wait(10)
        finally:
            connection.close()

    def t2():
        try:
            t1_created.wait(10)
            notifications.send(alice, "N2")
        finally:
            connection.close()

    async with await open_socket(daphne, alice) as ws:
        state = await next_frame(ws)
        cursor = state["cursor"]
        threads = [threading.Thread(target=t1), threading.Thread(target=t2)]
        for t in threads:
            t.start()
        await asyncio.to_thread(t1_created.wait, 10)
        # Client sees whatever has been committed so far and keeps its cursor.
        await ws.send(json.dumps({"action": "ping"}))
        pong = await next_frame(ws)
        assert pong["type"] == "pong"
        cursor = max(cursor, pong["cursor"])
    # Client is offline while both transactions finish.
    t1_may_commit.set()
    for t in threads:
        await asyncio.to_thread(t.join, 20)

    async with await open_socket(daphne, alice) as ws:
        await next_frame(ws)
        await ws.send(json.dumps({"action": "sync", "after": cursor}))
        frame = await next_frame(ws)
        messages = [n["message"] for n in frame["notifications"]]
        assert messages == ["N1 (committed late)", "N2"]
        assert frame["complete"] is True


async def test_frame_over_daphne_cap_drops_only_that_connection(daphne, alice):
    """WS-08: one byte over --websocket-max-message-size (64 KiB) drops the sender only."""
    async with await open_socket(daphne, alice) as abuser, await open_socket(daphne, alice) as ok:
        await next_frame(abuser)
        await next_frame(ok)
        await abuser.send("x" * (65536 + 1))
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await next_frame(abuser)
        await ok.send(json.dumps({"action": "ping"}))
        assert (await next_frame(ok))["type"] == "pong"
        [n] = await sync_to_async(notifications.send)(alice, "still delivered")
        assert (await next_frame(ok))["notification"]["id"] == n.pk


async def test_frame_under_daphne_cap_but_over_ours_gets_error_frame(daphne, alice):
    async with await open_socket(daphne, alice) as ws:
        await next_frame(ws)
        await ws.send("x" * 10_000)
        frame = await next_frame(ws)
        assert (frame["type"], frame["code"]) == ("error", "too_large")


async def test_flood_is_closed_4429_through_daphne(daphne, alice):
    """WS-12: the rate limit's close code must be one Daphne lets an application send."""
    async with await open_socket(daphne, alice) as ws:
        await next_frame(ws)
        for _ in range(100):
            await ws.send(json.dumps({"action": "ping"}))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as excinfo:
            while True:
                await next_frame(ws)
    assert excinfo.value.rcvd.code == 4429
