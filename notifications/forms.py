"""The admin's compose form: what to send, and to whom.

The content fields come from ``Notification`` itself (a ``ModelForm``), so the
compose page validates exactly as ``send()`` does (link schemes, lengths), and
``form.instance`` is an unsaved notification whose ``as_dict()`` is the preview.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteSelectMultiple, ManyToManyRawIdWidget
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext_lazy as _

from .models import Broadcast, Notification
from .preferences import categories

# How many user or group names the history keeps for one send.
_DETAIL_NAMES = 50


class ComposeForm(forms.ModelForm):
    """Compose a notification for chosen users, groups, or every active user."""

    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=Broadcast.Audience.choices,
        initial=Broadcast.Audience.USERS,
        widget=forms.RadioSelect,
    )

    class Meta:
        model = Notification
        fields = [
            "title",
            "message",
            "level",
            "url",
            "category",
            "expires_at",
            "pinned",
            "group_key",
            "actions",
        ]
        widgets = {
            # The browser's own picker: keyboard-accessible, no admin JS needed.
            "expires_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "actions": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "actions": _(
                'Up to 2 buttons as JSON: [{"label": "Open", "url": "/x/"}]; add '
                '"method": "post" for a button that POSTs (with the CSRF token).'
            ),
        }

    def clean_expires_at(self) -> Any:
        from django.utils import timezone

        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise ValidationError(_("The expiry must be in the future."), code="past")
        return value

    def clean_actions(self) -> Any:
        value = self.cleaned_data.get("actions")
        return [] if value in (None, "") else value

    def __init__(self, *args: Any, admin_site: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user_model = get_user_model()
        if declared := categories():
            # send() refuses an undeclared category: offer only declared ones.
            self.fields["category"] = forms.ChoiceField(
                label=_("Category"),
                required=False,
                choices=[("", "---------"), *((k, c.label) for k, c in declared.items())],
            )
        # The admin's autocomplete view looks the choices up through a model
        # field pointing at the model searched: the recipient FK for users,
        # the user's groups M2M for groups. It needs that model registered
        # with search_fields; otherwise a comma-separated id input.
        self.fields["users"] = forms.ModelMultipleChoiceField(
            label=_("Users"),
            queryset=user_model._default_manager.filter(is_active=True),
            required=False,
            widget=_user_widget(Notification._meta.get_field("recipient"), admin_site),
            help_text=_("Active users only. Used when the audience is “chosen users”."),
        )
        if not any(field.name == "groups" for field in user_model._meta.get_fields()):
            # A user model without PermissionsMixin: no groups to send to.
            self.fields["audience"].choices = [
                choice
                for choice in Broadcast.Audience.choices
                if choice[0] != Broadcast.Audience.GROUPS
            ]
            return
        self.fields["groups"] = forms.ModelMultipleChoiceField(
            label=_("Groups"),
            queryset=Group.objects.all(),
            required=False,
            widget=_user_widget(user_model._meta.get_field("groups"), admin_site),
            help_text=_(
                "Their active members; a member of several groups gets one notification. "
                "Used when the audience is “groups”."
            ),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        audience = cleaned.get("audience")
        if audience == Broadcast.Audience.USERS and not cleaned.get("users"):
            self.add_error("users", _("Choose at least one user."))
        if audience == Broadcast.Audience.GROUPS and not cleaned.get("groups"):
            self.add_error("groups", _("Choose at least one group."))
        return cleaned

    def recipients(self) -> models.QuerySet[Any]:
        """Return the active users the notification goes to, each once."""
        user_model = get_user_model()
        active = user_model._default_manager.filter(is_active=True)
        audience = self.cleaned_data["audience"]
        if audience == Broadcast.Audience.USERS:
            return active.filter(pk__in=[user.pk for user in self.cleaned_data["users"]])
        if audience == Broadcast.Audience.GROUPS:
            # A subquery, not a join: a member of two chosen groups stays one row.
            memberships = user_model.groups.through.objects.filter(
                group__in=self.cleaned_data["groups"]
            ).values(user_model.groups.field.m2m_column_name())
            return active.filter(pk__in=memberships)
        return active

    def audience_detail(self) -> str:
        """Describe the audience by name, for the preview and the history."""
        audience = self.cleaned_data["audience"]
        if audience == Broadcast.Audience.USERS:
            names = [user.get_username() for user in self.cleaned_data["users"]]
        elif audience == Broadcast.Audience.GROUPS:
            names = [group.name for group in self.cleaned_data["groups"]]
        else:
            return str(Broadcast.Audience.EVERYONE.label)
        shown = ", ".join(sorted(names)[:_DETAIL_NAMES])
        if len(names) > _DETAIL_NAMES:
            shown += f" … (+{len(names) - _DETAIL_NAMES})"
        return shown

    def preview(self, actor: Any = None) -> dict[str, Any]:
        """Return the notification as recipients will receive it (the wire format)."""
        self.instance.actor = actor
        return self.instance.as_dict()


class DataField(forms.JSONField):
    """Django's JSON form field, answering a form error where Django's lets a 500 out.

    ``json.loads`` raises ``ValueError`` for an integer over 4300 digits and
    ``RecursionError`` for deep nesting; Django's field catches only
    ``JSONDecodeError``. A bound form redisplays the text as typed: re-encoding
    the parsed value would put the lone surrogate of a ``"\\ud800"`` escape
    into the page, which cannot be encoded (``UnicodeEncodeError``).
    """

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except RecursionError as exc:
            raise ValidationError(
                _("Enter valid JSON: it is nested too deeply."), code="invalid"
            ) from exc
        except ValueError as exc:
            raise ValidationError(
                _("Enter valid JSON: %(error)s"), code="invalid", params={"error": exc}
            ) from exc

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        return InvalidJSONInput(data)


def _user_widget(field: Any, admin_site: Any) -> forms.Widget:
    """Return the admin's autocomplete for ``field``'s model if it can serve one, else raw ids."""
    from .admin import supports_autocomplete

    if supports_autocomplete(field.remote_field.model, admin_site):
        return AutocompleteSelectMultiple(field, admin_site)
    return ManyToManyRawIdWidget(field.remote_field, admin_site)
