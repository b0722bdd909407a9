"""The websocket origin check."""

import asyncio
import json
from pathlib import Path

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import override_settings

import notifications
from notifications.security import origin_allowed
from tests.conftest import DaphneServer, database_url_for_children, session_cookie


def scope(origin=None, host="app.example.com", *, scheme=None, headers=()):
    """A websocket handshake scope; ``scheme=None`` leaves it out, as Daphne does."""
    raw = []
    if origin is not None:
        raw.append((b"origin", origin.encode()))
    if host is not None:
        raw.append((b"host", host.encode()))
    raw.extend((name.encode(), value.encode()) for name, value in headers)
    built = {"type": "websocket", "path": "/ws/notifications/", "headers": raw}
    if scheme is not None:
        built["scheme"] = scheme
    return built


@override_settings(ALLOWED_HOSTS=["app.example.com"], CSRF_TRUSTED_ORIGINS=[])
@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("http://app.example.com", "app.example.com", None, True),
        ("http://app.example.com", "app.example.com", "ws", True),
        ("https://app.example.com", "app.example.com", "wss", True),
        ("http://app.example.com:80", "app.example.com", "ws", True),
        ("https://app.example.com:443", "app.example.com", "wss", True),
        ("https://app.example.com", "app.example.com:443", "wss", True),
        ("http://app.example.com:8000", "app.example.com:8000", "ws", True),
        ("HTTP://APP.EXAMPLE.COM", "APP.example.com", "ws", True),
        (None, "app.example.com", "ws", False),
        ("", "app.example.com", "ws", False),
        ("null", "app.example.com", "ws", False),
        ("http://evil.example", "app.example.com", "ws", False),
        ("http://app.example.com.evil.example", "app.example.com", "ws", False),
        ("http://evil.app.example.com", "app.example.com", "ws", False),
        ("https://app.example.com:4443", "app.example.com", "wss", False),
        ("http://app.example.com:8001", "app.example.com:8000", "ws", False),
        ("ftp://app.example.com", "app.example.com", "ws", False),
        ("ws://app.example.com", "app.example.com", "ws", False),
        ("http://app.example.com/path", "app.example.com", "ws", False),
        ("http://user@app.example.com", "app.example.com", "ws", False),
        ("http://app.example.com", None, "ws", False),
        # Host header not in ALLOWED_HOSTS (DNS rebinding): refused even if equal.
        ("http://rebind.example", "rebind.example", "ws", False),
        ("http://app.example.com", "app.example.com,evil.example", "ws", False),
        # An unknown socket scheme has no page origin.
        ("http://app.example.com", "app.example.com", "http", False),
    ],
)
def test_origin_must_equal_own_origin(origin, host, scheme, allowed):
    """AUTH-03: scheme, host and port must all be the socket's own."""
    assert origin_allowed(scope(origin, host, scheme=scheme)) is allowed


@override_settings(ALLOWED_HOSTS=["app.example.com"], CSRF_TRUSTED_ORIGINS=[])
@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("https://app.example.com:8000", "app.example.com:8000", None),
        ("https://app.example.com:8000", "app.example.com:8000", "ws"),
        ("https://app.example.com", "app.example.com", "ws"),
        ("http://app.example.com:8443", "app.example.com:8443", "wss"),
        ("http://app.example.com", "app.example.com", "wss"),
    ],
)
def test_other_scheme_on_same_host_and_port_is_refused(origin, host, scheme):
    """AUTH-03 (issue 14, item 3): an https page may not open a socket on an http server."""
    assert origin_allowed(scope(origin, host, scheme=scheme)) is False


@override_settings(ALLOWED_HOSTS=["*"], CSRF_TRUSTED_ORIGINS=[])
def test_wildcard_allowed_hosts_does_not_disable_the_check():
    """AUTH-04: ``ALLOWED_HOSTS=["*"]`` still requires the socket's own origin."""
    assert origin_allowed(scope("http://evil.example", "app.example.com")) is False
    assert origin_allowed(scope("http://app.example.com", "app.example.com")) is True
    assert origin_allowed(scope("https://app.example.com", "app.example.com")) is False


@override_settings(DEBUG=True, ALLOWED_HOSTS=[], CSRF_TRUSTED_ORIGINS=[])
@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://localhost:8000", "localhost:8000", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False),
        ("http://app.example.com", "app.example.com", False),
    ],
)
def test_debug_without_allowed_hosts_accepts_localhost_like_django(origin, host, allowed):
    assert origin_allowed(scope(origin, host, scheme="ws")) is allowed


@override_settings(DEBUG=False, ALLOWED_HOSTS=[], CSRF_TRUSTED_ORIGINS=[])
def test_no_allowed_hosts_without_debug_refuses_everything():
    assert origin_allowed(scope("http://localhost:8000", "localhost:8000", scheme="ws")) is False


def test_two_origin_headers_are_refused(settings):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    two = scope("http://app.example.com", headers=[("origin", "http://app.example.com")])
    assert origin_allowed(two) is False


# Behind a TLS-terminating proxy ---------------------------------------------------

_PROXY = {
    "ALLOWED_HOSTS": ["app.example.com"],
    "CSRF_TRUSTED_ORIGINS": [],
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
}


