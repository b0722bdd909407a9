"""The admin: who may compose, preview then send, the history, the changelist."""

import os
import re
import time

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

import notifications
from notifications.models import Broadcast, Notification

pytestmark = pytest.mark.django_db

SEND_URL = "/admin/notifications/notification/send/"
CHANGELIST_URL = "/admin/notifications/notification/"
HISTORY_URL = "/admin/notifications/broadcast/"


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def sender(make_user):
    """Staff allowed to send and to see the list and the history, nothing more."""
    user = make_user("sender", is_staff=True)
    grant(user, "add_notification", "view_notification", "view_broadcast")
    return user


def client_for(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def compose(step="_send", **data):
    return {
        "title": "Maintenance",
        "message": "Down at 6",
        "level": "20",
        "url": "",
        "category": "ops",
        "audience": "everyone",
        step: "1",
        **data,
    }


# Permissions --------------------------------------------------------------


def test_anonymous_is_sent_to_the_admin_login(alice):
    response = Client().post(SEND_URL, compose())
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not Notification.objects.exists()


def test_non_staff_is_refused(alice):
    client = client_for(alice)
    grant(alice, "add_notification")  # Permission without staff status is not enough.
    assert client.get(SEND_URL).status_code == 302
    response = client.post(SEND_URL, compose())
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not Notification.objects.exists()


def test_staff_without_add_permission_is_refused(make_user, alice):
    staff = make_user("viewer", is_staff=True)
    grant(staff, "view_notification", "change_notification")
    client = client_for(staff)
    assert client.get(SEND_URL).status_code == 403
    assert client.post(SEND_URL, compose()).status_code == 403
    assert not Notification.objects.exists()
    assert not Broadcast.objects.exists()


def test_changelist_links_to_compose_page_only_for_senders(make_user, sender):
    assert SEND_URL in client_for(sender).get(CHANGELIST_URL).content.decode()
    viewer = make_user("viewer", is_staff=True)
    grant(viewer, "view_notification")
    assert SEND_URL not in client_for(viewer).get(CHANGELIST_URL).content.decode()


def test_csrf_is_enforced(sender, alice):
    client = client_for(sender, enforce_csrf_checks=True)
    assert client.post(SEND_URL, compose()).status_code == 403
    assert not Notification.objects.exists()

    page = client.get(SEND_URL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post(SEND_URL, compose(csrfmiddlewaretoken=token))
    assert response.status_code == 302
    assert Notification.objects.count() == 2  # alice and the sender: every active user.


# Compose, preview, send ---------------------------------------------------


def test_compose_page_renders_form_with_autocomplete(sender):
    response = client_for(sender).get(SEND_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_preview"' in html
    assert 'name="_send"' not in html
    assert 'data-field-name="recipient"' in html  # users autocomplete
    assert 'data-field-name="groups"' in html
    assert "admin/js/autocomplete.js" in html


def test_preview_shows_escaped_toast_and_count_and_sends_nothing(sender, alice, bob):
    response = client_for(sender).post(
        SEND_URL,
        compose(
            "_preview",
            title="<img src=x onerror=alert(1)>",
            level="30",
            audience="users",
            users=[alice.pk, bob.pk],
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    # The toast the client builds, in a shadow root of its own (admin CSS cannot reach it).
    preview = re.search(r'<template shadowrootmode="open">(.*?)</template>', html, re.S)[1]
    toast = re.search(r'<div class="ntf-toast" data-level="warning">(.*?)</div></div>', preview)[1]
    assert '<strong class="ntf-title">&lt;img src=x onerror=alert(1)&gt;</strong>' in toast
    assert '<span class="ntf-message">Down at 6</span>' in toast
    assert '<span class="ntf-level-text">Warning</span>' in toast  # level as icon + word
    assert "<img" not in preview
    assert 'data-recipient-count="2"' in html
    assert 'name="_send" class="default" value="Send to 2 users"' in html
    assert "alice, bob" in html
    # The content is frozen in hidden fields for the Send step.
    assert f'<input type="hidden" name="users" value="{alice.pk}"' in html
    assert not Notification.objects.exists()


def test_invalid_compose_shows_errors_and_sends_nothing(sender):
    response = client_for(sender).post(SEND_URL, compose(url="javascript:alert(1)"))
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert response.context["form"].errors["url"]
    assert not Notification.objects.exists()


def test_edit_goes_back_to_the_form_with_the_values(sender, alice):
    response = client_for(sender).post(
        SEND_URL, compose("_edit", title="Keep me", audience="users", users=[alice.pk])
    )
    html = response.content.decode()
    assert 'name="_preview"' in html
    assert 'value="Keep me"' in html
    assert f'<option value="{alice.pk}" selected>alice</option>' in html
    assert not Notification.objects.exists()


def test_send_creates_notifications_records_history_and_reports_count(sender, alice, bob):
    client = client_for(sender)
    response = client.post(
        SEND_URL, compose(url="/status/", level="25", audience="users", users=[alice.pk, bob.pk])
    )
    assert response.status_code == 302
    assert response["Location"] == HISTORY_URL
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Sent to 2 users."]

    sent = Notification.objects.order_by("recipient__username")
    assert [n.recipient for n in sent] == [alice, bob]
    assert {(n.title, n.message, n.level, n.url, n.category, n.actor) for n in sent} == {
        ("Maintenance", "Down at 6", 25, "/status/", "ops", sender)
    }
    broadcast = Broadcast.objects.get()
    assert broadcast.sender == sender
    assert broadcast.audience == "users"
    assert broadcast.audience_detail == "alice, bob"
    assert broadcast.recipient_count == 2
    assert (broadcast.title, broadcast.message, broadcast.level) == ("Maintenance", "Down at 6", 25)
    assert broadcast.created_at == sent[0].created_at


def test_send_to_groups_gives_a_member_of_two_groups_one_notification(sender, make_user):
    red, blue = Group.objects.create(name="red"), Group.objects.create(name="blue")
    both, only_blue = make_user("both"), make_user("only_blue")
    inactive = make_user("inactive", is_active=False)
    both.groups.add(red, blue)
    only_blue.groups.add(blue)
    inactive.groups.add(red)
    make_user("outsider")
    client_for(sender).post(SEND_URL, compose(audience="groups", groups=[red.pk, blue.pk]))
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == [
        "both",
        "only_blue",
    ]
    assert Broadcast.objects.get().audience_detail == "blue, red"


def test_send_to_everyone_skips_inactive_users(sender, make_user):
    active = [make_user() for _ in range(3)]
    make_user("gone", is_active=False)
    client_for(sender).post(SEND_URL, compose(audience="everyone"))
    assert set(Notification.objects.values_list("recipient", flat=True)) == {
        sender.pk,
        *(u.pk for u in active),
    }
    assert Broadcast.objects.get().recipient_count == 4


def test_sender_without_history_permission_returns_to_compose_page(make_user, alice):
    staff = make_user("only_add", is_staff=True)
    grant(staff, "add_notification")
    response = client_for(staff).post(SEND_URL, compose(audience="users", users=[alice.pk]))
    assert response.status_code == 302
    assert response["Location"] == SEND_URL
    assert Notification.objects.get().recipient == alice


def _queries_for_send(sender, make_user, n_users, django_capture_on_commit_callbacks):
    group = Group.objects.create(name=f"group of {n_users}")
    group.user_set.add(*(make_user() for _ in range(n_users)))
    client = client_for(sender)
    data = compose(audience="groups", groups=[group.pk])
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(SEND_URL, data)
    assert response.status_code == 302
    assert Notification.objects.filter(recipient__groups=group).count() == n_users
    return len(queries)


def test_query_count_does_not_grow_with_the_audience(
    sender, make_user, django_capture_on_commit_callbacks
):
    # 50 recipients still fit one INSERT under SQLite's parameter limit; the
    # count includes the pushes run after commit.
    small = _queries_for_send(sender, make_user, 2, django_capture_on_commit_callbacks)
    large = _queries_for_send(sender, make_user, 50, django_capture_on_commit_callbacks)
    assert small == large


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_broadcast_reaches_open_sockets_over_redis(redis_layer):
    """A group broadcast reaches the open sockets of its members, and nobody else's."""
    from asgiref.sync import sync_to_async

    from tests.conftest import connected

    @sync_to_async
    def setup():
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        root = user_model.objects.create_superuser("root", password="pw")
        team = Group.objects.create(name="team")
        members = [user_model.objects.create_user(f"m{i}") for i in range(40)]
        team.user_set.add(*members)
        outsider = user_model.objects.create_user("outsider")
        return root, team, members, outsider

    root, team, members, outsider = await setup()

    @sync_to_async
    def broadcast():
        response = client_for(root).post(SEND_URL, compose(audience="groups", groups=[team.pk]))
        assert response.status_code == 302

    async with (
        connected(members[0]) as first,
        connected(members[-1]) as last,
        connected(outsider) as other,
    ):
        for ws in (first, last, other):
            assert (await ws.connect(timeout=5))[0]
            assert (await ws.receive_json_from(timeout=5))["type"] == "state"
        await broadcast()
        for ws in (first, last):
            frame = await ws.receive_json_from(timeout=5)
            assert frame["type"] == "notification.created"
            assert frame["notification"]["title"] == "Maintenance"
            assert frame["unread_count"] == 1
        assert await other.receive_nothing(timeout=0.5)


# History ------------------------------------------------------------------


def test_history_lists_who_sent_what_to_whom(sender, alice):
    client = client_for(sender)
    client.post(SEND_URL, compose(title="Hello all", audience="users", users=[alice.pk]))
    html = client.get(HISTORY_URL).content.decode()
    assert "Hello all" in html
    assert "sender" in html
    assert "chosen users" in html
    assert "alice" in html
    broadcast = Broadcast.objects.get()
    assert client.get(f"{HISTORY_URL}{broadcast.pk}/change/").status_code == 200


def test_history_links_to_exactly_the_notifications_of_that_send(superuser, alice, bob):
    client = client_for(superuser)
    client.post(SEND_URL, compose(title="First", audience="users", users=[alice.pk, bob.pk]))
    notifications.send(alice, "unrelated")
    html = client.get(HISTORY_URL).content.decode()
    link = re.search(r'<a href="(/admin/notifications/notification/\?created_at=[^"]+)"', html)[1]
    response = client.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert sorted(n.recipient.username for n in shown) == ["alice", "bob"]
    assert {n.title for n in shown} == {"First"}


def test_history_is_read_only(superuser):
    client = client_for(superuser)
    assert client.get(HISTORY_URL + "add/").status_code == 403


# Notification changelist --------------------------------------------------


def test_changelist_query_count_does_not_grow_with_rows(superuser, make_user):
    client = client_for(superuser)

    def queries_for_page():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CHANGELIST_URL).status_code == 200
        return len(queries)

    notifications.send([make_user() for _ in range(2)], "few", category="a")
    few = queries_for_page()
    notifications.send([make_user() for _ in range(30)], "many", category="b")
    assert queries_for_page() == few


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("read=no", {"unread one"}),
        ("read=yes", {"read one"}),
        ("category=billing", {"read one"}),
        ("level__exact=40", {"read one"}),
        ("q=alice", {"unread one"}),
        ("q=unread", {"unread one"}),
        ("q=bob", {"read one"}),
        ("q=bo", set()),  # Usernames match exactly.
    ],
)
def test_changelist_filters_and_search(superuser, alice, bob, query, expected):
    notifications.info(alice, "unread one", category="news")
    notifications.error(bob, "read one", category="billing")
    bob.notifications.mark_read()
    response = client_for(superuser).get(f"{CHANGELIST_URL}?{query}")
    assert response.status_code == 200
    assert {n.message for n in response.context["cl"].result_list} == expected


def test_category_filter_offers_recent_categories(superuser, alice):
    notifications.send(alice, "x", category="billing")
    html = client_for(superuser).get(CHANGELIST_URL).content.decode()
    assert "?category=billing" in html


def test_mark_read_and_unread_actions(superuser, alice, bob):
    first, second = notifications.send([alice, bob], "hi")
    client = client_for(superuser)
    selected = [first.pk, second.pk]
    response = client.post(CHANGELIST_URL, {"action": "mark_read", "_selected_action": selected})
    assert response.status_code == 302
    assert not Notification.objects.unread().exists()
    assert "2 notifications marked as read." in [
        str(m) for m in get_messages(response.wsgi_request)
    ]
    client.post(CHANGELIST_URL, {"action": "mark_unread", "_selected_action": [first.pk]})
    assert list(Notification.objects.unread()) == [first]


def test_read_actions_need_change_permission(make_user, alice):
    viewer = make_user("viewer", is_staff=True)
    grant(viewer, "view_notification")
    (notification,) = notifications.send(alice, "hi")
    client = client_for(viewer)
    client.post(CHANGELIST_URL, {"action": "mark_read", "_selected_action": [notification.pk]})
    notification.refresh_from_db()
    assert notification.read_at is None


def test_delete_action_is_available(superuser, alice):
    (notification,) = notifications.send(alice, "hi")
    client = client_for(superuser)
    client.post(
        CHANGELIST_URL,
        {"action": "delete_selected", "_selected_action": [notification.pk], "post": "yes"},
    )
    assert not Notification.objects.exists()


def test_saved_notification_keeps_its_recipient(superuser, alice):
    (notification,) = notifications.send(alice, "hi")
    response = client_for(superuser).get(f"{CHANGELIST_URL}{notification.pk}/change/")
    assert response.status_code == 200
    assert "recipient" not in response.context["adminform"].form.fields


def test_add_form_uses_autocomplete_for_users(superuser):
    html = client_for(superuser).get(CHANGELIST_URL + "add/").content.decode()
    assert 'data-field-name="recipient"' in html
    assert 'data-field-name="actor"' in html


# Benchmark ----------------------------------------------------------------


@pytest.mark.bench  # Run by `make bench`, not by `make test`.
@pytest.mark.django_db(transaction=True)
def test_benchmark_changelist_on_a_million_rows(superuser):
    """Time changelist pages over ADMIN_BENCH_ROWS notifications (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        pytest.skip("generate_series is PostgreSQL")
    from django.contrib.auth import get_user_model

    n_rows = int(os.environ.get("ADMIN_BENCH_ROWS", "1000000"))
    user_model = get_user_model()
    user_model.objects.bulk_create(user_model(username=f"u{i}", password="!") for i in range(1000))
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        # 1000 users x n/1000 cursors; every 3rd read, 4 categories, 5 levels.
        cursor.execute(
            f"""
            INSERT INTO {table} (recipient_id, cursor, title, message, level, url, category,
                data, target_object_id, created_at, read_at)
            SELECT u.id, s.n, 'Title ' || s.n, 'Message number ' || s.n || ' for ' || u.username,
                (ARRAY[10, 20, 25, 30, 40])[1 + (s.n %% 5)], '',
                (ARRAY['a', 'b', 'c', 'd'])[1 + (s.n %% 4)],
                '{{}}', '', now() - (s.n * interval '1 minute'),
                CASE WHEN s.n %% 3 = 0 THEN now() END
            FROM (SELECT id, username FROM auth_user WHERE username LIKE 'u%%') u
            CROSS JOIN generate_series(1, %s) AS s(n)
            """,
            [n_rows // 1000],
        )
        cursor.execute(f"ANALYZE {table}")
    client = client_for(superuser)
    pages = [
        "",
        "?read=no",
        "?category=b",
        "?level__exact=40",
        "?created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00",
        "?q=u17",
        "?q=number+12345",
        "?p=500",
    ]
    report = []
    for query in pages:
        client.get(CHANGELIST_URL + query)  # Warm up.
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                assert client.get(CHANGELIST_URL + query).status_code == 200
            times.append(time.perf_counter() - started)
        report.append(f"{query or '(none)'}: {sorted(times)[1] * 1000:.0f} ms, {len(queries)} q")
    print(f"\nchangelist over {Notification.objects.count()} rows:\n  " + "\n  ".join(report))


@pytest.fixture
def user_admin_unregistered():
    """The project does not register its user model in the admin."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    original = admin.site._registry.pop(user_model)
    try:
        yield
    finally:
        admin.site._registry[user_model] = original


@pytest.fixture
def user_admin_without_search():
    """The user model is registered with a ModelAdmin that has no search_fields."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    original = admin.site._registry[user_model]
    admin.site._registry[user_model] = admin.ModelAdmin(user_model, admin.site)
    try:
        yield
    finally:
        admin.site._registry[user_model] = original


def _check_ids() -> set[str]:
    from django.core import checks

    return {message.id for message in checks.run_checks()}


def test_user_admin_with_search_fields_gives_autocomplete_and_no_warning(db):
    from django.contrib import admin

    notification_admin = admin.site._registry[Notification]
    assert notification_admin.autocomplete_fields == ["recipient", "actor"]
    assert notification_admin.raw_id_fields == []
    assert "notifications.W102" not in _check_ids()


@pytest.mark.parametrize("fixture", ["user_admin_unregistered", "user_admin_without_search"])
def test_user_admin_without_autocomplete_falls_back_to_raw_ids_with_a_warning(
    request, fixture, superuser, alice
):
    from django.contrib import admin

    request.getfixturevalue(fixture)
    notification_admin = admin.site._registry[Notification]
    assert notification_admin.autocomplete_fields == []
    assert notification_admin.raw_id_fields == ["recipient", "actor"]
    ids = _check_ids()
    # Django's own admin.E039/E040 would stop check, migrate and runserver.
    assert not {"admin.E039", "admin.E040"} & ids
    assert "notifications.W102" in ids

    client = Client()
    client.force_login(superuser)
    add = client.get("/admin/notifications/notification/add/").content.decode()
    # A text input of primary keys (with a lookup link when the model is registered).
    assert re.search(r'<input type="text" name="recipient"[^>]*>', add)
    assert re.search(r'<input type="text" name="actor"[^>]*>', add)
    compose = client.get("/admin/notifications/notification/send/").content.decode()
    assert re.search(r'<input type="text" name="users"[^>]*>', compose)
    # The raw id input takes comma-separated primary keys and sends.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', compose)[1]
    response = client.post(
        "/admin/notifications/notification/send/",
        {
            "csrfmiddlewaretoken": token,
            "title": "T",
            "message": "Raw ids work",
            "level": "20",
            "url": "",
            "category": "",
            "audience": "users",
            "users": f"{alice.pk}",
            "_send": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Notification.objects.filter(recipient=alice, message="Raw ids work").exists()


def test_w102_message_names_the_model_and_the_fix(user_admin_unregistered, db):
    from django.core import checks

    [warning] = [m for m in checks.run_checks() if m.id == "notifications.W102"]
    assert warning.msg.startswith(
        "The user model auth.User is not registered in the default admin site"
    )
    assert 'search_fields = ["username"]' in warning.hint


def test_search_uses_the_user_models_login_field(db, settings):
    from django.contrib import admin

    assert admin.site._registry[Notification].search_fields[0] == "=recipient__username"
    assert "sender__username" in admin.site._registry[Broadcast].search_fields


# Inbox options ---------------------------------------------------------------


def test_compose_sets_expiry_pin_group_and_actions(sender, alice):
    import json

    actions = [
        {"label": "Open", "url": "/status/"},
        {"label": "Ack", "url": "/ack/", "method": "post"},
    ]
    response = client_for(sender).post(
        SEND_URL,
        compose(
            audience="users",
            users=[alice.pk],
            expires_at="2099-01-01T09:00",
            pinned="on",
            group_key="maintenance",
            actions=json.dumps(actions),
        ),
    )
    assert response.status_code == 302
    n = Notification.objects.get()
    assert (n.pinned, n.group_key, n.actions) == (True, "maintenance", actions)
    assert n.expires_at.year == 2099


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("actions", '[{"label": "x", "url": "javascript:1"}]', "must start with"),
        ("actions", "[1, 2, 3]", "at most 2"),
        ("expires_at", "2001-01-01T09:00", "in the future"),
    ],
)
def test_compose_refuses_bad_inbox_options(sender, alice, field, value, words):
    response = client_for(sender).post(
        SEND_URL, compose(audience="users", users=[alice.pk], **{field: value})
    )
    assert response.status_code == 200
    assert words in response.content.decode()
    assert not Notification.objects.exists()


def test_changelist_filters_archived_expired_pinned_and_shows_cleanup_counts(superuser, alice):
    import datetime

    from django.utils import timezone

    [a] = notifications.send(alice, "archived one")
    a.__class__.objects.filter(pk=a.pk).archive()
    notifications.send(alice, "expired one", expires_at=timezone.now() - datetime.timedelta(1))
    notifications.send(alice, "pinned one", pinned=True)
    client = client_for(superuser)
    for query, shown in [
        ("archived=yes", "archived one"),
        ("expired=yes", "expired one"),
        ("pinned__exact=1", "pinned one"),
    ]:
        html = client.get(f"{CHANGELIST_URL}?{query}").content.decode()
        assert shown in html
        assert sum(m in html for m in ("archived one", "expired one", "pinned one")) == 1
    html = client.get(CHANGELIST_URL).content.decode()
    assert "manage.py notifications_cleanup would delete: 1 expired." in html
