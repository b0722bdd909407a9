"""Categories the project declares, and each user's choice of channel per category.

A project declares its categories once::

    NOTIFICATIONS = {
        "CATEGORIES": {
            "billing": {
                "label": _("Billing"),
                "description": _("Invoices and failed payments."),
                "default": {"inapp": True, "email": True, "push": False},
            },
            "security": {"label": _("Security"), "critical": True},
        },
    }

Each user may then turn every channel (``inapp``, ``email``, ``push``) of
every category on or off; a ``NotificationPreference`` row is kept only for
what the user chose, everything else follows the category's ``default``. A
``critical`` category cannot be muted on any channel. Notifications with no
category are always delivered in-app (the project did not make them
optional); with no ``CATEGORIES`` at all nothing can be muted.

A muted in-app category means **no row** for that user: the row is the in-app
notification, and email digests and pushes are reminders of rows, so muting
a category in-app silences it on every channel. ``send()`` asks for the
preferences of all recipients in one query, and none at all for a critical
category, for a notification without a category, or without ``CATEGORIES``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import router, transaction

from . import conf

INAPP, EMAIL, PUSH = "inapp", "email", "push"
#: Every channel a category can reach a user on, in display order.
CHANNELS: tuple[str, ...] = (INAPP, EMAIL, PUSH)
#: A category's channels when its ``default`` leaves them out, and those of
#: notifications without a declared category. Push reaches only users who
#: subscribed a browser (a click on the inbox's button), so it is on too.
DEFAULT_CHANNELS: Mapping[str, bool] = {INAPP: True, EMAIL: True, PUSH: True}
# Recipients at most for which the preference query names them (an IN list);
# for more it reads every exception to the default of the category instead,
# so one query serves any number of recipients.
_IN_LIMIT = 900


@dataclass(frozen=True)
class Category:
    """One declared category."""

    key: str
    label: Any
    description: Any = ""
    default: Mapping[str, bool] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    critical: bool = False


class PreferenceError(ValueError):
    """A preference that cannot be set; ``field`` names the offending part."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def categories() -> dict[str, Category]:
    """Return the declared categories by key (empty when there are none).

    Raise ``ImproperlyConfigured`` naming the category and key for a malformed
    ``CATEGORIES`` (the system check ``notifications.E201`` reports it early).
    """
    raw = conf.get("CATEGORIES")
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured('NOTIFICATIONS["CATEGORIES"] must be a dict of dicts.')
    result: dict[str, Category] = {}
    for key, spec in raw.items():
        where = f'NOTIFICATIONS["CATEGORIES"][{key!r}]'
        if not isinstance(key, str) or not key or len(key) > 100:
            raise ImproperlyConfigured(
                f"{where}: a category key must be a non-empty string of at most 100 characters."
            )
        if not isinstance(spec, Mapping):
            raise ImproperlyConfigured(f"{where} must be a dict (label, description, default).")
        unknown = sorted(set(spec) - {"label", "description", "default", "critical"})
        if unknown:
            raise ImproperlyConfigured(
                f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; known: "
                "'label', 'description', 'default', 'critical'."
            )
        default = spec.get("default", {})
        if not isinstance(default, Mapping) or not all(
            channel in CHANNELS and isinstance(on, bool) for channel, on in default.items()
        ):
            raise ImproperlyConfigured(
                f'{where}["default"] must map channels ({", ".join(CHANNELS)}) to True or False.'
            )
        critical = spec.get("critical", False)
        if not isinstance(critical, bool):
            raise ImproperlyConfigured(f'{where}["critical"] must be True or False.')
        result[key] = Category(
            key=key,
            label=spec.get("label", key),
            description=spec.get("description", ""),
            default={**DEFAULT_CHANNELS, **default},
            critical=critical,
        )
    return result


def validate_category(category: str) -> None:
    """Raise ``ValidationError`` if categories are declared and ``category`` is not one."""
    declared = categories()
    if declared and category and category not in declared:
        raise ValidationError(
            f"Unknown category {category!r}; NOTIFICATIONS['CATEGORIES'] declares "
            f"{', '.join(map(repr, sorted(declared)))}.",
            code="unknown_category",
        )


