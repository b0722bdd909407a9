"""Categories, per-user preferences, send() honouring them, the page and the API."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import notifications
from notifications import checks, preferences
from notifications.models import Broadcast, Notification, NotificationPreference

pytestmark = pytest.mark.django_db

CATEGORIES = {
    "billing": {
        "label": "Billing",
        "description": "Invoices and failed payments.",
        "default": {"inapp": True, "email": True, "push": False},
    },
    "social": {"label": "Social", "default": {"inapp": False}},
    "security": {"label": "Security", "critical": True},
}


@pytest.fixture(autouse=True)
def declared(settings):
    settings.NOTIFICATIONS = {"CATEGORIES": CATEGORIES}


def mute(user, category, channel="inapp", enabled=False):
    NotificationPreference.objects.create(
        user=user, category=category, channel=channel, enabled=enabled
    )


# Categories ------------------------------------------------------------------


def test_undeclared_category_is_a_validation_error_naming_the_field(alice):
    with pytest.raises(ValidationError) as info:
        notifications.send(alice, "hi", category="biling")
    assert "category" in info.value.error_dict
    assert "'biling'" in str(info.value) and "'billing'" in str(info.value)
    assert not Notification.objects.exists()


def test_any_category_is_accepted_without_declared_categories(alice, settings):
    settings.NOTIFICATIONS = {}
    [n] = notifications.send(alice, "hi", category="anything")
    assert n.category == "anything"


def test_no_category_is_accepted_when_categories_are_declared(alice):
    assert len(notifications.send(alice, "hi")) == 1


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"x": "Billing"}, "must be a dict"),
        ({"x": {"lable": "X"}}, "'lable'"),
        ({"x": {"default": {"sms": True}}}, '["default"]'),
        ({"x": {"default": {"email": "yes"}}}, '["default"]'),
        ({"x": {"critical": 1}}, '["critical"]'),
        ({"": {}}, "non-empty"),
    ],
)
def test_malformed_categories_are_reported_by_a_system_check(settings, bad, words):
    settings.NOTIFICATIONS = {"CATEGORIES": bad}
    with pytest.raises(ImproperlyConfigured):
        preferences.categories()
    [message] = checks.check_categories()
    assert message.id == "notifications.E201"
    assert words in message.msg


def test_database_check_lists_categories_the_compose_form_sent_but_undeclared(admin_user):
    Broadcast.objects.create(message="m", category="billing", audience="everyone")
    Broadcast.objects.create(message="m", category="promo", audience="everyone")
    [message] = checks.check_undeclared_categories(databases=["default"])
    assert message.id == "notifications.W201"
    assert "promo" in message.msg and "billing" not in message.msg
    assert checks.check_undeclared_categories(databases=None) == []


def test_compose_form_offers_only_declared_categories(admin_client):
    page = admin_client.get(reverse("admin:notifications_notification_send"))
    field = page.context["form"].fields["category"]
    assert [value for value, _label in field.choices] == ["", "billing", "social", "security"]


# send() honours in-app preferences ------------------------------------------


def test_muted_in_app_category_creates_no_row(alice, bob):
    mute(alice, "billing")
    created = notifications.send([alice, bob], "Invoice", category="billing")
    assert [n.recipient_id for n in created] == [bob.pk]
    assert not Notification.objects.filter(recipient=alice).exists()


def test_muting_another_channel_keeps_the_row(alice):
    mute(alice, "billing", "email")
    assert len(notifications.send(alice, "Invoice", category="billing")) == 1


def test_category_off_by_default_reaches_only_those_who_turned_it_on(alice, bob):
    mute(bob, "social", enabled=True)
    created = notifications.send([alice, bob], "Carol liked it", category="social")
    assert [n.recipient_id for n in created] == [bob.pk]


def test_critical_category_is_delivered_even_with_a_muting_row(alice):
    mute(alice, "security")  # Written behind the API's back: still ignored.
    assert len(notifications.send(alice, "New login", category="security")) == 1


def test_critical_and_uncategorised_sends_ask_no_preference(alice, django_assert_num_queries):
    with CaptureQueriesContext(connection) as plain:
        notifications.send(alice, "one")
    with CaptureQueriesContext(connection) as critical:
        notifications.send(alice, "two", category="security")
    assert len(critical) == len(plain)
    assert not any("preference" in q["sql"] for q in critical.captured_queries)


@pytest.mark.parametrize("count", [10, 1000])
def test_preferences_add_one_query_whatever_the_number_of_recipients(
    count, django_assert_num_queries
):
    user_model = get_user_model()
    user_model.objects.bulk_create(user_model(username=f"bulk{i}") for i in range(count))
    users = user_model.objects.filter(username__startswith="bulk")
    muted = list(users[: count // 2])
    NotificationPreference.objects.bulk_create(
        NotificationPreference(user=u, category="billing", channel="inapp", enabled=False)
        for u in muted
    )
    with CaptureQueriesContext(connection) as baseline:
        notifications.send(users, "uncategorised")
    with django_assert_num_queries(len(baseline) + 1):
        created = notifications.send(users, "Invoice", category="billing")
    assert len(created) == count - len(muted)
    assert not {n.recipient_id for n in created} & {u.pk for u in muted}


# The API --------------------------------------------------------------------


def test_api_lists_every_category_with_defaults_and_choices(client, alice):
    mute(alice, "billing", "email")
    client.force_login(alice)
    body = client.get(reverse("notifications:api-preferences")).json()
    assert body["channels"] == ["inapp", "email", "push"]
    by_key = {c["key"]: c for c in body["categories"]}
    assert by_key["billing"]["channels"] == {"inapp": True, "email": False, "push": False}
    assert by_key["billing"]["description"] == "Invoices and failed payments."
    assert by_key["social"]["channels"]["inapp"] is False
    assert by_key["security"]["critical"] is True


def test_api_post_changes_a_choice(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("notifications:api-preferences"),
        {"category": "billing", "channel": "inapp", "enabled": False},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["categories"][0]["channels"]["inapp"] is False
    assert notifications.send(alice, "x", category="billing") == []


def test_api_post_takes_a_list(client, alice):
    client.force_login(alice)
    client.post(
        reverse("notifications:api-preferences"),
        {
            "preferences": [
                {"category": "billing", "channel": "push", "enabled": True},
                {"category": "social", "channel": "email", "enabled": False},
            ]
        },
        content_type="application/json",
    )
    stored = set(NotificationPreference.objects.values_list("category", "channel", "enabled"))
    assert stored == {("billing", "push", True), ("social", "email", False)}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"category": "nope", "channel": "inapp", "enabled": False}, "category"),
        ({"category": "billing", "channel": "sms", "enabled": False}, "channel"),
        ({"category": "billing", "channel": "email", "enabled": "no"}, "enabled"),
        ({"category": "security", "channel": "email", "enabled": False}, "category"),
    ],
)
def test_api_rejects_bad_choices_with_400_naming_the_field(client, alice, body, field):
    client.force_login(alice)
    response = client.post(
        reverse("notifications:api-preferences"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_params"
    assert response["X-Invalid-Field"] == field
    assert repr(body[field]) in response.json()["detail"] or field == "enabled"
    assert not NotificationPreference.objects.exists()


def test_api_rejects_a_batch_with_one_bad_item_entirely(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("notifications:api-preferences"),
        {
            "preferences": [
                {"category": "billing", "channel": "inapp", "enabled": False},
                {"category": "security", "channel": "inapp", "enabled": False},
            ]
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "critical" in response.json()["detail"]
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"preferences": "x"}', b"null"])
def test_api_rejects_malformed_bodies_with_400(client, alice, raw):
    client.force_login(alice)
    response = client.post(
        reverse("notifications:api-preferences"), raw, content_type="application/json"
    )
    assert response.status_code == 400


def test_api_needs_login_and_csrf(alice):
    from django.test import Client

    url = reverse("notifications:api-preferences")
    assert Client().get(url).status_code == 401
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    body = json.dumps({"category": "billing", "channel": "inapp", "enabled": False})
    response = strict.post(url, body, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert not NotificationPreference.objects.exists()


# The page -------------------------------------------------------------------


def test_page_shows_a_checkbox_per_category_and_channel(client, alice):
    client.force_login(alice)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert 'name="billing:email" id=' in page
    assert page.count('type="checkbox"') == 9
    # Critical: shown checked and disabled.
    assert 'name="security:inapp" id="ntf-pref-3-inapp" checked disabled' in page


def test_page_post_saves_unchecked_boxes_as_off(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("notifications:preferences"),
        {"billing:inapp": "on", "billing:push": "on", "social:email": "on"},
    )
    assert response.status_code == 303
    assert response["Location"].endswith("?saved=1")
    rows = NotificationPreference.objects.values_list("category", "channel", "enabled")
    stored = {(c, ch): on for c, ch, on in rows}
    assert stored[("billing", "inapp")] and stored[("billing", "push")]
    assert not stored[("billing", "email")]
    assert not any(c == "security" for c, _ch in stored)


def test_page_post_needs_csrf(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("notifications:preferences"), {}).status_code == 403
    assert not NotificationPreference.objects.exists()


def test_page_needs_login(client):
    response = client.get(reverse("notifications:preferences"))
    assert response.status_code == 302


def test_inbox_links_to_the_page_only_when_categories_are_declared(client, alice, settings):
    client.force_login(alice)
    page = client.get(reverse("notifications:history")).content.decode()
    assert f'href="{reverse("notifications:preferences")}"' in page
    settings.NOTIFICATIONS = {}
    page = client.get(reverse("notifications:history")).content.decode()
    assert "data-notifications-preferences-link" not in page


def test_one_users_choice_never_touches_another(client, alice, bob):
    client.force_login(alice)
    client.post(reverse("notifications:preferences"), {})
    assert not NotificationPreference.objects.filter(user=bob).exists()
    assert len(notifications.send(bob, "x", category="billing")) == 1


def test_migrations_are_in_step():
    call_command("makemigrations", "notifications", "--check", "--dry-run", verbosity=0)


def test_admin_lists_preferences(admin_client, alice):
    mute(alice, "billing", "email")
    page = admin_client.get(reverse("admin:notifications_notificationpreference_changelist"))
    assert page.status_code == 200
    assert b"billing" in page.content
