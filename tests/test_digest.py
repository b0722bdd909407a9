"""Email digests: contents, preferences, unsubscribing, a real SMTP server, two runs at once."""

import email
import email.policy
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import notifications
from notifications import digest
from notifications.models import Notification, NotificationPreference
from notifications.preference_views import unsubscribe_token, unsubscribe_url
from tests.conftest import ROOT, database_url_for_children, free_port

CATEGORIES = {
    "billing": {"label": "Billing"},
    "social": {"label": "Social", "default": {"email": False}},
    "security": {"label": "Security", "critical": True},
}


@pytest.fixture(autouse=True)
def declared(settings):
    settings.NOTIFICATIONS = {
        "CATEGORIES": CATEGORIES,
        "EMAIL_DELAY_MINUTES": 10,
        "SITE_URL": "https://example.com",
    }


def old(notifications_, minutes=11):
    ids = [n.pk for n in notifications_]
    Notification.objects.filter(pk__in=ids).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )
    return notifications_


@pytest.fixture
def carol(make_user):
    return make_user("carol", email="carol@example.com")


# Contents ---------------------------------------------------------------------


@pytest.mark.django_db
def test_digest_lists_what_stayed_unread_past_the_delay(carol):
    old(notifications.send(carol, "Invoice 7 is due", title="Invoice", url="/inv/7/"))
    old(notifications.send(carol, "Paid", category="billing"))
    read = old(notifications.send(carol, "Already read"))
    Notification.objects.filter(pk=read[0].pk).update(read_at=timezone.now())
    notifications.send(carol, "Too recent")

    result = digest.send_digests()

    assert (result.emails, result.notifications) == (1, 2)
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    assert message.subject == "You have 2 unread notifications"
    assert "Invoice: Invoice 7 is due\n  https://example.com/inv/7/" in message.body
    assert "Paid" in message.body
    assert "Already read" not in message.body and "Too recent" not in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<strong>Invoice</strong>" in html and 'href="https://example.com/inv/7/"' in html
    link = "https://example.com" + unsubscribe_url(carol)
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in message.body and link in html


@pytest.mark.django_db
def test_seen_archived_snoozed_and_expired_ones_are_not_emailed(carol):
    now = timezone.now()
    seen, archived, snoozed, expired, woken = (
        old(notifications.send(carol, text))[0]
        for text in ("seen", "archived", "snoozed", "expired", "woken")
    )
    mine = Notification.objects.filter
    mine(pk=seen.pk).mark_seen()
    mine(pk=archived.pk).archive()
    mine(pk=snoozed.pk).snooze(now + timedelta(hours=1))
    mine(pk=expired.pk).update(expires_at=now - timedelta(seconds=1))
    mine(pk=woken.pk).update(snoozed_until=now - timedelta(seconds=1))  # Snooze is over.

    assert digest.send_digests().notifications == 1
    [message] = mail.outbox
    assert "woken" in message.body
    for text in ("seen", "archived", "snoozed", "expired"):
        assert f"{text}\n" not in message.body and f"{text}<" not in message.body


@pytest.mark.django_db
def test_html_digest_escapes_notification_text(carol):
    old(notifications.send(carol, "<script>alert(1)</script>"))
    digest.send_digests()
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>alert" not in html and "&lt;script&gt;" in html


@pytest.mark.django_db
def test_nothing_is_emailed_twice(carol):
    old(notifications.send(carol, "once"))
    assert digest.send_digests().emails == 1
    assert digest.send_digests().emails == 0
    old(notifications.send(carol, "a new one"))
    assert digest.send_digests().emails == 1
    assert "once" not in mail.outbox[1].body and "a new one" in mail.outbox[1].body


