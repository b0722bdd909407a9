"""Create the demo accounts (idempotent) and print them."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

ACCOUNTS = [
    # username, password, is_staff/superuser
    ("admin", "admin", True),
    ("alice", "alice", False),
    ("bob", "bob", False),
]


class Command(BaseCommand):
    help = "Create the demo accounts admin/admin, alice/alice and bob/bob."

    def handle(self, *args, **options):
        User = get_user_model()
        team, _ = Group.objects.get_or_create(name="demo team")
        for username, password, staff in ACCOUNTS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = staff
                user.save()
            if not staff:
                user.groups.add(team)
        self.stdout.write("Demo accounts (username / password):")
        for username, password, staff in ACCOUNTS:
            role = "superuser, opens /admin/" if staff else "member of 'demo team'"
            self.stdout.write(f"  {username} / {password}   ({role})")
