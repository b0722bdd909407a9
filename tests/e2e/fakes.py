"""A fake notifications socket for browser tests: Playwright answers the page's websocket.

The page's HTTP API stays real (Daphne + the test database), so recovery
fetches what the database holds; the socket is ours, so a test can send the
frames the server would send (``resync``, bursts, close codes) and read what
the client sends back (acks, pings).
"""

from __future__ import annotations

import json
import time

from notifications.models import Inbox, Notification

SOCKET = "**/ws/notifications/"

# Records, before any page script runs, every frame the page's sockets receive
# and send, with performance.now() timestamps, and every socket opened.
WIRE_RECORDER = """
window.__wire = { opened: 0, recv: [], sent: [] };
{
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__wire.opened += 1;
      this.addEventListener("message", (e) => window.__wire.recv.push(performance.now()));
    }
    send(data) {
      window.__wire.sent.push([performance.now(), data]);
      return super.send(data);
    }
  };
}
"""


def state_frame(user) -> dict:
    cursor = Inbox.objects.last_cursor(user.pk)
    unread = Notification.objects.for_user(user).unread().count()
    return {"type": "state", "cursor": cursor, "unread_count": unread}


class FakeSocketServer:
    """Answer every websocket of ``page`` ourselves; ``state`` is sent on connect."""

    def __init__(self, page, user, *, on_connect_state: bool = True) -> None:
        self.page = page
        self.user = user
        self.sockets = []
        self.received: list[dict] = []
        self.closes: list[tuple[int | None, str | None]] = []
        self.on_connect_state = on_connect_state
        page.route_web_socket(SOCKET, self._accept)

    def _accept(self, ws) -> None:
        self.sockets.append(ws)
        ws.on_message(self._message)
        ws.on_close(lambda code, reason: self.closes.append((code, reason)))
        if self.on_connect_state:
            ws.send(json.dumps(self.state()))

    def _message(self, message) -> None:
        try:
            self.received.append(json.loads(message))
        except (TypeError, ValueError):
            self.received.append({"raw": message})

    def state(self) -> dict:
        from tests.e2e.conftest import _run_and_close, _worker

        # In the worker thread, like every ORM call of the e2e tests.
        return _worker.submit(_run_and_close, state_frame, self.user).result(timeout=10)

    @property
    def current(self):
        return self.sockets[-1]

    def send(self, frame: dict) -> None:
        self.current.send(json.dumps(frame))

    def acks(self) -> list[int]:
        return [m["frames"] for m in self.received if m.get("action") == "ack"]

    def wait(self, predicate, timeout: float = 10.0, what: str = "condition") -> None:
        """Let Playwright dispatch (route callbacks run then) until ``predicate()``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            self.page.wait_for_timeout(20)
