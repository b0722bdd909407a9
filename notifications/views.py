"""The HTTP JSON API the browser client uses, and a server-rendered history page.

Mount it under any prefix::

    path("notifications/", include("notifications.urls")),

Endpoints, relative to that prefix (session auth; state changes by POST with CSRF):

* ``GET  api/notifications/`` latest page, newest first, ``next`` pages back with ``before``;
* ``GET  api/notifications/?after=C`` what came after cursor C, oldest first (recovery);
* ``GET  api/unread-count/``;
* ``POST api/notifications/<id>/read/``, ``.../unread/``, ``.../delete/``;
* ``POST api/notifications/read-all/``;
* ``GET  ''`` the history page, for people without JavaScript.

Another user's id answers exactly like a missing one (404) and changes nothing.
Every state change is pushed to all of the user's sockets after commit, so
every open tab agrees. A POST carrying a ``next`` field (a plain HTML form)
is answered with a redirect instead of JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import conf, frames, push
from .models import Inbox, Notification
from .validators import safe_link

View = Callable[..., HttpResponse]


class InvalidParams(ValueError):
    pass


def api_view(method: str) -> Callable[[View], View]:
    """Allow only ``method``, check CSRF on POST, and answer both failures in JSON.

    Django's CSRF middleware answers with ``CSRF_FAILURE_VIEW`` (an HTML page
    by default) and ``require_POST`` with an empty 405; a client of the API
    gets ``{"error": "csrf_failed" | "method_not_allowed", "detail": ...}``
    instead, whatever the project's ``CSRF_FAILURE_VIEW``.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method and not (method == "GET" and request.method == "HEAD"):
                response = _error(
                    405, "method_not_allowed", f"{request.method} is not allowed; use {method}."
                )
                response["Allow"] = "GET, HEAD" if method == "GET" else method
                return response
            if method == "POST":
                rejected = _JsonCsrfCheck(view).check(request, args, kwargs)
                if rejected is not None:
                    return rejected
            return view(request, *args, **kwargs)

        # The middleware would answer with CSRF_FAILURE_VIEW: the check happens above.
        return csrf_exempt(wrapper)

    return decorator


class _JsonCsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check (tokens, cookies, Origin, Referer), rejecting in JSON."""

    def __init__(self, view: View) -> None:
        super().__init__(view)
        self.view = view

    def check(self, request: HttpRequest, args: Any, kwargs: Any) -> HttpResponse | None:
        if "CSRF_COOKIE" not in request.META:  # the project runs no CsrfViewMiddleware
            self.process_request(request)
        return self.process_view(request, self.view, args, kwargs)

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        super()._reject(request, reason)  # logs to django.security.csrf, as Django does
        return _error(
            403,
            "csrf_failed",
            f"CSRF verification failed: {reason} Send the token from the tag's "
            "data-csrf-token (or the csrftoken cookie) in the X-CSRFToken header.",
        )


def api_login_required(view: View) -> View:
    """Answer 401 JSON, not a login redirect, to anonymous API requests."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _error(401, "not_authenticated", "Log in to use the notifications API.")
        return view(request, *args, **kwargs)

    return wrapper


# Reading ---------------------------------------------------------------------


