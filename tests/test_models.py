"""The Notification model: cursors, query API, wire format."""

import threading

import pytest
from django.db import close_old_connections, connection, transaction

import notifications
from notifications.models import Inbox, Notification


@pytest.mark.django_db
def test_orm_create_allocates_next_cursor(alice):
    notifications.send(alice, "first")
    n = Notification.objects.create(recipient=alice, message="from the ORM")
    assert n.cursor == 2
    assert Inbox.objects.get(user=alice).last_cursor == 2


@pytest.mark.django_db
def test_bulk_create_allocates_cursors_for_repeated_recipients(alice, bob):
    created = Notification.objects.bulk_create(
        [Notification(recipient=alice, message=str(i)) for i in range(3)]
        + [Notification(recipient=bob, message="b")]
    )
    assert [n.cursor for n in created] == [1, 2, 3, 1]


@pytest.mark.django_db
def test_chainable_query_api(alice, bob):
    notifications.send(alice, "1")
    notifications.send(alice, "2")
    notifications.send(bob, "3")
    assert alice.notifications.unread().count() == 2
    assert alice.notifications.mark_read() == 2
    assert alice.notifications.unread().count() == 0
    assert alice.notifications.read().count() == 2
    assert bob.notifications.unread().count() == 1
    assert [n.message for n in alice.notifications.after(1)] == ["2"]
    assert alice.notifications.mark_unread() == 2


@pytest.mark.django_db
def test_wire_format(alice, bob):
    [n] = notifications.warning(
        alice, "msg", title="T", url="/u/", category="billing", data={"k": [1]}, actor=bob
    )
    payload = n.as_dict()
    assert payload == {
        "id": n.pk,
        "cursor": 1,
        "title": "T",
        "message": "msg",
        "level": "warning",
        "level_number": 30,
        "url": "/u/",
        "category": "billing",
        "data": {"k": [1]},
        "actor": {"id": bob.pk, "name": "bob"},
        "target": None,
        "created_at": n.created_at.isoformat(),
        "read": False,
        "read_at": None,
        "seen": False,
        "archived_at": None,
        "snoozed_until": None,
        "expires_at": None,
        "pinned": False,
        "group_key": "",
        "actions": [],
        "image": "",
    }


@pytest.mark.django_db(transaction=True)
def test_out_of_order_commit_cannot_hide_the_earlier_notification(alice):
    """T1 creates N1 and holds its transaction; T2 creates N2 meanwhile.

    With an autoincrement id as cursor, N2 could commit first and a client that
    stored its cursor would never see N1. The inbox row lock makes T2 wait for
    T1, so cursors become visible in order and a cursor never skips a row.
    """
    t1_created = threading.Event()
    t1_may_commit = threading.Event()
    t2_done = threading.Event()
    errors = []

    def t1():
        try:
            with transaction.atomic():
                notifications.send(alice, "N1")
                t1_created.set()
                assert t1_may_commit.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    def t2():
        try:
            assert t1_created.wait(10)
            notifications.send(alice, "N2")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            t2_done.set()
            connection.close()

    threads = [threading.Thread(target=t1), threading.Thread(target=t2)]
    for t in threads:
        t.start()
    assert t1_created.wait(10)
    # While T1 holds the lock, T2 cannot commit N2 ahead of N1.
    assert not t2_done.wait(0.5)
    assert not Notification.objects.filter(recipient=alice).exists()
    t1_may_commit.set()
    for t in threads:
        t.join(20)
    assert not errors
    rows = list(alice.notifications.after(0).values_list("message", "cursor"))
    assert rows == [("N1", 1), ("N2", 2)]
