"""Delivery benchmarks: ours against a bare ``websockets`` reference in the same run.

    make bench                                # every scenario, PostgreSQL + Redis
    .venv/bin/python bench/run.py --quick     # smaller sizes, a few minutes
    .venv/bin/python bench/run.py --only fanout,paced --sizes 2000

Three servers, one at a time, on the same machine and the same data:

* ``ours``: Daphne serving ``config.asgi:application`` (``bench/server.py``
  adds a stats endpoint), the Redis transport, PostgreSQL, DEBUG off;
* ``reference``: ``bench/reference.py``, a bare ``websockets`` server doing the
  same socket job (the Python limit);
* ``stock``: a tutorial Channels consumer on channels-redis, one group per
  user and a ``group_send`` per recipient (fan-out only, for the plot);
* ``daphne``: a bare ASGI app under Daphne (connect figures only: Daphne's floor);
* ``uvicorn``: the product's application under uvicorn instead of Daphne (2 000
  sockets and up): what share of the connect cost and memory is Daphne's.

The clients are another process (``bench/clients.py``); the sender is this
one: ``notifications.send()`` for ours, one Redis ``PUBLISH`` of the same
frames for the reference. Every wait is bounded. Results go to
``bench/results/latest.json`` (and a dated copy) and ``bench/fanout.png``;
BENCHMARKS.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
os.environ["DATABASE_URL"] = PG_URL
os.environ["REDIS_URL"] = REDIS_URL
os.environ.setdefault("DATABASE_TEST_NAME", "bench_notifications")
os.environ["CHANNEL_LAYER_PREFIX"] = PREFIX = f"bench{os.getpid()}"
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

import notifications  # noqa: E402
from notifications import delivery, frames  # noqa: E402
from tests.conftest import free_port, redis_problem, terminate, wait_for_port  # noqa: E402

# tests.conftest gives test runs a prefix of their own; the servers use ours.
os.environ["CHANNEL_LAYER_PREFIX"] = PREFIX

RESULTS = ROOT / "bench" / "results"
FRAME_SIZE_HINT = 400


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# Processes -------------------------------------------------------------------------


class Server:
    """One benchmarked server process (or several behind one port)."""

    def __init__(self, kind: str, workers: int = 1, port: int | None = None) -> None:
        self.kind = kind
        self.port = port or free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws/notifications/"
        self.origin = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        # The README's recommended flags: the browser client's 25 s heartbeat
        # then keeps Daphne from pinging sockets itself.
        daphne_args = [
            "--websocket-max-message-size",
            "65536",
            "--ping-interval",
            "30",
            "--ping-timeout",
            "30",
        ]
        if kind == "reference":
            commands = [
                [
                    sys.executable,
                    str(ROOT / "bench" / "reference.py"),
                    "--port",
                    str(self.port),
                    "--redis",
                    REDIS_URL,
                    "--channel",
                    f"{PREFIX}:notifications",
                    "--sessions",
                    SESSIONS_FILE,
                ]
            ]
        elif workers > 1:
            commands = [
                [
                    sys.executable,
                    "manage.py",
                    "daphne_workers",
                    "-w",
                    str(workers),
                    "-p",
                    str(self.port),
                    "--application",
                    "bench.server:application",
                    "--",
                    *daphne_args,
                ]
            ]
        else:
            if kind == "stock":
                env["BENCH_APP"] = "stock"
            app = {"stock": "bench.server:stock", "daphne": "bench.server:floor"}.get(
                kind, "bench.server:application"
            )
            commands = [
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-e",
                    f"tcp:port={self.port}:interface=127.0.0.1:backlog=2048",
                    *daphne_args,
                    app,
                ]
            ]
        if kind == "uvicorn":
            # The same application under another ASGI server: what Daphne's share is.
            commands = [
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--backlog",
                    "2048",
                    "--ws",
                    "websockets",
                    "--ws-max-size",
                    "65536",
                    "--ws-ping-interval",
                    "30",
                    "--ws-ping-timeout",
                    "30",
                    "--lifespan",
                    "off",
                    "--no-access-log",
                    "bench.server:application",
                ]
            ]
        if kind == "reference" and workers > 1:
            # Several reference processes on one port, with SO_REUSEPORT, like daphne_workers.
            commands = [[*commands[0], "--reuse-port"] for _ in range(workers)]
        self.log = tempfile.TemporaryFile()
        self.processes = [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
            for command in commands
        ]
        self.process = self.processes[0]
        wait_for_port(self.process, self.port, 30, self.output)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stats(self, reset: bool = False, census: bool = False) -> dict:
        query = "?" + "&".join(k for k, v in (("reset", reset), ("census", census)) if v)
        url = f"http://127.0.0.1:{self.port}/__bench__/stats{query}"
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
        try:
            return json.loads(body)
        except ValueError:
            raise RuntimeError(f"{self.kind} stats: {body[:300]!r}\n{self.output()}") from None

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            terminate(process)
        self.log.close()


class Clients:
    """The client process (bench/clients.py), one command at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "clients.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, op: str, **args) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the client process died")
        return json.loads(line)

    def stop(self) -> None:
        self.process.stdin.close()
        terminate(self.process)


