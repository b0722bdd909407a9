// Toasts: one per new notification, at most MAX_TOASTS on screen, rendered at
// most once per animation frame. A burst (more new ones in one frame than fit)
// becomes one summary toast whose count keeps rising, instead of thousands of
// inserts. Error toasts are role="alert" (read at once); the others are
// announced politely through the shared live region. Escape closes the newest.
import { actionButtons } from "./actions.js";
import { el, frameScheduler } from "./dom.js";
import { levelBadge, levelOf } from "./levels.js";
import { safeHref } from "./links.js";

export function mountToasts(region, { cfg, store, announce, onFollow, onOpenInbox, focusFallback, runAction }) {
  let live = [];
  let recovered = [];
  let missed = 0;
  let recent = []; // when the last live toasts were shown (performance.now())
  const render = frameScheduler(flush);

  store.subscribe((change) => {
    switch (change.kind) {
      case "created":
        if (change.fresh.length) {
          if (change.recovered) recovered.push(...change.fresh);
          else live.push(...change.fresh);
          render();
        }
        break;
      case "list":
        if (change.missed > 0) missed += change.missed;
        else if (change.fresh.length) recovered.push(...change.fresh);
        if (change.missed > 0 || change.fresh.length) render();
        break;
      case "read":
      case "deleted":
        for (const id of change.all) dismissId(id);
        break;
      case "read-all":
        for (const id of change.ids) dismissId(id);
        break;
      default:
        break;
    }
  });

  function flush() {
    if (missed > 0) {
      summary(missed);
      missed = 0;
      recovered = [];
    }
    if (recovered.length > cfg.recoveryToastLimit) summary(recovered.length);
    else recovered.forEach((n) => toast(n));
    recovered = [];
    // Members of a group update that group's one toast instead of adding toasts.
    const batch = [];
    for (const n of live) {
      if (n.group_key && groupToast(n)) continue;
      batch.push(n);
    }
    live = [];
    if (batch.length === 0) return;
    const now = performance.now();
    recent = recent.filter((t) => now - t < 1000);
    const showing = region.querySelector(".ntf-toast[data-summary]");
    // More in one frame than fit, more than four screenfuls in a second, or a
    // burst summary still showing: count them instead of toasting each.
    if (showing || batch.length > cfg.maxToasts || batch.length + recent.length > 4 * cfg.maxToasts) {
      summary(batch.length);
    } else {
      batch.forEach((n) => toast(n));
      recent.push(...batch.map(() => now));
    }
  }

  function dismissId(id) {
    for (const node of region.querySelectorAll(".ntf-toast")) {
      if (node.dataset.notificationId === String(id)) remove(node, false);
    }
  }

  function remove(node, moveFocus) {
    if (!node.isConnected) return;
    const hadFocus = node.contains(document.activeElement);
    const next = node.nextElementSibling || node.previousElementSibling;
    clearTimeout(node.ntfTimer);
    node.remove();
    if (hadFocus || moveFocus) {
      const target = next?.querySelector(".ntf-close");
      if (target) target.focus();
      else if (hadFocus) focusFallback();
    }
  }

  function show(node, level) {
    while (region.children.length >= cfg.maxToasts) remove(region.firstElementChild, false);
    const close = el("button", "ntf-close");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss notification");
    close.append(el("span", null, "×"));
    close.firstChild.setAttribute("aria-hidden", "true");
    close.addEventListener("click", () => remove(node, true));
    node.append(close);
    region.append(node);
    if (cfg.toastTimeout > 0 && !cfg.stickyLevels.has(level)) {
      const hide = () => remove(node, false);
      node.ntfTimer = setTimeout(hide, cfg.toastTimeout);
      // A summary whose count rises stays up until the burst is over.
      node.ntfRestart = () => { clearTimeout(node.ntfTimer); node.ntfTimer = setTimeout(hide, cfg.toastTimeout); };
      // Pause while the pointer or keyboard focus is on it.
      const pause = () => clearTimeout(node.ntfTimer);
      const resume = () => { clearTimeout(node.ntfTimer); node.ntfTimer = setTimeout(hide, cfg.toastTimeout); };
      node.addEventListener("mouseenter", pause);
      node.addEventListener("focusin", pause);
      node.addEventListener("mouseleave", resume);
      node.addEventListener("focusout", resume);
    }
  }

  function toast(n) {
    const level = levelOf(n);
    const node = el("div", "ntf-toast");
    node.dataset.level = level;
    node.dataset.notificationId = String(n.id);
    if (level === "error") node.setAttribute("role", "alert");
    const href = safeHref(n.url);
    const body = href ? el("a", "ntf-toast-body") : el("div", "ntf-toast-body");
    if (href) {
      body.href = href;
      body.addEventListener("click", () => onFollow(n));
    }
    const head = el("span", "ntf-toast-head");
    head.append(levelBadge(level));
    if (n.title) head.append(el("strong", "ntf-title", n.title));
    body.append(head, el("span", "ntf-message", n.message));
    node.append(body);
    const buttons = actionButtons(n, { runAction, announce });
    if (buttons) node.append(buttons);
    show(node, level);
    if (level !== "error") {
      const levelWord = level === "info" ? "" : `${level[0].toUpperCase()}${level.slice(1)}: `;
      announce.polite(`${levelWord}${n.title ? `${n.title}. ` : ""}${n.message}`.slice(0, 300));
    }
  }

  /** Fold `n` into the toast of its group if one shows or one is in this batch; false if none. */
  function groupToast(n) {
    const node = [...region.querySelectorAll(".ntf-toast[data-group-key]")].find((t) => t.dataset.groupKey === n.group_key);
    if (!node) {
      // The first of its group: a toast of its own, which later members update.
      toast(n);
      const shown = region.lastElementChild;
      if (shown) {
        shown.dataset.groupKey = n.group_key;
        shown.dataset.groupCount = "1";
      }
      return true;
    }
    const count = Number(node.dataset.groupCount || "1") + 1;
    node.dataset.groupCount = String(count);
    node.dataset.notificationId = String(n.id);
    const title = node.querySelector(".ntf-title");
    const text = `${n.title || "New notifications"} (${count})`;
    if (title) title.textContent = text;
    else node.querySelector(".ntf-toast-head").append(el("strong", "ntf-title", text));
    node.querySelector(".ntf-message").textContent = n.message;
    if (!node.matches(":hover, :focus-within")) node.ntfRestart?.();
    announce.polite(`${count} new: ${n.title || n.message}`.slice(0, 300));
    return true;
  }

  function summary(count) {
    let node = region.querySelector(".ntf-toast[data-summary]");
    if (node) {
      count += Number(node.dataset.summary);
      if (!node.matches(":hover, :focus-within")) node.ntfRestart?.();
    } else {
      node = el("div", "ntf-toast");
      node.dataset.level = "info";
      const body = el("button", "ntf-toast-body ntf-toast-summary");
      body.type = "button";
      const head = el("span", "ntf-toast-head");
      head.append(levelBadge("info"), el("strong", "ntf-title"));
      body.append(head, el("span", "ntf-message", "Open the inbox to see them."));
      body.addEventListener("click", () => { remove(node, false); onOpenInbox(); });
      node.append(body);
      show(node, "info");
    }
    node.dataset.summary = String(count);
    node.querySelector(".ntf-title").textContent = `${count} new notifications`;
    announce.polite(`${count} new notifications`);
  }

  return {
    /** Close the newest toast; false if there was none. */
    closeNewest() {
      const newest = region.lastElementChild;
      if (!newest) return false;
      remove(newest, newest.contains(document.activeElement));
      return true;
    },
    get count() { return region.children.length; },
  };
}
