"""System checks for the project's set-up around the app: socket path, CSP, static files."""

from __future__ import annotations

import pytest
from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

from notifications import checks
from notifications.routing import websocket_application

# The routes as the README mounts them, but no static files for `python -m daphne`.
no_static_application = ProtocolTypeRouter(
    {"http": get_asgi_application(), "websocket": websocket_application()}
)

DJANGO_CSP = "django.middleware.csp.ContentSecurityPolicyMiddleware"
DJANGO_CSP_NONCE = "<CSP_NONCE_SENTINEL>"  # django.utils.csp.CSP.NONCE (Django 6)


def ids(messages) -> list[str]:
    return sorted(m.id for m in messages)


# notifications.E101: the tag's socket path reaches no route -----------------


def test_default_socket_path_reaches_the_demo_route():
    assert checks.check_socket_path() == []


def test_socket_path_setting_with_no_route_is_an_error(settings):
    settings.NOTIFICATIONS = {"SOCKET_PATH": "/wrong/"}
    [error] = checks.check_socket_path()
    assert error.id == "notifications.E101"
    assert error.msg == (
        "The browser client opens its socket on '/wrong/' (NOTIFICATIONS['SOCKET_PATH']), but "
        "config.asgi.application routes no websocket on that path to NotificationConsumer: "
        "every handshake fails and the client falls back to polling."
    )
    assert error.hint == (
        "Set NOTIFICATIONS['SOCKET_PATH'] to '/ws/notifications/', the route in "
        "config.asgi.application, or remove it."
    )


def test_routes_under_a_prefix_need_no_setting(settings):
    settings.ASGI_APPLICATION = "tests.test_routing.prefixed_application"
    assert checks.check_socket_path() == []


def test_route_with_parameters_needs_the_setting(settings):
    settings.ASGI_APPLICATION = "tests.test_routing.with_parameter"
    [error] = checks.check_socket_path()
    assert error.id == "notifications.E101"
    assert "'/ws/notifications/' (the default" in error.msg
    assert "set NOTIFICATIONS['SOCKET_PATH'] to a path it matches" in error.hint
    settings.NOTIFICATIONS = {"SOCKET_PATH": "/t/red/"}
    assert checks.check_socket_path() == []


# notifications.W101: the project's CSP blocks the client --------------------


def test_nonce_only_django_policy_passes(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DJANGO_CSP]
    settings.SECURE_CSP = {
        "default-src": ["'none'"],
        "script-src": [DJANGO_CSP_NONCE],
        "style-src": [DJANGO_CSP_NONCE],
        "connect-src": ["'self'"],
    }
    assert checks.check_content_security_policy() == []


def test_django_policy_without_self_or_nonce_warns_per_directive(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DJANGO_CSP]
    settings.SECURE_CSP = {"default-src": ["'none'"], "style-src": ["'unsafe-inline'"]}
    messages = checks.check_content_security_policy()
    assert ids(messages) == ["notifications.W101"] * 3
    assert messages[0].msg == (
        "settings.SECURE_CSP blocks the client's <script type=module>: default-src is "
        "[\"'none'\"], which allows neither 'self' or the nonce placeholder (the browser "
        "refuses it and the bell never connects)."
    )
    assert messages[0].hint == (
        "Add 'self' or the nonce placeholder to script-src in settings.SECURE_CSP."
    )
    assert "style-src is [\"'unsafe-inline'\"]" in messages[1].msg
    assert "its websocket and HTTP API requests" in messages[2].msg


def test_policy_is_ignored_without_its_middleware(settings):
    settings.SECURE_CSP = {"default-src": ["'none'"]}
    assert checks.check_content_security_policy() == []


def test_django_csp_4_policy(settings):
    from csp.constants import NONCE, NONE, SELF

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {"default-src": [NONE], "script-src": [NONCE], "style-src": [NONCE]}
    }
    [warning] = checks.check_content_security_policy()
    assert warning.id == "notifications.W101"
    assert warning.msg.startswith(
        "settings.CONTENT_SECURITY_POLICY blocks its websocket and HTTP API requests"
    )
    settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] = [SELF]
    assert checks.check_content_security_policy() == []


