"""The websocket origin check."""

from pathlib import Path

import pytest
from django.test import override_settings

import notifications
from notifications.security import origin_allowed


def scope(origin=None, host="app.example.com"):
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if host is not None:
        headers.append((b"host", host.encode()))
    return {"type": "websocket", "headers": headers}


@override_settings(ALLOWED_HOSTS=["app.example.com"], CSRF_TRUSTED_ORIGINS=[])
@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("https://app.example.com", "app.example.com", True),
        ("http://app.example.com", "app.example.com", True),
        ("https://app.example.com:443", "app.example.com", True),
        ("http://app.example.com:8000", "app.example.com:8000", True),
        ("HTTPS://APP.EXAMPLE.COM", "app.example.com", True),
        (None, "app.example.com", False),
        ("", "app.example.com", False),
        ("null", "app.example.com", False),
        ("http://evil.example", "app.example.com", False),
        ("http://app.example.com.evil.example", "app.example.com", False),
        ("http://evil.app.example.com", "app.example.com", False),
        ("https://app.example.com:4443", "app.example.com", False),
        ("http://app.example.com:8001", "app.example.com:8000", False),
        ("ftp://app.example.com", "app.example.com", False),
        ("https://app.example.com/path", "app.example.com", False),
        ("https://user@app.example.com", "app.example.com", False),
        ("https://app.example.com", None, False),
        # Host header not in ALLOWED_HOSTS (DNS rebinding): refused even if equal.
        ("http://rebind.example", "rebind.example", False),
    ],
)
def test_origin_must_equal_own_origin(origin, host, allowed):
    assert origin_allowed(scope(origin, host)) is allowed


@override_settings(ALLOWED_HOSTS=["*"], CSRF_TRUSTED_ORIGINS=[])
def test_wildcard_allowed_hosts_does_not_disable_the_check():
    assert origin_allowed(scope("http://evil.example", "app.example.com")) is False
    assert origin_allowed(scope("http://app.example.com", "app.example.com")) is True


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
def test_csrf_trusted_origins_are_allowed_cross_origin(origin, allowed):
    assert origin_allowed(scope(origin, "api.example.com")) is allowed


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
