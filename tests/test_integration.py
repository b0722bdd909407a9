"""Cross-process delivery: a real Daphne subprocess, real Redis, a real websocket client."""

import asyncio
import contextlib
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


# The delivery engine across processes ----------------------------------------------


def limited_daphne(redis_url, **limits):
    """A Daphne subprocess whose NOTIFICATIONS limits are ``limits`` (tests/daphne_settings.py)."""
    from tests.conftest import DaphneServer, database_url_for_children

    return DaphneServer(
        database_url_for_children(),
        redis_url,
        "tests.daphne_settings",
        extra_env={"TEST_NOTIFICATIONS": json.dumps(limits)},
    )


async def test_idle_socket_closed_at_once_when_the_password_changes_elsewhere(daphne, alice):
    """Issue 14.2 / AUTH-07: no frame from the client, no timer: the user's save closes it."""
    async with await open_socket(daphne, alice) as ws:
        await next_frame(ws)

        @sync_to_async
        def change_password():
            alice.set_password("changed elsewhere")
            alice.save()

        started = asyncio.get_running_loop().time()
        await change_password()
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await next_frame(ws, wait=5)
        assert closed.value.rcvd.code == 4401
        assert asyncio.get_running_loop().time() - started < 3


async def test_burst_in_one_transaction_reaches_the_socket_as_frames_then_one_resync(
    alice, redis_layer, transactional_db
):
    """Issue 14.6: 10 000 in one transaction, one socket: nothing silently lost, memory bounded.

    The socket gets frames up to its unacknowledged window (MAX_UNACKED_BYTES),
    in cursor order, then one resync frame; everything is in the database for
    the recovery the resync asks for.
    """
    from notifications.models import Notification

    server = await sync_to_async(limited_daphne)(redis_layer, MAX_UNACKED_BYTES=64 * 1024)
    try:
        async with await open_socket(server, alice) as ws:
            await next_frame(ws)

            @sync_to_async
            def burst():
                with transaction.atomic():
                    Notification.objects.bulk_create(
                        Notification(recipient=alice, message=f"burst {i}") for i in range(10_000)
                    )

            await burst()
            frames = []
            while True:
                frame = await next_frame(ws, wait=15)
                frames.append(frame)
                if frame["type"] == "resync":
                    break
            cursors = [f["notification"]["cursor"] for f in frames[:-1]]
            assert cursors == list(range(1, len(cursors) + 1))
            assert 50 < len(cursors) < 10_000
            assert sum(len(json.dumps(f)) for f in frames) < 80 * 1024
            # The recovery: everything after the last pushed cursor is there.
            await ws.send(json.dumps({"action": "ack", "frames": 1 + len(frames)}))
            await ws.send(json.dumps({"action": "sync", "after": cursors[-1]}))
            while (page := await next_frame(ws))["type"] != "sync":
                # Once acknowledged, pushes resume (later chunks of the same
                # burst), again up to the window and another resync.
                assert page["type"] == "resync" or page["notification"]["cursor"] > cursors[-1]
            assert page["complete"] is False
            assert page["notifications"][0]["cursor"] == cursors[-1] + 1
            assert page["cursor"] == 10_000
        assert "fell behind" in server.output()
    finally:
        await sync_to_async(server.stop)()


async def test_reader_that_never_reads_is_closed_4408(alice, redis_layer, transactional_db):
    """Issue 14.6 / LOAD-03: a client that keeps sending but never reads nor acks is cut."""
    server = await sync_to_async(limited_daphne)(
        redis_layer, MAX_UNACKED_BYTES=16 * 1024, ACK_TIMEOUT_SECONDS=1
    )
    try:
        cookie = await sync_to_async(session_cookie)(alice)
        ws = await websockets.connect(
            server.ws_url,
            additional_headers={"Cookie": cookie, "Origin": server.url},
            max_queue=None,
        )
        await next_frame(ws)
        for i in range(200):
            await sync_to_async(notifications.send)(alice, f"unread {i}")
        # It keeps pinging (so Daphne's own ping timeout never fires), never acks,
        # and looks at nothing it received until the server gives up on it.
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            for _ in range(50):
                await ws.send(json.dumps({"action": "ping"}))
                await asyncio.sleep(0.1)
        received = []
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                received.append(await next_frame(ws, wait=10))
        assert closed.value.rcvd.code == 4408
        pushes = [f for f in received if f["type"] != "pong"]
        assert pushes[-1]["type"] == "resync"
        assert len(pushes) < 200
        assert "did not acknowledge a resync" in server.output()
    finally:
        await sync_to_async(server.stop)()


