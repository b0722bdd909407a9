// Screen reader announcements through two live regions that exist from page
// load (a region added later is not reliably read): polite for what happened
// ("Marked as read", "3 unread notifications"), assertive for error toasts.

export function createAnnouncer(polite, assertive) {
  let lastCount = null;
  let countTimer = 0;
  let statusTimer = 0;

  function say(region, text) {
    if (!region || !text) return;
    // Clear first, so the same words twice in a row are read twice.
    region.textContent = "";
    setTimeout(() => { region.textContent = text; }, 30);
  }

  return {
    polite: (text) => say(polite, text),
    assertive: (text) => say(assertive || polite, text),
    /** Announce the unread count once it has settled, and only when it changed. */
    count(count, { quiet = false } = {}) {
      clearTimeout(countTimer);
      if (quiet || lastCount === null) { lastCount = count; return; }
      countTimer = setTimeout(() => {
        if (count === lastCount) return;
        lastCount = count;
        say(polite, count === 1 ? "1 unread notification" : `${count} unread notifications`);
      }, 1200);
    },
    /** Connection trouble is announced only if it lasts, and recovery only after that. */
    status(status) {
      clearTimeout(statusTimer);
      if (status === "offline" || status === "polling") {
        statusTimer = setTimeout(() => {
          statusTimer = -1;
          say(polite, status === "offline" ? "Notifications are offline." : "Live notifications are unavailable; checking periodically.");
        }, 5000);
      }
    },
  };
}
