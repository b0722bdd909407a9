"""The benchmarked Daphne applications, plus ``GET /__bench__/stats`` (RSS, CPU, GC pauses).

``bench.server:application``  the product: ``config.asgi:application``
``bench.server:stock``        a tutorial Channels consumer: one channels-redis group
                              per user, ``group_send`` per recipient (the stock path)
``bench.server:floor``        a bare ASGI app under Daphne (accept, one frame): what
                              Daphne, Twisted and autobahn cost alone
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from stats import Stats

_stats = Stats()


def _with_stats(inner):
    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__bench__/stats":
            query = scope.get("query_string", b"")
            body = json.dumps(_stats.read(reset=b"reset" in query, census=b"census" in query))
            body = body.encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await inner(scope, receive, send)

    return app


async def _floor(scope, receive, send):
    """Daphne's own cost: accept, send a state frame, nothing else (no Django, no auth)."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": '{"type":"state","cursor":0}'})
        elif message["type"] == "websocket.disconnect":
            return


floor = _with_stats(_floor)

if os.environ.get("BENCH_APP") == "stock":
    from django.core.asgi import get_asgi_application

    _django = get_asgi_application()

    from channels.auth import AuthMiddlewareStack
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.urls import path

    class StockConsumer(AsyncWebsocketConsumer):
        """The Channels tutorial's way: join ``user_<pk>``, forward every event's text."""

        async def connect(self):
            user = self.scope["user"]
            if not user.is_authenticated:
                await self.close(code=4401)
                return
            self.group = f"user_{user.pk}"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()
            await self.send(text_data='{"type":"state","cursor":0,"unread_count":0}')

        async def disconnect(self, code):
            if hasattr(self, "group"):
                await self.channel_layer.group_discard(self.group, self.channel_name)

        async def notify(self, event):
            await self.send(text_data=event["text"])

    stock = _with_stats(
        ProtocolTypeRouter(
            {
                "http": _django,
                "websocket": AllowedHostsOriginValidator(
                    AuthMiddlewareStack(
                        URLRouter([path("ws/notifications/", StockConsumer.as_asgi())])
                    )
                ),
            }
        )
    )
else:
    from config.asgi import application as _product

    application = _with_stats(_product)
