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
    # client that exceeds it is closed with 4429.
    "RATE_LIMIT_PER_SECOND": 10.0,
    "RATE_LIMIT_BURST": 40,
    # Most notifications returned by one sync or one page of the HTTP list.
    "SYNC_PAGE_SIZE": 100,
    # How pushes travel between processes (see notifications.delivery): "auto"
    # picks "redis" for a channels-redis layer with plain addresses, "local"
    # for the in-memory layer or none, "channel_layer" for any other layer.
    "TRANSPORT": "auto",
    # Redis for the "redis" transport; empty: the channel layer's first host.
    "REDIS_URL": "",
    # Seconds between re-joins of the hubs' group on the "channel_layer"
    # transport, so that channels-redis's group_expiry never drops a server.
    "GROUP_REFRESH_SECONDS": 3600,
    # Seconds the transport may stay unreachable (Redis down) before every
    # socket is closed with 4503 so clients poll over HTTP; a shorter blip only
    # costs each socket a ``resync`` frame.
    "OUTAGE_GRACE_SECONDS": 3.0,
    # "local" transport: seconds between the server's looks in the database
    # for notifications other processes (the shell) created.
    "LOCAL_POLL_SECONDS": 1.0,
    # Freeze the start-up heap and raise the collector's first threshold in
    # processes that serve sockets (see delivery._tune_gc_once).
    "GC_TUNING": True,
    # Sockets one user may hold open on one server process; one more is
    # closed with 4409. The browser client shares one socket between tabs.
    "MAX_SOCKETS_PER_USER": 20,
    # Flow control: bytes pushed to a socket that its client has not yet
    # acknowledged ({"action": "ack"}). Past it the socket gets one ``resync``
    # frame and no more pushes until it acknowledges; a client that does not
    # within ACK_TIMEOUT_SECONDS is closed with 4408.
    "MAX_UNACKED_BYTES": 256 * 1024,
    "ACK_TIMEOUT_SECONDS": 30.0,
    # Seconds between re-checks of each socket's session, whether or not the
    # client sends anything: a socket whose session expired or was deleted is
    # closed with 4440 (reconnect with the current cookie). Logout, a password
    # change, deactivation and deletion of the user close its sockets at once.
    "REVALIDATE_SECONDS": 60,
    # Largest JSON-encoded ``data`` accepted for one notification, in bytes.
    "MAX_DATA_BYTES": 8192,
    # Browser client and HTTP API --------------------------------------------
    # Notifications per page of the inbox dropdown, of the history page, and of
    # the HTTP list when the request gives no ``limit`` (at most SYNC_PAGE_SIZE).
    "INBOX_PAGE_SIZE": 20,
    # Seconds a toast stays before it dismisses itself; 0 keeps every toast
    # until closed. Levels in TOAST_STICKY_LEVELS always stay.
    "TOAST_TIMEOUT_SECONDS": 6,
    "TOAST_STICKY_LEVELS": ("error",),
    # Most toasts shown at once; the oldest goes when another arrives.
    "MAX_TOASTS": 5,
    # After a reconnect, up to this many missed notifications are toasted one
    # by one; more become a single summary toast (all go to the inbox).
    "RECOVERY_TOAST_LIMIT": 5,
    # Seconds between HTTP polls when the websocket cannot be held (a proxy
    # that blocks websockets); the client keeps retrying the socket meanwhile.
    "POLL_INTERVAL_SECONDS": 30,
    # Template the history page extends; it must define the blocks ``title``
    # and ``content``. The default is a plain standalone page.
    "BASE_TEMPLATE": "notifications/base.html",
    # Path of the websocket the client opens, e.g. "/realtime/notifications/".
    # None: the route to NotificationConsumer found in ASGI_APPLICATION (the
    # first one), else "/ws/notifications/". Set it when the route has
    # parameters or a middleware hides it; check reports a path with no route.
    "SOCKET_PATH": None,
    # Reaching people who are not looking (notifications.preferences, .digest,
    # .webpush) ------------------------------------------------------------------
    # The project's categories: {"billing": {"label": _("Billing"),
    # "description": ..., "default": {"inapp": True, "email": True, "push":
    # False}, "critical": False}}. Empty: no categories, nothing can be muted.
    # When set, send() refuses a category that is not declared.
    "CATEGORIES": {},
    # Minutes a notification stays unread before the email digest may send it.
    "EMAIL_DELAY_MINUTES": 15,
    # Most notifications listed in one user's digest (the rest wait for the next run).
    "EMAIL_DIGEST_LIMIT": 50,
    # Sender of digests; None: settings.DEFAULT_FROM_EMAIL.
    "EMAIL_FROM": None,
    # Absolute base of links in emails and pushes, e.g. "https://example.com";
    # empty: the digest command's --base-url, else http://localhost.
    "SITE_URL": "",
    # Web Push (the [webpush] extra): VAPID keys from manage.py
    # notifications_vapid_keys, and the contact the push services may write to.
    "WEBPUSH_VAPID_PUBLIC_KEY": "",
    "WEBPUSH_VAPID_PRIVATE_KEY": "",
    "WEBPUSH_VAPID_SUBJECT": "",
    # Seconds one push request may take before it is given up.
    "WEBPUSH_TIMEOUT_SECONDS": 5.0,
    # Browser client: prefix the tab title with the unread count, "(3) Page".
    "TITLE_COUNT": True,
    # Browser client: play a short sound with a desktop notification.
    "DESKTOP_SOUND": False,
    # Dotted path of a function user -> language code for per-recipient text;
    # None: settings.LANGUAGE_CODE for everyone.
    "LANGUAGE_FOR_USER": None,
    # Inbox ---------------------------------------------------------------------
    # What the bell counts: "unread" (not read yet) or "unseen" (not shown in
    # an open inbox yet). Either way only active ones (not archived, expired
    # or snoozed).
    "BADGE_COUNTS": "unread",
    # A callable (or its dotted path) taking the actor and returning an image
    # URL for notifications sent with an actor and no ``image``; None: none.
    "ACTOR_IMAGE": None,
    # notifications_cleanup: rows deleted per statement (each in its own short
    # transaction), and the defaults of --read-older-than and
    # --archived-older-than in days (None: keep them).
    "CLEANUP_BATCH_SIZE": 1000,
    "CLEANUP_READ_OLDER_THAN_DAYS": None,
    "CLEANUP_ARCHIVED_OLDER_THAN_DAYS": None,
    # Longest snooze accepted by the HTTP API, in days.
    "MAX_SNOOZE_DAYS": 365,
}


