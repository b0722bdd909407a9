"""The admin: the notification list, a compose-and-broadcast page, and its history.

The compose page lives at ``/admin/notifications/notification/send/`` and is
linked from the notification list. It sends through ``notifications.send()``
(one bulk insert, pushes after commit), like application code does, and records
a ``Broadcast`` row per send.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import api
from .forms import ComposeForm, DataField
from .models import Broadcast, Notification

logger = logging.getLogger(__name__)

# The category filter offers the categories of this many latest notifications:
# a DISTINCT over the whole table would scan it on every page load.
_CATEGORY_SAMPLE = 5000


class ReadFilter(admin.SimpleListFilter):
    title = _("read state")
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("Unread")), ("yes", _("Read"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "no":
            return queryset.unread()
        if self.value() == "yes":
            return queryset.read()
        return None


class CategoryFilter(admin.SimpleListFilter):
    """Filter by category, offering the categories in use lately.

    Any category can still be filtered on with ``?category=NAME``.
    """

    title = _("category")
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        latest = Notification.objects.order_by("-created_at", "-id").values("pk")[:_CATEGORY_SAMPLE]
        categories = (
            Notification.objects.filter(pk__in=latest)
            .exclude(category="")
            .order_by("category")
            .values_list("category", flat=True)
            .distinct()
        )
        choices = [(category, category) for category in categories]
        if self.value() and (self.value(), self.value()) not in choices:
            choices.append((self.value(), self.value()))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() is not None:
            return queryset.filter(category=self.value())
        return None


class ArchivedFilter(admin.SimpleListFilter):
    title = _("archived")
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Archived")), ("no", _("In the inbox"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        return None


class ExpiredFilter(admin.SimpleListFilter):
    title = _("expiry")
    parameter_name = "expired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Expired")), ("no", _("Not expired")), ("later", _("Will expire"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        from django.utils import timezone

        if self.value() == "yes":
            return queryset.filter(expires_at__lte=timezone.now())
        if self.value() == "no":
            return queryset.unexpired()
        if self.value() == "later":
            return queryset.filter(expires_at__gt=timezone.now())
        return None


def _cleanup_line() -> str:
    """What ``notifications_cleanup`` would delete now, with the settings' ages (for staff)."""
    from . import retention

    policy = retention.Policy.from_settings()
    counts = retention.counts(policy)
    parts = [
        ngettext("%(n)d expired", "%(n)d expired", counts["expired"]) % {"n": counts["expired"]}
    ]
    if "read" in counts:
        parts.append(
            _("%(n)d read more than %(days)d days ago")
            % {"n": counts["read"], "days": policy.read_older_than_days}
        )
    if "archived" in counts:
        parts.append(
            _("%(n)d archived more than %(days)d days ago")
            % {"n": counts["archived"], "days": policy.archived_older_than_days}
        )
    return _("manage.py notifications_cleanup would delete: %(what)s.") % {"what": ", ".join(parts)}


def supports_autocomplete(model: Any, admin_site: admin.AdminSite) -> bool:
    """Return whether ``admin_site`` can serve autocomplete lookups of ``model``.

    The admin's autocomplete needs ``model`` registered on the same site with
    ``search_fields`` (otherwise admin.E039/E040 stop ``check``, ``migrate``
    and ``runserver``); without it the user fields fall back to raw id inputs,
    and ``notifications.W102`` says so.
    """
    model_admin = admin_site._registry.get(model)
    return model_admin is not None and bool(model_admin.search_fields)


