"""The HTTP JSON API and the server-rendered history page (notifications/views.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

import notifications
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def list_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("notifications:api-list") + (f"?{query}" if query else "")


def item_url(name: str, pk: int) -> str:
    return reverse(f"notifications:api-{name}", args=[pk])


def send_many(user, count: int) -> list[Notification]:
    return [notifications.send(user, f"message {i}", title=f"t{i}")[0] for i in range(count)]


@pytest.fixture
def as_alice(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


# Listing ----------------------------------------------------------------------


def test_list_without_after_is_latest_page_newest_first_with_next_link(as_alice, alice):
    send_many(alice, 5)
    data = as_alice.get(list_url(limit=2)).json()
    assert [n["cursor"] for n in data["results"]] == [5, 4]
    assert data["unread_count"] == 5
    assert data["cursor"] == 5
    assert data["complete"] is False
    assert data["next"] == list_url(before=4, limit=2)
    older = as_alice.get(data["next"]).json()
    assert [n["cursor"] for n in older["results"]] == [3, 2]
    last = as_alice.get(older["next"]).json()
    assert [n["cursor"] for n in last["results"]] == [1]
    assert last["next"] is None
    assert last["complete"] is True


def test_list_items_are_the_wire_format(as_alice, alice, bob):
    [n] = notifications.send(alice, "Hello", title="Hi", url="/x/", actor=bob)
    n.refresh_from_db()
    assert as_alice.get(list_url()).json()["results"] == [n.as_dict()]


def test_list_after_cursor_is_oldest_first_and_complete(as_alice, alice):
    send_many(alice, 4)
    data = as_alice.get(list_url(after=1)).json()
    assert [n["cursor"] for n in data["results"]] == [2, 3, 4]
    assert data["complete"] is True
    assert data["next"] is None
    assert data["cursor"] == 4


def test_list_after_cursor_says_incomplete_when_more_than_a_page_is_missing(as_alice, alice):
    send_many(alice, 5)
    data = as_alice.get(list_url(after=0, limit=3)).json()
    assert [n["cursor"] for n in data["results"]] == [1, 2, 3]
    assert data["complete"] is False
    assert data["next"] == list_url(after=3, limit=3)
    rest = as_alice.get(data["next"]).json()
    assert [n["cursor"] for n in rest["results"]] == [4, 5]
    assert rest["complete"] is True


def test_list_shows_only_own_notifications(as_alice, alice, bob):
    notifications.send(bob, "for bob")
    notifications.send(alice, "for alice")
    data = as_alice.get(list_url()).json()
    assert [n["message"] for n in data["results"]] == ["for alice"]
    assert data["unread_count"] == 1


def test_list_default_limit_is_inbox_page_size(as_alice, alice, settings):
    settings.NOTIFICATIONS = {"INBOX_PAGE_SIZE": 3}
    send_many(alice, 4)
    assert len(as_alice.get(list_url()).json()["results"]) == 3


@pytest.mark.parametrize(
    "params",
    [{"after": "x"}, {"after": "-1"}, {"limit": "0"}, {"limit": "101"}, {"before": "0"},
     {"after": "1", "before": "3"}, {"after": "99999999999999999999"}],
)  # fmt: skip
def test_list_rejects_invalid_params_with_400(as_alice, params):
    response = as_alice.get(list_url(**params))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_params"


def test_list_queries_do_not_grow_with_page_size(as_alice, alice, bob, django_assert_num_queries):
    for _ in range(2):
        notifications.send(alice, "x", actor=bob)
    # session, user, cursor, rows (actor joined), unread count.
    with django_assert_num_queries(5):
        small = as_alice.get(list_url())
    for _ in range(10):
        notifications.send(alice, "x", actor=bob)
    with django_assert_num_queries(5):
        large = as_alice.get(list_url())
    assert len(small.json()["results"]) == 2
    assert len(large.json()["results"]) == 12


def test_unread_count(as_alice, alice):
    send_many(alice, 3)
    alice.notifications.filter(cursor=1).mark_read()
    response = as_alice.get(reverse("notifications:api-unread-count"))
    assert response.json() == {
        "unread_count": 2,
        "unseen_count": 2,
        "by_category": {},
        "archived_count": 0,
        "badge": "unread",
        "cursor": 3,
    }
    assert "no-cache" in response["Cache-Control"]


# Changing ---------------------------------------------------------------------


def test_mark_read_then_unread(as_alice, alice):
    [n] = notifications.send(alice, "x")
    data = as_alice.post(item_url("read", n.pk)).json()
    assert data["unread_count"] == 0
    assert data["notification"]["read"] is True
    n.refresh_from_db()
    assert n.read_at is not None
    data = as_alice.post(item_url("unread", n.pk)).json()
    assert data["unread_count"] == 1
    assert data["notification"]["read"] is False
    n.refresh_from_db()
    assert n.read_at is None


def test_mark_read_twice_keeps_first_read_time(as_alice, alice):
    [n] = notifications.send(alice, "x")
    first = as_alice.post(item_url("read", n.pk)).json()["notification"]["read_at"]
    again = as_alice.post(item_url("read", n.pk)).json()["notification"]["read_at"]
    assert first == again


def test_delete(as_alice, alice):
    [n, other] = send_many(alice, 2)
    data = as_alice.post(item_url("delete", n.pk)).json()
    assert data == {"id": n.pk, "unread_count": 1}
    assert list(alice.notifications.values_list("pk", flat=True)) == [other.pk]


def test_read_all_marks_everything_up_to_the_cursor(as_alice, alice, bob):
    send_many(alice, 3)
    notifications.send(bob, "bob's")
    data = as_alice.post(reverse("notifications:api-read-all")).json()
    assert data == {"cursor": 3, "changed": 3, "unread_count": 0}
    assert alice.notifications.unread().count() == 0
    assert bob.notifications.unread().count() == 1


@pytest.mark.parametrize("name", ["read", "unread", "delete"])
def test_someone_elses_id_is_404_like_a_missing_one_and_changes_nothing(as_alice, bob, name):
    [theirs] = notifications.send(bob, "private")
    if name == "unread":
        bob.notifications.mark_read()
    before = Notification.objects.values().get(pk=theirs.pk)
    missing = as_alice.post(item_url(name, theirs.pk + 1000))
    response = as_alice.post(item_url(name, theirs.pk))
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert Notification.objects.values().get(pk=theirs.pk) == before


@pytest.mark.parametrize(
    "url",
    [
        reverse("notifications:api-list"),
        reverse("notifications:api-unread-count"),
    ],
)
def test_anonymous_get_is_401_json(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize("name", ["read", "unread", "delete"])
def test_anonymous_post_is_401_and_changes_nothing(client, alice, name):
    [n] = notifications.send(alice, "x")
    before = Notification.objects.values().get(pk=n.pk)
    assert client.post(item_url(name, n.pk)).status_code == 401
    assert client.post(reverse("notifications:api-read-all")).status_code == 401
    assert Notification.objects.values().get(pk=n.pk) == before


@pytest.mark.parametrize("name", ["read", "unread", "delete"])
def test_post_without_csrf_token_is_403_and_changes_nothing(alice, name):
    [n] = notifications.send(alice, "x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(item_url(name, n.pk)).status_code == 403
    assert client.post(reverse("notifications:api-read-all")).status_code == 403
    assert Notification.objects.filter(pk=n.pk, read_at=None).exists()


def test_post_with_csrf_header_is_accepted(alice):
    [n] = notifications.send(alice, "x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("notifications:history"))  # sets the csrftoken cookie
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(item_url("read", n.pk), headers={"X-CSRFToken": token})
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["read", "unread", "delete"])
def test_state_changes_refuse_get(as_alice, alice, name):
    [n] = notifications.send(alice, "x")
    assert as_alice.get(item_url(name, n.pk)).status_code == 405
    assert as_alice.get(reverse("notifications:api-read-all")).status_code == 405
    assert Notification.objects.filter(pk=n.pk, read_at=None).exists()


# Pushes: every tab of the user hears about each change ----------------------------


def test_mark_read_pushes_read_frame_with_new_count(
    as_alice, alice, listen, django_capture_on_commit_callbacks
):
    [n, _] = send_many(alice, 2)
    receive = listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        read_at = as_alice.post(item_url("read", n.pk)).json()["notification"]["read_at"]
    assert receive() == {
        "type": "notification.read",
        "ids": [n.pk],
        "read_at": read_at,
        "unread_count": 1,
    }


def test_mark_unread_pushes_unread_frame(
    as_alice, alice, listen, django_capture_on_commit_callbacks
):
    [n] = notifications.send(alice, "x")
    alice.notifications.mark_read()
    receive = listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        as_alice.post(item_url("unread", n.pk))
    assert receive() == {"type": "notification.unread", "ids": [n.pk], "unread_count": 1}


def test_delete_pushes_deleted_frame(as_alice, alice, listen, django_capture_on_commit_callbacks):
    [n] = notifications.send(alice, "x")
    receive = listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        as_alice.post(item_url("delete", n.pk))
    assert receive() == {"type": "notification.deleted", "ids": [n.pk], "unread_count": 0}


def test_read_all_pushes_read_all_frame_with_cursor(
    as_alice, alice, listen, django_capture_on_commit_callbacks
):
    send_many(alice, 2)
    receive = listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        as_alice.post(reverse("notifications:api-read-all"))
    frame = receive()
    assert (frame["type"], frame["cursor"], frame["unread_count"]) == (
        "notifications.read_all",
        2,
        0,
    )


def test_no_change_pushes_nothing(as_alice, alice, django_capture_on_commit_callbacks):
    [n] = notifications.send(alice, "x")
    alice.notifications.mark_read()
    with django_capture_on_commit_callbacks() as callbacks:
        as_alice.post(item_url("read", n.pk))
        as_alice.post(reverse("notifications:api-read-all"))
    assert callbacks == []


# The history page ---------------------------------------------------------------


def test_history_requires_login(client):
    response = client.get(reverse("notifications:history"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_history_lists_own_notifications_escaped(as_alice, alice, bob):
    notifications.send(alice, "<script>window.__xss=1</script>", title='"><svg onload=alert(1)>')
    notifications.send(bob, "bob's secret")
    html = as_alice.get(reverse("notifications:history")).content.decode()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;svg onload=alert(1)&gt;" in html
    assert "<script>window.__xss" not in html
    assert "bob&#x27;s secret" not in html


def test_history_does_not_link_unsafe_urls(as_alice, alice):
    [n] = notifications.send(alice, "x", url="/ok/")
    Notification.objects.filter(pk=n.pk).update(url="javascript:alert(1)")  # skips validators
    notifications.send(alice, "y", url="https://example.com/a")
    html = as_alice.get(reverse("notifications:history")).content.decode()
    assert "javascript:" not in html
    assert 'href="https://example.com/a"' in html


def test_history_pages_back_with_before(as_alice, alice, settings):
    settings.NOTIFICATIONS = {"INBOX_PAGE_SIZE": 2}
    send_many(alice, 3)
    first = as_alice.get(reverse("notifications:history"))
    assert [n.cursor for n, _ in first.context["notifications"]] == [3, 2]
    assert first.context["older_url"] == "?before=2"
    second = as_alice.get(reverse("notifications:history") + "?before=2")
    assert [n.cursor for n, _ in second.context["notifications"]] == [1]
    assert second.context["older_url"] is None


def test_form_post_with_next_redirects_back(as_alice, alice):
    [n] = notifications.send(alice, "x")
    here = reverse("notifications:history") + "?before=5"
    response = as_alice.post(item_url("read", n.pk), {"next": here})
    assert response.status_code == 303
    assert response["Location"] == here


def test_form_post_with_foreign_next_redirects_to_history(as_alice, alice):
    [n] = notifications.send(alice, "x")
    response = as_alice.post(item_url("read", n.pk), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("notifications:history")


# Crafted input: 400 or 404, never 500 (issue 14, item 4) -------------------------

TOO_LONG = "9" * 5000  # int() refuses more than 4300 digits with a ValueError


@pytest.mark.parametrize(
    "params",
    [{"after": TOO_LONG}, {"before": TOO_LONG}, {"limit": TOO_LONG}, {"after": "1" * 4301},
     {"limit": "1" + "0" * 4300}, {"after": "9223372036854775808"}, {"after": "+1"},
     {"after": " 1"}, {"after": "1 "}, {"after": "1.0"}, {"after": "1e3"}, {"after": "\u0661"},
     {"after": "²"}, {"after": "0x10"}],
)  # fmt: skip
def test_list_rejects_crafted_integers_with_400_not_500(as_alice, params):
    response = as_alice.get(reverse("notifications:api-list"), params)
    assert response.status_code == 400
    [(name, _value)] = params.items()
    assert response.json() == {
        "error": "invalid_params",
        "detail": f"{name!r} must be an integer from {1 if name != 'after' else 0} to "
        f"{100 if name == 'limit' else 2**63 - 1}.",
    }


def test_list_accepts_leading_zeros_however_many(as_alice, alice):
    send_many(alice, 3)
    params = {"after": "0" * 5000 + "1", "limit": "0" * 5000 + "2"}
    data = as_alice.get(reverse("notifications:api-list"), params).json()
    assert [n["cursor"] for n in data["results"]] == [2, 3]


@pytest.mark.parametrize("before", [TOO_LONG, "x", "0", "-1", "9223372036854775808"])
def test_history_answers_400_for_an_invalid_before(as_alice, alice, before):
    notifications.send(alice, "x")
    response = as_alice.get(reverse("notifications:history"), {"before": before})
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["read", "unread", "delete"])
@pytest.mark.parametrize("pk", [2**63 - 1, 2**63, 10**30])
def test_out_of_range_id_is_the_same_404_as_a_missing_one(as_alice, alice, name, pk):
    """IDOR-07: ids past the database's integer range answer like any missing id."""
    [n] = notifications.send(alice, "x")
    missing = as_alice.post(item_url(name, n.pk + 1000))
    response = as_alice.post(item_url(name, pk))
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content


