"""The websocket consumer: one per open tab, joined to its user's group.

Protocol (JSON text frames; the full list is in the README):

* server → client on connect: ``{"type": "state", "cursor": C, "unread_count": N}``
* server → client per new notification:
  ``{"type": "notification.created", "notification": {...}, "unread_count": N}``
* client → server ``{"action": "ping"}`` → ``{"type": "pong", "cursor": C, "unread_count": N}``
* client → server ``{"action": "sync", "after": C, "limit": L}`` →
  ``{"type": "sync", "notifications": [...], "complete": bool, "cursor": C, "unread_count": N}``
* any bad frame → ``{"type": "error", "code": "...", "detail": "..."}``; the socket stays open.

Close codes: 4401 not authenticated, 4429 rate limit exceeded, 4503 channel
layer unavailable (try again later). Application codes are in the 4000 range
because Daphne's websocket implementation (autobahn) refuses to send any close
code but 1000 and 3000-4999 from an application: a consumer that closes with
1008 or 1013 raises, and the socket stays open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import conf, delivery
from .auth import aget_user_for_session_key

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401  # like HTTP 401
CLOSE_RATE_LIMITED = 4429  # like HTTP 429
CLOSE_TRY_AGAIN_LATER = 4503  # like HTTP 503

_MAX_INT = 2**63 - 1


def _layer_down_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    try:
        import redis.exceptions
    except ImportError:  # pragma: no cover - channels-redis is optional
        pass
    else:
        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    return tuple(errors)


LAYER_DOWN_ERRORS = _layer_down_errors()


class InvalidParams(ValueError):
    pass


class NotificationConsumer(AsyncWebsocketConsumer):
    """Push the authenticated user's notifications; answer ping and sync."""

    user_id: Any = None
    group: str | None = None
    session_group: str | None = None

    @property
    def channel_layer_alias(self) -> str:  # type: ignore[override]
        return conf.get("CHANNEL_LAYER")

    async def __call__(self, scope, receive, send):
        """Run the consumer; close with 4503, not 1011, when the layer goes down."""
        try:
            await super().__call__(scope, receive, send)
        except LAYER_DOWN_ERRORS as exc:
            logger.warning(
                "Channel layer unavailable (%s: %s); closing socket of user %s with 4503.",
                type(exc).__name__,
                exc,
                self.user_id,
            )
            with contextlib.suppress(Exception):  # The connection may be gone already.
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def connect(self) -> None:
        """Called on the handshake: authenticate, join the user's group, send state."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept then close, so browsers see 4401 and stop retrying.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if self.channel_layer is None:
            logger.error(
                "No channel layer %r is configured; refusing socket.", self.channel_layer_alias
            )
            await self.close()
            return
        self.user_id = user.pk
        self.group = delivery.group_name(user.pk)
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        if self.session_key:
            self.session_group = delivery.session_group_name(self.session_key)
        self._validated_at = time.monotonic()
        self._tokens = float(conf.get("RATE_LIMIT_BURST"))
        self._tokens_at = time.monotonic()
        try:
            await self._join()
        except LAYER_DOWN_ERRORS as exc:
            logger.warning("Channel layer unavailable at connect (%s); closing with 4503.", exc)
            self.group = self.session_group = None
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        await self.accept()
        await self._send_json({"type": "state", **await self._state()})

    async def disconnect(self, code: int) -> None:
        """Called when the socket closes: leave the group (best effort)."""
        # Best effort: membership expires with group_expiry anyway.
        for group in (self.group, self.session_group):
            if group is not None:
                with contextlib.suppress(*LAYER_DOWN_ERRORS):
                    await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Called for each client frame: decode it defensively and dispatch on ``action``."""
        if not self._take_token():
            logger.info("User %s exceeded the websocket rate limit; closing 4429.", self.user_id)
            await self.close(code=CLOSE_RATE_LIMITED)
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
        if not await self._still_authenticated():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            reply = await handler(self, message)
        except InvalidParams as exc:
            await self._error("invalid_params", str(exc))
            return
        ref = message.get("ref")
        if isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= 64:
            reply["ref"] = ref
        await self._send_json(reply)

    async def notifications_frame(self, event: dict[str, Any]) -> None:
        """Called for each layer event from ``delivery``: forward its pre-encoded frame."""
        await self.send(text_data=event["text"])

    async def notifications_close(self, event: dict[str, Any]) -> None:
        """Called when the socket's session logs out: close it."""
        await self.close(code=event.get("code", CLOSE_UNAUTHENTICATED))

    # Actions -----------------------------------------------------------------

    async def action_ping(self, message: dict[str, Any]) -> dict[str, Any]:
        _check_keys(message, {"action", "ref"})
        if time.monotonic() - self._joined_at > conf.get("GROUP_REFRESH_SECONDS"):
            await self._join()
        return {"type": "pong", **await self._state()}

    async def action_sync(self, message: dict[str, Any]) -> dict[str, Any]:
        _check_keys(message, {"action", "ref", "after", "limit"})
        page = conf.get("SYNC_PAGE_SIZE")
        after = _int_param(message, "after", low=0)
        limit = _int_param(message, "limit", low=1, high=page, default=page)
        return {"type": "sync", **await self._after(after, limit)}

    _actions = {"ping": action_ping, "sync": action_sync}

    # Helpers -----------------------------------------------------------------

    async def _join(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        if self.session_group is not None:
            await self.channel_layer.group_add(self.session_group, self.channel_name)
        self._joined_at = time.monotonic()

    async def _still_authenticated(self) -> bool:
        """Re-read the session when due; False if it no longer logs in this user."""
        if time.monotonic() - self._validated_at < conf.get("REVALIDATE_SECONDS"):
            return True
        user = await aget_user_for_session_key(self.session_key)
        if not user.is_authenticated or user.pk != self.user_id or not user.is_active:
            logger.info("Session of user %s is no longer valid; closing 4401.", self.user_id)
            return False
        self._validated_at = time.monotonic()
        return True

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

    async def _error(self, code: str, detail: str) -> None:
        await self._send_json({"type": "error", "code": code, "detail": detail})

    async def _send_json(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=delivery.encode(frame))

    @database_sync_to_async
    def _state(self) -> dict[str, Any]:
        return _user_state(self.user_id)

    @database_sync_to_async
    def _after(self, after: int, limit: int) -> dict[str, Any]:
        from .models import Notification

        rows = list(
            Notification.objects.filter(recipient_id=self.user_id)
            .after(after)
            .select_related("actor")[: limit + 1]
        )
        return {
            "notifications": [n.as_dict() for n in rows[:limit]],
            "complete": len(rows) <= limit,
            **_user_state(self.user_id),
        }


def _user_state(user_id: Any) -> dict[str, Any]:
    """Return the user's current cursor and unread count (two indexed queries)."""
    # Imported here: consumers are imported by routing, before models are needed.
    from .models import Inbox, Notification

    unread = Notification.objects.filter(recipient_id=user_id).unread().count()
    return {"cursor": Inbox.objects.last_cursor(user_id), "unread_count": unread}


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