@pytest.mark.django_db
def test_one_digest_per_user_with_the_rest_counted(carol, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAIL_DIGEST_LIMIT": 2}
    for i in range(5):
        old(notifications.send(carol, f"note {i}"))
    digest.send_digests(batch_users=1)
    [message] = mail.outbox
    assert message.subject == "You have 5 unread notifications"
    assert "note 4" in message.body and "note 3" in message.body and "note 0" not in message.body
    assert "... and 3 more." in message.body
    assert not digest.pending().exists()


@pytest.mark.django_db
def test_email_preferences_are_honoured_and_critical_always_sent(carol, make_user):
    NotificationPreference.objects.create(
        user=carol, category="billing", channel="email", enabled=False
    )
    old(notifications.send(carol, "muted billing", category="billing"))
    old(notifications.send(carol, "social is off by default", category="social"))
    old(notifications.send(carol, "new login", category="security"))
    result = digest.send_digests()
    [message] = mail.outbox
    assert "new login" in message.body
    assert "muted billing" not in message.body and "social" not in message.body
    assert result.skipped == 2
    assert not digest.pending().exists()  # Skipped ones are handled, not retried.


@pytest.mark.django_db
def test_users_without_address_or_inactive_get_nothing(make_user):
    nobody = make_user("nobody")
    gone = make_user("gone", email="gone@example.com", is_active=False)
    old(notifications.send([nobody, gone], "hi"))
    assert digest.send_digests().emails == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_failed_send_releases_the_rows_for_the_next_run(carol, settings):
    old(notifications.send(carol, "retry me"))

    class Broken(mail.backends.locmem.EmailBackend):
        def send_messages(self, messages):
            raise OSError("SMTP down")

    result = digest.send_digests(connection=Broken())
    assert result.failed == 1 and result.emails == 0
    assert digest.pending().count() == 1
    assert digest.send_digests().emails == 1


@pytest.mark.django_db
def test_templates_can_be_overridden(carol, settings, tmp_path):
    folder = tmp_path / "notifications" / "email"
    folder.mkdir(parents=True)
    (folder / "digest_subject.txt").write_text("Project digest: {{ count }}")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    old(notifications.send(carol, "hi"))
    digest.send_digests()
    assert mail.outbox[0].subject == "Project digest: 1"


@pytest.mark.django_db
def test_command_reports_what_it_did(carol, capsys):
    old(notifications.send(carol, "hi"))
    call_command("notifications_email_digest")
    assert "Sent 1 digest(s) covering 1 notification(s)" in capsys.readouterr().out


# Unsubscribing --------------------------------------------------------------------


@pytest.mark.django_db
def test_unsubscribe_get_changes_nothing_and_post_works_logged_out(carol):
    url = unsubscribe_url(carol)
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(url)
    assert page.status_code == 200 and b'method="post"' in page.content
    assert not NotificationPreference.objects.exists()  # Mail scanners fetch links.
    done = anonymous.post(url)
    assert done.status_code == 200 and b"data-notifications-unsubscribed" in done.content
    assert set(
        NotificationPreference.objects.filter(user=carol).values_list("category", "enabled")
    ) == {("billing", False), ("social", False), ("", False)}
    old(notifications.send(carol, "no email any more"))
    old(notifications.send(carol, "still emailed", category="security"))
    digest.send_digests()
    assert "still emailed" in mail.outbox[0].body
    assert "no email any more" not in mail.outbox[0].body


@pytest.mark.django_db
def test_rfc8058_one_click_post(carol):
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_url(carol),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert NotificationPreference.objects.filter(user=carol, enabled=False).exists()


@pytest.mark.django_db
def test_unsubscribe_link_cannot_be_forged(carol, make_user):
    dave = make_user("dave", email="dave@example.com")
    token = unsubscribe_token(carol)
    signature = token.split(":", 1)[1]
    forged = [
        f"{dave.pk}:{signature}",  # carol's signature on dave's id
        f"{dave.pk}",  # no signature
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # tampered signature
    ]
    for bad in forged:
        url = reverse("notifications:unsubscribe", args=[bad])
        assert Client().post(url).status_code == 404, bad
    assert not NotificationPreference.objects.exists()


@pytest.mark.django_db
def test_unsubscribe_link_of_a_deleted_user_is_404(carol):
    url = unsubscribe_url(carol)
    carol.delete()
    assert Client().post(url).status_code == 404


# A real SMTP server -------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append((envelope.rcpt_tos, message))
            self.arrived.notify_all()
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def body_text(message):
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.django_db
def test_digest_over_real_smtp(carol, smtp, settings):
    port, inbox = smtp
    if hasattr(settings, "MAILERS"):  # Django 6.1: the EMAIL_* settings work without it.
        del settings.MAILERS
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    old(notifications.send(carol, "Über SMTP", title="Real"))
    assert digest.send_digests().emails == 1
    [(recipients, message)] = inbox.messages
    assert recipients == ["carol@example.com"]
    assert (
        str(message["List-Unsubscribe"])
        .strip()
        .startswith("<https://example.com/notifications/unsubscribe/")
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Real: Über SMTP" in body_text(message)
    assert "<strong>Real</strong>" in message.get_body(preferencelist=("html",)).get_content()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_never_email_a_notification_twice(make_user, smtp):
    port, inbox = smtp
    users = [make_user(f"u{i:03}", email=f"u{i:03}@example.com") for i in range(40)]
    for round_ in range(3):
        old([n for u in users for n in notifications.send(u, f"{u.username}-n{round_}")])
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_children(),
        "DJANGO_SETTINGS_MODULE": "tests.smtp_settings",
        "TEST_SMTP_PORT": str(port),
    }
    command = [sys.executable, "manage.py", "notifications_email_digest", "--batch", "3"]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=90) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()
    listed = []
    for _recipients, message in inbox.messages:
        listed += [line[2:] for line in body_text(message).splitlines() if line.startswith("* ")]
    expected = sorted(f"{u.username}-n{r}" for u in users for r in range(3))
    assert sorted(listed) == expected  # Each notification exactly once.
    assert sorted(r for rcpt, _m in inbox.messages for r in rcpt) == sorted(
        u.email for u in users
    )  # One digest per user.
    print("runs:", [out.decode().strip() for out, _err in outputs])
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


