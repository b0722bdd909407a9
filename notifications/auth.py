"""Session authentication for websockets: read-only, one database call, revoked promptly.

Channels' ``AuthMiddlewareStack`` resolves the user with
``channels.auth.get_user``, which ignores ``SECRET_KEY_FALLBACKS`` and
flushes the session when the hash does not match the current key: after a
key rotation, opening a websocket logs the user out of HTTP as well.
Django's own ``aget_user`` handles fallbacks but then cycles the session
key, which a websocket cannot send back, so it logs the user out too.
``session_user`` verifies the way Django does (current key, then
fallbacks) and never writes to the session.

``SessionAuthMiddleware`` does the cookie, session and user lookups of a
handshake in one call on a worker thread (not on asgiref's single
thread-sensitive thread, where every socket of the process would queue), so
a reconnect storm costs one short thread hop per socket.

A socket is closed (4401) as soon as its session stops logging in its user:
at once on logout, on a password change, deactivation or deletion of the
user (``user_changed``), and otherwise at the socket's next periodic
revalidation (``REVALIDATE_SECONDS``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.db import transaction
from django.http.cookie import parse_cookie
from django.utils.crypto import constant_time_compare

from .threads import database_call


def session_user(session: Any) -> Any:
    """Return the user logged in to ``session``, or an ``AnonymousUser`` (queries; sync)."""
    # Imported here: this module is imported before the app registry is ready.
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except Exception:  # Missing keys, a malformed id, an unreadable session.
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = load_backend(backend_path).get_user(user_id)
    if user is None:
        return AnonymousUser()
    if hasattr(user, "get_session_auth_hash"):
        session_hash = session.get(HASH_SESSION_KEY)
        valid = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        if not session_hash or not any(constant_time_compare(session_hash, h) for h in valid):
            return AnonymousUser()
    return user


def authenticate(session_key: str | None) -> tuple[Any, Any]:
    """Load the session ``session_key`` and its user: ``(session, user)`` (sync)."""
    from django.contrib.auth.models import AnonymousUser

    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not session_key:
        return session, AnonymousUser()
    return session, session_user(session)


def user_for_session_key(session_key: str | None) -> Any:
    """Load the session ``session_key`` afresh and return its user (or anonymous)."""
    return authenticate(session_key)[1]


# On the notifications worker threads: sockets authenticate in parallel.
aauthenticate = database_call(authenticate)
auser_for_session_key = database_call(user_for_session_key)
aget_session_user = database_call(session_user)


class SessionAuthMiddleware:
    """ASGI middleware: set ``scope["cookies"]``, ``["session"]`` and ``["user"]`` in one call.

    The scope keys are those of Channels' ``AuthMiddlewareStack``, so
    consumers written for it work unchanged; unlike it, the user honours
    ``SECRET_KEY_FALLBACKS`` and the HTTP session is never modified.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        header = b""
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                header = value
                break
        cookies = parse_cookie(header.decode("latin1")) if header else {}
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        if session_key:
            session, user = await aauthenticate(session_key)
        else:
            session, user = authenticate(None)  # No query: no thread hop.
        scope["cookies"], scope["session"], scope["user"] = cookies, session, user
        return await self.inner(scope, receive, send)


def SessionAuthMiddlewareStack(inner: Any) -> SessionAuthMiddleware:
    """Cookies, sessions and read-only session auth, like Channels' AuthMiddlewareStack."""
    return SessionAuthMiddleware(inner)


# Revocation -------------------------------------------------------------------


def close_sockets_on_logout(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """Receive ``user_logged_out``: close the sockets of the session being ended."""
    # Imported here: delivery is loaded on first use.
    from .delivery import close_session

    session = getattr(request, "session", None)
    close_session(getattr(session, "session_key", None))


def user_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """Receive ``post_save``/``post_delete`` of the user model: revalidate its sockets.

    After commit, so the check reads the new password hash or ``is_active``.
    A login's ``last_login`` update changes nothing a session depends on.
    """
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    if instance.pk is None:
        return
    from .delivery import revalidate_user

    pk = instance.pk
    transaction.on_commit(lambda: revalidate_user(pk), using=kwargs.get("using"))
