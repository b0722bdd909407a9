import os, sys, time, json, subprocess

sys.argv = ["x"]
sys.path.insert(0, "/work/main/bench")
sys.path.insert(0, "/work/main")
import run
from django.test.utils import setup_databases, teardown_databases

N = int(os.environ.get("N", "2000"))
KIND = os.environ.get("KIND", "ours")
SPY = os.environ.get("SPY")
old = setup_databases(verbosity=0, interactive=False, keepdb=False)
try:
    users, cookies = run.make_users(N)
    server = run.Server(KIND)
    clients = run.Clients()
    s0 = server.stats(reset=True)
    if SPY:
        spy = subprocess.Popen(
            [
                ".venv/bin/py-spy",
                "record",
                "-p",
                str(server.process.pid),
                "-o",
                f"/tmp/connect-{KIND}.txt",
                "-f",
                "raw",
                "-r",
                "200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    print(run.open_all(clients, server, cookies[:N]))
    if SPY:
        spy.send_signal(2)
        spy.wait()
    time.sleep(1)
    s1 = server.stats(reset=True)
    print(
        "cpu per open ms",
        {
            k: round(1000 * (v - s0["threads_cpu_s"].get(k, 0)) / N, 3)
            for k, v in s1["threads_cpu_s"].items()
        },
        "rss/socket KiB",
        (s1["rss_kib"] - s0["rss_kib"]) / N,
        "gc max",
        s1["gc_max_ms"],
    )
    if SPY:
        spy = subprocess.Popen(
            [
                ".venv/bin/py-spy",
                "record",
                "-p",
                str(server.process.pid),
                "-o",
                f"/tmp/fanout-{KIND}.txt",
                "-f",
                "raw",
                "-r",
                "500",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    for r in range(5):
        clients.call("reset")
        t0 = time.monotonic()
        if r == 3 and os.environ.get("CPROF"):
            import cProfile, pstats

            pr = cProfile.Profile()
            pr.enable()
            run.send_to(KIND, users[:N])
            pr.disable()
            pstats.Stats(pr).sort_stats("cumulative").print_stats(35)
        else:
            run.send_to(KIND, users[:N])
        t1 = time.monotonic()
        got = clients.call("collect", per_socket=1, timeout=60)
        print(
            f"send {1000 * (t1 - t0):.0f} ms, first {1000 * (got['first_at'] - t0):.0f} ms, last {1000 * (got['last_at'] - t0):.0f} ms lost {got['lost']}"
        )
    if SPY:
        spy.send_signal(2)
        spy.wait()
    s2 = server.stats(census=True)
    print({k: v for k, v in s2.items() if k not in ("threads_cpu_s",)})
    clients.call("close")
    clients.stop()
    server.stop()
finally:
    from django.db import connections

    connections.close_all()
    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    teardown_databases(old, verbosity=0)
