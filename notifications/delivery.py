"""Websocket delivery over the channel layer.

Every channel-layer detail lives here: group names, event types and
``group_send``. Pushes are scheduled with ``transaction.on_commit`` so that a
rolled-back transaction pushes nothing, and a failed push (Redis down, layer
full) is logged, never raised: the row is already saved and clients recover it
through their cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
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
# From this many frames on, skip groups without sockets (see _with_listeners);
# commands per Redis pipeline while finding them.
_PREFETCH_MIN = 20
_PIPELINE_SIZE = 2000


def group_name(user_id: Any) -> str:
    """Return the channel-layer group of one user's sockets.

    A hash of the primary key: group names allow only ASCII letters, digits and
    ``-_.`` (under 100 characters), and a key may be an e-mail or any string.
    """
    return "notifications.user." + hashlib.sha256(str(user_id).encode()).hexdigest()[:40]


#: Layer event that closes every socket of one session; handled by
#: ``NotificationConsumer.notifications_close``.
CLOSE_EVENT = "notifications.close"


def session_group_name(session_key: str) -> str:
    """Return the group of one login session's sockets (a hash: keys are secrets)."""
    return "notifications.session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def close_session_sockets(session_key: str | None, *, code: int = 4401) -> None:
    """Close every socket opened with ``session_key`` (on logout). Never raises."""
    if not session_key:
        return
    alias = conf.get("CHANNEL_LAYER")
    try:
        layer = get_channel_layer(alias)
        if layer is not None:
            async_to_sync(layer.group_send)(
                session_group_name(session_key), {"type": CLOSE_EVENT, "code": code}
            )
    except Exception as exc:
        logger.warning(
            "Could not close the sockets of a logged-out session (%s: %s); they close at "
            "their next revalidation.",
            type(exc).__name__,
            exc,
        )


def encode(frame: dict[str, Any]) -> str:
    """Encode a frame for the socket: compact JSON, Django types allowed."""
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def schedule_created(notifications: Sequence[Notification], *, using: str) -> None:
    """After the current transaction commits, push ``notifications`` and signal them."""
    if notifications and not _muted.get():
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
    try:
        pending = await _with_listeners(layer, events)
    except Exception as exc:
        # The shortcut reads channels-redis internals; if they moved (or Redis
        # is down), take the plain path, which reports real failures below.
        logger.debug("Listener prefetch failed (%s); sending to every group.", exc)
        pending = events
    # A group nobody listens to has nothing to deliver: counted as sent,
    # exactly as group_send on an empty group would be.
    sent = len(events) - len(pending)
    for batch in _batches_keeping_group_order(pending):
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


def _batches_keeping_group_order(
    events: list[tuple[str, dict[str, Any]]],
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Yield batches to send concurrently, never two events of one group in a batch.

    Concurrent ``group_send`` calls to one group can overtake each other, so a
    user receiving several notifications at once would see them out of order.
    The n-th event of every group goes in round n; rounds are sent one after
    the other, each in slices of ``_CONCURRENCY``.
    """
    rounds: list[list[tuple[str, dict[str, Any]]]] = []
    depth: dict[str, int] = defaultdict(int)
    for group, event in events:
        n = depth[group]
        depth[group] += 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append((group, event))
    for round_ in rounds:
        for start in range(0, len(round_), _CONCURRENCY):
            yield round_[start : start + _CONCURRENCY]


async def _with_listeners(
    layer: Any, events: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """Return the events whose group has a member, asking Redis in a few pipelines.

    Most recipients of a broadcast have no open tab, and channels-redis's
    ``group_send`` costs two round trips and ~0.1 ms of CPU even for an empty
    group (10 000 users: 1.2 s). Counting members with one pipelined ZCOUNT
    per group, then calling ``group_send`` for the non-empty ones only, does
    the same deliveries several times faster. This reads channels-redis's
    group key layout (``_group_key``, ``consistent_hash``, ``group_expiry``):
    for other layers, or small sends, every event goes through ``group_send``.
    """
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # channels-redis is optional.
        return events
    if len(events) < _PREFETCH_MIN or not isinstance(layer, RedisChannelLayer):
        return events
    # Members whose score is at or below this are expired; group_send would
    # drop them before sending.
    expired = int(time.time()) - int(layer.group_expiry)
    by_shard: dict[int, list[int]] = defaultdict(list)
    for position, (group, _event) in enumerate(events):
        by_shard[layer.consistent_hash(group)].append(position)
    listened = [False] * len(events)
    for shard, positions in by_shard.items():
        connection = layer.connection(shard)
        for start in range(0, len(positions), _PIPELINE_SIZE):
            chunk = positions[start : start + _PIPELINE_SIZE]
            pipe = connection.pipeline(transaction=False)
            for position in chunk:
                pipe.zcount(layer._group_key(events[position][0]), f"({expired}", "+inf")
            for position, members in zip(chunk, await pipe.execute(), strict=True):
                listened[position] = members > 0
    return [event for event, keep in zip(events, listened, strict=True) if keep]


# State changes ---------------------------------------------------------------
# Reading, unreading and deleting are pushed to every socket of the user, so
# that all of their open tabs agree. Each frame carries the unread count taken
# after the change committed, so a tab sets its badge without asking.


def frames_by_user(
    rows: Iterable[tuple[int, Any]], frame: dict[str, Any]
) -> list[tuple[Any, dict[str, Any]]]:
    """Turn ``(notification id, user id)`` rows into one ``frame`` per user with its ``ids``."""
    ids: dict[Any, list[int]] = defaultdict(list)
    for pk, user_id in rows:
        ids[user_id].append(pk)
    return [(user_id, {**frame, "ids": pks}) for user_id, pks in ids.items()]


def schedule_read_all(user_id: Any, *, cursor: int, read_at: str, using: str) -> None:
    """After commit, push ``notifications.read_all``: every cursor up to ``cursor`` is read."""
    frame = {"type": "notifications.read_all", "cursor": cursor, "read_at": read_at}
    schedule_changes([(user_id, frame)], using=using)


def schedule_changes(frames: Sequence[tuple[Any, dict[str, Any]]], *, using: str) -> None:
    """After commit, push each ``(user_id, frame)`` with the user's new unread count."""
    if frames and not _muted.get():
        transaction.on_commit(partial(push_changes, list(frames)), using=using)


def push_changes(frames: Sequence[tuple[Any, dict[str, Any]]]) -> int:
    """Push each ``(user_id, frame)`` plus the user's ``unread_count`` (one count query)."""
    counts = unread_counts({user_id for user_id, _frame in frames})
    return send_frames(
        (user_id, {**frame, "unread_count": counts.get(user_id, 0)}) for user_id, frame in frames
    )


# Muting ----------------------------------------------------------------------
# Importing historical rows (import_notifications_hq) must allocate cursors but
# must neither toast months-old notifications nor fire notification_created.

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_muted", default=False)


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
