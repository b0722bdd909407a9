"""The preferences page and API, and the email unsubscribe link.

* ``GET/POST preferences/``: a plain form, one checkbox per category and
  channel (works without JavaScript; POST with CSRF);
* ``GET api/preferences/``: ``{"categories": [{"key", "label", "description",
  "critical", "channels": {"inapp", "email", "push"}}], "channels": [...]}``;
* ``POST api/preferences/``: JSON ``{"category", "channel", "enabled"}`` or
  ``{"preferences": [...]}`` of them; 400 ``invalid_params`` naming the field
  for an unknown category or channel and for muting a critical category;
* ``GET/POST unsubscribe/<token>/``: the digest's signed link. GET shows a
  one-button page (mail scanners fetch links: a GET changes nothing); POST,
  the button or a mail client's RFC 8058 one-click, turns email off. No login:
  the signature is the authorisation, and it cannot be forged without
  ``SECRET_KEY``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import conf, preferences
from .views import _error, api_login_required, api_view

_UNSUBSCRIBE_SALT = "notifications.unsubscribe"
# Largest JSON body the preferences API reads.
_MAX_BODY = 64 * 1024


def _payload(request: HttpRequest) -> dict[str, Any]:
    return {
        "categories": preferences.for_user(request.user),
        "channels": list(preferences.CHANNELS),
    }


@never_cache
@login_required
def preferences_page(request: HttpRequest) -> HttpResponse:
    """Show and save the user's choices: one checkbox per category and channel."""
    if request.method == "POST":
        changes = []
        for spec in preferences.categories().values():
            if spec.critical:
                continue
            for channel in preferences.CHANNELS:
                on = request.POST.get(f"{spec.key}:{channel}") == "on"
                changes.append(preferences.parse(spec.key, channel, on))
        preferences.save(request.user, changes)
        return HttpResponseRedirect(f"{reverse('notifications:preferences')}?saved=1", status=303)
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, HEAD, POST"
        return response
    rows = preferences.for_user(request.user)
    return render(
        request,
        "notifications/preferences.html",
        {
            "base_template": conf.get("BASE_TEMPLATE"),
            "categories": [
                {
                    **row,
                    "cells": [
                        (channel, f"{row['key']}:{channel}", row["channels"][channel])
                        for channel in preferences.CHANNELS
                    ],
                }
                for row in rows
            ],
            "channels": _channel_labels(),
            "saved": request.GET.get("saved") == "1",
            "history_url": reverse("notifications:history"),
        },
    )


def _channel_labels() -> list[tuple[str, Any]]:
    from .models import NotificationPreference

    return [(c.value, c.label) for c in NotificationPreference.Channel]


@never_cache
@csrf_exempt  # api_view("POST") below runs Django's CSRF check and answers in JSON.
@api_login_required
def preferences_api(request: HttpRequest) -> HttpResponse:
    """``GET``: every category with the user's choice per channel; ``POST``: change some."""
    if request.method in ("GET", "HEAD"):
        return api_view("GET")(_read)(request)
    return api_view("POST")(_write)(request)


def _read(request: HttpRequest) -> HttpResponse:
    return JsonResponse(_payload(request))


def _write(request: HttpRequest) -> HttpResponse:
    if len(request.body) > _MAX_BODY:
        return _error(400, "invalid_params", f"The body is larger than {_MAX_BODY} bytes.")
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        return _error(400, "invalid_params", "The body must be JSON.")
    items = body.get("preferences") if isinstance(body, dict) and "preferences" in body else [body]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return _error(
            400,
            "invalid_params",
            'Send {"category", "channel", "enabled"} or {"preferences": [...]} of them.',
        )
    try:
        changes = [
            preferences.parse(item.get("category"), item.get("channel"), item.get("enabled"))
            for item in items
        ]
    except preferences.PreferenceError as exc:
        response = _error(400, "invalid_params", str(exc))
        response["X-Invalid-Field"] = exc.field
        return response
    preferences.save(request.user, changes)
    return JsonResponse(_payload(request))


# Unsubscribing -------------------------------------------------------------


def unsubscribe_token(user: Any) -> str:
    """Return the signed token of ``user``'s unsubscribe link (valid until SECRET_KEY changes)."""
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(str(user.pk))


def unsubscribe_url(user: Any) -> str:
    """Return the path of ``user``'s one-click unsubscribe link."""
    return reverse("notifications:unsubscribe", args=[unsubscribe_token(user)])


def _user_for(token: str) -> Any:
    try:
        pk = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        raise Http404("This unsubscribe link is not valid.") from None
    user_model = get_user_model()
    try:
        return user_model._default_manager.get(pk=user_model._meta.pk.to_python(pk))
    except (user_model.DoesNotExist, ValueError, ValidationError):
        raise Http404("This unsubscribe link is not valid.") from None


@never_cache
@csrf_exempt  # The signed token authorises it; RFC 8058 mail clients POST without a cookie.
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with one button. POST: turn email off for this link's user."""
    user = _user_for(token)
    if request.method == "POST":
        preferences.mute_email(user)
        return render(
            request,
            "notifications/unsubscribe.html",
            {"base_template": conf.get("BASE_TEMPLATE"), "done": True},
        )
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, HEAD, POST"
        return response
    return render(
        request,
        "notifications/unsubscribe.html",
        {"base_template": conf.get("BASE_TEMPLATE"), "done": False, "action": request.path},
    )
