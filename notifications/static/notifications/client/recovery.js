// Gap-free recovery over HTTP. The leader tab runs it after every (re)connect,
// when a live frame or a pong shows a gap, on a {"type": "resync"} frame, and
// while polling; at most one run at a time, and a request made during a run
// is folded into one more pass (never a second concurrent fetch).
//
// A pass fetches what came after the cursor (?after=cursor, oldest first); if
// more than a page is missing (complete: false) it reloads the list instead and
// shows one summary. A resync also reloads the visible list afterwards, because
// read/unread/delete frames may have been dropped as well.

export function createRecovery({ store, api, broadcast }) {
  let running = false;
  let wantCatchUp = false;
  let wantReload = false;
  let timer = 0;
  let idle = Promise.resolve();

  async function loadLatest({ quiet = false, missed = 0 } = {}) {
    const data = await api.latest();
    const kept = store.replaceList(data.results, data.next, { quiet, missed, cursor: data.cursor });
    // Rows pushed during the request carried a newer count than this page's.
    if (!kept) store.setUnread(data.unread_count);
    store.advanceCursor(data.cursor);
    return data;
  }

  async function pass() {
    const { state } = store;
    if (wantCatchUp) {
      wantCatchUp = false;
      if (!state.listLoaded || state.cursor === null) {
        await loadLatest();
        broadcast({ kind: "reload", missed: 0 });
        wantReload = false;
        return;
      }
      const data = await api.after(state.cursor);
      if (!data.complete) {
        const missed = Math.max(data.cursor - state.cursor, data.results.length);
        await loadLatest({ missed });
        broadcast({ kind: "reload", missed });
        wantReload = false;
        return;
      }
      store.received(data.results, { recovered: true });
      for (const n of data.results) store.advanceCursor(n.cursor);
      store.advanceCursor(data.cursor);
      store.setUnread(data.unread_count);
      broadcast({ kind: "recovered", notifications: data.results, cursor: data.cursor, unread_count: data.unread_count });
    }
    if (wantReload) {
      wantReload = false;
      await loadLatest({ quiet: true });
      broadcast({ kind: "reload", missed: 0, quiet: true });
    }
  }

  async function run() {
    if (running) return idle;
    running = true;
    idle = (async () => {
      try {
        while (wantCatchUp || wantReload) await pass();
      } catch (error) {
        console.warn("notifications: recovery failed; retrying on the next (re)connect.", error);
        wantCatchUp = wantReload = false;
      } finally {
        running = false;
      }
    })();
    return idle;
  }

  return {
    loadLatest,
    /** Fetch what came after the cursor (coalesced with a run in progress). */
    catchUp() {
      wantCatchUp = true;
      return run();
    },
    /** Catch up after `delay` ms (frames of one burst may arrive slightly out of order). */
    catchUpSoon(delay) {
      clearTimeout(timer);
      timer = setTimeout(() => this.catchUp(), delay);
    },
    /** The server dropped frames: catch up AND reload the visible list, once. */
    resync() {
      wantCatchUp = true;
      wantReload = true;
      return run();
    },
    /** Reload the visible list only (other tabs on a resync). */
    reload() {
      wantReload = true;
      return run();
    },
    get running() { return running; },
  };
}
