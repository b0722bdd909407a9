"""ASGI entry point: Django for HTTP (with static files), notifications for websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Build Django's application first: it sets up the app registry that the
# consumers' imports need.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from notifications.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The demo serves its own static files, so `daphne config.asgi:application`
        # alone is enough; a production project puts a CDN or WhiteNoise here.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": websocket_application(),
    }
)
