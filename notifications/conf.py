"""Settings of the notifications app, read at call time.

Projects configure the app with one dict::

    NOTIFICATIONS = {"SYNC_PAGE_SIZE": 50}

Every key is optional; ``DEFAULTS`` documents them. A key that is not in
``DEFAULTS`` is an ``ImproperlyConfigured`` error naming it, so a typo never
silently falls back to a default. Values are read each time they are used, so
``override_settings(NOTIFICATIONS=...)`` just works.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # Alias of the channel layer (in CHANNEL_LAYERS) that carries the pushes.
    "CHANNEL_LAYER": "default",
    # Largest text frame, in bytes, a client may send; larger frames get an
    # error frame ``too_large`` (clients only send tiny control messages).
    "MAX_FRAME_BYTES": 4096,
    # Token bucket per socket: sustained frames per second and burst size. A
    # client that exceeds it is closed with 1008 (policy violation).
    "RATE_LIMIT_PER_SECOND": 10.0,
    "RATE_LIMIT_BURST": 40,
    # Most notifications returned by one sync or one page of the HTTP list.
    "SYNC_PAGE_SIZE": 100,
    # Seconds between re-joins of the user's group, so that channels-redis's
    # group_expiry (default one day) never silently unsubscribes an old tab.
    "GROUP_REFRESH_SECONDS": 3600,
    # Largest JSON-encoded ``data`` accepted for one notification, in bytes.
    "MAX_DATA_BYTES": 8192,
}


def get(name: str) -> Any:
    """Return the setting ``name``: the project's value or the default."""
    overrides = _overrides()
    if name not in DEFAULTS:
        raise ImproperlyConfigured(f"notifications has no setting named {name!r}.")
    return overrides.get(name, DEFAULTS[name])


def _overrides() -> dict[str, Any]:
    overrides = getattr(settings, "NOTIFICATIONS", None) or {}
    if not isinstance(overrides, dict):
        raise ImproperlyConfigured("settings.NOTIFICATIONS must be a dict.")
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown key(s) in settings.NOTIFICATIONS: {', '.join(unknown)}. "
            f"Known keys: {', '.join(sorted(DEFAULTS))}."
        )
    return overrides
