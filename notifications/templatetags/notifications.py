"""``{% load notifications %}{% notifications_live %}``: the live client on a page.

The tag renders the bell with its unread count, the inbox dropdown, the toast
region and one ``<script type="module">`` configured entirely through
``data-*`` attributes: every URL is reversed here, so the app can be mounted
under any prefix, and no inline script is needed under a strict CSP::

    {% load notifications %}
    {% notifications_live %}                 {# nonce found by itself, see below #}
    {% notifications_live nonce=my_nonce %}  {# or given #}

The nonce is, in order: the ``nonce`` argument, the ``csp_nonce`` context
variable (Django 6's ``csp`` context processor), ``request.csp_nonce``
(django-csp 4) and the nonce of Django 6's ``ContentSecurityPolicyMiddleware``.
Both libraries make it lazy and falsy until read, so it is forced to a string
here, which also puts it into the response's policy header.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html_join

from .. import conf
from ..routing import socket_path

register = template.Library()

# Reversed in place of an id, then swapped for "{id}" for the client to fill in.
_ID = 2147483647

#: Seconds between the client's ``ping`` frames (the pong carries cursor + count).
HEARTBEAT_SECONDS = 25


@register.inclusion_tag("notifications/live.html", takes_context=True)
def notifications_live(context: template.Context, nonce: Any = None) -> dict[str, Any]:
    """Render the client for the logged-in user (nothing for anonymous visitors).

    ``nonce`` goes on the script and stylesheet tags for a strict CSP; without
    it the tag uses the page's CSP nonce, whichever library made it.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not (user and user.is_authenticated):
        return {"enabled": False}
    return {
        "enabled": True,
        "nonce": csp_nonce(context, request, nonce),
        "history_url": reverse("notifications:history"),
        "preferences_url": _preferences_url(),
        **_reach(),
        # The real count without JavaScript (the bell is then a link to the history).
        "unread_count": _unread_count(user),
        # Escaped by format_html_join; attribute values only, never markup.
        "data_attrs": format_html_join(" ", 'data-{}="{}"', client_config(request).items()),
    }


def csp_nonce(context: template.Context, request: Any, nonce: Any = None) -> str:
    """Return the nonce for the client's tags as a string ("" when there is none).

    Never test these lazy nonces for truth: django-csp's and Django's are falsy
    until something reads them. ``str()`` reads them.
    """
    for candidate in (
        nonce,
        context.get("csp_nonce"),
        getattr(request, "csp_nonce", None),
        _django_csp_nonce(request),
    ):
        if candidate is not None and candidate != "":
            return str(candidate)
    return ""


def _django_csp_nonce(request: Any) -> Any:
    # Django 6.0+: the middleware's nonce, even without the csp context processor.
    try:
        from django.middleware.csp import get_nonce
    except ImportError:  # Django 5.2
        return None
    return get_nonce(request)


def client_config(request: Any) -> dict[str, str]:
    """Return the ``data-*`` attributes (without the prefix) that configure the client."""

    def item_url(name: str) -> str:
        return reverse(f"notifications:{name}", args=[_ID]).replace(str(_ID), "{id}")

    sticky = conf.get("TOAST_STICKY_LEVELS")
    return {
        "user-id": str(request.user.pk),
        "csrf-token": get_token(request),
        "socket-path": socket_path(),
        "list-url": reverse("notifications:api-list"),
        "unread-count-url": reverse("notifications:api-unread-count"),
        "read-all-url": reverse("notifications:api-read-all"),
        "read-url": item_url("api-read"),
        "unread-url": item_url("api-unread"),
        "delete-url": item_url("api-delete"),
        "archive-url": item_url("api-archive"),
        "unarchive-url": item_url("api-unarchive"),
        "snooze-url": item_url("api-snooze"),
        "pin-url": item_url("api-pin"),
        "unpin-url": item_url("api-unpin"),
        "seen-url": reverse("notifications:api-seen"),
        "badge-counts": conf.get("BADGE_COUNTS"),
        "history-url": reverse("notifications:history"),
        "page-size": str(min(conf.get("INBOX_PAGE_SIZE"), conf.get("SYNC_PAGE_SIZE"))),
        "sync-limit": str(conf.get("SYNC_PAGE_SIZE")),
        "toast-timeout": str(int(conf.get("TOAST_TIMEOUT_SECONDS") * 1000)),
        "sticky-levels": ",".join(sticky),
        "max-toasts": str(conf.get("MAX_TOASTS")),
        "recovery-toast-limit": str(conf.get("RECOVERY_TOAST_LIMIT")),
        "poll-interval": str(int(conf.get("POLL_INTERVAL_SECONDS") * 1000)),
        "heartbeat": str(HEARTBEAT_SECONDS * 1000),
    }


def _unread_count(user: Any) -> int:
    from ..models import Notification  # The app registry is ready when a template renders.

    counted = Notification.objects.for_user(user).unread().active()
    if conf.get("BADGE_COUNTS") == "unseen":
        counted = counted.unseen()
    return counted.count()


def _preferences_url() -> str:
    """The preferences page, when the project declared categories to choose from."""
    from ..preferences import categories

    return reverse("notifications:preferences") if categories() else ""


def _reach() -> dict[str, Any]:
    """Options of the desktop alerts and Web Push buttons (client/alerts.js, client/push.js)."""
    from ..webpush import configured

    attrs = {
        "title-count": "true" if conf.get("TITLE_COUNT") else "false",
        "sound": "true" if conf.get("DESKTOP_SOUND") else "false",
    }
    push = configured()
    if push:
        attrs |= {
            "push-config-url": reverse("notifications:api-push"),
            "push-subscribe-url": reverse("notifications:api-push-subscribe"),
            "push-unsubscribe-url": reverse("notifications:api-push-unsubscribe"),
            "service-worker-url": reverse("notifications:service-worker"),
        }
    return {"push": push, "reach_attrs": format_html_join(" ", 'data-{}="{}"', attrs.items())}
