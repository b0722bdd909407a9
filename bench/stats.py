"""What a benchmarked server reports about itself: RSS, CPU time and garbage-collector pauses."""

from __future__ import annotations

import gc
import os
import time


class Stats:
    """Record every GC pause from now on; ``read()`` a snapshot (and optionally start over)."""

    def __init__(self) -> None:
        self._started: float | None = None
        self.reset()
        gc.callbacks.append(self._gc)

    def reset(self) -> None:
        self.pauses: list[tuple[float, int]] = []

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.pauses.append((time.perf_counter() - self._started, info["generation"]))
            self._started = None

    def read(self, reset: bool = False, census: bool = False) -> dict:
        extra = {}
        if census:
            # Expensive: only between phases. What a full collection would scan.
            if os.environ.get("BENCH_GC_TYPES"):
                import collections

                live = collections.Counter(
                    f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
                )
                extra["gc_live_types"] = live.most_common(60)
            extra = {
                **extra,
                "gc_tracked": len(gc.get_objects()),
                "gc_frozen": gc.get_freeze_count(),
                "gc_counts": gc.get_count(),
            }
            started = time.perf_counter()
            if os.environ.get("BENCH_GC_TYPES"):
                gc.set_debug(gc.DEBUG_SAVEALL)
            extra["gc_collect_found"] = gc.collect()
            if os.environ.get("BENCH_GC_TYPES"):
                import collections

                kinds = collections.Counter(
                    f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                )
                extra["gc_garbage_types"] = kinds.most_common(40)
                gc.garbage.clear()
                gc.set_debug(0)
            extra["gc_collect_ms"] = 1000 * (time.perf_counter() - started)
        times = os.times()
        extra["threads_cpu_s"] = _threads_cpu()
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        pauses = sorted(p for p, _gen in self.pauses)
        result = {
            "pid": os.getpid(),
            "rss_kib": rss,
            "cpu_s": times.user + times.system,
            "gc_collections": len(pauses),
            "gc_full": sum(1 for _p, gen in self.pauses if gen == 2),
            "gc_max_ms": 1000 * pauses[-1] if pauses else 0.0,
            "gc_over_100ms": sum(1 for p in pauses if p > 0.1),
            "gc_total_ms": 1000 * sum(pauses),
            **extra,
        }
        if reset:
            self.reset()
        return result


def _threads_cpu() -> dict[str, float]:
    """CPU seconds per thread name family (main, notifications-db, asyncio, ...), Linux only."""
    import re
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return totals
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = re.sub(r"[-_]?\d+(_\d+)?$", "", names.get(int(tid), "other"))
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return totals
