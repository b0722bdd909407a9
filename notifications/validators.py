"""Validators for notification fields."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from . import conf


def validate_link(value: str) -> None:
    """Accept an ``http(s)://`` URL or a site-relative path, nothing else.

    Links are rendered as clickable anchors in every open tab, so ``javascript:``,
    ``data:``, protocol-relative ``//host`` and backslash tricks are refused here
    rather than escaped later.
    """
    if not value:
        return
    if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(
            "Notification url may not contain whitespace at its ends or control characters.",
            code="invalid_url",
        )
    lowered = value.lower()
    absolute = lowered.startswith(("http://", "https://")) and len(value) > len("https://")
    relative = value.startswith("/") and not value.startswith("//")
    if (absolute or relative) and "\\" not in value:
        return
    raise ValidationError(
        "Notification url must start with http://, https:// or a single '/' "
        "(a path on this site); got %(value)r.",
        code="invalid_url",
        params={"value": value[:100]},
    )


def validate_data(value: object) -> None:
    """Require ``data`` to be JSON-serialisable and below ``MAX_DATA_BYTES``."""
    if value is None:
        return
    try:
        encoded = json.dumps(value, cls=DjangoJSONEncoder)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            "Notification data must be JSON-serialisable: %(error)s",
            code="invalid_data",
            params={"error": exc},
        ) from exc
    limit = conf.get("MAX_DATA_BYTES")
    if len(encoded.encode()) > limit:
        raise ValidationError(
            "Notification data is %(size)d bytes once encoded; the limit is "
            "%(limit)d (NOTIFICATIONS['MAX_DATA_BYTES']).",
            code="data_too_large",
            params={"size": len(encoded.encode()), "limit": limit},
        )
