"""Soak (RELIABILITY LOAD-05): one notification a second to each of N users, for M minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/soak.py                       # 1000 users, 10 minutes
    ... .venv/bin/python bench/soak.py --users 200 --minutes 1   # a short check

One Daphne serving ``config.asgi`` (bench/server.py: the demo plus a stats
endpoint), PostgreSQL and Redis, DEBUG off, the README's Daphne flags; the
clients (bench/clients.py, another process) acknowledge like the browser client
and ping every 25 s. Each second one ``send()`` goes to all N users. The
server's RSS is sampled every ``--sample`` seconds.

It fails (exit 1) when the RSS trend grows more than 10 % (median of the last
quarter of the samples against the first quarter, after a warm-up), when the
server logs anything "over capacity" or a traceback, or when any socket did
not receive every notification exactly once. The figures are printed as JSON
and written to ``bench/results/soak-<when>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DATABASE_TEST_NAME", "bench_soak")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run


def soak(users: int, minutes: float, sample: float) -> dict:
    every, cookies = run.make_users(users)
    server = run.Server("ours")
    clients = run.Clients()
    try:
        opened = run.open_all(clients, server, cookies)
        clients.call("heartbeat", every=25.0)
        run.send_to("ours", every, "warm-up")
        clients.call("collect", per_socket=1, timeout=60, settle=1)
        clients.call("reset")
        samples: list[tuple[float, float]] = []
        count, started = 0, time.monotonic()
        next_sample = started
        late = 0  # seconds whose send started after its slot (the server fell behind)
        while (now := time.monotonic()) < started + 60 * minutes:
            if now >= next_sample:
                samples.append((now - started, server.stats()["rss_kib"] / 1024))
                next_sample += sample
            run.send_to("ours", every, f"soak {count}")
            count += 1
            wait = started + count - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                late += 1
        delivered = clients.call("collect", per_socket=count, timeout=120, settle=2)
        samples.append((time.monotonic() - started, server.stats()["rss_kib"] / 1024))
        output = run._full_output(server)
    finally:
        clients.call("close")
        clients.stop()
        server.stop()
    quarter = max(1, len(samples) // 4)
    first = statistics.median(rss for _, rss in samples[:quarter])
    last = statistics.median(rss for _, rss in samples[-quarter:])
    growth = (last - first) / first
    problems = [line for line in output.splitlines() if "over capacity" in line.lower()]
    problems += [line for line in output.splitlines() if "Traceback" in line]
    result = {
        "users": users,
        "minutes": minutes,
        "sockets_opened": opened["opened"],
        "notifications": count,
        "pushes_expected": count * users,
        "lost": delivered["lost"],
        "extra": delivered["extra"],
        "closed": delivered["closed"],
        "late_seconds": late,
        "rss_first_quarter_mib": round(first, 1),
        "rss_last_quarter_mib": round(last, 1),
        "rss_growth_percent": round(100 * growth, 1),
        "rss_samples_mib": [round(rss, 1) for _, rss in samples],
        "log_problems": problems[:20],
    }
    result["passed"] = bool(
        growth <= 0.10
        and not problems
        and delivered["lost"] == 0
        and delivered["extra"] == 0
        and delivered["closed"] == 0
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    args = parser.parse_args()
    if problem := run.redis_problem(run.REDIS_URL):
        sys.exit(f"the soak needs Redis: {problem}")
    if run.connection.vendor != "postgresql":
        sys.exit("the soak runs on PostgreSQL: set DATABASE_URL")
    old = run.setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        result = soak(args.users, args.minutes, args.sample)
    finally:
        run.connections.close_all()
        run.teardown_databases(old, verbosity=0)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M")
    result["when"] = when
    (run.RESULTS / f"soak-{when}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