async def test_embedded_default_delivers_a_send_from_another_process(alice, transactional_db):
    """Issue 8: no REDIS_URL: the server finds a send made by another process in the database."""
    from tests.conftest import DaphneServer, database_url_for_children

    server = await sync_to_async(DaphneServer)(
        database_url_for_children(), "", extra_env={"REDIS_URL": ""}
    )
    try:
        async with await open_socket(server, alice) as ws:
            await next_frame(ws)
            started = asyncio.get_running_loop().time()
            [n] = await sync_to_async(notifications.send)(alice, "from the shell")
            frame = await next_frame(ws, wait=10)
            elapsed = asyncio.get_running_loop().time() - started
            assert frame["notification"]["id"] == n.pk
            assert elapsed < 3, f"took {elapsed:.1f} s (LOCAL_POLL_SECONDS is 1)"
    finally:
        await sync_to_async(server.stop)()


async def test_two_daphne_workers_behind_one_port_each_socket_gets_each_frame_once_in_order(
    alice, make_user, redis_layer, transactional_db
):
    """Several processes: manage.py daphne_workers -w 2; a send reaches sockets of both."""
    import os
    import subprocess
    import sys

    import redis as redis_py

    from notifications import delivery
    from tests.conftest import ROOT, database_url_for_children, free_port, terminate, wait_for_port

    users = [await sync_to_async(make_user)() for _ in range(12)]
    port = free_port()
    log = open(ROOT / f".daphne-{port}.log", "w+b")  # noqa: SIM115, ASYNC230
    process = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "manage.py", "daphne_workers", "-w", "2", "-p", str(port)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url_for_children(), "REDIS_URL": redis_layer},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def output():
        log.seek(0)
        return log.read().decode(errors="replace")

    try:
        await asyncio.to_thread(wait_for_port, process, port, 30, output)

        class Server:
            url = f"http://127.0.0.1:{port}"
            ws_url = f"ws://127.0.0.1:{port}/ws/notifications/"

        sockets = {}
        for user in [alice, alice, alice, *users]:
            ws = await open_socket(Server, user)
            await next_frame(ws)
            sockets.setdefault(user.pk, []).append(ws)
        # Both workers serve some of them (the kernel spreads connections).
        prefix = os.environ["CHANNEL_LAYER_PREFIX"]
        client = redis_py.Redis.from_url(redis_layer)
        ours = {delivery.user_key(u.pk) for u in [alice, *users]}
        serving = []  # Earlier tests' servers may still be listed until their entries expire.
        for instance in client.zrange(f"{prefix}:notifications:instances", 0, -1):
            members = client.smembers(f"{prefix}:notifications:presence:{instance.decode()}")
            if {m.decode() for m in members} & ours:
                serving.append(instance)
        assert len(serving) == 2, output()

        for i in range(5):
            await sync_to_async(notifications.send)(alice, f"in order {i}")
        everyone = type(alice).objects.filter(pk__in=[u.pk for u in users])
        await sync_to_async(notifications.send)(everyone, "to both workers")
        for ws in sockets[alice.pk]:
            got = [(await next_frame(ws))["notification"]["message"] for _ in range(5)]
            assert got == [f"in order {i}" for i in range(5)]
        for user in users:
            [ws] = sockets[user.pk]
            assert (await next_frame(ws))["notification"]["message"] == "to both workers"
        # Exactly once: nothing more arrives anywhere.
        for wss in sockets.values():
            for ws in wss:
                with pytest.raises(TimeoutError):
                    await next_frame(ws, wait=0.3)
                await ws.close()
    finally:
        await asyncio.to_thread(terminate, process)
        log.close()


