"""Retention: notifications_cleanup and notifications.retention."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import notifications
from notifications import retention
from notifications.models import Notification


def make_rows(user, count: int, **columns) -> None:
    """Insert ``count`` rows of ``user`` with SQL (fast, no push), cursors after the last."""
    q = connection.ops.quote_name
    start = Notification.objects.filter(recipient=user).count()
    names = {
        "title": "",
        "message": "old",
        "level": 20,
        "url": "",
        "category": "",
        "data": "{}",
        "target_object_id": "",
        "created_at": timezone.now(),
        "pinned": False,
        "group_key": "",
        "key": "",
        "actions": "[]",
        "image": "",
        **columns,
    }
    columns_sql = ", ".join(q(name) for name in names)
    if connection.vendor == "postgresql":
        series = "generate_series(1, %s) AS s(n)"
    else:
        series = (
            "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
            "SELECT n FROM s) AS s"
        )
    placeholders = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(Notification._meta.db_table)} "
            f"({q('recipient_id')}, {q('cursor')}, {columns_sql}) "
            f"SELECT %s, %s + n, {placeholders} FROM {series}",
            [user.pk, start, *names.values(), count],
        )


def ago(**delta) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**delta)


@pytest.mark.django_db
def test_dry_run_prints_counts_and_deletes_nothing(alice, capsys):
    make_rows(alice, 3, expires_at=ago(seconds=1))
    make_rows(alice, 2, read_at=ago(days=40))
    make_rows(alice, 1, archived_at=ago(days=10))
    make_rows(alice, 4)
    call_command(
        "notifications_cleanup", "--dry-run", "--read-older-than=30", "--archived-older-than=7"
    )
    assert capsys.readouterr().out.strip() == (
        "Would delete 3 expired, 2 read more than 30 days ago, 1 archived more than 7 days ago "
        "notification(s) (dry run)."
    )
    assert Notification.objects.count() == 10


@pytest.mark.django_db
def test_deletes_expired_always_and_old_read_or_archived_only_when_asked(alice, capsys):
    make_rows(alice, 3, expires_at=ago(seconds=1))
    make_rows(alice, 2, expires_at=timezone.now() + datetime.timedelta(hours=1))
    make_rows(alice, 2, read_at=ago(days=40))
    make_rows(alice, 2, read_at=ago(days=1))
    make_rows(alice, 1, archived_at=ago(days=10))
    call_command("notifications_cleanup")
    assert "Deleted 3 expired notification(s)" in capsys.readouterr().out
    assert Notification.objects.count() == 7
    call_command("notifications_cleanup", "--read-older-than=30", "--archived-older-than=7")
    assert Notification.objects.count() == 4


@pytest.mark.django_db
def test_settings_give_the_defaults(alice, settings):
    settings.NOTIFICATIONS = {"CLEANUP_READ_OLDER_THAN_DAYS": 30}
    make_rows(alice, 2, read_at=ago(days=40))
    assert retention.counts(retention.Policy.from_settings()) == {"expired": 0, "read": 2}


@pytest.mark.parametrize("bad", ["-1", "x", "1.5"])
def test_bad_days_are_a_clear_error(bad):
    with pytest.raises(CommandError, match="whole number"):
        call_command("notifications_cleanup", f"--read-older-than={bad}")


@pytest.mark.django_db(transaction=True)
def test_deleting_pushes_deleted_to_open_tabs(alice, listen):
    receive = listen(alice)
    [n] = notifications.send(alice, "old", expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert receive()["type"] == "notification.created"
    Notification.objects.filter(pk=n.pk).update(expires_at=ago(seconds=1))
    call_command("notifications_cleanup")
    assert receive() == {"type": "notification.deleted", "ids": [n.pk], "unread_count": 0}


def _queries(user, rows: int, batch: int) -> int:
    make_rows(user, rows, expires_at=ago(seconds=1))
    with CaptureQueriesContext(connection) as ctx:
        retention.delete(retention.Policy(), batch_size=batch)
    assert not Notification.objects.exists()
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_100_000_rows_go_in_batches_with_a_constant_query_count_per_batch(alice, capsys):
    one, two = _queries(alice, 1000, 1000), _queries(alice, 2000, 1000)
    per_batch = two - one
    make_rows(alice, 100_000, expires_at=ago(seconds=1))
    started = time.monotonic()
    with CaptureQueriesContext(connection) as ctx:
        done = retention.delete(retention.Policy(), batch_size=1000)
    seconds = time.monotonic() - started
    assert done == {"expired": 100_000}
    assert len(ctx.captured_queries) == one + 99 * per_batch
    with capsys.disabled():
        print(
            f"\n[cleanup] 100000 rows on {connection.vendor} in {seconds:.2f} s: "
            f"{100_000 / seconds:.0f} rows/s, {per_batch} queries per batch of 1000"
        )


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_split_the_work_without_error(alice):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    make_rows(alice, 20_000, read_at=ago(days=100))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    outputs: list[str] = []

    def run():
        import io

        out = io.StringIO()
        try:
            barrier.wait(timeout=10)
            call_command(
                "notifications_cleanup", "--read-older-than=30", "--batch-size=500", stdout=out
            )
            outputs.append(out.getvalue())
        except BaseException as exc:  # Reported by the assertion below.
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert not Notification.objects.exists()
    deleted = [int(out.split(" expired, ")[1].split(" read")[0]) for out in outputs]
    assert sum(deleted) == 20_000
