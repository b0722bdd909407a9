"""Validators for notification fields, and the link check every renderer applies.

Text that a database cannot store must fail as a ``ValidationError`` at
creation, not as a ``DataError`` (PostgreSQL refuses NUL characters) or a
``UnicodeEncodeError`` (no database driver encodes a lone surrogate) halfway
through an insert. ``send()``, the admin and every ``ModelForm`` run these
through the model fields' validators.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from . import conf


def validate_text(value: str) -> None:
    """Refuse NUL characters and lone surrogates, which no database can store."""
    if problem := _text_problem(value):
        raise ValidationError(*problem)


def validate_link(value: str) -> None:
    """Accept an ``http(s)://`` URL or a site-relative path, nothing else.

    Links are rendered as clickable anchors in every open tab, so ``javascript:``,
    ``data:``, protocol-relative ``//host`` and backslash tricks are refused here
    rather than escaped later. Browsers drop tabs and newlines anywhere in a URL
    and control characters and spaces at its ends (``/\\t/evil.example`` opens
    ``http://evil.example/``), so no control character is accepted at all.
    """
    if not value:
        return
    validate_text(value)
    if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(
            "Notification url may not contain whitespace at its ends or control characters.",
            code="invalid_url",
        )
    lowered = value.lower()
    absolute = any(
        lowered.startswith(scheme) and len(value) > len(scheme)
        for scheme in ("http://", "https://")
    )
    relative = value.startswith("/") and not value.startswith("//")
    if (absolute or relative) and "\\" not in value:
        return
    raise ValidationError(
        "Notification url must start with http://, https:// or a single '/' "
        "(a path on this site); got %(value)r.",
        code="invalid_url",
        params={"value": value[:100]},
    )


def safe_link(value: str) -> str:
    """Return ``value`` if it may be rendered as a link, else ``""``.

    For output: ``QuerySet.update()``, raw SQL and imports skip the field's
    validators, so every renderer checks the stored value again.
    """
    try:
        validate_link(value)
    except ValidationError:
        return ""
    return value


def validate_data(value: object) -> None:
    """Require ``data`` to be JSON that any database stores, below ``MAX_DATA_BYTES``.

    JSON here means the standard: no ``NaN`` or ``Infinity`` (Python's ``json``
    writes them, PostgreSQL's ``jsonb`` and SQLite's ``JSON_VALID`` refuse
    them), and keys and strings without NUL characters or lone surrogates.
    """
    if value is None:
        return
    try:
        # The encoding JSONField stores, so the size is the stored size.
        encoded = json.dumps(value, cls=DjangoJSONEncoder)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            "Notification data must be valid JSON: %(error)s",
            code="invalid_data",
            params={"error": exc},
        ) from exc
    # What the database will get: dict keys as strings, dates as text, ...
    _check_json(json.loads(encoded))
    limit = conf.get("MAX_DATA_BYTES")
    if len(encoded.encode()) > limit:
        raise ValidationError(
            "Notification data is %(size)d bytes once encoded; the limit is "
            "%(limit)d (NOTIFICATIONS['MAX_DATA_BYTES']).",
            code="data_too_large",
            params={"size": len(encoded.encode()), "limit": limit},
        )


def _check_json(decoded: Any) -> None:
    """Raise for the first non-finite number, NUL or lone surrogate, naming where it is."""
    stack: list[tuple[Any, str]] = [(decoded, "data")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if problem := _text_problem(key):
                    message, code, params = problem
                    raise ValidationError(
                        "In a key of %(path)s: " + message,
                        code=code,
                        params={**params, "path": path},
                    )
                stack.append((child, f"{path}[{key!r}]"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(
                "Notification data must be standard JSON: %(path)s is %(number)s, "
                "which JSON cannot represent (PostgreSQL's jsonb refuses NaN and Infinity).",
                code="invalid_data",
                params={"path": path, "number": item},
            )
        elif isinstance(item, str) and (problem := _text_problem(item)):
            message, code, params = problem
            raise ValidationError(
                "In %(path)s: " + message,
                code=code,
                params={**params, "path": path},
            )


def _text_problem(value: str) -> tuple[str, str, dict[str, Any]] | None:
    """Return ``(message, code, params)`` for the first character no database stores."""
    if "\x00" in value:
        return (
            "NUL characters (\\x00) are not allowed: PostgreSQL cannot store them; "
            "found one at position %(position)d.",
            "null_characters_not_allowed",
            {"position": value.index("\x00")},
        )
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            "Lone surrogates are not valid Unicode and cannot be stored; found "
            "%(char)s at position %(position)d (decode the text with errors='replace').",
            "invalid_unicode",
            {"char": f"U+{ord(value[exc.start]):04X}", "position": exc.start},
        )
    return None
