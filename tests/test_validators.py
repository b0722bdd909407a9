"""Field validators (notifications/validators.py) and every way in that runs them.

Issue 14, item 4: text a database cannot store (NUL, lone surrogates), NaN and
Infinity in ``data``, and integers Python will not print must fail as a
``ValidationError`` before anything is written, never as a ``DataError`` or
``UnicodeEncodeError`` (a 500). Item 5: a stored link is checked again on output.
"""

from __future__ import annotations

import datetime
import decimal
import json

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DataError, connection, transaction
from django.test import Client
from django.urls import reverse

import notifications
from notifications.forms import ComposeForm
from notifications.models import Notification
from notifications.validators import safe_link, validate_data, validate_link, validate_text

LONE_SURROGATES = ["\ud800", "\udfff", "ok \udbff", "\udc00 then text", "a\ud83d"]
UNSTORABLE_TEXT = ["\x00", "before\x00after", *LONE_SURROGATES]


def error_of(validator, value) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        validator(value)
    return excinfo.value


def message(error: ValidationError) -> str:
    [text] = error.messages
    return text


# validate_text -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "tab\tnewline\nand \x7f are storable",
        "emoji \U0001f600 is one code point, not a surrogate pair",
        "line\u2028paragraph\u2029separators",
        "\u202eright-to-left override",
        "\ufffd replacement character",
    ],
)
def test_text_that_databases_store_is_accepted(value):
    """XSS-06: U+2028/U+2029 are valid text; escaping them is the encoder's job."""
    validate_text(value)


def test_nul_character_is_rejected_with_its_position():
    """XSS-06: NUL (PostgreSQL: 'A string literal cannot contain NUL')."""
    error = error_of(validate_text, "abc\x00def\x00")
    assert error.code == "null_characters_not_allowed"
    assert message(error) == (
        "NUL characters (\\x00) are not allowed: PostgreSQL cannot store them; "
        "found one at position 3."
    )


@pytest.mark.parametrize("value", LONE_SURROGATES)
def test_lone_surrogate_is_rejected_naming_it(value):
    """XSS-06: a lone surrogate (UnicodeEncodeError in every database driver)."""
    error = error_of(validate_text, value)
    assert error.code == "invalid_unicode"
    position = next(i for i, c in enumerate(value) if 0xD800 <= ord(c) <= 0xDFFF)
    assert message(error) == (
        "Lone surrogates are not valid Unicode and cannot be stored; found "
        f"U+{ord(value[position]):04X} at position {position} "
        "(decode the text with errors='replace')."
    )


# validate_data -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": [1, 2.5, None, True, "x"], "nested": {"deep": {"er": []}}},
        {1: "int keys become strings"},
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "amount": decimal.Decimal("1.10")},
        {"decimal NaN is a string": decimal.Decimal("NaN")},
        {"big": 10**4000},
        {"seps": "\u2028\u2029", "emoji": "\U0001f600"},
        None,
    ],
)
def test_json_data_is_accepted(value):
    validate_data(value)


@pytest.mark.parametrize(
    ("value", "path", "number"),
    [
        (float("nan"), "data", "nan"),
        ({"x": float("inf")}, "data['x']", "inf"),
        ({"x": [1, {"y": float("-inf")}]}, "data['x'][1]['y']", "-inf"),
    ],
)
def test_nan_and_infinity_are_rejected_naming_where(value, path, number):
    """Python's json writes NaN/Infinity; jsonb and SQLite's JSON_VALID refuse them."""
    error = error_of(validate_data, value)
    assert error.code == "invalid_data"
    assert message(error) == (
        f"Notification data must be standard JSON: {path} is {number}, which JSON cannot "
        "represent (PostgreSQL's jsonb refuses NaN and Infinity)."
    )


NUL, SURROGATE = "null_characters_not_allowed", "invalid_unicode"