@pytest.mark.parametrize("name", ["read", "unread", "delete"])
def test_id_too_long_for_int_is_404_not_500(as_alice, name):
    """The URL converter's int() fails, so the URL does not resolve: Django's 404."""
    response = as_alice.post(item_url(name, 1).replace("/1/", f"/{TOO_LONG}/"))
    assert response.status_code == 404


# Links are checked again on output (issue 14, item 5) -----------------------------

UNSAFE_STORED = ["/\t/evil.example/", "/\n/evil.example/", "javascript:alert(1)", "//evil.example"]


@pytest.mark.parametrize("url", UNSAFE_STORED)
def test_api_never_sends_a_stored_unsafe_url(as_alice, alice, url):
    [n] = notifications.send(alice, "x", url="/ok/")
    Notification.objects.filter(pk=n.pk).update(url=url)  # skips validators
    [item] = as_alice.get(list_url()).json()["results"]
    assert item["url"] == ""
    assert as_alice.post(item_url("read", n.pk)).json()["notification"]["url"] == ""


@pytest.mark.parametrize("url", UNSAFE_STORED)
def test_push_never_sends_an_unsafe_url(alice, listen, django_capture_on_commit_callbacks, url):
    receive = listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        # create() skips the field validators too.
        Notification.objects.create(recipient=alice, message="x", url=url)
    frame = receive()
    assert frame["type"] == "notification.created"
    assert frame["notification"]["url"] == ""


