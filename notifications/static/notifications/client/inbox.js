// The bell and its inbox: a non-modal dialog opened by the bell. Rendered from
// the store at most once per animation frame, keyed by id, so focus survives
// re-renders. Keyboard: one Tab stop into the list (roving tabindex; arrows,
// Home and End move between items; Tab reaches the active item's buttons),
// Escape closes and returns to the bell, focus leaving the inbox closes it.
// Every action keeps focus on a sensible element and says what happened in
// the polite live region; Delete can be undone for a few seconds.
import { SNOOZE_PRESETS, actionButtons, groupLine } from "./actions.js";
import { el, frameScheduler } from "./dom.js";
import { levelBadge, levelOf } from "./levels.js";
import { safeHref } from "./links.js";
import { timeElement } from "./time.js";

const STATUS_LABELS = {
  connecting: "",
  connected: "",
  reconnecting: "Reconnecting…",
  polling: "Checking periodically…",
  offline: "Offline",
};

export function mountInbox(root, { cfg, store, actions, announce, onFollow }) {
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    bell: $("[data-notifications-bell]"),
    badge: $("[data-notifications-badge]"),
    count: $("[data-notifications-unread]"),
    stateLabel: $("[data-notifications-state-label]"),
    inbox: $("[data-notifications-inbox]"),
    title: $("[data-notifications-title]"),
    list: $("[data-notifications-list]"),
    empty: $("[data-notifications-empty]"),
    more: $("[data-notifications-more]"),
    readAll: $("[data-notifications-read-all]"),
    close: $("[data-notifications-close]"),
    undo: $("[data-notifications-undo]"),
    undoText: $("[data-notifications-undo-text]"),
    undoButton: $("[data-notifications-undo-button]"),
    tabs: [...root.querySelectorAll("[data-notifications-tab]")],
  };
  const EMPTY = {
    all: "You have no notifications.",
    unread: "You have no unread notifications.",
    archived: "Nothing is archived.",
  };
  const emptyText = ui.empty.querySelector(".ntf-empty");

  // Without JavaScript the bell is a link to the history page; with it, a
  // button that opens the inbox.
  if (ui.bell.tagName === "A") {
    const button = document.createElement("button");
    for (const { name, value } of ui.bell.attributes) if (name !== "href") button.setAttribute(name, value);
    button.type = "button";
    button.append(...ui.bell.childNodes);
    ui.bell.replaceWith(button);
    ui.bell = button;
  }
  ui.bell.setAttribute("aria-expanded", "false");
  ui.bell.setAttribute("aria-controls", ui.inbox.id);
  ui.bell.setAttribute("aria-haspopup", "dialog");

  let active = null; // id of the item holding the list's Tab stop
  let pendingDelete = null; // { id, timer }
  const render = frameScheduler(draw);

  store.subscribe((change) => {
    if (change.kind === "count") drawCount();
    else if (change.kind === "status") drawStatus();
    else if (change.kind === "counts") drawTabs();
    else render();
    if ((change.kind === "created" || change.kind === "list") && !ui.inbox.hidden) seenSoon();
  });

  // Tabs: Unread / All / Archived, toggle buttons with their counts ------------

  function drawTabs() {
    const { state } = store;
    for (const tab of ui.tabs) {
      const name = tab.dataset.notificationsTab;
      tab.setAttribute("aria-pressed", String(state.tab === name));
      const count = tab.querySelector("[data-notifications-tab-count]");
      if (!count) continue;
      const n = name === "unread" ? state.unread : state.archivedCount;
      count.textContent = n ? `(${n > 99 ? "99+" : n})` : "";
    }
  }

  function selectTab(name) {
    store.setTab(name);
    if (name === "archived") actions.loadArchived().catch(() => announce.polite("Could not load the archive."));
    actions.counts();
    draw();
  }

  for (const tab of ui.tabs) tab.addEventListener("click", () => selectTab(tab.dataset.notificationsTab));

  // Seen-on-open: what the open inbox shows is seen (one POST up to its cursor).
  let seenTimer = 0;
  function seenSoon() {
    clearTimeout(seenTimer);
    seenTimer = setTimeout(() => {
      if (ui.inbox.hidden || store.state.tab === "archived") return;
      const unseen = store.tabItems().filter((n) => n.seen === false);
      if (!unseen.length) return;
      actions.seen(Math.max(...unseen.map((n) => n.cursor))).catch(() => {});
    }, 200);
  }

  let expiryTimer = 0;
  function scheduleExpiry() {
    clearTimeout(expiryTimer);
    const at = store.nextExpiry();
    // Hide a row the moment it expires (a timer at most a day ahead).
    if (Number.isFinite(at)) expiryTimer = setTimeout(render, Math.min(at - Date.now() + 50, 86400000));
  }

  // Badge and status ---------------------------------------------------------

  function drawCount() {
    const count = cfg.badge === "unseen" ? store.state.unseen : store.state.unread;
    ui.count.dataset.notificationsUnread = String(count);
    ui.count.textContent = count > 99 ? "99+" : String(count);
    ui.badge.hidden = count === 0;
    ui.readAll.hidden = store.state.unread === 0 || ui.list.children.length === 0 || store.state.tab === "archived";
    drawTabs();
  }

  function drawStatus() {
    const { status } = store.state;
    ui.bell.dataset.notificationsStatus = status;
    ui.stateLabel.textContent = STATUS_LABELS[status] ?? "";
    ui.bell.title = status === "connected" || status === "connecting" ? "Notifications" : `Notifications (${STATUS_LABELS[status] || status})`;
  }

  // The list -------------------------------------------------------------------

  function draw() {
    const archivedTab = store.state.tab === "archived";
    const items = archivedTab ? store.archivedItems() ?? [] : store.tabItems();
    const focusKey = focusedControl();
    const existing = new Map();
    for (const li of ui.list.children) existing.set(li.dataset.notificationId, li);
    const wanted = items.map((n) => {
      const li = existing.get(String(n.id));
      return li && li.ntfItem === n ? li : renderItem(n);
    });
    const keep = new Set(wanted);
    for (const li of [...ui.list.children]) if (!keep.has(li)) li.remove();
    wanted.forEach((li, index) => {
      const at = ui.list.children[index] || null;
      if (at !== li) ui.list.insertBefore(li, at);
    });
    if (!items.some((n) => String(n.id) === String(active))) active = items[0]?.id ?? null;
    for (const li of ui.list.children) setRoving(li, li.dataset.notificationId === String(active));
    if (focusKey && !ui.inbox.contains(document.activeElement)) restoreFocus(focusKey);
    ui.empty.hidden = (archivedTab ? !store.state.archived : !store.state.listLoaded) || items.length > 0;
    emptyText.textContent = EMPTY[store.state.tab] ?? EMPTY.all;
    ui.more.hidden = archivedTab || !store.state.nextUrl;
    drawCount();
    scheduleExpiry();
    if (!ui.inbox.hidden) measureClamps();
  }

  function renderItem(n) {
    const level = levelOf(n);
    const li = el("li", "ntf-item");
    li.ntfItem = n;
    li.dataset.notificationId = String(n.id);
    li.dataset.cursor = String(n.cursor);
    li.dataset.level = level;
    li.dataset.read = String(Boolean(n.read));
    li.dataset.control = "item";
    li.classList.toggle("ntf-unread", !n.read);

    const body = el("div", "ntf-item-body");
    const href = safeHref(n.url);
    const head = href ? el("a", "ntf-item-link") : el("div", "ntf-item-link");
    if (href) {
      head.href = href;
      head.dataset.control = "link";
      head.addEventListener("click", () => onFollow(n));
    }
    if (!n.title) head.classList.add("ntf-untitled");
    const image = safeHref(n.image);
    if (image) {
      const img = el("img", "ntf-image");
      img.src = image;
      img.alt = "";
      img.width = 28;
      img.height = 28;
      head.append(img);
    }
    head.append(levelBadge(level, { visibleText: false }));
    if (!n.read) head.append(el("span", "ntf-sr", "Unread: "));
    if (n.pinned) head.append(el("span", "ntf-pinned", "Pinned"));
    if (n.title) head.append(el("strong", "ntf-title", n.title));
    const group = groupLine(n);
    if (group) head.append(el("span", "ntf-group", group));
    const message = el("span", "ntf-message", n.message);
    message.id = `ntf-message-${n.id}`;
    head.append(message);
    body.append(head);
    const buttons = actionButtons(n, { runAction: actions.runAction, announce });
    if (buttons) body.append(buttons);
    li.dataset.pinned = String(Boolean(n.pinned));
    if (n.group) li.dataset.groupCount = String(n.group.count);

    const meta = el("div", "ntf-item-meta");
    meta.append(timeElement(n.created_at));
    const more = el("button", "ntf-text-button ntf-more", "More");
    more.type = "button";
    more.hidden = true;
    more.dataset.control = "more";
    more.setAttribute("aria-expanded", "false");
    more.setAttribute("aria-controls", message.id);
    more.addEventListener("click", () => {
      const open = li.classList.toggle("ntf-expanded");
      more.setAttribute("aria-expanded", String(open));
      more.textContent = open ? "Less" : "More";
    });
    meta.append(more);

    const label = (n.title || n.message).slice(0, 120);
    const button = (text, name, onClick, ariaLabel) => {
      const node = el("button", "ntf-action", text);
      node.type = "button";
      node.dataset.action = name;
      node.dataset.control = name;
      if (ariaLabel) node.setAttribute("aria-label", ariaLabel);
      node.addEventListener("click", onClick);
      return node;
    };
    const remove = el("button", "ntf-action", "Delete");
    remove.type = "button";
    remove.dataset.action = "delete";
    remove.dataset.control = "delete";
    remove.setAttribute("aria-label", `Delete notification: ${n.title || n.message}`.slice(0, 200));
    remove.addEventListener("click", () => deleteWithUndo(n.id));
    if (n.archived_at) {
      meta.append(button("Unarchive", "unarchive", () => change(n, "unarchive", "Moved back to the inbox"), `Unarchive: ${label}`), remove);
    } else {
      const toggle = el("button", "ntf-action", n.read ? "Mark unread" : "Mark read");
      toggle.type = "button";
      toggle.dataset.action = n.read ? "unread" : "read";
      toggle.dataset.control = "toggle";
      toggle.addEventListener("click", () => toggleRead(n));
      // Delete next to the toggle, as before the inbox states; then the new ones.
      meta.append(toggle, remove);
      meta.append(button("Archive", "archive", () => change(n, "archive", "Archived"), `Archive: ${label}`));
      const snooze = button("Snooze", "snooze", () => {
        const open = menu.hidden;
        menu.hidden = !open;
        snooze.setAttribute("aria-expanded", String(open));
        if (open) menu.querySelector("button").focus();
      }, `Snooze: ${label}`);
      snooze.setAttribute("aria-expanded", "false");
      const menu = el("div", "ntf-snooze-menu");
      menu.hidden = true;
      menu.id = `ntf-snooze-${n.id}`;
      snooze.setAttribute("aria-controls", menu.id);
      menu.setAttribute("role", "group");
      menu.setAttribute("aria-label", "Snooze until");
      SNOOZE_PRESETS.forEach(([text, when], index) => {
        menu.append(button(text, `snooze-${index}`, () => snoozeUntil(n, when(), text)));
      });
      meta.append(snooze);
      meta.append(n.pinned
        ? button("Unpin", "unpin", () => change(n, "unpin", "Unpinned"), `Unpin: ${label}`)
        : button("Pin", "pin", () => change(n, "pin", "Pinned to the top"), `Pin: ${label}`));
      body.append(meta, menu);
    }
    if (!meta.isConnected && !body.contains(meta)) body.append(meta);
    li.append(body);
    return li;
  }

  function setRoving(li, isActive) {
    const index = isActive ? "0" : "-1";
    li.tabIndex = Number(index);
    for (const control of li.querySelectorAll("a, button")) control.tabIndex = Number(index);
  }

  function measureClamps() {
    for (const li of ui.list.children) {
      if (li.classList.contains("ntf-expanded")) continue;
      const message = li.querySelector(".ntf-message");
      li.querySelector(".ntf-more").hidden = message.scrollHeight <= message.clientHeight + 1;
    }
  }

  function rows() {
    return [...ui.list.children];
  }

  function rowOf(node) {
    return node?.closest?.("[data-notifications-list] > li") ?? null;
  }

  function focusedControl() {
    const focused = document.activeElement;
    const li = rowOf(focused);
    if (!li || !ui.list.contains(li)) return null;
    return { id: li.dataset.notificationId, control: focused.dataset.control || "item" };
  }

  function restoreFocus({ id, control }) {
    const li = rows().find((row) => row.dataset.notificationId === id);
    if (!li) return;
    const target = control === "item" ? li : li.querySelector(`[data-control="${control}"]`) || li;
    target.focus();
  }

  function focusRow(li) {
    if (!li) return;
    active = li.dataset.notificationId;
    for (const row of rows()) setRoving(row, row === li);
    li.focus();
  }

  ui.list.addEventListener("keydown", (event) => {
    const li = rowOf(event.target);
    if (!li) return;
    const all = rows();
    const index = all.indexOf(li);
    let next = null;
    if (event.key === "ArrowDown") next = all[Math.min(index + 1, all.length - 1)];
    else if (event.key === "ArrowUp") next = all[Math.max(index - 1, 0)];
    else if (event.key === "Home") next = all[0];
    else if (event.key === "End") next = all[all.length - 1];
    else if (event.key === "Enter" && event.target === li) {
      li.querySelector("a.ntf-item-link")?.click();
      return;
    } else return;
    event.preventDefault();
    focusRow(next);
  });
  ui.list.addEventListener("focusin", (event) => {
    const li = rowOf(event.target);
    if (li && li.dataset.notificationId !== String(active)) {
      active = li.dataset.notificationId;
      for (const row of rows()) setRoving(row, row === li);
    }
  });

  // Actions ------------------------------------------------------------------

  /** Focus the row after `n` (or before it): `n` is leaving this list. */
  function focusAfterLeaving(n) {
    const li = rows().find((row) => row.dataset.notificationId === String(n.id));
    const next = li?.nextElementSibling || li?.previousElementSibling;
    return () => {
      draw();
      if (next && next.isConnected) focusRow(next);
      else ui.title.focus();
    };
  }

  async function change(n, name, said) {
    const leaving = name === "archive" || name === "unarchive";
    const refocus = leaving ? focusAfterLeaving(n) : null;
    try {
      await actions[name](n);
      announce.polite(said);
      if (refocus) refocus();
      else {
        draw();
        restoreFocus({ id: String(n.id), control: name === "pin" ? "unpin" : name === "unpin" ? "pin" : name });
      }
    } catch {
      announce.polite("Could not change the notification. Try again.");
    }
  }

  async function snoozeUntil(n, until, text) {
    const refocus = focusAfterLeaving(n);
    try {
      await actions.snooze(n, until);
      announce.polite(`Snoozed until ${text.toLowerCase() === "1 hour" ? "in 1 hour" : text}`);
      refocus();
    } catch {
      announce.polite("Could not snooze the notification. Try again.");
    }
  }

  async function toggleRead(n) {
    try {
      if (n.read) {
        await actions.markUnreadItem(n);
        announce.polite("Marked as unread");
      } else {
        await actions.markReadItem(n);
        announce.polite("Marked as read");
      }
    } catch {
      announce.polite("Could not change the notification. Try again.");
    }
  }

  function deleteWithUndo(id) {
    commitDelete();
    const li = rows().find((row) => row.dataset.notificationId === String(id));
    const next = li?.nextElementSibling || li?.previousElementSibling;
    store.setHidden(id, true);
    const timer = setTimeout(commitDelete, cfg.undoMs);
    pendingDelete = { id, timer };
    ui.undoText.textContent = "Deleted.";
    ui.undo.hidden = false;
    announce.polite("Deleted. Undo");
    draw();
    if (next && next.isConnected) focusRow(next);
    else ui.undoButton.focus();
  }

  async function commitDelete() {
    const pending = pendingDelete;
    if (!pending) return;
    pendingDelete = null;
    clearTimeout(pending.timer);
    if (!ui.undo.contains(document.activeElement)) ui.undo.hidden = true;
    else {
      ui.undo.hidden = true;
      (rows()[0] || ui.title).focus();
    }
    try {
      await actions.delete(pending.id);
    } catch {
      store.setHidden(pending.id, false);
      announce.polite("Could not delete the notification.");
    }
  }

  function undoDelete() {
    const pending = pendingDelete;
    if (!pending) return;
    pendingDelete = null;
    clearTimeout(pending.timer);
    ui.undo.hidden = true;
    store.setHidden(pending.id, false);
    draw();
    announce.polite("Restored");
    const li = rows().find((row) => row.dataset.notificationId === String(pending.id));
    if (li) focusRow(li);
  }

  async function readAll() {
    try {
      await actions.markAllRead();
      announce.polite("All notifications marked as read");
    } catch {
      announce.polite("Could not mark the notifications read.");
    }
    (rows()[0] || ui.title).focus();
  }

  async function loadMore() {
    const count = rows().length;
    await actions.loadMore();
    draw();
    const first = rows()[count];
    if (first) focusRow(first);
    announce.polite(store.state.nextUrl ? "More notifications loaded" : "All notifications loaded");
  }

  // Open and close ---------------------------------------------------------------

  function open() {
    if (!ui.inbox.hidden) return;
    ui.inbox.hidden = false;
    ui.bell.setAttribute("aria-expanded", "true");
    if (!store.state.listLoaded) actions.reload().catch(() => {});
    if (store.state.tab === "archived") actions.loadArchived().catch(() => {});
    actions.counts();
    draw();
    seenSoon();
    const li = rows().find((row) => row.tabIndex === 0);
    ui.list.scrollTop = 0;
    (li || ui.title).focus({ preventScroll: true });
  }

  function close({ focusBell = false } = {}) {
    if (ui.inbox.hidden) return;
    ui.inbox.hidden = true;
    ui.bell.setAttribute("aria-expanded", "false");
    if (focusBell) ui.bell.focus();
  }

  ui.bell.addEventListener("click", () => (ui.inbox.hidden ? open() : close()));
  ui.close.addEventListener("click", () => close({ focusBell: true }));
  ui.more.addEventListener("click", () => loadMore().catch(() => {}));
  ui.readAll.addEventListener("click", () => readAll());
  ui.undoButton.addEventListener("click", () => undoDelete());
  ui.inbox.addEventListener("focusout", (event) => {
    const to = event.relatedTarget;
    if (to && !ui.inbox.contains(to) && to !== ui.bell) close();
  });
  document.addEventListener("click", (event) => {
    // composedPath(): the clicked button may be gone already (a deleted row).
    if (!ui.inbox.hidden && !event.composedPath().includes(root)) close();
  });
  window.addEventListener("pagehide", () => commitDelete());

  drawCount();
  drawStatus();

  return {
    open,
    close,
    get isOpen() { return !ui.inbox.hidden; },
    focusBell: () => ui.bell.focus(),
  };
}
