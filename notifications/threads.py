"""The worker threads that do sockets' database work: handshakes, pings, syncs, revalidation.

Not asgiref's single thread-sensitive thread, where every socket of the
process would queue behind every other one (a reconnect storm then times
out handshakes), and not the event loop's default executor, which others
share: small fixed pools (``THREADS``).

Each thread keeps its database connection between calls, whatever
``CONN_MAX_AGE`` says: checking a connection out and setting it up again
(Django's ``connect()``: time zone, role, autocommit) cost more than the
queries of a handshake. A connection that broke is replaced on the next
call, and one left inside a transaction is closed, as Django's own
``close_old_connections`` would; with a pool (``"OPTIONS": {"pool": True}``)
the threads hold ``THREADS`` of its connections.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync

#: Threads per stage: handshakes (session and user) apart from what open sockets
#: ask (state, ping, sync, revalidation), so that in a reconnect storm a socket
#: that got past its handshake is not queued behind every handshake after it.
THREADS = {"handshake": 2, "socket": 2}

_executors = {
    stage: ThreadPoolExecutor(max_workers=count, thread_name_prefix=f"notifications-db-{stage}")
    for stage, count in THREADS.items()
}


def database_call(func: Callable[..., Any], *, stage: str = "socket") -> SyncToAsync:
    """Wrap sync ``func`` into an awaitable that runs on the notifications worker threads."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        _heal()
        try:
            return func(*args, **kwargs)
        finally:
            _tidy()

    return SyncToAsync(call, thread_sensitive=False, executor=_executors[stage])


def _heal() -> None:
    """Replace a connection that failed since its last use (Django's health check)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()


def _tidy() -> None:
    """Close a connection that a call left in a transaction or a broken state."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if (
            connection.in_atomic_block
            or connection.needs_rollback
            or not connection.get_autocommit()
        ):
            connection.close()


def close_connections(timeout: float = 10) -> None:
    """Close the database connections of every worker thread (test teardown)."""
    from django.db import connections

    for stage, count in THREADS.items():
        barrier = threading.Barrier(count, timeout=timeout)

        def close(barrier: threading.Barrier = barrier) -> None:
            barrier.wait()  # One call per thread: each waits until all have one.
            connections.close_all()

        for future in [_executors[stage].submit(close) for _ in range(count)]:
            future.result(timeout=timeout)