def _username_lookup(relation: str) -> str:
    # The user model's own login field: "username", "email", or whatever it is.
    return f"={relation}__{get_user_model().USERNAME_FIELD}"


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    change_list_template = "admin/notifications/notification/change_list.html"
    send_template = "admin/notifications/notification/send.html"
    send_fieldsets = [
        (None, {"fields": ["title", "message", "level", "url", "category"]}),
        (_("Inbox"), {"fields": ["expires_at", "pinned", "group_key", "actions"]}),
        (_("Audience"), {"fields": ["audience", "users", "groups"]}),
    ]

    list_display = ["display_title", "recipient", "level", "category", "is_read", "created_at"]
    # Django's JSON form field answers some crafted JSON with a 500.
    formfield_overrides = {models.JSONField: {"form_class": DataField}}
    list_filter = [
        "level",
        ReadFilter,
        CategoryFilter,
        # A filter, not date_hierarchy: the hierarchy aggregates dates over
        # the whole table on every page load.
        ("created_at", admin.DateFieldListFilter),
        ArchivedFilter,
        ExpiredFilter,
        "pinned",
    ]
    list_select_related = ["recipient"]
    search_help_text = _("Exact recipient login, or words in the title or message.")
    show_full_result_count = False
    _user_fields = ["recipient", "actor"]
    actions = ["mark_read", "mark_unread"]
    readonly_fields = ["cursor", "created_at"]
    fields = [
        "recipient",
        "title",
        "message",
        "level",
        "url",
        "category",
        "data",
        "actor",
        "read_at",
        "seen_at",
        "archived_at",
        "snoozed_until",
        "expires_at",
        "pinned",
        "group_key",
        "key",
        "actions",
        "image",
        "cursor",
        "created_at",
    ]

    # Properties, not lists: the user model and its admin are only known once
    # every admin module is loaded, and Django's admin checks read these too.
    @property
    def search_fields(self) -> list[str]:  # type: ignore[override]
        # Exact login first: it can use the login field's index; then the text.
        return [_username_lookup("recipient"), "title", "message"]

    @property
    def autocomplete_fields(self) -> list[str]:  # type: ignore[override]
        if supports_autocomplete(get_user_model(), self.admin_site):
            return self._user_fields
        return []

    @property
    def raw_id_fields(self) -> list[str]:  # type: ignore[override]
        if supports_autocomplete(get_user_model(), self.admin_site):
            return []
        return self._user_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Notification | None = None):
        # A saved notification keeps its recipient: its cursor belongs to that user.
        if obj is not None:
            return [*self.readonly_fields, "recipient"]
        return self.readonly_fields

    @admin.display(description=_("title"), ordering="title")
    def display_title(self, obj: Notification) -> str:
        return str(obj)

    @admin.display(description=_("read"), boolean=True, ordering="read_at")
    def is_read(self, obj: Notification) -> bool:
        return obj.is_read

    @admin.action(description=_("Mark selected notifications as read"), permissions=["change"])
    def mark_read(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = queryset.mark_read()
        self.message_user(
            request,
            ngettext(
                "%(count)d notification marked as read.",
                "%(count)d notifications marked as read.",
                changed,
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark selected notifications as unread"), permissions=["change"])
    def mark_unread(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = queryset.mark_unread()
        self.message_user(
            request,
            ngettext(
                "%(count)d notification marked as unread.",
                "%(count)d notifications marked as unread.",
                changed,
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "send/",
                self.admin_site.admin_view(self.send_view),
                name="{}_{}_send".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            "can_send": self.has_add_permission(request),
            "can_view_history": self._can_view_history(request),
            "cleanup": _cleanup_line(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def send_view(self, request: HttpRequest) -> HttpResponse:
        """Compose (GET), preview (POST ``_preview``) and send (POST ``_send``).

        Two steps: the preview shows the toast and the recipient count with
        the content frozen in hidden fields; only its "Send" button sends.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ComposeForm(
            request.POST if request.method == "POST" else None, admin_site=self.admin_site
        )
        confirm = False
        context: dict[str, Any] = {}
        if request.method == "POST" and "_edit" not in request.POST and form.is_valid():
            recipients = form.recipients()
            if "_send" in request.POST:
                return self._send(request, form, recipients)
            confirm = True
            context.update(
                preview=form.preview(actor=request.user),
                recipient_count=recipients.count(),
                audience_detail=form.audience_detail(),
            )
        media = self.media + form.media
        context.update(
            self.admin_site.each_context(request),
            title=_("Send a notification"),
            subtitle=None,
            opts=self.opts,
            form=form,
            adminform=helpers.AdminForm(
                form,
                # Without the user model's groups there is no groups field.
                [
                    (
                        name,
                        {**options, "fields": [f for f in options["fields"] if f in form.fields]},
                    )
                    for name, options in self.send_fieldsets
                ],
                {},
                model_admin=self,
            ),
            confirm=confirm,
            media=media,
            can_view_history=self._can_view_history(request),
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.send_template, context)

    def _send(self, request: HttpRequest, form: ComposeForm, recipients: QuerySet) -> HttpResponse:
        data = form.cleaned_data
        started = time.perf_counter()
        # One transaction: the history row and the notifications commit
        # together, and send() pushes once it commits.
        with transaction.atomic():
            created = api.send(
                recipients,
                data["message"],
                title=data["title"],
                level=data["level"],
                url=data["url"],
                category=data["category"],
                actor=request.user,
                expires_at=data.get("expires_at"),
                pinned=data.get("pinned", False),
                group_key=data.get("group_key", ""),
                actions=data.get("actions") or [],
            )
            Broadcast.objects.create(
                sender=request.user,
                created_at=created[0].created_at if created else form.instance.created_at,
                title=data["title"],
                message=data["message"],
                level=data["level"],
                url=data["url"],
                category=data["category"],
                audience=data["audience"],
                audience_detail=form.audience_detail(),
                recipient_count=len(created),
            )
        elapsed = time.perf_counter() - started
        self.message_user(
            request,
            ngettext("Sent to %(count)d user.", "Sent to %(count)d users.", len(created))
            % {"count": len(created)},
            messages.SUCCESS if created else messages.WARNING,
        )
        logger.info(
            "%s sent a notification to %d user(s) in %.3f s (rows, history and pushes).",
            request.user.get_username(),
            len(created),
            elapsed,
        )
        if self._can_view_history(request):
            return HttpResponseRedirect(reverse("admin:notifications_broadcast_changelist"))
        return HttpResponseRedirect(request.path)

    def _can_view_history(self, request: HttpRequest) -> bool:
        history = self.admin_site._registry.get(Broadcast)
        return history is not None and history.has_view_permission(request)


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    """The history of sends from the compose page: read-only."""

    list_display = [
        "created_at",
        "sender",
        "display_title",
        "level",
        "audience",
        "short_audience_detail",
        "recipient_count",
        "notifications_link",
    ]
    list_filter = ["audience", "level"]
    list_select_related = ["sender"]
    date_hierarchy = "created_at"
    readonly_fields = ["notifications_link"]

    @property
    def search_fields(self) -> list[str]:  # type: ignore[override]
        return ["title", "message", _username_lookup("sender").lstrip("="), "audience_detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Broadcast | None = None) -> bool:
        return False

    @admin.display(description=_("title"), ordering="title")
    def display_title(self, obj: Broadcast) -> str:
        return str(obj)

    @admin.display(description=_("audience detail"))
    def short_audience_detail(self, obj: Broadcast) -> str:
        detail = obj.audience_detail
        return detail if len(detail) <= 80 else detail[:79] + "…"

    @admin.display(description=_("notifications"))
    def notifications_link(self, obj: Broadcast) -> str:
        # send() gives every notification of one call the same created_at,
        # and the history row copies it: an exact, indexed filter.
        query = urlencode({"created_at": obj.created_at.isoformat()})
        url = reverse("admin:notifications_notification_changelist") + "?" + query
        return format_html('<a href="{}">{}</a>', url, _("view"))


# Reaching people who are not looking (preferences, Web Push) ---------------------------
# Imported here, not at the top: keeps this addition in one place.
from .models import NotificationPreference, PushSubscription  # noqa: E402


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Users' choices per category and channel (rows exist only where they chose)."""

    list_display = ["user", "category", "channel", "enabled", "updated_at"]
    list_filter = ["channel", "enabled", "category"]
    search_fields = ["category"]
    raw_id_fields = ["user"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers subscribed to Web Push; delete one to stop pushing to it."""

    list_display = ["user", "user_agent", "created_at", "last_push_at"]
    raw_id_fields = ["user"]
    readonly_fields = ["endpoint", "p256dh", "auth", "user_agent", "created_at", "last_push_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Only a browser can subscribe itself.
