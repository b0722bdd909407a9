"""The worker threads that do sockets' database work: handshakes, pings, syncs, revalidation.

Not asgiref's single thread-sensitive thread, where every socket of the
process would queue behind every other one (a reconnect storm then times
out handshakes), and not the event loop's default executor, which others
share: a fixed pool of ``THREADS`` threads, each with its own database
connection (borrowed from Django's connection pool on PostgreSQL, or kept
for ``CONN_MAX_AGE``), closed or returned around each call by Channels'
``DatabaseSyncToAsync``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync

#: Database calls of sockets that may run at once in one server process.
THREADS = 8

_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="notifications-db")


def database_call(func: Callable[..., Any]) -> DatabaseSyncToAsync:
    """Wrap sync ``func`` into an awaitable that runs on the notifications worker threads."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor)


def close_connections(timeout: float = 10) -> None:
    """Close the database connections of every worker thread (test teardown)."""
    from django.db import connections

    barrier = threading.Barrier(THREADS, timeout=timeout)

    def close() -> None:
        barrier.wait()  # One call per thread: each waits until all have one.
        connections.close_all()

    for future in [_executor.submit(close) for _ in range(THREADS)]:
        future.result(timeout=timeout)
