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
