"""System checks: catch the set-up mistakes that make sockets fail silently.

Run by ``manage.py check``, ``runserver`` and ``migrate``; the ones that only
matter in production (``notifications.W002``) by ``manage.py check --deploy``.
Every message names the setting and the fix. Silence one you have dealt with
in your own way with ``SILENCED_SYSTEM_CHECKS = ["notifications.W002"]``.

========================  ==================================================
``notifications.E001``    ``TRANSPORT`` "channel_layer" without that channel layer
``notifications.E002``    ``CSRF_TRUSTED_ORIGINS`` entry trusting every host
``notifications.E003``    socket route not behind an origin validator
``notifications.E004``    socket route not behind session auth
``notifications.E005``    daphne older than 4.2.2 (CVE-2026-44545/44546)
``notifications.E006``    ``ASGI_APPLICATION`` cannot be imported
``notifications.E007``    invalid ``NOTIFICATIONS`` setting
``notifications.E008``    ``TRANSPORT`` "redis" without a Redis address
``notifications.E009``    the transport's Redis is unreachable (``--deploy``)
``notifications.W001``    the one-process "local" transport with ``DEBUG = False``
``notifications.W007``    PostgreSQL without a pool or ``CONN_MAX_AGE``
``notifications.I001``    a channel layer that is not plain channels-redis (slower path)
``notifications.W002``    ``"*"`` in ``ALLOWED_HOSTS`` (``--deploy``)
``notifications.W003``    channels-redis + redis-py 8 without safe host options
``notifications.W004``    ``runserver`` does not serve websockets (``DEBUG``)
``notifications.W005``    no websocket route to ``NotificationConsumer``
``notifications.W006``    channels-redis ``group_expiry`` ≤ ``GROUP_REFRESH_SECONDS``
                          (the "channel_layer" transport)
``notifications.W008``    redis-py, Twisted or autobahn older than their known CVE fixes
``notifications.E201``    malformed ``CATEGORIES``
``notifications.W201``    the compose form's history has undeclared categories
                          (a database check)
``notifications.E202``    a malformed or mismatched VAPID key
``notifications.E203``    VAPID keys without a mailto:/https: subject
``notifications.W202``    VAPID keys without pywebpush (the [webpush] extra)
========================  ==================================================
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Warning, register
from django.core.exceptions import ImproperlyConfigured

from . import conf

TAG = "notifications"
IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"
#: Oldest daphne without CVE-2026-44545 (unbounded message size) and CVE-2026-44546.
MIN_DAPHNE = (4, 2, 2)
#: The socket stack's other parts, and why older versions are unsafe (W008).
MIN_VERSIONS = (
    ("redis", (4, 5, 4), "CVE-2023-28858/28859: a cancelled command can leak its reply"),
    ("Twisted", (24, 7), "CVE-2024-41671 (pipelined HTTP requests) and CVE-2024-41810"),
    ("autobahn", (20, 12, 3), "CVE-2020-35678 (redirect header injection)"),
)
_ROUTING_HINT = (
    'Use "websocket": notifications.routing.websocket_application() in your '
    "ProtocolTypeRouter, or mount notifications.routing.websocket_urlpatterns inside "
    "AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))."
)


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report an invalid ``NOTIFICATIONS`` dict now rather than at the first send."""
    try:
        conf._overrides()
        for name in conf.CHOICES:
            conf.get(name)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Fix settings.NOTIFICATIONS.", id="notifications.E007")]
    return []


