"""The bulk insert behind send(): statements, cursors, returned rows (notifications/inserts.py)."""

import pytest
from django.db import connection

import notifications
from notifications import inserts
from notifications.models import Inbox, Notification

pytestmark = pytest.mark.django_db


def statements_for_one_user() -> int:
    return 1 if connection.vendor == "postgresql" else 2


def test_send_to_an_offline_user_writes_rows_and_cursor_in_one_statement_on_postgresql(
    alice, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """Issue 8: one-user send() in a constant, small number of statements (one on PostgreSQL).

    Nobody is online, so after commit nothing is counted or pushed.
    """
    assert inserts.supported(connection.alias)
    with (
        django_capture_on_commit_callbacks(execute=True),
        django_assert_num_queries(statements_for_one_user()),
    ):
        [n] = notifications.send(alice, "hello")
    assert (n.cursor, Inbox.objects.get(user=alice).last_cursor) == (1, 1)


def test_send_to_many_is_as_many_statements_as_to_one(
    make_user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    users = [make_user() for _ in range(300)]
    everyone = type(users[0]).objects.filter(pk__in=[u.pk for u in users])
    # One more: resolving the QuerySet to primary keys.
    with (
        django_capture_on_commit_callbacks(execute=True),
        django_assert_num_queries(statements_for_one_user() + 1),
    ):
        created = notifications.send(everyone, "to all")
    assert len(created) == 300
    assert {n.cursor for n in created} == {1}
    assert Notification.objects.count() == 300


def test_copies_carry_every_field_and_their_own_id_and_cursor(alice, bob):
    notifications.send(alice, "first")
    created = notifications.send(
        [bob, alice], "hi", title="T", level="warning", url="/x/", data={"k": [1]}, actor=bob
    )
    assert [n.recipient_id for n in created] == [bob.pk, alice.pk]  # The order given.
    for n in created:
        stored = Notification.objects.get(pk=n.pk)
        assert stored.as_dict() == n.as_dict()
        assert (stored.title, stored.url, stored.data, stored.actor_id) == (
            "T",
            "/x/",
            {"k": [1]},
            bob.pk,
        )
    assert {n.recipient_id: n.cursor for n in created} == {bob.pk: 1, alice.pk: 2}


def test_bulk_create_uses_the_one_statement_cursor_upsert(alice, django_assert_num_queries):
    """The portable path (bulk_create, hq import) allocates cursors in one statement too."""
    with django_assert_num_queries(2):  # cursors, rows
        Notification.objects.bulk_create(
            [Notification(recipient=alice, message=str(i)) for i in range(5)]
        )
    assert sorted(Notification.objects.values_list("cursor", flat=True)) == [1, 2, 3, 4, 5]
