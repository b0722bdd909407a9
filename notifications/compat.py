"""A django-notifications-hq compatible entry point: ``notify.send(actor, ...)``.

Code written for django-notifications-hq keeps working after one import
change (``from notifications.signals import notify`` becomes)::

    from notifications.compat import notify

    notify.send(request.user, recipient=owner, verb="commented on", target=post,
                description=comment.text, level="info", ticket=9)

How hq's arguments map onto ``notifications.send()``:

=====================  =======================================================
hq                     here
=====================  =======================================================
``actor`` (sender)     ``actor`` if it is a user; any other model goes to
                       ``data["hq"]["actor"]`` as ``{"type", "id"}``
``recipient``          ``recipient`` (a user, Group, QuerySet or list, as hq)
``verb``               ``category`` (first 100 characters) and
                       ``data["hq"]["verb"]``
``description``        ``message``; the hq sentence ("alice commented on
                       Post 3") becomes the ``title``. Without a description
                       the sentence is the ``message`` and the title is empty.
``target``             ``target`` (the generic foreign key)
``action_object``      ``data["hq"]["action_object"]`` as ``{"type", "id"}``
``level``              ``level`` (hq's names are messages level names)
``public``             ``data["hq"]["public"]``; there is no public feed here
``timestamp``          ignored: the row is created now
``url`` (extra)        ``url``
other ``**kwargs``     ``data`` (must be JSON-serialisable), like hq's
                       ``NOTIFICATIONS_USE_JSONFIELD``
=====================  =======================================================

``notify.send()`` returns the created notifications, not hq's list of
``(receiver, response)`` pairs, and pushes them live like any ``send()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import models

from .api import send

if TYPE_CHECKING:
    from .api import Recipient
    from .models import Notification

__all__ = ["hq_sentence", "notify"]


class Notify:
    """The ``notify`` object: ``notify.send(actor, recipient=..., verb=..., ...)``."""

    def send(
        self,
        actor: Any,
        *,
        recipient: Recipient,
        verb: str,
        description: str | None = None,
        target: models.Model | None = None,
        action_object: models.Model | None = None,
        level: str | int = "info",
        public: bool = True,
        timestamp: Any = None,
        url: str = "",
        **extra: Any,
    ) -> list[Notification]:
        """Send a notification the django-notifications-hq way; see the module docstring."""
        is_user = isinstance(actor, get_user_model())
        hq: dict[str, Any] = {"verb": verb, "public": public}
        if not is_user and actor is not None:
            hq["actor"] = model_ref(actor)
        if action_object is not None:
            hq["action_object"] = model_ref(action_object)
        sentence = hq_sentence(actor, verb, action_object, target)
        return send(
            recipient,
            description or sentence,
            title=sentence[:200] if description else "",
            level=level,
            url=url,
            category=verb[:100],
            data={**extra, "hq": hq},
            actor=actor if is_user else None,
            target=target,
        )


#: Drop-in for django-notifications-hq's ``notify`` signal.
notify = Notify()


def hq_sentence(actor: Any, verb: str, action_object: Any = None, target: Any = None) -> str:
    """Return hq's ``str(notification)`` without the "3 minutes ago" part."""
    words = [str(actor), verb]
    if action_object is not None:
        words.append(str(action_object))
    if target is not None:
        words += ["on", str(target)] if action_object is not None else [str(target)]
    return " ".join(words)


def model_ref(obj: models.Model) -> dict[str, str]:
    """Return ``{"type": "app_label.model", "id": "pk"}`` for a saved model instance."""
    meta = obj._meta
    return {"type": f"{meta.app_label}.{meta.model_name}", "id": str(obj.pk)}
