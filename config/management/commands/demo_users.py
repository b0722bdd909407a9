"""Create the demo accounts (idempotent), give each an example of every level, and print them.

Also the inbox features: a burst of comments grouped into one entry, a pinned
notice, one that expires in a few minutes, and one with action buttons (its
"Approve" POSTs with the CSRF token). Idempotency keys make a re-run add
nothing.
"""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.utils import timezone

import notifications

ACCOUNTS = [
    # username, password, is_staff/superuser
    ("admin", "admin", True),
    ("alice", "alice", False),
    ("bob", "bob", False),
]

#: One of each level, oldest first, so that a first visit has something to look at.
EXAMPLES = [
    ("debug", "Cache warmed", "The search index was rebuilt in 2.1 s.", ""),
    (
        "info",
        "Welcome!",
        "This is your inbox: new notifications pop up here the moment they are sent.",
        "",
    ),
    (
        "success",
        "Invoice #42 paid",
        "Payment of €120.00 received from ACME Ltd.",
        "/notifications/",
    ),
    (
        "warning",
        "Storage almost full",
        "You have used 92 % of your 10 GB. Delete old exports to free space.",
        "",
    ),
    (
        "error",
        "Nightly export failed",
        "The export could not reach the storage server. It will retry at 02:00.",
        "",
    ),
]


class Command(BaseCommand):
    help = (
        "Create the demo accounts admin/admin, alice/alice and bob/bob, and give alice and bob "
        "one example notification of each level (only if they have none)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-examples", action="store_true", help="Create the accounts only.")

    def handle(self, *args, **options):
        User = get_user_model()
        team, _ = Group.objects.get_or_create(name="demo team")
        for username, password, staff in ACCOUNTS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = staff
                user.save()
            if not staff:
                user.groups.add(team)
                if not options["no_examples"] and not user.notifications.exists():
                    for level, title, message, url in EXAMPLES:
                        notifications.send(
                            user, message, title=title, level=level, url=url, category="demo"
                        )
        if not options["no_examples"]:
            # Once every account exists: the comments come from the other two.
            for username, _password, staff in ACCOUNTS:
                if not staff:
                    user = User.objects.get(username=username)
                    inbox_examples(user, list(User.objects.exclude(pk=user.pk).order_by("pk")))
        self.stdout.write("Demo accounts (username / password):")
        for username, password, staff in ACCOUNTS:
            role = "superuser, opens /admin/" if staff else "member of 'demo team'"
            self.stdout.write(f"  {username} / {password}   ({role})")


def inbox_examples(user, others) -> None:
    """Seed the inbox features for ``user`` (keys: a second run adds nothing)."""
    for i in range(1, 6):
        notifications.send(
            user,
            f"Comment {i}: the numbers for October look right to me.",
            title="New comment on Q3 plan",
            actor=others[i % len(others)] if others else None,
            category="social",
            group_key="comments-q3-plan",
            key=f"demo-comment-{i}",
        )
    notifications.send(
        user,
        "The office is closed on Friday; the support line stays open.",
        title="Office closed on Friday",
        level="warning",
        pinned=True,
        category="announcements",
        key="demo-pinned",
    )
    notifications.send(
        user,
        "A maintenance window starts soon. This notice disappears by itself in 10 minutes.",
        title="Maintenance soon",
        expires_at=timezone.now() + datetime.timedelta(minutes=10),
        category="ops",
        key=f"demo-expiring-{timezone.now():%Y%m%d%H}",
    )
    notifications.send(
        user,
        "Expense report #7 (€84.20, taxi and lunch) is waiting for your approval.",
        title="Approve expense report #7",
        category="billing",
        actions=[
            {"label": "Approve", "url": "/demo/approve/7/", "method": "post"},
            {"label": "Open report", "url": "/notifications/"},
        ],
        key="expense-7",
    )
