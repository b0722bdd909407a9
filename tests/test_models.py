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


# Inbox states ---------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """Move "now" for the app (every condition takes its time from timezone.now)."""
    import datetime

    from django.utils import timezone

    class Clock:
        now = timezone.now()

        def advance(self, **delta):
            self.now += datetime.timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def _visible_everywhere(user) -> dict:
    """What each reader shows: inbox list, badge count, socket state, sync and history."""
    from notifications.consumers import _after_sync
    from notifications.models import Inbox

    return {
        "active": list(user.notifications.active().values_list("message", flat=True)),
        "state_unread": Inbox.objects.state(user.pk)[1],
        "sync": [n["message"] for n in _after_sync(user.pk, 0, 10)["notifications"]],
    }


@pytest.mark.django_db
def test_expiry_hides_a_notification_everywhere_the_moment_it_passes(alice, clock):
    import datetime

    notifications.send(alice, "stays")
    notifications.send(alice, "goes", expires_at=clock.now + datetime.timedelta(minutes=5))
    assert _visible_everywhere(alice) == {
        "active": ["goes", "stays"],
        "state_unread": 2,
        "sync": ["stays", "goes"],
    }
    clock.advance(minutes=5)  # expires_at == now: expired.
    assert _visible_everywhere(alice) == {"active": ["stays"], "state_unread": 1, "sync": ["stays"]}
    assert list(alice.notifications.unexpired().values_list("message", flat=True)) == ["stays"]


@pytest.mark.django_db
def test_snooze_hides_then_resurfaces_at_its_time(alice, clock):
    import datetime

    [n] = notifications.send(alice, "later")
    assert alice.notifications.filter(pk=n.pk).snooze(clock.now + datetime.timedelta(hours=1))
    assert _visible_everywhere(alice)["active"] == []
    assert _visible_everywhere(alice)["state_unread"] == 0
    assert list(alice.notifications.snoozed()) == [n]
    clock.advance(hours=1)
    assert _visible_everywhere(alice) == {"active": ["later"], "state_unread": 1, "sync": ["later"]}


@pytest.mark.django_db
def test_snooze_refuses_a_naive_datetime(alice):
    import datetime

    notifications.send(alice, "x")
    with pytest.raises(ValueError, match="aware datetime"):
        alice.notifications.snooze(datetime.datetime(2030, 1, 1))


@pytest.mark.django_db
def test_archive_unarchive_and_active(alice):
    a, b = (notifications.send(alice, m)[0] for m in ("a", "b"))
    assert alice.notifications.filter(pk=a.pk).archive() == 1
    assert alice.notifications.filter(pk=a.pk).archive() == 0  # Already archived.
    assert list(alice.notifications.archived()) == [a]
    assert list(alice.notifications.active()) == [b]
    assert alice.notifications.unarchive() == 1
    assert set(alice.notifications.active()) == {a, b}


@pytest.mark.django_db
def test_reading_marks_seen_too_and_seen_is_separate(alice):
    a, b = (notifications.send(alice, m)[0] for m in ("a", "b"))
    assert alice.notifications.filter(pk=a.pk).mark_seen() == 1
    assert alice.notifications.unseen().get() == b
    assert alice.notifications.unread().count() == 2  # Seen is not read.
    alice.notifications.mark_read()
    assert alice.notifications.unseen().count() == 0
    a.refresh_from_db()
    first_seen = a.seen_at
    alice.notifications.mark_unread()
    alice.notifications.mark_read()
    a.refresh_from_db()
    assert a.seen_at == first_seen  # Reading again keeps the first time it was seen.


@pytest.mark.django_db
def test_pin_and_unpin_count_changes(alice):
    notifications.send(alice, "a")
    notifications.send(alice, "b", pinned=True)
    assert alice.notifications.pin() == 1
    assert alice.notifications.filter(pinned=True).count() == 2
    assert alice.notifications.unpin() == 2


@pytest.mark.django_db
def test_grouped_keeps_the_newest_member_of_each_group(alice):
    for i in range(3):
        notifications.send(alice, f"comment {i}", group_key="post-1")
    notifications.send(alice, "alone")
    notifications.send(alice, "other", group_key="post-2")
    shown = alice.notifications.active().grouped().order_by("-cursor")
    assert [n.message for n in shown] == ["other", "alone", "comment 2"]


@pytest.mark.django_db(transaction=True)
def test_state_changes_are_pushed_to_every_tab_with_one_frame_type_each(alice, listen):
    import datetime

    from django.utils import timezone

    receive = listen(alice)
    [n] = notifications.send(alice, "x")
    assert receive()["type"] == "notification.created"
    mine = alice.notifications.filter(pk=n.pk)
    until = timezone.now() + datetime.timedelta(hours=1)
    for change, kind, extra in [
        (mine.mark_seen, "notification.seen", "seen_at"),
        (mine.pin, "notification.pinned", None),
        (mine.unpin, "notification.unpinned", None),
        (mine.archive, "notification.archived", "archived_at"),
        (mine.unarchive, "notification.unarchived", None),
        (lambda: mine.snooze(until), "notification.snoozed", "snoozed_until"),
    ]:
        assert change() == 1
        frame = receive()
        assert (frame["type"], frame["ids"]) == (kind, [n.pk])
        if extra:
            assert frame[extra]
    mine.snooze(None)
    assert receive() == {
        "type": "notification.snoozed",
        "ids": [n.pk],
        "snoozed_until": None,
        "unread_count": 1,
    }
