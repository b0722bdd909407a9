"""What is pushed, and when: after commit, with fresh unread counts, to users who are online.

The models call ``schedule_created`` and ``schedule_changes`` inside the
transaction that makes a change; the frames are built and handed to
``delivery`` only once it commits (a rollback pushes nothing). A push
failure is logged by the transport, never raised: the rows are saved and
clients recover them through their cursor.

Users with no open socket anywhere (the transport knows, on Redis) cost
nothing but the presence lookup: no count query, no frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction

from . import conf, delivery, frames
from .signals import notification_created

if TYPE_CHECKING:
    from .models import Notification


def schedule_created(
    notifications: Sequence[Notification], *, using: str, shared: Notification | None = None
) -> None:
    """After the current transaction commits, push ``notifications`` and signal them.

    ``shared``: every notification is a copy of it but for id, recipient and
    cursor (``send()``), so its frame is encoded once for all of them.
    """
    if notifications and not delivery.is_muted():
        after_commit(_on_created, list(notifications), shared, using=using)


def _on_created(notifications: list[Notification], shared: Notification | None = None) -> None:
    if shared is not None and len(notifications) > 1:
        first = notifications[0]
        copies_created(first, [(n.pk, n.recipient_id, n.cursor) for n in notifications])
    else:
        created(notifications)
    signal_created(notifications)


def signal_created(notifications: Sequence[Notification]) -> None:
    """Send ``notification_created`` for each notification (after commit)."""
    if delivery.is_muted():
        return
    for notification in notifications:
        notification_created.send(sender=type(notification), notification=notification)


def created(notifications: Sequence[Notification]) -> int:
    """Push a ``notification.created`` frame for each notification whose user is online."""
    keys = {n.recipient_id: delivery.user_key(n.recipient_id) for n in notifications}
    online = delivery.online(list(set(keys.values())))
    if online is not None:
        notifications = [n for n in notifications if keys[n.recipient_id] in online]
    if not notifications:
        return 0
    counts = unread_counts({n.recipient_id for n in notifications})
    return delivery.publish(
        [
            (
                keys[n.recipient_id],
                frames.encode(frames.created(n.as_dict(), counts.get(n.recipient_id, 0))),
                n.cursor,
            )
            for n in notifications
        ]
    )


def copies_created(first: Notification, rows: Sequence[tuple[Any, Any, int]]) -> int:
    """Push ``created`` frames for copies of ``first``: ``(id, recipient id, cursor)`` rows.

    ``send()``'s case: one notification per recipient, all alike but for id,
    recipient and cursor. Its frame is encoded once for all of them, and no
    model instance is needed, so a broadcast is pushed before ``send()``
    builds the thousands it returns.
    """
    if delivery.is_muted():
        return 0
    keys = {user_id: delivery.user_key(user_id) for _pk, user_id, _cursor in rows}
    online = delivery.online(list(set(keys.values())))
    if online is not None:
        rows = [row for row in rows if keys[row[1]] in online]
    if not rows:
        return 0
    counts = unread_counts({user_id for _pk, user_id, _cursor in rows})
    texts = frames.created_copies(
        first.as_dict(), [(pk, cursor, counts.get(user_id, 0)) for pk, user_id, cursor in rows]
    )
    return delivery.publish(
        [
            (keys[user_id], text, cursor)
            for (_pk, user_id, cursor), text in zip(rows, texts, strict=True)
        ]
    )


def unread_counts(user_ids: Iterable[Any]) -> dict[Any, int]:
    """Return the unread count of each user (users with none are left out)."""
    # Imported here: models imports this module.
    from .models import unread_counts

    return unread_counts(user_ids)


# State changes ---------------------------------------------------------------
# Reading, unreading and deleting are pushed to every socket of the user, so
# that all of their open tabs agree. Each frame carries the unread count taken
# after the change committed, so a tab sets its badge without asking.


def schedule_changes(changes: Sequence[tuple[Any, dict[str, Any]]], *, using: str) -> None:
    """After commit, push each ``(user_id, frame without unread_count)``."""
    if changes and not delivery.is_muted():
        after_commit(push_changes, list(changes), using=using)


def after_commit(func: Callable[..., Any], *args: Any, using: str) -> None:
    """Call ``func(*args)`` once the transaction on ``using`` commits.

    Robust: a failing push is logged (``django.db.backends.base``) and never
    reaches the caller, whose rows are committed, nor stops the transaction's
    other commit callbacks (TX-05). A plain function, not a ``partial``: Django
    names the callback by its ``__qualname__`` when it logs the failure.
    """

    def callback() -> None:
        func(*args)

    callback.__qualname__ = func.__qualname__
    transaction.on_commit(callback, using=using, robust=True)


def schedule_by_user(rows: Iterable[tuple[Any, Any]], kind: str, *, using: str, **extra) -> None:
    """After commit, push one ``kind`` frame per user of the ``(id, user id)`` rows."""
    schedule_changes(
        [
            (user_id, {"type": kind, "ids": ids, **extra})
            for user_id, ids in frames.ids_by_user(rows).items()
        ],
        using=using,
    )


def push_changes(changes: Sequence[tuple[Any, dict[str, Any]]]) -> int:
    """Push each ``(user_id, frame)`` plus the user's ``unread_count`` (one count query)."""
    keys = {user_id: delivery.user_key(user_id) for user_id, _frame in changes}
    online = delivery.online(list(set(keys.values())))
    if online is not None:
        changes = [(u, f) for u, f in changes if keys[u] in online]
    if not changes:
        return 0
    counts = unread_counts({user_id for user_id, _frame in changes})
    return delivery.publish(
        [
            (keys[user_id], frames.encode({**frame, "unread_count": counts.get(user_id, 0)}), None)
            for user_id, frame in changes
        ]
    )


# The local transport's poller ----------------------------------------------------


def poll_missed(cursors: dict[str, int]) -> list[delivery.Entry]:
    """Return frames for what committed after each user's cursor (``{user key: cursor}``).

    Used by the "local" transport, which has no Redis to hear other
    processes: one query finds the users whose inbox moved past the cursor
    their sockets hold, one more per such user reads what they missed. More
    than a page becomes one ``resync`` frame.
    """
    from django.contrib.auth import get_user_model

    from .models import Inbox, Notification

    to_pk = get_user_model()._meta.pk.to_python
    pks = {to_pk(delivery.pk_of(key)): cursor for key, cursor in cursors.items()}
    behind = [
        (pk, pks[pk])
        for pk, last in Inbox.objects.filter(user_id__in=list(pks)).values_list(
            "user_id", "last_cursor"
        )
        if last > pks[pk]
    ]
    if not behind:
        return []
    page = conf.get("SYNC_PAGE_SIZE")
    counts = unread_counts(pk for pk, _cursor in behind)
    entries: list[delivery.Entry] = []
    for pk, cursor in behind:
        key = delivery.user_key(pk)
        rows = list(
            Notification.objects.filter(recipient_id=pk)
            .active()
            .after(cursor)
            .select_related("actor")[: page + 1]
        )
        if len(rows) > page:
            entries.append((key, frames.RESYNC_TEXT, None))
            continue
        entries.extend(
            (key, frames.encode(frames.created(n.as_dict(), counts.get(pk, 0))), n.cursor)
            for n in rows
        )
    return entries
