"""Garbage-collector tuning for the processes that serve sockets (``GC_TUNING``).

A full collection scans every object the collector tracks, and each socket
served by Daphne is about a hundred of them (Twisted, autobahn, Daphne, the
consumer): at 5 000 sockets one full collection stops the process for about
half a second on a small machine, and every push waits for it. The hub
keeps them out of the collector's way:

* when the first hub starts, the start-up heap (Django, the app, their
  modules) is frozen with ``gc.freeze()`` and the youngest generation's
  threshold is raised, so bursts of short-lived frames trigger fewer
  collections;
* as sockets open, their settled objects are frozen too, after every
  ``_FREEZE_EVERY`` new sockets and at most ``_FREEZE_AFTER_SECONDS`` after
  one opened: routine collections then scan only what is new;
* frozen objects are still freed by reference counting, but not when they
  are garbage in a reference cycle, and Daphne leaves about fifty such
  objects per closed socket. So once the sockets closed since the last full
  collection reach a quarter of those open (Python's own rule for when a
  full collection is due), the hub unfreezes and collects everything once,
  at a moment with no delivery in the last second, and freezes again.

Without ``GC_TUNING`` Python's defaults apply unchanged.
"""

from __future__ import annotations

import gc
import logging
import time

from . import conf

logger = logging.getLogger(__name__)

_FREEZE_EVERY = 100
_FREEZE_AFTER_SECONDS = 5.0
_QUIET_SECONDS = 1.0
# Closed sockets before a full collection is considered at all.
_MIN_CLOSED = 200


class Collector:
    """The process's collector policy; one per process, driven by every hub in it."""

    def __init__(self) -> None:
        self.enabled = False
        self.open = 0
        self.opened_unfrozen = 0
        self.first_unfrozen_at = 0.0
        self.closed_since_full = 0
        self.open_at_full = 0
        self.last_busy = 0.0
        self.full_collections = 0
        self.last_full_ms = 0.0

    def start(self) -> None:
        """Apply the tuning once, when the process starts serving sockets."""
        if self.enabled or not conf.get("GC_TUNING"):
            return
        self.enabled = True
        gc.collect()
        gc.freeze()
        gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(max(gen0, 20_000), max(gen1, 20), max(gen2, 20))

    def opened(self) -> None:
        self.open += 1
        if not self.enabled:
            return
        if not self.opened_unfrozen:
            self.first_unfrozen_at = time.monotonic()
        self.opened_unfrozen += 1
        if self.opened_unfrozen >= _FREEZE_EVERY:
            self._freeze()

    def closed(self) -> None:
        self.open -= 1
        self.closed_since_full += 1

    def refused(self) -> None:
        """A socket closed at its handshake (4401, 4409, 4503): Daphne's cycles all the same."""
        self.closed_since_full += 1

    def busy(self) -> None:
        """Note a delivery: a full collection waits for a quiet moment."""
        self.last_busy = time.monotonic()

    def tick(self) -> None:
        """Called about once a second by each hub."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self.opened_unfrozen and now - self.first_unfrozen_at >= _FREEZE_AFTER_SECONDS:
            self._freeze()
        due = self.closed_since_full >= max(_MIN_CLOSED, (self.open_at_full or self.open) // 4)
        if due and now - self.last_busy >= _QUIET_SECONDS:
            self._full()

    def _freeze(self) -> None:
        # Young garbage first (cheap: gen2 is not scanned), so little of it is frozen.
        gc.collect(1)
        gc.freeze()
        self.opened_unfrozen = 0

    def _full(self) -> None:
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.last_full_ms = 1000 * (time.perf_counter() - started)
        self.full_collections += 1
        logger.info(
            "Full garbage collection with %d socket(s) open, %d closed since the last: "
            "%d unreachable object(s) freed in %.0f ms.",
            self.open,
            self.closed_since_full,
            found,
            self.last_full_ms,
        )
        self.closed_since_full = 0
        self.open_at_full = self.open
        self.opened_unfrozen = 0


collector = Collector()
