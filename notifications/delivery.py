"""Delivery: how a text frame reaches every open socket of a user, in any process.

Transport only: it moves pre-encoded frames addressed to *user keys* and
never touches models or the database (``push`` decides what to send,
``frames`` how it looks, ``consumers`` owns the sockets).

Senders, in any thread of any process (a view, ``manage.py shell``, a
worker), call ``publish([(user_key, text), ...])``: it never raises, never
creates an event loop, and keeps one persistent connection per process.
Every server process runs one ``Hub`` per event loop: each socket's consumer
attaches to it, and the hub writes every frame for that user straight to
those sockets, in the order the sender published them.

The transport is chosen by ``NOTIFICATIONS["TRANSPORT"]`` (``"auto"`` looks
at ``CHANNEL_LAYERS``):

``redis``
    One Redis pub/sub channel. Each hub subscribes once and records which
    users it serves (presence), so a sender skips users with no socket
    anywhere. Picked for channels-redis layers with plain ``address`` hosts.
``channel_layer``
    Any Channels layer: each hub holds one channel in one group, and each
    published batch is one ``group_send``. Correct, slower, no presence.
``local``
    This process only (``InMemoryChannelLayer`` or no layer at all). Sends
    made in the process reach its hub directly; sends from another process
    (the shell) are found by the hub's poller, which asks the database
    every ``LOCAL_POLL_SECONDS``.

Nothing is lost silently: a hub that loses its subscription sends every
socket it serves a ``resync`` frame once it is back (or closes them with
4503 if it cannot get back within ``OUTAGE_GRACE_SECONDS``), and every frame
a sender could not hand over is counted and logged at WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol
from urllib.parse import quote, unquote

from django.conf import settings

from . import conf
from .collector import collector

logger = logging.getLogger(__name__)

#: ``(user key, text frame, cursor or None)``. The cursor (of a
#: ``notification.created`` frame) lets a hub skip a frame a socket already has.
Entry = tuple[str, str, "int | None"]

# Largest publish message; a bigger batch is split, in order.
_MESSAGE_BYTES = 256 * 1024
# Seconds between a hub's presence heartbeats; presence expires after three.
_HEARTBEAT_SECONDS = 15.0
_PRESENCE_TTL = 45
# A sender that failed to reach Redis skips it for this long, so that an
# outage costs each request nothing rather than a connect timeout.
_SENDER_BACKOFF_SECONDS = 1.0
# Seconds between WARNING summaries of frames a sender could not publish.
_LOG_EVERY_SECONDS = 10.0


def user_key(pk: Any) -> str:
    """Return the transport's name for the user with primary key ``pk``.

    Valid for any primary key (integers, UUIDs, e-mail addresses): it is the
    key's text, percent-encoded, so it never holds a separator.
    """
    return quote(str(pk), safe="")


def pk_of(key: str) -> str:
    """Return the primary key text behind ``user_key`` (for ``to_python``)."""
    return unquote(key)


def session_hash(session_key: str) -> str:
    """Return the name of one login session's sockets (a hash: keys are secrets)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


# What a hub asks of a socket ---------------------------------------------------


class Subscriber(Protocol):
    """A socket as the hub sees it; ``NotificationConsumer`` implements it."""

    user_key: str
    session_hash: str | None

    async def push(self, text: str, cursor: int | None) -> None:
        """Send one pushed frame (after flow control)."""

    async def resync(self) -> None:
        """Tell the client it may have missed frames."""

    async def shut(self, code: int) -> None:
        """Close the socket with ``code``."""

    def revalidate_soon(self) -> None:
        """Re-check the socket's session shortly (its user changed)."""


#: ``(min cursor per user key) -> entries``: what the local poller found.
Poller = Callable[[dict[str, int]], list[Entry]]


# Messages between processes ------------------------------------------------------
# A published message is bytes: b"F" then one b"\n<key>\t<text>" per frame, or
# b"C<op>\t<arg>" for a control message. Frames are ASCII JSON without raw
# newlines (frames.encode) and keys are percent-encoded, so no escaping is needed.

