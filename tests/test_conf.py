import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from notifications import conf


def test_defaults_apply_without_setting():
    assert conf.get("SYNC_PAGE_SIZE") == 100


def test_override_settings_is_read_at_call_time():
    with override_settings(NOTIFICATIONS={"SYNC_PAGE_SIZE": 7}):
        assert conf.get("SYNC_PAGE_SIZE") == 7
    assert conf.get("SYNC_PAGE_SIZE") == 100


def test_unknown_key_in_settings_is_an_error_naming_it():
    with (
        override_settings(NOTIFICATIONS={"SYNC_PAGE_SIZ": 7}),
        pytest.raises(ImproperlyConfigured, match="SYNC_PAGE_SIZ"),
    ):
        conf.get("SYNC_PAGE_SIZE")


def test_unknown_name_asked_for_is_an_error():
    with pytest.raises(ImproperlyConfigured, match="no setting named 'NOPE'"):
        conf.get("NOPE")


def test_a_choice_setting_with_an_unknown_value_names_the_choices(settings):
    from django.core.exceptions import ImproperlyConfigured

    from notifications import conf

    settings.NOTIFICATIONS = {"BADGE_COUNTS": "unred"}
    with pytest.raises(ImproperlyConfigured, match=r"BADGE_COUNTS.*'unread', 'unseen'.*'unred'"):
        conf.get("BADGE_COUNTS")
