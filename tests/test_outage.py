"""Redis outage (RELIABILITY RED-01..04): a private redis-server is stopped and started again."""

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.layers import channel_layers

import notifications
from notifications.models import Notification
from notifications.testing import session_cookie
from tests.conftest import (
    DaphneServer,
    database_url_for_children,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def open_socket(server, cookie):
    return await websockets.connect(
        server.ws_url, additional_headers={"Cookie": cookie, "Origin": server.url}, open_timeout=10
    )


async def next_frame(ws, wait=5):
    return json.loads(await asyncio.wait_for(ws.recv(), wait))


async def next_non_resync(ws, wait=5):
    """The next frame other than ``resync``.

    A socket opened while the server was resubscribing may get a ``resync`` (its
    state was read while pushes could not arrive): correct, and not what we wait for.
    """
    while (frame := await next_frame(ws, wait))["type"] == "resync":
        pass
    return frame


async def test_outage_closes_4503_keeps_rows_and_recovers(private_redis, alice):
    server = await sync_to_async(DaphneServer)(database_url_for_children(), private_redis.url)
    try:
        cookie = await sync_to_async(session_cookie)(alice)
        ws = await open_socket(server, cookie)
        state = await next_frame(ws)

        private_redis.stop()
        # RED-02: the socket is closed with 4503 (try again later), never 1011.
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await next_frame(ws, wait=15)
        assert closed.value.rcvd is not None, server.output()
        assert closed.value.rcvd.code == 4503, server.output()

        # RED-01: sending during the outage saves the row and raises nothing.
        [missed] = await sync_to_async(notifications.send)(alice, "sent during the outage")
        assert await Notification.objects.filter(pk=missed.pk).aexists()

        # RED-03: a handshake during the outage is refused without crashing the server.
        try:
            refused = await open_socket(server, cookie)
        except websockets.exceptions.InvalidStatus:
            pass  # An HTTP error before the handshake completes is acceptable too.
        else:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await next_frame(refused)
            assert closed.value.rcvd.code == 4503

        private_redis.start()
        channel_layers.backends = {}
        # RED-04: once Redis is back a new socket works, and the cursor it
        # gets covers what was sent during the outage.
        for _attempt in range(5):  # A pooled connection may still be stale once.
            try:
                ws = await open_socket(server, cookie)
                state_after = await next_frame(ws)
                break
            except (websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed):
                continue
        else:
            pytest.fail(f"No socket after Redis came back:\n{server.output()}")
        assert state_after["cursor"] == state["cursor"] + 1
        await ws.send(json.dumps({"action": "sync", "after": state["cursor"]}))
        frame = await next_non_resync(ws)
        assert frame["type"] == "sync", frame
        assert [n["message"] for n in frame["notifications"]] == ["sent during the outage"]
        # And live pushes flow again.
        await sync_to_async(notifications.send)(alice, "after the outage")
        assert (await next_non_resync(ws))["notification"]["message"] == "after the outage"
        await ws.close()
        assert "1011" not in server.output()
    finally:
        await sync_to_async(server.stop)()
