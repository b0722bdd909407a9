"""Each recipient's language: the ``LANGUAGE_FOR_USER`` hook.

``NOTIFICATIONS["LANGUAGE_FOR_USER"]`` is a function (or its dotted path)
taking a user and returning a language code, e.g.::

    def language_for_user(user):
        return user.profile.language

None (the default): ``settings.LANGUAGE_CODE`` for everyone. ``send()`` uses
it to render a lazy message or a template per recipient, the email digest to
render each user's email in their language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import router, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.module_loading import import_string

from . import conf

# Users per language query (SQLite allows 32 766 parameters).
_CHUNK = 20_000


def hook() -> Callable[[Any], str | None] | None:
    """Return the project's ``LANGUAGE_FOR_USER`` function, or None."""
    value = conf.get("LANGUAGE_FOR_USER")
    if value is None or callable(value):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'NOTIFICATIONS["LANGUAGE_FOR_USER"] = {value!r} cannot be imported: {exc}'
        ) from exc


def language_for(user: Any) -> str:
    """Return ``user``'s language code (``settings.LANGUAGE_CODE`` without a hook)."""
    function = hook()
    if function is None or user is None:
        return settings.LANGUAGE_CODE
    return function(user) or settings.LANGUAGE_CODE


def languages_for(user_ids: Iterable[Any], *, using: str | None = None) -> dict[Any, str]:
    """Return ``{user id: language}``: one query for all users, none without a hook."""
    ids = list(user_ids)
    function = hook()
    if function is None:
        return dict.fromkeys(ids, settings.LANGUAGE_CODE)
    from django.contrib.auth import get_user_model

    manager = get_user_model()._default_manager
    if using:
        manager = manager.db_manager(using)
    # Not in_bulk(): it splits at 999 ids on SQLite. One query up to a chunk.
    users = {}
    for start in range(0, len(ids), _CHUNK):
        users.update((u.pk, u) for u in manager.filter(pk__in=ids[start : start + _CHUNK]))
    return {
        pk: (function(users[pk]) if pk in users else None) or settings.LANGUAGE_CODE for pk in ids
    }


def is_localized(message: Any, title: Any, template_name: str) -> bool:
    """Whether ``send()`` must render its text per recipient language."""
    return bool(template_name) or isinstance(message, Promise) or isinstance(title, Promise)


def render(
    message: Any, title: Any, template_name: str, params: dict[str, Any] | None
) -> tuple[str, str]:
    """Return ``(message, title)`` rendered in the active language."""
    if template_name:
        message = render_to_string(template_name, params or {}).strip()
    return str(message), str(title)


def create_localized(
    user_ids: list[Any],
    template: Any,
    template_name: str,
    params: dict[str, Any] | None,
    raw: tuple[Any, Any],
) -> list[Any]:
    """Create ``template``'s copies with the text in each recipient's language.

    One query for the languages (none without a hook), then one insert per
    language, in one transaction; every language's text is validated first.
    """
    from .models import Notification, _copy

    by_language: dict[str, list[Any]] = {}
    for pk, language in languages_for(user_ids).items():
        by_language.setdefault(language, []).append(pk)
    variants = []
    for language, ids in by_language.items():
        with translation.override(language):
            message, title = render(raw[0], raw[1], template_name, params)
        variant = _copy(template, message=message, title=title)
        try:
            variant.clean_fields(
                exclude=[
                    f.name for f in Notification._meta.fields if f.name not in ("message", "title")
                ]
            )
        except ValidationError as exc:
            raise ValidationError(
                {
                    field: [
                        f"In language {language!r}: {m}" for m in ValidationError(errors).messages
                    ]
                    for field, errors in exc.error_dict.items()
                }
            ) from exc
        variants.append((variant, ids))
    using = router.db_for_write(Notification)
    created: list[Any] = []
    with transaction.atomic(using=using, savepoint=False):
        for variant, ids in variants:
            created += Notification.objects.create_for(ids, variant)
    order = {pk: i for i, pk in enumerate(user_ids)}
    created.sort(key=lambda n: order[n.recipient_id])
    return created
