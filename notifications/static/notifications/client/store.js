// The one owner of the client's state. Frames, HTTP answers and the user's
// actions all change it through these methods; the views subscribe and
// render from it (each at most once per animation frame), and the entry
// module turns its changes into the public notifications:* DOM events.
//
// Bounded: the inbox keeps the newest `limit` notifications (one page, more
// after "Load more"); older ones are dropped and become reachable again
// through "Load more". Ids stay in `known`, so nothing is toasted twice.

export function createStore(cfg) {
  const state = {
    items: new Map(), // id -> notification (plain objects, replaced on change)
    known: new Set(), // ids toasted, listed or recovered once
    hidden: new Set(), // ids deleted in the UI but still undoable
    cursor: null, // highest cursor processed without a gap
    unread: 0,
    status: "connecting",
    listLoaded: false,
    nextUrl: null,
    limit: cfg.pageSize,
  };
  const listeners = new Set();
  const storageKey = `notifications:cursor:${cfg.userId}`;

  function notify(change) {
    for (const listener of listeners) listener(change, state);
  }

  function storedCursor() {
    try {
      const value = localStorage.getItem(storageKey);
      const n = value === null ? Number.NaN : Number.parseInt(value, 10);
      return Number.isFinite(n) ? n : null;
    } catch {
      return null; // Storage disabled: recovery still works within the page.
    }
  }

  function writeCursor(value) {
    try {
      localStorage.setItem(storageKey, String(value));
    } catch {
      // Storage full or disabled: keep the in-memory cursor.
    }
  }

  function trim() {
    if (state.items.size <= state.limit) return;
    const sorted = sortedItems();
    for (const n of sorted.slice(state.limit)) state.items.delete(n.id);
    const lowest = sorted[state.limit - 1].cursor;
    state.nextUrl = `${cfg.listUrl}?before=${lowest}&limit=${cfg.pageSize}`;
  }

  function sortedItems() {
    return [...state.items.values()].sort((a, b) => b.cursor - a.cursor);
  }

  const store = {
    state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sortedItems,
    visibleItems() {
      return sortedItems().filter((n) => !state.hidden.has(n.id));
    },
    storedCursor,

    advanceCursor(value) {
      if (typeof value !== "number") return;
      if (state.cursor === null || value > state.cursor) state.cursor = value;
      const stored = storedCursor();
      if (stored === null || state.cursor > stored) writeCursor(state.cursor);
    },
    resetCursor(value) {
      state.cursor = value;
      state.listLoaded = false;
      writeCursor(value);
    },

    setUnread(count) {
      if (typeof count !== "number" || count < 0 || count === state.unread) return;
      state.unread = count;
      notify({ kind: "count", count });
    },
    setStatus(status) {
      if (status === state.status) return;
      state.status = status;
      notify({ kind: "status", status });
    },

    /** Add notifications (live or recovered); return the ones never seen before. */
    received(list, { recovered = false } = {}) {
      const fresh = [];
      for (const n of list) {
        if (!state.known.has(n.id)) {
          state.known.add(n.id);
          fresh.push(n);
        }
        const lowest = state.nextUrl && state.items.size >= state.limit
          ? Math.min(...[...state.items.values()].map((i) => i.cursor)) : -Infinity;
        if (n.cursor > lowest) state.items.set(n.id, { ...n });
      }
      trim();
      if (list.length) notify({ kind: "created", notifications: list, fresh, recovered });
      return fresh;
    },

    /** Replace the list with the latest page. `quiet`: mark everything seen, toast nothing. */
    replaceList(results, nextUrl, { quiet = false, missed = 0 } = {}) {
      const stored = storedCursor();
      const fresh = [];
      state.items.clear();
      state.limit = cfg.pageSize;
      // Oldest first, so that what arrived since the last visit keeps its order.
      for (const n of [...results].reverse()) {
        state.items.set(n.id, { ...n });
        if (!state.known.has(n.id)) {
          state.known.add(n.id);
          if (!quiet && stored !== null && n.cursor > stored) fresh.push(n);
        }
      }
      state.nextUrl = nextUrl;
      state.listLoaded = true;
      notify({ kind: "list", fresh, missed });
    },
    appendPage(results, nextUrl) {
      for (const n of results) {
        state.known.add(n.id);
        if (!state.items.has(n.id)) state.items.set(n.id, { ...n });
      }
      state.limit = Math.max(state.limit, state.items.size);
      state.nextUrl = nextUrl;
      notify({ kind: "list", fresh: [], missed: 0 });
    },

    setRead(ids, read, readAt) {
      const changed = [];
      for (const id of ids) {
        const n = state.items.get(id);
        if (n && n.read !== read) {
          state.items.set(id, { ...n, read, read_at: read ? readAt ?? new Date().toISOString() : null });
          changed.push(id);
        }
      }
      notify({ kind: read ? "read" : "unread", ids: changed, all: ids });
      return changed;
    },
    readAll(cursor, readAt) {
      const ids = [...state.items.values()].filter((n) => n.cursor <= cursor && !n.read).map((n) => n.id);
      for (const id of ids) {
        const n = state.items.get(id);
        state.items.set(id, { ...n, read: true, read_at: readAt ?? new Date().toISOString() });
      }
      notify({ kind: "read-all", ids, cursor });
      return ids;
    },
    removed(ids) {
      const gone = ids.filter((id) => state.items.has(id));
      for (const id of ids) {
        state.items.delete(id);
        state.hidden.delete(id);
      }
      notify({ kind: "deleted", ids: gone, all: ids });
      return gone;
    },
    /** Hide (or show again) rows whose deletion can still be undone. */
    setHidden(id, hidden) {
      if (hidden) state.hidden.add(id);
      else state.hidden.delete(id);
      notify({ kind: "hidden", ids: [id], hidden });
    },
  };
  return store;
}