_CLOSE_SESSION = "close_session"
_REVALIDATE = "revalidate"


def _pack(entries: Sequence[Entry]) -> Iterator[bytes]:
    chunk: list[str] = []
    size = 0
    for key, text, _cursor in entries:
        line = f"\n{key}\t{text}"
        if chunk and size + len(line) > _MESSAGE_BYTES:
            yield ("F" + "".join(chunk)).encode()
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        yield ("F" + "".join(chunk)).encode()


def _unpack(message: bytes) -> tuple[str, Any]:
    text = message.decode()
    if text.startswith("F"):
        entries = []
        for line in text[2:].split("\n"):
            key, _, frame = line.partition("\t")
            entries.append((key, frame, None))
        return "frames", entries
    if text.startswith("C"):
        op, _, arg = text[1:].partition("\t")
        return op, arg
    raise ValueError(f"unknown message {text[:20]!r}")


# The hub: one per event loop of a server process ------------------------------------


class Unavailable(Exception):
    """The transport cannot deliver right now (Redis down)."""


class Hub:
    """Every socket this event loop serves, by user and by session, and their feed."""

    def __init__(self, transport: Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.sockets: dict[str, set[Subscriber]] = {}
        self.sessions: dict[str, set[Subscriber]] = {}
        self.poller: Poller | None = None
        self.available = False
        self._down_since: float | None = time.monotonic()
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    # Life cycle ----------------------------------------------------------

    async def start(self) -> None:
        self.spawn(self._run_queue())
        self.spawn(self._watch())
        await self.transport.start(self)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run ``coro`` for the hub's lifetime; its failure is logged, never lost."""
        task = self.loop.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Notifications hub task failed.", exc_info=task.exception())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.stop_hub(self)

    async def wait_available(self, within: float) -> None:
        """Return once the hub can deliver; raise ``Unavailable`` after ``within`` seconds."""
        if self.available:
            return
        try:
            await asyncio.wait_for(self._ready.wait(), within)
        except TimeoutError:
            raise Unavailable("the notifications transport is not connected") from None

    def set_available(self, available: bool) -> None:
        """Called by the transport when its feed is (re)established or lost."""
        if available == self.available:
            return
        self.available = available
        if available:
            was_down = self._down_since
            self._down_since = None
            self._ready.set()
            if was_down is not None and self._started_once:
                # Frames published while we were away are gone: say so.
                self.spawn(self.resync_all("the transport reconnected"))
            self._started_once = True
        else:
            self._down_since = time.monotonic()
            self._ready.clear()

    _started_once = False

    async def _watch(self) -> None:
        """Each half second: the collector's turn; 4503 for all once the feed is down too long."""
        while True:
            await asyncio.sleep(0.5)
            collector.tick()
            down_since = self._down_since
            if down_since is None or not self._started_once or not self.sockets:
                continue
            grace = conf.get("OUTAGE_GRACE_SECONDS")
            if time.monotonic() - down_since >= grace:
                count = sum(len(s) for s in self.sockets.values())
                logger.warning(
                    "Notifications transport down for %.0f s; closing %d socket(s) with 4503 "
                    "(clients poll over HTTP and reconnect).",
                    grace,
                    count,
                )
                await self.shut_all(4503)

    # Sockets -------------------------------------------------------------

    def count(self, key: str) -> int:
        return len(self.sockets.get(key, ()))

    async def attach(self, subscriber: Subscriber) -> None:
        """Register a socket; return once senders anywhere know its user is online."""
        key = subscriber.user_key
        subscribers = self.sockets.setdefault(key, set())
        first = not subscribers
        subscribers.add(subscriber)
        collector.opened()
        if subscriber.session_hash:
            self.sessions.setdefault(subscriber.session_hash, set()).add(subscriber)
        if first:
            await self.transport.present(self, key)

    def detach(self, subscriber: Subscriber) -> None:
        key = subscriber.user_key
        subscribers = self.sockets.get(key)
        if subscribers is not None and subscriber in subscribers:
            collector.closed()
            subscribers.discard(subscriber)
            if not subscribers:
                del self.sockets[key]
                self.transport.absent(self, key)
        if subscriber.session_hash:
            same = self.sessions.get(subscriber.session_hash)
            if same is not None:
                same.discard(subscriber)
                if not same:
                    del self.sessions[subscriber.session_hash]

    # Incoming ------------------------------------------------------------

    def enqueue(self, kind: str, payload: Any) -> None:
        """Queue a batch or control message (from this loop's thread only)."""
        self._queue.put_nowait((kind, payload))

    def enqueue_message(self, message: bytes) -> None:
        try:
            kind, payload = _unpack(message)
        except (ValueError, UnicodeDecodeError):
            logger.warning("Ignoring a malformed notifications message (%d bytes).", len(message))
            return
        self.enqueue(kind, payload)

    async def _run_queue(self) -> None:
        # One consumer of the queue: batches are delivered whole and in order.
        while True:
            kind, payload = await self._queue.get()
            collector.busy()
            try:
                if kind == "frames":
                    await self.deliver(payload)
                elif kind == _CLOSE_SESSION:
                    for subscriber in list(self.sessions.get(payload, ())):
                        await subscriber.shut(4401)
                elif kind == _REVALIDATE:
                    for subscriber in list(self.sockets.get(payload, ())):
                        subscriber.revalidate_soon()
            except Exception:
                logger.exception("Delivering a notifications %s message failed.", kind)

    async def deliver(self, entries: Iterable[Entry]) -> None:
        sockets = self.sockets
        for key, text, cursor in entries:
            subscribers = sockets.get(key)
            if subscribers:
                for subscriber in tuple(subscribers):
                    await subscriber.push(text, cursor)

    async def resync_all(self, why: str) -> None:
        count = sum(len(s) for s in self.sockets.values())
        if count:
            logger.warning("Notifications: %s; sending %d socket(s) a resync.", why, count)
        for subscribers in list(self.sockets.values()):
            for subscriber in tuple(subscribers):
                await subscriber.resync()

    async def shut_all(self, code: int) -> None:
        for subscribers in list(self.sockets.values()):
            for subscriber in tuple(subscribers):
                await subscriber.shut(code)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[Hub]] = (
    weakref.WeakKeyDictionary()
)
_hubs_lock = threading.Lock()


