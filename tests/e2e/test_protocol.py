"""The client's side of the socket protocol, against a fake socket (the HTTP API is real).

Acks ({"action": "ack", "frames": N}), the resync frame, close codes and
reconnect backoff (client/backoff.js nextDelay, replayed here in Python).
"""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest
from playwright.sync_api import expect

import notifications
from notifications.models import Notification
from tests.e2e.fakes import WIRE_RECORDER, FakeSocketServer

BELL = "[data-notifications-bell]"
ITEM = "[data-notifications-list] > li"
TOAST = ".ntf-toast"


@pytest.fixture
def fake_page(context, login, alice, live_server_url):
    """Alice's home page whose socket is a FakeSocketServer; returns (page, server)."""
    login(context, alice)

    def open_page(path="/", **kwargs):
        page = context.new_page()
        server = FakeSocketServer(page, alice, **kwargs)
        page.add_init_script(WIRE_RECORDER)  # after the route: it wraps Playwright's socket
        page.goto(live_server_url + path)
        if server.on_connect_state:
            expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
        return page, server

    return open_page


def pong(server):
    return {"type": "pong", **{k: v for k, v in server.state().items() if k != "type"}}


def created_frame(n_id, cursor, unread, **fields):
    notification = {
        "id": n_id, "cursor": cursor, "title": "", "message": f"m{cursor}", "level": "info",
        "level_number": 20, "url": "", "category": "", "data": None, "actor": None,
        "target": None, "created_at": "2026-12-02T12:00:00+00:00", "read": False, "read_at": None,
        **fields,
    }  # fmt: skip
    return {"type": "notification.created", "notification": notification, "unread_count": unread}


# Acks ----------------------------------------------------------------------------


def test_ack_counts_every_text_frame_including_state(fake_page):
    page, server = fake_page()
    frame = pong(server)
    for _ in range(249):
        server.send(frame)
    # 1 state + 249 pongs = 250: acks at 100 and 200 frames, the rest within ~1 s.
    server.wait(lambda: server.acks() and server.acks()[-1] == 250, what="an ack of 250 frames")
    acks = server.acks()
    assert acks == sorted(acks) and len(set(acks)) == len(acks)
    assert acks[0] >= 100 and len(acks) <= 4
    sent = page.evaluate("window.__wire.sent")
    times = [t for t, data in sent if json.loads(data).get("action") == "ack"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 199 for gap in gaps), gaps  # at most one ack per 200 ms


def test_a_single_frame_is_acked_after_one_second(fake_page):
    page, server = fake_page()
    server.wait(lambda: server.acks() == [1], what="the state frame's ack")
    server.send(pong(server))
    server.wait(lambda: server.acks() == [1, 2], what="the pong's ack")
    recv = page.evaluate("window.__wire.recv")
    sent = [t for t, d in page.evaluate("window.__wire.sent") if '"ack"' in d]
    delay = sent[-1] - recv[-1]
    assert 950 <= delay <= 1600, delay


def test_a_server_without_acks_gets_no_more_of_them(fake_page):
    page, server = fake_page()
    server.wait(lambda: server.acks() == [1], what="the state frame's ack")
    # What a server from before acks answers: then no ack loop (error -> ack -> error ...).
    server.send({"type": "error", "code": "unknown_action", "detail": "Known actions: ping, sync"})
    server.send(pong(server))
    page.wait_for_function("window.__wire.recv.length >= 3")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    page.wait_for_timeout(1500)  # longer than the 1 s ack delay: prove that none comes
    assert server.acks() == [1]


# Resync ----------------------------------------------------------------------------


