"""Run under another user model (``tests/test_any_user_model.py`` starts these).

Each settings module of this folder swaps ``AUTH_USER_MODEL``: a user whose
primary key is an e-mail address, and a UUID-keyed user who logs in by e-mail
and is not registered in the admin. Not collected by the main run.
"""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.management import call_command
from django.test import Client

import notifications
from notifications.admin import supports_autocomplete
from notifications.models import Broadcast, Notification
from notifications.testing import communicator


@pytest.fixture
def ann(db):
    return get_user_model().objects.create_user("ann@example.com", password="pw")


@pytest.fixture
def admin_client_for(db):
    admin = get_user_model().objects.create_superuser("admin@example.com", password="pw")
    client = Client()
    client.force_login(admin)
    return client


def autocomplete() -> bool:
    from django.contrib import admin

    return supports_autocomplete(get_user_model(), admin.site)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_send_reaches_the_users_open_socket():
    user = await database_sync_to_async(get_user_model().objects.create_user)(
        "ann@example.com", password="pw"
    )
    socket = await communicator(user)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "state"
    await database_sync_to_async(notifications.send)(user, "Hello, any user", title="Hi")
    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "notification.created"
    assert frame["notification"]["message"] == "Hello, any user"
    assert frame["unread_count"] == 1
    await socket.disconnect()


@pytest.mark.django_db  # Django 6's model checks ask the database about JSON support
def test_checks_pass_with_this_user_model():
    messages = checks.run_checks()
    assert [m for m in messages if m.level >= checks.ERROR] == []
    # W102 exactly when the user admin cannot serve autocomplete.
    assert ("notifications.W102" in {m.id for m in messages}) is not autocomplete()


@pytest.mark.django_db
def test_migrations_are_complete_for_this_user_model():
    call_command("makemigrations", "notifications", "--check", "--dry-run", verbosity=0)


def test_admin_searches_by_the_login_field(admin_client_for, ann):
    notifications.send(ann, "Your export", title="Export")
    page = admin_client_for.get("/admin/notifications/notification/", {"q": "ann@example.com"})
    assert page.status_code == 200
    assert "Export" in page.content.decode()
    other = admin_client_for.get("/admin/notifications/notification/", {"q": "bob@example.com"})
    assert "Export" not in other.content.decode()
    history = admin_client_for.get("/admin/notifications/broadcast/", {"q": "admin@example.com"})
    assert history.status_code == 200


def test_admin_add_form_and_compose_page_send(admin_client_for, ann):
    add = admin_client_for.get("/admin/notifications/notification/add/")
    assert add.status_code == 200
    compose = admin_client_for.get("/admin/notifications/notification/send/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', compose)[1]
    if autocomplete():
        assert 'data-field-name="recipient"' in compose
    else:
        assert re.search(r'<input type="text" name="users"', compose)
    response = admin_client_for.post(
        "/admin/notifications/notification/send/",
        {
            "csrfmiddlewaretoken": token,
            "title": "From the admin",
            "message": "Composed for ann",
            "level": "20",
            "url": "",
            "category": "",
            "audience": "users",
            "users": str(ann.pk),
            "_send": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Notification.objects.get(recipient=ann).message == "Composed for ann"
    assert Broadcast.objects.get().recipient_count == 1
    changelist = admin_client_for.get("/admin/notifications/notification/")
    assert "From the admin" in changelist.content.decode()


def test_admin_autocomplete_lookup_answers_when_supported(admin_client_for, ann):
    if not autocomplete():
        pytest.skip("this user model's admin has no search_fields (the raw id case)")
    response = admin_client_for.get(
        "/admin/autocomplete/",
        {
            "term": "ann",
            "app_label": "notifications",
            "model_name": "notification",
            "field_name": "recipient",
        },
    )
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(ann.pk)]