async def get_hub(*, poller: Poller | None = None) -> Hub:
    """Return this event loop's hub, starting it (and its transport feed) on first use."""
    loop = asyncio.get_running_loop()
    future = _hubs.get(loop)
    if future is None:
        future = loop.create_future()
        with _hubs_lock:
            _hubs[loop] = future
        hub = Hub(get_transport(), loop)
        hub.poller = poller
        try:
            await hub.start()
        except BaseException as exc:
            with _hubs_lock:
                _hubs.pop(loop, None)
            future.set_exception(exc)
            future.exception()  # Retrieved: the next caller starts afresh.
            raise
        collector.start()
        future.set_result(hub)
    return await asyncio.shield(future)


async def stop_hub() -> None:
    """Stop this event loop's hub, if any (tests; a server's loop simply ends)."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        future = _hubs.pop(loop, None)
    if future is not None and future.done() and not future.exception():
        await future.result().stop()


def _live_hubs() -> list[Hub]:
    with _hubs_lock:
        futures = list(_hubs.items())
    return [
        f.result()
        for loop, f in futures
        if f.done() and not f.cancelled() and f.exception() is None and not loop.is_closed()
    ]


# Transports ------------------------------------------------------------------------


class Transport:
    """How published frames reach the hubs; subclasses per backend."""

    name = "base"

    def publish(self, entries: Sequence[Entry]) -> int:
        """Hand ``entries`` over for delivery; return how many were. Never raises."""
        raise NotImplementedError

    def control(self, op: str, arg: str) -> None:
        raise NotImplementedError

    def online(self, keys: Sequence[str]) -> set[str] | None:
        """Return which ``keys`` have a socket anywhere, or None when unknown."""
        return None

    async def start(self, hub: Hub) -> None:
        raise NotImplementedError

    async def stop_hub(self, hub: Hub) -> None:
        return None

    async def present(self, hub: Hub, key: str) -> None:
        return None

    def absent(self, hub: Hub, key: str) -> None:
        return None


class _Dropped:
    """Count frames that could not be published; log them at most every 10 s, never lose a count."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.reason = ""
        self.logged_at = 0.0
        self.down_until = 0.0
        self.timer: threading.Timer | None = None

    def skipping(self) -> bool:
        return time.monotonic() < self.down_until

    def add(self, count: int, error: BaseException | str) -> None:
        now = time.monotonic()
        with self.lock:
            self.count += count
            if isinstance(error, BaseException):
                self.down_until = now + _SENDER_BACKOFF_SECONDS
                self.reason = f"{type(error).__name__}: {error}"
            elif not self.reason:
                self.reason = error
            wait = self.logged_at + _LOG_EVERY_SECONDS - now
            if wait > 0:
                if self.timer is None:
                    # The rest of this burst is reported when the window ends.
                    self.timer = threading.Timer(wait, self.flush)
                    self.timer.daemon = True
                    self.timer.start()
                return
        self.flush()

    def flush(self) -> None:
        with self.lock:
            dropped, reason = self.count, self.reason
            self.count, self.reason, self.timer = 0, "", None
            self.logged_at = time.monotonic()
        if dropped:
            logger.warning(
                "Could not push %d notification frame(s) (%s). The notifications are saved; "
                "clients recover them from their cursor.",
                dropped,
                reason,
            )