@pytest.mark.parametrize("url", UNSAFE_STORED)
def test_history_never_links_a_stored_unsafe_url(as_alice, alice, url):
    [n] = notifications.send(alice, "x", url="/ok/")
    Notification.objects.filter(pk=n.pk).update(url=url)
    response = as_alice.get(reverse("notifications:history"))
    [(_row, href)] = response.context["notifications"]
    assert href is None
    assert "evil.example" not in response.content.decode()
    assert "Open</a>" not in response.content.decode()


# XSS-06: line separators, and what cannot be stored --------------------------------


def test_line_and_paragraph_separators_travel_escaped(
    as_alice, alice, listen, django_capture_on_commit_callbacks
):
    """XSS-06: U+2028/U+2029 are valid JSON, but escaped they are safe in any JS context."""
    text = "a\u2028b\u2029c"
    receive = listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.send(alice, text, title=text, data={text: text})
    frame = receive()
    assert frame["notification"]["message"] == text
    assert "\u2028" not in receive.recorder.texts[-1]
    assert "\\u2028" in receive.recorder.texts[-1]
    response = as_alice.get(list_url())
    assert "\u2028" not in response.content.decode()
    assert "\\u2028" in response.content.decode() and "\\u2029" in response.content.decode()
    [item] = response.json()["results"]
    assert (item["title"], item["message"], item["data"]) == (text, text, {text: text})


