"""Push after commit, signals, and failures that must not reach the caller."""

import asyncio
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


# Transports -----------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_redis_presence_lets_senders_skip_offline_users(alice, bob, redis_layer):
    """Only users with a socket somewhere cost a count query and a frame."""
    from notifications import delivery

    transport = delivery.get_transport()
    assert transport.name == "redis"
    keys = [delivery.user_key(alice.pk), delivery.user_key(bob.pk)]
    async with connected(alice) as ws:
        await handshake(ws)
        assert await sync_to_async(transport.online)(keys) == {keys[0]}
    # Detaching is flushed asynchronously: wait for it, bounded.
    for _ in range(100):
        if await sync_to_async(transport.online)(keys) == set():
            break
        await asyncio.sleep(0.02)
    assert await sync_to_async(transport.online)(keys) == set()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_redis_blip_shorter_than_the_grace_sends_a_resync(alice, private_redis, settings):
    """RED-05-ish: a lost subscription that comes back costs each socket one resync frame."""
    settings.NOTIFICATIONS = {"OUTAGE_GRACE_SECONDS": 30}
    async with connected(alice) as ws:
        await handshake(ws)
        private_redis.stop()
        private_redis.start()
        frame = await ws.receive_json_from(timeout=15)
        assert frame == {"type": "resync"}
        # And pushes flow again through the new subscription.
        await send(alice, "after the blip")
        frame = await ws.receive_json_from(timeout=5)
        assert frame["notification"]["message"] == "after the blip"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_flushall_rewrites_presence_and_resyncs(alice, private_redis, monkeypatch):
    """RED-05: Redis forgot who is online (FLUSHALL): the hub notices, re-registers, resyncs."""
    import redis as redis_py

    from notifications import delivery

    monkeypatch.setattr(delivery, "_HEARTBEAT_SECONDS", 0.2)
    async with connected(alice) as ws:
        await handshake(ws)
        await sync_to_async(redis_py.Redis.from_url(private_redis.url).flushall)()
        assert await ws.receive_json_from(timeout=10) == {"type": "resync"}
        await send(alice, "found again")
        frame = await ws.receive_json_from(timeout=5)
        assert frame["notification"]["message"] == "found again"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("layer", ["in-memory", "redis"])
async def test_channel_layer_transport_delivers_through_a_stock_layer(alice, settings, layer):
    """The slower path: any Channels layer carries the hubs' batches (one group_send each)."""
    from channels.layers import channel_layers

    from notifications import delivery
    from tests.conftest import TEST_REDIS_URL, redis_problem, require

    if layer == "redis":
        require("Redis", redis_problem())
        from config.settings import redis_channel_layers

        settings.CHANNEL_LAYERS = redis_channel_layers(TEST_REDIS_URL)
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.NOTIFICATIONS = {"TRANSPORT": "channel_layer"}
    channel_layers.backends = {}
    assert delivery.get_transport().name == "channel_layer"
    async with connected(alice) as ws, connected(alice) as ws2:
        await handshake(ws)
        await handshake(ws2)
        for i in range(3):
            await send(alice, f"via the layer {i}")
        for socket in (ws, ws2):
            messages = [(await socket.receive_json_from(timeout=5)) for _ in range(3)]
            assert [m["notification"]["message"] for m in messages] == [
                f"via the layer {i}" for i in range(3)
            ]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_local_poller_pushes_what_another_process_committed(alice, settings):
    """The embedded default: a row no push announced (as from the shell) is found in the DB."""
    from notifications import delivery

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.NOTIFICATIONS = {"LOCAL_POLL_SECONDS": 0.1}
    assert delivery.get_transport().name == "local"

    @sync_to_async
    def send_elsewhere():
        with delivery.muted():  # This process pushes nothing: like another one.
            return notifications.send(alice, "from the shell")

    async with connected(alice) as ws:
        await handshake(ws)
        [n] = await send_elsewhere()
        frame = await ws.receive_json_from(timeout=5)
        assert frame["notification"]["id"] == n.pk
        assert frame["unread_count"] == 1
        await send(alice, "from here")  # Pushed directly, and not again by the poller.
        assert (await ws.receive_json_from(timeout=5))["notification"]["message"] == "from here"
        assert await ws.receive_nothing(timeout=0.5)


def test_dropped_frames_are_counted_and_logged_once_per_window(caplog):
    """Every frame a sender could not publish is in a WARNING count, even the last ones."""
    import threading

    from notifications import delivery

    dropped = delivery._Dropped()
    logged = threading.Event()
    original = dropped.flush

    def flush():
        original()
        logged.set()

    dropped.flush = flush
    with caplog.at_level(logging.WARNING, logger="notifications"):
        dropped.add(3, ConnectionError("down"))  # Logged at once.
        logged.clear()
        dropped.logged_at -= delivery._LOG_EVERY_SECONDS - 0.2  # The window ends soon.
        dropped.add(4, "Redis was unreachable a moment ago")  # Held for the window's end,
        dropped.add(5, "Redis was unreachable a moment ago")  # with this one.
        assert logged.wait(5)
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(" notification")[0] for m in messages] == [
        "Could not push 3",
        "Could not push 9",
    ]