# Data --------------------------------------------------------------------------------


SESSIONS_FILE = str(Path(tempfile.gettempdir()) / f"bench-sessions-{os.getpid()}.json")


def database_url() -> str:
    params = connection.settings_dict
    host = params.get("HOST") or "127.0.0.1"
    user, port = params.get("USER") or "postgres", params.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


def make_users(n: int) -> tuple[list, list[str]]:
    """Create ``n`` users with one logged-in session each; return users and cookies."""
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [user_model(username=f"u{i}", password="!") for i in range(n)], batch_size=2000
    )
    users = list(user_model.objects.order_by("pk"))
    store = SessionStore()
    expire = timezone.now() + datetime.timedelta(days=1)
    sessions, cookies, keys = [], [], {}
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=expire)
        )
        cookies.append(f"sessionid={key}")
        keys[key] = delivery.user_key(user.pk)
    Session.objects.bulk_create(sessions, batch_size=2000)
    Path(SESSIONS_FILE).write_text(json.dumps(keys))
    return users, cookies


def reference_frame(pk, i: int, sent_at: float | None = None) -> str:
    """A frame the size and shape of ours, for the reference to carry."""
    data = {} if sent_at is None else {"t": sent_at}
    notification = {
        "id": 10_000_000 + i,
        "cursor": i,
        "title": "",
        "message": "bench fan-out",
        "level": "info",
        "level_number": 20,
        "url": "",
        "category": "",
        "data": data,
        "actor": None,
        "target": None,
        "created_at": timezone.now().isoformat(),
        "read": False,
        "read_at": None,
    }
    return frames.encode(frames.created(notification, 1))


def publish(entries: list[tuple[str, str, None]]) -> None:
    transport = delivery.get_transport()
    assert transport.publish(entries) == len(entries), "reference publish failed"


# Senders ---------------------------------------------------------------------------


def send_to(kind: str, users: list, message: str = "bench fan-out") -> None:
    """One broadcast to ``users``, the way each server is sent to."""
    if kind in ("ours", "uvicorn"):
        notifications.send(get_user_model().objects.filter(pk__in=[u.pk for u in users]), message)
    elif kind == "reference":
        publish(
            [(delivery.user_key(u.pk), reference_frame(u.pk, i), None) for i, u in enumerate(users)]
        )
    else:
        stock_send(users)


def stock_send(users: list) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    texts = [reference_frame(u.pk, i) for i, u in enumerate(users)]

    async def send_all():
        import asyncio

        for start in range(0, len(users), 100):
            await asyncio.gather(
                *(
                    layer.group_send(f"user_{u.pk}", {"type": "notify", "text": text})
                    for u, text in zip(
                        users[start : start + 100], texts[start : start + 100], strict=True
                    )
                )
            )

    async_to_sync(send_all)()


