"""Notification rows, the per-user cursor, and the query API.

The database row is the truth; the websocket push is a fast path that may be
lost. Every notification carries ``cursor``, a per-user sequence number that a
client stores and sends back on reconnect to get what it missed.

Why not the primary key as cursor: two transactions creating notifications for
the same user can commit in the opposite order of their ids, and a client that
saw the later id would skip the earlier row for ever. Cursors are allocated
under a row lock on the user's ``Inbox``, held until the creating transaction
commits, so cursors of one user become visible in increasing order.
"""

from __future__ import annotations

import contextlib
import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxLengthValidator
from django.db import connections, models, router, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import frames, inserts, push
from .constants import Level
from .validators import (
    safe_actions,
    safe_link,
    validate_actions,
    validate_data,
    validate_link,
    validate_text,
)

# A few thousand ids per statement stays far below SQLite's variable limit and
# keeps PostgreSQL's plans simple; sends to more users take a few statements.
_IN_CHUNK = 5000


class InboxManager(models.Manager["Inbox"]):
    def last_cursor(self, user_id: Any) -> int:
        """Return the last cursor handed out to the user (0 before their first notification).

        Every notification at or below it has committed: a client may adopt it.
        """
        cursor = self.filter(user_id=user_id).values_list("last_cursor", flat=True).first()
        return cursor or 0

    def state(self, user_id: Any) -> tuple[int, int]:
        """Return the user's ``(last cursor, unread count)`` in one query.

        Run on every socket handshake and ping, so it is written as SQL (an
        ORM query costs ten times its execution here); the unread condition
        is ``NotificationQuerySet.unread()``'s own (``unread_condition``).
        """
        db = self.db
        connection = connections[db]
        condition, params = unread_condition(db)
        q = connection.ops.quote_name
        user = Inbox._meta.get_field("user")
        recipient = Notification._meta.get_field("recipient")
        key = user.target_field.get_db_prep_value(user_id, connection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT {q('last_cursor')} FROM {q(Inbox._meta.db_table)} "
                f"WHERE {q(user.column)} = %s), (SELECT COUNT(*) FROM "
                f"{q(Notification._meta.db_table)} WHERE {q(recipient.column)} = %s AND "
                f"({condition}))",
                [key, key, *params],
            )
            cursor_, unread = cursor.fetchone()
        return cursor_ or 0, unread or 0

    def allocate(self, counts: Mapping[int, int]) -> dict[int, int]:
        """Reserve ``counts[user_id]`` cursors per user; return the first of each.

        Must run inside the transaction that inserts the notifications: the
        inbox rows stay locked until it ends, which serialises concurrent
        senders to one user in commit order. Rows are locked in user-id order
        so that two bulk sends cannot deadlock each other.
        """
        if inserts.supported(self.db):
            return inserts.bump_cursors(Inbox, dict(counts), using=self.db)
        user_ids = sorted(counts)
        first: dict[int, int] = {}
        for start in range(0, len(user_ids), _IN_CHUNK):
            chunk = user_ids[start : start + _IN_CHUNK]
            self.bulk_create([Inbox(user_id=pk) for pk in chunk], ignore_conflicts=True)
            locked = (
                self.select_for_update()
                .filter(user_id__in=chunk)
                .order_by("user_id")
                .values_list("user_id", "last_cursor")
            )
            first.update((pk, last + 1) for pk, last in locked)
            by_count: dict[int, list[int]] = defaultdict(list)
            for pk in chunk:
                by_count[counts[pk]].append(pk)
            for count, pks in by_count.items():
                self.filter(user_id__in=pks).update(last_cursor=F("last_cursor") + count)
        return first


