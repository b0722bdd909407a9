"""The HTTP JSON API the browser client uses, and a server-rendered history page.

Mount it under any prefix::

    path("notifications/", include("notifications.urls")),

Endpoints, relative to that prefix (session auth; state changes by POST with CSRF):

* ``GET  api/notifications/`` latest page, newest first, ``next`` pages back with ``before``;
* ``GET  api/notifications/?after=C`` what came after cursor C, oldest first (recovery);
* ``GET  api/notifications/?archived=1&category=X&level=Y&unread=1&pinned=1&grouped=1``
  filters (``pinned_first=1`` puts pinned ones on top);
* ``GET  api/unread-count/`` unread, unseen, per category, archived;
* ``POST api/notifications/<id>/read/``, ``.../unread/``, ``.../delete/``,
  ``.../archive/``, ``.../unarchive/``, ``.../snooze/`` (``until``), ``.../pin/``,
  ``.../unpin/`` (``group=1``: the whole group);
* ``POST api/notifications/read-all/``, ``api/notifications/seen/`` (``up_to``);
* ``GET  ''`` the history page, for people without JavaScript.

Another user's id answers exactly like a missing one (404) and changes nothing.
Every state change is pushed to all of the user's sockets after commit, so
every open tab agrees. A POST carrying a ``next`` field (a plain HTML form)
is answered with a redirect instead of JSON.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.db import router, transaction
from django.db.models import Count, F, Max, Q, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import conf, frames, push
from .constants import Level
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

    Only active notifications (not archived, expired or snoozed) unless
    ``archived=1`` (the archived ones); ``category``, ``level``, ``unread=1``
    and ``pinned=1`` filter; ``pinned_first=1`` puts the pinned ones on top of
    the first page (later pages hold the others); ``grouped=1`` collapses each
    ``group_key`` into its newest member, with ``group`` telling its size.
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
        archived = _flag(request, "archived")
        unread = _flag(request, "unread")
        pinned = _flag(request, "pinned")
        pinned_first = _flag(request, "pinned_first")
        grouped = _flag(request, "grouped")
        category = request.GET.get("category")
        level = _level_arg(request)
        if grouped and (archived or after is not None):
            raise InvalidParams("'grouped' lists the inbox: not with 'archived=1' or 'after'.")
    except InvalidParams as exc:
        return _error(400, "invalid_params", str(exc))
    # Read the cursor before the rows: every cursor up to it is then visible
    # to the row query, so a client may safely jump its cursor to it.
    cursor = _last_cursor(request.user)
    mine = Notification.objects.for_user(request.user).select_related("actor")
    mine = mine.archived() if archived else mine.active()
    if category is not None:
        mine = mine.filter(category=category)
    if level is not None:
        mine = mine.filter(level=level)
    if unread:
        mine = mine.unread()
    if pinned is not None:
        mine = mine.filter(pinned=pinned)
    if grouped:
        mine = mine.grouped()
    pinned_rows: list[Notification] = []
    if after is not None:
        rows = list(mine.after(after)[: limit + 1])
    else:
        if pinned_first and pinned is None:
            if before is None:
                pinned_rows = list(mine.filter(pinned=True).order_by("-cursor")[:limit])
            mine = mine.filter(pinned=False)
        newest_first = mine.order_by("-cursor")
        if before is not None:
            newest_first = newest_first.filter(cursor__lt=before)
        rows = list(newest_first[: limit - len(pinned_rows) + 1])
    more = len(rows) > limit - len(pinned_rows)
    rows = pinned_rows + rows[: limit - len(pinned_rows)]
    next_url = None
    if more:
        key = "after" if after is not None else "before"
        # The filters carry over to the next page.
        filters = [(k, v) for k, v in request.GET.items() if k not in ("after", "before", "limit")]
        query = [(key, rows[-1].cursor), ("limit", limit), *filters]
        next_url = f"{request.path}?{urlencode(query)}"
    results = [n.as_dict() for n in rows]
    if grouped:
        _add_groups(request.user, rows, results)
    return JsonResponse(
        {
            "results": results,
            "unread_count": _unread_count(request.user),
            "cursor": cursor,
            "complete": not more,
            "next": next_url,
        }
    )


def _add_groups(user: Any, rows: list[Notification], results: list[dict[str, Any]]) -> None:
    """Add ``group`` (size, unread members, actors, latest time) to grouped entries (one query)."""
    keys = {n.group_key for n in rows if n.group_key}
    if not keys:
        return
    sizes = {
        row["group_key"]: row
        for row in Notification.objects.for_user(user)
        .active()
        .filter(group_key__in=keys)
        .values("group_key")
        .annotate(
            count=Count("pk"),
            unread_count=Count("pk", filter=Q(read_at__isnull=True)),
            actor_count=Count("actor", distinct=True),
            latest_at=Max("created_at"),
        )
        .order_by()
    }
    for n, result in zip(rows, results, strict=True):
        if n.group_key in sizes:
            size = sizes[n.group_key]
            result["group"] = {
                "key": n.group_key,
                "count": size["count"],
                "unread_count": size["unread_count"],
                "actor_count": size["actor_count"],
                "latest_at": size["latest_at"].isoformat(),
            }


@never_cache
@api_view("GET")
@api_login_required
def unread_count(request: HttpRequest) -> HttpResponse:
    """Return the user's counts (unread, unseen, per category, archived) and last cursor."""
    cursor = _last_cursor(request.user)
    mine = Notification.objects.for_user(request.user)
    counts = (
        mine.unread()
        .active()
        .aggregate(unread=Count("pk"), unseen=Count("pk", filter=Q(seen_at__isnull=True)))
    )
    by_category = dict(
        mine.unread()
        .active()
        .exclude(category="")
        .values_list("category")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("category", "n")
    )
    return JsonResponse(
        {
            "unread_count": counts["unread"],
            "unseen_count": counts["unseen"],
            "by_category": by_category,
            "archived_count": mine.archived().count(),
            "badge": conf.get("BADGE_COUNTS"),
            "cursor": cursor,
        }
    )