def send_one(kind: str, user, i: int) -> float:
    """One notification to one user, stamped with its send time; return the call's duration."""
    started = time.monotonic()
    if kind == "ours":
        notifications.send(user, "paced", data={"t": started})
    else:
        publish([(delivery.user_key(user.pk), reference_frame(user.pk, i, started), None)])
    return time.monotonic() - started


# Scenarios --------------------------------------------------------------------------


def open_all(clients: Clients, server: Server, cookies: list[str], in_flight: int = 100) -> dict:
    result = clients.call(
        "open",
        url=server.url,
        origin=server.origin,
        cookies=cookies,
        in_flight=in_flight,
        timeout=60,
    )
    if result["failed"]:
        print(f"    {result['failed']} handshakes failed: {result['failures']}", flush=True)
    return result


def _profile(server: Server, name: str) -> subprocess.Popen | None:
    """With BENCH_PROFILE=DIR, sample the server with py-spy (raw stacks) until stopped."""
    if not (folder := os.environ.get("BENCH_PROFILE")):
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    output = Path(folder) / f"{name}.txt"
    spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(spy) if spy.exists() else "py-spy",
        "record",
        "--format",
        "raw",
        "--rate",
        "250",
        "--nonblocking",
    ]
    command += ["--pid", str(server.process.pid), "--output", str(output)]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # py-spy attaches.
    return profiler


def _stop(profiler: subprocess.Popen | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)


def scenario_connect_and_fanout(kind: str, users, cookies, n: int, rounds: int) -> dict:
    """Open n sockets (connect figures, memory), then broadcast to all n ``rounds`` times."""
    server = Server(kind)
    clients = Clients()
    try:
        # The first socket pays one-time costs (the hub, imports, a database
        # connection): measure the marginal socket, the same way for every server.
        open_all(clients, server, cookies[:1])
        time.sleep(0.5)
        before = server.stats(reset=True)
        profiler = _profile(server, f"connect-{kind}-{n}")
        opened = open_all(clients, server, cookies[1:n])
        _stop(profiler)
        time.sleep(1)
        after = server.stats(reset=True)
        result = {
            "sockets": n,
            "open_s": opened["seconds"],
            "failed": opened["failed"],
            "handshake_p50_ms": opened["handshake_p50_ms"],
            "handshake_p99_ms": opened["handshake_p99_ms"],
            "cpu_ms_per_open": 1000 * (after["cpu_s"] - before["cpu_s"]) / max(1, opened["opened"]),
            "kib_per_socket": (after["rss_kib"] - before["rss_kib"]) / max(1, opened["opened"]),
            "gc_max_ms_connect": after["gc_max_ms"],
        }
        if kind == "daphne":  # The floor takes no pushes: connect figures only.
            return {**result, "fanout_s": None, "lost": 0, "frames": 0, "gc_max_ms_fanout": 0.0}
        profiler = _profile(server, f"fanout-{kind}-{n}")
        times, calls, lost = [], [], 0
        for r in range(rounds):
            clients.call("reset")
            started = time.monotonic()
            send_to(kind, users[:n], f"fan-out {r}")
            calls.append(time.monotonic() - started)
            got = clients.call("collect", per_socket=1, timeout=120)
            times.append(got["last_at"] - started if got["short"] == 0 else float("nan"))
            lost += got["lost"]
        _stop(profiler)
        stats = server.stats(reset=True)
        result.update(
            fanout_s=statistics.median(t for t in times if t == t)
            if any(t == t for t in times)
            else None,
            fanout_runs_s=times,
            # The sender's share: rows, cursors and the publish (ours), the publish alone
            # (the reference), every group_send (stock).
            send_call_s=statistics.median(calls),
            lost=lost,
            frames=n * rounds,
            gc_max_ms_fanout=stats["gc_max_ms"],
            gc_full_fanout=stats["gc_full"],
        )
        return result
    finally:
        clients.call("close")
        clients.stop()
        server.stop()