class Inbox(models.Model):
    """The per-user cursor counter: the last cursor handed out to the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_inbox",
    )
    last_cursor = models.PositiveBigIntegerField(default=0)

    objects = InboxManager()

    class Meta:
        verbose_name = _("notification inbox")
        verbose_name_plural = _("notification inboxes")

    def __str__(self) -> str:
        return f"inbox of user {self.user_id} at cursor {self.last_cursor}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: Any) -> NotificationQuerySet:
        """Notifications whose recipient is ``user``."""
        return self.filter(recipient=user)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def read(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=False)

    def unseen(self) -> NotificationQuerySet:
        """Notifications no inbox has shown yet (reading one also marks it seen)."""
        return self.filter(seen_at__isnull=True)

    def archived(self) -> NotificationQuerySet:
        """Archived notifications that have not expired (the inbox's Archived tab)."""
        return self.filter(archived_at__isnull=False).unexpired()

    def unexpired(self) -> NotificationQuerySet:
        """Notifications whose ``expires_at`` has not passed: expired ones are hidden everywhere."""
        return self.filter(unexpired_q())

    def active(self) -> NotificationQuerySet:
        """What the inbox shows: not archived, not expired, not snoozed now."""
        return self.filter(active_q())

    def snoozed(self) -> NotificationQuerySet:
        """Notifications snoozed until a time still to come."""
        return self.filter(snoozed_until__gt=timezone.now())

    def after(self, cursor: int) -> NotificationQuerySet:
        """Notifications with a cursor above ``cursor``, oldest first."""
        return self.filter(cursor__gt=cursor).order_by("cursor")

    def mark_read(self) -> int:
        """Mark the unread ones read; return how many changed.

        Like every state change made through this QuerySet (the API, the admin
        actions, a project's own code), it pushes ``notification.read`` to each
        affected user's sockets after commit, so all their tabs agree.
        """
        now = timezone.now()
        # Read implies seen: the unseen ones are then a subset of the unread
        # ones, and both counts come from the one partial index on unread rows.
        return self._change(
            self.filter(read_at__isnull=True),
            {"read_at": now, "seen_at": Coalesce(F("seen_at"), Value(now))},
            {"type": frames.READ, "read_at": now.isoformat()},
        )

    def mark_unread(self) -> int:
        """Mark the read ones unread; return how many changed (pushes ``notification.unread``)."""
        return self._change(
            self.filter(read_at__isnull=False), {"read_at": None}, {"type": "notification.unread"}
        )

    def mark_seen(self) -> int:
        """Mark the unseen ones seen; return how many changed (pushes ``notification.seen``)."""
        now = timezone.now()
        return self._change(
            self.filter(seen_at__isnull=True),
            {"seen_at": now},
            {"type": frames.SEEN, "seen_at": now.isoformat()},
        )

    def archive(self) -> int:
        """Archive the others; return how many changed (pushes ``notification.archived``)."""
        now = timezone.now()
        return self._change(
            self.filter(archived_at__isnull=True),
            {"archived_at": now},
            {"type": frames.ARCHIVED, "archived_at": now.isoformat()},
        )

    def unarchive(self) -> int:
        """Move archived ones back to the inbox (pushes ``notification.unarchived``)."""
        return self._change(
            self.filter(archived_at__isnull=False),
            {"archived_at": None},
            {"type": frames.UNARCHIVED},
        )

    def snooze(self, until: Any) -> int:
        """Hide these until ``until`` (an aware datetime); pushes ``notification.snoozed``.

        They come back by themselves at ``until``: every open socket of the
        user gets ``notification.unsnoozed`` then (``consumers`` keeps a timer
        per socket), and every query of the inbox shows them again, no cron job.
        ``until`` in the past (or ``None``) wakes them now.
        """
        if until is not None and timezone.is_naive(until):
            raise ValueError("snooze() needs an aware datetime (USE_TZ), not a naive one.")
        if until is None or until <= timezone.now():
            return self._change(
                self.filter(snoozed_until__isnull=False),
                {"snoozed_until": None},
                {"type": frames.SNOOZED, "snoozed_until": None},
            )
        return self._change(
            self.exclude(snoozed_until=until),
            {"snoozed_until": until},
            {"type": frames.SNOOZED, "snoozed_until": until.isoformat()},
        )

    def pin(self) -> int:
        """Pin these to the top of the inbox (pushes ``notification.pinned``)."""
        return self._change(self.filter(pinned=False), {"pinned": True}, {"type": frames.PINNED})

    def unpin(self) -> int:
        """Unpin these (pushes ``notification.unpinned``)."""
        return self._change(self.filter(pinned=True), {"pinned": False}, {"type": frames.UNPINNED})

    def grouped(self) -> NotificationQuerySet:
        """Keep one row per ``group_key``: the newest of its group (ungrouped rows all stay).

        For one user's list; ``group_counts()`` gives each group's size.
        """
        newest = (
            Notification.objects.filter(
                recipient=models.OuterRef("recipient"), group_key=models.OuterRef("group_key")
            )
            .filter(active_q())
            .order_by("-cursor")
            .values("cursor")[:1]
        )
        return self.filter(Q(group_key="") | Q(cursor=models.Subquery(newest)))

    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete, and push ``notification.deleted`` to each affected user after commit."""
        with transaction.atomic(using=self.db, savepoint=False):
            rows = list(self.order_by().values_list("pk", "recipient_id"))
            result = super().delete()
            push.schedule_by_user(rows, frames.DELETED, using=self.db)
        return result

    def _change(self, changing: NotificationQuerySet, values: dict, frame: dict) -> int:
        """Update ``changing`` with ``values``; push ``frame`` with the ids per user."""
        with transaction.atomic(using=self.db, savepoint=False):
            rows = list(changing.order_by().values_list("pk", "recipient_id"))
            changed = 0
            for start in range(0, len(rows), _IN_CHUNK):
                chunk = [pk for pk, _user in rows[start : start + _IN_CHUNK]]
                changed += changing.filter(pk__in=chunk).update(**values)
            push.schedule_by_user(rows, frame.pop("type"), using=self.db, **frame)
        return changed

    def bulk_create(self, objs: Iterable[Notification], *args: Any, **kwargs: Any):
        """Insert ``objs``, allocating their cursors, and push them after commit.

        ``bulk_create`` skips ``save()`` and ``post_save``; overriding it here
        keeps the cursor and the push right for every bulk path, ours or a
        project's.
        """
        objs = list(objs)
        db = self.db
        with transaction.atomic(using=db, savepoint=False):
            pending = [obj for obj in objs if obj.cursor is None]
            if pending:
                counts = Counter(obj.recipient_id for obj in pending)
                next_cursor = Inbox.objects.db_manager(db).allocate(counts)
                for obj in pending:
                    obj.cursor = next_cursor[obj.recipient_id]
                    next_cursor[obj.recipient_id] += 1
            created = super().bulk_create(objs, *args, **kwargs)
        push.schedule_created([obj for obj in created if obj.pk is not None], using=db)
        return created

    def create_for(self, user_ids: list[Any], template: Notification) -> list[Notification]:
        """Create a copy of ``template`` for each user in ``user_ids``; push them after commit.

        The fast path of ``send()``: on PostgreSQL rows and cursors are one
        statement (``inserts``), on SQLite two; elsewhere ``bulk_create``.
        ``template`` is validated by the caller; its actor, if set, is shared
        by the copies so the wire format needs no query for it.
        """
        db = router.db_for_write(Notification)
        if not user_ids:
            return []
        key = template.key
        if not inserts.supported(db):
            # Portable path: a concurrent duplicate fails on the unique constraint.
            existing = set()
            if key:
                existing = set(
                    Notification.objects.using(db)
                    .filter(recipient_id__in=user_ids, key=key)
                    .values_list("recipient_id", flat=True)
                )
            copies = [_copy(template, recipient_id=pk) for pk in user_ids if pk not in existing]
            created = Notification.objects.db_manager(db).bulk_create(copies)
            return created + self._existing(db, key, existing, user_ids)
        fields = Notification._meta.concrete_fields
        values = {f.attname: getattr(template, f.attname) for f in fields}
        one_statement = inserts.statements(len(user_ids), db) == 1
        with (
            contextlib.nullcontext()
            if one_statement or not connections[db].features.supports_transactions
            else transaction.atomic(using=db, savepoint=False)
        ):
            rows = inserts.insert(Notification, user_ids, values, using=db)
        # A repeated key: these recipients have their row already; return it, push nothing.
        skipped = set(user_ids) - {row[1] for row in rows} if key else set()
        existing = self._existing(db, key, skipped, user_ids)
        if not rows:
            return existing
        order = {pk: i for i, pk in enumerate(user_ids)}
        rows.sort(key=lambda row: order[row[1]])
        # Positional values in field order: Model.from_db's fast path.
        names = [f.attname for f in fields]
        slots = [names.index(name) for name in ("id", "recipient_id", "cursor")]
        actor = template.actor if Notification.actor.is_cached(template) else None

        def copy(row: tuple[Any, Any, int]) -> Notification:
            data = [values[name] for name in names]
            for slot, value in zip(slots, row, strict=True):
                data[slot] = value
            notification = Notification.from_db(db, names, data)
            if actor is not None:
                notification.actor = actor
            return notification

        if connections[db].in_atomic_block:
            created = [copy(row) for row in rows]
            push.schedule_created(created, using=db, shared=template)
            return _in_order(created + existing, order) if existing else created
        # Committed already (autocommit): push first, then build what we return.
        push.copies_created(copy(rows[0]), rows)
        created = [copy(row) for row in rows]
        push.signal_created(created)
        return _in_order(created + existing, order) if existing else created

    def _existing(
        self, db: str, key: str, user_ids: set[Any], order: list[Any]
    ) -> list[Notification]:
        """The rows with idempotency ``key`` of ``user_ids`` (one query, none if empty)."""
        if not key or not user_ids:
            return []
        rows = list(
            Notification.objects.using(db)
            .filter(recipient_id__in=list(user_ids), key=key)
            .select_related("actor")
        )
        for row in rows:
            row.repeated_key = True  # send() pushes nothing for these (Web Push included).
        return _in_order(rows, {pk: i for i, pk in enumerate(order)})


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    cursor = models.PositiveBigIntegerField(
        editable=False,
        help_text=_("Per-user sequence number; clients resume after it."),
    )
    title = models.CharField(_("title"), max_length=200, blank=True, validators=[validate_text])
    message = models.TextField(
        _("message"), max_length=2000, validators=[MaxLengthValidator(2000), validate_text]
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, default=Level.INFO)
    url = models.CharField(
        _("url"),
        max_length=2000,
        blank=True,
        validators=[validate_link],
        help_text=_("An http(s):// URL or a path on this site, starting with '/'."),
    )
    category = models.CharField(
        _("category"), max_length=100, blank=True, validators=[validate_text]
    )
    data = models.JSONField(
        _("data"),
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        validators=[validate_data],
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    target_content_type = models.ForeignKey(
        ContentType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    target_object_id = models.CharField(max_length=255, blank=True)
    target = GenericForeignKey("target_content_type", "target_object_id")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # When the email digest handled it (emailed, or skipped: email muted, no address).
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True, editable=False)
    seen_at = models.DateTimeField(
        _("seen at"), null=True, blank=True, help_text=_("When an inbox first showed it.")
    )
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    snoozed_until = models.DateTimeField(
        _("snoozed until"),
        null=True,
        blank=True,
        help_text=_("Hidden from the inbox until then."),
    )
    expires_at = models.DateTimeField(
        _("expires at"),
        null=True,
        blank=True,
        help_text=_("Hidden everywhere from then on; notifications_cleanup deletes it."),
    )
    # Database defaults too, so that raw inserts (imports, benchmarks, SQL of
    # other apps) written before these fields existed keep working.
    pinned = models.BooleanField(_("pinned"), default=False, db_default=False)
    group_key = models.CharField(
        _("group key"),
        max_length=200,
        blank=True,
        default="",
        db_default="",
        validators=[validate_text],
        help_text=_("Notifications of one user with the same key are one inbox entry."),
    )
    key = models.CharField(
        _("idempotency key"),
        max_length=200,
        blank=True,
        default="",
        db_default="",
        validators=[validate_text],
        help_text=_("At most one notification per recipient and key."),
    )
    actions = models.JSONField(
        _("actions"),
        default=list,
        db_default=Value("[]"),
        blank=True,
        validators=[validate_actions],
        help_text=_('At most 2 buttons: [{"label": "...", "url": "...", "method": "post"}].'),
    )
    image = models.CharField(
        _("image"),
        max_length=2000,
        blank=True,
        default="",
        db_default="",
        validators=[validate_link],
        help_text=_("An avatar or picture: an http(s):// URL or a path on this site."),
    )

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "cursor"], name="notifications_recipient_cursor"
            ),
            # send(key=...)'s idempotency: inserts use ON CONFLICT DO NOTHING on it.
            models.UniqueConstraint(
                fields=["recipient", "key"],
                condition=~Q(key=""),
                name="notifications_recipient_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notifications_unread",
            ),
            models.Index(fields=["-created_at", "-id"], name="notifications_created"),
            # Unread per category (by_category) without touching read rows.
            models.Index(
                fields=["recipient", "category"],
                condition=Q(read_at__isnull=True),
                name="notifications_unread_category",
            ),
            # The Archived tab, newest first.
            models.Index(
                fields=["recipient", "-cursor"],
                condition=Q(archived_at__isnull=False),
                name="notifications_archived",
            ),
            # Grouping: the newest member of a group, and a group's size.
            models.Index(
                fields=["recipient", "group_key", "-cursor"],
                condition=~Q(group_key=""),
                name="notifications_group",
            ),
            # A socket's next snooze wake-up.
            models.Index(
                fields=["recipient", "snoozed_until"],
                condition=Q(snoozed_until__isnull=False),
                name="notifications_snoozed",
            ),
            # notifications_cleanup's three batched deletes.
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="notifications_expiry",
            ),
            models.Index(
                fields=["read_at"],
                condition=Q(read_at__isnull=False),
                name="notifications_read_at",
            ),
            models.Index(
                fields=["archived_at"],
                condition=Q(archived_at__isnull=False),
                name="notifications_archived_at",
            ),
            # The email digest's pending(): unread, unseen, not archived, not emailed,
            # across all users in recipient order (its batches), created before a cutoff.
            # Expiry and snooze stay filters: they depend on the time of the run.
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(
                    read_at__isnull=True,
                    seen_at__isnull=True,
                    emailed_at__isnull=True,
                    archived_at__isnull=True,
                ),
                name="notifications_digest",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.message[:60]

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a new row gets its cursor and is pushed after commit."""
        if not (self._state.adding and self.cursor is None):
            super().save(*args, **kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            first = Inbox.objects.db_manager(using).allocate({self.recipient_id: 1})
            self.cursor = first[self.recipient_id]
            super().save(*args, **kwargs)
        push.schedule_created([self], using=using)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Delete; the recipient's tabs get ``notification.deleted`` after commit."""
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        pk, recipient_id = self.pk, self.recipient_id
        result = super().delete(*args, **kwargs)
        push.schedule_changes([(recipient_id, {"type": frames.DELETED, "ids": [pk]})], using=using)
        return result

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def level_tag(self) -> str:
        # Imported here: django.contrib.messages is optional for projects.
        from django.contrib.messages.utils import get_level_tags

        return get_level_tags().get(self.level, "")

    def as_dict(self) -> dict[str, Any]:
        """Return the notification's JSON form: the one wire format.

        The socket, the HTTP API and the admin preview all send this. ``url``
        is ``""`` unless it passes ``validate_link`` now, whatever is stored.
        """
        actor = None
        if self.actor_id is not None:
            user = self.actor
            full_name = getattr(user, "get_full_name", lambda: "")()
            actor = {"id": user.pk, "name": full_name or user.get_username()}
        target = None
        if self.target_content_type_id is not None:
            ct = ContentType.objects.get_for_id(self.target_content_type_id)
            target = {"type": f"{ct.app_label}.{ct.model}", "id": self.target_object_id}
        return {
            "id": self.pk,
            "cursor": self.cursor,
            "title": self.title,
            "message": self.message,
            "level": self.level_tag,
            "level_number": int(self.level),
            # update(), raw SQL or an import may have skipped the url's validator.
            "url": safe_link(self.url),
            "category": self.category,
            "data": self.data,
            "actor": actor,
            "target": target,
            "created_at": self.created_at.isoformat(),
            "read": self.read_at is not None,
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "seen": self.seen_at is not None,
            "archived_at": _iso(self.archived_at),
            "snoozed_until": _iso(self.snoozed_until),
            "expires_at": _iso(self.expires_at),
            "pinned": self.pinned,
            "group_key": self.group_key,
            "actions": safe_actions(self.actions),
            "image": safe_link(self.image),
        }


class Broadcast(models.Model):
    """One send from the admin's compose page: who sent what to whom, and how many got it.

    The audience is kept as a description written at send time (user names,
    group names or "every active user"), so the history stays readable after
    users or groups are renamed or deleted.
    """

    class Audience(models.TextChoices):
        USERS = "users", _("chosen users")
        GROUPS = "groups", _("groups")
        EVERYONE = "everyone", _("every active user")

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sender"),
    )
    created_at = models.DateTimeField(_("sent at"), default=timezone.now, editable=False)
    title = models.CharField(_("title"), max_length=200, blank=True)
    message = models.TextField(_("message"), max_length=2000)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, default=Level.INFO)
    url = models.CharField(_("url"), max_length=2000, blank=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    audience = models.CharField(_("audience"), max_length=20, choices=Audience.choices)
    audience_detail = models.TextField(
        _("audience detail"),
        blank=True,
        help_text=_("The chosen users or groups, by name, at send time."),
    )
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")

    def __str__(self) -> str:
        return self.title or self.message[:60]


def _in_order(rows: list[Notification], order: dict[Any, int]) -> list[Notification]:
    return sorted(rows, key=lambda n: order.get(n.recipient_id, 0))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def unexpired_q(now: Any = None) -> Q:
    """The condition "not expired at ``now``" (default: this instant)."""
    now = timezone.now() if now is None else now
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def active_q(now: Any = None) -> Q:
    """The condition of ``NotificationQuerySet.active()`` at ``now``."""
    now = timezone.now() if now is None else now
    return (
        Q(archived_at__isnull=True)
        & unexpired_q(now)
        & (Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
    )


def _copy(template: Notification, **overrides: Any) -> Notification:
    """Return a new ``Notification`` with ``template``'s field values and ``overrides``."""
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Notification._meta.concrete_fields
        if not f.primary_key and f.attname not in overrides
    }
    copy = Notification(**fields, **overrides)
    if Notification.actor.is_cached(template):
        copy.actor = template.actor
    return copy


_unread_sql: dict[str, tuple[str, int]] = {}
# A timestamp no caller passes: compiled into the cached SQL as a placeholder
# for "now", whose parameters are then filled in at every call.
_SENTINEL = datetime.datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=datetime.UTC)


