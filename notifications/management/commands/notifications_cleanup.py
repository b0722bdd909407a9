"""``manage.py notifications_cleanup``: delete expired, and old read or archived, notifications.

Run it from cron; two runs at once are safe (see ``notifications.retention``)::

    17 3 * * *  cd /srv/mysite && .venv/bin/python manage.py notifications_cleanup \\
        --read-older-than 90 --archived-older-than 30
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import conf, retention


def _days(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise CommandError(f"Days must be a whole number from 0 to 999999; got {value!r}.")
    return int(value)


class Command(BaseCommand):
    help = (
        "Delete expired notifications and, with --read-older-than / --archived-older-than, "
        "old read or archived ones, in short batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--read-older-than",
            type=_days,
            metavar="DAYS",
            help="Also delete notifications read more than DAYS ago "
            "(default: NOTIFICATIONS['CLEANUP_READ_OLDER_THAN_DAYS']).",
        )
        parser.add_argument(
            "--archived-older-than",
            type=_days,
            metavar="DAYS",
            help="Also delete notifications archived more than DAYS ago "
            "(default: NOTIFICATIONS['CLEANUP_ARCHIVED_OLDER_THAN_DAYS']).",
        )
        parser.add_argument(
            "--batch-size",
            type=_days,
            metavar="N",
            help="Rows per delete (default: NOTIFICATIONS['CLEANUP_BATCH_SIZE']).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only print how many would be deleted."
        )
        parser.add_argument("--database", default=None, help="Database alias (default: routed).")

    def handle(self, *args: Any, **options: Any) -> None:
        defaults = retention.Policy.from_settings()
        policy = retention.Policy(
            read_older_than_days=(
                options["read_older_than"]
                if options["read_older_than"] is not None
                else defaults.read_older_than_days
            ),
            archived_older_than_days=(
                options["archived_older_than"]
                if options["archived_older_than"] is not None
                else defaults.archived_older_than_days
            ),
        )
        batch = options["batch_size"] or conf.get("CLEANUP_BATCH_SIZE")
        if batch < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["dry_run"]:
            found = retention.counts(policy, using=options["database"])
            self.stdout.write(f"Would delete {_describe(found, policy)} (dry run).")
            return
        started = time.monotonic()
        done = retention.delete(policy, batch_size=batch, using=options["database"])
        seconds = time.monotonic() - started
        total = sum(done.values())
        rate = f", {total / seconds:.0f} rows/s" if total and seconds > 0 else ""
        self.stdout.write(f"Deleted {_describe(done, policy)} in {seconds:.2f} s{rate}.")


def _describe(found: dict[str, int], policy: retention.Policy) -> str:
    parts = [f"{found.get('expired', 0)} expired"]
    if "read" in found:
        parts.append(f"{found['read']} read more than {policy.read_older_than_days} days ago")
    if "archived" in found:
        parts.append(
            f"{found['archived']} archived more than {policy.archived_older_than_days} days ago"
        )
    return ", ".join(parts) + " notification(s)"
