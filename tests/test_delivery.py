"""Push after commit, signals, and failures that must not reach the caller."""

import logging

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.test import Client

import notifications
from notifications.models import Notification
from notifications.signals import notification_created
from tests.conftest import connected

send = sync_to_async(notifications.send)


async def handshake(ws):
    assert (await ws.connect(timeout=5))[0]
    assert (await ws.receive_json_from(timeout=5))["type"] == "state"


@sync_to_async
def send_then_rollback(user):
    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.send(user, "rolled back")
        raise RuntimeError


@sync_to_async
def send_in_transaction(user, sent):
    with transaction.atomic():
        notifications.send(user, "committed")
        sent["before_commit"] = True


@sync_to_async
def send_with_inner_rollback(user):
    with transaction.atomic():
        notifications.send(user, "outer")
        with pytest.raises(RuntimeError), transaction.atomic():
            notifications.send(user, "inner")
            raise RuntimeError


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_rollback_pushes_nothing_and_saves_nothing(alice):
    async with connected(alice) as ws:
        await handshake(ws)
        await send_then_rollback(alice)
        assert await ws.receive_nothing(timeout=0.5)
    assert not await Notification.objects.filter(recipient=alice).aexists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_commit_pushes_exactly_one_frame_per_socket(alice):
    async with connected(alice) as ws1, connected(alice) as ws2:
        await handshake(ws1)
        await handshake(ws2)
        await send_in_transaction(alice, {})
        for ws in (ws1, ws2):
            assert (await ws.receive_json_from(timeout=5))["notification"]["message"] == "committed"
            assert await ws.receive_nothing(timeout=0.3)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_rolled_back_savepoint_pushes_only_outer(alice):
    async with connected(alice) as ws:
        await handshake(ws)
        await send_with_inner_rollback(alice)
        assert (await ws.receive_json_from(timeout=5))["notification"]["message"] == "outer"
        assert await ws.receive_nothing(timeout=0.3)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_orm_create_pushes_too(alice):
    async with connected(alice) as ws:
        await handshake(ws)
        await Notification.objects.acreate(recipient=alice, message="via ORM")
        frame = await ws.receive_json_from(timeout=5)
        assert frame["notification"]["message"] == "via ORM"
        assert frame["unread_count"] == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_admin_save_pushes_to_recipient(alice, make_user):
    admin = await sync_to_async(make_user)("root", is_staff=True, is_superuser=True)

    @sync_to_async
    def save_in_admin():
        client = Client()
        client.force_login(admin)
        response = client.post(
            "/admin/notifications/notification/add/",
            {
                "recipient": alice.pk,
                "title": "From admin",
                "message": "hello",
                "level": 20,
                "url": "",
                "category": "",
                "data": "{}",
                "actor": "",
                "read_at_0": "",
                "read_at_1": "",
            },
        )
        assert response.status_code == 302, response.content[:2000]

    async with connected(alice) as ws:
        await handshake(ws)
        await save_in_admin()
        frame = await ws.receive_json_from(timeout=5)
        assert frame["notification"]["title"] == "From admin"


@pytest.mark.django_db(transaction=True)
def test_signal_fires_after_commit_for_each_notification(alice, bob):
    received = []

    def receiver(sender, notification, **kwargs):
        received.append((notification.message, notification.recipient_id))

    notification_created.connect(receiver)
    try:
        with transaction.atomic():
            notifications.send([alice, bob], "bulk")
            Notification.objects.create(recipient=alice, message="single")
            assert received == []
        assert sorted(received) == sorted(
            [("bulk", alice.pk), ("bulk", bob.pk), ("single", alice.pk)]
        )
    finally:
        notification_created.disconnect(receiver)


@pytest.mark.django_db(transaction=True)
def test_redis_down_is_logged_not_raised(alice, settings, caplog):
    # A real Redis client against a port where nothing listens.
    from config.settings import redis_channel_layers
    from tests.conftest import free_port

    settings.CHANNEL_LAYERS = redis_channel_layers(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="notifications"):
        created = notifications.send([alice], "saved anyway")
    assert Notification.objects.filter(pk=created[0].pk).exists()
    warnings = [r for r in caplog.records if r.name == "notifications.delivery"]
    assert len(warnings) == 1
    assert "Could not push 1 notification frame(s)" in warnings[0].getMessage()
    assert "ConnectionError" in warnings[0].getMessage()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_no_channel_layer_at_all_still_delivers_in_process(alice, settings):
    """Without CHANNEL_LAYERS the local transport serves the process's own sockets."""
    settings.CHANNEL_LAYERS = {}
    async with connected(alice) as ws:
        await handshake(ws)
        await send(alice, "no layer needed")
        assert (await ws.receive_json_from(timeout=5))["notification"]["message"] == (
            "no layer needed"
        )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_500_in_one_transaction_push_after_commit_in_cursor_order(alice, redis_layer):
    """TX-04, on the real Redis layer (capacity 1000; the in-memory layer keeps 100)."""

    @sync_to_async
    def create_500(before_commit):
        with transaction.atomic():
            Notification.objects.bulk_create(
                Notification(recipient=alice, message=str(i)) for i in range(500)
            )
            before_commit.append(True)

    async with connected(alice) as ws:
        await handshake(ws)
        flag = []
        await create_500(flag)
        assert flag == [True]
        frames = [await ws.receive_json_from(timeout=5) for _ in range(500)]
        assert [f["notification"]["cursor"] for f in frames] == list(range(1, 501))
        assert frames[-1]["unread_count"] == 500
        assert await ws.receive_nothing(timeout=0.3)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_anonymous_socket_creates_no_group_in_redis(redis_layer):
    """AUTH-01/02: no shared 'user_None'-style group ever exists."""
    import redis.asyncio

    from config.settings import redis_channel_layers

    prefix = redis_channel_layers(redis_layer)["default"]["CONFIG"]["prefix"]
    client = redis.asyncio.Redis.from_url(redis_layer)
    try:
        async with connected(None) as ws:
            await ws.connect(timeout=5)
            assert (await ws.receive_output(timeout=5))["code"] == 4401
        keys = [k async for k in client.scan_iter(match=f"{prefix}*group*")]
        assert keys == []
    finally:
        await client.aclose()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_queryset_changes_push_to_every_affected_user(alice, bob):
    """Admin actions and a project's own code keep tabs in step, not only the HTTP API."""

    @sync_to_async
    def change(action):
        both = Notification.objects.filter(recipient__in=[alice, bob])
        if action == "read":
            assert both.mark_read() == 3
        elif action == "unread":
            assert both.mark_unread() == 3
        else:
            both.filter(recipient=alice).first().delete()

    await send([alice, bob], "one")
    await send(alice, "two")
    async with connected(alice) as a, connected(bob) as b:
        await handshake(a)
        await handshake(b)
        await change("read")
        frame_a, frame_b = (
            await a.receive_json_from(timeout=5),
            await b.receive_json_from(timeout=5),
        )
        assert (frame_a["type"], len(frame_a["ids"]), frame_a["unread_count"]) == (
            "notification.read",
            2,
            0,
        )
        assert (frame_b["type"], len(frame_b["ids"])) == ("notification.read", 1)
        await change("unread")
        assert (await a.receive_json_from(timeout=5))["unread_count"] == 2
        assert (await b.receive_json_from(timeout=5))["type"] == "notification.unread"
        await change("delete")
        frame = await a.receive_json_from(timeout=5)
        assert (frame["type"], frame["unread_count"]) == ("notification.deleted", 1)
        assert await b.receive_nothing(timeout=0.3)
