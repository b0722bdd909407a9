"""The public sending API: ``send()`` and one shortcut per level."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, router
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.module_loading import import_string

from . import conf, languages, preferences, webpush
from .constants import Level
from .validators import validate_actions, validate_data

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, Group

    from .models import Notification

    Recipient: TypeAlias = AbstractBaseUser | Group | models.QuerySet[Any] | Iterable[Any]

_LEVEL_NAMES = {level.name.lower(): level for level in Level}


def send(
    recipient: Recipient,
    message: str | Promise = "",
    *,
    title: str | Promise = "",
    level: int | str = Level.INFO,
    url: str = "",
    category: str = "",
    data: dict[str, Any] | None = None,
    actor: AbstractBaseUser | None = None,
    target: models.Model | None = None,
    template_name: str = "",
    params: dict[str, Any] | None = None,
    key: str | None = None,
    group_key: str = "",
    expires_at: datetime.datetime | None = None,
    pinned: bool = False,
    actions: list[dict[str, str]] | None = None,
    image: str | None = None,
) -> list[Notification]:
    """Create one notification per recipient and push each after commit.

    ``recipient`` is a user, an auth ``Group`` (its active members), a QuerySet
    of users or groups, or an iterable mixing users and groups; each user gets
    one notification however often they are named. Returns the created
    notifications. Invalid fields raise ``ValidationError`` before anything is
    written. Runs a constant number of statements whatever the number of
    recipients: on PostgreSQL one writes every row and cursor, and, after
    commit, one counts unread notifications of the recipients who are online.

    Text in each recipient's language: pass ``message`` (and ``title``) as
    ``gettext_lazy(...)``, or ``template_name`` (rendered with ``params`` as the
    message); it is rendered once per language of the recipients
    (``LANGUAGE_FOR_USER``), at one more query and one insert per language.

    ``key`` makes the send idempotent: each recipient gets at most one
    notification with that key, even from concurrent calls (a unique
    constraint decides); a recipient who has one already gets it back in the
    returned list, and nothing new is pushed. ``group_key`` collapses a
    user's notifications into one inbox entry; ``expires_at`` hides it from
    then on; ``actions`` is at most two buttons ``{"label", "url"}`` (with
    ``"method": "post"`` for a POST with the CSRF token); ``image`` is an
    avatar or picture URL, by default the actor's from ``ACTOR_IMAGE``.
    """
    # Imported here: the package root (which re-exports send) is imported
    # before the app registry is ready.
    from .models import Notification

    localized = languages.is_localized(message, title, template_name)
    raw = (message, title)
    if localized:  # Validated in the current language; each language again below.
        message, title = languages.render(message, title, template_name, params)
    template = Notification(
        title=title,
        message=message,
        level=_level(level),
        url=url,
        category=category,
        data={} if data is None else data,
        actor=actor,
        key=key or "",
        group_key=group_key,
        expires_at=expires_at,
        pinned=pinned,
        actions=[] if actions is None else actions,
        image=_image(actor) if image is None else image,
    )
    if target is not None:
        _set_target(template, target)
    errors: dict[str, list[ValidationError]] = {}
    # data apart: Django's JSONField.validate() lets json.dumps()'s ValueError out
    # (an integer over 4300 digits, a circular reference); validate_data covers it.
    try:
        validate_data(template.data)
    except ValidationError as exc:
        errors["data"] = exc.error_list
    try:
        validate_actions(template.actions)
    except ValidationError as exc:
        errors["actions"] = exc.error_list
    if expires_at is not None and (
        not isinstance(expires_at, datetime.datetime) or timezone.is_naive(expires_at)
    ):
        errors["expires_at"] = [
            ValidationError("expires_at must be an aware datetime.", code="invalid")
        ]
    try:
        template.clean_fields(
            exclude=[
                "recipient",
                "cursor",
                "actor",
                "target_content_type",
                "data",
                "actions",
                "expires_at",
            ]
        )
    except ValidationError as exc:
        errors = {**exc.error_dict, **errors}
    try:
        preferences.validate_category(category)
    except ValidationError as exc:
        errors.setdefault("category", []).extend(exc.error_list)
    if errors:
        raise ValidationError(errors)
    # Users who muted the category in-app get no row (one query for all of them).
    user_ids = preferences.enabled_for(recipient_ids(recipient), category, preferences.INAPP)
    if localized:
        created = languages.create_localized(user_ids, template, template_name, params, raw)
    else:
        created = Notification.objects.create_for(user_ids, template)
    # Browsers of recipients with no open tab, after commit (nothing without VAPID
    # keys); not for the rows a repeated ``key`` returned, which were pushed already.
    fresh = [n for n in created if not getattr(n, "repeated_key", False)]
    webpush.schedule(fresh, category, using=router.db_for_write(Notification))
    return created


def _image(actor: Any) -> str:
    """The actor's picture from the ``ACTOR_IMAGE`` hook (a dotted path), or ``""``."""
    hook = conf.get("ACTOR_IMAGE")
    if actor is None or not hook:
        return ""
    return (import_string(hook) if isinstance(hook, str) else hook)(actor) or ""


