"""``manage.py notifications_email_digest``: email each user what stayed unread (see digest)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ...digest import BATCH_USERS, send_digests


class Command(BaseCommand):
    help = (
        "Email each user one digest of their notifications that are unread, older than "
        "EMAIL_DELAY_MINUTES and not yet emailed. Safe to run several at once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--base-url",
            default="",
            help="Absolute base of links, e.g. https://example.com (default: SITE_URL).",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH_USERS,
            help=f"Users claimed per transaction (default {BATCH_USERS}).",
        )

    def handle(self, *args: Any, base_url: str, batch: int, **options: Any) -> None:
        result = send_digests(base_url=base_url, batch_users=max(1, batch))
        self.stdout.write(
            f"Sent {result.emails} digest(s) covering {result.notifications} notification(s); "
            f"{result.skipped} skipped (email off, no address), {result.failed} failed."
        )