@pytest.mark.parametrize(
    ("value", "where", "code"),
    [
        ({"k": "a\x00"}, "In data['k']: NUL", NUL),
        ({"k\x00": 1}, "In a key of data: NUL", NUL),
        ({"a": [{"b": ["ok", "\x00"]}]}, "In data['a'][0]['b'][1]: NUL", NUL),
        ({"a": {"b\x00": None}}, "In a key of data['a']: NUL", NUL),
        ("\x00", "In data: NUL", NUL),
        ({"k": "\ud800"}, "In data['k']: Lone surrogates", SURROGATE),
        ({"\udfff": 1}, "In a key of data: Lone surrogates", SURROGATE),
        ({"a": [[["\udbff"]]]}, "In data['a'][0][0][0]: Lone surrogates", SURROGATE),
        ({"a": {"\ud800b": []}}, "In a key of data['a']: Lone surrogates", SURROGATE),
    ],
)  # fmt: skip
def test_unstorable_keys_and_strings_are_rejected_at_any_depth(value, where, code):
    error = error_of(validate_data, value)
    assert error.code == code
    assert message(error).startswith(where)


def test_integer_too_long_to_print_is_rejected():
    """int -> str refuses over 4300 digits (ValueError) when the row is encoded."""
    error = error_of(validate_data, {"n": 10**5000})
    assert error.code == "invalid_data"
    assert "Exceeds the limit (4300 digits)" in message(error)


def test_nesting_too_deep_to_encode_is_rejected():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    error = error_of(validate_data, {"deep": deep})
    assert error.code == "invalid_data"


def test_data_size_limit_still_counts_the_stored_encoding(settings):
    settings.NOTIFICATIONS = {"MAX_DATA_BYTES": 20}
    # 3 characters, stored as 18 bytes of \\u escapes plus the quotes and braces.
    error = error_of(validate_data, {"k": "\u00e9\u00e9\u00e9"})
    assert error.code == "data_too_large"
    assert message(error) == (
        "Notification data is 27 bytes once encoded; the limit is 20 "
        "(NOTIFICATIONS['MAX_DATA_BYTES'])."
    )


# validate_link and safe_link ---------------------------------------------------

SAFE_LINKS = ["", "/", "/a/b?c=d#e", "http://a", "https://example.com/x", "HTTPS://EXAMPLE.COM"]
UNSAFE_LINKS = [
    "/\t/evil.example/",  # issue 14, item 5: browsers drop the tab: //evil.example/
    "/\n/evil.example/",
    "/\r/evil.example/",
    "\t//evil.example/",
    " /x",
    "/x ",
    "/\x00/evil.example",
    "/\x01",
    "/\x7f",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:x",
    "http:",
    "http://",
    "https://",
    "http:/evil.example",
    "https:evil.example",
    "https://evil.example\\@good.example",
    "evil.example",
    "/\ud800",
]


@pytest.mark.parametrize("url", SAFE_LINKS)
def test_safe_links_are_accepted_and_kept_on_output(url):
    validate_link(url)
    assert safe_link(url) == url


@pytest.mark.parametrize("url", UNSAFE_LINKS)
def test_unsafe_links_are_rejected_and_blanked_on_output(url):
    """XSS-02 and issue 14, item 5: one rule at creation and on output."""
    with pytest.raises(ValidationError):
        validate_link(url)
    assert safe_link(url) == ""


# Every way in runs them, on SQLite and on PostgreSQL ------------------------------

