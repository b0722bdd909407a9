"""Where the socket is: ``socket_path()`` and the route walks behind it and the checks."""

from __future__ import annotations

import pytest
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path, re_path

from notifications.consumers import NotificationConsumer
from notifications.routing import (
    consumer_paths,
    routes_to_consumer,
    socket_path,
    websocket_application,
    websocket_urlpatterns,
)

# Our routes mounted under a prefix, the way a project with other sockets would.
prefixed_application = ProtocolTypeRouter(
    {"websocket": websocket_application([path("live/", URLRouter(websocket_urlpatterns))])}
)
with_parameter = ProtocolTypeRouter(
    {"websocket": URLRouter([path("t/<slug:team>/", NotificationConsumer.as_asgi())])}
)
regex_route = ProtocolTypeRouter(
    {"websocket": URLRouter([re_path(r"^sockets/notes/$", NotificationConsumer.as_asgi())])}
)


def test_default_path_is_the_routes_own(settings):
    assert socket_path() == "/ws/notifications/"


def test_prefix_in_asgi_application_is_followed(settings):
    settings.ASGI_APPLICATION = "tests.test_routing.prefixed_application"
    assert socket_path() == "/live/ws/notifications/"


def test_setting_wins_over_the_routes(settings):
    settings.ASGI_APPLICATION = "tests.test_routing.prefixed_application"
    settings.NOTIFICATIONS = {"SOCKET_PATH": "/elsewhere/"}
    assert socket_path() == "/elsewhere/"


def test_without_asgi_application_the_default_path(settings):
    del settings.ASGI_APPLICATION
    assert socket_path() == "/ws/notifications/"


def test_consumer_paths_literal_regex_and_parameters():
    assert consumer_paths(prefixed_application) == ["/live/ws/notifications/"]
    assert consumer_paths(regex_route) == ["/sockets/notes/"]
    assert consumer_paths(with_parameter) == [None]


@pytest.mark.parametrize(
    ("application", "path", "expected"),
    [
        (prefixed_application, "/live/ws/notifications/", True),
        (prefixed_application, "/ws/notifications/", False),
        (with_parameter, "/t/red/", True),
        (with_parameter, "/t/", False),
        (regex_route, "/sockets/notes/", True),
    ],
)
def test_routes_to_consumer_matches_like_urlrouter(application, path, expected):
    assert routes_to_consumer(application, path) is expected
