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
revalidation (``REVALIDATE_SECONDS``). A socket whose session no longer exists
(deleted, expired, or given a new key by Django) is closed 4440 instead: the
client reconnects with the cookie it has now, which may carry the same login
under the new key (``revalidate``).
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
    try:
        data = {key: session[key] for key in (SESSION_KEY, BACKEND_SESSION_KEY)}
        data[HASH_SESSION_KEY] = session.get(HASH_SESSION_KEY)
    except Exception:  # Missing keys, an unreadable session.
        return _anonymous()
    return _user_of(data)


def _user_of(data: Any) -> Any:
    """Return the user the session ``data`` logs in, checked like Django's ``get_user``."""
    from django.contrib.auth import get_user_model

    try:
        user_id = get_user_model()._meta.pk.to_python(data[SESSION_KEY])
        backend_path = data[BACKEND_SESSION_KEY]
    except Exception:  # Missing keys, a malformed id.
        return _anonymous()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return _anonymous()
    backend = load_backend(backend_path)
    user = _fast.user(backend, user_id) if _fast.plain_user(backend) else backend.get_user(user_id)
    if user is None:
        return _anonymous()
    if hasattr(user, "get_session_auth_hash"):
        session_hash = data.get(HASH_SESSION_KEY)
        valid = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        if not session_hash or not any(constant_time_compare(session_hash, h) for h in valid):
            return _anonymous()
    return user


def _anonymous() -> Any:
    # Imported here: this module is imported before the app registry is ready.
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


def authenticate(session_key: str | None) -> tuple[Any, Any]:
    """Load the session ``session_key`` and its user: ``(session, user)`` (sync).

    The session object is Django's, as Channels' ``SessionMiddleware`` gives
    it; with Django's database engine its data is read by ``_fast`` instead
    of by the object (which loads it again if a consumer asks).
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    session = store(session_key)
    if not session_key:
        return session, _anonymous()
    if _fast.plain_sessions(store):
        data = _fast.session_data(session, session_key)
        return session, _user_of(data) if data is not None else _anonymous()
    return session, session_user(session)


class _FastLookups:
    """A handshake's two lookups as plain SQL, for Django's stock session store and backend.

    Run by every socket handshake, where the ORM costs three times the queries
    (0.69 ms against 0.20 ms of CPU per handshake here), so a reconnect storm
    of thousands of tabs goes about a fifth faster. Only for exactly what
    Django ships: the database session engine, and ``ModelBackend.get_user``
    over a default manager that does not change its queryset; anything else
    (``cached_db``, your own backend or manager) goes through its own API.
    The statements are built from the models' metadata and ask what Django's
    ask: the unexpired session by key, the user by primary key, then
    ``user_can_authenticate``.
    """

    def plain_sessions(self, store: Any) -> bool:
        from django.contrib.sessions.backends.db import SessionStore

        return store is SessionStore

    def session_data(self, session: Any, session_key: str) -> Any:
        from django.db import connections, router
        from django.utils import timezone

        model = session.model
        db = router.db_for_read(model)
        connection = connections[db]
        q = connection.ops.quote_name
        meta = model._meta
        expire = meta.get_field("expire_date")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {q(meta.get_field('session_data').column)} FROM {q(meta.db_table)} "
                f"WHERE {q(meta.get_field('session_key').column)} = %s AND {q(expire.column)} > %s",
                [session_key, expire.get_db_prep_value(timezone.now(), connection)],
            )
            row = cursor.fetchone()
        return None if row is None else session.decode(row[0])

    def plain_user(self, backend: Any) -> bool:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.backends import ModelBackend
        from django.db.models import Manager, QuerySet

        if type(backend).get_user is not ModelBackend.get_user:
            return False
        manager = get_user_model()._default_manager
        return (
            type(manager).get_queryset is Manager.get_queryset
            and type(manager.get_queryset()) is QuerySet
        )

    def user(self, backend: Any, user_id: Any) -> Any:
        from django.contrib.auth import get_user_model
        from django.db import connections, router

        model = get_user_model()
        db = router.db_for_read(model)
        connection = connections[db]
        q = connection.ops.quote_name
        fields = model._meta.concrete_fields
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(q(f.column) for f in fields)} FROM {q(model._meta.db_table)} "
                f"WHERE {q(model._meta.pk.column)} = %s",
                [model._meta.pk.get_db_prep_value(user_id, connection)],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        values = [
            converter(value, None, connection) if converter else value
            for value, converter in zip(row, _converters(fields, connection), strict=True)
        ]
        user = model.from_db(db, [f.attname for f in fields], values)
        return user if backend.user_can_authenticate(user) else None


_converter_cache: dict[tuple[str, Any], list[Any]] = {}


def _converters(fields: Any, connection: Any) -> list[Any]:
    """Each field's database-to-Python conversion (e.g. SQLite's datetimes), or None.

    What the ORM's compiler applies to a selected column, built once per
    database and model.
    """
    key = (connection.alias, fields[0].model)
    cached = _converter_cache.get(key)
    if cached is not None:
        return cached
    result = []
    for field in fields:
        column = field.get_col(field.model._meta.db_table)
        chain = [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
        if not chain:
            result.append(None)
            continue

        def convert(value: Any, _expression: Any, conn: Any, chain=chain, column=column) -> Any:
            for converter in chain:
                value = converter(value, column, conn)
            return value

        result.append(convert)
    _converter_cache[key] = result
    return result


_fast = _FastLookups()


def user_for_session_key(session_key: str | None) -> Any:
    """Load the session ``session_key`` afresh and return its user (or anonymous)."""
    return authenticate(session_key)[1]


def revalidate(session_key: str | None) -> Any | None:
    """Return the user ``session_key`` logs in now (or anonymous); None if the session is gone.

    Gone: no unexpired session with a user has that key any more: it was
    deleted, it expired, or Django gave it a new key (``cycle_key()``: the
    first HTTP request after a ``SECRET_KEY`` rotation verified it only under
    ``SECRET_KEY_FALLBACKS``, or a login in that browser). The browser may hold
    a newer cookie for the same login, so such a socket is told to reconnect
    (4440) rather than that it is logged out (4401).
    """
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore
    session = store(session_key)
    if _fast.plain_sessions(store):
        data = _fast.session_data(session, session_key)
        if data is None or SESSION_KEY not in data:
            return None
        return _user_of(data)
    try:
        if SESSION_KEY not in session:  # loads it
            return None
    except Exception:  # An unreadable session.
        return None
    return session_user(session)


# On the notifications worker threads: sockets authenticate in parallel.
aauthenticate = database_call(authenticate, stage="handshake")
auser_for_session_key = database_call(user_for_session_key)
arevalidate = database_call(revalidate)
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
