"""Session authentication for websockets, read-only.

Channels' ``AuthMiddleware`` resolves the user with ``channels.auth.get_user``,
which ignores ``SECRET_KEY_FALLBACKS`` and flushes the session when the hash
does not match the current key: after a key rotation, opening a websocket logs
the user out of HTTP as well. Django's own ``aget_user`` handles fallbacks but
then cycles the session key, and a websocket cannot send the new cookie, so it
logs the user out too. ``aget_session_user`` verifies the same way Django does
(current key, then fallbacks) and never writes to the session: the next HTTP
request upgrades or flushes it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import AuthMiddleware
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare


async def aget_session_user(session: Any) -> Any:
    """Return the user logged in to ``session``, or an ``AnonymousUser``."""
    # Imported here: this module is imported before the app registry is ready.
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    try:
        user_id = get_user_model()._meta.pk.to_python(await session.aget(SESSION_KEY))
        backend_path = await session.aget(BACKEND_SESSION_KEY)
    except Exception:  # Missing keys, a malformed id, an unreadable session.
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = await load_backend(backend_path).aget_user(user_id)
    if user is None:
        return AnonymousUser()
    if hasattr(user, "get_session_auth_hash"):
        session_hash = await session.aget(HASH_SESSION_KEY)
        valid = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        if not session_hash or not any(constant_time_compare(session_hash, h) for h in valid):
            return AnonymousUser()
    return user


async def aget_user_for_session_key(session_key: str | None) -> Any:
    """Load the session ``session_key`` afresh and return its user (or anonymous)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return await aget_session_user(store)


class SessionAuthMiddleware(AuthMiddleware):
    """Populate ``scope["user"]`` from the session, honouring key fallbacks."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        scope["user"]._wrapped = await aget_session_user(scope["session"])


def SessionAuthMiddlewareStack(inner: Any) -> BaseMiddleware:
    """Cookies, sessions and read-only session auth, like Channels' AuthMiddlewareStack."""
    return CookieMiddleware(SessionMiddleware(SessionAuthMiddleware(inner)))


def close_sockets_on_logout(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """Receive ``user_logged_out``: close the sockets of the session being ended."""
    # Imported here: delivery imports the channel layer machinery.
    from .delivery import close_session_sockets

    session = getattr(request, "session", None)
    close_session_sockets(getattr(session, "session_key", None))