class LocalTransport(Transport):
    """This process's hubs only; other processes' sends are found by polling."""

    name = "local"

    def __init__(self) -> None:
        self.dropped = _Dropped()

    def publish(self, entries: Sequence[Entry]) -> int:
        hubs = _live_hubs()
        for hub in hubs:
            with contextlib.suppress(RuntimeError):  # Its loop closed meanwhile.
                hub.loop.call_soon_threadsafe(hub.enqueue, "frames", list(entries))
        return len(entries)

    def online(self, keys: Sequence[str]) -> set[str] | None:
        # Only this process's sockets can be reached from here; a process
        # without any (the shell) sends nothing: the server's poller finds
        # its notifications in the database.
        hubs = _live_hubs()
        return {key for key in keys if any(hub.sockets.get(key) for hub in hubs)}

    def control(self, op: str, arg: str) -> None:
        for hub in _live_hubs():
            with contextlib.suppress(RuntimeError):
                hub.loop.call_soon_threadsafe(hub.enqueue, op, arg)

    async def start(self, hub: Hub) -> None:
        hub.set_available(True)
        if hub.poller is not None:
            hub.spawn(self._poll(hub))

    async def _poll(self, hub: Hub) -> None:
        """Push what other processes committed, found in the database (no Redis here)."""
        from .threads import database_call

        poller = database_call(hub.poller)
        while True:
            await asyncio.sleep(conf.get("LOCAL_POLL_SECONDS"))
            cursors = {}
            for key, subscribers in hub.sockets.items():
                known = [s.cursor for s in subscribers if getattr(s, "cursor", None) is not None]
                if known:
                    cursors[key] = min(known)
            if not cursors:
                continue
            try:
                entries = await poller(cursors)
            except Exception:
                logger.exception("Polling the database for new notifications failed.")
                continue
            if entries:
                hub.enqueue("frames", entries)


class _MessageTransport(Transport):
    """A transport that carries packed messages (``_pack``) to every hub: Redis or a layer."""

    #: Said in the WARNING when frames are dropped while the backend is known to be down.
    down = "the transport failed a moment ago"

    def __init__(self) -> None:
        self.dropped = _Dropped()

    def _send(self, messages: list[bytes]) -> None:
        """Hand ``messages`` to every hub, in order; raise on failure."""
        raise NotImplementedError

    def publish(self, entries: Sequence[Entry]) -> int:
        if not entries:
            return 0
        if self.dropped.skipping():
            self.dropped.add(len(entries), self.down)
            return 0
        try:
            self._send(list(_pack(entries)))
        except Exception as exc:
            self.dropped.add(len(entries), exc)
            return 0
        return len(entries)

    def control(self, op: str, arg: str) -> None:
        try:
            self._send([f"C{op}\t{arg}".encode()])
        except Exception as exc:
            self.dropped.add(1, exc)