# Recovery, capacity, expiry, routing (RELIABILITY DEL-03, DEL-07, DEL-09, TX-06, IDOR-06) ---


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_ten_thousand_missed_are_one_page_then_complete_false_then_exact_over_http(alice):
    """DEL-03: a first page and ``complete: false``; paging over HTTP recovers all, once each."""

    @sync_to_async
    def miss_ten_thousand():
        with transaction.atomic():
            Notification.objects.bulk_create(
                Notification(recipient=alice, message=f"missed {i}") for i in range(10_000)
            )
        return set(Notification.objects.filter(recipient=alice).values_list("pk", flat=True))

    async with connected(alice) as ws:
        await handshake(ws)  # cursor 0: the client has seen nothing yet
    created = await miss_ten_thousand()  # ... while it is offline
    async with connected(alice) as ws:
        assert (await ws.connect(timeout=5))[0]
        assert (await ws.receive_json_from(timeout=5))["cursor"] == 10_000
        await ws.send_json_to({"action": "sync", "after": 0})
        page = await ws.receive_json_from(timeout=10)
        assert page["type"] == "sync"
        assert page["complete"] is False
        assert [n["cursor"] for n in page["notifications"]] == list(range(1, 101))

    @sync_to_async
    def recover_over_http(after):
        client = Client()
        client.force_login(alice)
        got, url = [], f"/notifications/api/notifications/?after={after}&limit=100"
        while url:
            body = client.get(url).json()
            got += body["results"]
            url = body["next"]
        assert body["complete"] is True
        return got

    rest = await recover_over_http(100)
    held = page["notifications"] + rest
    assert [n["cursor"] for n in held] == list(range(1, 10_001))
    assert {n["id"] for n in held} == created
    assert len(held) == len(created)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_channel_layer_transport_keeps_its_group_past_a_short_group_expiry(alice, settings):
    """DEL-07: group_expiry=3 s on channels-redis; an idle server still gets pushes at 7 s.

    The refresh runs every second, so a loaded machine may delay one by up to 2 s
    (it flaked once at group_expiry=2 under a full parallel run)."""
    from channels.layers import channel_layers

    from config.settings import redis_channel_layers
    from notifications import delivery
    from tests.conftest import TEST_REDIS_URL, redis_problem, require

    require("Redis", redis_problem())
    layers = redis_channel_layers(TEST_REDIS_URL)
    layers["default"]["CONFIG"]["group_expiry"] = 3
    settings.CHANNEL_LAYERS = layers
    settings.NOTIFICATIONS = {"TRANSPORT": "channel_layer", "GROUP_REFRESH_SECONDS": 1}
    channel_layers.backends = {}
    assert delivery.get_transport().name == "channel_layer"
    async with connected(alice) as ws:
        await handshake(ws)
        await asyncio.sleep(7)  # the scenario is time passing: two expiries, no traffic
        await send(alice, "still subscribed")
        frame = await ws.receive_json_from(timeout=5)
        assert frame["notification"]["message"] == "still subscribed"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", ["redis", "channel_layer"])
async def test_blocked_server_ends_up_with_all_150_by_push_plus_cursor_sync(
    alice, settings, transport
):
    """DEL-09: the server's event loop is blocked while 150 are sent to a capacity-100 layer.

    On the ``redis`` transport nothing is lost (pub/sub buffers in the socket);
    on the ``channel_layer`` transport the layer drops what exceeds its capacity
    (silently: that is channels-redis), so at most 100 arrive as pushes; the
    next ``pong`` carries the cursor that shows the gap, and a ``sync`` after
    the last contiguous cursor returns exactly the rest.
    """
    import threading

    from channels.layers import channel_layers

    from config.settings import redis_channel_layers
    from notifications import delivery
    from tests.conftest import TEST_REDIS_URL, redis_problem, require

    require("Redis", redis_problem())
    layers = redis_channel_layers(TEST_REDIS_URL)
    layers["default"]["CONFIG"]["capacity"] = 100
    settings.CHANNEL_LAYERS = layers
    settings.NOTIFICATIONS = {"TRANSPORT": transport}
    channel_layers.backends = {}
    assert delivery.get_transport().name == transport

    def send_150():
        from django.db import connection

        try:
            for i in range(150):
                notifications.send(alice, f"while blocked {i}")
        finally:
            connection.close()

    async with connected(alice) as ws:
        await handshake(ws)
        sender = threading.Thread(target=send_150)
        sender.start()
        sender.join(60)  # blocks this event loop, and so the hub, until all 150 are sent
        assert not sender.is_alive()
        pushed = []
        while not await ws.receive_nothing(timeout=1):
            pushed.append((await ws.receive_json_from(timeout=5))["notification"]["cursor"])
        assert pushed == list(range(1, len(pushed) + 1)), pushed  # in order, no duplicate
        if transport == "redis":
            assert len(pushed) == 150
        else:
            assert len(pushed) <= 101
        await ws.send_json_to({"action": "ping"})
        pong = await ws.receive_json_from(timeout=5)
        assert pong["cursor"] == 150  # the gap, told by the heartbeat
        await ws.send_json_to({"action": "sync", "after": len(pushed)})
        page = await ws.receive_json_from(timeout=5)
        recovered = [n["cursor"] for n in page["notifications"]]
        assert pushed + recovered == list(range(1, 151))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outcome", ["ok", "fail"])
