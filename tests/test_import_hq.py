"""import_notifications_hq: a django-notifications-hq table becomes our notifications."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection, connections, models
from django.utils import timezone

import notifications
from notifications import Level
from notifications.models import Notification
from notifications.testing import capture_notifications

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = "hq_notification"


class HqNotification(models.Model):
    """The columns of django-notifications-hq's table, under the name users rename it to."""

    # Nullable text columns: hq's schema, reproduced as it is.

    level = models.CharField(max_length=20, default="info")
    recipient_id = models.IntegerField()
    unread = models.BooleanField(default=True)
    actor_content_type_id = models.IntegerField()
    actor_object_id = models.CharField(max_length=255)
    verb = models.CharField(max_length=255)
    description = models.TextField(null=True)  # noqa: DJ001
    target_content_type_id = models.IntegerField(null=True)
    target_object_id = models.CharField(max_length=255, null=True)  # noqa: DJ001
    action_object_content_type_id = models.IntegerField(null=True)
    action_object_object_id = models.CharField(max_length=255, null=True)  # noqa: DJ001
    timestamp = models.DateTimeField(default=timezone.now)
    public = models.BooleanField(default=True)
    deleted = models.BooleanField(default=False)
    emailed = models.BooleanField(default=False)
    data = models.TextField(null=True)  # noqa: DJ001

    class Meta:
        app_label = "hq_fixture"
        db_table = TABLE

    def __str__(self) -> str:
        return self.verb


@pytest.fixture
def hq_table(transactional_db):
    with connection.schema_editor() as editor:
        editor.create_model(HqNotification)
    yield HqNotification
    with connection.schema_editor() as editor:
        editor.delete_model(HqNotification)


def hq_row(actor, recipient, verb, **fields) -> HqNotification:
    ct = ContentType.objects.get_for_model(actor)
    return HqNotification.objects.create(
        actor_content_type_id=ct.pk,
        actor_object_id=str(actor.pk),
        recipient_id=getattr(recipient, "pk", recipient),
        verb=verb,
        **fields,
    )


def ref(obj) -> dict:
    ct = ContentType.objects.get_for_model(obj)
    return {"content_type_id": ct.pk, "object_id": str(obj.pk)}


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_notifications_hq", *args, stdout=out)
    return out.getvalue()


def test_rows_are_mapped_in_hq_order_with_cursors(hq_table, alice, bob):
    post = Group.objects.create(name="Post 3")
    comment = Group.objects.create(name="Comment 7")
    t1 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    t2 = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    first = hq_row(
        alice,
        bob,
        "commented on",
        description="Nice post!",
        target_content_type_id=ref(post)["content_type_id"],
        target_object_id=str(post.pk),
        unread=False,
        timestamp=t1,
        level="success",
        data='{"comment": 7}',
    )
    second = hq_row(
        alice,
        bob,
        "posted",
        action_object_content_type_id=ref(comment)["content_type_id"],
        action_object_object_id=str(comment.pk),
        target_content_type_id=ref(post)["content_type_id"],
        target_object_id=str(post.pk),
        timestamp=t2,
        public=False,
    )

    report = run("--table", TABLE)

    assert "Read 2 row(s) from 'hq_notification' (database 'default')." in report
    assert "Imported 2 notification(s) for 1 user(s); nothing was pushed." in report
    a, b = Notification.objects.filter(recipient=bob).order_by("cursor")
    assert (a.cursor, b.cursor) == (1, 2)
    assert (a.title, a.message) == ("alice commented on Post 3", "Nice post!")
    assert (a.category, a.level, a.actor, a.target) == ("commented on", Level.SUCCESS, alice, post)
    assert (a.created_at, a.read_at) == (t1, t1)
    assert a.data == {
        "comment": 7,
        "hq": {"id": first.pk, "verb": "commented on", "public": True, "emailed": False},
    }
    assert (b.title, b.message) == ("", "alice posted Comment 7 on Post 3")
    assert (b.created_at, b.read_at, b.level) == (t2, None, Level.INFO)
    assert b.data["hq"]["action_object"] == {"type": "auth.group", "id": str(comment.pk)}
    assert b.data["hq"]["id"] == second.pk and b.data["hq"]["public"] is False
    assert list(bob.notifications.unread()) == [b]


def test_import_pushes_nothing_and_sends_no_signal(hq_table, alice, bob):
    hq_row(alice, bob, "liked")
    with capture_notifications() as outbox:
        run("--table", TABLE)
        assert Notification.objects.count() == 1
        notifications.send(bob, "A new one")  # The control: a real send is captured.
    assert [n.message for n in outbox] == ["A new one"]
    # Cursors continue after the imported row.
    assert list(bob.notifications.order_by("cursor").values_list("cursor", flat=True)) == [1, 2]