FIELDS_AND_VALUES = [
    *[("title", v) for v in UNSTORABLE_TEXT],
    *[("message", v) for v in UNSTORABLE_TEXT],
    *[("category", v) for v in UNSTORABLE_TEXT],
    *[("url", "/" + v) for v in UNSTORABLE_TEXT],
    ("data", {"k": "\x00"}),
    ("data", {"\x00": 1}),
    ("data", {"k": {"\ud800": 1}}),
    ("data", {"k": ["\udfff"]}),
    ("data", {"k": float("nan")}),
    ("data", {"k": [float("inf")]}),
]
TOO_LONG_TO_PRINT = ("data", {"k": 10**5000})


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [*FIELDS_AND_VALUES, TOO_LONG_TO_PRINT])
def test_send_rejects_unstorable_input_before_writing(alice, field, value):
    """Issue 14, item 4: a ValidationError naming the field, no row, no DataError."""
    kwargs = {"message": "ok", field: value}
    message_ = kwargs.pop("message")
    with pytest.raises(ValidationError) as excinfo:
        notifications.send(alice, message_, **kwargs)
    assert list(excinfo.value.message_dict) == [field]
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_send_reports_data_errors_with_the_other_fields(alice):
    with pytest.raises(ValidationError) as excinfo:
        notifications.send(alice, "x" * 2001, title="\x00", data={"n": 10**5000})
    assert set(excinfo.value.message_dict) == {"message", "title", "data"}


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), FIELDS_AND_VALUES)
def test_full_clean_rejects_unstorable_input(alice, field, value):
    """Not TOO_LONG_TO_PRINT: Django's JSONField.validate() raises its ValueError first."""
    notification = Notification(recipient=alice, cursor=1, message="ok")
    setattr(notification, field, value)
    with pytest.raises(ValidationError) as excinfo:
        notification.full_clean()
    assert list(excinfo.value.message_dict) == [field]


@pytest.mark.django_db
def test_what_validators_refuse_really_fails_in_the_database(alice):
    """The reason for the validators: without them the insert itself fails (a 500)."""
    with pytest.raises(UnicodeEncodeError), transaction.atomic():
        Notification.objects.create(recipient=alice, message="\ud800")
    if connection.vendor == "postgresql":
        with pytest.raises(DataError), transaction.atomic():
            Notification.objects.create(recipient=alice, message="a\x00b")
        with pytest.raises(DataError), transaction.atomic():
            Notification.objects.create(recipient=alice, message="x", data={"k": "\x00"})


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["title", "message", "category", "url"])
def test_compose_form_rejects_nul_characters(field):
    """The admin's compose page validates like send(): a form error, not a 500."""
    values = {"title": "t", "message": "m", "level": 20, "url": "/x/", "category": "c"}
    values[field] = "/bad\x00" if field == "url" else "bad\x00"
    form = ComposeForm({**values, "audience": "everyone"}, admin_site=admin.site)
    assert not form.is_valid()
    assert list(form.errors) == [field]


@pytest.fixture
def staff_client(db) -> Client:
    user = get_user_model().objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ('{"k": NaN}', "NaN"),
        ('{"k": [Infinity]}', "inf"),
        ('{"k": "\\u0000"}', "NUL characters"),
        ('{"\\u0000": 1}', "NUL characters"),
        ('{"k": "\\ud800"}', "Lone surrogates"),
        # Django's forms.JSONField lets these out of json.loads() as a 500.
        ('{"k": ' + "1" * 5000 + "}", "4300 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_admin_add_form_rejects_unstorable_data_with_a_form_error(staff_client, alice, data, error):
    """The admin's JSON field parses NaN and \\u0000 happily; the model validator must refuse."""
    response = staff_client.post(
        reverse("admin:notifications_notification_add"),
        {"recipient": alice.pk, "message": "m", "level": 20, "data": data},
    )
    assert response.status_code == 200
    assert error in json.dumps(response.context["adminform"].form.errors.get_json_data())
    assert not Notification.objects.exists()


def test_safe_actions_drops_what_the_validator_would_refuse():
    from notifications.validators import safe_actions

    stored = [
        {"label": "Go", "url": "javascript:alert(1)"},
        {"label": "Ok", "url": "/ok/", "method": "post", "extra": 1},
        {"label": "Third", "url": "/3/"},
    ]
    assert safe_actions(stored) == [{"label": "Ok", "url": "/ok/", "method": "post"}]
    assert safe_actions("not a list") == []
