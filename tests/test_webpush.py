"""Web Push end to end without internet: the test is the push service.

The browser's side is played by an ECDH key pair and an auth secret; the push
service is a local HTTP endpoint that checks the VAPID JWT and decrypts the
payload with http_ece, as a real push service and browser would.
"""

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

import notifications
from notifications import checks, webpush
from notifications.models import NotificationPreference, PushSubscription
from tests.conftest import connected


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_keys():
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    public = b64(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    return public, private


PUBLIC, PRIVATE = vapid_keys()
SUBJECT = "mailto:ops@example.com"
CATEGORIES = {
    "billing": {"label": "Billing", "default": {"push": False}},
    "chat": {"label": "Chat"},
}


@pytest.fixture(autouse=True)
def keys(settings):
    settings.NOTIFICATIONS = {
        "CATEGORIES": CATEGORIES,
        "WEBPUSH_VAPID_PUBLIC_KEY": PUBLIC,
        "WEBPUSH_VAPID_PRIVATE_KEY": PRIVATE,
        "WEBPUSH_VAPID_SUBJECT": SUBJECT,
    }


class Browser:
    """A browser's push subscription: its ECDH key pair and auth secret."""

    def __init__(self, service, name):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.endpoint = f"{service.url}/push/{name}"
        self.p256dh = b64(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def json(self):
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": b64(self.auth)}}

    def subscribe(self, user):
        return PushSubscription.objects.create(
            user=user, endpoint=self.endpoint, p256dh=self.p256dh, auth=b64(self.auth)
        )

    def decrypt(self, body: bytes) -> dict:
        return json.loads(
            http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        )


class PushService:
    """A local push service: checks VAPID, keeps what it received, answers a chosen status."""

    def __init__(self):
        self.received = []  # (name, headers, body, claims)
        self.status = {}  # name -> HTTP status (default 201)
        self.hold = None  # a threading.Event requests wait on
        self.cond = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                name = self.path.rsplit("/", 1)[-1]
                claims = service.check_vapid(self.headers["Authorization"])
                if service.hold is not None:
                    with service.cond:
                        service.received.append(
                            (name, {k.lower(): v for k, v in self.headers.items()}, body, claims)
                        )
                        service.cond.notify_all()
                    service.hold.wait(10)
                else:
                    with service.cond:
                        service.received.append(
                            (name, {k.lower(): v for k, v in self.headers.items()}, body, claims)
                        )
                        service.cond.notify_all()
                self.send_response(service.status.get(name, 201))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def check_vapid(self, header: str) -> dict:
        """Verify the RFC 8292 ``vapid t=JWT,k=KEY`` header; return the JWT's claims."""
        scheme, _, params = header.partition(" ")
        assert scheme == "vapid"
        fields = dict(part.split("=", 1) for part in params.split(","))
        assert fields["k"] == PUBLIC
        head, claims, signature = fields["t"].split(".")
        assert json.loads(unb64(head)) == {"typ": "JWT", "alg": "ES256"}
        raw = unb64(signature)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(PUBLIC))
        public.verify(
            encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
            f"{head}.{claims}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )  # Raises InvalidSignature.
        return json.loads(unb64(claims))

    def wait_for(self, count, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.received) >= count, timeout), self.received
        return self.received

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service():
    service = PushService()
    yield service
    service.close()


pytestmark = pytest.mark.django_db(transaction=True)


def test_offline_user_gets_an_encrypted_push_signed_with_vapid(alice, service):
    browser = Browser(service, "alice-laptop")
    browser.subscribe(alice)
    [n] = notifications.send(alice, "Carol wrote to you", title="Message", url="/chat/3/")
    assert webpush.flush(10)
    [(name, headers, body, claims)] = service.wait_for(1)
    assert name == "alice-laptop"
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    assert body and b"Carol" not in body  # Encrypted.
    assert browser.decrypt(body) == {
        "id": n.pk,
        "title": "Message",
        "body": "Carol wrote to you",
        "url": "/chat/3/",
        "category": "",
        "level": "info",
        "tag": f"notification-{n.pk}",
    }
    assert claims["aud"] == service.url
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert PushSubscription.objects.get().last_push_at is not None


def test_every_browser_of_the_user_gets_it_and_nobody_else(alice, bob, service):
    Browser(service, "a1").subscribe(alice)
    Browser(service, "a2").subscribe(alice)
    Browser(service, "b1").subscribe(bob)
    notifications.send(alice, "only alice")
    assert webpush.flush(10)
    assert sorted(r[0] for r in service.wait_for(2)) == ["a1", "a2"]


def test_a_repeated_key_pushes_nothing_new(alice, bob, service):
    Browser(service, "alice").subscribe(alice)
    Browser(service, "bob").subscribe(bob)
    [first] = notifications.send(alice, "invoice 7 is due", key="invoice-7")
    assert webpush.flush(10)
    assert [r[0] for r in service.wait_for(1)] == ["alice"]
    # The same key again: alice gets her row back and no second push; bob is new.
    sent = notifications.send([alice, bob], "invoice 7 is due", key="invoice-7")
    assert sent[0].pk == first.pk
    assert webpush.flush(10)
    assert sorted(r[0] for r in service.wait_for(2)) == ["alice", "bob"]


@pytest.mark.parametrize("status", [404, 410])
def test_expired_subscription_is_deleted(alice, service, status):
    Browser(service, "gone").subscribe(alice)
    Browser(service, "fine").subscribe(alice)
    service.status["gone"] = status
    notifications.send(alice, "hi")
    assert webpush.flush(10)
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        f"{service.url}/push/fine"
    ]


