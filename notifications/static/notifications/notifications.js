// Minimal live client: toasts and unread badge over the websocket, with
// cursor-based recovery after reconnects. Text goes through textContent only.
const script = document.currentScript || document.querySelector("script[data-socket-path]");
const socketPath = script.dataset.socketPath;
const toasts = document.querySelector("[data-notifications-toasts]");
const badge = document.querySelector("[data-notifications-unread]");
const bell = document.querySelector("[data-notifications-bell]");
const seen = new Set();
let cursor = null;
let attempt = 0;

function setUnread(n) {
  badge.dataset.notificationsUnread = String(n);
  badge.textContent = String(n);
}

function toast(n) {
  if (seen.has(n.id)) return;
  seen.add(n.id);
  const el = document.createElement("div");
  el.className = "ntf-toast";
  el.dataset.level = n.level;
  el.dataset.notificationId = String(n.id);
  if (n.title) {
    const title = document.createElement("strong");
    title.textContent = n.title;
    el.append(title);
  }
  const body = document.createElement("span");
  body.textContent = n.message;
  el.append(body);
  toasts.append(el);
  setTimeout(() => el.remove(), n.level === "error" ? 30000 : 8000);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${socketPath}`);
  bell.dataset.notificationsStatus = "connecting";
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "state") {
      attempt = 0;
      bell.dataset.notificationsStatus = "connected";
      if (cursor !== null && frame.cursor > cursor) ws.send(JSON.stringify({ action: "sync", after: cursor }));
      else cursor = frame.cursor;
      setUnread(frame.unread_count);
    } else if (frame.type === "notification.created") {
      toast(frame.notification);
      cursor = Math.max(cursor ?? 0, frame.notification.cursor);
      setUnread(frame.unread_count);
    } else if (frame.type === "sync") {
      frame.notifications.forEach((n) => { toast(n); cursor = Math.max(cursor, n.cursor); });
      setUnread(frame.unread_count);
      if (!frame.complete) ws.send(JSON.stringify({ action: "sync", after: cursor }));
    }
  };
  ws.onclose = (event) => {
    bell.dataset.notificationsStatus = "offline";
    if (event.code === 4401) return;
    const delay = Math.min(30000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2);
    setTimeout(connect, delay);
  };
}

if (socketPath) connect();
