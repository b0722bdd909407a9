"""Websocket routes, the Channels way.

Mount them in a project's ``asgi.py``, either with the one-call helper, which
adds session auth and the origin check so neither can be forgotten::

    from notifications.routing import websocket_application
    application = ProtocolTypeRouter({"http": django_asgi_app,
                                      "websocket": websocket_application()})

or by hand, in the stack you already have::

    from notifications.routing import websocket_urlpatterns
    AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
"""

from __future__ import annotations

import re
from typing import Any

from channels.routing import URLRouter
from django.urls import Resolver404, path

from .auth import SessionAuthMiddlewareStack
from .consumers import NotificationConsumer
from .security import OriginValidator

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi(), name="notifications-socket"),
]


def websocket_application(routes: list[Any] | None = None) -> Any:
    """Return ``routes`` (default: ours) behind session auth and the origin check.

    Session auth is ``SessionAuthMiddlewareStack``: Channels' stack, except that it
    honours ``SECRET_KEY_FALLBACKS`` and never flushes the HTTP session.
    """
    return OriginValidator(SessionAuthMiddlewareStack(URLRouter(routes or websocket_urlpatterns)))


#: Where ``websocket_urlpatterns`` put the socket when nothing says otherwise.
DEFAULT_SOCKET_PATH = "/ws/notifications/"


def socket_path() -> str:
    """Return the path the browser client and ``notifications.testing`` open the socket on.

    ``NOTIFICATIONS["SOCKET_PATH"]`` when set; otherwise the first route to
    ``NotificationConsumer`` in ``ASGI_APPLICATION`` (so mounting the routes
    under a prefix needs no setting), falling back to ``/ws/notifications/``.
    ``manage.py check`` reports a path that reaches no route (E101).
    """
    from django.conf import settings

    from . import conf

    configured = conf.get("SOCKET_PATH")
    if configured:
        return configured
    if getattr(settings, "ASGI_APPLICATION", None):
        from channels.routing import get_default_application

        try:
            application = get_default_application()
        except Exception:  # E006 reports it; the page should still render.
            return DEFAULT_SOCKET_PATH
        for path in consumer_paths(application):
            if path is not None:
                return path
    return DEFAULT_SOCKET_PATH


def consumer_paths(node: Any, prefix: str = "/", depth: int = 0) -> list[str | None]:
    """Return the path of each route to ``NotificationConsumer`` under ``node``.

    ``None`` stands for a route whose pattern has parameters or regex syntax,
    whose path cannot be written down without ``NOTIFICATIONS["SOCKET_PATH"]``.
    """
    from channels.routing import ProtocolTypeRouter
    from django.urls.resolvers import RegexPattern, RoutePattern

    if depth > 50:  # A cycle or an absurd stack.
        return []
    if isinstance(node, ProtocolTypeRouter):
        websocket = node.application_mapping.get("websocket")
        return [] if websocket is None else consumer_paths(websocket, prefix, depth + 1)
    consumer = getattr(node, "consumer_class", None)
    if isinstance(consumer, type):
        return [prefix] if issubclass(consumer, NotificationConsumer) else []
    if isinstance(node, URLRouter):
        found: list[str | None] = []
        for route in node.routes:
            literal = None
            if isinstance(route.pattern, RoutePattern) and "<" not in route.pattern._route:
                literal = route.pattern._route
            elif isinstance(route.pattern, RegexPattern):
                regex = route.pattern._regex.removeprefix("^").removesuffix("$")
                literal = regex if re.fullmatch(r"[\w\-/.~]*", regex) else None
            inner = consumer_paths(route.callback, prefix + (literal or ""), depth + 1)
            found += inner if literal is not None else [None] * len(inner)
        return found
    for attribute in ("application", "inner", "app"):
        inner = getattr(node, attribute, None)
        if inner is not None and inner is not node:
            return consumer_paths(inner, prefix, depth + 1)
    return []


def routes_to_consumer(node: Any, path: str, depth: int = 0) -> bool:
    """Return whether a websocket on ``path`` reaches ``NotificationConsumer``.

    Matches the way Channels' ``URLRouter`` does: the first matching route wins.
    """
    from channels.routing import ProtocolTypeRouter

    if depth > 50:
        return False
    if isinstance(node, ProtocolTypeRouter):
        websocket = node.application_mapping.get("websocket")
        return websocket is not None and routes_to_consumer(websocket, path, depth + 1)
    consumer = getattr(node, "consumer_class", None)
    if isinstance(consumer, type):
        return issubclass(consumer, NotificationConsumer)
    if isinstance(node, URLRouter):
        for route in node.routes:
            try:
                match = route.pattern.match(path.lstrip("/"))
            except Resolver404:
                continue
            if match:
                return routes_to_consumer(route.callback, match[0], depth + 1)
        return False
    for attribute in ("application", "inner", "app"):
        inner = getattr(node, attribute, None)
        if inner is not None and inner is not node:
            return routes_to_consumer(inner, path, depth + 1)
    return False
