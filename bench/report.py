"""Turn a bench/run.py result file into the Markdown tables of BENCHMARKS.md.

.venv/bin/python bench/report.py bench/results/latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1000 * seconds:.0f} ms"


def ratio(ours: float | None, reference: float | None) -> str:
    if not ours or not reference:
        return "—"
    return f"{ours / reference:.2f}x"


def fanout(results: dict) -> list[str]:
    lines = [
        "| connected users | ours | of which the `send()` call | bare `websockets` | ratio "
        "| stock channels-redis | lost (ours / stock) |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, kinds in sorted(results["fanout"].items(), key=lambda item: int(item[0])):
        ours, ref, stock = kinds.get("ours", {}), kinds.get("reference", {}), kinds.get("stock", {})
        stock_time = ms(stock.get("fanout_s")) if stock.get("fanout_s") else "incomplete"
        lines.append(
            f"| {int(n):,} | {ms(ours.get('fanout_s'))} | {ms(ours.get('send_call_s'))} | "
            f"{ms(ref.get('fanout_s'))} | "
            f"{ratio(ours.get('fanout_s'), ref.get('fanout_s'))} | {stock_time} | "
            f"{ours.get('lost', '—')} of {ours.get('frames', '—')} / "
            f"{stock.get('lost', '—')} of {stock.get('frames', '—')} |"
        )
    return lines


def connect(results: dict) -> list[str]:
    lines = [
        "| sockets | server | open all (100 in flight) | CPU per open | memory per idle socket "
        "| GC max (connect / fan-out) |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "ours": "ours",
        "reference": "bare `websockets`",
        "daphne": "Daphne alone (bare ASGI app)",
        "stock": "stock Channels",
        "uvicorn": "ours under uvicorn",
    }
    for n, kinds in sorted(results["fanout"].items(), key=lambda item: int(item[0])):
        for kind in ("ours", "reference", "daphne", "stock", "uvicorn"):
            r = kinds.get(kind)
            if not r:
                continue
            lines.append(
                f"| {int(n):,} | {names[kind]} | {r['open_s']:.2f} s | "
                f"{r['cpu_ms_per_open']:.2f} ms | {r['kib_per_socket']:.1f} KiB | "
                f"{r.get('gc_max_ms_connect', 0):.0f} / {r.get('gc_max_ms_fanout', 0):.0f} ms |"
            )
    return lines


def paced(results: dict) -> list[str]:
    lines = [
        "| sockets | server | rate reached | p50 | p99 | max | lost | send call p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, kinds in sorted(results["paced"].items(), key=lambda item: int(item[0])):
        for kind in ("ours", "reference"):
            r = kinds.get(kind)
            if r:
                lines.append(
                    f"| {int(n):,} | {kind} | {r['achieved_rate']:.0f}/s | {r['p50_ms']:.2f} ms | "
                    f"{r['p99_ms']:.2f} ms | {r['max_ms']:.1f} ms | {r['lost']} | "
                    f"{r['send_call_p50_ms']:.2f} ms |"
                )
    return lines


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    results = json.loads(path.read_text())
    print(f"Run {results['when']}, {results['machine']}, {results['versions']}\n")
    if "fanout" in results:
        print("\n".join(fanout(results)), "\n")
        print("\n".join(connect(results)), "\n")
    if "paced" in results:
        print("\n".join(paced(results)), "\n")
    for key in ("send", "storm", "two", "admin", "abuse"):
        if key in results:
            print(f"{key}: {json.dumps(results[key], indent=1)}\n")


if __name__ == "__main__":
    main()