class RedisTransport(_MessageTransport):
    """Redis pub/sub: one subscription per hub, one persistent client per sending process."""

    name = "redis"

    # ARGV[2]: presence key prefix; ARGV[3]: the user keys, one per line. The
    # answer is one character per key, "1" for online: one argument and one
    # string each way, however many keys (redis-py encodes arguments one by one).
    _ONLINE = """
    local now = tonumber(redis.call('TIME')[1])
    local instances = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
    local keys = {}
    for key in string.gmatch(ARGV[3], '[^\\n]+') do keys[#keys + 1] = key end
    local found = {}
    for i = 1, #keys do found[i] = '0' end
    for _, instance in ipairs(instances) do
      local set = ARGV[2] .. instance
      for start = 1, #keys, 4000 do
        local stop = math.min(start + 3999, #keys)
        local members = redis.call('SMISMEMBER', set, unpack(keys, start, stop))
        for i = 1, #members do
          if members[i] == 1 then found[start + i - 1] = '1' end
        end
      end
    end
    return table.concat(found)
    """
    _HEARTBEAT = """
    local now = tonumber(redis.call('TIME')[1])
    redis.call('ZADD', KEYS[1], now, ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
    redis.call('EXPIRE', KEYS[2], ARGV[2])
    return redis.call('SCARD', KEYS[2])
    """

    down = "Redis was unreachable a moment ago"

    def __init__(self, url: str, options: dict[str, Any], prefix: str) -> None:
        super().__init__()
        self.url = url
        self.options = options
        self.channel = f"{prefix}:notifications"
        self.instances = f"{prefix}:notifications:instances"
        self.presence_prefix = f"{prefix}:notifications:presence:"
        self._client: Any = None
        self._client_lock = threading.Lock()

    # Sending (sync, any thread) ----------------------------------------

    def _sync_client(self) -> Any:
        if self._client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            with self._client_lock:
                if self._client is None:
                    options = {
                        **self.options,
                        # A request must not hang on a dead Redis: fail fast,
                        # count the frames, let clients recover them.
                        "socket_connect_timeout": 1,
                        "socket_timeout": 2,
                        "retry": Retry(NoBackoff(), 1),
                    }
                    options.pop("max_connections", None)
                    self._client = redis.Redis.from_url(self.url, **options)
                    self._online = self._client.register_script(self._ONLINE)
        return self._client

    def _send(self, messages: list[bytes]) -> None:
        client = self._sync_client()
        if len(messages) == 1:
            client.publish(self.channel, messages[0])
            return
        pipe = client.pipeline(transaction=False)
        for message in messages:
            pipe.publish(self.channel, message)
        pipe.execute()

    def online(self, keys: Sequence[str]) -> set[str] | None:
        if not keys or self.dropped.skipping():
            return None
        try:
            self._sync_client()
            flags = self._online(
                keys=[self.instances], args=[_PRESENCE_TTL, self.presence_prefix, "\n".join(keys)]
            )
            return {key for key, flag in zip(keys, flags.decode(), strict=True) if flag == "1"}
        except Exception as exc:
            # Unknown: the publish that follows will report the outage.
            logger.debug("Presence lookup failed (%s); pushing to every recipient.", exc)
            return None

    # Serving (async, the hub's loop) -------------------------------------

    async def start(self, hub: Hub) -> None:
        import redis.asyncio as aredis

        state = _RedisHubState(
            instance=uuid.uuid4().hex,
            client=aredis.Redis.from_url(self.url, **self.options),
        )
        state.heartbeat = state.client.register_script(self._HEARTBEAT)
        self._states[hub] = state
        hub.spawn(self._listen(hub, state))
        hub.spawn(self._keep_presence(hub, state))
        await hub.wait_available(conf.get("OUTAGE_GRACE_SECONDS"))

    _states: weakref.WeakKeyDictionary[Hub, _RedisHubState] = weakref.WeakKeyDictionary()

    async def stop_hub(self, hub: Hub) -> None:
        state = self._states.pop(hub, None)
        if state is not None:
            with contextlib.suppress(Exception):
                await state.client.zrem(self.instances, state.instance)
                await state.client.delete(self.presence_prefix + state.instance)
            await state.client.aclose()

    async def _listen(self, hub: Hub, state: _RedisHubState) -> None:
        """Subscribe, feed every message to the hub; on any loss, resubscribe and resync."""
        import redis.asyncio as aredis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        delay = 0.1
        while True:
            client = aredis.Redis.from_url(self.url, **self.options, retry=Retry(NoBackoff(), 0))
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=_HEARTBEAT_SECONDS)
                    if message is None:
                        await pubsub.ping()
                        continue
                    kind = message["type"]
                    if kind == "message":
                        hub.enqueue_message(message["data"])
                    elif kind == "subscribe":
                        # Presence first: a sender that sees us online must
                        # find us subscribed.
                        await self._register(hub, state)
                        hub.set_available(True)
                        delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if hub.available:
                    logger.warning(
                        "Lost the notifications subscription to Redis (%s: %s); reconnecting.",
                        type(exc).__name__,
                        exc,
                    )
                hub.set_available(False)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _register(self, hub: Hub, state: _RedisHubState) -> None:
        """(Re)write this hub's instance entry and every user it serves."""
        pipe = state.client.pipeline(transaction=False)
        key = self.presence_prefix + state.instance
        pipe.delete(key)
        users = list(hub.sockets)
        for start in range(0, len(users), 5000):
            pipe.sadd(key, *users[start : start + 5000])
        await pipe.execute()
        await state.heartbeat(keys=[self.instances, key], args=[state.instance, _PRESENCE_TTL])

    async def present(self, hub: Hub, key: str) -> None:
        state = self._states.get(hub)
        if state is None:
            return
        # Coalesce the handshakes of one moment into one SADD.
        state.adding.add(key)
        if state.flush is None:
            state.flush = hub.loop.create_future()
            hub.loop.call_soon(lambda: hub.spawn(self._flush_presence(hub, state)))
        await asyncio.shield(state.flush)

    def absent(self, hub: Hub, key: str) -> None:
        state = self._states.get(hub)
        if state is None:
            return
        state.adding.discard(key)
        state.removing.add(key)
        if state.flush is None:
            state.flush = hub.loop.create_future()
            hub.loop.call_soon(lambda: hub.spawn(self._flush_presence(hub, state)))

    async def _flush_presence(self, hub: Hub, state: _RedisHubState) -> None:
        future, state.flush = state.flush, None
        adding, removing = list(state.adding), list(state.removing)
        state.adding.clear()
        state.removing.clear()
        key = self.presence_prefix + state.instance
        try:
            pipe = state.client.pipeline(transaction=False)
            if adding:
                pipe.sadd(key, *adding)
                pipe.expire(key, _PRESENCE_TTL)
            if removing:
                pipe.srem(key, *removing)
            await pipe.execute()
        except Exception as exc:
            # The listener notices the outage too and re-registers everyone
            # when Redis is back; sockets meanwhile still receive what we hear.
            logger.debug("Presence update failed (%s).", exc)
        finally:
            if future is not None and not future.done():
                future.set_result(None)

    async def _keep_presence(self, hub: Hub, state: _RedisHubState) -> None:
        """Refresh presence; if Redis forgot it (FLUSHALL, failover), rewrite it and resync."""
        while True:
            await asyncio.sleep(_HEARTBEAT_SECONDS)
            if not hub.available:
                continue
            key = self.presence_prefix + state.instance
            try:
                members = await state.heartbeat(
                    keys=[self.instances, key], args=[state.instance, _PRESENCE_TTL]
                )
                if state.flush is None and int(members) < len(hub.sockets):
                    await self._register(hub, state)
                    await hub.resync_all("Redis lost this server's presence (flushed?)")
            except Exception as exc:
                logger.debug("Presence heartbeat failed (%s).", exc)


