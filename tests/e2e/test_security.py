"""Cross-site websocket hijacking in a real browser (RELIABILITY AUTH-05)."""

import http.server
import json
import threading

import pytest

from tests.conftest import free_port

# Opens the app's socket and reports whether it opened, what it received, how it closed.
PROBE = """
(url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    const result = {opened: false, received: []};
    ws.onopen = () => { result.opened = true; };
    ws.onmessage = (event) => {
        result.received.push(event.data);
        ws.close();
    };
    ws.onclose = (event) => { result.code = event.code; resolve(result); };
})
"""


@pytest.fixture
def attacker_origin():
    """A page on another origin of the same site: 127.0.0.1, another port (cookies follow)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>Win a prize</title><p>Nothing to see here."
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_cannot_open_the_victims_socket(
    page, login, alice, live_server_url, attacker_origin
):
    """The victim is logged in; the attacker's page runs ``new WebSocket(ourURL)``.

    Same site, so the browser sends the victim's session cookie with the
    handshake; the origin check refuses it before accepting (no ``open``
    event: an anonymous socket would be accepted, then closed 4401), and no
    frame is ever received. The same code on our own origin connects.
    """
    login(page.context, alice)
    socket_url = live_server_url.replace("http://", "ws://") + "/ws/notifications/"

    page.goto(attacker_origin + "/")
    hijack = page.evaluate(PROBE, socket_url)
    assert hijack == {"opened": False, "received": [], "code": 1006}

    page.goto(live_server_url + "/")
    own = page.evaluate(PROBE, socket_url)
    assert own["opened"] is True
    assert json.loads(own["received"][0])["type"] == "state"


def test_line_and_paragraph_separators_render_literally(
    page, login, alice, live_server_url, in_thread
):
    """XSS-06 in the browser: U+2028/U+2029 travel as valid JSON and show as text.

    (NUL and lone surrogates never get this far: send() refuses them, see
    tests/test_validators.py.)
    """
    from playwright.sync_api import expect

    import notifications

    login(page.context, alice)
    page.goto(live_server_url + "/")
    expect(page.locator("[data-notifications-bell]")).to_have_attribute(
        "data-notifications-status", "connected"
    )
    text = "line\u2028separator\u2029paragraph </script><b>bold</b>"
    in_thread(notifications.send, alice, text, title="\u2028title\u2029")
    toast = page.locator(".ntf-toast")
    expect(toast).to_have_count(1)
    assert toast.locator(".ntf-message").evaluate("e => e.textContent") == text
    assert toast.locator(".ntf-title").evaluate("e => e.textContent") == "\u2028title\u2029"
    assert toast.locator("b").count() == 0
