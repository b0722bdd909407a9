// Levels: an icon of its own shape and a word for each, never colour alone.
import { el, icon } from "./dom.js";

const PATHS = {
  // a bug-like dot in a square
  debug: "M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2Zm7 5a4 4 0 1 0 0 8 4 4 0 0 0 0-8Z",
  // an "i" in a circle
  info: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20Zm-1 8v7h2v-7h-2Zm0-3v2h2V7h-2Z",
  // a tick in a circle
  success: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20Zm4.3 6.3-5.8 5.8-2.8-2.8-1.4 1.4 4.2 4.2 7.2-7.2-1.4-1.4Z",
  // "!" in a triangle
  warning: "M12 2 1 21h22L12 2Zm-1 7h2v6h-2V9Zm0 8h2v2h-2v-2Z",
  // "×" in an octagon
  error: "M8 2h8l6 6v8l-6 6H8l-6-6V8l6-6Zm1.4 5L8 8.4l3.6 3.6L8 15.6 9.4 17l3.6-3.6 3.6 3.6 1.4-1.4-3.6-3.6L18 8.4 16.6 7 13 10.6 9.4 7Z",
};

const LABELS = { debug: "Debug", info: "Info", success: "Success", warning: "Warning", error: "Error" };

export function levelOf(n) {
  return Object.hasOwn(LABELS, n.level) ? n.level : "info";
}

/** The level as icon + word; `visibleText` false keeps the word for screen readers only. */
export function levelBadge(level, { visibleText = true } = {}) {
  const badge = el("span", "ntf-level");
  badge.dataset.level = level;
  badge.append(icon(PATHS[level] || PATHS.info, "ntf-level-icon"));
  badge.append(el("span", visibleText ? "ntf-level-text" : "ntf-sr", LABELS[level] || LABELS.info));
  return badge;
}
