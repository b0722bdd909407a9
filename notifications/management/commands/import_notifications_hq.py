"""Import a django-notifications-hq table into this app's notifications.

hq's table is also called ``notifications_notification`` (both apps use the
label ``notifications``), so it must be renamed, or read from another
database, before this app is migrated; the README ("Coming from
django-notifications-hq") gives the steps. Then::

    python manage.py import_notifications_hq --table hq_notification --dry-run
    python manage.py import_notifications_hq --table hq_notification

Rows are inserted in hq id order with ``bulk_create``, so every user gets
cursors as usual, but nothing is pushed and ``notification_created`` is not
sent: these are history, not news. Each imported row keeps its hq id in
``data["hq"]["id"]``, so running the command again imports only new rows.
Mapping (the same as ``notifications.compat.notify``): verb → ``category``
and, with actor, action object and target, the hq sentence ("alice commented
on Post 3"); description → ``message`` (the sentence becomes the ``title``),
else the sentence is the ``message``; a user actor → ``actor``; target →
``target``; action object and non-user actors → ``data["hq"]``; timestamp →
``created_at``; read rows (``unread`` false) get ``read_at = timestamp``;
hq's ``data`` JSON → ``data``; soft-deleted rows are skipped unless
``--include-deleted``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from notifications import delivery
from notifications.api import _LEVEL_NAMES
from notifications.compat import hq_sentence
from notifications.constants import Level
from notifications.models import Notification

HQ_TABLE = "notifications_notification"
HQ_COLUMNS = (
    "id",
    "level",
    "recipient_id",
    "unread",
    "actor_content_type_id",
    "actor_object_id",
    "verb",
    "description",
    "target_content_type_id",
    "target_object_id",
    "action_object_content_type_id",
    "action_object_object_id",
    "timestamp",
    "public",
    "deleted",
    "emailed",
    "data",
)


class Command(BaseCommand):
    help = "Import django-notifications-hq notifications (verb, actor, target, ...) into this app."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--table",
            default=HQ_TABLE,
            help=f"hq's table, usually renamed before migrating this app (default {HQ_TABLE}).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="Alias in settings.DATABASES to read hq's table from (default 'default').",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and map every row, report, write nothing.",
        )
        parser.add_argument(
            "--include-deleted",
            action="store_true",
            help="Also import rows hq soft-deleted (deleted = true).",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["database"]
        if source not in connections:
            raise CommandError(f"--database {source!r} is not in settings.DATABASES.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        target = router.db_for_write(Notification)
        importer = _Importer(
            source=source,
            target=target,
            table=options["table"],
            include_deleted=options["include_deleted"],
        )
        importer.check_table()
        dry_run = options["dry_run"]
        for batch in importer.batches(options["batch_size"]):
            if not dry_run and batch:
                # One transaction per batch: a failure keeps earlier batches,
                # and a re-run skips them by their hq id.
                with transaction.atomic(using=target), delivery.muted():
                    Notification.objects.using(target).bulk_create(batch)
        self.stdout.write(importer.report(dry_run=dry_run))


class _Importer:
    def __init__(self, *, source: str, target: str, table: str, include_deleted: bool) -> None:
        self.source = source
        self.target = target
        self.table = table
        self.include_deleted = include_deleted
        self.counts: Counter[str] = Counter()
        self.recipients: set[Any] = set()

    def check_table(self) -> None:
        connection = connections[self.source]
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
            if self.table not in tables:
                raise CommandError(
                    f"No table {self.table!r} in database {self.source!r}. Rename hq's "
                    "table before migrating this app (see the README, 'Coming from "
                    "django-notifications-hq'), then pass --table NEW_NAME, or point "
                    "--database at a copy of the old database."
                )
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, self.table)
            }
        if "cursor" in columns and "verb" not in columns:
            raise CommandError(
                f"Table {self.table!r} in database {self.source!r} is this app's own table, "
                "not django-notifications-hq's. hq's table has the same name: rename it "
                "before migrating this app and pass --table NEW_NAME."
            )
        missing = [c for c in HQ_COLUMNS if c not in columns]
        if missing:
            raise CommandError(
                f"Table {self.table!r} is not a django-notifications-hq table: it has no "
                f"column(s) {', '.join(missing)}."
            )

    def batches(self, size: int):
        """Yield lists of unsaved notifications, one list per ``size`` hq rows."""
        self.content_types = self._content_types()
        self.user_ct = ContentType.objects.db_manager(self.target).get_for_model(get_user_model())
        self.done = self._already_imported()
        connection = connections[self.source]
        quote = connection.ops.quote_name
        sql = (
            f"SELECT {', '.join(quote(c) for c in HQ_COLUMNS)} FROM {quote(self.table)} "
            f"WHERE {quote('id')} > %s ORDER BY {quote('id')} LIMIT %s"
        )
        last = -1
        while True:
            with connection.cursor() as cursor:
                cursor.execute(sql, [last, size])
                rows = [dict(zip(HQ_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
            if not rows:
                return
            last = rows[-1]["id"]
            self.counts["read"] += len(rows)
            yield self._notifications(rows)

    def _notifications(self, rows: list[dict[str, Any]]) -> list[Notification]:
        keep = []
        for row in rows:
            if row["id"] in self.done:
                self.counts["already imported"] += 1
            elif _bool(row["deleted"]) and not self.include_deleted:
                self.counts["deleted in hq"] += 1
            else:
                keep.append(row)
        user_ids = {row["recipient_id"] for row in keep} | {
            _int(row["actor_object_id"])
            for row in keep
            if self._ct(row["actor_content_type_id"]) == self.user_ct
        }
        users = get_user_model()._base_manager.using(self.target).in_bulk(user_ids - {None})
        labels = self._labels(keep)
        notifications = []
        for row in keep:
            if row["recipient_id"] not in users:
                self.counts["recipient not found"] += 1
                continue
            notifications.append(self._notification(row, users, labels))
            self.recipients.add(row["recipient_id"])
        self.counts["imported"] += len(notifications)
        return notifications

    def _notification(
        self, row: dict[str, Any], users: dict[Any, Any], labels: dict[tuple, str]
    ) -> Notification:
        hq: dict[str, Any] = {
            "id": row["id"],
            "verb": row["verb"],
            "public": _bool(row["public"]),
            "emailed": _bool(row["emailed"]),
        }
        actor_ct = self._ct(row["actor_content_type_id"])
        actor_id = _int(row["actor_object_id"]) if actor_ct == self.user_ct else None
        actor = users.get(actor_id)
        if actor is None:
            hq["actor"] = self._ref(row, "actor")
        if row["action_object_content_type_id"] is not None:
            hq["action_object"] = self._ref(row, "action_object")
        sentence = hq_sentence(
            actor.get_username() if actor is not None else labels.get(self._key(row, "actor"), ""),
            row["verb"],
            labels.get(self._key(row, "action_object")),
            labels.get(self._key(row, "target")),
        )
        description = (row["description"] or "").strip()
        if (description and len(sentence) > 200) or len(description or sentence) > 2000:
            self.counts["text shortened"] += 1
        created_at = _datetime(row["timestamp"])
        target_ct = self._ct(row["target_content_type_id"])
        return Notification(
            recipient_id=row["recipient_id"],
            title=sentence[:200] if description else "",
            message=(description or sentence)[:2000],
            level=_LEVEL_NAMES.get(str(row["level"]).lower(), Level.INFO),
            category=row["verb"][:100],
            data={**_data(row["data"]), "hq": hq},
            actor=actor,
            target_content_type=target_ct,
            target_object_id=str(row["target_object_id"] or "") if target_ct else "",
            created_at=created_at,
            read_at=None if _bool(row["unread"]) else created_at,
        )

    def _content_types(self) -> dict[int, tuple[str, str]]:
        # hq's content type ids belong to the source database; match them to
        # this database's by (app_label, model).
        connection = connections[self.source]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('id')}, {quote('app_label')}, {quote('model')} "
                f"FROM {quote(ContentType._meta.db_table)}"
            )
            return {pk: (app_label, model) for pk, app_label, model in cursor.fetchall()}

    def _ct(self, source_id: int | None) -> ContentType | None:
        if source_id is None or source_id not in self.content_types:
            return None
        manager = ContentType.objects.db_manager(self.target)
        try:
            return manager.get_by_natural_key(*self.content_types[source_id])
        except ContentType.DoesNotExist:
            return None  # The model is gone; _ref keeps its name.

    def _key(self, row: dict[str, Any], role: str) -> tuple[Any, str] | None:
        ct_id = row[f"{role}_content_type_id"]
        return None if ct_id is None else (ct_id, str(row[f"{role}_object_id"]))

    def _ref(self, row: dict[str, Any], role: str) -> dict[str, str]:
        app_label, model = self.content_types.get(row[f"{role}_content_type_id"], ("?", "?"))
        return {"type": f"{app_label}.{model}", "id": str(row[f"{role}_object_id"])}

    def _labels(self, rows: list[dict[str, Any]]) -> dict[tuple, str]:
        """Return ``str(obj)`` of every actor, target and action object: one query per type."""
        wanted: dict[Any, set[str]] = defaultdict(set)
        for row in rows:
            for role in ("actor", "target", "action_object"):
                if (key := self._key(row, role)) is not None:
                    wanted[key[0]].add(key[1])
        labels: dict[tuple, str] = {}
        for ct_id, ids in wanted.items():
            app_label, model = self.content_types.get(ct_id, ("?", "?"))
            for pk in ids:
                labels[(ct_id, pk)] = f"{app_label}.{model} #{pk}"
            ct = self._ct(ct_id)
            model_class = ct.model_class() if ct else None
            if model_class is None:
                continue
            try:
                found = model_class._base_manager.using(self.target).in_bulk(list(ids))
            except (ValueError, TypeError):
                continue  # Ids that do not fit the model's primary key.
            labels.update(((ct_id, str(pk)), str(obj)) for pk, obj in found.items())
        return labels

    def _already_imported(self) -> set[Any]:
        return set(
            Notification.objects.using(self.target)
            .filter(data__hq__has_key="id")
            .values_list("data__hq__id", flat=True)
        )

    def report(self, *, dry_run: bool) -> str:
        counts = self.counts
        verb = "Would import" if dry_run else "Imported"
        lines = [
            f"Read {counts['read']} row(s) from {self.table!r} (database {self.source!r}).",
            f"{verb} {counts['imported']} notification(s) for {len(self.recipients)} user(s)"
            + (" (dry run: nothing written)." if dry_run else "; nothing was pushed."),
        ]
        for reason in ("already imported", "deleted in hq", "recipient not found"):
            if counts[reason]:
                lines.append(f"Skipped {counts[reason]}: {reason}.")
        if counts["text shortened"]:
            lines.append(
                f"Shortened {counts['text shortened']} title(s) or message(s) to 200/2000 "
                "characters."
            )
        return "\n".join(lines)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "t", "true", "y", "yes"}
    return bool(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return timezone.now()
    if settings.USE_TZ and timezone.is_naive(value):
        # SQLite hands back naive datetimes; Django stores them in UTC.
        value = value.replace(tzinfo=UTC)
    return value


def _data(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            return {"value": value}
    if value is None:
        return {}
    return dict(value) if isinstance(value, dict) else {"value": value}