# Changing --------------------------------------------------------------------


@never_cache
@api_view("POST")
@api_login_required
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification (``group=1``: its group) read; push ``notification.read``."""
    return _change_one(request, pk, lambda qs: qs.mark_read())


@never_cache
@api_view("POST")
@api_login_required
def mark_unread(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification unread; push ``notification.unread`` if it changed."""
    return _change_one(request, pk, lambda qs: qs.mark_unread(), lambda qs: qs.unexpired())


def _change_one(
    request: HttpRequest,
    pk: int,
    change: Callable[[Any], int],
    members: Callable[[Any], Any] = lambda qs: qs.active(),
) -> HttpResponse:
    """Apply ``change`` to one notification of the user, or with ``group=1`` to its group.

    A group is the ``members`` (by default the active ones) of the user's
    notifications with that notification's ``group_key``: reading a grouped
    inbox entry reads all of it.
    """
    try:
        whole_group = _post_flag(request, "group")
    except InvalidParams as exc:
        return _error(400, "invalid_params", str(exc))
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        mine = Notification.objects.for_user(request.user).filter(pk=pk)
        group_key = mine.values_list("group_key", flat=True).first()
        if group_key is None:
            return _not_found()
        if whole_group and group_key:
            # Reading (archiving, ...) a group entry changes every member of it.
            change(members(Notification.objects.for_user(request.user).filter(group_key=group_key)))
        else:
            change(mine)  # Pushes the change to every tab if anything changed.
        notification = mine.select_related("actor").get()
    return _changed(request, {"notification": notification.as_dict()})


def _state_view(name: str, doc: str, members: Callable[[Any], Any] | None = None) -> View:
    def change(qs: Any) -> int:
        return getattr(qs, name)()

    @never_cache
    @api_view("POST")
    @api_login_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        if members is None:
            return _change_one(request, pk, change)
        return _change_one(request, pk, change, members)

    view.__name__ = view.__qualname__ = name
    view.__doc__ = doc
    return view


archive = _state_view("archive", "Archive one notification (or its group); push it.")
unarchive = _state_view(
    "unarchive", "Move one notification back to the inbox; push it.", lambda qs: qs.archived()
)
pin = _state_view("pin", "Pin one notification to the top of the inbox; push it.")
unpin = _state_view("unpin", "Unpin one notification; push it.")


