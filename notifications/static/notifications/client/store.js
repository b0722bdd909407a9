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
    unseen: 0,
    archivedCount: 0,
    byCategory: {},
    tab: "all", // the inbox's tab: "unread", "all" or "archived"
    archived: null, // the Archived tab's list, once loaded (newest first)
    snoozed: new Map(), // id -> when its snooze ends (ms), to reload after a reconnect
    deleted: new Set(), // ids deleted by a frame: an older page in flight never brings them back
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
    const unpinned = sorted.slice(0, state.limit).filter((n) => !n.pinned);
    const lowest = unpinned.length ? unpinned[unpinned.length - 1].cursor : sorted[state.limit - 1].cursor;
    state.nextUrl = `${cfg.listUrl}?before=${lowest}&limit=${cfg.pageSize}&pinned_first=1&grouped=1`;
  }

  // Pinned first, then newest first (the server's ?pinned_first=1 order).
  function sortedItems() {
    return [...state.items.values()].sort((a, b) => (Boolean(b.pinned) - Boolean(a.pinned)) || (b.cursor - a.cursor));
  }

  function expired(n, now) {
    return Boolean(n.expires_at) && Date.parse(n.expires_at) <= now;
  }

  /** A newer member of a group replaces the group's entry, which counts one more. */
  function merge(n) {
    if (!n.group_key) return { ...n };
    for (const other of state.items.values()) {
      if (other.group_key === n.group_key && other.id !== n.id) {
        state.items.delete(other.id);
        const group = other.group || { key: n.group_key, count: 1, unread_count: other.read ? 0 : 1, actor_count: other.actor ? 1 : 0 };
        return {
          ...n,
          group: {
            ...group,
            count: group.count + 1,
            unread_count: group.unread_count + (n.read ? 0 : 1),
            latest_at: n.created_at,
          },
        };
      }
    }
    return { ...n };
  }

  const store = {
    state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sortedItems,
    visibleItems() {
      const now = Date.now();
      return sortedItems().filter((n) => !state.hidden.has(n.id) && !expired(n, now));
    },
    /** What the inbox's Unread or All tab shows. */
    tabItems() {
      return store.visibleItems().filter((n) => state.tab !== "unread" || !n.read);
    },
    /** The Archived tab's rows (null until loaded). */
    archivedItems() {
      if (!state.archived) return null;
      const now = Date.now();
      return state.archived.filter((n) => !state.hidden.has(n.id) && !expired(n, now));
    },
    /** The earliest expiry among the loaded rows (ms), to re-render then. */
    nextExpiry() {
      const now = Date.now();
      let next = Infinity;
      for (const n of [...state.items.values(), ...(state.archived || [])]) {
        const at = n.expires_at ? Date.parse(n.expires_at) : Infinity;
        if (at > now && at < next) next = at;
      }
      return next;
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
        if (n.cursor > lowest && !n.archived_at && !(n.snoozed_until && Date.parse(n.snoozed_until) > Date.now())) {
          const entry = merge(n);
          state.items.set(n.id, entry);
        }
      }
      trim();
      if (list.length) notify({ kind: "created", notifications: list, fresh, recovered });
      return fresh;
    },

    /**
     * Replace the list with the latest page. `quiet`: mark everything seen, toast nothing.
     * `cursor`: the page's snapshot (the response's cursor). Live rows newer than it
     * arrived while the request was in flight: they are kept, not wiped by the older
     * page, and so are deletions pushed meanwhile. Returns how many rows were kept.
     */
    replaceList(results, nextUrl, { quiet = false, missed = 0, cursor = null } = {}) {
      const stored = storedCursor();
      const fresh = [];
      const newer = typeof cursor === "number"
        ? [...state.items.values()].filter((n) => n.cursor > cursor && !results.some((r) => r.id === n.id))
        : [];
      state.items.clear();
      state.limit = cfg.pageSize;
      // Oldest first, so that what arrived since the last visit keeps its order.
      for (const n of [...results].reverse()) {
        if (state.deleted.has(n.id)) continue;
        state.items.set(n.id, { ...n });
        if (!state.known.has(n.id)) {
          state.known.add(n.id);
          if (!quiet && stored !== null && n.cursor > stored) fresh.push(n);
        }
      }
      state.nextUrl = nextUrl;
      for (const n of newer) {
        // A newer member of a group the page already lists joins that entry.
        const grouped = n.group_key && results.some((r) => r.group_key === n.group_key);
        state.items.set(n.id, grouped ? merge({ ...n, group: undefined }) : n);
      }
      trim();
      state.listLoaded = true;
      notify({ kind: "list", fresh, missed });
      return newer.length;
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

    setCounts(counts) {
      if (typeof counts.unseen_count === "number" && counts.unseen_count !== state.unseen) {
        state.unseen = counts.unseen_count;
        notify({ kind: "count", count: state.unread });
      }
      if (typeof counts.archived_count === "number") state.archivedCount = counts.archived_count;
      if (counts.by_category) state.byCategory = counts.by_category;
      notify({ kind: "counts" });
    },
    setTab(tab) {
      if (tab === state.tab) return;
      state.tab = tab;
      notify({ kind: "tab", tab });
    },
    setArchived(results) {
      state.archived = results.map((n) => ({ ...n }));
      for (const n of results) state.known.add(n.id);
      notify({ kind: "archived" });
    },
    /** Change fields of loaded rows (`fields` may be a function of the row); return the ids changed. */
    patch(ids, fields, kind) {
      const changed = [];
      for (const id of ids) {
        const n = state.items.get(id);
        if (!n) continue;
        state.items.set(id, { ...n, ...(typeof fields === "function" ? fields(n) : fields) });
        changed.push(id);
      }
      if (state.archived) {
        state.archived = state.archived.map((n) => (ids.includes(n.id) ? { ...n, ...(typeof fields === "function" ? fields(n) : fields) } : n));
      }
      notify({ kind, ids: changed, all: ids });
      return changed;
    },
    seenAll(cursor, seenAt) {
      const ids = [...state.items.values()].filter((n) => n.cursor <= cursor && !n.seen).map((n) => n.id);
      return store.patch(ids, { seen: true, seen_at: seenAt }, "seen");
    },
    /** Rows that left the inbox (archived, snoozed): drop them from the list. */
    leave(ids, kind, fields = {}) {
      const gone = [];
      for (const id of ids) {
        const n = state.items.get(id);
        if (n) {
          gone.push({ ...n, ...fields });
          state.items.delete(id);
        }
      }
      if (kind === "archived" && state.archived) {
        state.archived = [...gone, ...state.archived.filter((n) => !ids.includes(n.id))].sort((a, b) => b.cursor - a.cursor);
      }
      if (kind === "unarchived" && state.archived) state.archived = state.archived.filter((n) => !ids.includes(n.id));
      notify({ kind, ids: gone.map((n) => n.id), all: ids });
      return gone;
    },
    /** A snoozed one came back (its snooze ended): into the inbox again. */
    woke(n) {
      state.snoozed.delete(n.id);
      state.known.add(n.id);
      state.items.set(n.id, merge({ ...n }));
      notify({ kind: "created", notifications: [n], fresh: [n], recovered: false, woke: true });
    },

    setRead(ids, read, readAt) {
      const changed = [];
      for (const id of ids) {
        const n = state.items.get(id);
        if (n && n.read !== read) {
          const seen = read ? { seen: true } : {};
          const group = n.group ? { group: { ...n.group, unread_count: read ? 0 : n.group.count } } : {};
          state.items.set(id, { ...n, ...seen, ...group, read, read_at: read ? readAt ?? new Date().toISOString() : null });
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
        state.items.set(id, { ...n, read: true, seen: true, read_at: readAt ?? new Date().toISOString() });
      }
      notify({ kind: "read-all", ids, cursor });
      return ids;
    },
    removed(ids) {
      const gone = ids.filter((id) => state.items.has(id));
      for (const id of ids) {
        state.items.delete(id);
        state.hidden.delete(id);
        state.deleted.add(id);
      }
      if (state.archived) state.archived = state.archived.filter((n) => !ids.includes(n.id));
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
