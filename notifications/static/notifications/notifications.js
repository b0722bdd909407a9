// The live notifications client: toasts, unread badge, inbox, live history
// and lists, cross-tab sync and gap-free recovery. Plain ES modules, no build
// step, no globals, configured by the data-* attributes of its own
// <script data-notifications-client> tag (which {% notifications_live %}
// renders). Notification text only ever goes through textContent.
//
// Modules (client/): config (data-* attributes), store (the one owner of
// state), connection (socket, heartbeat, acks, close codes) with backoff
// (nextDelay), recovery (HTTP catch-up and resync), tabs (leader election and
// fan-out), http (the API), and the views: inbox, toasts, lists (history page
// and "latest" lists), time (relative times), levels, links (safeHref),
// announce (live regions).
//
// Pages can listen on `document` for: notifications:ready {client},
// notifications:created {notification, recovered}, notifications:read {ids},
// notifications:unread {ids}, notifications:deleted {ids},
// notifications:read-all {cursor}, notifications:unread-count {count},
// notifications:status {status}.
//
// Inbox states (seen, archived, snoozed, pinned, grouped, expiring, action
// buttons) follow the server's frames of the same names (frames.py).
//
// And use the API without loading a second copy of the client, whatever the
// static files storage does to URLs: import the tag's own script URL
//   const script = document.querySelector("script[data-notifications-client]");
//   const notifications = (await import(script.src)).default;
// (or import this file through {% static %}). Any copy of this module returns
// the one client of the page: it is kept on the root element.

import { createAnnouncer } from "./client/announce.js";
import { readConfig } from "./client/config.js";
import { createConnection } from "./client/connection.js";
import { createApi } from "./client/http.js";
import { mountInbox } from "./client/inbox.js";
import { mountHistory, mountLatest } from "./client/lists.js";
import { createRecovery } from "./client/recovery.js";
import { createStore } from "./client/store.js";
import { createTabs } from "./client/tabs.js";
import { startClock } from "./client/time.js";
import { mountToasts } from "./client/toasts.js";
import { mountAlerts } from "./client/alerts.js";
import { mountPush } from "./client/push.js";

const CLIENT = Symbol.for("notifications.client");
// Wait this long after a gap shows up in live frames before fetching it: frames
// of one burst may arrive slightly out of order.
const GAP_SETTLE_MS = 250;

