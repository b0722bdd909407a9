// The live notifications client: toasts, unread badge, inbox, cross-tab sync and
// gap-free recovery. A plain ES module: no build step, no globals, configured by
// the data-* attributes of its own <script data-notifications-client> tag (which
// {% notifications_live %} renders). Notification text only ever goes through
// textContent.
//
// Tabs: one tab per user and browser holds the websocket (elected with the Web
// Locks API) and fans every frame out to the others through a BroadcastChannel;
// when it closes, another tab takes over. Without those APIs each tab keeps its
// own socket.
//
// Recovery: the tab keeps the highest cursor it has processed (also in
// localStorage, per user). On every (re)connect, and whenever a pong or a new
// notification shows a gap, it fetches what it missed over HTTP (?after=cursor),
// shows each missed notification once (de-duplicated by id), and reloads the
// whole list when the server says the gap is too large (complete: false).
//
// Pages can listen on `document` for: notifications:created {notification,
// recovered}, notifications:read {ids}, notifications:unread {ids},
// notifications:deleted {ids}, notifications:read-all {cursor},
// notifications:unread-count {count}, notifications:status {status}.
// And import the API: import notifications from ".../notifications.js";
// notifications.markRead(id), .markUnread(id), .delete(id), .markAllRead(),
// .loadMore(), .open(), .close(), .unreadCount, .status, .items.

const script = document.querySelector("script[data-notifications-client]");

const RECONNECT_BASE_MS = 500;
const RECONNECT_MAX_MS = 30000;
const PONG_TIMEOUT_MS = 10000;
// Failed socket attempts in a row, never reaching the state frame, before the
// client also polls over HTTP (e.g. a proxy that blocks websockets).
const FAILURES_BEFORE_POLLING = 3;
// Wait this long after a gap shows up in live frames before fetching it: frames
// of one burst may arrive slightly out of order.
const GAP_SETTLE_MS = 250;
const STATUS_LABELS = {
  connecting: "Connecting…",
  connected: "",
  reconnecting: "Reconnecting…",
  polling: "Live updates unavailable; checking periodically…",
  offline: "Offline",
};

function intAttr(value, fallback) {
  const n = Number.parseInt(value ?? "", 10);
  return Number.isFinite(n) ? n : fallback;
}

