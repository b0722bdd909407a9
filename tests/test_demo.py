"""The demo's seed command, as `make demo` runs it (with the demo's declared categories)."""

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from notifications.models import Notification


@pytest.mark.django_db
def test_demo_users_seeds_under_the_demo_categories_and_twice_adds_nothing(settings, capsys):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, **django_settings.DEMO_NOTIFICATIONS}
    call_command("demo_users")
    seeded = Notification.objects.count()
    assert seeded > 0
    declared = set(settings.NOTIFICATIONS["CATEGORIES"])
    used = set(Notification.objects.exclude(category="").values_list("category", flat=True))
    assert used <= declared, used - declared
    call_command("demo_users")
    assert Notification.objects.count() == seeded
    assert "alice" in capsys.readouterr().out