@override_settings(**_PROXY)
@pytest.mark.parametrize(
    ("origin", "proto", "allowed"),
    [
        ("https://app.example.com", "https", True),
        ("http://app.example.com", "https", False),
        ("https://app.example.com", "http", False),
        ("http://app.example.com", "http", True),
        # Django reads the first value of a comma-separated header.
        ("https://app.example.com", "https, http", True),
        ("https://app.example.com", "http, https", False),
        # No header at all: the socket's own scheme (ws), as Django falls back.
        ("http://app.example.com", None, True),
        ("https://app.example.com", None, False),
    ],
)
def test_secure_proxy_ssl_header_sets_the_scheme_as_for_django_requests(origin, proto, allowed):
    headers = [("x-forwarded-proto", proto)] if proto is not None else []
    assert origin_allowed(scope(origin, scheme="ws", headers=headers)) is allowed


@override_settings(**_PROXY)
def test_secure_proxy_ssl_header_cannot_be_spoofed_with_underscores():
    """``x_forwarded_proto`` maps to the same META key; Django drops it, so do we."""
    spoofed = scope(
        "https://app.example.com", scheme="ws", headers=[("x_forwarded_proto", "https")]
    )
    assert origin_allowed(spoofed) is False


@override_settings(**_PROXY, USE_X_FORWARDED_HOST=True)
def test_use_x_forwarded_host_is_honoured_like_django():
    behind = scope(
        "https://app.example.com",
        host="127.0.0.1:8000",
        scheme="ws",
        headers=[("x-forwarded-host", "app.example.com"), ("x-forwarded-proto", "https")],
    )
    assert origin_allowed(behind) is True


@override_settings(**_PROXY)
def test_x_forwarded_host_is_ignored_without_use_x_forwarded_host():
    behind = scope(
        "https://app.example.com",
        host="127.0.0.1:8000",
        scheme="ws",
        headers=[("x-forwarded-host", "app.example.com"), ("x-forwarded-proto", "https")],
    )
    assert origin_allowed(behind) is False


@override_settings(
    ALLOWED_HOSTS=["api.example.com"],
    CSRF_TRUSTED_ORIGINS=["https://www.example.com", "https://*.partner.example"],
)
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://www.example.com", True),
        ("http://www.example.com", False),
        ("https://www.example.com:8443", False),
        ("https://a.partner.example", True),
        ("https://partner.example.evil", False),
        ("https://evilpartner.example", False),
    ],
)
@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_csrf_trusted_origins_are_allowed_cross_origin(origin, allowed, scheme):
    """Trusted origins are compared in full, whatever the socket's own scheme."""
    assert origin_allowed(scope(origin, "api.example.com", scheme=scheme)) is allowed


@override_settings(
    ALLOWED_HOSTS=["app.example.com"], CSRF_TRUSTED_ORIGINS=["https://app.example.com"]
)
def test_trusted_origin_lets_https_pages_reach_a_plain_socket():
    """The escape hatch for a proxy that sends no scheme header: trust the public origin."""
    assert origin_allowed(scope("https://app.example.com", scheme="ws")) is True
    assert origin_allowed(scope("https://app.example.com:8443", scheme="ws")) is False


# Through a real Daphne (which leaves "scheme" out of websocket scopes) --------------


async def _status(daphne, user, origin, headers=()):
    """Return the handshake's HTTP status: 101 once the state frame came, or the refusal."""
    cookie = await sync_to_async(session_cookie)(user)
    headers = {"Origin": origin, "Cookie": cookie, **dict(headers)}
    try:
        async with websockets.connect(
            daphne.ws_url, additional_headers=headers, open_timeout=10
        ) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "state"
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://127.0.0.1:{port}", 101),
        # Issue 14, item 3: was accepted, the scheme was ignored.
        ("https://127.0.0.1:{port}", 403),
        ("http://127.0.0.1:{other}", 403),
        ("http://localhost:{port}", 403),
    ],
)
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_daphne_refuses_other_scheme_on_own_host_and_port(daphne, alice, origin, status):
    """AUTH-03 through Daphne: only ``http://host:port`` may open ``ws://host:port``."""
    origin = origin.format(port=daphne.port, other=daphne.port + 1)
    assert await _status(daphne, alice, origin) == status


@pytest.fixture
def proxied_daphne(transactional_db, redis_layer):
    """Daphne with ``SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")``."""
    server = DaphneServer(
        database_url_for_children(),
        redis_layer,
        extra_env={"DJANGO_SETTINGS_MODULE": "tests.proxy_settings"},
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("scheme", "proto", "status"),
    [
        ("https", "https", 101),
        ("http", "https", 403),
        ("https", "http", 403),
        ("http", "http", 101),
        ("https", None, 403),
        ("http", None, 101),
    ],
)
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_daphne_behind_tls_proxy_takes_scheme_from_secure_proxy_ssl_header(
    proxied_daphne, alice, scheme, proto, status
):
    """AUTH-03 behind a proxy: the scheme is the one ``SECURE_PROXY_SSL_HEADER`` names."""
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    origin = f"{scheme}://127.0.0.1:{proxied_daphne.port}"
    assert await _status(proxied_daphne, alice, origin, headers) == status


# XSS-03: the package never switches escaping off, and its JS never parses HTML.
_FORBIDDEN = {
    ".html": ["|safe", "autoescape off", "mark_safe"],
    ".py": ["mark_safe(", "SafeString(", "autoescape off"],
    ".js": [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ],
}


def test_package_never_disables_escaping_or_parses_html():
    package = Path(notifications.__file__).resolve().parent
    offenders = [
        f"{path.relative_to(package)}: {needle}"
        for path in package.rglob("*")
        if path.suffix in _FORBIDDEN and "migrations" not in path.parts
        for needle in _FORBIDDEN[path.suffix]
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
