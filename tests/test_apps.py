"""The app's configuration: its own auto field, so no project setting changes its migrations."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command


def test_app_config_sets_default_auto_field():
    assert apps.get_app_config("notifications").default_auto_field == (
        "django.db.models.BigAutoField"
    )


@pytest.mark.parametrize(
    "auto_field", ["django.db.models.AutoField", "django.db.models.BigAutoField"]
)
@pytest.mark.django_db
def test_migrations_are_complete_whatever_default_auto_field(settings, auto_field):
    """A startproject of Django 5.2 and one of 6.x differ here; neither gets a migration."""
    settings.DEFAULT_AUTO_FIELD = auto_field
    call_command("makemigrations", "notifications", "--check", "--dry-run", verbosity=0)
