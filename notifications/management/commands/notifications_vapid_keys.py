"""``manage.py notifications_vapid_keys``: print a new VAPID key pair for Web Push."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Generate a VAPID key pair (P-256) for Web Push and print the NOTIFICATIONS "
        "settings to paste. Keep the private key secret (e.g. an environment variable)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--env",
            action="store_true",
            help="Print NAME=value lines for a shell or an .env file instead.",
        )

    def handle(self, *args: Any, env: bool = False, **options: Any) -> None:
        try:
            from cryptography.hazmat.primitives import serialization
            from py_vapid import Vapid02
            from py_vapid.utils import b64urlencode
        except ImportError:
            raise CommandError(
                'Web Push needs the [webpush] extra: pip install "django-realtime-notifications'
                '[webpush]" (pywebpush, py-vapid).'
            ) from None
        vapid = Vapid02()
        vapid.generate_keys()
        private = b64urlencode(
            vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        )
        public = b64urlencode(
            vapid.public_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        if env:
            self.stdout.write(
                f"WEBPUSH_VAPID_PUBLIC_KEY={public}\nWEBPUSH_VAPID_PRIVATE_KEY={private}\n"
            )
            return
        self.stdout.write(
            "# NOTIFICATIONS in settings.py (the private key better from the environment):\n"
            f'"WEBPUSH_VAPID_PUBLIC_KEY": "{public}",\n'
            f'"WEBPUSH_VAPID_PRIVATE_KEY": "{private}",\n'
            '"WEBPUSH_VAPID_SUBJECT": "mailto:admin@example.com",\n'
        )
