"""Web Push: reach a user's browser when none of their tabs is open.

An optional extra: ``pip install "django-realtime-notifications[webpush]"``
(pywebpush and py-vapid), VAPID keys from ``manage.py
notifications_vapid_keys`` in ``WEBPUSH_VAPID_PUBLIC_KEY`` /
``WEBPUSH_VAPID_PRIVATE_KEY``, and a contact in ``WEBPUSH_VAPID_SUBJECT``
(``mailto:...`` or ``https://...``). Without keys nothing here runs and
``send()`` costs nothing more.

After ``send()`` commits, the recipients who have **no open socket** anywhere
(the delivery transport's presence; when it cannot tell, everyone) and have
push on for the category get one encrypted push per subscribed browser. The
lookup is two queries (preferences, subscriptions) in the committing thread;
the HTTP requests go to a small thread pool, so a request never waits for a
push service (each request gives up after ``WEBPUSH_TIMEOUT_SECONDS``).
Pushes still queued when the process exits are lost: like the socket push,
Web Push is best effort and the row stays the truth. A push service answering
404 or 410 (the browser unsubscribed) deletes the subscription.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db import close_old_connections, router
from django.utils import timezone

from . import conf, delivery, preferences, push

if TYPE_CHECKING:
    from .models import Notification

logger = logging.getLogger(__name__)

# Largest JSON payload: push services accept 4 096 bytes after encryption
# (aes128gcm adds 103 bytes per record header and tag).
MAX_PAYLOAD_BYTES = 3000
_WORKERS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_pending: set[Future] = set()


class InvalidSubscription(ValueError):
    """A subscription from the browser that cannot be stored; ``field`` names the part."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def available() -> bool:
    """Whether pywebpush is installed (the ``[webpush]`` extra)."""
    try:
        import pywebpush  # noqa: F401
    except ImportError:
        return False
    return True


def configured() -> bool:
    """Whether Web Push is on: VAPID keys set (pywebpush is checked when sending)."""
    return bool(conf.get("WEBPUSH_VAPID_PUBLIC_KEY") and conf.get("WEBPUSH_VAPID_PRIVATE_KEY"))


def schedule(notifications: Sequence[Notification], category: str, *, using: str) -> None:
    """After commit, push ``notifications`` to the browsers of recipients with no open socket."""
    if notifications and configured() and not delivery.is_muted():
        # Robust, like the socket push: a failure is logged, never the caller's (TX-05).
        push.after_commit(push_offline, list(notifications), category, using=using)


def push_offline(notifications: Sequence[Notification], category: str) -> int:
    """Queue a push per subscription of each recipient who is offline with push on.

    Return how many pushes were queued. Two queries at most, whatever the
    number of recipients.
    """
    from .models import PushSubscription

    by_user = {n.recipient_id: n for n in notifications}
    keys = {pk: delivery.user_key(pk) for pk in by_user}
    online = delivery.online(list(keys.values()))
    offline = [pk for pk in by_user if online is None or keys[pk] not in online]
    offline = preferences.enabled_for(offline, category, preferences.PUSH)
    if not offline:
        return 0
    subscriptions = list(
        PushSubscription.objects.using(router.db_for_read(PushSubscription)).filter(
            user_id__in=offline
        )
    )
    for subscription in subscriptions:
        _submit(subscription, payload(by_user[subscription.user_id]))
    return len(subscriptions)


def payload(notification: Notification) -> str:
    """Return the push's JSON: what the service worker shows (at most MAX_PAYLOAD_BYTES)."""
    from .validators import safe_link

    data = {
        "id": notification.pk,
        "title": notification.title,
        "body": notification.message,
        "url": safe_link(notification.url),
        "category": notification.category,
        "level": notification.level_tag,
        "tag": f"notification-{notification.pk}",
    }
    text = json.dumps(data, ensure_ascii=False)
    while len(text.encode()) > MAX_PAYLOAD_BYTES:
        cut = max(0, len(data["body"]) - max(50, len(text.encode()) - MAX_PAYLOAD_BYTES))
        data["body"] = data["body"][:cut].rstrip() + "…"
        data["title"] = data["title"][:100]
        text = json.dumps(data, ensure_ascii=False)
    return text


def _submit(subscription: Any, data: str) -> None:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="notifications-webpush")
        future = _pool.submit(_deliver, subscription, data)
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def flush(timeout: float = 10.0) -> bool:
    """Wait until the queued pushes are done; return whether they all finished in time."""
    with _pool_lock:
        futures = list(_pending)
    _done, not_done = wait(futures, timeout=timeout)
    return not not_done


def _deliver(subscription: Any, data: str) -> int | None:
    """Send one push (in a pool thread); delete the subscription on 404/410."""
    from pywebpush import WebPushException, webpush

    from .models import PushSubscription

    status = None
    try:
        response = webpush(
            subscription_info=subscription_info(subscription),
            data=data,
            vapid_private_key=conf.get("WEBPUSH_VAPID_PRIVATE_KEY"),
            vapid_claims={"sub": conf.get("WEBPUSH_VAPID_SUBJECT")},
            timeout=conf.get("WEBPUSH_TIMEOUT_SECONDS"),
            ttl=24 * 3600,
        )
        status = response.status_code
        PushSubscription.objects.filter(pk=subscription.pk).update(last_push_at=timezone.now())
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (404, 410):
            PushSubscription.objects.filter(pk=subscription.pk).delete()
            logger.info("Push subscription %s expired (%s); deleted.", subscription.pk, status)
        else:
            logger.warning("Web Push to subscription %s failed: %s", subscription.pk, exc)
    except Exception:
        logger.exception("Web Push to subscription %s failed.", subscription.pk)
    finally:
        close_old_connections()
    return status


def subscription_info(subscription: Any) -> dict[str, Any]:
    """Return the ``PushSubscription`` in the browser's ``PushSubscription.toJSON()`` shape."""
    return {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }


# Subscriptions from the browser ----------------------------------------------------


def _b64url_bytes(value: Any, field_name: str, size: int) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidSubscription(field_name, f"'{field_name}' must be a base64url string.")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(field_name, f"'{field_name}' is not base64url.") from None
    if len(raw) != size:
        raise InvalidSubscription(
            field_name, f"'{field_name}' must decode to {size} bytes, not {len(raw)}."
        )
    return value


def parse_subscription(body: Any) -> tuple[str, str, str]:
    """Check a ``PushSubscription.toJSON()``; return ``(endpoint, p256dh, auth)``.

    The endpoint must be https (http only on a loopback host, for tests); the
    keys a P-256 point (65 bytes) and a 16-byte secret.
    """
    if not isinstance(body, dict):
        raise InvalidSubscription("endpoint", "Send the browser's PushSubscription as JSON.")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2000:
        raise InvalidSubscription(
            "endpoint", "'endpoint' must be a URL of at most 2000 characters."
        )
    parts = urlsplit(endpoint)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise InvalidSubscription("endpoint", "'endpoint' must be an https:// URL.")
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise InvalidSubscription("keys", "'keys' must hold 'p256dh' and 'auth'.")
    p256dh = _b64url_bytes(keys.get("p256dh"), "p256dh", 65)
    auth = _b64url_bytes(keys.get("auth"), "auth", 16)
    return endpoint, p256dh, auth
