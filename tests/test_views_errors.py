"""The HTTP API answers every error in JSON, whatever the project's error views."""

from __future__ import annotations

import json

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

import notifications
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def html_csrf_failure(request, reason=""):
    return HttpResponse("<h1>Project's own CSRF page</h1>", status=403)


@pytest.fixture
def as_alice_with_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


@pytest.mark.parametrize("failure_view", [None, "tests.test_views_errors.html_csrf_failure"])
def test_csrf_failure_is_json_whatever_csrf_failure_view(
    settings, alice, as_alice_with_csrf, failure_view
):
    if failure_view:
        settings.CSRF_FAILURE_VIEW = failure_view
    [n] = notifications.send(alice, "x")
    response = as_alice_with_csrf.post(reverse("notifications:api-read", args=[n.pk]))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "csrf_failed",
        "detail": "CSRF verification failed: CSRF cookie not set. Send the token from the "
        "tag's data-csrf-token (or the csrftoken cookie) in the X-CSRFToken header.",
    }
    n.refresh_from_db()
    assert n.read_at is None


def test_wrong_csrf_token_is_json_and_changes_nothing(alice, as_alice_with_csrf):
    [n] = notifications.send(alice, "x")
    as_alice_with_csrf.get(reverse("notifications:history"))  # sets the csrftoken cookie
    response = as_alice_with_csrf.post(
        reverse("notifications:api-read-all"), HTTP_X_CSRFTOKEN="x" * 32
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert "CSRF token from the 'X-Csrftoken' HTTP header incorrect." in response.json()["detail"]
    assert Notification.objects.get(pk=n.pk).read_at is None


def test_csrf_header_still_accepted(alice, as_alice_with_csrf):
    [n] = notifications.send(alice, "x")
    as_alice_with_csrf.get(reverse("notifications:history"))
    token = as_alice_with_csrf.cookies["csrftoken"].value
    response = as_alice_with_csrf.post(
        reverse("notifications:api-read", args=[n.pk]), HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert response.json()["unread_count"] == 0


def test_csrf_is_checked_even_without_the_csrf_middleware(settings, alice, as_alice_with_csrf):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "csrf" not in m.lower()]
    [n] = notifications.send(alice, "x")
    response = as_alice_with_csrf.post(reverse("notifications:api-delete", args=[n.pk]))
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert Notification.objects.filter(pk=n.pk).exists()


def test_wrong_method_is_a_json_405_with_allow(alice, client):
    client.force_login(alice)
    response = client.get(reverse("notifications:api-read-all"))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {
        "error": "method_not_allowed",
        "detail": "GET is not allowed; use POST.",
    }
    response = client.post(reverse("notifications:api-unread-count"))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_unknown_api_path_is_a_json_404(alice, client):
    client.force_login(alice)
    response = client.get("/notifications/api/nothing-here/")
    assert response.status_code == 404
    assert json.loads(response.content) == {
        "error": "not_found",
        "detail": "No notifications API endpoint at /notifications/api/nothing-here/.",
    }