def scenario_storm(kind: str, users, cookies, n: int) -> dict:
    """n sockets open, the server restarts (a deploy): every client reconnects with its backoff.

    Meanwhile another user opens a socket every 0.5 s (does the storm lock them out?).
    """
    server = Server(kind)
    clients = Clients()
    probe = Clients()
    try:
        open_all(clients, server, cookies[:n])
        port = server.port
        server.process.send_signal(signal.SIGTERM)
        terminate(server.process)
        restarted = Server(kind, port=port)
        import threading

        probes: list[dict] = []
        stop = threading.Event()

        def probe_loop():
            while not stop.is_set():
                probes.append(
                    probe.call(
                        "open",
                        url=restarted.url,
                        origin=restarted.origin,
                        cookies=[cookies[-1]],
                        in_flight=1,
                        timeout=5,
                    )
                )
                probe.call("close")
                stop.wait(0.5)

        thread = threading.Thread(target=probe_loop)
        thread.start()
        try:
            result = clients.call(
                "storm", url=restarted.url, origin=restarted.origin, cookies=cookies[:n], timeout=60
            )
        finally:
            stop.set()
            thread.join()
        result["other_user_handshakes"] = len(probes)
        result["other_user_failed"] = sum(p["failed"] for p in probes)
        ok = [p["handshake_p50_ms"] for p in probes if p["opened"]]
        result["other_user_handshake_max_ms"] = max(ok) if ok else None
        restarted.stop()
        return result
    finally:
        clients.call("close")
        clients.stop()
        probe.stop()
        server.stop()


def scenario_abuse(users, cookies) -> dict:
    """Issue 14's attacks against ours: one user's 2 000 sockets, a reader that never reads
    while 5 000 notifications are pushed to it, a 10 000-frame flood. RSS and log lines."""
    import asyncio

    import websockets

    server = Server("ours")
    result: dict = {}
    try:
        user, cookie = users[0], cookies[0]
        headers = {"Cookie": cookie, "Origin": server.origin}

        async def many_sockets():
            semaphore = asyncio.Semaphore(100)
            codes: dict[str, int] = {}
            sockets = []

            async def one():
                async with semaphore:
                    try:
                        ws = await websockets.connect(
                            server.url, additional_headers=headers, max_queue=None
                        )
                        await asyncio.wait_for(ws.recv(), 10)
                        try:
                            await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            sockets.append(ws)
                            codes["open"] = codes.get("open", 0) + 1
                            return
                    except websockets.ConnectionClosed as exc:
                        key = str(exc.rcvd.code if exc.rcvd else 1006)
                        codes[key] = codes.get(key, 0) + 1
                    except Exception as exc:
                        codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1

            await asyncio.gather(*(one() for _ in range(2000)))
            rss = server.stats()["rss_kib"]
            await asyncio.gather(*(ws.close() for ws in sockets))
            return codes, rss

        before = server.stats()["rss_kib"]
        codes, rss = asyncio.run(many_sockets())
        result["one_user_2000_sockets"] = {
            "outcomes": codes,
            "rss_growth_mib": (rss - before) / 1024,
        }

        async def slow_reader():
            ws = await websockets.connect(server.url, additional_headers=headers, max_queue=1)
            await ws.recv()
            before = server.stats()["rss_kib"]
            started = time.monotonic()

            def send_all():
                try:
                    for i in range(5000):
                        notifications.send(user, f"unread {i}")
                finally:
                    connections.close_all()  # This thread's, before the database is dropped.

            await asyncio.to_thread(send_all)
            peak = server.stats()["rss_kib"]
            # It keeps pinging but never reads (TCP backpressure from its side).
            closed_at = None
            for _ in range(600):
                try:
                    await ws.send('{"action":"ping"}')
                except websockets.ConnectionClosed:
                    closed_at = time.monotonic() - started
                    break
                await asyncio.sleep(0.1)
            after = server.stats()["rss_kib"]
            return {
                "pushed": 5000,
                "rss_growth_mib_peak": (peak - before) / 1024,
                "rss_growth_mib_after": (after - before) / 1024,
                "closed_after_s": closed_at,
                "close_code": ws.close_code,
            }

        result["slow_reader"] = asyncio.run(slow_reader())

        async def flood():
            ws = await websockets.connect(server.url, additional_headers=headers, max_queue=None)
            await ws.recv()
            before = server.stats()["rss_kib"]
            try:
                for _ in range(10_000):
                    await ws.send('{"action":"ping"}')
            except websockets.ConnectionClosed:
                pass
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except (websockets.ConnectionClosed, TimeoutError):
                pass
            await asyncio.sleep(1)
            return {
                "close_code": ws.close_code,
                "rss_growth_mib": (server.stats()["rss_kib"] - before) / 1024,
            }

        result["flood"] = asyncio.run(flood())
        result["flood"]["rate_limit_log_lines"] = _full_output(server).count(
            "exceeding the rate limit"
        )
        return result
    finally:
        server.stop()