@never_cache
@api_view("POST")
@api_login_required
def snooze(request: HttpRequest, pk: int) -> HttpResponse:
    """Hide one notification (or its group) until ``until``; push ``notification.snoozed``."""
    try:
        until = _until(request)
    except InvalidParams as exc:
        return _error(400, "invalid_params", str(exc))

    def change(qs: Any) -> int:
        return qs.snooze(until)

    return _change_one(request, pk, change)


@never_cache
@api_view("POST")
@api_login_required
def mark_seen(request: HttpRequest) -> HttpResponse:
    """Mark everything at or below cursor ``up_to`` seen; push ``notifications.seen_all``."""
    try:
        up_to = _int_field(request, "up_to", low=0)
    except InvalidParams as exc:
        return _error(400, "invalid_params", str(exc))
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        now = timezone.now()
        changed = (
            Notification.objects.for_user(request.user)
            .unseen()
            .filter(cursor__lte=up_to)
            .update(seen_at=now)
        )
        if changed:
            push.schedule_changes(
                [
                    (
                        request.user.pk,
                        {"type": frames.SEEN_ALL, "cursor": up_to, "seen_at": now.isoformat()},
                    )
                ],
                using=using,
            )
    return _changed(request, {"cursor": up_to, "changed": changed})


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
            .update(read_at=now, seen_at=Coalesce(F("seen_at"), Value(now)))
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
    rows = (
        Notification.objects.for_user(request.user)
        .active()
        .select_related("actor")
        .order_by("-cursor")
    )
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
    return Notification.objects.for_user(user).unread().active().count()


def _flag(request: HttpRequest, name: str) -> bool | None:
    """Return the query parameter ``name`` as a bool (``1``/``0``), None if absent."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("0", "1"):
        raise InvalidParams(f"{name!r} must be 1 or 0.")
    return raw == "1"


def _level_arg(request: HttpRequest) -> int | None:
    raw = request.GET.get("level")
    if raw is None or raw == "":
        return None
    names = {level.name.lower(): int(level) for level in Level}
    if raw.lower() in names:
        return names[raw.lower()]
    if raw.isascii() and raw.isdigit() and int(raw) in names.values():
        return int(raw)
    raise InvalidParams(f"'level' must be one of {', '.join(names)} (or its number).")


def _body(request: HttpRequest) -> Any:
    """The POST fields: the form, or a JSON object body."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise InvalidParams("The body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise InvalidParams("The JSON body must be an object.")
        return body
    return request.POST


def _post_flag(request: HttpRequest, name: str) -> bool:
    value = _body(request).get(name)
    if value in (None, "", "0", 0, False):
        return False
    if value in ("1", 1, True):
        return True
    raise InvalidParams(f"{name!r} must be 1 or 0.")


def _int_field(request: HttpRequest, name: str, *, low: int) -> int:
    value = _body(request).get(name)
    high = 2**63 - 1
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise InvalidParams(f"{name!r} is required: an integer from {low} to {high}.")
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(high)) or not low <= int(digits) <= high:
        raise InvalidParams(f"{name!r} must be an integer from {low} to {high}.")
    return int(digits)


def _until(request: HttpRequest) -> Any:
    """The POST field ``until``: an ISO 8601 time in the future, at most MAX_SNOOZE_DAYS ahead."""
    raw = _body(request).get("until")
    days = conf.get("MAX_SNOOZE_DAYS")
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        raise InvalidParams("'until' is required: an ISO 8601 date and time.")
    try:
        until = parse_datetime(raw.strip())
    except ValueError:
        until = None
    if until is None:
        raise InvalidParams(
            f"'until' must be an ISO 8601 date and time (2026-12-04T09:00:00+01:00); got {raw!r}."
        )
    if timezone.is_naive(until):
        until = timezone.make_aware(until)
    now = timezone.now()
    if until <= now:
        raise InvalidParams("'until' must be in the future.")
    if until > now + datetime.timedelta(days=days):
        raise InvalidParams(
            f"'until' may be at most {days} days ahead (NOTIFICATIONS['MAX_SNOOZE_DAYS'])."
        )
    return until


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
