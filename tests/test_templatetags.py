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


def test_nonce_from_django_csp_4_is_lazy_and_still_applied(alice):
    """django-csp 4's request.csp_nonce is falsy until read: the tag reads it."""
    from csp.middleware import CSPMiddleware

    request = RequestFactory().get("/")
    request.user = alice
    CSPMiddleware(lambda request: None).process_request(request)
    assert not request.csp_nonce  # lazy and falsy, as django-csp makes it
    html = Template("{% load notifications %}{% notifications_live %}").render(
        Context({"request": request})
    )
    nonce = script_attrs(html)["nonce"]
    assert len(nonce) >= 16
    assert nonce == str(request.csp_nonce)  # the one django-csp puts in the header
    assert re.search(rf'<link [^>]*nonce="{re.escape(nonce)}"', html)


def test_nonce_from_djangos_csp_context_processor_and_middleware(alice, rf):
    """Django 6's nonce: the csp_nonce context variable, or the middleware's alone."""
    csp = pytest.importorskip("django.middleware.csp", reason="Django 6.0+ has built-in CSP")
    from django.template.context_processors import csp as csp_context_processor

    request = rf.get("/")
    request.user = alice
    csp.ContentSecurityPolicyMiddleware(lambda request: None).process_request(request)
    context = csp_context_processor(request)
    assert not context["csp_nonce"]  # LazyNonce: falsy until read
    with_processor = Template("{% load notifications %}{% notifications_live %}").render(
        Context({"request": request, **context})
    )
    assert script_attrs(with_processor)["nonce"] == str(csp.get_nonce(request))
    # Without the context processor the tag asks the middleware.
    without = Template("{% load notifications %}{% notifications_live %}").render(
        Context({"request": request})
    )
    assert script_attrs(without)["nonce"] == str(csp.get_nonce(request))


def test_nonce_argument_wins_and_lazy_arguments_become_strings(alice):
    from django.utils.functional import SimpleLazyObject

    request = RequestFactory().get("/")
    request.user = alice
    request.csp_nonce = "fromrequest"
    html = Template("{% load notifications %}{% notifications_live nonce=given %}").render(
        Context(
            {"request": request, "given": SimpleLazyObject(lambda: "lazyarg"), "csp_nonce": "x"}
        )
    )
    assert script_attrs(html)["nonce"] == "lazyarg"


def test_no_nonce_attribute_without_a_nonce(alice):
    assert "nonce" not in script_attrs(render(alice))


def test_socket_path_comes_from_the_setting(alice, settings):
    settings.NOTIFICATIONS = {"SOCKET_PATH": "/realtime/notifications/"}
    assert script_attrs(render(alice))["data-socket-path"] == "/realtime/notifications/"


def test_socket_path_follows_the_route_in_asgi_application(alice, settings):
    settings.ASGI_APPLICATION = "tests.test_routing.prefixed_application"
    assert script_attrs(render(alice))["data-socket-path"] == "/live/ws/notifications/"


def test_no_inline_script_or_style_attributes(alice):
    html = render(alice)
    assert re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) == [""]
    assert " style=" not in html
    assert " on" not in re.sub(r'"[^"]*"', '""', html)  # no onclick= etc.


def test_configures_the_inbox_state_urls_and_badge(alice):
    attrs = script_attrs(render(alice))
    for name in ("archive", "unarchive", "snooze", "pin", "unpin"):
        assert attrs[f"data-{name}-url"] == f"/notifications/api/notifications/{{id}}/{name}/"
    assert attrs["data-seen-url"] == "/notifications/api/notifications/seen/"
    assert attrs["data-badge-counts"] == "unread"


def test_badge_counts_unseen_ones_when_asked(alice, settings):
    import notifications

    notifications.send(alice, "a")
    notifications.send(alice, "b")
    alice.notifications.filter(cursor=1).mark_seen()
    assert 'data-notifications-unread="2"' in render(alice)
    settings.NOTIFICATIONS = {"BADGE_COUNTS": "unseen"}
    html = render(alice)
    assert 'data-notifications-unread="1"' in html
    assert script_attrs(html)["data-badge-counts"] == "unseen"
