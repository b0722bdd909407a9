// Live server-rendered lists: the history page ([data-notifications-history])
// and any "latest" list ([data-notifications-latest], the demo's home page).
// The server renders them (they work without JavaScript); this module keeps
// them in step with the store: new ones appear, read state, deletions and the
// unread count follow every tab. The history page's forms are submitted
// through the API instead of a full page load.
import { el, frameScheduler } from "./dom.js";
import { levelBadge, levelOf } from "./levels.js";
import { safeHref } from "./links.js";
import { timeElement } from "./time.js";

export function mountHistory(section, { cfg, store, actions, announce }) {
  const list = section.querySelector("[data-notifications-history-list]");
  const unreadText = section.querySelector("[data-history-unread]");
  const readAllForm = section.querySelector("[data-notifications-history-read-all]");
  const newest = section.dataset.newest === "true";
  const here = `${location.pathname}${location.search}`;
  const rows = () => [...list.querySelectorAll(":scope > li[data-notification-id]")];
  const row = (id) => rows().find((li) => li.dataset.notificationId === String(id));

  function setUnread(count) {
    unreadText.dataset.historyUnread = String(count);
    unreadText.textContent = `${count} unread`;
    if (readAllForm) readAllForm.hidden = count === 0;
  }

  function form(action, url, label, extra) {
    const f = el("form", "ntf-inline");
    f.method = "post";
    f.action = url;
    f.dataset.action = action;
    for (const [name, value] of [["csrfmiddlewaretoken", cfg.csrfToken], ["next", here]]) {
      const input = el("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      f.append(input);
    }
    const button = el("button", "ntf-action", label);
    button.type = "submit";
    if (extra) button.setAttribute("aria-label", extra);
    f.append(button);
    return f;
  }

  function toggleForm(n) {
    return n.read
      ? form("unread", actions.unreadUrl(n.id), "Mark unread")
      : form("read", actions.readUrl(n.id), "Mark read");
  }

  function renderRow(n) {
    const level = levelOf(n);
    const li = el("li", "ntf-history-item");
    li.dataset.notificationId = String(n.id);
    li.dataset.cursor = String(n.cursor);
    li.dataset.level = level;
    li.dataset.read = String(Boolean(n.read));
    li.classList.toggle("ntf-unread", !n.read);
    const main = el("div", "ntf-history-main");
    main.append(levelBadge(level));
    const text = el("div", "ntf-history-text");
    if (!n.read) text.append(el("span", "ntf-sr", "Unread: "));
    if (n.title) text.append(el("strong", "ntf-title", n.title), " ");
    text.append(el("span", "ntf-message", n.message));
    const meta = el("div", "ntf-history-meta");
    meta.append(timeElement(n.created_at));
    const href = safeHref(n.url);
    if (href) {
      const link = el("a", "ntf-history-link", "Open");
      link.href = href;
      meta.append(" ", link);
    }
    text.append(meta);
    main.append(text);
    const buttons = el("div", "ntf-history-actions");
    buttons.append(toggleForm(n), form("delete", actions.deleteUrl(n.id), "Delete", `Delete notification: ${n.title || n.message}`.slice(0, 200)));
    li.append(main, buttons);
    return li;
  }

  function setRead(li, n) {
    const read = Boolean(n.read);
    if (li.dataset.read === String(read)) return;
    li.dataset.read = String(read);
    li.classList.toggle("ntf-unread", !read);
    li.querySelector(".ntf-history-text > .ntf-sr")?.remove();
    if (!read) li.querySelector(".ntf-history-text").prepend(el("span", "ntf-sr", "Unread: "));
    const old = li.querySelector('form[data-action="read"], form[data-action="unread"]');
    const hadFocus = old?.contains(document.activeElement);
    const fresh = toggleForm(n);
    old?.replaceWith(fresh);
    if (hadFocus) fresh.querySelector("button").focus();
  }

  function updateEmpty() {
    const empty = list.querySelector("[data-notifications-history-empty]");
    if (empty) empty.hidden = rows().length > 0;
  }

  const pendingNew = [];
  const flushNew = frameScheduler(() => {
    const batch = pendingNew.splice(0);
    if (!newest || batch.length === 0) return;
    batch.sort((a, b) => a.cursor - b.cursor);
    for (const n of batch) {
      if (row(n.id)) continue;
      const first = rows()[0];
      list.insertBefore(renderRow(n), first || list.firstChild);
    }
    // Keep the page its server size: the rest is on "Older".
    const extra = rows().slice(cfg.pageSize);
    for (const li of extra) li.remove();
    updateEmpty();
  });

  store.subscribe((change, state) => {
    switch (change.kind) {
      case "created":
        pendingNew.push(...change.fresh);
        if (change.fresh.length) flushNew();
        break;
      case "read":
      case "unread":
        for (const id of change.all) {
          const li = row(id);
          if (li) setRead(li, { id, read: change.kind === "read" });
        }
        break;
      case "read-all":
        for (const li of rows()) if (Number(li.dataset.cursor) <= change.cursor) setRead(li, { id: li.dataset.notificationId, read: true });
        break;
      case "deleted":
      case "archived":
      case "snoozed":
        // Gone from the history page too (it lists what the inbox shows).
        for (const id of change.all) row(id)?.remove();
        updateEmpty();
        break;
      case "list":
        for (const n of state.items.values()) {
          const li = row(n.id);
          if (li) setRead(li, n);
        }
        break;
      case "count":
        setUnread(change.count);
        break;
      default:
        break;
    }
  });

  section.addEventListener("submit", async (event) => {
    const f = event.target;
    if (!(f instanceof HTMLFormElement) || !f.dataset.action) return;
    event.preventDefault();
    const li = f.closest("li[data-notification-id]");
    const id = li ? Number(li.dataset.notificationId) : null;
    try {
      if (f.dataset.action === "read") {
        await actions.markRead(id);
        announce.polite("Marked as read");
      } else if (f.dataset.action === "unread") {
        await actions.markUnread(id);
        announce.polite("Marked as unread");
      } else if (f.dataset.action === "delete") {
        const next = li.nextElementSibling || li.previousElementSibling;
        await actions.delete(id);
        li.remove();
        updateEmpty();
        announce.polite("Deleted");
        (next?.querySelector("button") || section.querySelector("h1"))?.focus();
      } else if (f.dataset.action === "read-all") {
        await actions.markAllRead();
        announce.polite("All notifications marked as read");
        section.querySelector("h1")?.focus();
      }
    } catch {
      f.submit(); // The API failed: fall back to the plain form post.
    }
  });
}

export function mountLatest(listNode, { store }) {
  const limit = Math.max(1, Number.parseInt(listNode.dataset.limit || "10", 10));
  const render = frameScheduler(() => {
    if (!store.state.listLoaded) return;
    // Newest first, whatever the inbox pins.
    const items = store.visibleItems().sort((a, b) => b.cursor - a.cursor).slice(0, limit);
    const byId = new Map([...listNode.querySelectorAll(":scope > li[data-notification-id]")].map((li) => [li.dataset.notificationId, li]));
    const fresh = items.map((n) => {
      const li = byId.get(String(n.id));
      return li && li.ntfItem === n ? li : renderLatest(n);
    });
    listNode.replaceChildren(...fresh);
    if (fresh.length === 0) {
      const empty = el("li", "ntf-latest-empty", listNode.dataset.emptyText || "Nothing yet.");
      listNode.append(empty);
    }
  });
  store.subscribe((change) => {
    if (change.kind !== "status" && change.kind !== "count") render();
  });
  render();
}

function renderLatest(n) {
  const level = levelOf(n);
  const li = el("li", "ntf-latest-item");
  li.ntfItem = n;
  li.dataset.notificationId = String(n.id);
  li.dataset.level = level;
  li.dataset.read = String(Boolean(n.read));
  li.classList.toggle("ntf-unread", !n.read);
  li.append(levelBadge(level));
  const text = el("span", "ntf-latest-text");
  if (!n.read) text.append(el("span", "ntf-sr", "Unread: "));
  // Like the server-rendered rows: text only (the inbox and history link).
  if (n.title) text.append(el("strong", "ntf-title", n.title));
  text.append(el("span", "ntf-message", n.message));
  li.append(text, timeElement(n.created_at));
  return li;
}