def unread_condition(using: str) -> tuple[str, list[Any]]:
    """Return SQL and parameters of the badge's condition: ``unread().active()`` now.

    The SQL is compiled once per database and its time parameters are filled
    in per call, so that hot raw queries (every handshake and ping) share the
    ORM's one definition of "unread" without compiling a query each time.
    """
    connection = connections[using]
    cached = _unread_sql.get(using)
    if cached is None:
        query = Notification.objects.using(using).unread().filter(active_q(_SENTINEL)).query
        sql, params = query.get_compiler(using=using).compile(query.where)
        sentinel = Notification._meta.get_field("expires_at").get_db_prep_value(
            _SENTINEL, connection
        )
        if any(p != sentinel for p in params):
            raise AssertionError(f"unexpected parameters in the unread condition: {params!r}")
        cached = _unread_sql[using] = (sql, len(params))
    sql, count = cached
    now = Notification._meta.get_field("expires_at").get_db_prep_value(timezone.now(), connection)
    return sql, [now] * count


def unread_counts(user_ids: Iterable[Any], *, using: str | None = None) -> dict[Any, int]:
    """Return ``{user id: unread count}`` for users with any, a few thousand per query."""
    db = using or router.db_for_read(Notification)
    connection = connections[db]
    q = connection.ops.quote_name
    recipient = Notification._meta.get_field("recipient")
    prep = recipient.target_field.get_db_prep_value
    condition, params = unread_condition(db)
    table, column = q(Notification._meta.db_table), q(recipient.column)
    user_ids = list(user_ids)
    counts: dict[Any, int] = {}
    postgres = connection.vendor == "postgresql"
    size = 20_000 if postgres else 900  # One array parameter, or SQLite's variable limit.
    with connection.cursor() as cursor:
        for start in range(0, len(user_ids), size):
            chunk = user_ids[start : start + size]
            by_db = {prep(pk, connection): pk for pk in chunk}
            if postgres:
                db_type = recipient.target_field.rel_db_type(connection)
                among, among_params = f"= ANY(%s::{db_type}[])", [inserts.pg_array(list(by_db))]
            else:
                among, among_params = f"IN ({', '.join(['%s'] * len(by_db))})", list(by_db)
            cursor.execute(
                f"SELECT {column}, COUNT(*) FROM {table} WHERE {column} {among} "
                f"AND ({condition}) GROUP BY {column}",
                [*among_params, *params],
            )
            for db_value, count in cursor.fetchall():
                pk = by_db.get(db_value)
                if pk is None:  # Another type than we sent (SQLite text ids).
                    pk = next(v for k, v in by_db.items() if str(k) == str(db_value))
                counts[pk] = count
    return counts


class NotificationPreference(models.Model):
    """One user's choice for one category on one channel (see ``notifications.preferences``).

    Only choices are stored: a category and channel without a row follows the
    category's ``default`` in ``NOTIFICATIONS["CATEGORIES"]``. The category
    ``""`` stands for notifications sent without a category (the email
    unsubscribe link turns its email off).
    """

    class Channel(models.TextChoices):
        INAPP = "inapp", _("in the app")
        EMAIL = "email", _("by email")
        PUSH = "push", _("browser push")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("user"),
    )
    category = models.CharField(_("category"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    enabled = models.BooleanField(_("enabled"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "category", "channel"], name="notifications_preference_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["category", "channel", "enabled"], name="notifications_pref_cat"),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.category or '(uncategorised)'} {self.channel}: {state}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (see ``notifications.webpush``).

    The endpoint is the push service's URL for that browser; ``p256dh`` and
    ``auth`` are the browser's keys the payload is encrypted to. A 404 or 410
    from the push service deletes the row.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
        verbose_name=_("user"),
    )
    endpoint = models.CharField(_("endpoint"), max_length=2000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_push_at = models.DateTimeField(_("last push"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return self.user_agent or self.endpoint[:60]
