"""``{% notifications_live %}``: the markup and the data-* configuration of the client."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import include, path

pytestmark = pytest.mark.django_db

# Mounted elsewhere, for test_urls_follow_the_include_prefix.
urlpatterns = [path("somewhere/else/", include("notifications.urls"))]


def render(user, nonce_attr: str | None = None, template: str = "{% notifications_live %}"):
    request = RequestFactory().get("/")
    request.user = user
    if nonce_attr is not None:
        request.csp_nonce = nonce_attr
    return Template("{% load notifications %}" + template).render(Context({"request": request}))


def script_attrs(html: str) -> dict[str, str]:
    [tag] = re.findall(r"<script [^>]*>", html)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def test_renders_nothing_for_anonymous_visitors():
    assert render(AnonymousUser()).strip() == ""


def test_renders_bell_count_inbox_toast_region_and_module_script(alice):
    html = render(alice)
    assert "data-notifications-bell" in html
    assert 'data-notifications-unread="0"' in html
    assert "data-notifications-inbox" in html
    assert 'role="status" aria-live="polite"' in html
    attrs = script_attrs(html)
    assert attrs["type"] == "module"
    assert attrs["src"].endswith("notifications/notifications.js")


def test_configures_client_with_reversed_urls_and_user(alice):
    attrs = script_attrs(render(alice))
    assert attrs["data-user-id"] == str(alice.pk)
    assert attrs["data-socket-path"] == "/ws/notifications/"
    assert attrs["data-list-url"] == "/notifications/api/notifications/"
    assert attrs["data-unread-count-url"] == "/notifications/api/unread-count/"
    assert attrs["data-read-all-url"] == "/notifications/api/notifications/read-all/"
    assert attrs["data-read-url"] == "/notifications/api/notifications/{id}/read/"
    assert attrs["data-unread-url"] == "/notifications/api/notifications/{id}/unread/"
    assert attrs["data-delete-url"] == "/notifications/api/notifications/{id}/delete/"
    assert attrs["data-history-url"] == "/notifications/"
    assert len(attrs["data-csrf-token"]) >= 32


@pytest.mark.urls(__name__)
def test_urls_follow_the_include_prefix(alice):
    attrs = script_attrs(render(alice))
    assert attrs["data-list-url"] == "/somewhere/else/api/notifications/"
    assert attrs["data-read-url"] == "/somewhere/else/api/notifications/{id}/read/"


def test_client_settings_come_from_notifications_setting(alice, settings):
    settings.NOTIFICATIONS = {
        "TOAST_TIMEOUT_SECONDS": 2.5,
        "MAX_TOASTS": 3,
        "RECOVERY_TOAST_LIMIT": 4,
        "INBOX_PAGE_SIZE": 7,
        "TOAST_STICKY_LEVELS": ("warning", "error"),
    }
    attrs = script_attrs(render(alice))
    assert attrs["data-toast-timeout"] == "2500"
    assert attrs["data-max-toasts"] == "3"
    assert attrs["data-recovery-toast-limit"] == "4"
    assert attrs["data-page-size"] == "7"
    assert attrs["data-sticky-levels"] == "warning,error"


def test_nonce_argument_goes_on_script_and_stylesheet(alice):
    html = render(alice, template='{% notifications_live nonce="abc123" %}')
    assert script_attrs(html)["nonce"] == "abc123"
    assert re.search(r'<link [^>]*nonce="abc123"', html)


def test_nonce_defaults_to_request_csp_nonce(alice):
    assert script_attrs(render(alice, nonce_attr="fromrequest"))["nonce"] == "fromrequest"


def test_no_inline_script_or_style_attributes(alice):
    html = render(alice)
    assert re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) == [""]
    assert " style=" not in html
    assert " on" not in re.sub(r'"[^"]*"', '""', html)  # no onclick= etc.
