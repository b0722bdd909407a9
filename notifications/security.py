"""Origin check for the websocket handshake.

Channels' ``AllowedHostsOriginValidator`` compares only the host of the Origin
header with ``ALLOWED_HOSTS``: it ignores scheme and port, and ``"*"`` turns it
off. ``OriginValidator`` here accepts a handshake only when the Origin is the
socket's own origin, or is listed in ``CSRF_TRUSTED_ORIGINS``, the same list
Django uses for cross-origin POSTs. A page on any other origin cannot open a
socket with the visitor's cookies (cross-site websocket hijacking).

The socket's own origin is the one Django's CSRF check computes for a request
to the same URL (``request.scheme`` and ``request.get_host()``): the scheme of
the socket (``ws`` is ``http``, ``wss`` is ``https``), or the one
``SECURE_PROXY_SSL_HEADER`` names behind a TLS-terminating proxy; the Host
header (or ``X-Forwarded-Host`` with ``USE_X_FORWARDED_HOST``), on a host
``ALLOWED_HOSTS`` accepts; and its port. So ``https://host:8000`` is refused
on a plain ``ws://host:8000`` socket.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The HTTP scheme of a page that may open a socket with this websocket scheme.
# Daphne leaves "scheme" out of websocket scopes, and ASGI's default is "ws".
_PAGE_SCHEMES = {"ws": "http", "wss": "https"}

Origin = tuple[str, str, int]


class OriginValidator:
    """ASGI middleware: deny websocket handshakes from foreign origins (HTTP 403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Return whether the handshake in ``scope`` comes from an allowed origin."""
    origins = [value for name, value in scope.get("headers", ()) if name == b"origin"]
    if len(origins) != 1:
        return False
    parsed = _parse_origin(origins[0].decode("latin-1").strip().lower())
    if parsed is None:
        return False
    trusted = getattr(settings, "CSRF_TRUSTED_ORIGINS", [])
    if any(_matches_trusted(parsed, entry) for entry in trusted):
        return True
    return parsed == own_origin(scope)


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """Return the socket's own ``(scheme, host, port)``, as Django sees a request's origin.

    ``None`` when there is none to trust: no Host header, a host that
    ``ALLOWED_HOSTS`` refuses, or an unknown socket scheme.
    """
    if not any(name == b"host" for name, _value in scope.get("headers", ())):
        return None
    page_scheme = _PAGE_SCHEMES.get(scope.get("scheme") or "ws")
    if page_scheme is None:
        return None
    # Django's own request, so that SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST
    # and ALLOWED_HOSTS (with DEBUG's localhost default) mean exactly what they
    # mean for the CSRF origin check of an HTTP request.
    http_scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "scheme": page_scheme,
        "headers": scope.get("headers", []),
        "server": scope.get("server"),
    }
    request = ASGIRequest(http_scope, io.BytesIO())
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return _parse_origin(f"{request.scheme}://{host}".lower())


def _parse_origin(origin: str) -> Origin | None:
    if not origin or origin == "null":
        return None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme]


def _matches_trusted(origin: Origin, entry: str) -> bool:
    scheme, host, port = origin
    entry = entry.strip().lower()
    wildcard = "://*." in entry
    parsed = _parse_origin(entry.replace("://*.", "://", 1))
    if parsed is None:
        return False
    t_scheme, t_host, t_port = parsed
    if (scheme, port) != (t_scheme, t_port):
        return False
    return host == t_host or (wildcard and host.endswith("." + t_host))
