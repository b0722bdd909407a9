"""System checks: each mistake is reported with its id, and a correct set-up is silent."""

from __future__ import annotations

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.core.asgi import get_asgi_application
from django.core.checks import run_checks
from django.urls import path

from config.settings import redis_channel_layers
from notifications import checks
from notifications.routing import websocket_application, websocket_urlpatterns

REDIS_LAYER = "channels_redis.core.RedisChannelLayer"


def ids(messages) -> list[str]:
    return sorted(m.id for m in messages)


def notification_checks(*, deploy: bool = False) -> list[str]:
    return ids(run_checks(tags=[checks.TAG], include_deployment_checks=deploy))


def test_demo_settings_pass_every_check(settings):
    settings.DEBUG = True
    assert notification_checks(deploy=True) == []


def test_checks_run_with_manage_py_check(settings):
    settings.NOTIFICATIONS = {"TRANSPORT": "channel_layer"}
    settings.CHANNEL_LAYERS = {}
    assert "notifications.E001" in ids(run_checks())


@pytest.mark.parametrize("layers", [{}, None, {"other": {"BACKEND": checks.IN_MEMORY_LAYER}}])
def test_channel_layer_transport_without_its_layer_is_an_error(settings, layers):
    settings.CHANNEL_LAYERS = layers
    settings.NOTIFICATIONS = {"TRANSPORT": "channel_layer"}
    [message] = checks.check_transport()
    assert message.id == "notifications.E001"
    assert "has no 'default' layer" in message.msg


def test_missing_layer_names_the_configured_alias(settings):
    settings.NOTIFICATIONS = {"CHANNEL_LAYER": "push", "TRANSPORT": "channel_layer"}
    [message] = checks.check_transport()
    assert "'push'" in message.msg


@pytest.mark.parametrize("layers", [{}, None, {"default": {"BACKEND": checks.IN_MEMORY_LAYER}}])
def test_no_layer_at_all_is_the_local_transport_fine_in_development(settings, layers):
    settings.DEBUG = True
    settings.CHANNEL_LAYERS = layers
    assert checks.check_transport() == []


def test_local_transport_without_debug_is_a_warning(settings):
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": checks.IN_MEMORY_LAYER}}
    [message] = checks.check_transport()
    assert message.id == "notifications.W001"
    assert "DEBUG is False" in message.msg and "REDIS_URL" in message.hint


def test_redis_transport_without_an_address_is_an_error(settings):
    settings.CHANNEL_LAYERS = {}
    settings.NOTIFICATIONS = {"TRANSPORT": "redis"}
    [message] = checks.check_transport()
    assert message.id == "notifications.E008"
    assert "REDIS_URL" in message.msg


def test_a_layer_that_is_not_plain_channels_redis_is_the_slower_path(settings):
    layers = redis_channel_layers("redis://127.0.0.1:6379/0")
    layers["default"]["CONFIG"]["symmetric_encryption_keys"] = ["secret"]
    settings.CHANNEL_LAYERS = layers
    [message] = checks.check_transport()
    assert message.id == "notifications.I001"
    assert "REDIS_URL" in message.hint


