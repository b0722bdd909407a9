"""Email digests: what stayed unread, one email per user per run.

Run ``python manage.py notifications_email_digest`` from cron (every few
minutes). Each run emails every user who has notifications that are unread,
older than ``EMAIL_DELAY_MINUTES`` and not yet emailed, through Django's email
backend: one digest per user listing up to ``EMAIL_DIGEST_LIMIT`` of them.

Runs may overlap (two cron hosts, a slow run): users are *claimed* first, in
a short transaction that locks their ``Inbox`` rows with ``SELECT ... FOR
UPDATE SKIP LOCKED`` and sets ``emailed_at`` on their pending rows; a
concurrent run skips locked users and no longer matches committed rows, so no
notification is emailed twice and nobody gets two digests at once. (SQLite has no
row locks: its write lock serialises the claims.) The email is sent after the
claim commits; if sending a user's digest fails, that user's rows are
released for the next run.

A notification whose category the user turned off for email, or whose user
has no email address or is inactive, is marked handled without an email.

Templates, all overridable by the project: ``notifications/email/
digest_subject.txt``, ``digest.txt`` and ``digest.html``. Each email carries
a signed one-click unsubscribe link (``List-Unsubscribe`` and
``List-Unsubscribe-Post`` headers, RFC 8058) that needs no login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connections, router, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from . import conf, languages, preferences

logger = logging.getLogger(__name__)

# Users whose rows one claim transaction takes: short locks, bounded memory.
BATCH_USERS = 200


@dataclass
class Result:
    """What one run did."""

    emails: int = 0
    notifications: int = 0
    skipped: int = 0
    failed: int = 0
    users: list[Any] = field(default_factory=list)


def pending(now: datetime | None = None, *, using: str | None = None) -> Any:
    """Return what a digest would take now: unread, unseen, active, old enough, not emailed."""
    from .models import Notification, active_q

    now = now or timezone.now()
    cutoff = now - timedelta(minutes=conf.get("EMAIL_DELAY_MINUTES"))
    db = using or router.db_for_write(Notification)
    # Unread and unseen (an inbox showed it: no reminder needed), and active: not
    # archived, expired or snoozed at ``now``.
    return (
        Notification.objects.using(db)
        .unread()
        .unseen()
        .filter(active_q(now), emailed_at__isnull=True, created_at__lte=cutoff)
    )


def send_digests(
    *,
    now: datetime | None = None,
    base_url: str = "",
    batch_users: int = BATCH_USERS,
    connection: Any = None,
) -> Result:
    """Email every user with pending notifications one digest; return what was done."""
    from .models import Notification

    now = now or timezone.now()
    db = router.db_for_write(Notification)
    base = (base_url or conf.get("SITE_URL") or "http://localhost").rstrip("/")
    result = Result()
    mail = connection or get_connection()
    last_user: Any = None
    with mail:
        while True:
            claimed, last_user = _claim(now, db, last_user, batch_users)
            if last_user is None:
                break
            if claimed:
                _email(claimed, base, mail, db, result)
    return result


def _claim(now: datetime, db: str, after_user: Any, batch: int) -> tuple[dict[Any, list], Any]:
    """Claim the pending rows of the next ``batch`` users after ``after_user``.

    Return ``({user id: [notifications]}, last user id looked at)``; the user
    id is None when no user is left.
    """
    from .models import Inbox, Notification

    base = pending(now, using=db)
    if after_user is not None:
        base = base.filter(recipient_id__gt=after_user)
    users = list(
        base.order_by("recipient_id").values_list("recipient_id", flat=True).distinct()[:batch]
    )
    if not users:
        return {}, None
    last = users[-1]
    locking = connections[db].features.has_select_for_update_skip_locked
    with transaction.atomic(using=db):
        if locking:
            # Claim users, not rows: each user's Inbox row, locked, skipping those
            # another run holds, so one user's rows never split between two runs
            # (two digests at once). Their rows are read after the lock: what a
            # run that held it committed is emailed already and no longer matches.
            users = list(
                Inbox.objects.using(db)
                .filter(user_id__in=users)
                .select_for_update(skip_locked=True)
                .values_list("user_id", flat=True)
            )
        rows = base.filter(recipient_id__in=users).order_by("recipient_id", "-cursor")
        claimed = list(rows)
        if claimed:
            Notification.objects.using(db).filter(pk__in=[n.pk for n in claimed]).update(
                emailed_at=now
            )
    by_user: dict[Any, list] = {}
    for notification in claimed:
        by_user.setdefault(notification.recipient_id, []).append(notification)
    return by_user, last


def _email(claimed: dict[Any, list], base: str, mail: Any, db: str, result: Result) -> None:
    from .models import Notification

    user_model = get_user_model()
    email_field = user_model.get_email_field_name()
    users = user_model._default_manager.using(db).in_bulk(list(claimed))
    choices = preferences.choices_by_user(list(claimed), preferences.EMAIL)
    limit = conf.get("EMAIL_DIGEST_LIMIT")
    for user_id, rows in claimed.items():
        user = users.get(user_id)
        address = getattr(user, email_field, "") if user is not None else ""
        wanted = [
            n
            for n in rows
            if preferences.is_enabled(n.category, preferences.EMAIL, choices.get(user_id, {}))
        ]
        if not (user is not None and user.is_active and address and wanted):
            result.skipped += len(rows)
            continue
        try:
            message = build(user, wanted[:limit], more=len(wanted) - limit, base=base)
            message.connection = mail
            message.send()
        except Exception:
            logger.exception(
                "Could not email the digest of user %s; it is retried next run.", user_id
            )
            Notification.objects.using(db).filter(pk__in=[n.pk for n in rows]).update(
                emailed_at=None
            )
            result.failed += 1
            continue
        result.emails += 1
        result.notifications += len(wanted)
        result.skipped += len(rows) - len(wanted)
        result.users.append(user_id)


def build(user: Any, notifications: list, *, more: int = 0, base: str) -> EmailMultiAlternatives:
    """Return the digest email of ``user`` listing ``notifications`` (newest first)."""
    from .preference_views import unsubscribe_url

    email_field = get_user_model().get_email_field_name()
    unsubscribe = base + unsubscribe_url(user)
    with translation.override(languages.language_for(user)):
        context = {
            "user": user,
            "notifications": [
                {
                    "notification": n,
                    "title": n.title,
                    "message": n.message,
                    "url": _absolute(n.url, base),
                }
                for n in notifications
            ],
            "count": len(notifications) + max(more, 0),
            "more": max(more, 0),
            "inbox_url": base + reverse("notifications:history"),
            "preferences_url": base + reverse("notifications:preferences"),
            "unsubscribe_url": unsubscribe,
            "site_url": base,
        }
        subject = " ".join(
            render_to_string("notifications/email/digest_subject.txt", context).split()
        )
        text = render_to_string("notifications/email/digest.txt", context)
        html = render_to_string("notifications/email/digest.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=conf.get("EMAIL_FROM"),
        to=[getattr(user, email_field)],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def _absolute(url: str, base: str) -> str:
    from .validators import safe_link

    link = safe_link(url)
    if link.startswith("/"):
        return base + link
    return link