def _full_output(server: Server) -> str:
    server.log.seek(0)
    return server.log.read().decode(errors="replace")


def scenario_paced(kind: str, users, cookies, n: int, rate: int, seconds: float) -> dict:
    """n sockets open; ``rate`` single-user sends per second for ``seconds``: latency."""
    server = Server(kind)
    clients = Clients()
    try:
        open_all(clients, server, cookies[:n])
        clients.call("heartbeat", every=25.0)  # Like browser tabs: each pings every 25 s.
        # Warm up: the first sends open connections and prepare statements.
        for i in range(20):
            send_one(kind, users[i % n], i)
        clients.call("collect", per_socket=0, timeout=1, settle=0.5)
        clients.call("reset")
        server.stats(reset=True)
        count = int(rate * seconds)
        durations = []
        started = time.monotonic()
        order = random.Random(1).sample(range(n), k=min(n, count)) * (count // n + 1)
        for i in range(count):
            target = started + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            durations.append(send_one(kind, users[order[i]], i))
        achieved = count / (time.monotonic() - started)
        clients.call("collect", per_socket=0, timeout=1, settle=2)
        latency = clients.call("latencies")
        stats = server.stats(reset=True)
        return {
            "sockets": n,
            "rate": rate,
            "achieved_rate": achieved,
            "pushes": count,
            "received": latency["samples"],
            "lost": count - latency["samples"],
            "p50_ms": latency.get("p50_ms"),
            "p99_ms": latency.get("p99_ms"),
            "max_ms": latency.get("max_ms"),
            "send_call_p50_ms": 1000 * statistics.median(durations),
            "gc_max_ms": stats["gc_max_ms"],
        }
    finally:
        clients.call("close")
        clients.stop()
        server.stop()


def scenario_send_call(kind: str, users, cookies, samples: int) -> dict:
    """One-user send() from this (sync) process, the user online with one socket."""
    server = Server(kind)
    clients = Clients()
    try:
        open_all(clients, server, cookies[:1])
        for i in range(20):
            send_one(kind, users[0], i)
        durations = [send_one(kind, users[0], i) for i in range(samples)]
        return {
            "samples": samples,
            "p50_ms": 1000 * statistics.median(durations),
            "p99_ms": 1000 * pct(durations, 0.99),
        }
    finally:
        clients.call("close")
        clients.stop()
        server.stop()


def scenario_two_processes(kind: str, users, cookies, n: int, rounds: int) -> dict:
    """Two server processes behind one port; a broadcast reaches both, each socket once."""
    server = Server(kind, workers=2)
    clients = Clients()
    try:
        open_all(clients, server, cookies[:n])
        times, lost, extra = [], 0, 0
        for r in range(rounds):
            clients.call("reset")
            started = time.monotonic()
            send_to(kind, users[:n], f"two {r}")
            got = clients.call("collect", per_socket=1, timeout=120, settle=0.5)
            times.append(got["last_at"] - started)
            lost += got["lost"]
            extra += got["extra"]
        return {"sockets": n, "fanout_s": statistics.median(times), "lost": lost, "extra": extra}
    finally:
        clients.call("close")
        clients.stop()
        server.stop()


def scenario_admin_broadcast(users, cookies, n: int, rounds: int) -> dict:
    """The admin compose page, "send to everyone", with all n users online."""
    from django.test import Client

    admin = get_user_model().objects.create_superuser("benchadmin", password="x")
    browser = Client()
    browser.force_login(admin)
    server = Server("ours")
    clients = Clients()
    try:
        opened = open_all(clients, server, cookies[:n], in_flight=200)
        times, lost = [], 0
        for r in range(rounds):
            clients.call("reset")
            started = time.monotonic()
            response = browser.post(
                "/admin/notifications/notification/send/",
                {
                    "title": f"Maintenance {r}",
                    "message": "Down at 6",
                    "level": "20",
                    "url": "",
                    "category": "ops",
                    "audience": "everyone",
                    "_send": "1",
                },
            )
            posted = time.monotonic() - started
            assert response.status_code == 302, response.content[:500]
            got = clients.call("collect", per_socket=1, timeout=120)
            times.append((got["last_at"] - started, posted))
            lost += got["lost"]
        return {
            "users": get_user_model().objects.filter(is_active=True).count(),
            "online": opened["opened"],
            "all_received_s": statistics.median(t for t, _ in times),
            "post_s": statistics.median(p for _, p in times),
            "runs_s": [t for t, _ in times],
            "lost": lost,
        }
    finally:
        clients.call("close")
        clients.stop()
        server.stop()


# Main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer rounds")
    parser.add_argument("--only", default="", help="comma-separated scenarios")
    parser.add_argument("--sizes", default="", help="fan-out sizes, e.g. 500,1000,2000,5000")
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument(
        "--servers",
        default="ours,reference,stock,daphne,uvicorn",
        help="fan-out servers (uvicorn runs from 2 000 sockets up)",
    )
    args = parser.parse_args()

    if problem := redis_problem(REDIS_URL):
        sys.exit(f"bench needs Redis: {problem}")
    if connection.vendor != "postgresql":
        sys.exit(
            "bench runs on PostgreSQL: set DATABASE_URL (default postgres://...@127.0.0.1/test)"
        )
    quick = args.quick
    sizes = [int(s) for s in args.sizes.split(",") if s] or (
        [500, 2000] if quick else [500, 1000, 2000, 5000]
    )
    rounds = args.rounds or (3 if quick else 5)
    only = set(filter(None, args.only.split(","))) or {
        "fanout",
        "abuse",
        "storm",
        "paced",
        "send",
        "two",
        "admin",
    }
    admin_users = 2000 if quick else 10_000
    total = max(max(sizes), admin_users if "admin" in only else 0, 5001)

    old = setup_databases(verbosity=0, interactive=False, keepdb=False)
    results: dict = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "versions": versions(),
    }
    try:
        users, cookies = make_users(total)
        print(f"{len(users)} users with sessions; PostgreSQL + Redis; DEBUG off", flush=True)
        kinds = ["ours", "reference"]
        if "fanout" in only:
            results["fanout"] = {}
            for n in sizes:
                servers = args.servers.split(",")
                for kind in ["ours", "reference", "stock", "daphne", "uvicorn"]:
                    if kind not in servers or (kind == "uvicorn" and n < 2000):
                        continue
                    r = scenario_connect_and_fanout(kind, users, cookies, n, rounds)
                    results["fanout"].setdefault(str(n), {})[kind] = r
                    report_fanout(kind, r)
        if "abuse" in only:
            results["abuse"] = scenario_abuse(users, cookies)
            print(f"  abuse: {results['abuse']}", flush=True)
        if "storm" in only:
            results["storm"] = {}
            n = 2000 if quick else 5000
            for kind in kinds:
                r = scenario_storm(kind, users, cookies, n)
                results["storm"][kind] = r
                print(f"  storm {kind:9}: {r}", flush=True)
        if "paced" in only:
            results["paced"] = {}
            for n in [s for s in sizes if s >= 2000] or [max(sizes)]:
                for kind in kinds:
                    r = scenario_paced(
                        kind, users, cookies, n, rate=300, seconds=5 if quick else 10
                    )
                    results["paced"].setdefault(str(n), {})[kind] = r
                    print(
                        f"  paced {kind:9} {n:5} sockets {r['achieved_rate']:.0f}/s: p50 "
                        f"{r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, lost {r['lost']}, "
                        f"send call p50 {r['send_call_p50_ms']:.2f} ms, "
                        f"GC max {r['gc_max_ms']:.0f} ms",
                        flush=True,
                    )
        if "send" in only:
            results["send"] = {}
            for kind in kinds:
                r = scenario_send_call(kind, users, cookies, 300)
                results["send"][kind] = r
                print(
                    f"  one-user send {kind:9}: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms",
                    flush=True,
                )
        if "two" in only:
            results["two"] = {}
            for kind in kinds:
                r = scenario_two_processes(kind, users, cookies, 2000, rounds)
                results["two"][kind] = r
                print(f"  two processes {kind}: {r}", flush=True)
        if "admin" in only:
            r = scenario_admin_broadcast(users, cookies, admin_users, 3)
            results["admin"] = r
            print(f"  admin broadcast: {r}", flush=True)
    finally:
        connections.close_all()
        teardown_databases(old, verbosity=0)
        Path(SESSIONS_FILE).unlink(missing_ok=True)
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2)
    (RESULTS / "latest.json").write_text(text)
    stamp = results["when"][:16].replace(":", "")
    (RESULTS / f"{stamp}.json").write_text(text)
    if "fanout" in results:
        plot(results)
    print(f"results: {RESULTS / 'latest.json'}")