def test_other_failures_keep_the_subscription(alice, service):
    Browser(service, "busy").subscribe(alice)
    service.status["busy"] = 503
    notifications.send(alice, "hi")
    assert webpush.flush(10)
    assert PushSubscription.objects.count() == 1


def test_push_follows_the_category_preference(alice, bob, service):
    Browser(service, "alice").subscribe(alice)
    Browser(service, "bob").subscribe(bob)
    NotificationPreference.objects.create(
        user=bob, category="billing", channel="push", enabled=True
    )
    NotificationPreference.objects.create(
        user=alice, category="chat", channel="push", enabled=False
    )
    notifications.send([alice, bob], "invoice", category="billing")  # push off by default
    notifications.send([alice, bob], "hello", category="chat")
    assert webpush.flush(10)
    received = service.wait_for(2)  # flush() returned: nothing more is in flight.
    assert sorted(r[0] for r in received) == ["bob", "bob"]


def test_send_does_not_wait_for_the_push_service(alice, service):
    Browser(service, "slow").subscribe(alice)
    service.hold = threading.Event()
    started = time.monotonic()
    notifications.send(alice, "hi")
    returned = time.monotonic() - started
    service.wait_for(1)  # The push service is holding the request now...
    assert not service.hold.is_set()  # ...and send() had already returned.
    assert returned < 2
    service.hold.set()
    assert webpush.flush(10)


def test_rolled_back_send_pushes_nothing(alice, service):
    from django.db import transaction

    Browser(service, "a").subscribe(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.send(alice, "never")
        raise RuntimeError
    assert webpush.flush(10)
    assert service.received == []


def test_without_keys_send_asks_nothing_more(alice, settings, django_assert_num_queries, service):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    Browser(service, "a").subscribe(alice)
    with CaptureQueriesContext(connection) as with_keys:
        notifications.send(alice, "with keys")
    settings.NOTIFICATIONS = {"CATEGORIES": CATEGORIES}
    with CaptureQueriesContext(connection) as without:
        notifications.send(alice, "without")
    assert not any("pushsubscription" in q["sql"] for q in without.captured_queries)
    assert any("pushsubscription" in q["sql"] for q in with_keys.captured_queries)
    assert webpush.flush(10)


@pytest.mark.asyncio
async def test_a_user_with_an_open_socket_gets_no_push(alice, bob, service):
    await sync_to_async(Browser(service, "alice").subscribe)(alice)
    await sync_to_async(Browser(service, "bob").subscribe)(bob)
    async with connected(alice) as ws:
        accepted, _ = await ws.connect(timeout=5)
        assert accepted
        await ws.receive_json_from(timeout=5)  # state
        await sync_to_async(notifications.send)([alice, bob], "are you there?")
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] == "notification.created"  # Alice sees it live...
        assert await sync_to_async(webpush.flush)(10)
    assert [r[0] for r in service.received] == ["bob"]  # ...so only Bob's browser is pushed.


# The browser's endpoints ----------------------------------------------------------


def post_json(client, name, body):
    return client.post(reverse(name), json.dumps(body), content_type="application/json")


