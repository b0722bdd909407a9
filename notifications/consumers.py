"""The websocket consumer: one per open socket, fed by its process's hub.

Protocol: see ``notifications.frames`` (and the README). On connect the
server sends ``state``; afterwards it pushes changes and answers ``ping``,
``sync`` and ``ack``; a bad frame gets an ``error`` frame and the socket
stays open.

Close codes (Daphne's websocket implementation refuses application close
codes other than 1000 and 3000-4999, so ours mirror HTTP statuses):

======  ================================================================
4401    not authenticated, or the session was revoked (logout, password
        change, deactivation)
4440    the session is gone (deleted, expired, or its key cycled by Django,
        e.g. after a ``SECRET_KEY`` rotation): reconnect with the current
        cookie, which is refused 4401 if it logs nobody in
4408    the client fell too far behind: it did not acknowledge a resync
        within ``ACK_TIMEOUT_SECONDS``; reconnect and recover
4409    the user already holds ``MAX_SOCKETS_PER_USER`` sockets here
4429    the socket exceeded the frame rate limit
4503    live delivery unavailable (Redis down); poll, reconnect later
======  ================================================================

Pushes do not travel through a per-socket channel-layer channel: the hub
(``notifications.delivery``) writes them straight to the socket through
``push()``, which applies flow control. A client acknowledges what it
received with ``{"action": "ack", "frames": N}``; once more than
``MAX_UNACKED_BYTES`` are unacknowledged, the socket gets one ``resync``
frame and no more pushes until the client catches up, so a slow or stalled
reader costs the server a bounded buffer and never loses anything silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import random
import time
from collections import deque
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from . import conf, delivery, frames, push
from .auth import arevalidate
from .collector import collector
from .threads import database_call

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401  # like HTTP 401
CLOSE_TOO_SLOW = 4408  # like HTTP 408
CLOSE_TOO_MANY_SOCKETS = 4409  # like HTTP 409
CLOSE_RATE_LIMITED = 4429  # like HTTP 429
CLOSE_TRY_AGAIN_LATER = 4503  # like HTTP 503
CLOSE_SESSION_GONE = 4440  # like IIS's 440 Login Time-out

_MAX_INT = 2**63 - 1
# Frames that may wait for a socket's state frame before it counts as behind.
_PENDING_LIMIT = 500


def _database_errors() -> tuple[type[BaseException], ...]:
    from django.db import DatabaseError

    return (DatabaseError, OSError)


class InvalidParams(ValueError):
    pass


class NotificationConsumer(AsyncWebsocketConsumer):
    """Push the authenticated user's notifications; answer ping, sync and ack."""

    # No per-socket channel-layer channel (and no receive loop for it): the
    # hub delivers (see __call__).
    channel_layer_alias = None  # type: ignore[assignment]

    user_id: Any = None
    user_key: str = ""
    session_hash: str | None = None
    session_key: str | None = None
    #: The highest cursor this socket is known to hold (state, then pushes).
    cursor: int | None = None
    hub: delivery.Hub | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Run the socket: each ASGI message, in order, straight from ``receive``.

        Channels' loop runs every receive as a new task so that it can also
        wait on a channel-layer channel; pushes reach this consumer from the
        hub instead, and a plain loop keeps a socket at a few objects less
        (they all count in every full garbage collection).
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Run the handler of an ASGI message, without Channels' per-message thread hop.

        ``AsyncConsumer.dispatch`` closes old database connections on a worker
        thread before every handler; here only the actions that use the
        database do so, inside their own call.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # Connecting ------------------------------------------------------------

    async def connect(self) -> None:
        """Called on the handshake: authenticate, attach to the hub, send state."""
        self._closed = False
        self._ready = False
        self._pending: list[tuple[str, int | None]] = []
        self._sent = self._acked = self._unacked_bytes = 0
        self._sizes: deque[tuple[int, int]] | None = None  # (frame number, size) of pushes
        self._behind_since: float | None = None
        self._resync_at = 0
        self._dropped = 0
        self._frames_in = self._ignored = 0
        self._limited = False
        self._revalidation: asyncio.TimerHandle | None = None
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at: datetime.datetime | None = None
        self._woken_since = datetime.datetime.now(datetime.UTC)
        self._revalidating = False
        self._tokens = float(conf.get("RATE_LIMIT_BURST"))
        self._tokens_at = time.monotonic()
        self._window = conf.get("MAX_UNACKED_BYTES")  # Read once: checked on every push.

        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept then close, so browsers see 4401 and stop retrying.
            collector.refused()
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.user_key = delivery.user_key(user.pk)
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        if self.session_key:
            self.session_hash = delivery.session_hash(self.session_key)
        try:
            hub = await delivery.get_hub(poller=push.poll_missed)
            await hub.wait_available(conf.get("OUTAGE_GRACE_SECONDS"))
        except delivery.Unavailable as exc:
            return await self._refuse(CLOSE_TRY_AGAIN_LATER, f"transport unavailable ({exc})")
        if hub.count(self.user_key) >= conf.get("MAX_SOCKETS_PER_USER"):
            return await self._refuse(
                CLOSE_TOO_MANY_SOCKETS,
                f"already {hub.count(self.user_key)} socket(s) here "
                f"(NOTIFICATIONS['MAX_SOCKETS_PER_USER'])",
            )
        await self.accept()
        self.hub = hub
        # Attach before reading the state: a notification committed after
        # the state query is then pushed, one committed before is in it.
        await hub.attach(self)
        try:
            cursor, unread = await _state(self.user_id)
        except _database_errors() as exc:
            logger.warning("Database unavailable at connect (%s); closing with 4503.", exc)
            await self.shut(CLOSE_TRY_AGAIN_LATER)
            return
        if self._closed:
            return
        self.cursor = cursor
        await self._reply(frames.state(cursor, unread))
        self._ready = True
        pending, self._pending = self._pending, []
        for text, frame_cursor in pending:
            await self.push(text, frame_cursor)
        self._schedule_revalidation()
        await self._arm_wake()

    # Snoozes ending ------------------------------------------------------------
    # Each socket keeps one timer for its user's next snooze end and, when it
    # fires, sends itself ``notification.unsnoozed`` for what woke up: no cron
    # job, no process-wide scheduler, and a socket opened later arms its own.

    async def _arm_wake(self, at: datetime.datetime | None = None) -> None:
        """Set the timer to ``at``, or to the user's next snooze end (a query)."""
        if self._closed:
            return
        if at is None:
            try:
                at = await _next_wake(self.user_id)
            except _database_errors():
                return
            if self._wake is not None:
                self._wake.cancel()
                self._wake = None
            self._wake_at = None
        if at is None or (self._wake_at is not None and self._wake_at <= at):
            return
        if self._wake is not None:
            self._wake.cancel()
        self._wake_at = at
        delay = max(0.0, (at - datetime.datetime.now(datetime.UTC)).total_seconds())
        self._wake = asyncio.get_running_loop().call_later(
            delay + 0.01, lambda: _background(self._wake_up())
        )

    async def _wake_up(self) -> None:
        self._wake = None
        self._wake_at = None
        if self._closed:
            return
        now = datetime.datetime.now(datetime.UTC)
        try:
            texts = await _woken(self.user_id, self._woken_since, now)
        except _database_errors() as exc:
            logger.info("Could not read woken notifications of user %s (%s).", self.user_id, exc)
            texts = []
        self._woken_since = now
        for text in texts:
            await self.push(text, None)
        await self._arm_wake()

    def _saw_snooze(self, text: str) -> None:
        """Arm the timer from a pushed ``notification.snoozed`` frame."""
        until = json.loads(text).get("snoozed_until")
        if isinstance(until, str):
            at = datetime.datetime.fromisoformat(until)
            _background(self._arm_wake(at))

    async def _refuse(self, code: int, why: str) -> None:
        logger.info("Refusing a socket of user %s with %d: %s.", self.user_id, code, why)
        collector.refused()
        await self.accept()
        self._closed = True
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        """Called when the socket closes: leave the hub, log what was dropped."""
        self._closed = True
        self._stop_timers()
        if self.hub is not None:
            self.hub.detach(self)
        if self._limited:
            logger.warning(
                "Socket of user %s closed %d after exceeding the rate limit: %d frame(s) "
                "received, %d ignored after the limit.",
                self.user_id,
                CLOSE_RATE_LIMITED,
                self._frames_in,
                self._ignored,
            )

    # The hub's side (delivery.Subscriber) ------------------------------------

    async def push(self, text: str, cursor: int | None) -> None:
        """Send one pushed frame, unless the socket fell behind (then count it as dropped)."""
        if self._closed:
            return
        if cursor is not None and self.cursor is not None and cursor <= self.cursor:
            return  # Already in the state frame or pushed by the poller.
        if not self._ready:
            if len(self._pending) < _PENDING_LIMIT:
                self._pending.append((text, cursor))
            elif self._behind_since is None:
                self._fall_behind()
            return
        if self._behind_since is not None:
            self._dropped += 1
            return
        if self._unacked_bytes + len(text) > self._window:
            self._dropped += 1
            self._fall_behind()
            await self._send_counted(frames.RESYNC_TEXT, pushed=True)
            self._resync_at = self._sent
            return
        if cursor is not None:
            self.cursor = cursor
        elif text.startswith(_SNOOZED_PREFIX):
            self._saw_snooze(text)
        await self._send_counted(text, pushed=True)

    def _fall_behind(self) -> None:
        self._behind_since = time.monotonic()
        timeout = conf.get("ACK_TIMEOUT_SECONDS")
        asyncio.get_running_loop().call_later(timeout, self._check_behind, self._behind_since)

    def _check_behind(self, since: float) -> None:
        if self._behind_since == since and not self._closed:
            logger.warning(
                "Socket of user %s did not acknowledge a resync within %.0f s; %d frame(s) "
                "dropped; closing %d.",
                self.user_id,
                conf.get("ACK_TIMEOUT_SECONDS"),
                self._dropped,
                CLOSE_TOO_SLOW,
            )
            _background(self.shut(CLOSE_TOO_SLOW))

    async def resync(self) -> None:
        """Tell the client it may have missed frames (the transport reconnected)."""
        if self._closed:
            return
        if not self._ready:
            self._pending.append((frames.RESYNC_TEXT, None))
            return
        await self._send_counted(frames.RESYNC_TEXT, pushed=True)

    async def shut(self, code: int) -> None:
        """Close the socket with ``code`` (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop_timers()
        if self.hub is not None:
            self.hub.detach(self)
        with contextlib.suppress(Exception):  # The connection may be gone already.
            await self.close(code=code)

    def revalidate_soon(self) -> None:
        """Re-check this socket's session now (its user changed)."""
        if not self._closed and not self._revalidating:
            _background(self._revalidate())

    # Client frames -----------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Called for each client frame: decode it defensively and dispatch on ``action``."""
        self._frames_in += 1
        if self._closed:
            self._ignored += 1
            return
        if not self._take_token():
            self._limited = True
            await self.shut(CLOSE_RATE_LIMITED)
            return
        if text_data is None:
            await self._error("binary_not_supported", "Send JSON text frames.")
            return
        limit = conf.get("MAX_FRAME_BYTES")
        if len(text_data) > limit or len(text_data.encode("utf-8", "surrogatepass")) > limit:
            await self._error("too_large", f"Frames may be at most {limit} bytes.")
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("invalid_json", "The frame is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self._error("invalid_message", "A frame must be a JSON object.")
            return
        action = message.get("action")
        handler = self._actions.get(action) if isinstance(action, str) else None
        if handler is None:
            await self._error(
                "unknown_action", "Known actions: " + ", ".join(sorted(self._actions))
            )
            return
        try:
            reply = await handler(self, message)
        except InvalidParams as exc:
            await self._error("invalid_params", str(exc))
            return
        except Exception:
            # A bug or an outage in one handler: say whose socket and which action,
            # never the frame (the client's data), and let Channels close only this
            # socket (Daphne sends 1011).
            logger.exception("Socket of user %s: action %r failed.", self.user_id, action)
            raise
        if reply is None or self._closed:
            return
        ref = message.get("ref")
        if isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= 64:
            reply["ref"] = ref
        await self._reply(reply)

    async def action_ping(self, message: dict[str, Any]) -> dict[str, Any]:
        _check_keys(message, {"action", "ref", "frames"})
        if "frames" in message:
            self._ack(_int_param(message, "frames", low=0))
        cursor, unread = await _state(self.user_id)
        return frames.state(cursor, unread, kind=frames.PONG)

    async def action_sync(self, message: dict[str, Any]) -> dict[str, Any]:
        _check_keys(message, {"action", "ref", "after", "limit"})
        page = conf.get("SYNC_PAGE_SIZE")
        after = _int_param(message, "after", low=0)
        limit = _int_param(message, "limit", low=1, high=page, default=page)
        return {"type": frames.SYNC, **await _after(self.user_id, after, limit)}

    async def action_ack(self, message: dict[str, Any]) -> None:
        _check_keys(message, {"action", "frames"})
        self._ack(_int_param(message, "frames", low=0))

    _actions = {"ping": action_ping, "sync": action_sync, "ack": action_ack}

    # Helpers -------------------------------------------------------------------

    def _ack(self, frames_received: int) -> None:
        if frames_received > self._sent:
            raise InvalidParams(f"'frames' is {frames_received}, but only {self._sent} were sent.")
        newly = frames_received - self._acked
        if newly <= 0:
            return
        self._acked = frames_received
        sizes = self._sizes
        if sizes is not None:
            while sizes and sizes[0][0] <= frames_received:
                self._unacked_bytes -= sizes.popleft()[1]
            if not sizes:
                self._sizes = None
                self._unacked_bytes = 0
        if self._behind_since is not None and frames_received >= self._resync_at:
            logger.warning(
                "Socket of user %s fell behind: %d frame(s) were dropped and replaced by one "
                "resync, which it acknowledged after %.1f s.",
                self.user_id,
                self._dropped,
                time.monotonic() - self._behind_since,
            )
            self._behind_since = None
            self._dropped = 0

    async def _send_counted(self, text: str, *, pushed: bool = False) -> None:
        # Every frame counts (clients acknowledge a frame count); only pushes
        # count against the window: replies are bounded by the rate limit.
        self._sent += 1
        if pushed:
            self._unacked_bytes += len(text)
            if self._sizes is None:
                self._sizes = deque()
            self._sizes.append((self._sent, len(text)))
        await self.send(text_data=text)

    async def _reply(self, frame: dict[str, Any]) -> None:
        await self._send_counted(frames.encode(frame))

    async def _error(self, code: str, detail: str) -> None:
        await self._reply(frames.error(code, detail))

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = float(conf.get("RATE_LIMIT_PER_SECOND"))
        burst = float(conf.get("RATE_LIMIT_BURST"))
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _schedule_revalidation(self) -> None:
        # Jittered, so that sockets opened together do not revalidate together.
        delay = conf.get("REVALIDATE_SECONDS") * random.uniform(0.8, 1.2)
        self._revalidation = asyncio.get_running_loop().call_later(delay, self.revalidate_soon)

    def _stop_timers(self) -> None:
        if self._revalidation is not None:
            self._revalidation.cancel()
            self._revalidation = None
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None

    async def _revalidate(self) -> None:
        """Close if the session no longer logs in this user (4401) or is gone (4440).

        Else check again later.
        """
        self._revalidating = True
        try:
            user = await self._session_user()
            if user is not None and user is not _UNKNOWN and not self._logs_in(user):
                # A password change in this very session saves the user (which
                # revalidates us at once) and only then gives the session a new
                # key: look once more before telling the client it is logged out.
                await asyncio.sleep(_CYCLE_GRACE_SECONDS)
                user = await self._session_user()
        finally:
            self._revalidating = False
        if self._closed:
            return
        if user is None:
            logger.info("Session of a socket of user %s is gone; closing 4440.", self.user_id)
            await self.shut(CLOSE_SESSION_GONE)
            return
        if user is not _UNKNOWN and not self._logs_in(user):
            logger.info("Session of user %s is no longer valid; closing 4401.", self.user_id)
            await self.shut(CLOSE_UNAUTHENTICATED)
            return
        if self._revalidation is not None:
            self._revalidation.cancel()
        self._schedule_revalidation()

    async def _session_user(self) -> Any:
        """The session's user now, None if the session is gone, ``_UNKNOWN`` on a DB error."""
        try:
            return await arevalidate(self.session_key)
        except _database_errors() as exc:
            logger.info("Could not revalidate a socket of user %s (%s).", self.user_id, exc)
            return _UNKNOWN

    def _logs_in(self, user: Any) -> bool:
        return user.is_authenticated and user.pk == self.user_id and user.is_active


#: A revalidation that could not reach the database: keep the socket, check later.
_UNKNOWN = object()
#: How long a session that stopped logging its user in may take to get its new key.
_CYCLE_GRACE_SECONDS = 0.5

_tasks: set[asyncio.Future] = set()


def _background(coro: Any) -> None:
    # A reference until done: the loop keeps only weak ones to its tasks.
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _state_sync(user_id: Any) -> tuple[int, int]:
    # Imported here: consumers are imported by routing, before models are needed.
    from .models import Inbox

    return Inbox.objects.state(user_id)


def _after_sync(user_id: Any, after: int, limit: int) -> dict[str, Any]:
    from .models import Inbox, Notification

    # The cursor first: every cursor up to it is then visible to the row
    # query, so the client may adopt it without skipping a late commit.
    cursor, unread = Inbox.objects.state(user_id)
    rows = list(
        Notification.objects.filter(recipient_id=user_id)
        .active()
        .after(after)
        .select_related("actor")[: limit + 1]
    )
    return {
        "notifications": [n.as_dict() for n in rows[:limit]],
        "complete": len(rows) <= limit,
        "cursor": cursor,
        "unread_count": unread,
    }


def _next_wake_sync(user_id: Any) -> datetime.datetime | None:
    from .models import Notification

    return (
        Notification.objects.filter(recipient_id=user_id)
        .snoozed()
        .order_by("snoozed_until")
        .values_list("snoozed_until", flat=True)
        .first()
    )


def _woken_sync(user_id: Any, since: datetime.datetime, now: datetime.datetime) -> list[str]:
    """Encode ``notification.unsnoozed`` for the user's snoozes that ended in ``(since, now]``."""
    from .models import Inbox, Notification

    rows = list(
        Notification.objects.filter(
            recipient_id=user_id, snoozed_until__gt=since, snoozed_until__lte=now
        )
        .active()
        .select_related("actor")
        .order_by("cursor")[: conf.get("SYNC_PAGE_SIZE")]
    )
    if not rows:
        return []
    _cursor, unread = Inbox.objects.state(user_id)
    return [
        frames.encode(
            {"type": frames.UNSNOOZED, "notification": n.as_dict(), "unread_count": unread}
        )
        for n in rows
    ]


# On the notifications worker threads: sockets query in parallel.
_state = database_call(_state_sync)
_after = database_call(_after_sync)
_next_wake = database_call(_next_wake_sync)
_woken = database_call(_woken_sync)
_SNOOZED_PREFIX = f'{{"type":"{frames.SNOOZED}"'


def _check_keys(message: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(message) - allowed)
    if extra:
        raise InvalidParams(f"Unexpected field(s): {', '.join(extra)[:200]}.")


def _int_param(
    message: dict[str, Any],
    name: str,
    *,
    low: int,
    high: int = _MAX_INT,
    default: int | None = None,
) -> int:
    value = message.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParams(f"{name!r} must be an integer from {low} to {high}.")
    return value
