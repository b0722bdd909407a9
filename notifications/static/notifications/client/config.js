// The client's configuration: the data-* attributes of its <script> tag,
// which {% notifications_live %} renders from the NOTIFICATIONS setting.

function intAttr(value, fallback) {
  const n = Number.parseInt(value ?? "", 10);
  return Number.isFinite(n) ? n : fallback;
}

export function readConfig(script) {
  const d = script.dataset;
  return Object.freeze({
    userId: d.userId,
    csrfToken: d.csrfToken,
    socketPath: d.socketPath,
    listUrl: d.listUrl,
    unreadCountUrl: d.unreadCountUrl,
    readAllUrl: d.readAllUrl,
    readUrl: d.readUrl,
    unreadUrl: d.unreadUrl,
    deleteUrl: d.deleteUrl,
    archiveUrl: d.archiveUrl,
    unarchiveUrl: d.unarchiveUrl,
    snoozeUrl: d.snoozeUrl,
    pinUrl: d.pinUrl,
    unpinUrl: d.unpinUrl,
    seenUrl: d.seenUrl,
    // What the bell counts: "unread" or "unseen" (NOTIFICATIONS["BADGE_COUNTS"]).
    badge: d.badgeCounts === "unseen" ? "unseen" : "unread",
    historyUrl: d.historyUrl,
    pageSize: Math.max(1, intAttr(d.pageSize, 20)),
    syncLimit: Math.max(1, intAttr(d.syncLimit, 100)),
    toastTimeout: intAttr(d.toastTimeout, 6000),
    stickyLevels: new Set((d.stickyLevels || "").split(",").filter(Boolean)),
    maxToasts: Math.max(1, intAttr(d.maxToasts, 5)),
    recoveryToastLimit: intAttr(d.recoveryToastLimit, 5),
    pollInterval: Math.max(1000, intAttr(d.pollInterval, 30000)),
    heartbeat: Math.max(1000, intAttr(d.heartbeat, 25000)),
    undoMs: Math.max(0, intAttr(d.undoMs, 5000)),
  });
}