def test_resync_fetches_after_cursor_reloads_list_and_acks_at_once(
    context, fake_page, alice, in_thread
):
    old = in_thread(lambda: [notifications.send(alice, f"old {i}")[0] for i in range(2)])
    page, server = fake_page()
    follower = context.new_page()  # a second tab: follows the leader's frames
    follower.goto(page.url)
    expect(follower.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    page.locator(BELL).click()
    expect(page.locator(ITEM)).to_have_count(2)
    server.wait(lambda: server.acks() == [1], what="the state frame's ack")

    # What the fake "dropped": three new ones, and old[0] read in another tab.
    in_thread(lambda: [notifications.send(alice, f"missed {i}") for i in range(3)])
    in_thread(lambda: Notification.objects.filter(pk=old[0].pk).update(read_at="2026-12-02T12:00Z"))
    requests = []
    # The list requests (an open inbox also POSTs what it showed to .../seen/).
    page.on(
        "request",
        lambda r: (
            "/api/notifications/" in r.url and "/seen/" not in r.url and requests.append(r.url)
        ),
    )

    server.send({"type": "resync"})
    server.wait(lambda: server.acks() == [1, 2], what="an ack right after the resync")
    recv = page.evaluate("window.__wire.recv")
    ack_at = [t for t, d in page.evaluate("window.__wire.sent") if '"ack"' in d][-1]
    assert ack_at - recv[-1] < 300  # not the 1 s timer: the server waits for it

    expect(page.locator(f"{TOAST} .ntf-message")).to_have_text([f"missed {i}" for i in range(3)])
    expect(page.locator(ITEM)).to_have_count(5)
    row = page.locator(f'{ITEM}[data-notification-id="{old[0].pk}"]')
    expect(row).to_have_attribute("data-read", "true")
    expect(page.locator("[data-notifications-unread]")).to_have_attribute(
        "data-notifications-unread", "4"
    )
    follower.locator(BELL).click()
    expect(follower.locator(f'{ITEM}[data-notification-id="{old[0].pk}"]')).to_have_attribute(
        "data-read", "true"
    )
    expect(follower.locator(ITEM)).to_have_count(5)
    # Once: one ?after= fetch and one reload of the latest page.
    assert len([u for u in requests if "after=" in u]) == 1, requests
    assert len([u for u in requests if "after=" not in u]) == 1, requests


def test_resyncs_during_a_recovery_are_folded_into_it(fake_page, alice, in_thread):
    page, server = fake_page()
    in_thread(lambda: [notifications.send(alice, f"missed {i}") for i in range(2)])
    requests = []
    # The list requests (an open inbox also POSTs what it showed to .../seen/).
    page.on(
        "request",
        lambda r: (
            "/api/notifications/" in r.url and "/seen/" not in r.url and requests.append(r.url)
        ),
    )
    for _ in range(5):
        server.send({"type": "resync"})
    expect(page.locator(TOAST)).to_have_count(2)
    page.wait_for_function(
        "document.querySelectorAll('[data-notifications-list] > li').length == 2"
    )
    page.wait_for_timeout(300)  # let a (wrong) extra pass start, if one were coming
    # Five resyncs, at most two passes (the one running, and one more for all the rest).
    assert len([u for u in requests if "after=" in u]) <= 2, requests
    assert len(requests) <= 4, requests


# Close codes --------------------------------------------------------------------------


def test_4401_stops_and_shows_offline(fake_page):
    page, server = fake_page()
    server.current.close(code=4401, reason="logged out")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "offline")
    assert page.evaluate("window.__wire.opened") == 1


def test_4408_reconnects_soon_and_recovers(fake_page, alice, in_thread):
    page, server = fake_page()
    in_thread(notifications.send, alice, "while behind")
    server.current.close(code=4408, reason="fell behind")
    # First retry after 4408: 0.25-1.25 s.
    server.wait(lambda: len(server.sockets) == 2, timeout=3, what="a reconnect")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    expect(page.locator(f"{TOAST} .ntf-message")).to_have_text(["while behind"])


@pytest.mark.parametrize("code", [4409, 4503])
def test_4409_and_4503_poll_over_http_while_waiting(fake_page, alice, in_thread, code):
    page, server = fake_page()
    requests = []
    page.on("request", lambda r: "after=" in r.url and requests.append(r.url))
    in_thread(notifications.send, alice, "by polling")
    server.current.close(code=code)
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "polling")
    expect(page.locator(f"{TOAST} .ntf-message")).to_have_text(["by polling"])
    assert requests


# Link safety (issue 14, item 5): one safeHref for every renderer ----------------------------


def test_unsafe_url_from_a_frame_is_never_a_link(fake_page):
    page, server = fake_page()
    state = server.state()
    server.send(created_frame(10**9, state["cursor"] + 1, 1, url="/\t/evil.example/", title="Tab"))
    toast = page.locator(TOAST)
    expect(toast).to_have_count(1)
    assert toast.locator("a").count() == 0
    page.locator(BELL).click()
    expect(page.locator(ITEM)).to_have_count(1)
    assert page.locator(f"{ITEM} a").count() == 0


# Backoff: the pure function, replayed in Python ----------------------------------------------


def next_delay(attempt: int, code: int, r: float) -> float | None:
    """The documented formula of client/backoff.js, for the server's load tests."""

    def normal(a: int) -> float:
        return 250 + r * (min(30000, 3000 * 2 ** min(max(a, 0), 16)) - 250)

    if code == 4401:
        return None
    if code == 4408:
        return 250 + r * 1000 if attempt == 0 else normal(attempt)
    if code == 4409:
        return 45000 + r * 30000
    if code == 4429:
        return normal(attempt + 1)
    return normal(attempt)


