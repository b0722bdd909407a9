"""Redis outage (RELIABILITY RED-01..04): a private redis-server is stopped and started again."""

import asyncio
import contextlib
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


# Every client holds every notification exactly once (RED-04, RED-05, LIFE-01) --------


class Tab:
    """A Python model of the bundled client: live pushes, recovery by cursor, dedupe by id.

    It acknowledges what it receives (flow control), reconnects after any close
    with a short jittered backoff, and recovers over HTTP (``?after=<cursor>``,
    page by page until ``complete``) whenever its cursor shows a gap: after a
    ``state`` frame ahead of it, a ``resync``, or a push that skips a cursor.
    """

    def __init__(self, server, cookie: str) -> None:
        self.server, self.cookie = server, cookie
        self.held: dict[int, int] = {}  # id -> cursor: what the tab shows, once each
        self.pushed: dict[int, int] = {}  # id -> how many times it arrived as a push
        self.cursor: int | None = None  # everything at or below it is held
        self.closes: list[int | None] = []
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()  # set at each close
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        import random

        while True:
            try:
                ws = await open_socket(self.server, self.cookie)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.2 + random.random() * 0.4)
                continue
            acker = asyncio.get_running_loop().create_task(self._ack(ws))
            try:
                await self._serve(ws)  # returns after a clean close (1000, 1001)
            except websockets.exceptions.ConnectionClosed:
                pass
            finally:
                received = ws.protocol.close_rcvd
                self.closes.append(received.code if received else None)
                self.closed.set()
                self.connected.clear()
                acker.cancel()
            await asyncio.sleep(0.2 + random.random() * 0.4)

    async def _ack(self, ws) -> None:
        acked = 0
        while True:
            await asyncio.sleep(0.3)
            if self.received > acked:
                acked = self.received
                await ws.send(json.dumps({"action": "ack", "frames": acked}))

    async def _serve(self, ws) -> None:
        self.received = 0
        async for text in ws:
            self.received += 1
            frame = json.loads(text)
            if frame["type"] == "state":
                self.connected.set()
                if self.cursor is None:
                    self.cursor = frame["cursor"]
                elif frame["cursor"] > self.cursor:
                    await self._recover()
            elif frame["type"] == "resync":
                await ws.send(json.dumps({"action": "ack", "frames": self.received}))
                await self._recover()
            elif frame["type"] == "notification.created":
                n = frame["notification"]
                self.pushed[n["id"]] = self.pushed.get(n["id"], 0) + 1
                self.held[n["id"]] = n["cursor"]
                if n["cursor"] == self.cursor + 1:
                    self.cursor += 1
                elif n["cursor"] > self.cursor:
                    await self._recover()

    async def _recover(self) -> None:
        import urllib.request

        def fetch(after: int) -> dict:
            request = urllib.request.Request(
                f"{self.server.url}/notifications/api/notifications/?after={after}&limit=100",
                headers={"Cookie": self.cookie},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        while True:
            page = await asyncio.to_thread(fetch, self.cursor)
            for n in page["results"]:
                self.held[n["id"]] = n["cursor"]
            if page["results"]:
                self.cursor = max(self.cursor, page["results"][-1]["cursor"])
            if page["complete"]:
                return

    async def holds(self, expected: set[int], within: float) -> None:
        """Wait until the tab holds exactly ``expected``; fail with what it holds."""
        deadline = asyncio.get_running_loop().time() + within
        while set(self.held) != expected:
            if asyncio.get_running_loop().time() > deadline:
                missing, extra = expected - set(self.held), set(self.held) - expected
                pytest.fail(f"missing {sorted(missing)}, extra {sorted(extra)}, {self.closes}")
            await asyncio.sleep(0.1)

    async def closed_with(self, code: int, within: float) -> None:
        async with asyncio.timeout(within):
            while code not in self.closes:
                self.closed.clear()
                await self.closed.wait()

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_every_tab_holds_every_notification_once_across_outage_flushall_and_restart(
    private_redis, alice, bob
):
    """The delivery contract end to end: push at most once, recovery by cursor exact.

    Alice has two tabs, Bob one, on one Daphne with a private Redis. Notifications
    are sent while everything works, while Redis is stopped, right after a
    FLUSHALL and while Daphne is down (SIGTERM, then started again); each tab
    ends up holding exactly its user's notifications, none twice, none of the
    other user's, and no notification ever arrives twice as a push.
    """
    import redis as redis_py

    server = await sync_to_async(DaphneServer)(database_url_for_children(), private_redis.url)
    send = sync_to_async(notifications.send)
    sent: dict[int, set[int]] = {alice.pk: set(), bob.pk: set()}

    async def send_some(label: str, count: int = 3) -> None:
        for i in range(count):
            for user in (alice, bob):
                [n] = await send(user, f"{label} {i}")
                sent[user.pk].add(n.pk)

    async def all_hold(within: float) -> None:
        for tab, user in tabs:
            await tab.holds(sent[user.pk], within)

    tabs = []
    try:
        for user in (alice, alice, bob):
            cookie = await sync_to_async(session_cookie)(user)
            tabs.append((Tab(server, cookie), user))
        for tab, _ in tabs:
            await asyncio.wait_for(tab.connected.wait(), 10)

        await send_some("live")
        await all_hold(within=10)

        # RED-02..04: Redis stops (sockets closed 4503), sends commit, Redis returns.
        private_redis.stop()
        await send_some("during the outage")
        for tab, _ in tabs:
            await tab.closed_with(4503, within=15)
        private_redis.start()
        await all_hold(within=40)

        # RED-05: Redis forgets everything; what is sent meanwhile is recovered.
        await sync_to_async(redis_py.Redis.from_url(private_redis.url).flushall)()
        await send_some("after flushall")
        await all_hold(within=40)

        # LIFE-01: Daphne is stopped (a deploy), sends commit, a new Daphne starts.
        await sync_to_async(server.halt)()
        await send_some("while daphne is down")
        await sync_to_async(server.start_again)()
        await all_hold(within=40)

        before = {pk for pks in sent.values() for pk in pks}
        await send_some("live again")
        await all_hold(within=10)
        for tab, user in tabs:
            assert max(tab.pushed.values()) == 1, tab.pushed  # at most once, ever
            assert sorted(tab.held.values()) == list(range(1, len(sent[user.pk]) + 1))
            live_again = sent[user.pk] - before
            assert all(tab.pushed.get(pk) == 1 for pk in live_again), tab.pushed
        assert "1011" not in server.output()
        assert "Traceback" not in server.output(), server.output()
    finally:
        for tab, _ in tabs:
            await tab.stop()
        await sync_to_async(server.stop)()


async def test_socket_at_its_maximum_age_is_closed_1000_and_the_tab_recovers(private_redis, alice):
    """DEL-08: Daphne's ``--websocket_timeout`` ends the socket; nothing sent meanwhile is lost."""
    server = await sync_to_async(DaphneServer)(
        database_url_for_children(), private_redis.url, extra_args=("--websocket_timeout", "2")
    )
    send = sync_to_async(notifications.send)
    tab = None
    try:
        tab = Tab(server, await sync_to_async(session_cookie)(alice))
        await asyncio.wait_for(tab.connected.wait(), 10)
        sent = {(await send(alice, "before the timeout"))[0].pk}
        await tab.closed_with(1000, within=10)
        sent |= {(await send(alice, f"around the reconnect {i}"))[0].pk for i in range(3)}
        await tab.holds(sent, within=15)
        assert max(tab.pushed.values()) == 1
    finally:
        if tab:
            await tab.stop()
        await sync_to_async(server.stop)()


async def test_slow_redis_delays_pushes_then_recovers_without_closing_sockets(private_redis, alice):
    """RED-06: ``CLIENT PAUSE 2000``: the push arrives late, the socket stays open, no 1011."""
    import redis as redis_py

    server = await sync_to_async(DaphneServer)(database_url_for_children(), private_redis.url)
    try:
        cookie = await sync_to_async(session_cookie)(alice)
        async with await open_socket(server, cookie) as ws:
            await next_frame(ws)
            admin = redis_py.Redis.from_url(private_redis.url)
            await sync_to_async(admin.execute_command)("CLIENT", "PAUSE", "2000")
            [late] = await sync_to_async(notifications.send)(alice, "during the pause")
            assert (await next_non_resync(ws, wait=10))["notification"]["id"] == late.pk
            started = asyncio.get_running_loop().time()
            [n] = await sync_to_async(notifications.send)(alice, "after the pause")
            assert (await next_non_resync(ws))["notification"]["id"] == n.pk
            assert asyncio.get_running_loop().time() - started < 1
        assert "1011" not in server.output()
    finally:
        await sync_to_async(server.stop)()


async def test_idle_socket_stays_open_past_redis_py_8_socket_timeout(private_redis, alice):
    """RED-07: redis-py 8 (5 s default ``socket_timeout``): idle 12 s, still open, then a push."""
    import redis as redis_py

    assert int(redis_py.__version__.split(".")[0]) >= 8  # the version that broke channels-redis
    server = await sync_to_async(DaphneServer)(database_url_for_children(), private_redis.url)
    try:
        cookie = await sync_to_async(session_cookie)(alice)
        async with await open_socket(server, cookie) as ws:
            await next_frame(ws)
            with pytest.raises(TimeoutError):
                await next_frame(ws, wait=12)  # idle: nothing arrives, nothing closes
            [n] = await sync_to_async(notifications.send)(alice, "after 12 s idle")
            assert (await next_frame(ws))["notification"]["id"] == n.pk
        assert "1011" not in server.output()
    finally:
        await sync_to_async(server.stop)()
