"""Web Push endpoints and the service worker (see ``notifications.webpush``).

* ``GET  service-worker.js``: the service worker, with ``Service-Worker-Allowed: /``
  so that the client registers it for the whole site (scope ``/``) from under
  the include's prefix: no root URL to add;
* ``GET  api/push/``: ``{"public_key", "subscribed"}`` (``subscribed``: how
  many browsers of this user are);
* ``POST api/push/subscriptions/``: the browser's ``PushSubscription.toJSON()``;
  stores it for the logged-in user (an endpoint already stored moves to them:
  it is one browser);
* ``POST api/push/subscriptions/delete/``: ``{"endpoint"}``, one of yours (else 404).

All answer 404 ``push_disabled`` while no VAPID keys are set.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import router, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from . import conf, webpush
from .views import _error, api_login_required, api_view

_MAX_BODY = 8 * 1024


def _disabled() -> HttpResponse:
    return _error(404, "push_disabled", "Web Push is not configured on this site (VAPID keys).")


def service_worker(request: HttpRequest) -> HttpResponse:
    """Serve the service worker that shows pushes, allowed to control the whole site."""
    response = render(
        request,
        "notifications/service-worker.js",
        {"history_url_json": json.dumps(reverse("notifications:history"))},
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@never_cache
@api_view("GET")
@api_login_required
def push_config(request: HttpRequest) -> HttpResponse:
    """Return the VAPID public key the browser subscribes with."""
    if not webpush.configured():
        return _disabled()
    from .models import PushSubscription

    return JsonResponse(
        {
            "public_key": conf.get("WEBPUSH_VAPID_PUBLIC_KEY"),
            "subscribed": PushSubscription.objects.filter(user=request.user).count(),
        }
    )


def _body(request: HttpRequest) -> Any:
    if len(request.body) > _MAX_BODY:
        raise webpush.InvalidSubscription("body", f"The body is larger than {_MAX_BODY} bytes.")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise webpush.InvalidSubscription("body", "The body must be JSON.") from None


def _invalid(exc: webpush.InvalidSubscription) -> HttpResponse:
    response = _error(400, "invalid_params", str(exc))
    response["X-Invalid-Field"] = exc.field
    return response


@never_cache
@api_view("POST")
@api_login_required
def subscribe(request: HttpRequest) -> HttpResponse:
    """Store this browser's push subscription for the logged-in user."""
    if not webpush.configured():
        return _disabled()
    from .models import PushSubscription

    try:
        endpoint, p256dh, auth = webpush.parse_subscription(_body(request))
    except webpush.InvalidSubscription as exc:
        return _invalid(exc)
    agent = request.headers.get("User-Agent", "")[:300]
    with transaction.atomic(using=router.db_for_write(PushSubscription)):
        subscription, created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={"user": request.user, "p256dh": p256dh, "auth": auth, "user_agent": agent},
        )
    return JsonResponse({"id": subscription.pk, "created": created}, status=201 if created else 200)


@never_cache
@api_view("POST")
@api_login_required
def unsubscribe(request: HttpRequest) -> HttpResponse:
    """Forget one of the user's subscriptions, by endpoint."""
    if not webpush.configured():
        return _disabled()
    from .models import PushSubscription

    try:
        body = _body(request)
    except webpush.InvalidSubscription as exc:
        return _invalid(exc)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str):
        return _invalid(webpush.InvalidSubscription("endpoint", "'endpoint' must be a string."))
    deleted, _ = PushSubscription.objects.filter(user=request.user, endpoint=endpoint).delete()
    if not deleted:
        return _error(404, "not_found", "No such push subscription of yours.")
    return JsonResponse({"deleted": True})