@register(TAG)
def check_transport(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that the push transport can be built and crosses processes in production."""
    # Imported here: delivery reads settings as it chooses.
    from . import delivery

    alias = _layer_alias()
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    layer = layers.get(alias) if isinstance(layers, dict) else None
    choice = _setting("TRANSPORT")
    if choice == "channel_layer" and (not isinstance(layer, dict) or not layer.get("BACKEND")):
        return [
            Error(
                f'NOTIFICATIONS["TRANSPORT"] is "channel_layer" but settings.CHANNEL_LAYERS has '
                f"no {alias!r} layer with a BACKEND: notifications are saved but never pushed.",
                hint='Configure that layer, or leave TRANSPORT at "auto" (Redis when '
                "REDIS_URL or a channels-redis layer is set, else this process only).",
                id="notifications.E001",
            )
        ]
    try:
        transport = delivery._make_transport(choice, alias, layer)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint='Set NOTIFICATIONS["REDIS_URL"] or a channels-redis layer.',
                id="notifications.E008",
            )
        ]
    messages: list[CheckMessage] = []
    if transport.name == "local" and not settings.DEBUG:
        messages.append(
            Warning(
                "Notifications are pushed by the 'local' transport (no Redis) while DEBUG is "
                "False: only the process that serves a socket pushes to it directly; sends "
                "from other processes (the shell, a task queue) reach it only through the "
                "database poller, and several server processes cannot share it.",
                hint="Set REDIS_URL (the demo) or a channels-redis CHANNEL_LAYERS entry: the "
                "'redis' transport then carries pushes between processes.",
                id="notifications.W001",
            )
        )
    if transport.name == "channel_layer" and choice == "auto":
        messages.append(
            Info(
                f"CHANNEL_LAYERS[{alias!r}] ({layer.get('BACKEND')}) is not a plain "
                "channels-redis layer, so notifications travel as one group_send per batch "
                "over it: correct, slower than the 'redis' transport, and without presence "
                "(every recipient's frame is built, online or not).",
                hint='For the fast path set NOTIFICATIONS["REDIS_URL"] (pub/sub on that Redis).',
                id="notifications.I001",
            )
        )
    return messages


@register(TAG, deploy=True)
def check_redis_reachable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """RED-09: a wrong Redis address or password is a clear error, not per-socket 500s."""
    from . import delivery

    try:
        transport = delivery.get_transport()
    except ImproperlyConfigured:
        return []  # E008 reports it.
    if transport.name != "redis":
        return []
    try:
        import redis

        redis.Redis.from_url(
            transport.url, **{**transport.options, "socket_connect_timeout": 2, "socket_timeout": 2}
        ).ping()
    except Exception as exc:
        return [
            Error(
                f"Cannot reach the notifications Redis at {_redacted(transport.url)}: "
                f"{type(exc).__name__}: {exc}. Sockets would be refused with 4503 and nothing "
                "would be pushed.",
                hint="Check REDIS_URL (host, port, password) and that Redis runs.",
                id="notifications.E009",
            )
        ]
    return []


def _transport_name() -> str | None:
    from . import delivery

    try:
        return delivery.get_transport().name
    except ImproperlyConfigured:
        return None


def _redacted(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


@register(TAG)
def check_database_connections(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when every socket handshake would open a new PostgreSQL connection."""
    return database_connection_messages(settings.DATABASES)


def database_connection_messages(databases: dict[str, Any]) -> list[CheckMessage]:
    """Return a W007 for each PostgreSQL database without a pool or persistent connections."""
    messages: list[CheckMessage] = []
    for alias, params in databases.items():
        if "postgresql" not in params.get("ENGINE", ""):
            continue
        pooled = bool((params.get("OPTIONS") or {}).get("pool"))
        if not pooled and not params.get("CONN_MAX_AGE"):
            messages.append(
                Warning(
                    f"DATABASES[{alias!r}] opens a new PostgreSQL connection for each database "
                    "call of a socket (CONN_MAX_AGE is 0 and there is no pool): about 3 ms and "
                    "a server process per handshake, which a reconnect storm multiplies.",
                    hint='Add "OPTIONS": {"pool": True} (Django 5.1+, pip install '
                    '"psycopg[pool]"); notifications\' worker threads then borrow pooled '
                    "connections.",
                    id="notifications.W007",
                )
            )
    return messages


@register(TAG)
def check_redis_layers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check channels-redis host options against redis-py 8 and the group expiry."""
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if not isinstance(layers, dict):
        return []
    messages: list[CheckMessage] = []
    redis_major = (installed_version("redis") or (0,))[0]
    for alias, layer in layers.items():
        if not isinstance(layer, dict) or not str(layer.get("BACKEND", "")).startswith(
            "channels_redis."
        ):
            continue
        config = layer.get("CONFIG") or {}
        if redis_major >= 8:
            problems = _redis_host_problems(config.get("hosts") or [("localhost", 6379)])
            if problems:
                messages.append(
                    Warning(
                        f"CHANNEL_LAYERS[{alias!r}]['CONFIG']['hosts'] with redis-py "
                        f"{redis_major}: {'; '.join(problems)}. redis-py 8 defaults "
                        "socket_timeout to 5 s, the same as channels-redis's blocking pop, "
                        "so every idle socket is closed with 1011 after about 5.5 s "
                        "(django/channels_redis#422), and caps the pool at 100 connections, "
                        "so handshakes fail with HTTP 500 in a reconnect storm.",
                        hint=(
                            'Write each host as {"address": "redis://...", '
                            '"socket_timeout": 10, "max_connections": 1000}, or pin "redis<8".'
                        ),
                        id="notifications.W003",
                    )
                )
        refresh = _setting("GROUP_REFRESH_SECONDS")
        expiry = config.get("group_expiry", 86400)
        carries_pushes = alias == _layer_alias() and _transport_name() == "channel_layer"
        if carries_pushes and "pubsub" not in layer["BACKEND"] and expiry <= refresh:
            messages.append(
                Warning(
                    f"CHANNEL_LAYERS[{alias!r}]['CONFIG']['group_expiry'] is {expiry} s, not "
                    f"more than NOTIFICATIONS['GROUP_REFRESH_SECONDS'] ({refresh} s): a server "
                    "process running longer than group_expiry silently stops receiving pushes "
                    "(the 'channel_layer' transport re-joins its group every "
                    "GROUP_REFRESH_SECONDS).",
                    hint="Raise group_expiry or lower GROUP_REFRESH_SECONDS below it.",
                    id="notifications.W006",
                )
            )
    return messages


def _redis_host_problems(hosts: Any) -> list[str]:
    problems = []
    for host in hosts:
        if not isinstance(host, dict):
            problems.append(f"{host!r} sets neither socket_timeout nor max_connections")
            continue
        name = host.get("address") or host.get("sentinels") or host
        timeout = host.get("socket_timeout")
        if not isinstance(timeout, (int, float)) or timeout <= 5:
            problems.append(f"{name!r} needs socket_timeout > 5 (has {timeout!r})")
        if not host.get("max_connections"):
            problems.append(f"{name!r} needs max_connections")
    return problems


@register(TAG)
def check_daphne(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check daphne's version and, in development, that ``runserver`` is daphne's."""
    messages: list[CheckMessage] = []
    version = installed_version("daphne")
    if version is not None and version < MIN_DAPHNE:
        messages.append(
            Error(
                f"daphne {'.'.join(map(str, version))} is installed; versions before "
                "4.2.2 are open to CVE-2026-44545 (unbounded websocket message size) and "
                "CVE-2026-44546.",
                hint='pip install "daphne>=4.2.2"',
                id="notifications.E005",
            )
        )
    if settings.DEBUG:
        # Imported here: get_commands() scans every installed app.
        from django.core.management import get_commands

        owner = get_commands().get("runserver")
        if owner != "daphne":
            where = (
                "is not in INSTALLED_APPS"
                if "daphne" not in settings.INSTALLED_APPS
                else f"comes after {owner!r}, whose runserver wins"
            )
            messages.append(
                Warning(
                    f'"daphne" {where}: "manage.py runserver" serves HTTP only, and '
                    "every websocket handshake gets a 404.",
                    hint='Put "daphne" first in INSTALLED_APPS (or run "python -m daphne '
                    'yourproject.asgi:application").',
                    id="notifications.W004",
                )
            )
    return messages


@register(TAG)
def check_socket_stack(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn about versions of redis-py, Twisted and autobahn with known holes."""
    messages: list[CheckMessage] = []
    for distribution, minimum, why in MIN_VERSIONS:
        version = installed_version(distribution)
        if version is not None and version < minimum:
            wanted = ".".join(map(str, minimum))
            messages.append(
                Warning(
                    f"{distribution} {'.'.join(map(str, version))} is installed; versions "
                    f"before {wanted} are open to {why}.",
                    hint=f'pip install "{distribution}>={wanted}"',
                    id="notifications.W008",
                )
            )
    return messages


@register(TAG)
def check_hosts_and_origins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Reject trusted origins that trust every site: they open the socket to all."""
    messages: list[CheckMessage] = []
    for entry in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        if _trusts_everyone(entry):
            messages.append(
                Error(
                    f"CSRF_TRUSTED_ORIGINS contains {entry!r}, a wildcard for every host or a "
                    "whole top-level domain. The notifications socket accepts handshakes "
                    "from trusted origins, so any such site could read your users' "
                    "notifications with their cookies.",
                    hint='List exact origins ("https://app.example.com") or one domain of '
                    'yours ("https://*.example.com").',
                    id="notifications.E002",
                )
            )
    return messages


@register(TAG, deploy=True)
def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn about ``ALLOWED_HOSTS = ["*"]`` in production."""
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        Warning(
            'ALLOWED_HOSTS contains "*": Django no longer validates the Host header, and '
            "the notifications origin check then only requires the Origin to match whatever "
            "Host the request claims (Channels' AllowedHostsOriginValidator would accept "
            "every origin outright).",
            hint="List your real host names in ALLOWED_HOSTS.",
            id="notifications.W002",
        )
    ]


def _trusts_everyone(entry: str) -> bool:
    entry = entry.strip().lower()
    host = entry.split("://", 1)[-1].split("/", 1)[0]
    host = re.sub(r":\d*$", "", host)
    if "*" not in host:
        return False
    rest = host[2:] if host.startswith("*.") else None
    return rest is None or "*" in rest or "." not in rest


@register(TAG)
def check_websocket_route(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that ``ASGI_APPLICATION`` routes our socket behind origin check and auth."""
    name = getattr(settings, "ASGI_APPLICATION", None)
    if not name:
        return [
            Warning(
                "settings.ASGI_APPLICATION is not set, so runserver cannot serve the "
                "notifications socket and its route cannot be checked.",
                hint='Set ASGI_APPLICATION = "yourproject.asgi.application".',
                id="notifications.W005",
            )
        ]
    # Imported here: channels.routing imports Django's URL machinery.
    from channels.routing import get_default_application

    try:
        application = get_default_application()
    except Exception as exc:
        return [
            Error(
                f"ASGI_APPLICATION {name!r} cannot be loaded: {type(exc).__name__}: {exc}",
                hint="Fix the module or the setting; see the README for a working asgi.py.",
                id="notifications.E006",
            )
        ]
    return websocket_route_messages(application, name=name)


def websocket_route_messages(application: Any, *, name: str = "the ASGI application") -> list:
    """Return check messages for each unsafe route to ``NotificationConsumer``."""
    routes = list(_consumer_routes(application))
    if not routes:
        return [
            Warning(
                f"{name} has no websocket route to notifications' NotificationConsumer, so "
                "no page receives live notifications.",
                hint=_ROUTING_HINT
                + " If a custom middleware hides the route from this check, silence it.",
                id="notifications.W005",
            )
        ]
    messages: list[CheckMessage] = []
    for chain, has_origin, has_auth in routes:
        if not has_origin:
            messages.append(
                Error(
                    f"The notifications socket in {name} ({chain}) has no origin validator, "
                    "or one that allows '*': "
                    "any website can open it with your visitors' cookies and read their "
                    "notifications (cross-site websocket hijacking).",
                    hint=_ROUTING_HINT,
                    id="notifications.E003",
                )
            )
        if not has_auth:
            messages.append(
                Error(
                    f"The notifications socket in {name} ({chain}) has no auth middleware "
                    "above it: scope['user'] is never set and every socket is closed 4401.",
                    hint=_ROUTING_HINT,
                    id="notifications.E004",
                )
            )
    return messages


def _consumer_routes(
    node: Any, chain: tuple[str, ...] = (), origin: bool = False, auth: bool = False
) -> Iterator[tuple[str, bool, bool]]:
    """Yield ``(chain, origin_checked, authenticated)`` for each route to our consumer."""
    # Imported here: they import the app's models through the consumer.
    from channels.auth import AuthMiddleware
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import OriginValidator as ChannelsOriginValidator

    from .consumers import NotificationConsumer
    from .security import OriginValidator

    if len(chain) > 50:  # A cycle or an absurd stack: stop rather than recurse for ever.
        return
    label = type(node).__name__
    if isinstance(node, ProtocolTypeRouter):
        websocket = node.application_mapping.get("websocket")
        if websocket is not None:
            yield from _consumer_routes(websocket, (*chain, label), origin, auth)
        return
    consumer = getattr(node, "consumer_class", None)
    if isinstance(consumer, type):
        if issubclass(consumer, NotificationConsumer):
            yield " > ".join((*chain, consumer.__name__)), origin, auth
        return
    if isinstance(node, URLRouter):
        for route in node.routes:
            yield from _consumer_routes(
                route.callback, (*chain, f"{label}[{route.pattern}]"), origin, auth
            )
        return
    # Channels' validator with "*" (or AllowedHostsOriginValidator with "*" in
    # ALLOWED_HOSTS) lets every origin through: it does not count.
    origin = (
        origin
        or isinstance(node, OriginValidator)
        or (
            isinstance(node, ChannelsOriginValidator)
            and "*" not in (getattr(node, "allowed_origins", None) or ())
        )
    )
    # Any middleware named *Auth* counts: token-auth stacks set scope["user"] too.
    auth = auth or isinstance(node, AuthMiddleware) or "auth" in label.lower()
    for attribute in ("application", "inner", "app"):
        inner = getattr(node, attribute, None)
        if inner is not None and inner is not node:
            yield from _consumer_routes(inner, (*chain, label), origin, auth)
            return


def installed_version(distribution: str) -> tuple[int, ...] | None:
    """Return the installed version of ``distribution`` as integers, or None."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def _layer_alias() -> str:
    return _setting("CHANNEL_LAYER")


def _setting(name: str) -> Any:
    try:
        return conf.get(name)
    except ImproperlyConfigured:
        return conf.DEFAULTS[name]  # E007 reports the broken setting.


# Checks added for issue 12 (any project set-up). Numbered from 101 so they never
# collide with checks added elsewhere meanwhile.
#
# ``notifications.E101``  the socket path the tag uses reaches no route
# ``notifications.W101``  the project's CSP blocks the client
# ``notifications.W102``  user admin cannot serve autocomplete: raw id fields
# ``notifications.W103``  Daphne would serve no static files (DEBUG)


@register(TAG)
def check_user_admin_autocomplete(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Say why the notification admin shows raw id inputs instead of autocomplete."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from .admin import NotificationAdmin, supports_autocomplete

    user_model = get_user_model()
    model_admin = admin.site._registry.get(user_model._meta.concrete_model)
    if not any(isinstance(m, NotificationAdmin) for m in admin.site._registry.values()):
        return []
    if supports_autocomplete(user_model, admin.site):
        return []
    label = user_model._meta.label
    why = (
        f"is registered in the admin without search_fields ({type(model_admin).__name__})"
        if model_admin is not None
        else "is not registered in the default admin site"
    )
    return [
        Warning(
            f"The user model {label} {why}, so the notification admin cannot use "
            "autocomplete for recipient and actor (nor the compose page for users): "
            "they are raw id inputs instead.",
            hint=(
                f"Register {label} in django.contrib.admin.site with search_fields (e.g. "
                f'search_fields = ["{user_model.USERNAME_FIELD}"]) to get autocomplete, '
                'or silence this with SILENCED_SYSTEM_CHECKS = ["notifications.W102"].'
            ),
            id="notifications.W102",
        )
    ]


@register(TAG)
def check_socket_path(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that the path the browser client opens reaches ``NotificationConsumer``."""
    if not getattr(settings, "ASGI_APPLICATION", None):
        return []  # W005
    from channels.routing import get_default_application

    from .routing import consumer_paths, routes_to_consumer, socket_path

    try:
        application = get_default_application()
        path = socket_path()
    except Exception:
        return []  # E006 or E007
    found = consumer_paths(application)
    if not found or routes_to_consumer(application, path):
        return []  # no route at all is W005
    source = (
        "NOTIFICATIONS['SOCKET_PATH']"
        if _setting("SOCKET_PATH")
        else "the default (no literal route to find)"
    )
    literal = [p for p in found if p is not None]
    hint = (
        f"Set NOTIFICATIONS['SOCKET_PATH'] to {literal[0]!r}, the route in "
        f"{settings.ASGI_APPLICATION}, or remove it."
        if literal
        else "The route has parameters: set NOTIFICATIONS['SOCKET_PATH'] to a path it matches."
    )
    return [
        Error(
            f"The browser client opens its socket on {path!r} ({source}), but "
            f"{settings.ASGI_APPLICATION} routes no websocket on that path to "
            "NotificationConsumer: every handshake fails and the client falls back to polling.",
            hint=hint,
            id="notifications.E101",
        )
    ]


#: Where each CSP implementation is switched on, and how it spells its policy.
_CSP_MIDDLEWARE = {
    "django.middleware.csp.ContentSecurityPolicyMiddleware": "SECURE_CSP",
    "csp.middleware.CSPMiddleware": "CONTENT_SECURITY_POLICY",
}


@register(TAG)
def check_content_security_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when the project's enforced CSP blocks the client's script, style or socket."""
    messages: list[CheckMessage] = []
    for middleware, setting in _CSP_MIDDLEWARE.items():
        if middleware not in settings.MIDDLEWARE:
            continue
        policy = getattr(settings, setting, None) or {}
        if setting == "CONTENT_SECURITY_POLICY":
            policy = policy.get("DIRECTIVES") or {}
        if not isinstance(policy, dict):
            continue
        for directive, what in (
            ("script-src", "the client's <script type=module>"),
            ("style-src", "its stylesheet"),
            ("connect-src", "its websocket and HTTP API requests"),
        ):
            sources = policy.get(directive, policy.get("default-src"))
            if sources is None or _csp_allows(sources, nonce=directive != "connect-src"):
                continue
            used = directive if directive in policy else "default-src"
            allow = "'self' or the nonce placeholder" if directive != "connect-src" else "'self'"
            messages.append(
                Warning(
                    f"settings.{setting} blocks {what}: {used} is {list(map(str, sources))!r}, "
                    f"which allows neither {allow} (the browser refuses it and the bell "
                    "never connects).",
                    hint=f"Add {allow} to {directive} in settings.{setting}.",
                    id="notifications.W101",
                )
            )
        messages.extend(_service_worker_blocked(policy, setting))
    return messages


#: Where a service worker's script is checked, in the order CSP 3 falls back.
_WORKER_DIRECTIVES = ("worker-src", "child-src", "script-src", "default-src")


def _service_worker_blocked(policy: dict, setting: str) -> list[CheckMessage]:
    """Warn when Web Push is on and ``policy`` refuses the service worker's script.

    ``navigator.serviceWorker.register()`` cannot carry a nonce: only ``'self'``
    (or a host source) lets it load ``service-worker.js``.
    """
    from . import webpush

    if not webpush.configured():
        return []
    used = next((d for d in _WORKER_DIRECTIVES if d in policy), None)
    if used is None or _csp_allows(policy[used], nonce=False):
        return []
    sources = policy[used]
    if isinstance(sources, str):
        sources = sources.split()
    return [
        Warning(
            f"settings.{setting} blocks the Web Push service worker (service-worker.js): "
            f"{used} is {list(map(str, sources))!r}, which does not allow 'self' (a nonce "
            "does not cover navigator.serviceWorker.register()), so no browser can subscribe "
            "and Web Push never reaches anyone.",
            hint=(
                f"Add worker-src 'self' to settings.{setting} (it takes precedence over "
                f"{', '.join(d for d in _WORKER_DIRECTIVES[1:])}), or unset "
                "NOTIFICATIONS['WEBPUSH_VAPID_PUBLIC_KEY'] if you do not use Web Push."
            ),
            id="notifications.W101",
        )
    ]


def _csp_allows(sources: Any, *, nonce: bool) -> bool:
    if isinstance(sources, str):
        sources = sources.split()
    for source in sources:
        text = str(source)
        if text in ("'self'", "*") or (nonce and _is_nonce_placeholder(source)):
            return True
        if not text.startswith("'") and not _is_nonce_placeholder(source):
            return True  # a host or scheme source: it may well cover the static files
    return False


def _is_nonce_placeholder(source: Any) -> bool:
    # Django 6: CSP.NONCE, a sentinel string; django-csp 4: csp.constants.NONCE, an object.
    return source == "<CSP_NONCE_SENTINEL>" or type(source).__name__ == "Nonce"


@register(TAG)
def check_static_files_served(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn in development when ``python -m daphne`` would serve no static files."""
    from django.apps import apps

    if not settings.DEBUG or not apps.is_installed("django.contrib.staticfiles"):
        return []
    if "://" in str(getattr(settings, "STATIC_URL", "") or "") or any(
        "whitenoise" in middleware.lower() for middleware in settings.MIDDLEWARE
    ):
        return []  # served by another host, or by WhiteNoise in every server
    if not getattr(settings, "ASGI_APPLICATION", None):
        return []
    from channels.routing import ProtocolTypeRouter, get_default_application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    try:
        node = get_default_application()
    except Exception:
        return []  # E006
    if isinstance(node, ProtocolTypeRouter):
        node = node.application_mapping.get("http")
    for _ in range(50):
        if node is None or isinstance(node, ASGIStaticFilesHandler):
            break
        node = next(
            (getattr(node, a) for a in ("application", "inner", "app") if hasattr(node, a)), None
        )
    if isinstance(node, ASGIStaticFilesHandler):
        return []
    return [
        Warning(
            f'DEBUG is on and the "http" application of {settings.ASGI_APPLICATION} serves no '
            'static files: under "python -m daphne" the bell is unstyled and its script '
            "never loads (runserver serves them itself).",
            hint=(
                "In asgi.py wrap Django's application in development: "
                '"http": ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else '
                "django_asgi_app (from django.contrib.staticfiles.handlers import "
                "ASGIStaticFilesHandler), or serve them with WhiteNoise."
            ),
            id="notifications.W103",
        )
    ]


@register(TAG)
def check_categories(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report a malformed ``CATEGORIES`` now rather than at the first send."""
    from .preferences import categories

    try:
        categories()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="See the README's Categories section for the shape.",
                id="notifications.E201",
            )
        ]
    return []


@register(TAG, "database")
def check_undeclared_categories(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """List categories the admin's compose form has sent (its history) that are not declared.

    A database check: run by ``migrate`` and ``check --database default``.
    Re-sending one of those from the admin would now fail.
    """
    from django.db import DatabaseError

    from .models import Broadcast
    from .preferences import categories

    if not databases:
        return []
    try:
        declared = categories()
    except ImproperlyConfigured:
        return []  # E201 reports it.
    if not declared:
        return []
    messages: list[CheckMessage] = []
    for alias in databases:
        try:
            used = set(
                Broadcast.objects.using(alias)
                .exclude(category="")
                .values_list("category", flat=True)
                .distinct()
            )
        except DatabaseError:
            continue  # Not migrated yet.
        undeclared = sorted(used - set(declared))
        if undeclared:
            messages.append(
                Warning(
                    f"The admin's compose form sent categories that NOTIFICATIONS"
                    f'["CATEGORIES"] does not declare: {", ".join(undeclared)} '
                    f"(database {alias!r}).",
                    hint="Declare them, or rename them in the broadcast history; send() "
                    "refuses undeclared categories.",
                    id="notifications.W201",
                )
            )
    return messages


@register(TAG)
def check_webpush(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check the VAPID settings once either key is set."""
    import base64
    import binascii

    public = conf.get("WEBPUSH_VAPID_PUBLIC_KEY")
    private = conf.get("WEBPUSH_VAPID_PRIVATE_KEY")
    if not (public or private):
        return []
    hint = "Generate a pair with: python manage.py notifications_vapid_keys"

    def raw(value: Any) -> bytes | None:
        if not isinstance(value, str):
            return None
        try:
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None

    messages: list[CheckMessage] = []
    public_raw, private_raw = raw(public), raw(private)
    if public_raw is None or len(public_raw) != 65:
        messages.append(
            Error(
                "WEBPUSH_VAPID_PUBLIC_KEY must be the base64url uncompressed P-256 point "
                "(65 bytes).",
                hint=hint,
                id="notifications.E202",
            )
        )
    if private_raw is None or len(private_raw) != 32:
        messages.append(
            Error(
                "WEBPUSH_VAPID_PRIVATE_KEY must be the base64url raw P-256 key (32 bytes).",
                hint=hint,
                id="notifications.E202",
            )
        )
    elif public_raw is not None and len(public_raw) == 65:
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec
        except ImportError:
            pass
        else:
            key = ec.derive_private_key(int.from_bytes(private_raw, "big"), ec.SECP256R1())
            derived = key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            if derived != public_raw:
                messages.append(
                    Error(
                        "WEBPUSH_VAPID_PUBLIC_KEY is not the public key of "
                        "WEBPUSH_VAPID_PRIVATE_KEY: push services would refuse every push.",
                        hint=hint,
                        id="notifications.E202",
                    )
                )
    subject = conf.get("WEBPUSH_VAPID_SUBJECT")
    if not (isinstance(subject, str) and subject.startswith(("mailto:", "https://"))):
        messages.append(
            Error(
                "WEBPUSH_VAPID_SUBJECT must be a mailto: or https:// contact for the push "
                f"services, not {subject!r}.",
                hint='e.g. "mailto:admin@example.com"',
                id="notifications.E203",
            )
        )
    from .webpush import available

    if not available():
        messages.append(
            Warning(
                "VAPID keys are set but pywebpush is not installed: no push is sent.",
                hint='pip install "django-realtime-notifications[webpush]"',
                id="notifications.W202",
            )
        )
    return messages
