"""The admin compose form: validation, audience resolution, preview."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

from notifications.forms import ComposeForm

pytestmark = pytest.mark.django_db


def compose(**data):
    fields = {
        "title": "Maintenance",
        "message": "Down at 6",
        "level": "20",
        "url": "",
        "category": "",
        "audience": "everyone",
        **data,
    }
    return ComposeForm(fields, admin_site=admin.site)


def valid(**data):
    form = compose(**data)
    assert form.is_valid(), form.errors
    return form


def pks(queryset):
    return sorted(queryset.values_list("pk", flat=True))


def test_chosen_users_are_the_audience(make_user):
    alice, bob, _carol = make_user("alice"), make_user("bob"), make_user("carol")
    form = valid(audience="users", users=[alice.pk, bob.pk])
    assert pks(form.recipients()) == sorted([alice.pk, bob.pk])
    assert form.audience_detail() == "alice, bob"


def test_inactive_user_cannot_be_chosen(make_user):
    ghost = make_user("ghost", is_active=False)
    form = compose(audience="users", users=[ghost.pk])
    assert not form.is_valid()
    assert "users" in form.errors


def test_member_of_two_chosen_groups_counts_once(make_user):
    red, blue = Group.objects.create(name="red"), Group.objects.create(name="blue")
    both, only_red = make_user("both"), make_user("only_red")
    both.groups.add(red, blue)
    only_red.groups.add(red)
    make_user("outsider")
    form = valid(audience="groups", groups=[red.pk, blue.pk])
    assert pks(form.recipients()) == sorted([both.pk, only_red.pk])
    assert form.recipients().count() == 2
    assert form.audience_detail() == "blue, red"


def test_inactive_group_members_are_left_out(make_user):
    team = Group.objects.create(name="team")
    active, inactive = make_user("active"), make_user("inactive", is_active=False)
    team.user_set.add(active, inactive)
    assert pks(valid(audience="groups", groups=[team.pk]).recipients()) == [active.pk]


def test_everyone_means_every_active_user(make_user):
    users = [make_user() for _ in range(3)]
    make_user("gone", is_active=False)
    form = valid(audience="everyone")
    assert pks(form.recipients()) == sorted(u.pk for u in users)
    assert form.audience_detail() == "every active user"


@pytest.mark.parametrize(("audience", "field"), [("users", "users"), ("groups", "groups")])
def test_audience_without_choice_is_an_error_on_that_field(audience, field):
    form = compose(audience=audience)
    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_choices_for_another_audience_are_ignored(make_user):
    alice = make_user("alice")
    make_user("bob")
    form = valid(audience="everyone", users=[alice.pk])
    assert form.recipients().count() == 2


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example", "data:text/html,x"])
def test_dangerous_links_are_refused_like_send(url):
    form = compose(url=url)
    assert not form.is_valid()
    assert "url" in form.errors


def test_message_is_required_and_lengths_are_enforced():
    assert "message" in compose(message="").errors
    assert "title" in compose(title="x" * 201).errors
    assert "message" in compose(message="x" * 2001).errors


def test_preview_is_the_wire_format(make_user):
    admin_user = make_user("root")
    form = valid(title="<b>Hi</b>", message="Body", level="30", url="/x/", category="ops")
    preview = form.preview(actor=admin_user)
    assert preview["title"] == "<b>Hi</b>"
    assert preview["level"] == "warning"
    assert preview["url"] == "/x/"
    assert preview["category"] == "ops"
    assert preview["actor"] == {"id": admin_user.pk, "name": "root"}
    assert set(preview) >= {"id", "cursor", "message", "level_number", "created_at", "read"}