@never_cache
@api_view("GET")
@api_login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """List the user's notifications: the latest page, an older page, or what came after a cursor.

    ``after=C`` answers oldest first and sets ``complete: false`` when more than
    ``limit`` are missing (the client then reloads its list). Without it the
    answer is newest first, and ``next`` fetches the page before the last one.
    """
    try:
        after = _int_arg(request, "after", low=0)
        before = _int_arg(request, "before", low=1)
        page = conf.get("SYNC_PAGE_SIZE")
        limit = _int_arg(request, "limit", low=1, high=page)
        if limit is None:
            limit = min(conf.get("INBOX_PAGE_SIZE"), page)
        if after is not None and before is not None:
            raise InvalidParams("Give 'after' or 'before', not both.")
    except InvalidParams as exc:
        return _error(400, "invalid_params", str(exc))
    # Read the cursor before the rows: every cursor up to it is then visible
    # to the row query, so a client may safely jump its cursor to it.
    cursor = _last_cursor(request.user)
    mine = Notification.objects.for_user(request.user).select_related("actor")
    if after is not None:
        rows = list(mine.after(after)[: limit + 1])
    else:
        newest_first = mine.order_by("-cursor")
        if before is not None:
            newest_first = newest_first.filter(cursor__lt=before)
        rows = list(newest_first[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        key = "after" if after is not None else "before"
        next_url = f"{request.path}?{urlencode({key: rows[-1].cursor, 'limit': limit})}"
    return JsonResponse(
        {
            "results": [n.as_dict() for n in rows],
            "unread_count": _unread_count(request.user),
            "cursor": cursor,
            "complete": not more,
            "next": next_url,
        }
    )


@never_cache
@api_view("GET")
@api_login_required
def unread_count(request: HttpRequest) -> HttpResponse:
    """Return the user's unread count and last cursor."""
    return JsonResponse(
        {"unread_count": _unread_count(request.user), "cursor": _last_cursor(request.user)}
    )


# Changing --------------------------------------------------------------------


@never_cache
@api_view("POST")
@api_login_required
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read; push ``notification.read`` if it changed."""
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        mine = Notification.objects.for_user(request.user).filter(pk=pk)
        if not mine.exists():
            return _not_found()
        mine.mark_read()  # Pushes notification.read to every tab if it changed.
        notification = mine.select_related("actor").get()
    return _changed(request, {"notification": notification.as_dict()})


@never_cache
@api_view("POST")
@api_login_required
def mark_unread(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification unread; push ``notification.unread`` if it changed."""
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        mine = Notification.objects.for_user(request.user).filter(pk=pk)
        if not mine.exists():
            return _not_found()
        mine.mark_unread()  # Pushes notification.unread if it changed.
        notification = mine.select_related("actor").get()
    return _changed(request, {"notification": notification.as_dict()})


@never_cache
@api_view("POST")
@api_login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one notification; push ``notification.deleted``."""
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        # Pushes notification.deleted to every tab.
        deleted, _ = Notification.objects.for_user(request.user).filter(pk=pk).delete()
        if not deleted:
            return _not_found()
    return _changed(request, {"id": pk})


@never_cache
@api_view("POST")
@api_login_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    """Mark every notification up to the user's current cursor read.

    The cursor bounds the change, so one that arrives during the request stays
    unread in every tab; the ``notifications.read_all`` frame carries it.
    """
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        cursor = _last_cursor(request.user)
        now = timezone.now()
        # update(), not mark_read(): one compact read_all frame instead of
        # a frame listing every id.
        changed = (
            Notification.objects.for_user(request.user)
            .unread()
            .filter(cursor__lte=cursor)
            .update(read_at=now)
        )
        if changed:
            push.schedule_changes(
                [
                    (
                        request.user.pk,
                        {"type": frames.READ_ALL, "cursor": cursor, "read_at": now.isoformat()},
                    )
                ],
                using=using,
            )
    return _changed(request, {"cursor": cursor, "changed": changed})


# The history page ------------------------------------------------------------


@never_cache
@login_required
def history(request: HttpRequest) -> HttpResponse:
    """Render the user's notifications, newest first, a page at a time (no JavaScript needed)."""
    try:
        before = _int_arg(request, "before", low=1)
    except InvalidParams as exc:
        raise BadRequest(str(exc)) from exc  # The project's 400 page.
    size = conf.get("INBOX_PAGE_SIZE")
    rows = Notification.objects.for_user(request.user).select_related("actor").order_by("-cursor")
    if before is not None:
        rows = rows.filter(cursor__lt=before)
    page = list(rows[: size + 1])
    older = f"?{urlencode({'before': page[size - 1].cursor})}" if len(page) > size else None
    return render(
        request,
        "notifications/history.html",
        {
            "base_template": conf.get("BASE_TEMPLATE"),
            "notifications": [(n, safe_link(n.url) or None) for n in page[:size]],
            "unread_count": _unread_count(request.user),
            "older_url": older,
            "newest_url": request.path if before is not None else None,
            "here": request.get_full_path(),
        },
    )


# Helpers ---------------------------------------------------------------------


def _changed(request: HttpRequest, payload: dict[str, Any]) -> HttpResponse:
    """Answer a state change: JSON with the new unread count, or a redirect for a form."""
    if "next" in request.POST:
        target = request.POST["next"]
        safe = url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return HttpResponseRedirect(
            target if safe else reverse("notifications:history"), status=303
        )
    return JsonResponse({**payload, "unread_count": _unread_count(request.user)})


def _unread_count(user: Any) -> int:
    return Notification.objects.for_user(user).unread().count()


def _last_cursor(user: Any) -> int:
    return Inbox.objects.last_cursor(user.pk)


def _int_arg(request: HttpRequest, name: str, *, low: int, high: int = 2**63 - 1) -> int | None:
    """Return the query parameter ``name`` as an int in ``[low, high]``, None if absent.

    Raise ``InvalidParams`` for anything else: signs, spaces, non-ASCII digits,
    and numbers too long to compare (``int()`` refuses more than 4300 digits
    with a ValueError).
    """
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    digits = raw.lstrip("0") or "0"
    if (
        not (raw.isascii() and raw.isdigit())
        or len(digits) > len(str(high))
        or not low <= int(digits) <= high
    ):
        raise InvalidParams(f"{name!r} must be an integer from {low} to {high}.")
    return int(digits)


def _not_found() -> HttpResponse:
    # The same answer for a missing id and another user's id: no probing.
    return _error(404, "not_found", "No such notification.")


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Answer a path under ``api/`` that is no endpoint with a JSON 404."""
    return _error(404, "not_found", f"No notifications API endpoint at {request.path}.")


def _error(status: int, code: str, detail: str) -> HttpResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)