def test_unreachable_redis_is_a_deploy_error(settings):
    from tests.conftest import free_port

    settings.CHANNEL_LAYERS = redis_channel_layers(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    [message] = checks.check_redis_reachable()
    assert message.id == "notifications.E009"
    assert "hunter2" not in message.msg and "***" in message.msg


def test_reachable_redis_passes_the_deploy_check(settings, redis_layer):
    assert checks.check_redis_reachable() == []


def test_postgresql_without_pool_or_persistent_connections_is_a_warning():
    engine = "django.db.backends.postgresql"
    plain = {"default": {"ENGINE": engine, "NAME": "x", "CONN_MAX_AGE": 0}}
    [message] = checks.database_connection_messages(plain)
    assert message.id == "notifications.W007"
    pooled = {"default": {"ENGINE": engine, "NAME": "x", "OPTIONS": {"pool": True}}}
    persistent = {"default": {"ENGINE": engine, "NAME": "x", "CONN_MAX_AGE": 60}}
    assert checks.database_connection_messages(pooled) == []
    assert checks.database_connection_messages(persistent) == []


@pytest.fixture
def redis8():
    if (checks.installed_version("redis") or (0,))[0] < 8:
        pytest.skip("the redis-py 8 check only fires with redis-py 8 installed")


@pytest.mark.parametrize(
    "hosts, problem",
    [
        (["redis://127.0.0.1:6379/0"], "sets neither socket_timeout nor max_connections"),
        (None, "sets neither"),  # channels-redis's default host
        ([{"address": "redis://r:6379", "max_connections": 100}], "needs socket_timeout > 5"),
        (
            [{"address": "redis://r:6379", "socket_timeout": 5, "max_connections": 100}],
            "needs socket_timeout > 5 (has 5)",
        ),
        ([{"address": "redis://r:6379", "socket_timeout": 10}], "needs max_connections"),
    ],
)
def test_redis8_without_timeout_or_pool_is_a_warning(settings, redis8, hosts, problem):
    config = {} if hosts is None else {"hosts": hosts}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": REDIS_LAYER, "CONFIG": config}}
    [message] = checks.check_redis_layers()
    assert message.id == "notifications.W003"
    assert problem in message.msg
    assert "channels_redis#422" in message.msg
    assert '"socket_timeout": 10' in message.hint


def test_redis_hosts_with_timeout_and_pool_pass(settings, redis8):
    settings.CHANNEL_LAYERS = redis_channel_layers("redis://127.0.0.1:6379/0")
    assert checks.check_redis_layers() == []


def test_group_expiry_below_refresh_is_a_warning(settings):
    layers = redis_channel_layers("redis://127.0.0.1:6379/0")
    layers["default"]["CONFIG"]["group_expiry"] = 600
    settings.CHANNEL_LAYERS = layers
    settings.NOTIFICATIONS = {"GROUP_REFRESH_SECONDS": 900, "TRANSPORT": "channel_layer"}
    [message] = checks.check_redis_layers()
    assert message.id == "notifications.W006"
    assert "600" in message.msg and "900" in message.msg


def test_old_daphne_is_an_error(settings, monkeypatch):
    real = checks.installed_version
    monkeypatch.setattr(
        checks, "installed_version", lambda d: (4, 2, 1) if d == "daphne" else real(d)
    )
    [message] = checks.check_daphne()
    assert message.id == "notifications.E005"
    assert "daphne 4.2.1" in message.msg and "CVE-2026-44545" in message.msg


@pytest.mark.parametrize(
    ("distribution", "old", "named"),
    [
        ("redis", (4, 5, 3), "CVE-2023-28858"),
        ("Twisted", (24, 3, 0), "CVE-2024-41671"),
        ("autobahn", (20, 12, 2), "CVE-2020-35678"),
    ],
)
def test_old_socket_stack_is_a_warning_naming_the_hole_and_the_fix(
    monkeypatch, distribution, old, named
):
    """CFG-03: redis < 4.5.4, Twisted < 24.7, autobahn < 20.12.3."""
    real = checks.installed_version
    monkeypatch.setattr(
        checks, "installed_version", lambda d: old if d == distribution else real(d)
    )
    [message] = checks.check_socket_stack()
    assert message.id == "notifications.W008"
    assert f"{distribution} {'.'.join(map(str, old))} is installed" in message.msg
    assert named in message.msg
    assert message.hint.startswith(f'pip install "{distribution}>=')


def test_installed_socket_stack_is_recent_enough():
    assert checks.check_socket_stack() == []


def test_installed_daphne_is_recent_enough():
    assert checks.installed_version("daphne") >= checks.MIN_DAPHNE


def test_missing_daphne_is_a_warning_in_development(settings):
    settings.DEBUG = True
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    [message] = checks.check_daphne()
    assert message.id == "notifications.W004"
    assert '"daphne" is not in INSTALLED_APPS' in message.msg
    assert "404" in message.msg


def test_daphne_after_staticfiles_is_a_warning(settings):
    settings.DEBUG = True
    apps = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    settings.INSTALLED_APPS = [*apps, "daphne"]
    [message] = checks.check_daphne()
    assert message.id == "notifications.W004"
    assert "comes after 'django.contrib.staticfiles'" in message.msg


def test_missing_daphne_is_fine_in_production(settings):
    settings.DEBUG = False
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    assert checks.check_daphne() == []


def test_allowed_hosts_star_is_a_deploy_warning(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.CHANNEL_LAYERS = redis_channel_layers("redis://127.0.0.1:6379/0")
    assert "notifications.W002" not in notification_checks()
    assert "notifications.W002" in notification_checks(deploy=True)


@pytest.mark.parametrize("entry", ["https://*", "http://*:8000", "https://*.com", "*"])
def test_trusted_origin_wildcard_for_everyone_is_an_error(settings, entry):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", entry]
    [message] = checks.check_hosts_and_origins()
    assert message.id == "notifications.E002"
    assert repr(entry) in message.msg


def test_trusted_origin_subdomain_wildcard_is_fine(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com", "http://localhost:8000"]
    assert checks.check_hosts_and_origins() == []


def test_invalid_notifications_setting_is_an_error(settings):
    settings.NOTIFICATIONS = {"SYNC_PAGE_SIZ": 5}
    [message] = checks.check_settings()
    assert message.id == "notifications.E007"
    assert "SYNC_PAGE_SIZ" in message.msg


# The websocket route -----------------------------------------------------------


def app(websocket):
    return ProtocolTypeRouter({"http": get_asgi_application(), "websocket": websocket})


@pytest.mark.parametrize(
    "websocket",
    [
        pytest.param(lambda: websocket_application(), id="helper"),
        pytest.param(
            lambda: AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
            id="channels-stack",
        ),
        pytest.param(
            lambda: AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter([path("api/", URLRouter(websocket_urlpatterns))]))
            ),
            id="nested-router",
        ),
    ],
)
def test_protected_route_passes(websocket):
    assert checks.websocket_route_messages(app(websocket())) == []


def test_route_without_origin_check_is_an_error():
    messages = checks.websocket_route_messages(
        app(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    )
    assert ids(messages) == ["notifications.E003"]
    assert "cross-site websocket hijacking" in messages[0].msg
    assert "NotificationConsumer" in messages[0].msg
    assert "websocket_application()" in messages[0].hint


def test_channels_origin_validator_allowing_every_origin_is_an_error():
    messages = checks.websocket_route_messages(
        app(OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)), ["*"]))
    )
    assert ids(messages) == ["notifications.E003"]
    assert "allows '*'" in messages[0].msg