def test_subscribe_stores_the_browser_for_the_user(client, alice, bob, service):
    browser = Browser(service, "x")
    client.force_login(alice)
    response = post_json(client, "notifications:api-push-subscribe", browser.json())
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert (subscription.user, subscription.endpoint) == (alice, browser.endpoint)
    # The same browser, now logged in as Bob: the subscription moves to him.
    client.force_login(bob)
    assert post_json(client, "notifications:api-push-subscribe", browser.json()).status_code == 200
    assert PushSubscription.objects.get().user == bob


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: {**b, "endpoint": "http://push.example.com/x"}, "endpoint"),
        (lambda b: {**b, "endpoint": "javascript:alert(1)"}, "endpoint"),
        (lambda b: {**b, "keys": {**b["keys"], "p256dh": "AAAA"}}, "p256dh"),
        (lambda b: {**b, "keys": {**b["keys"], "auth": "!!"}}, "auth"),
        (lambda b: {"endpoint": b["endpoint"]}, "keys"),
        (lambda b: [b], "endpoint"),
    ],
)
def test_subscribe_rejects_bad_subscriptions_naming_the_field(
    client, alice, service, change, field
):
    client.force_login(alice)
    response = post_json(
        client, "notifications:api-push-subscribe", change(Browser(service, "x").json())
    )
    assert response.status_code == 400
    assert response["X-Invalid-Field"] == field
    assert not PushSubscription.objects.exists()


def test_subscribe_needs_csrf_and_login(alice, service):
    body = json.dumps(Browser(service, "x").json())
    url = reverse("notifications:api-push-subscribe")
    assert Client().post(url, body, content_type="application/json").status_code == 401
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url, body, content_type="application/json").status_code == 403
    assert not PushSubscription.objects.exists()


def test_unsubscribe_only_deletes_your_own(client, alice, bob, service):
    mine, theirs = Browser(service, "mine"), Browser(service, "theirs")
    mine.subscribe(alice)
    theirs.subscribe(bob)
    client.force_login(alice)
    url = "notifications:api-push-unsubscribe"
    assert post_json(client, url, {"endpoint": theirs.endpoint}).status_code == 404
    assert post_json(client, url, {"endpoint": mine.endpoint}).status_code == 200
    assert list(PushSubscription.objects.values_list("user", flat=True)) == [bob.pk]


def test_config_gives_the_public_key(client, alice):
    client.force_login(alice)
    assert client.get(reverse("notifications:api-push")).json() == {
        "public_key": PUBLIC,
        "subscribed": 0,
    }


def test_endpoints_answer_404_without_keys(client, alice, settings, service):
    settings.NOTIFICATIONS = {}
    client.force_login(alice)
    response = post_json(client, "notifications:api-push-subscribe", Browser(service, "x").json())
    assert response.status_code == 404 and response.json()["error"] == "push_disabled"
    assert client.get(reverse("notifications:api-push")).status_code == 404


def test_service_worker_may_control_the_whole_site(client):
    response = client.get(reverse("notifications:service-worker"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b'const HISTORY_URL = "/notifications/";' in response.content


# Keys and checks -------------------------------------------------------------------


def test_vapid_keys_command_prints_a_working_pair(capsys):
    from py_vapid import Vapid02

    call_command("notifications_vapid_keys")
    out = capsys.readouterr().out
    lines = dict(
        line.strip().rstrip(",").replace('"', "").split(": ", 1)
        for line in out.splitlines()
        if line.startswith('"')
    )
    public, private = lines["WEBPUSH_VAPID_PUBLIC_KEY"], lines["WEBPUSH_VAPID_PRIVATE_KEY"]
    assert len(unb64(public)) == 65 and len(unb64(private)) == 32
    derived = Vapid02.from_string(private).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64(derived) == public


@pytest.mark.parametrize(
    "override, check_id",
    [
        ({"WEBPUSH_VAPID_PUBLIC_KEY": "short"}, "notifications.E202"),
        ({"WEBPUSH_VAPID_PRIVATE_KEY": "!!"}, "notifications.E202"),
        ({"WEBPUSH_VAPID_PUBLIC_KEY": vapid_keys()[0]}, "notifications.E202"),
        ({"WEBPUSH_VAPID_SUBJECT": ""}, "notifications.E203"),
        ({"WEBPUSH_VAPID_SUBJECT": "ops@example.com"}, "notifications.E203"),
    ],
)
def test_checks_report_bad_web_push_settings(settings, override, check_id):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, **override}
    assert check_id in [m.id for m in checks.check_webpush()]


def test_checks_accept_good_web_push_settings():
    assert checks.check_webpush() == []


def test_admin_lists_subscriptions_and_cannot_add_them(admin_client, alice, service):
    Browser(service, "x").subscribe(alice)
    page = admin_client.get(reverse("admin:notifications_pushsubscription_changelist"))
    assert page.status_code == 200 and b"alice" in page.content
    assert admin_client.get(reverse("admin:notifications_pushsubscription_add")).status_code == 403