def report_fanout(kind: str, r: dict) -> None:
    fan = f"{1000 * r['fanout_s']:.0f} ms" if r["fanout_s"] is not None else "incomplete"
    print(
        f"  {kind:9} {r['sockets']:5} sockets: open {r['open_s']:.2f} s "
        f"({r['cpu_ms_per_open']:.2f} ms CPU/open, {r['kib_per_socket']:.1f} KiB/socket, "
        f"{r['failed']} failed); fan-out {fan}, lost {r['lost']}/{r['frames']}; "
        f"GC max {r['gc_max_ms_fanout']:.0f} ms",
        flush=True,
    )


def versions() -> dict:
    import importlib.metadata as md

    names = [
        "django",
        "channels",
        "channels-redis",
        "daphne",
        "redis",
        "websockets",
        "twisted",
        "uvicorn",
    ]
    found = {}
    for name in names:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return found


def plot(results: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -r bench/requirements.txt): no plot")
        return
    fanout = results["fanout"]
    sizes = sorted(int(n) for n in fanout)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels = {
        "ours": "notifications (Daphne, Redis transport)",
        "reference": "bare websockets + Redis pub/sub",
        "stock": "stock Channels: channels-redis group per user",
    }
    for kind, style in (("ours", "o-"), ("reference", "s--"), ("stock", "^:")):
        xs = [n for n in sizes if fanout[str(n)].get(kind, {}).get("fanout_s") is not None]
        ys = [fanout[str(n)][kind]["fanout_s"] for n in xs]
        if xs:
            ax.plot(xs, ys, style, label=labels[kind])
    ax.set_xlabel("connected users (one socket each)")
    ax.set_ylabel("one broadcast until the last frame arrived (s)")
    ax.set_title(f"Fan-out, {results['machine']['cpus']} cores, {results['when'][:10]}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "fanout.png", dpi=110)
    print(f"plot: {ROOT / 'bench' / 'fanout.png'}")


if __name__ == "__main__":
    main()