/** Return `url` if it is safe to follow (http(s) or a same-site path), else null. */
function safeHref(url) {
  if (typeof url !== "string" || url === "" || url.includes("\\")) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function createClient(script) {
  const d = script.dataset;
  const cfg = {
    userId: d.userId,
    csrfToken: d.csrfToken,
    socketPath: d.socketPath,
    listUrl: d.listUrl,
    unreadCountUrl: d.unreadCountUrl,
    readAllUrl: d.readAllUrl,
    readUrl: d.readUrl,
    unreadUrl: d.unreadUrl,
    deleteUrl: d.deleteUrl,
    pageSize: intAttr(d.pageSize, 20),
    syncLimit: intAttr(d.syncLimit, 100),
    toastTimeout: intAttr(d.toastTimeout, 6000),
    stickyLevels: new Set((d.stickyLevels || "").split(",").filter(Boolean)),
    maxToasts: Math.max(1, intAttr(d.maxToasts, 5)),
    recoveryToastLimit: intAttr(d.recoveryToastLimit, 5),
    pollInterval: Math.max(1000, intAttr(d.pollInterval, 30000)),
    heartbeat: Math.max(1000, intAttr(d.heartbeat, 25000)),
  };

  const root = script.parentElement.querySelector("[data-notifications-root]")
    || document.querySelector("[data-notifications-root]");
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    bell: $("[data-notifications-bell]"),
    count: $("[data-notifications-unread]"),
    stateLabel: $("[data-notifications-state-label]"),
    inbox: $("[data-notifications-inbox]"),
    list: $("[data-notifications-list]"),
    empty: $("[data-notifications-empty]"),
    more: $("[data-notifications-more]"),
    readAll: $("[data-notifications-read-all]"),
    toasts: $("[data-notifications-toasts]"),
  };

  // State of this tab.
  const items = new Map(); // id -> notification shown in the inbox
  const known = new Set(); // ids already toasted or loaded: each is shown once
  let cursor = null; // highest cursor processed without a gap
  let unread = 0;
  let status = "connecting";
  let nextUrl = null;
  let listLoaded = false;
  let isLeader = false;
  let channel = null;

  const storageKey = `notifications:cursor:${cfg.userId}`;

  // Small helpers --------------------------------------------------------------

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(`notifications:${name}`, { detail }));
  }

  function broadcast(message) {
    if (channel && isLeader) channel.postMessage(message);
  }

  function storedCursor() {
    try {
      const value = localStorage.getItem(storageKey);
      return value === null ? null : intAttr(value, null);
    } catch {
      return null; // Storage disabled: recovery still works within the page.
    }
  }

  function advanceCursor(value) {
    if (typeof value !== "number") return;
    if (cursor === null || value > cursor) cursor = value;
    try {
      const stored = storedCursor();
      if (stored === null || cursor > stored) localStorage.setItem(storageKey, String(cursor));
    } catch {
      // Storage full or disabled: keep the in-memory cursor.
    }
  }

  async function api(url, method = "GET") {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (method !== "GET") {
      init.headers["X-CSRFToken"] = cfg.csrfToken;
      init.keepalive = true; // Finish even if the page navigates away (link clicks).
    }
    const response = await fetch(url, init);
    if (!response.ok) {
      const error = new Error(`${method} ${url}: HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  const itemUrl = (template, id) => template.replace("{id}", encodeURIComponent(String(id)));

  // Badge and status -----------------------------------------------------------

  function setUnread(count) {
    if (typeof count !== "number" || count < 0) return;
    const text = String(count);
    ui.count.dataset.notificationsUnread = text;
    ui.count.textContent = count > 99 ? "99+" : text;
    ui.count.classList.toggle("ntf-count-zero", count === 0);
    if (count !== unread) {
      unread = count;
      emit("unread-count", { count });
    }
  }

  function setStatus(next) {
    ui.bell.dataset.notificationsStatus = next;
    ui.stateLabel.textContent = STATUS_LABELS[next] ?? "";
    ui.bell.title = next === "connected" ? "Notifications" : `Notifications (${next})`;
    if (next !== status) {
      status = next;
      emit("status", { status: next });
    }
    broadcast({ kind: "status", status: next, unread_count: unread });
  }

  // Inbox ----------------------------------------------------------------------

  function renderItem(n) {
    const li = el("li", "ntf-item");
    li.dataset.notificationId = String(n.id);
    li.dataset.cursor = String(n.cursor);
    li.dataset.level = n.level || "info";
    li.dataset.read = String(Boolean(n.read));
    li.classList.toggle("ntf-unread", !n.read);

    const body = el("div", "ntf-item-body");
    const href = safeHref(n.url);
    const head = href ? el("a", "ntf-item-link") : el("div", "ntf-item-link");
    if (href) {
      head.href = href;
      head.addEventListener("click", () => followed(n));
    }
    if (!n.read) head.append(el("span", "ntf-sr", "Unread: "));
    if (n.title) head.append(el("strong", "ntf-title", n.title));
    head.append(el("span", "ntf-message", n.message));
    body.append(head);
    const time = el("time", "ntf-time", new Date(n.created_at).toLocaleString());
    time.dateTime = n.created_at;
    body.append(time);

    const actions = el("div", "ntf-item-actions");
    const toggle = el("button", "ntf-link-button", n.read ? "Mark unread" : "Mark read");
    toggle.type = "button";
    toggle.dataset.action = n.read ? "unread" : "read";
    toggle.addEventListener("click", () => (n.read ? client.markUnread(n.id) : client.markRead(n.id)));
    const remove = el("button", "ntf-link-button", "Delete");
    remove.type = "button";
    remove.dataset.action = "delete";
    remove.setAttribute("aria-label", `Delete notification: ${n.title || n.message}`.slice(0, 200));
    remove.addEventListener("click", () => client.delete(n.id));
    actions.append(toggle, remove);

    li.append(body, actions);
    return li;
  }

  function findRow(id) {
    for (const li of ui.list.children) if (li.dataset.notificationId === String(id)) return li;
    return null;
  }

  /** Insert or replace `n` in the inbox, kept newest first by cursor. */
  function upsert(n) {
    items.set(n.id, n);
    const row = renderItem(n);
    const existing = findRow(n.id);
    if (existing) {
      existing.replaceWith(row);
    } else {
      let before = null;
      for (const li of ui.list.children) {
        if (Number(li.dataset.cursor) < n.cursor) { before = li; break; }
      }
      ui.list.insertBefore(row, before);
    }
    updateEmpty();
  }

  function removeRow(id) {
    items.delete(id);
    findRow(id)?.remove();
    updateEmpty();
  }

  function updateEmpty() {
    ui.empty.hidden = !listLoaded || ui.list.children.length > 0;
  }

  function setRead(ids, read, readAt) {
    const changed = [];
    for (const id of ids) {
      const n = items.get(id);
      if (n && n.read !== read) {
        n.read = read;
        n.read_at = read ? readAt ?? new Date().toISOString() : null;
        upsert(n);
        changed.push(id);
      }
      if (read) dismissToast(id);
    }
    return changed;
  }

  async function loadLatest({ missed = 0 } = {}) {
    const data = await api(`${cfg.listUrl}?limit=${cfg.pageSize}`);
    const stored = storedCursor();
    ui.list.replaceChildren();
    items.clear();
    listLoaded = true;
    // Oldest first, so that toasts for what arrived since the last visit keep order.
    const fresh = [];
    for (const n of [...data.results].reverse()) {
      upsert(n);
      if (!known.has(n.id)) {
        known.add(n.id);
        if (stored !== null && n.cursor > stored) fresh.push(n);
      }
    }
    nextUrl = data.next;
    ui.more.hidden = !nextUrl;
    setUnread(data.unread_count);
    if (missed > 0) summaryToast(missed);
    else showMissed(fresh);
    advanceCursor(data.cursor);
    updateEmpty();
  }

  async function loadMore() {
    if (!nextUrl) return;
    const data = await api(nextUrl);
    for (const n of data.results) {
      known.add(n.id);
      if (!items.has(n.id)) upsert(n);
    }
    nextUrl = data.next;
    ui.more.hidden = !nextUrl;
  }

  // Toasts ---------------------------------------------------------------------

  function dismissToast(id) {
    for (const t of ui.toasts.querySelectorAll(".ntf-toast")) {
      if (t.dataset.notificationId === String(id)) t.remove();
    }
  }

  function showToast(node, level) {
    while (ui.toasts.children.length >= cfg.maxToasts) ui.toasts.firstElementChild.remove();
    const close = el("button", "ntf-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss notification");
    close.addEventListener("click", () => node.remove());
    node.append(close);
    ui.toasts.append(node);
    if (cfg.toastTimeout > 0 && !cfg.stickyLevels.has(level)) {
      let timer = setTimeout(() => node.remove(), cfg.toastTimeout);
      // Pause while the pointer or keyboard focus is on it.
      const pause = () => clearTimeout(timer);
      const resume = () => { clearTimeout(timer); timer = setTimeout(() => node.remove(), cfg.toastTimeout); };
      node.addEventListener("mouseenter", pause);
      node.addEventListener("focusin", pause);
      node.addEventListener("mouseleave", resume);
      node.addEventListener("focusout", resume);
    }
  }

  function toast(n) {
    const node = el("div", "ntf-toast");
    node.dataset.level = n.level || "info";
    node.dataset.notificationId = String(n.id);
    const href = safeHref(n.url);
    const body = href ? el("a", "ntf-toast-body") : el("div", "ntf-toast-body");
    if (href) {
      body.href = href;
      body.addEventListener("click", () => followed(n));
    }
    if (n.title) body.append(el("strong", "ntf-title", n.title));
    body.append(el("span", "ntf-message", n.message));
    node.append(body);
    showToast(node, n.level);
  }

  function summaryToast(count) {
    const node = el("div", "ntf-toast");
    node.dataset.level = "info";
    node.dataset.summary = String(count);
    const body = el("button", "ntf-toast-body ntf-toast-summary");
    body.type = "button";
    body.append(el("strong", "ntf-title", `${count} new notifications`));
    body.append(el("span", "ntf-message", "Open the inbox to see them."));
    body.addEventListener("click", () => { node.remove(); client.open(); });
    node.append(body);
    showToast(node, "info");
  }

  /** Show recovered notifications (oldest first): one toast each, or one summary. */
  function showMissed(list) {
    if (list.length === 0) return;
    if (list.length <= cfg.recoveryToastLimit) list.forEach(toast);
    else summaryToast(list.length);
  }

  function followed(n) {
    if (!n.read) api(itemUrl(cfg.readUrl, n.id), "POST").catch(() => {});
  }

  // Applying changes (every tab runs these, for its own actions and for frames) -

  function created(n, { recovered = false } = {}) {
    const isNew = !known.has(n.id);
    known.add(n.id);
    upsert(n);
    if (isNew && !recovered) toast(n);
    if (isNew) emit("created", { notification: n, recovered });
    return isNew;
  }

  function applyRecovered(list) {
    const fresh = [];
    for (const n of list) {
      if (!known.has(n.id)) fresh.push(n);
      created(n, { recovered: true });
      advanceCursor(n.cursor);
    }
    showMissed(fresh);
  }

  function applyFrame(frame) {
    switch (frame.type) {
      case "notification.created": {
        const n = frame.notification;
        if (isLeader && cursor !== null && n.cursor > cursor + 1) scheduleCatchUp(GAP_SETTLE_MS);
        else advanceCursor(n.cursor);
        created(n);
        break;
      }
      case "notification.read": {
        const ids = setRead(frame.ids, true, frame.read_at);
        if (ids.length) emit("read", { ids });
        break;
      }
      case "notification.unread": {
        const ids = setRead(frame.ids, false);
        if (ids.length) emit("unread", { ids });
        break;
      }
      case "notification.deleted": {
        const ids = frame.ids.filter((id) => items.has(id));
        frame.ids.forEach((id) => { removeRow(id); dismissToast(id); });
        if (ids.length) emit("deleted", { ids });
        break;
      }
      case "notifications.read_all": {
        const ids = [...items.values()].filter((n) => n.cursor <= frame.cursor).map((n) => n.id);
        if (setRead(ids, true, frame.read_at).length) emit("read-all", { cursor: frame.cursor });
        break;
      }
      case "pong":
        clearTimeout(pongTimer);
        if (isLeader && cursor !== null && frame.cursor > cursor) scheduleCatchUp(0);
        break;
      case "error":
        console.warn("notifications: server refused a frame:", frame.code, frame.detail);
        break;
      default:
        break;
    }
    if (typeof frame.unread_count === "number") setUnread(frame.unread_count);
  }

  // Recovery (leader) -------------------------------------------------------------

  let catching = false;
  let catchAgain = false;
  let catchTimer = null;

  function scheduleCatchUp(delay) {
    clearTimeout(catchTimer);
    catchTimer = setTimeout(catchUp, delay);
  }

  /** Fetch everything after our cursor; run once at a time, again if asked meanwhile. */
  async function catchUp() {
    if (catching) { catchAgain = true; return; }
    catching = true;
    try {
      do {
        catchAgain = false;
        if (!listLoaded || cursor === null) {
          await loadLatest();
          broadcast({ kind: "reload", missed: 0 });
          continue;
        }
        const data = await api(`${cfg.listUrl}?after=${cursor}&limit=${cfg.syncLimit}`);
        if (!data.complete) {
          // Too far behind to replay: reload the list rather than show part of it.
          const missed = Math.max(data.cursor - cursor, data.results.length);
          await loadLatest({ missed });
          broadcast({ kind: "reload", missed });
          continue;
        }
        applyRecovered(data.results);
        advanceCursor(data.cursor);
        setUnread(data.unread_count);
        broadcast({ kind: "recovered", notifications: data.results, cursor: data.cursor, unread_count: data.unread_count });
      } while (catchAgain);
    } catch (error) {
      console.warn("notifications: recovery failed; retrying on the next (re)connect.", error);
    } finally {
      catching = false;
    }
  }

  // The socket (leader) -----------------------------------------------------------

  let ws = null;
  let attempt = 0;
  let failuresWithoutState = 0;
  let reconnectTimer = null;
  let heartbeatTimer = null;
  let pongTimer = null;
  let pollTimer = null;
  let everConnected = false;
  let stopped = false;

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${cfg.socketPath}`;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (stopped || ws) return;
    if (!pollTimer) setStatus(everConnected ? "reconnecting" : "connecting");
    let gotState = false;
    const socket = new WebSocket(socketUrl());
    ws = socket;
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "state") {
        gotState = true;
        onState(frame);
      } else {
        applyFrame(frame);
      }
      broadcast({ kind: "frame", frame });
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      dropSocket();
      if (event.code === 4401) {
        // Logged out: retrying cannot help.
        stopped = true;
        stopPolling();
        setStatus("offline");
        return;
      }
      failuresWithoutState = gotState ? 0 : failuresWithoutState + 1;
      if (failuresWithoutState >= FAILURES_BEFORE_POLLING) startPolling();
      scheduleReconnect();
    };
  }

  function onState(frame) {
    attempt = 0;
    failuresWithoutState = 0;
    everConnected = true;
    stopPolling();
    setStatus("connected");
    setUnread(frame.unread_count);
    if (!listLoaded || cursor === null || frame.cursor > cursor) catchUp();
    else if (frame.cursor < cursor) {
      // The server is behind us (a restored database?): start over from it.
      cursor = frame.cursor;
      try { localStorage.setItem(storageKey, String(cursor)); } catch { /* disabled */ }
      listLoaded = false;
      catchUp();
    }
    clearInterval(heartbeatTimer);
    heartbeatTimer = setInterval(heartbeat, cfg.heartbeat);
  }

  function heartbeat() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ action: "ping" }));
    clearTimeout(pongTimer);
    // No pong in time: the connection is dead (sleep, network change) even if
    // the browser has not noticed yet.
    pongTimer = setTimeout(() => {
      const dead = ws;
      dropSocket();
      dead?.close(4000, "heartbeat timeout");
      scheduleReconnect(true);
    }, PONG_TIMEOUT_MS);
  }

  function dropSocket() {
    clearInterval(heartbeatTimer);
    clearTimeout(pongTimer);
    if (ws) { ws.onmessage = null; ws.onclose = null; }
    ws = null;
  }

  function scheduleReconnect(now = false) {
    if (stopped) return;
    if (status !== "polling") setStatus(everConnected ? "reconnecting" : "connecting");
    // Exponential backoff with jitter, so a restarted server is not hit by
    // every client at the same instant.
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    const delay = now ? 0 : ceiling / 2 + (Math.random() * ceiling) / 2;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (stopped || !isLeader) return;
    if (ws && ws.readyState === WebSocket.OPEN) heartbeat();
    else if (!ws) { attempt = 0; connect(); }
  }

  function startPolling() {
    if (pollTimer) return;
    setStatus("polling");
    const poll = () => { if (listLoaded) catchUp(); else loadLatest().catch(() => {}); };
    poll();
    pollTimer = setInterval(poll, cfg.pollInterval);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function becomeLeader() {
    isLeader = true;
    connect();
  }

  // Other tabs ---------------------------------------------------------------------

  function onChannelMessage(event) {
    const message = event.data || {};
    if (isLeader) {
      if (message.kind === "hello") broadcast({ kind: "status", status, unread_count: unread });
      return;
    }
    switch (message.kind) {
      case "frame":
        // The leader handles state frames (recovery); other tabs take the count.
        if (message.frame.type === "state") setUnread(message.frame.unread_count);
        else applyFrame(message.frame);
        break;
      case "status":
        setStatus(message.status);
        setUnread(message.unread_count);
        break;
      case "recovered":
        applyRecovered(message.notifications);
        advanceCursor(message.cursor);
        setUnread(message.unread_count);
        break;
      case "reload":
        loadLatest({ missed: message.missed }).catch(() => {});
        break;
      default:
        break;
    }
  }

  // UI wiring -------------------------------------------------------------------

  function open() {
    ui.inbox.hidden = false;
    ui.bell.setAttribute("aria-expanded", "true");
    if (!listLoaded) loadLatest().catch(() => {});
  }

  function close() {
    ui.inbox.hidden = true;
    ui.bell.setAttribute("aria-expanded", "false");
  }

  ui.bell.addEventListener("click", () => (ui.inbox.hidden ? open() : close()));
  ui.more.addEventListener("click", () => client.loadMore());
  ui.readAll.addEventListener("click", () => client.markAllRead());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.inbox.hidden) {
      close();
      ui.bell.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!ui.inbox.hidden && !root.contains(event.target)) close();
  });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  // The public API ---------------------------------------------------------------

  const client = {
    get unreadCount() { return unread; },
    get status() { return status; },
    get items() { return [...items.values()].sort((a, b) => b.cursor - a.cursor); },
    get isLeader() { return isLeader; },
    open,
    close,
    loadMore: () => loadMore(),
    async markRead(id) {
      const data = await api(itemUrl(cfg.readUrl, id), "POST");
      applyFrame({ type: "notification.read", ids: [id], read_at: data.notification.read_at, unread_count: data.unread_count });
      return data;
    },
    async markUnread(id) {
      const data = await api(itemUrl(cfg.unreadUrl, id), "POST");
      applyFrame({ type: "notification.unread", ids: [id], unread_count: data.unread_count });
      return data;
    },
    async delete(id) {
      const data = await api(itemUrl(cfg.deleteUrl, id), "POST");
      applyFrame({ type: "notification.deleted", ids: [id], unread_count: data.unread_count });
      return data;
    },
    async markAllRead() {
      const data = await api(cfg.readAllUrl, "POST");
      applyFrame({ type: "notifications.read_all", cursor: data.cursor, unread_count: data.unread_count });
      return data;
    },
  };

  // Start -----------------------------------------------------------------------

  cursor = storedCursor();
  setStatus("connecting");
  const ready = loadLatest().catch((error) => {
    console.warn("notifications: could not load the inbox; retrying after connecting.", error);
  });
  if ("locks" in navigator && "BroadcastChannel" in window) {
    channel = new BroadcastChannel(`notifications:${cfg.userId}`);
    channel.onmessage = onChannelMessage;
    channel.postMessage({ kind: "hello" });
    // Held until the tab closes; then the next waiting tab takes over the socket.
    navigator.locks.request(`notifications-socket:${cfg.userId}`, async () => {
      await ready;
      becomeLeader();
      await new Promise(() => {});
    });
  } else {
    ready.then(becomeLeader);
  }

  return client;
}

const client = script && script.dataset.socketPath ? createClient(script) : null;

export default client;