# Reliability plan: AUTH-10, WS-13, TLS ----------------------------------------------


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_forged_x_forwarded_for_gains_nothing_behind_proxy_headers(
    alice, redis_layer, transactional_db
):
    """AUTH-10: the per-user cap is keyed on the user, not on the address a client claims."""
    from tests.conftest import DaphneServer, database_url_for_children

    server = await sync_to_async(DaphneServer)(
        database_url_for_children(),
        redis_layer,
        "tests.daphne_settings",
        extra_env={"TEST_NOTIFICATIONS": json.dumps({"MAX_SOCKETS_PER_USER": 2})},
        extra_args=("--proxy-headers",),
    )
    try:
        cookie = await sync_to_async(session_cookie)(alice)

        async def connect_as(address):
            headers = {"Cookie": cookie, "Origin": server.url, "X-Forwarded-For": address}
            return await websockets.connect(server.ws_url, additional_headers=headers)

        first, second = await connect_as("6.6.6.1"), await connect_as("6.6.6.2")
        for ws in (first, second):
            assert (await next_frame(ws))["type"] == "state"
        third = await connect_as("6.6.6.3")
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                await next_frame(third)
        assert closed.value.rcvd.code == 4409
        for ws in (first, second):
            await ws.send(json.dumps({"action": "ping"}))
            assert (await next_frame(ws))["type"] == "pong"
            await ws.close()
    finally:
        await sync_to_async(server.stop)()


@pytest.mark.parametrize(
    ("frame", "count", "budget_mib"),
    [
        pytest.param(json.dumps({"action": "ping"}), 10_000, 20, id="WS-12-small"),
        pytest.param("x" * 65_000, 400, 50, id="WS-13-large"),
    ],
)
async def test_flood_is_closed_4429_and_rss_stays_bounded(
    daphne, alice, bob, frame, count, budget_mib
):
    """WS-12/WS-13: a flood as fast as the client can send (baseline: +386 MiB at 1 MB frames).

    The receive path is O(1) (a frame over ``MAX_FRAME_BYTES`` gets ``too_large``
    unparsed) and the rate limit closes the socket 4429; Daphne's RSS grows by
    less than the budget, and another user's push still arrives within 1 s.
    """
    async with await open_socket(daphne, bob) as other:
        await next_frame(other)
        before = rss_mib(daphne.process.pid)
        abuser = await open_socket(daphne, alice)
        await next_frame(abuser)
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            for _ in range(count):
                await abuser.send(frame)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                await next_frame(abuser)
        if closed.value.rcvd is not None:
            assert closed.value.rcvd.code == 4429
        else:
            # Closed while the client still had 64 KiB frames in flight: the kernel
            # resets a socket closed with unread data, and the close frame is lost
            # on the way. The server's log says why it closed it.
            why = f"user {alice.pk} closed 4429 after exceeding the rate limit"
            for _ in range(50):
                if why in daphne.output():
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"no 4429 close in the log:\n{daphne.output()}")
        started = asyncio.get_running_loop().time()
        [n] = await sync_to_async(notifications.send)(bob, "unaffected")
        assert (await next_frame(other))["notification"]["id"] == n.pk
        assert asyncio.get_running_loop().time() - started < 1
        growth = rss_mib(daphne.process.pid) - before
        assert growth < budget_mib, f"RSS grew by {growth:.0f} MiB"


