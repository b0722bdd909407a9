"""Session authentication of sockets: key rotation, revalidation, logout."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings

from tests.conftest import connected, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

OLD_KEY = "old-secret-key-" + "x" * 40
NEW_KEY = "new-secret-key-" + "y" * 40


async def handshake(ws):
    assert (await ws.connect(timeout=5))[0]
    return await ws.receive_json_from(timeout=5)


@sync_to_async
def session_exists(cookie):
    key = cookie.split("=", 1)[1]
    return SessionStore().exists(key)


async def test_rotated_secret_key_keeps_socket_and_http_session(alice):
    with override_settings(SECRET_KEY=OLD_KEY):
        cookie = await sync_to_async(session_cookie)(alice)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        async with connected(cookie=cookie) as ws:
            assert (await handshake(ws))["type"] == "state"
    # Channels' stock get_user would have flushed it: HTTP logged out too.
    assert await session_exists(cookie)


async def test_unknown_secret_key_is_anonymous_but_session_untouched(alice):
    with override_settings(SECRET_KEY=OLD_KEY):
        cookie = await sync_to_async(session_cookie)(alice)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        async with connected(cookie=cookie) as ws:
            await ws.connect(timeout=5)
            assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    assert await session_exists(cookie)


@pytest.mark.parametrize("change", ["password", "deactivate", "delete_user"])
async def test_user_change_closes_idle_sockets_at_once(alice, change):
    """AUTH-07, issue 14.2: an idle socket (it never sends a frame) is closed 4401 promptly.

    REVALIDATE_SECONDS stays at an hour: the close comes from the user's save
    or deletion, not from a timer or from client traffic.
    """
    cookie = await sync_to_async(session_cookie)(alice)
    survivor = await sync_to_async(session_cookie)(alice)

    @sync_to_async
    def revoke():
        if change == "password":
            alice.set_password("changed")
            alice.save()
        elif change == "deactivate":
            alice.is_active = False
            alice.save()
        else:
            alice.delete()

    with override_settings(NOTIFICATIONS={"REVALIDATE_SECONDS": 3600}):
        async with connected(cookie=cookie) as ws, connected(cookie=survivor) as other:
            await handshake(ws)
            await handshake(other)
            await revoke()
            for socket in (ws, other):
                assert await socket.receive_output(timeout=5) == {
                    "type": "websocket.close",
                    "code": 4401,
                }


async def test_password_change_closes_old_socket_and_new_cookie_connects(alice):
    """Django cycles the changing session's key: its old socket closes, the new cookie works.

    4440, not 4401: the session is gone, not logged out, so the client
    reconnects with the cookie the browser now holds (and stays connected).
    """
    cookie = await sync_to_async(session_cookie)(alice)

    @sync_to_async
    def change_password_in_that_session():
        from django.test import Client

        client = Client()
        client.cookies.load(cookie)
        new = "A-new-pw-123"
        response = client.post(
            "/admin/password_change/",
            {"old_password": "pw", "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 302, response.content[:500]
        return f"sessionid={client.cookies['sessionid'].value}"

    await sync_to_async(type(alice).objects.filter(pk=alice.pk).update)(is_staff=True)
    async with connected(cookie=cookie) as ws:
        await handshake(ws)
        new_cookie = await change_password_in_that_session()
        assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4440}
    assert new_cookie != cookie
    async with connected(cookie=new_cookie) as ws:
        assert (await handshake(ws))["type"] == "state"


async def test_deleted_session_is_closed_4440_at_next_revalidation_without_traffic(alice):
    """AUTH-07: a session deleted behind our back (no signal) is found by the periodic check.

    Closed 4440 (gone): the client reconnects once with its current cookie,
    which, logging nobody in, is then refused 4401.
    """
    cookie = await sync_to_async(session_cookie)(alice)
    with override_settings(NOTIFICATIONS={"REVALIDATE_SECONDS": 0.2}):
        async with connected(cookie=cookie) as ws:
            await handshake(ws)
            await sync_to_async(SessionStore(cookie.split("=", 1)[1]).delete)()
            assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4440}
        async with connected(cookie=cookie) as again:
            await again.connect(timeout=5)
            assert await again.receive_output(timeout=5) == {
                "type": "websocket.close",
                "code": 4401,
            }


async def test_logout_over_http_closes_that_sessions_sockets_only(alice):
    cookie = await sync_to_async(session_cookie)(alice)
    other_cookie = await sync_to_async(session_cookie)(alice)

    @sync_to_async
    def logout():
        from django.test import Client

        client = Client()
        client.cookies.load(cookie)
        assert client.post("/logout/").status_code == 302

    async with (
        connected(cookie=cookie) as ws1,
        connected(cookie=cookie) as ws2,
        connected(cookie=other_cookie) as other,
    ):
        for ws in (ws1, ws2, other):
            await handshake(ws)
        await logout()
        for ws in (ws1, ws2):
            assert await ws.receive_output(timeout=5) == {
                "type": "websocket.close",
                "code": 4401,
            }
        # Another browser of the same user stays connected.
        await other.send_json_to({"action": "ping"})
        assert (await other.receive_json_from(timeout=5))["type"] == "pong"
    # AUTH-06: and the logged-out cookie cannot reconnect.
    async with connected(cookie=cookie) as again:
        await again.connect(timeout=5)
        assert await again.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


# The handshake's fast lookups -----------------------------------------------------


async def test_fast_user_lookup_is_what_model_backend_returns(alice):
    from django.contrib.auth.backends import ModelBackend

    from notifications.auth import _fast

    @sync_to_async
    def compare():
        type(alice).objects.filter(pk=alice.pk).update(
            first_name="Alice", last_login=alice.date_joined
        )
        backend = ModelBackend()
        assert _fast.plain_user(backend)
        fast, slow = _fast.user(backend, alice.pk), backend.get_user(alice.pk)
        fields = [f.attname for f in type(alice)._meta.concrete_fields]
        assert [getattr(fast, f) for f in fields] == [getattr(slow, f) for f in fields]
        assert fast._state.adding is False
        type(alice).objects.filter(pk=alice.pk).update(is_active=False)
        assert _fast.user(backend, alice.pk) is None  # user_can_authenticate, as Django's.
        assert _fast.user(backend, 10**9) is None

    await compare()


async def test_expired_session_is_anonymous_on_the_fast_path(alice):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    cookie = await sync_to_async(session_cookie)(alice)
    await Session.objects.filter(session_key=cookie.split("=", 1)[1]).aupdate(
        expire_date=timezone.now()
    )
    async with connected(cookie=cookie) as ws:
        await ws.connect(timeout=5)
        assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_other_session_engines_and_backends_use_their_own_api(alice, settings):
    """cached_db (cache first) and a backend of the project's are never bypassed."""
    from django.contrib.auth.backends import ModelBackend

    from notifications.auth import _fast

    class Project(ModelBackend):
        def get_user(self, user_id):
            return None  # e.g. a ban list

    assert not _fast.plain_user(Project())
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    cookie = await sync_to_async(session_cookie)(alice)
    async with connected(cookie=cookie) as ws:
        assert (await handshake(ws))["type"] == "state"


