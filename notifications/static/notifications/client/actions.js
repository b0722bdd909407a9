// What an inbox row or a toast offers beyond read/delete: its action buttons
// (a link, or a POST that carries the CSRF token and shows its result), the
// snooze presets, and the group line ("Alice and 49 others"). Text only
// through textContent; urls only through safeHref.
import { el } from "./dom.js";
import { safeHref } from "./links.js";

/** The snooze presets: [label, () => Date]. */
export const SNOOZE_PRESETS = [
  ["1 hour", () => new Date(Date.now() + 3600 * 1000)],
  ["Tomorrow 9:00", () => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    d.setHours(9, 0, 0, 0);
    return d;
  }],
  ["Next week", () => {
    // Next Monday, 9:00.
    const d = new Date();
    d.setDate(d.getDate() + (((8 - d.getDay()) % 7) || 7));
    d.setHours(9, 0, 0, 0);
    return d;
  }],
];

/** "Alice and 49 others · 50 notifications" / "50 notifications" for a group entry, "" otherwise. */
export function groupLine(n) {
  const count = n.group?.count ?? 1;
  if (count < 2) return "";
  const others = (n.group.actor_count ?? 0) - 1;
  if (n.actor?.name && others > 0) {
    return `${n.actor.name} and ${others} ${others === 1 ? "other" : "others"} · ${count} notifications`;
  }
  return `${count} notifications`;
}

// What each POST button answered, by notification id and button: a row is
// re-rendered when its notification changes (the action may well change it).
const answers = new Map();

/** The row of action buttons of `n` (null when it has none). */
export function actionButtons(n, { runAction, announce }) {
  const list = Array.isArray(n.actions) ? n.actions.slice(0, 2) : [];
  if (!list.length) return null;
  const row = el("div", "ntf-buttons");
  for (const action of list) {
    const href = safeHref(action.url);
    if (!href || typeof action.label !== "string") continue;
    if (action.method !== "post") {
      const link = el("a", "ntf-action ntf-button-link", action.label);
      link.href = href;
      link.dataset.control = `action-${row.children.length}`;
      row.append(link);
      continue;
    }
    const button = el("button", "ntf-action ntf-button-post", action.label);
    button.type = "button";
    button.dataset.control = `action-${row.children.length}`;
    const key = `${n.id}:${row.children.length}`;
    const result = el("span", "ntf-button-result", answers.get(key) ?? "");
    result.dataset.answer = key;
    button.addEventListener("click", async (event) => {
      event.stopPropagation();
      // aria-disabled, not disabled: a disabled button would drop the focus.
      if (button.getAttribute("aria-disabled") === "true") return;
      button.setAttribute("aria-disabled", "true");
      result.textContent = "…";
      answers.set(key, "…");
      let said;
      try {
        const answer = await runAction({ ...action, url: href });
        said = answer.ok ? "Done" : `Failed (HTTP ${answer.status})`;
      } catch {
        said = "Failed (network)";
      }
      answers.set(key, said);
      // The row may have been re-rendered meanwhile (the action changed it): update every copy.
      for (const node of document.querySelectorAll(".ntf-button-result")) {
        if (node.dataset.answer === key) node.textContent = said;
      }
      result.textContent = said;
      button.removeAttribute("aria-disabled");
      announce.polite(`${action.label}: ${said}`);
    });
    row.append(button, result);
  }
  return row.children.length ? row : null;
}