def test_skipped_rows_are_reported(hq_table, alice, bob):
    hq_row(alice, bob, "kept")
    hq_row(alice, bob, "removed", deleted=True)
    hq_row(alice, 987654, "orphan")

    report = run("--table", TABLE)

    assert "Imported 1 notification(s)" in report
    assert "Skipped 1: deleted in hq." in report
    assert "Skipped 1: recipient not found." in report
    assert list(Notification.objects.values_list("category", flat=True)) == ["kept"]


def test_include_deleted(hq_table, alice, bob):
    hq_row(alice, bob, "removed", deleted=True)
    assert "Imported 1" in run("--table", TABLE, "--include-deleted")


def test_dry_run_reports_and_writes_nothing(hq_table, alice, bob):
    hq_row(alice, bob, "one")
    hq_row(alice, bob, "two")
    report = run("--table", TABLE, "--dry-run")
    assert "Would import 2 notification(s) for 1 user(s) (dry run: nothing written)." in report
    assert Notification.objects.count() == 0


def test_running_again_imports_only_new_rows(hq_table, alice, bob):
    hq_row(alice, bob, "one")
    run("--table", TABLE, "--batch-size", "1")
    hq_row(alice, bob, "two")
    report = run("--table", TABLE, "--batch-size", "1")
    assert "Imported 1 notification(s)" in report
    assert "Skipped 1: already imported." in report
    assert sorted(Notification.objects.values_list("category", flat=True)) == ["one", "two"]


def test_non_user_actor_is_named_and_kept_in_data(hq_table, bob):
    robot = Group.objects.create(name="CI robot")
    hq_row(robot, bob, "failed the build")
    run("--table", TABLE)
    n = Notification.objects.get()
    assert n.actor is None
    assert n.message == "CI robot failed the build"
    assert n.data["hq"]["actor"] == {"type": "auth.group", "id": str(robot.pk)}


def test_our_own_table_is_refused_with_the_fix(hq_table):
    with pytest.raises(CommandError, match=r"this app's own table.*rename it"):
        run("--table", Notification._meta.db_table)


def test_missing_table_is_explained(transactional_db):
    with pytest.raises(CommandError, match=r"No table 'nope' in database 'default'.*--table"):
        run("--table", "nope")


def test_unknown_database_alias_is_an_error(transactional_db):
    with pytest.raises(CommandError, match=r"--database 'legacy' is not in settings.DATABASES"):
        run("--database", "legacy")


@pytest.fixture
def legacy_database(tmp_path):
    """A second database alias, 'legacy': an SQLite copy of the old hq project."""
    path = tmp_path / "legacy.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE django_content_type (id integer PRIMARY KEY, app_label varchar(100),
                                              model varchar(100));
            INSERT INTO django_content_type VALUES (501, 'auth', 'user'), (502, 'auth', 'group');
            CREATE TABLE notifications_notification (
                id integer PRIMARY KEY, level varchar(20), recipient_id integer, unread bool,
                actor_content_type_id integer, actor_object_id varchar(255), verb varchar(255),
                description text, target_content_type_id integer, target_object_id varchar(255),
                action_object_content_type_id integer, action_object_object_id varchar(255),
                timestamp datetime, public bool, deleted bool, emailed bool, data text);
            """
        )
    legacy = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    connections.settings["legacy"] = connections.configure_settings(
        {"default": connections.settings["default"], "legacy": legacy}
    )["legacy"]
    # Connect before the test runs: Django's test case refuses to open a
    # connection to an alias it was not told about, but uses an open one.
    connections["legacy"].connect()
    try:
        yield path
    finally:
        connections["legacy"].close()
        del connections.settings["legacy"]
        del connections["legacy"]


def test_reads_from_another_database_and_maps_its_content_types(legacy_database, alice, bob):
    post = Group.objects.create(name="Post 3")
    with sqlite3.connect(legacy_database) as db:
        db.execute(
            "INSERT INTO notifications_notification VALUES "
            "(41, 'warning', ?, 1, 501, ?, 'mentioned you in', NULL, 502, ?, NULL, NULL, "
            "'2023-05-06 07:08:09', 1, 0, 1, NULL)",
            (bob.pk, str(alice.pk), str(post.pk)),
        )

    report = run("--database", "legacy")

    assert "Read 1 row(s) from 'notifications_notification' (database 'legacy')." in report
    n = Notification.objects.get()
    assert (n.recipient, n.actor, n.target) == (bob, alice, post)
    assert n.message == "alice mentioned you in Post 3"
    assert n.level == Level.WARNING
    assert n.created_at == datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert n.read_at is None
    assert n.data == {"hq": {"id": 41, "verb": "mentioned you in", "public": True, "emailed": True}}
