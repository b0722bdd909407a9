"""Benchmarks: bulk send, send → frame latency, fan-out. Prints medians and ratios.

    make bench                                   # SQLite + Redis
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test make bench

It creates its own database (``bench_notifications``, or a temporary SQLite
file), a Daphne subprocess with the Redis layer, and real ``websockets``
clients on loopback, and removes them at the end. Every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
if "postgres" in os.environ.get("DATABASE_URL", ""):
    os.environ.setdefault("DATABASE_TEST_NAME", "bench_notifications")
else:
    os.environ.setdefault(
        "DATABASE_TEST_NAME", str(Path(tempfile.gettempdir()) / "bench_notifications.sqlite3")
    )
os.environ["CHANNEL_LAYER_PREFIX"] = f"asgi-bench-{os.getpid()}"

import django  # noqa: E402

django.setup()

from asgiref.sync import SyncToAsync, sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

import notifications  # noqa: E402
from notifications.models import Notification  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def make_users(prefix: str, n: int) -> list:
    User = get_user_model()
    User.objects.bulk_create(
        [User(username=f"{prefix}{i}", password="!") for i in range(n)], batch_size=1000
    )
    return list(User.objects.filter(username__startswith=prefix).order_by("pk"))


def bench_bulk_send(n: int, runs: int) -> dict:
    """send() to n users at once, against n separate Notification.objects.create()."""
    users = make_users("bulk", n)
    group = Group.objects.create(name="bench-bulk")
    group.user_set.add(*users)
    bulk, pushes = [], []
    for _ in range(runs):
        started = time.perf_counter()
        with transaction.atomic():
            notifications.send(group, "bench")
            inserted = time.perf_counter()
        # Leaving atomic() commits, then runs the on-commit push.
        finished = time.perf_counter()
        bulk.append(finished - started)
        pushes.append(finished - inserted)
    naive = []
    for _ in range(max(1, runs // 2)):
        started = time.perf_counter()
        for user in users:
            Notification.objects.create(recipient=user, message="bench")
        naive.append(time.perf_counter() - started)
    return {
        "recipients": n,
        "bulk_send_ms": median_ms(bulk),
        "push_ms": median_ms(pushes),
        "per_user_create_ms": median_ms(naive),
        "ratio": statistics.median(naive) / statistics.median(bulk),
    }


async def open_sockets(server, cookies: list[str], origin: str):
    import websockets

    sockets = []
    for start in range(0, len(cookies), 100):
        batch = cookies[start : start + 100]
        sockets += await asyncio.gather(
            *(
                websockets.connect(
                    server.ws_url,
                    additional_headers={"Cookie": c, "Origin": origin},
                    open_timeout=30,
                    max_queue=None,
                )
                for c in batch
            )
        )
    for ws in sockets:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert frame["type"] == "state", frame
    return sockets


def cookies_for(users) -> list[str]:
    result = []
    for user in users:
        client = Client()
        client.force_login(user)
        result.append(f"sessionid={client.cookies['sessionid'].value}")
    return result


async def bench_latency(server, samples: int) -> dict:
    [user] = await sync_to_async(make_users)("lat", 1)
    [cookie] = await sync_to_async(cookies_for)([user])
    [ws] = await open_sockets(server, [cookie], server.url)
    send = sync_to_async(notifications.send)
    latencies = []
    for i in range(samples):
        started = time.perf_counter()
        await send(user, f"latency {i}")
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        latencies.append(time.perf_counter() - started)
        assert frame["notification"]["message"] == f"latency {i}"
    await ws.close()
    return {"samples": samples, "median_ms": median_ms(latencies), "p95_ms": p95_ms(latencies)}


async def bench_fanout(server, n: int, runs: int) -> dict:
    users = await sync_to_async(make_users)("fan", n)
    cookies = await sync_to_async(cookies_for)(users)
    sockets = await open_sockets(server, cookies, server.url)
    group = await sync_to_async(Group.objects.create)(name="bench-fanout")
    await sync_to_async(group.user_set.add)(*users)
    send = sync_to_async(notifications.send)
    totals = []
    for run in range(runs):
        started = time.perf_counter()
        sending = asyncio.ensure_future(send(group, f"fan-out {run}"))
        frames = await asyncio.wait_for(asyncio.gather(*(ws.recv() for ws in sockets)), timeout=120)
        totals.append(time.perf_counter() - started)
        await sending
        assert all(json.loads(f)["notification"]["message"] == f"fan-out {run}" for f in frames)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return {"sockets": n, "all_received_median_ms": median_ms(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulk", type=int, default=1000, help="recipients for the bulk send")
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--fanout", type=int, default=1000, help="sockets for the fan-out")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from config.settings import redis_channel_layers
    from tests.conftest import DaphneServer, database_url_for_children, redis_problem

    if problem := redis_problem(os.environ["REDIS_URL"]):
        sys.exit(f"bench needs Redis: {problem}")
    settings.CHANNEL_LAYERS = redis_channel_layers(os.environ["REDIS_URL"])
    old = setup_databases(verbosity=0, interactive=False, keepdb=False)
    server = None
    try:
        print(f"database: {connection.vendor}; layer: channels_redis.core.RedisChannelLayer")
        result = bench_bulk_send(args.bulk, args.runs)
        print(
            f"bulk send to {result['recipients']} users: median {result['bulk_send_ms']:.1f} ms "
            f"(commit + push after commit: {result['push_ms']:.1f} ms); "
            f"{result['recipients']} x Notification.objects.create(): "
            f"{result['per_user_create_ms']:.1f} ms; ratio {result['ratio']:.1f}x"
        )
        server = DaphneServer(database_url_for_children(), os.environ["REDIS_URL"])
        result = asyncio.run(bench_latency(server, args.latency_samples))
        print(
            f"send() -> frame received, 1 socket, {result['samples']} samples: "
            f"median {result['median_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms"
        )
        result = asyncio.run(bench_fanout(server, args.fanout, args.runs))
        print(
            f"fan-out: one send() to {result['sockets']} users with one socket each, "
            f"until every socket has its frame: median {result['all_received_median_ms']:.0f} ms"
        )
    finally:
        if server is not None:
            server.stop()
        connections.close_all()
        # sync_to_async ran ORM calls in asgiref's single sync thread.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
