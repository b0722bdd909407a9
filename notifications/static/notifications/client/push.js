// Web Push from the inbox: a button subscribes this browser (the permission is
// asked only on its click), registers the site's service worker for scope "/",
// and hands the subscription to the server; a second click unsubscribes.
//
// Configured by the data-* attributes of [data-notifications-reach], which
// {% notifications_live %} renders only when VAPID keys are set.

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export function mountPush(root, csrfToken) {
  const box = root.querySelector("[data-notifications-reach]");
  const button = box?.querySelector("[data-notifications-push-toggle]");
  const o = box ? box.dataset : {};
  if (!button || !o.pushConfigUrl) return;
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;

  let subscribed = false;
  let busy = false;
  const status = box.querySelector("[data-notifications-push-status]");

  function render(message = "") {
    button.hidden = false;
    button.disabled = busy || Notification.permission === "denied";
    button.setAttribute("aria-pressed", String(subscribed));
    button.textContent = Notification.permission === "denied"
      ? button.dataset.labelBlocked
      : subscribed ? button.dataset.labelOn : button.dataset.labelOff;
    if (status) status.textContent = message;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function current() {
    const registration = await navigator.serviceWorker.getRegistration("/");
    return registration ? registration.pushManager.getSubscription() : null;
  }

  async function subscribe() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return;
    const config = await (await fetch(o.pushConfigUrl, { credentials: "same-origin" })).json();
    await navigator.serviceWorker.register(o.serviceWorkerUrl, { scope: "/" });
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(config.public_key),
    });
    await post(o.pushSubscribeUrl, subscription.toJSON());
    subscribed = true;
  }

  async function unsubscribe() {
    const subscription = await current();
    if (subscription) {
      await post(o.pushUnsubscribeUrl, { endpoint: subscription.endpoint }).catch(() => {});
      await subscription.unsubscribe();
    }
    subscribed = false;
  }

  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    render();
    let message = "";
    try {
      if (subscribed) await unsubscribe();
      else await subscribe();
    } catch (error) {
      console.warn("notifications: browser push failed:", error);
      message = button.dataset.labelFailed;
    } finally {
      busy = false;
      render(message);
    }
  });

  current().then((subscription) => {
    subscribed = Boolean(subscription);
    render();
  }, () => render());
}