class _RedisHubState:
    def __init__(self, instance: str, client: Any) -> None:
        self.instance = instance
        self.client = client
        self.heartbeat: Any = None
        self.adding: set[str] = set()
        self.removing: set[str] = set()
        self.flush: asyncio.Future | None = None


class ChannelLayerTransport(_MessageTransport):
    """Any Channels layer: each hub owns one channel in one group; a batch is one group_send."""

    name = "channel_layer"
    GROUP = "notifications.hubs"
    EVENT = "notifications.batch"

    down = "the channel layer failed a moment ago"

    def __init__(self, alias: str) -> None:
        super().__init__()
        self.alias = alias

    def _layer(self) -> Any:
        from channels.layers import get_channel_layer

        layer = get_channel_layer(self.alias)
        if layer is None:
            raise LookupError(f"no channel layer {self.alias!r} in settings.CHANNEL_LAYERS")
        return layer

    def _send(self, messages: list[bytes]) -> None:
        layer = self._layer()

        async def send_all() -> None:
            for message in messages:
                await layer.group_send(self.GROUP, {"type": self.EVENT, "payload": message})

        _sender_loop().run(send_all())

    async def start(self, hub: Hub) -> None:
        hub.spawn(self._listen(hub))
        await hub.wait_available(conf.get("OUTAGE_GRACE_SECONDS"))

    async def _listen(self, hub: Hub) -> None:
        delay = 0.1
        while True:
            try:
                layer = self._layer()
                channel = await layer.new_channel("notifications.hub.")
                await layer.group_add(self.GROUP, channel)
                joined = time.monotonic()
                hub.set_available(True)
                delay = 0.1
                while True:
                    if time.monotonic() - joined > conf.get("GROUP_REFRESH_SECONDS"):
                        # group_expiry would otherwise drop this hub silently.
                        await layer.group_add(self.GROUP, channel)
                        joined = time.monotonic()
                    try:
                        # An idle hub must wake up to refresh too, or a group_expiry
                        # shorter than REFRESH + this wait would drop it (DEL-07).
                        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can
                        # turn the hub's own cancellation into a TimeoutError when
                        # both happen at once, and the loop would never stop.
                        async with asyncio.timeout(min(30.0, conf.get("GROUP_REFRESH_SECONDS"))):
                            message = await layer.receive(channel)
                    except TimeoutError:
                        continue
                    if message.get("type") == self.EVENT:
                        hub.enqueue_message(message["payload"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if hub.available:
                    logger.warning(
                        "Lost the notifications channel on layer %r (%s: %s); rejoining.",
                        self.alias,
                        type(exc).__name__,
                        exc,
                    )
                hub.set_available(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class _SenderLoop:
    """One event loop in a daemon thread, for coroutine-only layers called from sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self.loop.run_forever, name="notifications-sender", daemon=True
        )
        thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


_sender: _SenderLoop | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> _SenderLoop:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = _SenderLoop()
        return _sender


# Choosing the transport -------------------------------------------------------------

_transports: dict[tuple, Transport] = {}
_transports_lock = threading.Lock()


def get_transport() -> Transport:
    """Return the transport the current settings select (one instance per choice)."""
    choice = conf.get("TRANSPORT")
    alias = conf.get("CHANNEL_LAYER")
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    layer = layers.get(alias) if isinstance(layers, dict) else None
    signature = (choice, conf.get("REDIS_URL"), alias, repr(layer))
    transport = _transports.get(signature)
    if transport is None:
        with _transports_lock:
            transport = _transports.get(signature) or _make_transport(choice, alias, layer)
            _transports[signature] = transport
    return transport


def _make_transport(choice: str, alias: str, layer: Any) -> Transport:
    backend = str((layer or {}).get("BACKEND", "")) if isinstance(layer, dict) else ""
    redis_url = conf.get("REDIS_URL")
    if choice == "auto":
        if redis_url or redis_host(layer) is not None:
            choice = "redis"
        elif not backend or backend == "channels.layers.InMemoryChannelLayer":
            choice = "local"
        else:
            choice = "channel_layer"
    if choice == "redis":
        host = (redis_url, {}) if redis_url else redis_host(layer)
        if host is None:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                'NOTIFICATIONS["TRANSPORT"] is "redis" but neither NOTIFICATIONS["REDIS_URL"] '
                f"nor a channels-redis address in CHANNEL_LAYERS[{alias!r}] says where Redis is."
            )
        prefix = ((layer or {}).get("CONFIG") or {}).get("prefix", "asgi") if layer else "asgi"
        return RedisTransport(host[0], host[1], prefix)
    if choice == "channel_layer":
        return ChannelLayerTransport(alias)
    if choice == "local":
        return LocalTransport()
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f'NOTIFICATIONS["TRANSPORT"] is {choice!r}; use "auto", "redis", "channel_layer" '
        'or "local".'
    )


#: Redis client options a channels-redis host entry may carry that we reuse.
_REDIS_OPTIONS = {
    "password",
    "username",
    "db",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "socket_keepalive",
    "socket_timeout",
    "socket_connect_timeout",
    "max_connections",
    "health_check_interval",
}


def redis_host(layer: Any) -> tuple[str, dict[str, Any]] | None:
    """Return ``(url, options)`` of a channels-redis layer's first plain host, else None.

    None for other layers, for Sentinel hosts and for layers that encrypt
    their messages (``symmetric_encryption_keys``): those use the channel
    layer transport.
    """
    if not isinstance(layer, dict):
        return None
    if not str(layer.get("BACKEND", "")).startswith("channels_redis."):
        return None
    config = layer.get("CONFIG") or {}
    if config.get("symmetric_encryption_keys"):
        return None
    hosts = config.get("hosts") or [("localhost", 6379)]
    host = hosts[0]
    if isinstance(host, str):
        return host, {}
    if isinstance(host, (list, tuple)) and len(host) == 2:
        return f"redis://{host[0]}:{host[1]}", {}
    if isinstance(host, dict) and isinstance(host.get("address"), str):
        return host["address"], {k: v for k, v in host.items() if k in _REDIS_OPTIONS}
    return None


# The sending API -------------------------------------------------------------------


def publish(entries: Sequence[Entry]) -> int:
    """Hand ``(user_key, text, cursor)`` entries to the transport; return how many. Never raises."""
    if not entries or _muted.get():
        return 0
    try:
        transport = get_transport()
    except Exception:
        logger.exception("No notifications transport; %d frame(s) not pushed.", len(entries))
        return 0
    return transport.publish(entries)


def online(keys: Sequence[str]) -> set[str] | None:
    """Return which user keys have an open socket anywhere, or None if the transport can't tell."""
    try:
        return get_transport().online(keys)
    except Exception:
        return None


def close_session(session_key: str | None) -> None:
    """Close every socket opened with ``session_key`` (on logout), in every process."""
    if session_key:
        _control(_CLOSE_SESSION, session_hash(session_key))


def revalidate_user(pk: Any) -> None:
    """Ask every socket of user ``pk`` to re-check its session now (password change...)."""
    _control(_REVALIDATE, user_key(pk))


def _control(op: str, arg: str) -> None:
    try:
        get_transport().control(op, arg)
    except Exception:
        logger.exception("Could not send the %s message.", op)


# Muting ---------------------------------------------------------------------------
# Importing historical rows (import_notifications_hq) must allocate cursors but
# must neither toast months-old notifications nor fire notification_created.

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_muted", default=False)


def is_muted() -> bool:
    return _muted.get()


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Create notifications inside the block without pushing or signalling them.

    Rows are saved and get their cursors as usual; clients see them on their
    next sync. Applies to the current thread or task only.
    """
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)
