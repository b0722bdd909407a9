// The websocket (leader tab only): connect, heartbeat, flow-control acks,
// close codes and reconnects. It knows nothing of notifications: it hands
// each parsed frame to `onFrame` and the first (state) frame to `onState`.
//
// Acks: the server counts what it sent; the client says how many text frames
// it has received on this socket ({"action": "ack", "frames": N}, every frame
// counted, the state frame included) when 100 arrived since the last ack, or
// 1 s after the first unacknowledged one, at most once per 200 ms, and right
// after a {"type": "resync"}. A server that answers acks with unknown_action
// (one from before acks) gets none for the rest of that socket.
//
// Close codes: see backoff.js; 4401 stops for good ("offline"); 4409 and 4503
// also poll over HTTP while waiting, as do 3 failed attempts in a row.

import { POLL_WHILE_WAITING, nextDelay } from "./backoff.js";

export const ACK_EVERY_FRAMES = 100;
export const ACK_AFTER_MS = 1000;
export const ACK_MIN_INTERVAL_MS = 200;
const PONG_TIMEOUT_MS = 10000;
const FAILURES_BEFORE_POLLING = 3;

export function createConnection({ url, heartbeatMs, onState, onFrame, onStatus, onPolling, random = Math.random }) {
  let ws = null;
  let attempt = 0;
  let failuresWithoutState = 0;
  let everConnected = false;
  let stopped = false;
  let reconnectTimer = 0;
  let reconnectAt = 0;
  let lastCode = 0;
  let heartbeatTimer = 0;
  let pongTimer = 0;
  // Per socket: frames received, frames acknowledged, ack timer.
  let received = 0;
  let acked = 0;
  let ackTimer = 0;
  let lastAckAt = -Infinity;
  let acksSupported = true;
  let acksSent = 0;

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = 0;
    if (stopped || ws) return;
    let gotState = false;
    const socket = new WebSocket(url());
    ws = socket;
    received = acked = acksSent = 0;
    lastAckAt = -Infinity;
    acksSupported = true;
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      received += 1;
      let frame = null;
      try {
        frame = JSON.parse(event.data);
      } catch {
        frame = null;
      }
      if (frame && typeof frame === "object") {
        if (frame.type === "state" && !gotState) {
          gotState = true;
          attempt = 0;
          failuresWithoutState = 0;
          everConnected = true;
          onPolling(false);
          onStatus("connected");
          startHeartbeat();
          onState(frame);
        } else {
          if (frame.type === "pong") clearTimeout(pongTimer);
          if (frame.type === "error" && frame.code === "unknown_action" && acksSent > 0
              && !String(frame.detail || "").includes("ack")) {
            acksSupported = false; // A server from before acks.
          }
          onFrame(frame);
        }
      }
      if (ws !== socket) return; // a handler closed it
      if (frame && frame.type === "resync") ack(true);
      else ack(false);
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      drop();
      closed(event.code, gotState);
    };
  }

  function closed(code, gotState) {
    if (code === 4401) {
      // Not logged in, or the session was revoked: retrying cannot help.
      stopped = true;
      onPolling(false);
      onStatus("offline");
      return;
    }
    failuresWithoutState = gotState ? 0 : failuresWithoutState + 1;
    const poll = POLL_WHILE_WAITING.has(code) || failuresWithoutState >= FAILURES_BEFORE_POLLING;
    schedule(code, poll);
  }

  function schedule(code, poll) {
    lastCode = code;
    const delay = nextDelay(attempt, code, random());
    attempt += 1;
    if (delay === null) {
      stopped = true;
      onStatus("offline");
      return;
    }
    if (poll) onPolling(true);
    else onStatus(everConnected ? "reconnecting" : "connecting");
    clearTimeout(reconnectTimer);
    reconnectAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
  }

  function ack(now) {
    if (!acksSupported || !ws || received === acked) return;
    if (now || received - acked >= ACK_EVERY_FRAMES) {
      sendAck();
    } else if (!ackTimer) {
      ackTimer = setTimeout(sendAck, ACK_AFTER_MS);
    }
  }

  function sendAck() {
    clearTimeout(ackTimer);
    ackTimer = 0;
    if (!acksSupported || !ws || ws.readyState !== WebSocket.OPEN || received === acked) return;
    const wait = lastAckAt + ACK_MIN_INTERVAL_MS - performance.now();
    if (wait > 0) {
      ackTimer = setTimeout(sendAck, wait);
      return;
    }
    ws.send(JSON.stringify({ action: "ack", frames: received }));
    acked = received;
    acksSent += 1;
    lastAckAt = performance.now();
  }

  function startHeartbeat() {
    clearInterval(heartbeatTimer);
    heartbeatTimer = setInterval(ping, heartbeatMs);
  }

  function ping() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ action: "ping" }));
    clearTimeout(pongTimer);
    // No pong in time: the connection is dead (sleep, network change) even if
    // the browser has not noticed yet.
    pongTimer = setTimeout(() => {
      const dead = ws;
      drop();
      dead?.close(4000, "heartbeat timeout");
      closed(4000, true);
    }, PONG_TIMEOUT_MS);
  }

  function drop() {
    clearInterval(heartbeatTimer);
    clearTimeout(pongTimer);
    clearTimeout(ackTimer);
    ackTimer = 0;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
    }
    ws = null;
  }

  return {
    start: connect,
    /** Back online or visible again: retry soon instead of at the end of a long wait. */
    retrySoon() {
      if (stopped || document.visibilityState === "hidden") return;
      if (ws && ws.readyState === WebSocket.OPEN) {
        ping();
        return;
      }
      // The server asked us to stay away: keep its wait.
      if (ws || !reconnectTimer || [4409, 4429, 4503].includes(lastCode)) return;
      if (reconnectAt - Date.now() > 1000) {
        clearTimeout(reconnectTimer);
        const delay = 250 + random() * 750;
        reconnectAt = Date.now() + delay;
        reconnectTimer = setTimeout(connect, delay);
      }
    },
    get frames() { return received; },
    get acknowledged() { return acked; },
  };
}
