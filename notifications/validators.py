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


#: Most action buttons one notification may carry.
MAX_ACTIONS = 2
MAX_ACTION_LABEL = 50


def validate_actions(value: object) -> None:
    """Require a list of at most two ``{"label", "url"}`` buttons, ``"method": "post"`` optional.

    Each ``url`` follows ``validate_link`` (a button is a link, or the target
    of a POST with the CSRF token, so the same schemes are refused).
    """
    if value in (None, []):
        return
    if not isinstance(value, list):
        raise ValidationError(
            "Notification actions must be a list of {'label', 'url'} objects.",
            code="invalid_actions",
        )
    if len(value) > MAX_ACTIONS:
        raise ValidationError(
            "A notification has at most %(limit)d actions; got %(count)d.",
            code="too_many_actions",
            params={"limit": MAX_ACTIONS, "count": len(value)},
        )
    for index, action in enumerate(value):
        if not isinstance(action, dict):
            raise ValidationError(
                "actions[%(index)d] must be an object with 'label' and 'url'.",
                code="invalid_actions",
                params={"index": index},
            )
        extra = sorted(set(action) - {"label", "url", "method"})
        if extra:
            raise ValidationError(
                "actions[%(index)d] has unknown key(s) %(keys)s; allowed: label, url, method.",
                code="invalid_actions",
                params={"index": index, "keys": ", ".join(map(str, extra))[:100]},
            )
        label, url = action.get("label"), action.get("url")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_ACTION_LABEL:
            raise ValidationError(
                "actions[%(index)d]['label'] must be a non-empty string of at most %(limit)d "
                "characters.",
                code="invalid_actions",
                params={"index": index, "limit": MAX_ACTION_LABEL},
            )
        validate_text(label)
        if not isinstance(url, str) or not url:
            raise ValidationError(
                "actions[%(index)d]['url'] must be a non-empty string.",
                code="invalid_actions",
                params={"index": index},
            )
        try:
            validate_link(url)
        except ValidationError as exc:
            raise ValidationError(
                "actions[%(index)d]['url']: %(error)s",
                code="invalid_url",
                params={"index": index, "error": " ".join(exc.messages)},
            ) from exc
        if "method" in action and action["method"] != "post":
            raise ValidationError(
                "actions[%(index)d]['method'] must be 'post' (or be left out for a link).",
                code="invalid_actions",
                params={"index": index},
            )


def safe_actions(value: object) -> list[dict[str, str]]:
    """Return the actions that may be rendered (as ``safe_link`` does for ``url``)."""
    if not isinstance(value, list):
        return []
    shown = []
    for action in value[:MAX_ACTIONS]:
        if not isinstance(action, dict):
            continue
        label, url = action.get("label"), action.get("url")
        if not isinstance(label, str) or not label or not isinstance(url, str):
            continue
        if not safe_link(url):
            continue
        item = {"label": label[:MAX_ACTION_LABEL], "url": url}
        if action.get("method") == "post":
            item["method"] = "post"
        shown.append(item)
    return shown