# The digest's index (0006_digest_index) -----------------------------------------


def _fill_for_digest(users, per_user: int, pending_every: int) -> None:
    """``per_user`` old notifications per user; only every ``pending_every``-th is pending.

    The others are what a steady state holds: read (so seen), seen by an inbox, or emailed.
    """
    from django.db import connection

    table = Notification._meta.db_table
    old = timezone.now() - timedelta(days=1)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (recipient_id, cursor, title, message, level, url, category,
                    data, target_object_id, created_at, read_at, seen_at, emailed_at)
                SELECT u.id, s.n, '', 'Message ' || s.n, 20, '', '', '{{}}', '',
                    %(old)s - s.n * interval '1 second',
                    CASE WHEN s.n %% 3 = 0 THEN %(old)s END,
                    CASE WHEN s.n %% 3 <> 2 THEN %(old)s END,
                    CASE WHEN s.n %% 3 = 2 AND s.n %% %(every)s <> 2 THEN %(old)s END
                FROM unnest(%(users)s::bigint[]) AS u(id)
                CROSS JOIN generate_series(1, %(per_user)s) AS s(n)
                """,
                {"old": old, "every": pending_every, "users": users, "per_user": per_user},
            )
            cursor.execute(f"ANALYZE {table}")
        return
    rows = []
    for user in users:
        for n in range(1, per_user + 1):
            rows.append(
                Notification(
                    recipient_id=user,
                    cursor=n,
                    message=f"Message {n}",
                    created_at=old - timedelta(seconds=n),
                    read_at=old if n % 3 == 0 else None,
                    seen_at=old if n % 3 != 2 else None,
                    emailed_at=old if n % 3 == 2 and n % pending_every != 2 else None,
                )
            )
    Notification.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _claim_queries(now):
    """The two queries of a digest run's claim: the next users, then their rows."""
    base = digest.pending(now)
    users = base.order_by("recipient_id").values_list("recipient_id", flat=True).distinct()
    return users[: digest.BATCH_USERS], base.order_by("recipient_id", "-cursor")


def test_pending_is_served_by_the_digest_index(make_user):
    users = [make_user(f"d{i}").pk for i in range(20)]
    _fill_for_digest(users, per_user=1500, pending_every=300)
    now = timezone.now()
    first, _ = _claim_queries(now)
    assert len(list(first)) == 20  # every user has some pending
    # The query across all users; without the index it reads every unread row.
    # (The rows of a batch of users are a per-user lookup: the recipient indexes serve it.)
    plan = first.explain()
    assert "notifications_digest" in plan, plan


@pytest.mark.bench  # Run by hand or by `make bench`, not by `make test`; prints, asserts no timing.
@pytest.mark.django_db(transaction=True)
def test_benchmark_digest_claim_on_a_million_rows(make_user):
    """EXPLAIN ANALYZE the claim's first query over ~1 M rows, without and with the index."""
    import time

    from django.contrib.auth import get_user_model
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("generate_series is PostgreSQL")
    n_users = int(os.environ.get("DIGEST_BENCH_USERS", "1000"))
    per_user = int(os.environ.get("DIGEST_BENCH_PER_USER", "1000"))
    user_model = get_user_model()
    user_model.objects.bulk_create(
        user_model(username=f"b{i}", password="!") for i in range(n_users)
    )
    users = list(user_model.objects.filter(username__startswith="b").values_list("pk", flat=True))
    started = time.perf_counter()
    _fill_for_digest(users, per_user=per_user, pending_every=500)
    print(
        f"\n[digest bench] {Notification.objects.count()} rows, "
        f"{digest.pending().count()} pending, filled in {time.perf_counter() - started:.1f} s"
    )
    first, rows = _claim_queries(timezone.now())
    batch = rows.filter(recipient_id__in=users[: digest.BATCH_USERS])

    def measure(label: str) -> None:
        for name, query in (("next users", first), ("their rows", batch)):
            list(query.all())  # Warm the cache (all(): a fresh, unevaluated copy).
            times = []
            for _ in range(3):
                t = time.perf_counter()
                list(query.all())
                times.append(time.perf_counter() - t)
            plan = query.explain(analyze=True).splitlines()
            scan = next(line.strip() for line in plan if "Scan" in line)
            print(f"  {label}, {name}: {sorted(times)[1] * 1000:.1f} ms; {plan[-1]}; {scan}")

    index = next(i for i in Notification._meta.indexes if i.name == "notifications_digest")
    with connection.schema_editor() as editor:
        editor.remove_index(Notification, index)
    measure("without notifications_digest")
    with connection.schema_editor() as editor:
        editor.add_index(Notification, index)  # What 0006_digest_index creates.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Notification._meta.db_table}")
    measure("with notifications_digest")
