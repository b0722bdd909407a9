// One time format everywhere (toasts, inbox, history, lists): a relative time
// in the page's language ("now", "2 minutes ago", "yesterday") inside
// <time datetime="ISO" title="absolute time">, kept up to date by one timer.

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

export function pageLocale() {
  return document.documentElement.lang || navigator.language || "en";
}

let relativeFormat = null;
let absoluteFormat = null;

function formats() {
  if (!relativeFormat) {
    const locale = pageLocale();
    try {
      relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
      absoluteFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    } catch {
      relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
      absoluteFormat = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });
    }
  }
  return { relative: relativeFormat, absolute: absoluteFormat };
}

/** "now", "5 minutes ago", "yesterday", "last week", ... for `date` seen at `now`. */
export function formatRelative(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const { relative } = formats();
  if (Math.abs(seconds) < 45) return relative.format(0, "second");
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "minute") {
      const value = Math.round(seconds / size) || Math.sign(seconds);
      return relative.format(value, unit);
    }
  }
  return relative.format(0, "second");
}

export function formatAbsolute(date) {
  return formats().absolute.format(date);
}

/** Fill (or refresh) a <time datetime> element. */
export function updateTime(node, now = Date.now()) {
  const date = new Date(node.dateTime);
  if (Number.isNaN(date.getTime())) return;
  const text = formatRelative(date, now);
  if (node.textContent !== text) node.textContent = text;
  if (!node.title) node.title = formatAbsolute(date);
}

export function timeElement(iso) {
  const node = document.createElement("time");
  node.className = "ntf-time";
  node.dateTime = iso;
  node.dataset.notificationsTime = "";
  updateTime(node);
  return node;
}

let ticker = 0;

/** Refresh every managed <time> in the document now and every 30 s (paused while hidden). */
export function startClock() {
  const tick = () => {
    const now = Date.now();
    for (const node of document.querySelectorAll("time[data-notifications-time]")) updateTime(node, now);
  };
  tick();
  if (ticker) return tick;
  ticker = setInterval(() => { if (document.visibilityState !== "hidden") tick(); }, 30000);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") tick(); });
  return tick;
}
