"""notifications.send() and the level shortcuts."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

import notifications
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_send_to_one_user_returns_saved_notification(alice, bob):
    [n] = notifications.send(alice, "Your export is ready.", title="Export", url="/x/", actor=bob)
    n.refresh_from_db()
    assert (n.recipient, n.title, n.message, n.url, n.actor) == (
        alice,
        "Export",
        "Your export is ready.",
        "/x/",
        bob,
    )
    assert n.level == notifications.INFO
    assert n.cursor == 1
    assert n.read_at is None


def test_send_to_list_dedupes_users(alice, bob):
    created = notifications.send([alice, bob, alice], "hi")
    assert sorted(n.recipient_id for n in created) == sorted([alice.pk, bob.pk])


def test_send_to_queryset(make_user):
    users = [make_user() for _ in range(3)]
    created = notifications.send(
        get_user_model().objects.filter(pk__in=[u.pk for u in users]), "hi"
    )
    assert {n.recipient_id for n in created} == {u.pk for u in users}


def test_send_to_group_reaches_active_members_only(make_user):
    group = Group.objects.create(name="staff")
    active, inactive, outsider = make_user(), make_user(is_active=False), make_user()
    group.user_set.add(active, inactive)
    created = notifications.send(group, "deploy at 18:00")
    assert [n.recipient_id for n in created] == [active.pk]
    assert not Notification.objects.filter(recipient=outsider).exists()


def test_user_in_two_groups_gets_one_notification(make_user):
    a, b = Group.objects.create(name="a"), Group.objects.create(name="b")
    user = make_user()
    user.groups.add(a, b)
    created = notifications.send(Group.objects.filter(name__in=["a", "b"]), "hi")
    assert [n.recipient_id for n in created] == [user.pk]


def test_cursors_increase_per_user(alice, bob):
    notifications.send(alice, "1")
    notifications.send([alice, bob], "2")
    notifications.send(alice, "3")
    assert list(
        Notification.objects.filter(recipient=alice)
        .order_by("cursor")
        .values_list("cursor", "message")
    ) == [
        (1, "1"),
        (2, "2"),
        (3, "3"),
    ]
    assert list(Notification.objects.filter(recipient=bob).values_list("cursor", flat=True)) == [1]


def _queries_for(n_users, make_user):
    group = Group.objects.create(name=f"g{n_users}")
    group.user_set.add(*[make_user() for _ in range(n_users)])
    with CaptureQueriesContext(connection) as ctx:
        created = notifications.send(group, "hi")
    assert len(created) == n_users
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_recipients(make_user):
    # 60 users fit one INSERT even under SQLite's 999-parameter limit.
    assert _queries_for(2, make_user) == _queries_for(60, make_user)


def test_query_count_for_one_user_is_small(alice, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        notifications.send(alice, "hi")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "/\\evil.example",
        "ftp://example.com/",
        "https://",
        "relative/path",
    ],
)
def test_dangerous_urls_are_refused_and_nothing_is_saved(alice, url):
    with pytest.raises(ValidationError) as excinfo:
        notifications.send(alice, "hi", url=url)
    assert "url" in excinfo.value.message_dict
    assert not Notification.objects.exists()


@pytest.mark.parametrize("url", ["https://example.com/a?b=1", "http://localhost:8000/", "/inbox/"])
def test_safe_urls_are_accepted(alice, url):
    [n] = notifications.send(alice, "hi", url=url)
    assert n.url == url


def test_overlong_fields_are_refused(alice):
    with pytest.raises(ValidationError) as excinfo:
        notifications.send(alice, "x" * 2001, title="t" * 201)
    assert set(excinfo.value.message_dict) == {"message", "title"}


def test_unserialisable_or_huge_data_is_refused(alice):
    with pytest.raises(ValidationError, match="valid JSON"):
        notifications.send(alice, "hi", data={"x": object()})
    with pytest.raises(ValidationError, match="MAX_DATA_BYTES"):
        notifications.send(alice, "hi", data={"x": "y" * 9000})


def test_level_accepts_names_and_numbers(alice):
    assert notifications.send(alice, "a", level="warning")[0].level == notifications.WARNING
    assert notifications.send(alice, "b", level=40)[0].level_tag == "error"
    with pytest.raises(ValueError, match="Unknown notification level 'loud'"):
        notifications.send(alice, "c", level="loud")
    with pytest.raises(ValueError, match="Unknown notification level 99"):
        notifications.send(alice, "c", level=99)


def test_shortcuts_set_level(alice):
    assert notifications.success(alice, "ok")[0].level == notifications.SUCCESS
    assert notifications.error(alice, "no")[0].level_tag == "error"


@pytest.mark.parametrize("bad", [AnonymousUser(), "alice", 42, None])
def test_bad_recipients_raise_clear_errors(bad):
    with pytest.raises(TypeError, match=r"anonymous|recipient must be"):
        notifications.send(bad, "hi")


def test_unsaved_user_is_refused():
    with pytest.raises(ValueError, match=r"unsaved User"):
        notifications.send(get_user_model()(username="ghost"), "hi")


def test_target_is_stored_as_generic_reference(alice, bob):
    [n] = notifications.send(alice, "bob did a thing", target=bob)
    assert n.as_dict()["target"] == {"type": "auth.user", "id": str(bob.pk)}
    assert Notification.objects.get(pk=n.pk).target == bob


def test_send_to_nobody_creates_nothing():
    assert notifications.send([], "hi") == []


# Inbox options: idempotency key, group, expiry, pin, actions, image ------------


def test_repeated_key_returns_the_existing_row_and_pushes_nothing(alice, bob):
    from notifications.testing import capture_notifications

    with capture_notifications() as outbox:
        [first] = notifications.send(alice, "Invoice 7 is due", key="invoice-7-due")
        again = notifications.send([alice, bob], "Invoice 7 is due (again)", key="invoice-7-due")
    assert again[0].pk == first.pk
    assert again[0].message == "Invoice 7 is due"  # The existing row, unchanged.
    assert again[1].recipient_id == bob.pk and again[1].pk != first.pk
    assert [n.recipient_id for n in outbox] == [alice.pk, bob.pk]  # Nothing new for alice.
    assert alice.notifications.count() == 1


def test_keyed_send_query_count_stays_constant(make_user):
    users = [make_user() for _ in range(30)]
    notifications.send(users[:5], "x", key="k")  # Five of them have it already.
    with CaptureQueriesContext(connection) as few:
        notifications.send(users[:10], "x", key="k")
    with CaptureQueriesContext(connection) as many:
        notifications.send(users, "x", key="k")
    assert len(few.captured_queries) == len(many.captured_queries)
    assert Notification.objects.filter(key="k").count() == 30


def test_an_empty_key_is_no_key(alice):
    notifications.send(alice, "a", key="")
    notifications.send(alice, "b", key="")
    assert alice.notifications.count() == 2


def test_inbox_options_are_stored_and_in_the_wire_format(alice, bob, settings):
    import datetime

    from django.utils import timezone

    settings.NOTIFICATIONS = {"ACTOR_IMAGE": "tests.test_api.avatar_of"}
    expires = timezone.now() + datetime.timedelta(days=1)
    actions = [
        {"label": "Approve", "url": "/approve/7/", "method": "post"},
        {"label": "View", "url": "https://example.com/7"},
    ]
    [n] = notifications.send(
        alice,
        "Bob asks for approval",
        actor=bob,
        group_key="approvals",
        expires_at=expires,
        pinned=True,
        actions=actions,
    )
    n.refresh_from_db()
    payload = n.as_dict()
    assert payload["actions"] == actions
    assert payload["image"] == f"/avatars/{bob.pk}.png"
    assert (payload["pinned"], payload["group_key"]) == (True, "approvals")
    assert payload["expires_at"] == expires.isoformat()


def avatar_of(user) -> str:
    return f"/avatars/{user.pk}.png"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"actions": [{"label": "a", "url": "/a"}] * 3}, "actions", "at most 2 actions"),
        ({"actions": [{"label": "a", "url": "javascript:alert(1)"}]}, "actions", "url"),
        ({"actions": [{"label": "", "url": "/a"}]}, "actions", "label"),
        ({"actions": [{"label": "a", "url": "/a", "method": "delete"}]}, "actions", "'post'"),
        ({"actions": [{"label": "a", "url": "/a", "onclick": "x"}]}, "actions", "onclick"),
        ({"actions": {"label": "a"}}, "actions", "must be a list"),
        ({"image": "javascript:alert(1)"}, "image", "must start with"),
        ({"group_key": "x" * 201}, "group_key", "at most 200"),
        ({"key": "k\x00"}, "key", "NUL"),
    ],
)
def test_bad_inbox_options_name_the_field_and_limit(alice, kwargs, field, words):
    with pytest.raises(ValidationError) as excinfo:
        notifications.send(alice, "x", **kwargs)
    assert field in excinfo.value.message_dict
    assert words in " ".join(excinfo.value.message_dict[field])
    assert not Notification.objects.exists()


def test_naive_expiry_is_refused(alice):
    import datetime

    with pytest.raises(ValidationError) as excinfo:
        notifications.send(alice, "x", expires_at=datetime.datetime(2030, 1, 1))
    assert "aware" in excinfo.value.message_dict["expires_at"][0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_with_one_key_make_one_row_and_one_frame(alice, listen):
    """8 threads send the same key at once: one row, one frame, all get that row back."""
    import threading

    from django.db import connections

    if connection.vendor != "postgresql":
        pytest.skip("the race needs concurrent writers: PostgreSQL")
    receive = listen(alice)
    barrier = threading.Barrier(8)
    results: list = []
    errors: list = []

    def sender():
        try:
            barrier.wait(timeout=10)
            results.append(notifications.send(alice, "once", key="welcome")[0].pk)
        except Exception as exc:  # Reported by the assertion below.
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Notification.objects.filter(recipient=alice, key="welcome").count() == 1
    only = Notification.objects.get(recipient=alice, key="welcome")
    assert results == [only.pk] * 8
    frame = receive()
    assert (frame["type"], frame["notification"]["id"]) == ("notification.created", only.pk)
    # The next frame is this marker: no second frame for the key came between.
    [marker] = notifications.send(alice, "marker")
    assert receive()["notification"]["id"] == marker.pk
