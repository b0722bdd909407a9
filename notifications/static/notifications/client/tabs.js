// One tab per user and browser holds the socket (elected with the Web Locks
// API) and fans every frame out to the others through a BroadcastChannel;
// when it closes, the next waiting tab takes over. Without either API each
// tab is its own leader.

export function createTabs(userId, onMessage) {
  const available = "locks" in navigator && "BroadcastChannel" in window;
  let channel = null;
  let leader = false;
  if (available) {
    channel = new BroadcastChannel(`notifications:${userId}`);
    channel.onmessage = (event) => onMessage(event.data || {});
  }
  return {
    get isLeader() { return leader; },
    /** Post to the other tabs (the leader's frames and results). */
    post(message) {
      if (channel && leader) channel.postMessage(message);
    },
    hello() {
      channel?.postMessage({ kind: "hello" });
    },
    /** Call `becomeLeader` once this tab holds the lock (at once without the APIs). */
    elect(ready, becomeLeader) {
      const take = () => { leader = true; becomeLeader(); };
      if (!available) {
        ready.then(take);
        return;
      }
      // Held until the tab closes; then the next waiting tab takes over the socket.
      navigator.locks.request(`notifications-socket:${userId}`, async () => {
        await ready;
        take();
        await new Promise(() => {});
      });
    },
  };
}