def enabled_for(
    user_ids: Sequence[Any], category: str, channel: str, *, using: str | None = None
) -> list[Any]:
    """Return the users of ``user_ids`` (same order) who get ``category`` on ``channel``.

    At most one query, whatever the number of users; none when the category
    cannot be muted (critical, undeclared, empty, or no ``CATEGORIES``).
    """
    spec = categories().get(category) if category else None
    if spec is None or spec.critical or not user_ids:
        return list(user_ids)
    from .models import NotificationPreference  # models imports push, which imports us

    default = spec.default[channel]
    # Only rows that differ from the default change anything.
    exceptions = NotificationPreference.objects.using(
        using or router.db_for_read(NotificationPreference)
    ).filter(category=category, channel=channel, enabled=not default)
    if len(user_ids) <= _IN_LIMIT:
        exceptions = exceptions.filter(user_id__in=list(user_ids))
    flipped = {str(pk) for pk in exceptions.values_list("user_id", flat=True)}
    if default:
        return [pk for pk in user_ids if str(pk) not in flipped]
    return [pk for pk in user_ids if str(pk) in flipped]


def choices_by_user(user_ids: Iterable[Any], channel: str) -> dict[Any, dict[str, bool]]:
    """Return ``{user id: {category: enabled}}`` of the rows on ``channel`` (one query)."""
    from .models import NotificationPreference

    result: dict[Any, dict[str, bool]] = {}
    rows = NotificationPreference.objects.filter(
        user_id__in=list(user_ids), channel=channel
    ).values_list("user_id", "category", "enabled")
    for user_id, category, enabled in rows:
        result.setdefault(user_id, {})[category] = enabled
    return result


def is_enabled(category: str, channel: str, choices: Mapping[str, bool]) -> bool:
    """Whether ``category`` reaches a user on ``channel`` given their ``choices`` (no query).

    A category that is not declared (or empty) follows ``DEFAULT_CHANNELS``
    unless the user turned that channel off for uncategorised notifications
    (the email unsubscribe link does).
    """
    spec = categories().get(category) if category else None
    if spec is None:
        return choices.get(category, DEFAULT_CHANNELS[channel]) if channel != INAPP else True
    if spec.critical:
        return True
    return choices.get(category, spec.default[channel])


def for_user(user: Any) -> list[dict[str, Any]]:
    """Return the user's effective choice for every category and channel (one query).

    The shape of ``GET api/preferences/``'s ``categories``.
    """
    from .models import NotificationPreference

    stored: dict[tuple[str, str], bool] = {
        (category, channel): enabled
        for category, channel, enabled in NotificationPreference.objects.filter(
            user_id=user.pk
        ).values_list("category", "channel", "enabled")
    }
    return [
        {
            "key": spec.key,
            "label": str(spec.label),
            "description": str(spec.description),
            "critical": spec.critical,
            "channels": {
                channel: True
                if spec.critical
                else stored.get((spec.key, channel), spec.default[channel])
                for channel in CHANNELS
            },
        }
        for spec in categories().values()
    ]


def parse(category: Any, channel: Any, enabled: Any) -> tuple[str, str, bool]:
    """Check one requested change; raise ``PreferenceError`` naming the bad field."""
    declared = categories()
    if not isinstance(category, str) or category not in declared:
        known = ", ".join(map(repr, sorted(declared))) or "none are declared"
        raise PreferenceError("category", f"Unknown category {category!r}; known: {known}.")
    if channel not in CHANNELS:
        raise PreferenceError(
            "channel", f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}."
        )
    if not isinstance(enabled, bool):
        raise PreferenceError("enabled", "'enabled' must be true or false.")
    if declared[category].critical and not enabled:
        raise PreferenceError(
            "category", f"Category {category!r} is critical: it cannot be muted on any channel."
        )
    return category, channel, enabled


def save(user: Any, changes: Iterable[tuple[str, str, bool]]) -> None:
    """Store ``(category, channel, enabled)`` choices of ``user`` (already ``parse``-d)."""
    from .models import NotificationPreference

    using = router.db_for_write(NotificationPreference)
    with transaction.atomic(using=using):
        for category, channel, enabled in changes:
            NotificationPreference.objects.using(using).update_or_create(
                user_id=user.pk, category=category, channel=channel, defaults={"enabled": enabled}
            )


def mute_email(user: Any) -> int:
    """Turn email off for every non-critical category and for uncategorised ones.

    What the digest's unsubscribe link does; returns how many choices it stored.
    """
    changes = [(spec.key, EMAIL, False) for spec in categories().values() if not spec.critical]
    changes.append(("", EMAIL, False))
    save(user, changes)
    return len(changes)
