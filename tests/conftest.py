"""Shared fixtures: users, logged-in sockets, real Redis, a Daphne subprocess."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from config.settings import redis_channel_layers
from notifications.testing import session_cookie

ROOT = Path(__file__).resolve().parent.parent
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get(
    "REDIS_URL", "redis://127.0.0.1:6379/0"
)


# One key prefix per test run, so that runs sharing a Redis (user ids repeat
# across test databases) never receive each other's pushes.
os.environ["CHANNEL_LAYER_PREFIX"] = f"asgi-test-{uuid.uuid4().hex[:12]}"


def pytest_configure(config):
    if connection_problem := _database_problem():
        if os.environ.get("CI") == "true":
            pytest.exit(f"{connection_problem} (CI=true requires it)", returncode=1)
        pytest.exit(f"Skipping this run: {connection_problem}", returncode=0)
    # Fast hashing: tests create many users; logins use force_login anyway.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Several checkouts or sessions may test against one PostgreSQL server at
    # once: DATABASE_TEST_NAME gives each its own test database (or SQLite file).
    if test_name := os.environ.get("DATABASE_TEST_NAME"):
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = test_name
    elif "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        # Without it, one per checkout: two clones testing at once never share one.
        checkout = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
        name = f"test_{settings.DATABASES['default']['NAME']}_{checkout}"
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name
    layer = settings.CHANNEL_LAYERS.get("default", {})
    if "redis" in layer.get("BACKEND", ""):
        layer["CONFIG"]["prefix"] = os.environ["CHANNEL_LAYER_PREFIX"]


def _database_problem() -> str | None:
    """Return why the configured PostgreSQL server is unreachable, or None."""
    params = settings.DATABASES["default"]
    if "postgresql" not in params["ENGINE"]:
        return None
    import psycopg

    try:
        psycopg.connect(
            host=params.get("HOST") or "127.0.0.1",
            port=params.get("PORT") or 5432,
            user=params.get("USER") or None,
            password=params.get("PASSWORD") or None,
            dbname=params.get("NAME") or "postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable: {exc}".strip()
    return None


def require(service: str, reason: str | None) -> None:
    """Skip when ``service`` is missing, but fail under CI=true: CI must test it."""
    if reason is None:
        return
    message = f"{service} is not available: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
    pytest.skip(message)


def redis_problem(url: str = TEST_REDIS_URL) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:
        return f"{url}: {exc}"
    return None


@pytest.fixture(autouse=True, scope="session")
def _close_worker_thread_connections(django_db_setup):
    """Close the DB connection of asgiref's sync thread before the test DB is dropped."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    # Async tests run ORM calls in asgiref's single sync thread, and sockets
    # in the notifications worker threads (Channels' communicator keeps their
    # connections open).
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
    from notifications.threads import close_connections

    close_connections()


