"""Websocket delivery over the channel layer.

Every channel-layer detail lives here: group names, event types and
``group_send``. Pushes are scheduled with ``transaction.on_commit`` so that a
rolled-back transaction pushes nothing, and a failed push (Redis down, layer
full) is logged, never raised: the row is already saved and clients recover it
through their cursor.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from . import conf
from .signals import notification_created

if TYPE_CHECKING:
    from .models import Notification

logger = logging.getLogger(__name__)

#: Layer event that carries one pre-encoded text frame to a socket; handled by
#: ``NotificationConsumer.notifications_frame``.
FRAME_EVENT = "notifications.frame"

# group_send calls in flight at once: enough to hide Redis round trips, few
# enough to stay well inside the connection pool.
_CONCURRENCY = 100


def group_name(user_id: Any) -> str:
    """Return the channel-layer group of one user's sockets."""
    return f"notifications.user.{user_id}"


def encode(frame: dict[str, Any]) -> str:
    """Encode a frame for the socket: compact JSON, Django types allowed."""
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def schedule_created(notifications: Sequence[Notification], *, using: str) -> None:
    """After the current transaction commits, push ``notifications`` and signal them."""
    if notifications:
        transaction.on_commit(partial(_on_created, list(notifications)), using=using)


def _on_created(notifications: list[Notification]) -> None:
    push_created(notifications)
    for notification in notifications:
        notification_created.send(sender=type(notification), notification=notification)


def push_created(notifications: Sequence[Notification]) -> int:
    """Push a ``notification.created`` frame for each notification; return frames sent."""
    counts = unread_counts({n.recipient_id for n in notifications})
    return send_frames(
        (
            n.recipient_id,
            {
                "type": "notification.created",
                "notification": n.as_dict(),
                "unread_count": counts.get(n.recipient_id, 0),
            },
        )
        for n in notifications
    )


def unread_counts(user_ids: Iterable[Any]) -> dict[Any, int]:
    """Return the unread count of each user, in one query per few thousand users."""
    # Imported here: models imports this module.
    from django.db.models import Count

    from .models import Notification

    user_ids = list(user_ids)
    counts: dict[Any, int] = {}
    for start in range(0, len(user_ids), 5000):
        rows = (
            Notification.objects.unread()
            .filter(recipient_id__in=user_ids[start : start + 5000])
            .order_by()
            .values_list("recipient_id")
            .annotate(n=Count("id"))
        )
        counts.update(rows)
    return counts


def send_frames(frames: Iterable[tuple[Any, dict[str, Any]]]) -> int:
    """Send each ``(user_id, frame)`` to all of that user's sockets.

    Return how many group sends succeeded. Never raises: a failure is logged
    once for the whole batch.
    """
    events = [
        (group_name(user_id), {"type": FRAME_EVENT, "text": encode(frame)})
        for user_id, frame in frames
    ]
    if not events:
        return 0
    alias = conf.get("CHANNEL_LAYER")
    try:
        layer = get_channel_layer(alias)
    except Exception:
        logger.exception("Channel layer %r could not be created; nothing pushed.", alias)
        return 0
    if layer is None:
        logger.warning(
            "No channel layer %r is configured (settings.CHANNEL_LAYERS); %d "
            "notification frame(s) saved but not pushed.",
            alias,
            len(events),
        )
        return 0
    try:
        return async_to_sync(_group_send_all)(layer, events)
    except Exception:
        logger.exception("Pushing %d notification frame(s) failed.", len(events))
        return 0


async def _group_send_all(layer: Any, events: list[tuple[str, dict[str, Any]]]) -> int:
    sent = 0
    error: BaseException | None = None
    for start in range(0, len(events), _CONCURRENCY):
        batch = events[start : start + _CONCURRENCY]
        results = await asyncio.gather(
            *(layer.group_send(group, event) for group, event in batch),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        sent += len(batch) - len(failed)
        if failed:
            error = failed[0]
            if len(failed) == len(batch):
                break  # The layer is down; don't hammer it with the rest.
    if error is not None:
        logger.warning(
            "Pushed %d of %d notification frame(s); the rest failed (%s: %s). "
            "The notifications are saved; clients recover them on their next sync.",
            sent,
            len(events),
            type(error).__name__,
            error,
        )
    return sent