#: Settings that take one of a few values.
CHOICES: dict[str, tuple[str, ...]] = {"BADGE_COUNTS": ("unread", "unseen")}


def get(name: str) -> Any:
    """Return the setting ``name``: the project's value or the default."""
    overrides = _overrides()
    if name not in DEFAULTS:
        raise ImproperlyConfigured(f"notifications has no setting named {name!r}.")
    value = overrides.get(name, DEFAULTS[name])
    if name in CHOICES and value not in CHOICES[name]:
        raise ImproperlyConfigured(
            f"NOTIFICATIONS[{name!r}] must be one of {', '.join(map(repr, CHOICES[name]))}; "
            f"got {value!r}."
        )
    return value


def _overrides() -> dict[str, Any]:
    overrides = getattr(settings, "NOTIFICATIONS", None) or {}
    if not isinstance(overrides, dict):
        raise ImproperlyConfigured("settings.NOTIFICATIONS must be a dict.")
    # Checked once per dict and set of keys: settings are read on hot paths
    # (every pushed frame), and override_settings swaps in a new dict.
    keys = tuple(overrides)
    if _checked.get(id(overrides)) != keys:
        unknown = sorted(set(overrides) - set(DEFAULTS))
        if unknown:
            raise ImproperlyConfigured(
                f"Unknown key(s) in settings.NOTIFICATIONS: {', '.join(unknown)}. "
                f"Known keys: {', '.join(sorted(DEFAULTS))}."
            )
        _checked.clear()
        _checked[id(overrides)] = keys
    return overrides


_checked: dict[int, tuple[str, ...]] = {}