@pytest.mark.parametrize("text", ["nul\x00", "lone \ud800"])
def test_unstorable_text_never_reaches_the_database(alice, text):
    """XSS-06: NUL and lone surrogates are refused at creation (see test_validators.py)."""
    with pytest.raises(ValidationError):
        notifications.send(alice, text)
    assert not Notification.objects.exists()


def test_list_ignores_an_injected_user_or_recipient_parameter(as_alice, alice, bob):
    """IDOR-04: ``?user=<B>`` (or ``recipient``) changes nothing: the list is the requester's."""
    notifications.send(bob, "for bob")
    notifications.send(alice, "for alice")
    for query in (f"?user={bob.pk}", f"?recipient={bob.pk}", f"?after=0&user={bob.pk}"):
        data = as_alice.get(list_url() + query).json()
        assert [n["message"] for n in data["results"]] == ["for alice"], query


# Inbox states over HTTP -------------------------------------------------------


def post(client, url, data=None, **kwargs):
    return client.post(url, data or {}, **kwargs)


def soon() -> str:
    import datetime

    from django.utils import timezone

    return (timezone.now() + datetime.timedelta(hours=1)).isoformat()


def test_archive_unarchive_pin_unpin_change_only_that_notification(as_alice, alice):
    a, b = send_many(alice, 2)
    response = post(as_alice, item_url("archive", a.pk))
    assert response.status_code == 200
    assert response.json()["notification"]["archived_at"] is not None
    assert response.json()["unread_count"] == 1  # Archived ones are not counted.
    assert [n["id"] for n in as_alice.get(list_url()).json()["results"]] == [b.pk]
    assert [n["id"] for n in as_alice.get(list_url(archived=1)).json()["results"]] == [a.pk]
    post(as_alice, item_url("unarchive", a.pk))
    assert post(as_alice, item_url("pin", a.pk)).json()["notification"]["pinned"] is True
    assert [n["id"] for n in as_alice.get(list_url(pinned_first=1)).json()["results"]] == [
        a.pk,
        b.pk,
    ]
    assert [n["id"] for n in as_alice.get(list_url(pinned=1)).json()["results"]] == [a.pk]
    post(as_alice, item_url("unpin", a.pk))
    assert not Notification.objects.filter(pinned=True).exists()