def test_host_sources_are_given_the_benefit_of_the_doubt(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DJANGO_CSP]
    settings.SECURE_CSP = {"default-src": ["https://cdn.example.com", "wss:"]}
    assert checks.check_content_security_policy() == []


WEBPUSH_KEYS = {"WEBPUSH_VAPID_PUBLIC_KEY": "BPub", "WEBPUSH_VAPID_PRIVATE_KEY": "priv"}
NONCE_ONLY = {
    "default-src": ["'none'"],
    "script-src": [DJANGO_CSP_NONCE],
    "style-src": [DJANGO_CSP_NONCE],
    "connect-src": ["'self'"],
}


def test_web_push_service_worker_blocked_by_nonce_only_script_src(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DJANGO_CSP]
    settings.SECURE_CSP = NONCE_ONLY
    assert checks.check_content_security_policy() == []  # no Web Push: nothing to load
    settings.NOTIFICATIONS = WEBPUSH_KEYS
    [warning] = checks.check_content_security_policy()
    assert warning.id == "notifications.W101"
    assert warning.msg == (
        "settings.SECURE_CSP blocks the Web Push service worker (service-worker.js): "
        "script-src is ['<CSP_NONCE_SENTINEL>'], which does not allow 'self' (a nonce does "
        "not cover navigator.serviceWorker.register()), so no browser can subscribe and "
        "Web Push never reaches anyone."
    )
    assert warning.hint.startswith("Add worker-src 'self' to settings.SECURE_CSP")
    settings.SECURE_CSP = {**NONCE_ONLY, "worker-src": ["'self'"]}
    assert checks.check_content_security_policy() == []


def test_web_push_worker_src_wins_over_script_src(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DJANGO_CSP]
    settings.NOTIFICATIONS = WEBPUSH_KEYS
    settings.SECURE_CSP = {**NONCE_ONLY, "script-src": ["'self'"], "worker-src": ["'none'"]}
    [warning] = checks.check_content_security_policy()
    assert "worker-src is [\"'none'\"]" in warning.msg
    # child-src is the next fallback, before script-src.
    settings.SECURE_CSP = {**NONCE_ONLY, "script-src": ["'self'"], "child-src": ["'none'"]}
    [warning] = checks.check_content_security_policy()
    assert "child-src is" in warning.msg
    settings.SECURE_CSP = {**NONCE_ONLY, "script-src": ["'self'"]}
    assert checks.check_content_security_policy() == []


def test_web_push_django_csp_4_policy(settings):
    from csp.constants import NONCE, NONE, SELF

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    settings.NOTIFICATIONS = WEBPUSH_KEYS
    directives = {"default-src": [NONE], "script-src": [NONCE], "style-src": [NONCE]}
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives, "connect-src": [SELF]}}
    [warning] = checks.check_content_security_policy()
    assert warning.msg.startswith(
        "settings.CONTENT_SECURITY_POLICY blocks the Web Push service worker"
    )
    settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["worker-src"] = [SELF]
    assert checks.check_content_security_policy() == []


# notifications.W103: Daphne would serve no static files ----------------------


def test_demo_asgi_serves_static_files(settings):
    settings.DEBUG = True
    assert checks.check_static_files_served() == []


def test_asgi_without_static_handler_warns_in_development(settings):
    settings.DEBUG = True
    settings.ASGI_APPLICATION = "tests.test_checks_project.no_static_application"
    [warning] = checks.check_static_files_served()
    assert warning.id == "notifications.W103"
    assert warning.msg == (
        'DEBUG is on and the "http" application of tests.test_checks_project.'
        'no_static_application serves no static files: under "python -m daphne" the bell is '
        "unstyled and its script never loads (runserver serves them itself)."
    )
    assert "ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG" in warning.hint


@pytest.mark.parametrize(
    "change",
    [
        {"DEBUG": False},
        {"STATIC_URL": "https://cdn.example.com/static/"},
        {"MIDDLEWARE": ["whitenoise.middleware.WhiteNoiseMiddleware"]},
    ],
)
def test_no_static_warning_when_something_else_serves_them(settings, change):
    settings.DEBUG = True
    settings.ASGI_APPLICATION = "tests.test_checks_project.no_static_application"
    for name, value in change.items():
        setattr(settings, name, value)
    assert checks.check_static_files_served() == []