async def test_atomic_requests_view_pushes_after_its_commit_and_never_for_a_500(
    alice, settings, monkeypatch, outcome
):
    """TX-06: under ATOMIC_REQUESTS a push waits for the request's commit; a 500 sends nothing."""
    from django.db import connection

    settings.ROOT_URLCONF = "tests.atomic_urls"
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)

    @sync_to_async
    def request():
        client = Client(raise_request_exception=False)
        client.force_login(alice)
        return client.post(f"/tx/{outcome}/").status_code

    async with connected(alice) as ws:
        await handshake(ws)
        status = await request()
        if outcome == "ok":
            assert status == 204
            frame = await ws.receive_json_from(timeout=5)
            assert frame["notification"]["message"] == "committed with the request"
            assert await Notification.objects.filter(recipient=alice).acount() == 1
        else:
            assert status == 500
            assert await ws.receive_nothing(timeout=1)
            assert not await Notification.objects.filter(recipient=alice).aexists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [1, 2])
async def test_random_interleavings_reach_exactly_their_recipients(alice, bob, settings, seed):
    """IDOR-06, a property over random interleavings (seeded, so a failure replays).

    Alice has two sockets, Bob one; 1000 notifications go out in random
    transactions of 1-5 sends, each to Alice, Bob or both. Every Alice socket
    gets exactly Alice's, in cursor order, and Bob's exactly Bob's.
    """
    import random

    rng = random.Random(seed)
    # Routing is the property under test, not flow control: no resync mid-way.
    settings.NOTIFICATIONS = {"MAX_UNACKED_BYTES": 64 * 1024 * 1024}

    @sync_to_async
    def send_randomly():
        expected = {alice.pk: [], bob.pk: []}
        total = 0
        while total < 1000:
            with transaction.atomic():
                for _ in range(rng.randint(1, 5)):
                    recipients = rng.choice([[alice], [bob], [alice, bob]])
                    for n in notifications.send(recipients, f"n{total}"):
                        expected[n.recipient_id].append(n.pk)
                        total += 1
        return expected

    async with connected(alice) as a1, connected(alice) as a2, connected(bob) as b:
        for ws in (a1, a2, b):
            await handshake(ws)
        expected = await send_randomly()
        for ws, user in ((a1, alice), (a2, alice), (b, bob)):
            got = []
            for _ in expected[user.pk]:
                got.append((await ws.receive_json_from(timeout=10))["notification"]["id"])
            assert got == expected[user.pk], f"seed {seed}"
            assert await ws.receive_nothing(timeout=0.2)


@pytest.mark.django_db(transaction=True)
def test_push_that_raises_after_commit_reaches_no_caller_and_later_callbacks_run(
    alice, monkeypatch, caplog
):
    """TX-05: a failure in the push (here: its database query) is logged, not raised."""
    from notifications import push

    def broken(notifications):
        raise RuntimeError("the unread count query failed")

    monkeypatch.setattr(push, "created", broken)
    ran = []
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        [n] = notifications.send(alice, "saved anyway")
        transaction.on_commit(lambda: ran.append("later callback"))
    assert ran == ["later callback"]
    assert Notification.objects.filter(pk=n.pk).exists()
    assert "the unread count query failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_web_push_that_raises_after_commit_reaches_no_caller(alice, monkeypatch, caplog):
    """TX-05 for the Web Push path: its after-commit work is robust too."""
    from notifications import webpush

    def broken(notifications, category):
        raise RuntimeError("the subscriptions query failed")

    monkeypatch.setattr(webpush, "configured", lambda: True)
    monkeypatch.setattr(webpush, "push_offline", broken)
    ran = []
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        [n] = notifications.send(alice, "saved anyway")
        transaction.on_commit(lambda: ran.append("later callback"))
    assert ran == ["later callback"]
    assert Notification.objects.filter(pk=n.pk).exists()
    assert "the subscriptions query failed" in caplog.text
