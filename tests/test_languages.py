"""Text in each recipient's language: LANGUAGE_FOR_USER, lazy messages, templates, German."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext_lazy

import notifications
from notifications import languages

pytestmark = pytest.mark.django_db

PO = Path(notifications.__file__).parent / "locale" / "de" / "LC_MESSAGES" / "django.po"


def language_for_user(user):
    """The tests' hook: users whose email ends in .de read German."""
    return "de" if user.email.endswith(".de") else None


@pytest.fixture(autouse=True)
def hook(settings):
    settings.NOTIFICATIONS = {"LANGUAGE_FOR_USER": "tests.test_languages.language_for_user"}


@pytest.fixture
def hans(make_user):
    return make_user("hans", email="hans@example.de")


@pytest.fixture
def jane(make_user):
    return make_user("jane", email="jane@example.com")


def test_a_german_user_gets_the_german_text_of_a_lazy_message(hans, jane):
    with translation.override("en"):  # An English admin sends.
        created = notifications.send(
            [jane, hans],
            gettext_lazy("Your notification preferences were saved."),
            title=gettext_lazy("Preferences"),
        )
    by_user = {n.recipient_id: (n.title, n.message) for n in created}
    assert by_user[hans.pk] == (
        "Einstellungen",
        "Ihre Benachrichtigungseinstellungen wurden gespeichert.",
    )
    assert by_user[jane.pk] == ("Preferences", "Your notification preferences were saved.")
    assert [n.recipient_id for n in created] == [jane.pk, hans.pk]  # Recipient order kept.
    hans_row = hans.notifications.get()
    assert hans_row.message.startswith("Ihre")


def test_a_template_is_rendered_per_recipient_language(hans, jane, settings, tmp_path):
    (tmp_path / "invoice.txt").write_text(
        '{% load i18n %}{% translate "Unread notifications" %}: {{ number }}\n'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    created = notifications.send([hans, jane], template_name="invoice.txt", params={"number": 7})
    by_user = {n.recipient_id: n.message for n in created}
    assert by_user == {
        hans.pk: "Ungelesene Benachrichtigungen: 7",
        jane.pk: "Unread notifications: 7",
    }


def test_without_a_hook_everyone_gets_language_code(hans, settings):
    settings.NOTIFICATIONS = {}
    settings.LANGUAGE_CODE = "de"
    [n] = notifications.send(hans, gettext_lazy("Preferences"))
    assert n.message == "Einstellungen"
    with CaptureQueriesContext(connection) as queries:
        notifications.send(hans, gettext_lazy("Preferences"))
    assert not any(
        '"auth_user"' in q["sql"] and "SELECT" in q["sql"] for q in queries.captured_queries
    )


def test_plain_strings_are_not_translated(hans):
    [n] = notifications.send(hans, "Preferences")
    assert n.message == "Preferences"


@pytest.mark.parametrize("count", [10, 1000])
def test_query_count_does_not_grow_with_recipients(count, django_assert_num_queries):
    user_model = get_user_model()
    user_model.objects.bulk_create(
        user_model(username=f"l{i}", email=f"l{i}@example.{'de' if i % 2 else 'com'}")
        for i in range(count)
    )
    users = user_model.objects.filter(username__startswith="l")
    with CaptureQueriesContext(connection) as plain:
        notifications.send(users, "plain")
    # One query for the users' languages, and one more insert for the second language.
    inserts_per_language = 1 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(len(plain) + 1 + inserts_per_language):
        created = notifications.send(users, gettext_lazy("Preferences"))
    assert sorted({n.message for n in created}) == ["Einstellungen", "Preferences"]


def test_digest_email_is_in_the_users_language(hans):
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from notifications import digest
    from notifications.models import Notification

    notifications.send(hans, "Server down")
    Notification.objects.update(created_at=timezone.now() - timedelta(hours=1))
    digest.send_digests()
    [message] = mail.outbox
    assert message.subject == "Sie haben 1 ungelesene Benachrichtigung"
    assert "Diese E-Mails abbestellen:" in message.body


def test_a_hook_that_cannot_be_imported_is_improperly_configured(settings):
    settings.NOTIFICATIONS = {"LANGUAGE_FOR_USER": "tests.nowhere.hook"}
    with pytest.raises(ImproperlyConfigured, match="LANGUAGE_FOR_USER"):
        languages.hook()


def test_a_callable_hook_works_too(settings, hans):
    settings.NOTIFICATIONS = {"LANGUAGE_FOR_USER": lambda user: "de"}
    assert languages.languages_for([hans.pk]) == {hans.pk: "de"}


def test_every_german_string_is_translated_and_compiled():
    """A msgid left empty, or a .mo older than the .po, fails here."""
    import gettext

    text = PO.read_text(encoding="utf-8")
    singles = re.findall(r'\nmsgid "(.+)"\nmsgstr "(.+)"\n', text)
    assert len(singles) > 60
    assert 'msgstr ""\n\n' not in text.split("\n\n", 1)[1]
    with PO.with_suffix(".mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    for msgid, msgstr in singles:
        assert catalog.gettext(msgid.replace('\\"', '"')) == msgstr.replace('\\"', '"'), msgid