def recipient_ids(recipient: Recipient) -> list[Any]:
    """Resolve ``recipient`` to a list of distinct user primary keys, in order."""
    # Imported here: this module is imported before the app registry is ready.
    from django.contrib.auth.models import AnonymousUser, Group

    user_model = get_user_model()
    if isinstance(recipient, AnonymousUser):
        raise TypeError("Cannot notify an anonymous user; pass a saved user.")
    if isinstance(recipient, user_model):
        return [_saved_pk(recipient)]
    if isinstance(recipient, Group):
        return list(_group_members([_saved_pk(recipient)]))
    if isinstance(recipient, models.QuerySet):
        if recipient.model is Group:
            return list(_group_members(recipient.values("pk")))
        if issubclass(recipient.model, user_model):
            return list(dict.fromkeys(recipient.values_list("pk", flat=True)))
        raise TypeError(
            f"send() takes a QuerySet of users or groups, not of {recipient.model.__name__}."
        )
    if isinstance(recipient, (str, bytes)) or not isinstance(recipient, Iterable):
        raise TypeError(
            "send() recipient must be a user, a Group, a QuerySet or an iterable of "
            f"users and groups, not {type(recipient).__name__}."
        )
    user_ids: list[Any] = []
    group_ids: list[Any] = []
    for item in recipient:
        if isinstance(item, user_model):
            user_ids.append(_saved_pk(item))
        elif isinstance(item, Group):
            group_ids.append(_saved_pk(item))
        else:
            raise TypeError(
                f"send() recipients must be users or groups; got {type(item).__name__}."
            )
    if group_ids:
        user_ids.extend(_group_members(group_ids))
    return list(dict.fromkeys(user_ids))


def _group_members(group_ids: Any) -> Iterable[Any]:
    members = (
        get_user_model()
        ._default_manager.filter(groups__in=group_ids, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    return members


def _saved_pk(obj: models.Model) -> Any:
    if obj.pk is None:
        raise ValueError(f"Cannot notify an unsaved {type(obj).__name__}; save it first.")
    return obj.pk


def _set_target(notification: Notification, target: models.Model) -> None:
    from django.contrib.contenttypes.models import ContentType

    notification.target_content_type = ContentType.objects.get_for_model(target)
    notification.target_object_id = str(_saved_pk(target))


def _level(level: int | str) -> Level:
    if isinstance(level, str):
        try:
            return _LEVEL_NAMES[level.lower()]
        except KeyError:
            raise ValueError(
                f"Unknown notification level {level!r}; use one of {', '.join(_LEVEL_NAMES)}."
            ) from None
    try:
        return Level(level)
    except ValueError:
        raise ValueError(
            f"Unknown notification level {level!r}; use one of "
            f"{', '.join(str(int(v)) for v in Level)} (django.contrib.messages levels)."
        ) from None


def _shortcut(level: Level):
    def shortcut(recipient: Recipient, message: str, **kwargs: Any) -> list[Notification]:
        return send(recipient, message, level=level, **kwargs)

    shortcut.__name__ = shortcut.__qualname__ = level.name.lower()
    shortcut.__doc__ = f"Send a notification at level {level.name}; see ``send()``."
    return shortcut


debug = _shortcut(Level.DEBUG)
info = _shortcut(Level.INFO)
success = _shortcut(Level.SUCCESS)
warning = _shortcut(Level.WARNING)
error = _shortcut(Level.ERROR)