@pytest.mark.parametrize("name", ["archive", "unarchive", "snooze", "pin", "unpin"])
def test_others_ids_are_404_and_change_nothing(as_alice, bob, name):
    [theirs] = notifications.send(bob, "bob's")
    before = Notification.objects.values().get()
    response = post(as_alice, item_url(name, theirs.pk), {"until": soon()})
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "No such notification."}
    assert Notification.objects.values().get() == before


@pytest.mark.parametrize("name", ["archive", "pin", "snooze"])
def test_state_changes_need_csrf(alice, name):
    [n] = notifications.send(alice, "x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = post(client, item_url(name, n.pk), {"until": soon()})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


def test_snooze_hides_until_the_given_time(as_alice, alice):
    import datetime

    from django.utils import timezone

    [n] = send_many(alice, 1)
    until = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    response = post(as_alice, item_url("snooze", n.pk), {"until": until})
    assert response.status_code == 200
    assert response.json()["notification"]["snoozed_until"] == until
    assert as_alice.get(list_url()).json()["results"] == []
    # JSON bodies work too.
    response = as_alice.post(
        item_url("snooze", n.pk), {"until": until}, content_type="application/json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("until", "words"),
    [
        (None, "'until' is required"),
        ("tomorrow", "must be an ISO 8601"),
        ("2001-01-01T00:00:00Z", "in the future"),
        ("2999-01-01T00:00:00Z", "at most 365 days"),
        ("2026-13-45T99:00:00Z", "must be an ISO 8601"),
    ],
)
def test_bad_until_is_400_naming_the_field(as_alice, alice, until, words):
    [n] = send_many(alice, 1)
    response = post(as_alice, item_url("snooze", n.pk), {} if until is None else {"until": until})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_params"
    assert words in response.json()["detail"]
    n.refresh_from_db()
    assert n.snoozed_until is None


def test_seen_up_to_marks_what_the_inbox_showed(as_alice, alice):
    send_many(alice, 3)
    response = post(as_alice, reverse("notifications:api-seen"), {"up_to": 2})
    assert response.json()["changed"] == 2
    counts = as_alice.get(reverse("notifications:api-unread-count")).json()
    assert (counts["unseen_count"], counts["unread_count"]) == (1, 3)
    bad = post(as_alice, reverse("notifications:api-seen"), {"up_to": "-1"})
    assert bad.status_code == 400
    assert "'up_to'" in bad.json()["detail"]


def test_counts_by_category_and_unseen(as_alice, alice):
    notifications.send(alice, "a", category="billing")
    notifications.send(alice, "b", category="billing")
    [c] = notifications.send(alice, "c", category="social")
    notifications.send(alice, "d")
    c.__class__.objects.filter(pk=c.pk).mark_read()
    counts = as_alice.get(reverse("notifications:api-unread-count")).json()
    assert counts["by_category"] == {"billing": 2}
    assert (counts["unread_count"], counts["unseen_count"]) == (3, 3)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "billing"}, ["b2", "b1"]),
        ({"level": "error"}, ["e"]),
        ({"level": "40"}, ["e"]),
        ({"unread": 1}, ["e", "b2"]),
    ],
)
def test_list_filters(as_alice, alice, params, expected):
    [b1] = notifications.send(alice, "b1", category="billing")
    notifications.send(alice, "b2", category="billing")
    notifications.error(alice, "e")
    b1.__class__.objects.filter(pk=b1.pk).mark_read()
    results = as_alice.get(list_url(**params)).json()["results"]
    assert [n["message"] for n in results] == expected