@pytest.fixture
def self_signed_certificate(tmp_path):
    """A key and a certificate for 127.0.0.1 made now (the ``cryptography`` package)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


async def test_daphne_serves_wss_with_a_certificate(
    alice, redis_layer, transactional_db, self_signed_certificate
):
    """README, Deploy: Daphne's own TLS endpoint (``-e ssl:...``) serves ``wss://``.

    Daphne puts no scheme in websocket scopes, so the page's ``https://`` origin
    must be listed in ``CSRF_TRUSTED_ORIGINS``; without it the handshake is 403.
    """
    import ssl
    import urllib.request

    from tests.conftest import DaphneServer, database_url_for_children, free_port

    key_path, cert_path = self_signed_certificate
    port = free_port()
    origin = f"https://127.0.0.1:{port}"

    def start(trusted):
        return DaphneServer(
            database_url_for_children(),
            redis_layer,
            "tests.daphne_settings",
            extra_env={"TEST_CSRF_TRUSTED_ORIGINS": json.dumps(trusted)},
            endpoint=f"ssl:port={port}:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}",
            port=port,
        )

    context = ssl.create_default_context(cafile=str(cert_path))
    cookie = await sync_to_async(session_cookie)(alice)
    headers = {"Cookie": cookie, "Origin": origin}
    server = await sync_to_async(start)([origin])
    try:
        assert server.ws_url.startswith("wss://")

        def get_page():
            request = urllib.request.Request(f"{origin}/", headers={"Cookie": cookie})
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return response.status

        assert await asyncio.to_thread(get_page) == 200
        async with websockets.connect(
            server.ws_url, additional_headers=headers, ssl=context, open_timeout=10
        ) as ws:
            assert (await next_frame(ws))["type"] == "state"
            [n] = await sync_to_async(notifications.send)(alice, "over TLS")
            assert (await next_frame(ws))["notification"]["id"] == n.pk
    finally:
        await sync_to_async(server.stop)()

    server = await sync_to_async(start)([])
    try:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await websockets.connect(server.ws_url, additional_headers=headers, ssl=context)
        assert refused.value.response.status_code == 403
    finally:
        await sync_to_async(server.stop)()


# Raw frames: what a browser never sends (WS-09, WS-10, WS-11, LIFE-03) ------------


class RawSocket:
    """A websocket client that sends exactly the bytes a test gives, broken or not."""

    def __init__(self, server, cookie: str) -> None:
        import base64
        import os
        import socket

        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/notifications/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {server.url}\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    @staticmethod
    def frame(opcode, payload: bytes, *, fin=True, rsv=0, mask=True) -> bytes:
        import os
        import struct

        first = (0x80 if fin else 0) | (rsv << 4) | opcode
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", first, (0x80 if mask else 0) | length)
        elif length < 65536:
            header = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, length)
        else:
            header = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, length)
        if not mask:
            return header + payload
        key = os.urandom(4)
        return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, count: int) -> bytes | None:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def next_frame(self) -> tuple[int, bytes] | None:
        """The next ``(opcode, payload)`` from the server (never masked), or None at EOF."""
        import struct

        try:
            head = self._read(2)
            if head is None:
                return None
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
        except ConnectionResetError:
            return None
        return (head[0] & 0x0F, payload) if payload is not None else None

    def frames_until_eof(self) -> list[tuple[int, bytes]]:
        frames = []
        while (frame := self.next_frame()) is not None:
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close()


PING = b'{"action": "ping"}'


@pytest.mark.parametrize(
    "violation",
    [
        pytest.param(RawSocket.frame(0x1, b"\xff\xfe\xfd"), id="invalid-utf8"),
        pytest.param(RawSocket.frame(0x1, PING, mask=False), id="unmasked"),
        pytest.param(RawSocket.frame(0x1, PING, rsv=1), id="rsv1"),
        pytest.param(RawSocket.frame(0x3, PING), id="reserved-opcode"),
        pytest.param(RawSocket.frame(0x9, b"ping", fin=False), id="fragmented-ping"),
    ],
)
async def test_protocol_violation_fails_the_connection_and_reaches_no_consumer(
    daphne, alice, violation
):
    """WS-10: the connection is failed (close 1002/1007 or a TCP drop), never 1011.

    The frame never reaches the consumer: no ``pong`` or ``error`` frame comes
    back, and another socket of the same user keeps working.
    """
    cookie = await sync_to_async(session_cookie)(alice)
    raw = await asyncio.to_thread(RawSocket, daphne, cookie)
    try:
        _, payload = await asyncio.to_thread(raw.next_frame)
        assert json.loads(payload)["type"] == "state"
        raw.send(violation)
        frames = await asyncio.to_thread(raw.frames_until_eof)
    finally:
        raw.close()
    assert all(opcode == 0x8 for opcode, _ in frames), frames  # close frames only
    codes = {int.from_bytes(payload[:2], "big") for _, payload in frames if payload}
    assert codes <= {1002, 1007}, codes
    async with await open_socket(daphne, alice) as ws:
        await next_frame(ws)
        await ws.send(json.dumps({"action": "ping"}))
        assert (await next_frame(ws))["type"] == "pong"
    assert "Traceback" not in daphne.output()


async def test_message_over_the_cap_in_small_fragments_is_dropped(daphne, alice):
    """WS-09: 65 537 bytes in 1 KiB fragments, each far below the cap, drop the connection."""
    cookie = await sync_to_async(session_cookie)(alice)
    raw = await asyncio.to_thread(RawSocket, daphne, cookie)
    try:
        await asyncio.to_thread(raw.next_frame)
        chunk, total = b"x" * 1024, 0
        with contextlib.suppress(OSError):
            raw.send(RawSocket.frame(0x1, chunk, fin=False))
            total += len(chunk)
            while total < 65_537:
                part = chunk[: 65_537 - total]
                total += len(part)
                raw.send(RawSocket.frame(0x0, part, fin=total >= 65_537))
        frames = await asyncio.to_thread(raw.frames_until_eof)
    finally:
        raw.close()
    assert all(opcode == 0x8 for opcode, _ in frames), frames  # never a too_large error frame
    assert "Traceback" not in daphne.output()


async def test_header_with_a_vertical_tab_is_400(daphne):
    """WS-11 (CVE-2026-44546): Daphne >= 4.2.2 answers 400 to a ``\\x0b`` in a header value."""
    import socket

    from notifications.checks import MIN_DAPHNE, installed_version

    assert installed_version("daphne") >= MIN_DAPHNE

    def request():
        with socket.create_connection(("127.0.0.1", daphne.port), timeout=10) as sock:
            sock.sendall(
                f"GET /ws/notifications/ HTTP/1.1\r\nHost: 127.0.0.1:{daphne.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {daphne.url}\r\nX-Smuggled: a\x0bb\r\n\r\n".encode()
            )
            return sock.recv(4096)

    response = await asyncio.to_thread(request)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]


async def test_client_that_stops_answering_is_dropped_after_ping_timeout(
    alice, redis_layer, transactional_db
):
    """LIFE-03: no pong, no data: dropped within ping_interval + ping_timeout + 2 s.

    The consumer's disconnect runs: the user is no longer present in Redis.
    """
    from notifications import delivery
    from tests.conftest import DaphneServer, database_url_for_children

    server = await sync_to_async(DaphneServer)(
        database_url_for_children(),
        redis_layer,
        extra_args=("--ping-interval", "1", "--ping-timeout", "1"),
    )
    try:
        cookie = await sync_to_async(session_cookie)(alice)
        raw = await asyncio.to_thread(RawSocket, server, cookie)
        try:
            await asyncio.to_thread(raw.next_frame)  # state
            key = delivery.user_key(alice.pk)
            assert await asyncio.to_thread(delivery.online, [key]) == {key}
            started = asyncio.get_running_loop().time()
            frames = await asyncio.to_thread(raw.frames_until_eof)  # read, never answer
            elapsed = asyncio.get_running_loop().time() - started
        finally:
            raw.close()
        assert any(opcode == 0x9 for opcode, _ in frames)  # it was pinged
        assert elapsed < 1 + 1 + 2, f"dropped after {elapsed:.1f} s"
        for _ in range(50):  # Redis is polled: the server's own state, not ours to await
            if not await asyncio.to_thread(delivery.online, [key]):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"still present in Redis after the drop:\n{server.output()}")
    finally:
        await sync_to_async(server.stop)()


async def test_autobahn_quick_set_has_no_failure_beyond_daphnes_known_ones():
    """WS-14: kosoku's Autobahn cases but 9.* (sizes), 12.* and 13.* (deflate), ~6 s.

    ``bench/compliance.py`` runs all 517 (30 known failures, about 30 s).
    """
    import subprocess
    import sys

    from tests.conftest import ROOT

    pytest.importorskip("kosoku")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "bench/compliance.py", "-x", "9.*", "-x", "12.*", "-x", "13.*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new" in result.stdout