@pytest.fixture(autouse=True, scope="session")
def _remove_this_runs_redis_keys():
    """Delete the keys this run left in Redis (sockets of stopped Daphnes; they would expire)."""
    yield
    if redis_problem() is None:
        import redis

        client = redis.Redis.from_url(TEST_REDIS_URL)
        keys = list(client.scan_iter(match=f"{os.environ['CHANNEL_LAYER_PREFIX']}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@pytest.fixture(autouse=True)
def _fresh_channel_layers():
    """Give each test new layer objects: they are bound to one event loop."""
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture
def redis_layer(settings):
    """Switch this test's process to the real Redis channel layer."""
    require("Redis", redis_problem())
    settings.CHANNEL_LAYERS = redis_channel_layers(TEST_REDIS_URL)
    channel_layers.backends = {}
    return TEST_REDIS_URL


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, **fields):
        name = username or f"user{next(counter)}"
        return get_user_model().objects.create_user(name, password="pw", **fields)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@asynccontextmanager
async def connected(
    user=None, *, origin: str = "http://testserver", path="/ws/notifications/", cookie=None
):
    """Open a socket through the project's full ASGI stack, as a browser would.

    Yields the communicator after the handshake and the initial state frame.
    """
    from asgiref.sync import sync_to_async

    from config.asgi import application

    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if user is not None and cookie is None:
        cookie = await sync_to_async(session_cookie)(user)
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


def wait_for_port(process: subprocess.Popen, port: int, timeout: float, output) -> None:
    """Wait until ``process`` listens on ``port``; raise with its output if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited early:\n{output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    terminate(process)
    raise RuntimeError(f"The server did not listen within {timeout}s:\n{output()}")


def terminate(process: subprocess.Popen) -> None:
    """Stop ``process`` with SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url_for_children() -> str:
    """A DATABASE_URL that points a subprocess at the current test database."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        name = params["NAME"]
        if not name or str(name).startswith(("file:", ":memory:")):
            pytest.fail("The SQLite test database must be a file for subprocess tests.")
        return f"sqlite:///{name}"
    user = quote(params.get("USER") or "")
    password = quote(params.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{params['NAME']}"


class DaphneServer:
    """A Daphne subprocess serving config.asgi with the Redis channel layer."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        settings_module: str = "config.settings",
        *,
        extra_env: dict[str, str] | None = None,
        endpoint: str | None = None,
        extra_args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        """``endpoint``: a Twisted endpoint (``{port}`` is filled in) instead of ``-b``/``-p``.

        An ``ssl:`` endpoint makes the URLs ``https://`` and ``wss://``.
        """
        self.port = port or free_port()
        secure = bool(endpoint) and endpoint.startswith("ssl:")
        self.url = f"{'https' if secure else 'http'}://127.0.0.1:{self.port}"
        self.ws_url = f"{'wss' if secure else 'ws'}://127.0.0.1:{self.port}/ws/notifications/"
        bind = ["-e", endpoint.format(port=self.port)] if endpoint else []
        bind = bind or ["-b", "127.0.0.1", "-p", str(self.port)]
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),  # e.g. another DJANGO_SETTINGS_MODULE
        }
        self.env = env  # kept for start_again()
        self.log = open(ROOT / f".daphne-{self.port}.log", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                *bind,
                *extra_args,
                # As the README's deploy section recommends (Daphne's default is 1 MiB).
                "--websocket-max-message-size",
                "65536",
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_for_port(timeout=20)

    def _wait_for_port(self, timeout: float) -> None:
        wait_for_port(self.process, self.port, timeout, self.output)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def halt(self) -> None:
        """Stop the process (as a deploy or crash would), keeping the port and log."""
        terminate(self.process)

    def start_again(self) -> None:
        """Start a new process on the same port after ``halt()``; wait until it listens."""
        self.process = subprocess.Popen(
            self.process.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_for_port(timeout=20)

    def stop(self) -> None:
        terminate(self.process)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
def daphne(transactional_db, redis_layer):
    """A live Daphne process on the test database and the real Redis layer."""
    server = DaphneServer(database_url_for_children(), redis_layer)
    try:
        yield server
    finally:
        server.stop()


class _Recorder:
    """A socket as the hub sees it (delivery.Subscriber) that records what it is pushed."""

    session_hash = None
    cursor = None

    def __init__(self, key: str) -> None:
        self.user_key = key
        self.frames: queue.Queue = queue.Queue()
        self.texts: list[str] = []  # As sent on the socket.

    async def push(self, text, cursor):
        self.texts.append(text)
        self.frames.put(json.loads(text))

    async def resync(self):
        self.frames.put({"type": "resync"})

    async def shut(self, code):
        self.frames.put({"type": "closed", "code": code})

    def revalidate_soon(self):
        self.frames.put({"type": "revalidate"})


@pytest.fixture
def listen():
    """Attach recorders to a hub on a background event loop: ``receive = listen(user)``.

    The frames arrive through the configured transport exactly as they
    would reach a socket of that user in a server process.
    """
    from notifications import delivery

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    def subscribe(user):
        recorder = _Recorder(delivery.user_key(user.pk))

        async def attach():
            hub = await delivery.get_hub()
            await hub.attach(recorder)

        run(attach())

        def receive(timeout: float = 5) -> dict:
            return recorder.frames.get(timeout=timeout)

        receive.recorder = recorder
        return receive

    try:
        yield subscribe
    finally:
        run(delivery.stop_hub())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


class PrivateRedis:
    """A redis-server of this test's own, so stopping it never touches the shared one."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.process, self.port, 10, lambda: "redis-server")

    def stop(self) -> None:
        terminate(self.process)


@pytest.fixture
def private_redis(settings):
    import shutil

    require("redis-server", None if shutil.which("redis-server") else "not on PATH")
    redis = PrivateRedis()
    redis.start()
    settings.CHANNEL_LAYERS = redis_channel_layers(redis.url)
    channel_layers.backends = {}
    yield redis
    redis.stop()