@pytest.mark.parametrize(
    "params",
    [{"archived": "yes"}, {"level": "loud"}, {"pinned": "2"}, {"grouped": 1, "archived": 1}],
)
def test_bad_filters_are_400(as_alice, params):
    response = as_alice.get(list_url(**params))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_params"


def test_filters_carry_over_to_the_next_page(as_alice, alice):
    for i in range(3):
        notifications.send(alice, f"b{i}", category="billing")
    notifications.send(alice, "other")
    data = as_alice.get(list_url(limit=2, category="billing")).json()
    assert "category=billing" in data["next"]
    assert [n["message"] for n in as_alice.get(data["next"]).json()["results"]] == ["b0"]


def test_grouped_list_returns_one_entry_with_count_and_latest_time(as_alice, alice, bob):
    for i in range(50):
        notifications.send(alice, f"comment {i}", group_key="q3-plan", actor=bob)
    notifications.send(alice, "alone")
    results = as_alice.get(list_url(grouped=1)).json()["results"]
    assert [n["message"] for n in results] == ["alone", "comment 49"]
    group = results[1]["group"]
    assert (group["key"], group["count"], group["unread_count"], group["actor_count"]) == (
        "q3-plan",
        50,
        50,
        1,
    )
    assert group["latest_at"] == results[1]["created_at"]


def test_reading_a_group_reads_its_members(as_alice, alice):
    for i in range(5):
        notifications.send(alice, f"c{i}", group_key="g")
    [other] = notifications.send(alice, "other")
    newest = alice.notifications.filter(group_key="g").order_by("-cursor").first()
    response = post(as_alice, item_url("read", newest.pk), {"group": "1"})
    assert response.json()["unread_count"] == 1
    assert list(alice.notifications.unread()) == [other]
    post(as_alice, item_url("archive", newest.pk), {"group": "1"})
    assert alice.notifications.archived().count() == 5


def test_history_hides_snoozed_and_expired(as_alice, alice):
    import datetime

    from django.utils import timezone

    notifications.send(alice, "shown")
    notifications.send(alice, "expired", expires_at=timezone.now() - datetime.timedelta(seconds=1))
    [later] = notifications.send(alice, "snoozed")
    alice.notifications.filter(pk=later.pk).snooze(timezone.now() + datetime.timedelta(hours=1))
    page = as_alice.get(reverse("notifications:history")).content.decode()
    assert "shown" in page and "expired" not in page and "snoozed" not in page


