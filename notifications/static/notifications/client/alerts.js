// Reaching a user who is looking elsewhere: the unread count in the tab title
// ("(3) Page"), and, once they opt in from the inbox, a desktop notification
// (Notification API) for each new notification that arrives while the page
// is hidden, with an optional short sound (NOTIFICATIONS["DESKTOP_SOUND"]).
//
// Self-contained: it listens to the client's public DOM events
// (notifications:created, notifications:unread-count) and reads its options
// from the data-* attributes of [data-notifications-reach]. The opt-in is kept
// per browser in localStorage; permission is asked only on the button's click.

import { safeHref } from "./links.js";

const STORAGE_KEY = "notifications.alerts";
const PREFIX = /^\(\d+\+?\) /;

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY) === "on";
  } catch {
    return false;
  }
}

function store(on) {
  try {
    if (on) localStorage.setItem(STORAGE_KEY, "on");
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

function beep() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  try {
    const audio = new Context();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
    tone.onended = () => audio.close();
  } catch {
    // No audio output: the notification alone will do.
  }
}

/** Keep `document.title` prefixed with the unread count. */
export function titleWithCount(title, count) {
  const base = title.replace(PREFIX, "");
  if (!(count > 0)) return base;
  return `(${count > 99 ? "99+" : count}) ${base}`;
}

export function mountAlerts(root) {
  const box = root.querySelector("[data-notifications-reach]");
  const options = box ? box.dataset : {};
  const countElement = root.querySelector("[data-notifications-unread]");
  const initial = Number.parseInt(countElement?.dataset.notificationsUnread ?? "0", 10) || 0;
  const withTitle = options.titleCount !== "false";
  const sound = options.sound === "true";

  const setCount = (count) => {
    if (withTitle) document.title = titleWithCount(document.title, count);
  };
  setCount(initial);
  document.addEventListener("notifications:unread-count", (event) => setCount(event.detail.count));

  const button = box?.querySelector("[data-notifications-alerts-toggle]");
  const supported = "Notification" in window;
  let enabled = supported && stored() && Notification.permission === "granted";

  function render() {
    if (!button) return;
    button.hidden = !supported;
    button.setAttribute("aria-pressed", String(enabled));
    const blocked = supported && Notification.permission === "denied";
    button.disabled = blocked;
    button.textContent = blocked
      ? button.dataset.labelBlocked
      : enabled ? button.dataset.labelOn : button.dataset.labelOff;
  }

  button?.addEventListener("click", async () => {
    if (enabled) {
      enabled = false;
      store(false);
      render();
      return;
    }
    const permission = Notification.permission === "default"
      ? await Notification.requestPermission()
      : Notification.permission;
    enabled = permission === "granted";
    store(enabled);
    render();
  });
  render();

  document.addEventListener("notifications:created", (event) => {
    const { notification: n, recovered } = event.detail;
    if (!enabled || recovered || document.visibilityState !== "hidden") return;
    if (Notification.permission !== "granted") return;
    const title = n.title || n.message.slice(0, 80);
    // One tag per notification: several hidden tabs show it once.
    const shown = new Notification(title, { body: n.title ? n.message : "", tag: `notification-${n.id}` });
    const href = safeHref(n.url);
    shown.onclick = () => {
      window.focus();
      if (href) window.location.assign(href);
      shown.close();
    };
    if (sound) beep();
  });
}
