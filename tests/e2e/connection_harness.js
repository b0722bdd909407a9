// Drive client/connection.js with a fake WebSocket and fake timers, in a page
// without the client (the login page). Returns what the connection did.
async ({ script, random }) => {
  const { createConnection } = await import("/static/notifications/client/connection.js");
  const log = [];
  const timers = new Map();
  let nextId = 1;
  window.setTimeout = (fn, ms) => { const id = nextId++; timers.set(id, { fn, ms }); return id; };
  window.clearTimeout = (id) => { timers.delete(id); };
  window.setInterval = () => 0;
  window.clearInterval = () => {};
  let hidden = false;
  Object.defineProperty(document, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
  const sockets = [];
  class FakeSocket {
    static OPEN = 1;
    constructor(url) { this.readyState = 1; this.sent = []; sockets.push(this); log.push(["open", sockets.length]); }
    send(data) { this.sent.push(data); }
    close() { this.readyState = 3; }
  }
  window.WebSocket = FakeSocket;
  const connection = createConnection({
    url: () => "ws://fake/",
    heartbeatMs: 25000,
    onState: () => log.push(["state"]),
    onFrame: (f) => log.push(["frame", f.type]),
    onStatus: (s) => log.push(["status", s]),
    onPolling: (on) => log.push(["polling", on]),
    random: () => random,
  });
  const pendingReconnect = () => [...timers.entries()].filter(([, t]) => t.ms >= 250 && t.ms !== 1000 && t.ms !== 10000);
  for (const [step, arg] of script) {
    const socket = sockets[sockets.length - 1];
    if (step === "start") connection.start();
    else if (step === "state") socket.onmessage({ data: JSON.stringify({ type: "state", cursor: 0, unread_count: 0 }) });
    else if (step === "close") socket.onclose({ code: arg });
    else if (step === "fire") {
      // Run the pending reconnect timer (and note its delay).
      const [[id, timer]] = pendingReconnect();
      timers.delete(id);
      log.push(["fired", Math.round(timer.ms)]);
      timer.fn();
    } else if (step === "delay") {
      log.push(["delay", pendingReconnect().map(([, t]) => Math.round(t.ms))]);
    } else if (step === "hide") hidden = true;
    else if (step === "show") hidden = false;
    else if (step === "retrySoon") connection.retrySoon();
  }
  return log;
}