async def test_rotated_secret_key_through_daphne_keeps_socket_and_http_session(alice, redis_layer):
    """AUTH-08 across processes: a Daphne running the new key, the old one in the fallbacks.

    The cookie was issued under the old key. The socket authenticates; the
    first HTTP request stays logged in, and Django gives the session a new key
    (``cycle_key``) in its ``Set-Cookie``. The socket's next revalidation finds
    the old key gone and closes it 4440 (reconnect), not 4401 (logged out);
    the reconnect with the browser's new cookie is logged in.
    """
    import asyncio
    import json
    import urllib.error
    import urllib.request
    from http.cookies import SimpleCookie

    import websockets

    from tests.conftest import DaphneServer, database_url_for_children

    with override_settings(SECRET_KEY=OLD_KEY):
        cookie = await sync_to_async(session_cookie)(alice)
    server = await sync_to_async(DaphneServer)(
        database_url_for_children(),
        redis_layer,
        "tests.daphne_settings",
        extra_env={
            "DJANGO_SECRET_KEY": NEW_KEY,
            "TEST_SECRET_KEY_FALLBACKS": json.dumps([OLD_KEY]),
            "TEST_NOTIFICATIONS": json.dumps({"REVALIDATE_SECONDS": 0.5}),
        },
    )

    def get(path, cookie):
        request = urllib.request.Request(server.url + path, headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as error:
            return error.code, []

    def connect(cookie):
        return websockets.connect(
            server.ws_url, additional_headers={"Cookie": cookie, "Origin": server.url}
        )

    async def next_frame(ws):
        return json.loads(await asyncio.wait_for(ws.recv(), 5))

    try:
        async with connect(cookie) as ws:
            assert (await next_frame(ws))["type"] == "state"
            status, set_cookies = await asyncio.to_thread(
                get, "/notifications/api/unread-count/", cookie
            )
            assert status == 200
            [morsel] = [m for c in set_cookies for m in SimpleCookie(c).values()]
            new_cookie = f"{morsel.key}={morsel.value}"
            assert new_cookie != cookie
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                while True:
                    await next_frame(ws)
            assert closed.value.rcvd.code == 4440
        async with connect(new_cookie) as ws:
            assert (await next_frame(ws))["type"] == "state"
        assert (await asyncio.to_thread(get, "/notifications/api/unread-count/", new_cookie))[
            0
        ] == 200
    finally:
        await sync_to_async(server.stop)()
