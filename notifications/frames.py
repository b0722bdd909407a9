"""The socket protocol: every frame type, and the one encoder that builds them.

Server → client (JSON text frames; ``unread_count`` rides on most of them)::

    {"type": "state", "cursor": C, "unread_count": N}           always the first frame
    {"type": "notification.created", "notification": {...}, "unread_count": N}
    {"type": "notification.read", "ids": [...], "read_at": "...", "unread_count": N}
    {"type": "notification.unread", "ids": [...], "unread_count": N}
    {"type": "notification.deleted", "ids": [...], "unread_count": N}
    {"type": "notifications.read_all", "cursor": C, "read_at": "...", "unread_count": N}
    {"type": "notification.seen", "ids": [...], "seen_at": "...", "unread_count": N}
    {"type": "notifications.seen_all", "cursor": C, "seen_at": "...", "unread_count": N}
    {"type": "notification.archived", "ids": [...], "archived_at": "...", "unread_count": N}
    {"type": "notification.unarchived", "ids": [...], "unread_count": N}
    {"type": "notification.snoozed", "ids": [...], "snoozed_until": "..." | null, "unread_count": N}
    {"type": "notification.unsnoozed", "notification": {...}, "unread_count": N}
    {"type": "notification.pinned", "ids": [...], "unread_count": N}
    {"type": "notification.unpinned", "ids": [...], "unread_count": N}
    {"type": "resync"}          frames were dropped: fetch after your cursor, reload the list
    {"type": "pong", "cursor": C, "unread_count": N}             answers ping
    {"type": "sync", "notifications": [...], "complete": bool, "cursor": C, "unread_count": N}
    {"type": "error", "code": "...", "detail": "..."}

``unread_count`` counts unread notifications that are active (not archived,
expired or snoozed). With ``BADGE_COUNTS = "unseen"`` every frame that carries
``unread_count`` carries ``unseen_count`` too. ``notification.unsnoozed`` is
sent by each socket's own timer when a snooze ends (``snoozed_until: null`` in
``notification.snoozed`` means it was woken early); a repeated ``send(key=...)``
pushes nothing.

Client → server: ``{"action": "ping"}``, ``{"action": "sync", "after": C, "limit": L}``
and ``{"action": "ack", "frames": N}`` (N: frames received on this socket so far).

Nothing here touches the database or the transport: builders take plain data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

STATE = "state"
CREATED = "notification.created"
READ = "notification.read"
UNREAD = "notification.unread"
DELETED = "notification.deleted"
READ_ALL = "notifications.read_all"
SEEN = "notification.seen"
SEEN_ALL = "notifications.seen_all"
ARCHIVED = "notification.archived"
UNARCHIVED = "notification.unarchived"
SNOOZED = "notification.snoozed"
UNSNOOZED = "notification.unsnoozed"
PINNED = "notification.pinned"
UNPINNED = "notification.unpinned"
RESYNC = "resync"
PONG = "pong"
SYNC = "sync"
ERROR = "error"

#: Frame types a client may be sent unasked (pushes), as opposed to replies.
PUSH_TYPES = frozenset(
    {
        CREATED,
        READ,
        UNREAD,
        DELETED,
        READ_ALL,
        RESYNC,
        SEEN,
        SEEN_ALL,
        ARCHIVED,
        UNARCHIVED,
        SNOOZED,
        UNSNOOZED,
        PINNED,
        UNPINNED,
    }
)


def encode(frame: dict[str, Any]) -> str:
    """Encode a frame for the socket: compact ASCII JSON (no raw newlines), Django types allowed."""
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def created(notification: dict[str, Any], unread_count: int) -> dict[str, Any]:
    return {"type": CREATED, "notification": notification, "unread_count": unread_count}


def created_copies(notification: dict[str, Any], rows: list[tuple[int, int, int]]) -> list[str]:
    """Encode ``created`` frames of copies of ``notification``: ``(id, cursor, unread)`` each.

    The text ``encode(created(...))`` would give, byte for byte, with the
    shared part encoded once (a broadcast to thousands of users).
    """
    rest = {k: v for k, v in notification.items() if k not in ("id", "cursor")}
    if not rest or list(notification)[:2] != ["id", "cursor"]:
        return [encode(created({**notification, "id": i, "cursor": c}, u)) for i, c, u in rows]
    tail = encode(rest)[1:]  # '"title":...}' without its opening brace
    head = f'{{"type":"{CREATED}","notification":{{"id":'
    return [
        f'{head}{int(pk)},"cursor":{int(cursor)},{tail},"unread_count":{int(unread)}}}'
        for pk, cursor, unread in rows
    ]


def changed(kind: str, ids: list[Any], unread_count: int, **extra: Any) -> dict[str, Any]:
    """A read, unread or deleted frame for ``ids`` of one user."""
    return {"type": kind, "ids": ids, **extra, "unread_count": unread_count}


def read_all(cursor: int, read_at: str, unread_count: int) -> dict[str, Any]:
    return {"type": READ_ALL, "cursor": cursor, "read_at": read_at, "unread_count": unread_count}


def state(cursor: int, unread_count: int, kind: str = STATE) -> dict[str, Any]:
    return {"type": kind, "cursor": cursor, "unread_count": unread_count}


def error(code: str, detail: str) -> dict[str, Any]:
    return {"type": ERROR, "code": code, "detail": detail}


#: Pre-encoded: sent as is by the transport when a socket fell behind.
RESYNC_TEXT = encode({"type": RESYNC})


def ids_by_user(rows: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    """Group ``(notification id, user id)`` rows into ``{user id: [ids]}``, keeping order."""
    ids: dict[Any, list[Any]] = defaultdict(list)
    for pk, user_id in rows:
        ids[user_id].append(pk)
    return ids
