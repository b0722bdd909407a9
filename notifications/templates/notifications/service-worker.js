{% autoescape off %}// The notifications service worker: shows Web Push messages and opens their link.
// Served by notifications.webpush_views.service_worker with Service-Worker-Allowed: /.
const HISTORY_URL = {{ history_url_json }};

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || (data.body || "").slice(0, 80) || "Notification";
  const options = {
    body: data.title ? data.body || "" : "",
    tag: data.tag || undefined,
    data: { url: data.url || HISTORY_URL },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || HISTORY_URL, self.location.origin);
  if (target.protocol !== "https:" && target.protocol !== "http:") return;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (client.url === target.href && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(target.href);
    }),
  );
});
{% endautoescape %}
