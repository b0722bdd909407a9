// The HTTP API (notifications/views.py), as small promise-returning functions.

export function createApi(cfg) {
  async function request(url, method = "GET", { keepalive = false, body = null } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["X-CSRFToken"] = cfg.csrfToken;
      // Finish even if the page navigates away (a followed link, a closed tab).
      init.keepalive = true;
      if (body) init.body = new URLSearchParams(body);
    } else if (keepalive) {
      init.keepalive = true;
    }
    const response = await fetch(url, init);
    if (!response.ok) {
      const error = new Error(`${method} ${url}: HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }
  const item = (template, id) => template.replace("{id}", encodeURIComponent(String(id)));
  // The inbox: pinned ones first, each group_key as one entry.
  const inboxQuery = "pinned_first=1&grouped=1";
  const group = (whole) => (whole ? { group: "1" } : null);
  return {
    inboxQuery,
    latest: () => request(`${cfg.listUrl}?limit=${cfg.pageSize}&${inboxQuery}`),
    archived: () => request(`${cfg.listUrl}?limit=${cfg.pageSize}&archived=1`),
    after: (cursor) => request(`${cfg.listUrl}?after=${cursor}&limit=${cfg.syncLimit}`),
    page: (url) => request(url),
    counts: () => request(cfg.unreadCountUrl),
    markRead: (id, whole = false) => request(item(cfg.readUrl, id), "POST", { body: group(whole) }),
    markUnread: (id, whole = false) => request(item(cfg.unreadUrl, id), "POST", { body: group(whole) }),
    delete: (id) => request(item(cfg.deleteUrl, id), "POST"),
    markAllRead: () => request(cfg.readAllUrl, "POST"),
    archive: (id, whole = false) => request(item(cfg.archiveUrl, id), "POST", { body: group(whole) }),
    unarchive: (id, whole = false) => request(item(cfg.unarchiveUrl, id), "POST", { body: group(whole) }),
    pin: (id) => request(item(cfg.pinUrl, id), "POST"),
    unpin: (id) => request(item(cfg.unpinUrl, id), "POST"),
    snooze: (id, until, whole = false) =>
      request(item(cfg.snoozeUrl, id), "POST", { body: { until, ...(whole ? { group: "1" } : {}) } }),
    seen: (upTo) => request(cfg.seenUrl, "POST", { body: { up_to: String(upTo) } }),
    /**
     * A notification's action button with "method": "post". The CSRF token (and
     * the session cookie) go only to this site: a button pointing at another
     * origin is POSTed without them, so a notification can never leak the token.
     */
    async postAction(url) {
      const target = new URL(url, location.href);
      const own = target.origin === location.origin;
      const headers = { Accept: "application/json, text/plain, */*" };
      if (own) headers["X-CSRFToken"] = cfg.csrfToken;
      return fetch(target.href, { method: "POST", credentials: own ? "same-origin" : "omit", headers });
    },
    readUrl: (id) => item(cfg.readUrl, id),
    deleteUrl: (id) => item(cfg.deleteUrl, id),
    unreadUrl: (id) => item(cfg.unreadUrl, id),
  };
}