def test_allowed_hosts_validator_with_star_in_allowed_hosts_is_an_error(settings):
    settings.ALLOWED_HOSTS = ["*"]
    stack = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    assert ids(checks.websocket_route_messages(app(stack))) == ["notifications.E003"]


def test_route_without_auth_is_an_error():
    messages = checks.websocket_route_messages(
        app(AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)))
    )
    assert ids(messages) == ["notifications.E004"]
    assert "4401" in messages[0].msg


def test_bare_route_is_two_errors():
    assert ids(checks.websocket_route_messages(app(URLRouter(websocket_urlpatterns)))) == [
        "notifications.E003",
        "notifications.E004",
    ]


def test_one_unprotected_route_among_protected_ones_is_found():
    unprotected = URLRouter([path("open/", URLRouter(websocket_urlpatterns))])
    mixed = websocket_application([*websocket_urlpatterns, path("raw/", unprotected)])
    # The helper wraps everything, so even the nested route is protected...
    assert checks.websocket_route_messages(app(mixed)) == []
    # ...while a router that sits beside the protected stack is not.
    both = URLRouter(
        [path("safe/", websocket_application()), path("raw/", URLRouter(websocket_urlpatterns))]
    )
    assert ids(checks.websocket_route_messages(app(both))) == [
        "notifications.E003",
        "notifications.E004",
    ]


def test_no_route_to_the_consumer_is_a_warning():
    messages = checks.websocket_route_messages(ProtocolTypeRouter({"http": get_asgi_application()}))
    assert ids(messages) == ["notifications.W005"]


def test_project_asgi_application_is_checked(settings):
    settings.ASGI_APPLICATION = "config.asgi.application"
    assert checks.check_websocket_route() == []


def test_unset_asgi_application_is_a_warning(settings):
    del settings.ASGI_APPLICATION
    [message] = checks.check_websocket_route()
    assert message.id == "notifications.W005"
    assert "ASGI_APPLICATION is not set" in message.msg


def test_unimportable_asgi_application_is_an_error(settings):
    settings.ASGI_APPLICATION = "config.no_such_module.application"
    [message] = checks.check_websocket_route()
    assert message.id == "notifications.E006"
    assert "config.no_such_module.application" in message.msg
