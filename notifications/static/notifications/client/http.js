// The HTTP API (notifications/views.py), as small promise-returning functions.

export function createApi(cfg) {
  async function request(url, method = "GET", { keepalive = false } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["X-CSRFToken"] = cfg.csrfToken;
      // Finish even if the page navigates away (a followed link, a closed tab).
      init.keepalive = true;
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
  return {
    latest: () => request(`${cfg.listUrl}?limit=${cfg.pageSize}`),
    after: (cursor) => request(`${cfg.listUrl}?after=${cursor}&limit=${cfg.syncLimit}`),
    page: (url) => request(url),
    markRead: (id) => request(item(cfg.readUrl, id), "POST"),
    markUnread: (id) => request(item(cfg.unreadUrl, id), "POST"),
    delete: (id) => request(item(cfg.deleteUrl, id), "POST"),
    markAllRead: () => request(cfg.readAllUrl, "POST"),
    readUrl: (id) => item(cfg.readUrl, id),
    deleteUrl: (id) => item(cfg.deleteUrl, id),
    unreadUrl: (id) => item(cfg.unreadUrl, id),
  };
}
