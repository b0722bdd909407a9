"""notifications.compat: django-notifications-hq's notify.send() mapped onto send()."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from notifications import Level
from notifications.compat import hq_sentence, notify
from notifications.testing import capture_notifications


@pytest.fixture
def post(db):
    # Any model will do as a target; auth's Group needs no app of its own.
    return Group.objects.create(name="Post 3")


def test_verb_description_target_map_onto_send(alice, bob, post):
    with capture_notifications() as outbox:
        [n] = notify.send(
            alice, recipient=bob, verb="commented on", target=post, description="Nice!"
        )
    assert outbox == [n]
    assert n.recipient == bob
    assert n.actor == alice
    assert n.target == post
    assert n.message == "Nice!"
    assert n.title == "alice commented on Post 3"
    assert n.category == "commented on"
    assert n.level == Level.INFO
    assert n.data == {"hq": {"verb": "commented on", "public": True}}


def test_without_description_the_sentence_is_the_message(alice, bob):
    [n] = notify.send(alice, recipient=bob, verb="followed you")
    assert (n.title, n.message) == ("", "alice followed you")


def test_action_object_and_target_read_like_hq(alice, bob, post):
    comment = Group.objects.create(name="Comment 7")
    [n] = notify.send(alice, recipient=bob, verb="posted", action_object=comment, target=post)
    assert n.message == "alice posted Comment 7 on Post 3"
    assert n.data["hq"]["action_object"] == {"type": "auth.group", "id": str(comment.pk)}


def test_non_user_actor_is_kept_in_data(bob, post):
    [n] = notify.send(post, recipient=bob, verb="was archived", level="warning")
    assert n.actor is None
    assert n.message == "Post 3 was archived"
    assert n.level == Level.WARNING
    assert n.data["hq"]["actor"] == {"type": "auth.group", "id": str(post.pk)}


def test_extra_kwargs_go_to_data_and_url_to_url(alice, bob):
    [n] = notify.send(
        alice, recipient=bob, verb="assigned", public=False, url="/tickets/9/", ticket=9
    )
    assert n.url == "/tickets/9/"
    assert n.data == {"ticket": 9, "hq": {"verb": "assigned", "public": False}}


def test_recipients_are_resolved_like_send(alice, bob, make_user):
    staff = Group.objects.create(name="staff")
    carol = make_user("carol")
    staff.user_set.add(bob, carol)
    sent = notify.send(alice, recipient=staff, verb="deployed")
    assert sorted(n.recipient_id for n in sent) == sorted([bob.pk, carol.pk])


def test_invalid_fields_are_rejected_like_send(alice, bob):
    with pytest.raises(ValidationError):
        notify.send(alice, recipient=bob, verb="linked", url="javascript:alert(1)")


def test_hq_sentence_matches_hq_str():
    assert hq_sentence("a", "v") == "a v"
    assert hq_sentence("a", "v", target="t") == "a v t"
    assert hq_sentence("a", "v", action_object="o") == "a v o"
    assert hq_sentence("a", "v", action_object="o", target="t") == "a v o on t"