@pytest.mark.bench  # Run by hand or by `make bench`, not by `make test`; prints, asserts no timing.
@pytest.mark.django_db(transaction=True)
def test_benchmark_inbox_list_on_a_million_rows(make_user):
    """Time the inbox list and counts with the new filters over ~1 M rows (PostgreSQL)."""
    import os
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("generate_series is PostgreSQL")
    from django.contrib.auth import get_user_model

    per_user = int(os.environ.get("INBOX_BENCH_PER_USER", "900"))
    heavy_rows = int(os.environ.get("INBOX_BENCH_HEAVY", "100000"))
    user_model = get_user_model()
    user_model.objects.bulk_create(user_model(username=f"u{i}", password="!") for i in range(999))
    heavy = make_user("heavy")
    table = Notification._meta.db_table
    # Every 3rd read, every 10th archived, every 50th pinned, every 7th in one of
    # 20 groups, every 100th expiring (half of them expired), 4 categories, 5 levels.
    # The new columns are left out of the first insert: their database defaults fill them.
    rows_sql = (
        "SELECT u.id, s.n, 'Title ' || s.n, 'Message ' || s.n, "
        "(ARRAY[10, 20, 25, 30, 40])[1 + (s.n %% 5)], '', "
        "(ARRAY['a', 'b', 'c', 'd'])[1 + (s.n %% 4)], '{{}}', '', "
        "now() - (s.n * interval '1 second'), CASE WHEN s.n %% 3 = 0 THEN now() END "
        "FROM (SELECT id FROM auth_user WHERE {users}) u CROSS JOIN generate_series(1, %s) AS s(n)"
    )
    columns = (
        "recipient_id, cursor, title, message, level, url, category, data, target_object_id, "
        "created_at, read_at"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) " + rows_sql.format(users="username LIKE 'u%%'"),
            [per_user],
        )
        cursor.execute(
            f"INSERT INTO {table} ({columns}) " + rows_sql.format(users="username = 'heavy'"),
            [heavy_rows],
        )
        cursor.execute(
            f"""UPDATE {table} SET
                archived_at = CASE WHEN cursor %% 10 = 0 THEN now() END,
                pinned = cursor %% 50 = 1,
                group_key = CASE WHEN cursor %% 7 = 0 THEN 'g' || (cursor %% 20) ELSE '' END,
                expires_at = CASE WHEN cursor %% 100 = 5 THEN now() + (CASE WHEN cursor %% 200 = 5
                    THEN interval '-1 hour' ELSE interval '1 hour' END) END""",
            [],
        )
        cursor.execute(f"ANALYZE {table}")
    total = Notification.objects.count()
    print(f"\n[inbox bench] {total} rows inserted in {time.perf_counter() - started:.1f} s")
    for label, user in (
        ("typical user (900 rows)", user_model.objects.get(username="u17")),
        (
            f"heavy user ({heavy_rows} rows)",
            heavy,
        ),
    ):
        client = Client()
        client.force_login(user)
        report = []
        for query in [
            "",
            "?pinned_first=1&grouped=1",
            "?archived=1",
            "?archived=0&category=b",
            "?level=error",
            "?unread=1",
            "?pinned=1",
            "?before=500&pinned_first=1&grouped=1",
        ]:
            url = list_url() + query
            client.get(url)  # Warm up.
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                with CaptureQueriesContext(connection) as queries:
                    assert client.get(url).status_code == 200
                times.append(time.perf_counter() - t0)
            report.append(
                f"{query or '(none)'}: {sorted(times)[2] * 1000:.1f} ms, {len(queries)} q"
            )
        url = reverse("notifications:api-unread-count")
        client.get(url)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - t0)
        report.append(f"api/unread-count/: {sorted(times)[2] * 1000:.1f} ms")
        print(f"[inbox bench] {label}, median of 5:\n  " + "\n  ".join(report))
    # Cleanup throughput on committed rows (its own transactions, as from cron).
    from notifications import retention

    Notification.objects.filter(recipient=heavy).update(expires_at=timezone_now())
    expired = Notification.objects.filter(expires_at__lte=timezone_now()).count()
    t0 = time.perf_counter()
    done = retention.delete(retention.Policy(), batch_size=1000)
    seconds = time.perf_counter() - t0
    print(
        f"[inbox bench] notifications_cleanup: {done['expired']} of {expired} expired rows in "
        f"{seconds:.2f} s = {done['expired'] / seconds:.0f} rows/s (batches of 1000)"
    )


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def test_expiry_hides_from_the_list_and_the_counts_the_moment_it_passes(
    as_alice, alice, monkeypatch
):
    import datetime

    from django.utils import timezone

    now = timezone.now()
    notifications.send(alice, "stays", category="a")
    notifications.send(alice, "goes", category="b", expires_at=now + datetime.timedelta(minutes=1))

    def shown():
        listed = as_alice.get(list_url()).json()
        counts = as_alice.get(reverse("notifications:api-unread-count")).json()
        messages = [n["message"] for n in listed["results"]]
        return messages, listed["unread_count"], counts["unread_count"], counts["by_category"]

    assert shown() == (["goes", "stays"], 2, 2, {"a": 1, "b": 1})
    monkeypatch.setattr(timezone, "now", lambda: now + datetime.timedelta(minutes=1))
    assert shown() == (["stays"], 1, 1, {"a": 1})
