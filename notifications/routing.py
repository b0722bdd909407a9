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

from typing import Any

from channels.routing import URLRouter
from django.urls import path

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
