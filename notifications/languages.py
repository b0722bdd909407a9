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
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from . import conf


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
    users = manager.in_bulk(ids)
    return {
        pk: (function(users[pk]) if pk in users else None) or settings.LANGUAGE_CODE for pk in ids
    }