function createClient(script, root) {
  const cfg = readConfig(script);
  const $ = (selector) => root.querySelector(selector);
  const store = createStore(cfg);
  const api = createApi(cfg);
  // Error toasts are role="alert" themselves; everything else is said politely.
  const announce = createAnnouncer($("[data-notifications-announce]"), null);
  const tabs = createTabs(cfg.userId, onTabMessage);
  const recovery = createRecovery({ store, api, broadcast: (m) => tabs.post(m) });
  const initialCount = Number.parseInt($("[data-notifications-unread]")?.dataset.notificationsUnread ?? "0", 10) || 0;
  // The server-rendered badge counts what BADGE_COUNTS says; the unread count
  // then comes with the first frame or answer.
  if (cfg.badge === "unseen") store.state.unseen = initialCount;
  else store.state.unread = initialCount;
  announce.count(initialCount, { quiet: true });

  // Public DOM events, from the store's changes.
  const emit = (name, detail) => document.dispatchEvent(new CustomEvent(`notifications:${name}`, { detail }));
  store.subscribe((change) => {
    switch (change.kind) {
      case "created":
        for (const n of change.fresh) emit("created", { notification: n, recovered: change.recovered });
        break;
      case "read":
      case "unread":
      case "deleted":
        if (change.ids.length) emit(change.kind, { ids: change.ids });
        break;
      case "read-all":
        if (change.ids.length) emit("read-all", { cursor: change.cursor });
        break;
      case "count":
        emit("unread-count", { count: change.count });
        announce.count(change.count);
        break;
      case "status":
        emit("status", { status: change.status });
        announce.status(change.status);
        tabs.post({ kind: "status", status: change.status, unread_count: store.state.unread });
        break;
      default:
        break;
    }
  });

  // Frames (the leader's own, and those it fans out) --------------------------------

  /** Apply the answer of a per-item POST as the frame the server pushes for it. */
  async function changed(n, type, request, field) {
    const data = await request;
    const frame = { type, ids: [n.id], unread_count: data.unread_count };
    if (field) frame[field] = data.notification[field];
    applyFrame(frame);
    return data;
  }

  function applyFrame(frame) {
    const { state } = store;
    switch (frame.type) {
      case "notification.created": {
        const n = frame.notification;
        if (!n || typeof n.id !== "number") break;
        if (tabs.isLeader && state.cursor !== null && n.cursor > state.cursor + 1) recovery.catchUpSoon(GAP_SETTLE_MS);
        else store.advanceCursor(n.cursor);
        store.received([n]);
        break;
      }
      case "notification.read":
        store.setRead(frame.ids || [], true, frame.read_at);
        break;
      case "notification.unread":
        store.setRead(frame.ids || [], false);
        break;
      case "notification.deleted":
        store.removed(frame.ids || []);
        break;
      case "notifications.read_all":
        store.readAll(frame.cursor, frame.read_at);
        break;
      case "notification.seen":
        store.patch(frame.ids || [], { seen: true, seen_at: frame.seen_at }, "seen");
        break;
      case "notifications.seen_all":
        store.seenAll(frame.cursor, frame.seen_at);
        break;
      case "notification.archived":
        store.leave(frame.ids || [], "archived", { archived_at: frame.archived_at });
        break;
      case "notification.unarchived":
        store.leave(frame.ids || [], "unarchived");
        // Back in the inbox, at its place by cursor: reload the list once.
        recovery.loadLatest({ quiet: true }).catch(() => {});
        break;
      case "notification.snoozed":
        if (frame.snoozed_until) {
          for (const id of frame.ids || []) state.snoozed.set(id, Date.parse(frame.snoozed_until));
          store.leave(frame.ids || [], "snoozed", { snoozed_until: frame.snoozed_until });
        } else {
          for (const id of frame.ids || []) state.snoozed.delete(id);
          recovery.loadLatest({ quiet: true }).catch(() => {});
        }
        break;
      case "notification.unsnoozed":
        if (frame.notification && typeof frame.notification.id === "number") store.woke(frame.notification);
        break;
      case "notification.pinned":
        store.patch(frame.ids || [], { pinned: true }, "pinned");
        break;
      case "notification.unpinned":
        store.patch(frame.ids || [], { pinned: false }, "unpinned");
        break;
      case "pong":
        if (tabs.isLeader && state.cursor !== null && frame.cursor > state.cursor) recovery.catchUp();
        break;
      case "resync":
        // The server dropped frames for this socket: fetch what came after the
        // cursor and reload the list, once (other tabs reload their list).
        if (tabs.isLeader) recovery.resync();
        else recovery.reload();
        break;
      case "error":
        console.warn("notifications: server refused a frame:", frame.code, frame.detail);
        break;
      default:
        break;
    }
    if (typeof frame.unread_count === "number") store.setUnread(frame.unread_count);
    if (frame.type !== "pong" && frame.type !== "error") countsSoon();
  }

  // Counts beyond unread (unseen, per category, archived) come over HTTP,
  // at most a few times a second, after the frames that may change them.
  let countsTimer = 0;
  function countsSoon(delay = 300) {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(() => {
      api.counts().then((counts) => store.setCounts(counts)).catch(() => {});
    }, delay);
  }
  let hadState = false;
  function onState(frame) {
    const { state } = store;
    stopPolling();
    store.setUnread(frame.unread_count);
    countsSoon(0);
    // A reconnect: state changes made while the socket was down (archived,
    // snoozed, woken, pinned, read elsewhere) have no cursor to catch up on,
    // so the list is reloaded quietly once, after the catch-up.
    const now = Date.now();
    for (const [id, at] of state.snoozed) if (at <= now) state.snoozed.delete(id);
    const reconnected = hadState && state.listLoaded;
    hadState = true;
    tabs.post({ kind: "frame", frame });
    if (!state.listLoaded || state.cursor === null || frame.cursor > state.cursor) {
      recovery.catchUp();
    } else if (frame.cursor < state.cursor) {
      // The server is behind us (a restored database?): start over from it.
      store.resetCursor(frame.cursor);
      recovery.catchUp();
    }
    // After the catch-up (it toasts what was missed), in the same run.
    if (reconnected) recovery.reload();
  }

  function onFrame(frame) {
    applyFrame(frame);
    tabs.post({ kind: "frame", frame });
  }

  // Polling (no socket, or the server asked to wait) ---------------------------------

  let pollTimer = 0;
  function startPolling() {
    if (pollTimer) return;
    store.setStatus("polling");
    const poll = () => recovery.catchUp();
    poll();
    pollTimer = setInterval(poll, cfg.pollInterval);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = 0;
  }

  const connection = createConnection({
    url: () => `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${cfg.socketPath}`,
    heartbeatMs: cfg.heartbeat,
    onState,
    onFrame,
    onStatus: (status) => {
      if (status === "offline") stopPolling();
      if (!pollTimer || status === "connected" || status === "offline") store.setStatus(status);
    },
    onPolling: (on) => (on ? startPolling() : stopPolling()),
  });

  // Other tabs -------------------------------------------------------------------

  function onTabMessage(message) {
    if (tabs.isLeader) {
      if (message.kind === "hello") tabs.post({ kind: "status", status: store.state.status, unread_count: store.state.unread });
      return;
    }
    switch (message.kind) {
      case "frame":
        // The leader handles state frames (recovery); other tabs take the count.
        if (message.frame.type === "state") store.setUnread(message.frame.unread_count);
        else applyFrame(message.frame);
        break;
      case "status":
        store.setStatus(message.status);
        store.setUnread(message.unread_count);
        break;
      case "recovered":
        store.received(message.notifications, { recovered: true });
        for (const n of message.notifications) store.advanceCursor(n.cursor);
        store.advanceCursor(message.cursor);
        store.setUnread(message.unread_count);
        break;
      case "reload":
        recovery.loadLatest({ missed: message.missed, quiet: Boolean(message.quiet) }).catch(() => {});
        break;
      default:
        break;
    }
  }

  // Actions (the public API and the views) -------------------------------------------

  function followed(n) {
    if (!n.read) api.markRead(n.id).catch(() => {});
  }

  const actions = {
    async markRead(id) {
      const data = await api.markRead(id);
      applyFrame({ type: "notification.read", ids: [id], read_at: data.notification.read_at, unread_count: data.unread_count });
      return data;
    },
    async markUnread(id) {
      const data = await api.markUnread(id);
      applyFrame({ type: "notification.unread", ids: [id], unread_count: data.unread_count });
      return data;
    },
    async delete(id) {
      const data = await api.delete(id);
      applyFrame({ type: "notification.deleted", ids: [id], unread_count: data.unread_count });
      return data;
    },
    async markAllRead() {
      const data = await api.markAllRead();
      applyFrame({ type: "notifications.read_all", cursor: data.cursor, unread_count: data.unread_count });
      return data;
    },
    archive: (n) => changed(n, "notification.archived", api.archive(n.id, Boolean(n.group)), "archived_at"),
    unarchive: (n) => changed(n, "notification.unarchived", api.unarchive(n.id, Boolean(n.group))),
    snooze: (n, until) =>
      changed(n, "notification.snoozed", api.snooze(n.id, until.toISOString(), Boolean(n.group)), "snoozed_until"),
    pin: (n) => changed(n, "notification.pinned", api.pin(n.id)),
    unpin: (n) => changed(n, "notification.unpinned", api.unpin(n.id)),
    markReadItem: (n) => changed(n, "notification.read", api.markRead(n.id, Boolean(n.group)), "read_at"),
    markUnreadItem: (n) => changed(n, "notification.unread", api.markUnread(n.id, Boolean(n.group))),
    /** Tell the server the inbox showed everything up to `cursor` (seen-on-open). */
    async seen(cursor) {
      const data = await api.seen(cursor);
      if (data.changed) applyFrame({ type: "notifications.seen_all", cursor, seen_at: new Date().toISOString(), unread_count: data.unread_count });
      return data;
    },
    async loadArchived() {
      const data = await api.archived();
      store.setArchived(data.results);
      return data;
    },
    counts: () => countsSoon(0),
    /** Run a notification's action button: a POST with the CSRF token, or nothing for a link. */
    async runAction(action) {
      const response = await api.postAction(action.url);
      return { ok: response.ok, status: response.status };
    },
    async loadMore() {
      if (!store.state.nextUrl) return null;
      const data = await api.page(store.state.nextUrl);
      store.appendPage(data.results, data.next);
      return data;
    },
    reload: () => recovery.loadLatest(),
    readUrl: api.readUrl,
    unreadUrl: api.unreadUrl,
    deleteUrl: api.deleteUrl,
  };

  // Views --------------------------------------------------------------------------

  const inbox = mountInbox(root, { cfg, store, actions, announce, onFollow: followed });
  const toasts = mountToasts($("[data-notifications-toasts]"), {
    cfg,
    store,
    announce,
    onFollow: followed,
    onOpenInbox: () => inbox.open(),
    focusFallback: () => inbox.focusBell(),
    runAction: actions.runAction,
  });
  for (const section of document.querySelectorAll("[data-notifications-history]")) {
    mountHistory(section, { cfg, store, actions, announce });
  }
  for (const list of document.querySelectorAll("[data-notifications-latest]")) mountLatest(list, { store });
  startClock();

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (inbox.isOpen) inbox.close({ focusBell: true });
    else if (!toasts.closeNewest()) return;
    event.preventDefault();
  });
  window.addEventListener("online", () => connection.retrySoon());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") connection.retrySoon();
  });

  // Start --------------------------------------------------------------------------

  store.state.cursor = store.storedCursor();
  store.setStatus("connecting");
  const ready = recovery.loadLatest().catch((error) => {
    console.warn("notifications: could not load the inbox; retrying after connecting.", error);
  });
  tabs.hello();
  tabs.elect(ready, () => connection.start());

  return {
    get unreadCount() { return store.state.unread; },
    get status() { return store.state.status; },
    get items() { return store.visibleItems().map((n) => ({ ...n })); },
    get isLeader() { return tabs.isLeader; },
    /** Text frames received on this tab's socket so far (0 unless it is the leader). */
    get framesReceived() { return connection.frames; },
    open: () => inbox.open(),
    close: () => inbox.close(),
    loadMore: () => actions.loadMore(),
    markRead: (id) => actions.markRead(id),
    markUnread: (id) => actions.markUnread(id),
    delete: (id) => actions.delete(id),
    markAllRead: () => actions.markAllRead(),
    archive: (id) => actions.archive({ id }),
    unarchive: (id) => actions.unarchive({ id }),
    snooze: (id, until) => actions.snooze({ id }, until),
    pin: (id) => actions.pin({ id }),
    unpin: (id) => actions.unpin({ id }),
    get unseenCount() { return store.state.unseen; },
  };
}

function start() {
  const script = document.querySelector("script[data-notifications-client]");
  const root = document.querySelector("[data-notifications-root]");
  if (!script || !root || !script.dataset.socketPath) return null;
  if (!root[CLIENT]) {
    root[CLIENT] = createClient(script, root);
    mountAlerts(root); // Tab title count, desktop notifications (client/alerts.js).
    mountPush(root, script.dataset.csrfToken); // Web Push button (client/push.js).
    document.dispatchEvent(new CustomEvent("notifications:ready", { detail: { client: root[CLIENT] } }));
  }
  return root[CLIENT];
}

const client = start();

export default client;
