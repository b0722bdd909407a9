"""Origin check for the websocket handshake.

Channels' ``AllowedHostsOriginValidator`` compares only the host of the Origin
header with ``ALLOWED_HOSTS``: it ignores scheme and port, and ``"*"`` turns it
off. ``OriginValidator`` here accepts a handshake only when the Origin is the
page's own origin (same host and port as the request's Host header, on a host
``ALLOWED_HOSTS`` accepts) or is listed in ``CSRF_TRUSTED_ORIGINS``, the same
list Django uses for cross-origin POSTs. A page on any other origin cannot open
a socket with the visitor's cookies (cross-site websocket hijacking).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


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
    headers = dict(scope.get("headers", ()))
    origin = headers.get(b"origin", b"").decode("latin-1").strip().lower()
    parsed = _parse_origin(origin)
    if parsed is None:
        return False
    scheme, host, _port = parsed
    trusted = getattr(settings, "CSRF_TRUSTED_ORIGINS", [])
    if any(_matches_trusted(parsed, entry) for entry in trusted):
        return True
    host_header = headers.get(b"host", b"").decode("latin-1").strip().lower()
    if not host_header:
        return False
    same = _parse_origin(f"{scheme}://{host_header}")
    if same != parsed:
        return False
    return validate_host(host, settings.ALLOWED_HOSTS) or (
        settings.DEBUG
        and not settings.ALLOWED_HOSTS
        and host in {"localhost", "127.0.0.1", "[::1]"}
    )


def _parse_origin(origin: str) -> tuple[str, str, int] | None:
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


def _matches_trusted(origin: tuple[str, str, int], entry: str) -> bool:
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