def test_next_delay_matches_its_documented_formula(alice_page_for_modules):
    page = alice_page_for_modules
    rng = random.Random(11)
    cases = [
        (attempt, code, r)
        for attempt in range(0, 12)
        for code in (1000, 1006, 1011, 1012, 4000, 4401, 4408, 4409, 4429, 4503)
        for r in (0.0, 0.5, 0.999999, rng.random())
    ]
    got = page.evaluate(
        """async (cases) => {
          const { nextDelay } = await import("/static/notifications/client/backoff.js");
          return cases.map(([a, c, r]) => nextDelay(a, c, r));
        }""",
        cases,
    )
    for (attempt, code, r), value in zip(cases, got, strict=True):
        expected = next_delay(attempt, code, r)
        assert (value is None) == (expected is None), (attempt, code, r)
        if expected is not None:
            assert math.isclose(value, expected, abs_tol=1e-6), (attempt, code, r, value)
            assert value >= 250  # never a tight loop
    first = [next_delay(0, 1006, r) for r in (0.0, 0.999999)]
    assert first[0] >= 250 and first[1] <= 3000
    assert max(next_delay(20, 1006, 0.999999), next_delay(20, 4503, 0.999999)) <= 30000


@pytest.fixture
def alice_page_for_modules(context, login, alice, live_server_url):
    login(context, alice)
    page = context.new_page()
    page.goto(live_server_url + "/")
    return page


# Gaps, duplicates, a silent server (RELIABILITY DEL-05, DEL-10, LIFE-04) ----------------


def test_a_cursor_gap_fetches_the_missing_and_duplicates_show_once(fake_page, alice, in_thread):
    """DEL-10: cursor 1 then 3: the client asks for what came after 1 at once.

    DEL-05: the same notification pushed again, and also recovered, is one toast
    and one row.
    """
    page, server = fake_page()
    sent = in_thread(lambda: [notifications.send(alice, f"m{i}")[0] for i in (1, 2, 3)])
    requests = []
    page.on("request", lambda r: "after=" in r.url and requests.append(r.url))

    def push(n, unread):
        server.send(created_frame(n.pk, n.cursor, unread, message=n.message))

    push(sent[0], 1)
    expect(page.locator(TOAST)).to_have_count(1)
    push(sent[2], 3)  # cursor 2 never arrives live
    server.wait(lambda: requests, what="a recovery request")
    assert "after=1" in requests[0], requests
    expect(page.locator(f"{TOAST} .ntf-message")).to_have_text(["m1", "m3", "m2"])
    push(sent[1], 3)  # late duplicate of what recovery brought
    push(sent[2], 3)
    page.wait_for_timeout(300)  # give a wrong second toast the time to appear
    expect(page.locator(TOAST)).to_have_count(3)
    page.locator(BELL).click()
    expect(page.locator(ITEM)).to_have_count(3)


def test_a_server_that_stops_answering_pings_is_dropped_and_reconnected(
    context, login, alice, live_server_url
):
    """LIFE-04: no pong within 10 s of a heartbeat (every 25 s): closed 4000, reconnected.

    Playwright's fake clock runs the 35 s of timers at once.
    """
    from tests.e2e.fakes import FakeSocketServer

    login(context, alice)
    page = context.new_page()
    page.clock.install()
    server = FakeSocketServer(page, alice)
    page.add_init_script(WIRE_RECORDER)
    page.goto(live_server_url + "/")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    page.clock.run_for(25_500)
    server.wait(lambda: any(m.get("action") == "ping" for m in server.received), what="a ping")
    assert server.closes == []
    page.clock.run_for(10_500)  # the fake server never answers it
    server.wait(lambda: server.closes, what="the client giving up")
    assert server.closes[0][0] == 4000, server.closes
    page.clock.run_for(3_500)  # first retry: 0.25-3 s
    server.wait(lambda: len(server.sockets) == 2, what="a reconnect")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")


def test_4440_session_gone_reconnects_and_a_4401_then_stops(fake_page):
    """AUTH-08: a session given a new key is closed 4440; the tab reconnects (new cookie).

    Had the browser's cookie logged nobody in, that handshake would be closed
    4401, and the tab stops there.
    """
    page, server = fake_page()
    server.current.close(code=4440, reason="session gone")
    server.wait(lambda: len(server.sockets) == 2, timeout=5, what="a reconnect")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "connected")
    server.current.close(code=4401, reason="logged out")
    expect(page.locator(BELL)).to_have_attribute("data-notifications-status", "offline")
    page.wait_for_timeout(500)
    assert len(server.sockets) == 2


def test_state_changes_missed_while_disconnected_are_recovered_on_reconnect(
    fake_page, alice, in_thread
):
    """The fake socket hears nothing: an archive and a pin made meanwhile show on reconnect."""
    [kept] = in_thread(notifications.send, alice, "kept")
    [gone] = in_thread(notifications.send, alice, "archived elsewhere")
    page, server = fake_page()
    page.locator(BELL).click()
    items = page.locator("[data-notifications-list] > li")
    expect(items).to_have_count(2)
    in_thread(lambda: Notification.objects.filter(pk=gone.pk).archive())
    in_thread(lambda: Notification.objects.filter(pk=kept.pk).pin())
    expect(items).to_have_count(2)  # No frame reached this socket.
    server.current.close(code=4408, reason="fell behind")
    server.wait(lambda: len(server.sockets) == 2, timeout=3, what="a reconnect")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-pinned", "true")
