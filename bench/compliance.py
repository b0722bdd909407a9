"""Protocol compliance: kosoku runs Autobahn|Testsuite's fuzzing cases against Daphne.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/compliance.py                     # all 517 cases, Daphne's defaults
    .venv/bin/python bench/compliance.py --max-message-size 65536   # our deploy flag
    .venv/bin/python bench/compliance.py -x "9.*" -x "12.*" -x "13.*"   # the quick set

It starts ``python -m daphne`` on a free loopback port serving
``bench/echo_asgi.py`` (Autobahn's cases need an echo peer), runs the cases
with kosoku, writes kosoku's report to ``bench/results/autobahn/`` and prints
every failing case with why it is known. Known failures (30 of 517 with
Daphne's defaults, the baseline measured before this project): Daphne never
sends an empty message (6 cases), and its 1 MiB message cap (or the one
given) fails the 24 cases with larger messages. Any other failure is new: the
script lists it and exits 1. ``UNIMPLEMENTED`` (permessage-deflate, 12.* and
13.*, which Daphne does not negotiate) is counted apart, not as a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Why a case may fail against Daphne 4.2.x, read from the case's own description.
EMPTY = re.compile(r"payload (?:size )?0\b|length 0\b")
SIZE = re.compile(r"length (\d+) \* 2\*\*(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(port: int, max_message_size: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    if max_message_size is not None:
        command += ["--websocket-max-message-size", str(max_message_size)]
    process = subprocess.Popen(
        [*command, "bench.echo_asgi:application"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("daphne did not start")


def why_known(result, cap: int) -> str | None:
    """Why ``result`` failing is expected of Daphne, or None (a new failure)."""
    if EMPTY.search(result.description):
        return "empty message: Daphne never sends one"
    if (size := SIZE.search(result.description)) and int(size[1]) * 2 ** int(size[2]) > cap:
        return f"message over the {cap}-byte --websocket-max-message-size"
    return None


async def run(args) -> int:
    from kosoku import FailureError, run_fuzzingclient

    port = free_port()
    daphne = start_daphne(port, args.max_message_size)
    started = time.monotonic()
    try:
        try:
            results = await run_fuzzingclient(
                f"ws://127.0.0.1:{port}/",
                args.include or None,
                args.exclude or None,
                concurrency=args.parallelism,
            )
        except FailureError as failure:
            results = failure.results
    finally:
        daphne.terminate()
        daphne.wait(10)
    elapsed = time.monotonic() - started
    outdir = ROOT / "bench" / "results" / "autobahn"
    from kosoku._report import write_reports

    write_reports(results, str(outdir))
    cap = args.max_message_size or 1024 * 1024
    # UNIMPLEMENTED is not a failure: permessage-deflate (cases 12.* and 13.*),
    # which Daphne does not negotiate, as Autobahn's own reports count it.
    unimplemented = [r for r in results if r.behavior.value == "UNIMPLEMENTED"]
    failed = [r for r in results if not r.passed and r not in unimplemented]
    new = []
    for r in failed:
        why = why_known(r, cap)
        label = why or "NEW"
        print(f"{r.case_id:10} {r.behavior.value:14} {r.behavior_close.value:16} {label}")
        if why is None:
            new.append(r.case_id)
    print(
        f"\n{len(results)} cases in {elapsed:.0f} s: "
        f"{len(results) - len(failed) - len(unimplemented)} passed, "
        f"{len(unimplemented)} unimplemented (permessage-deflate), "
        f"{len(failed)} failed ({len(failed) - len(new)} known, {len(new)} new). "
        f"Report: {outdir.relative_to(ROOT)}/index.html"
    )
    return 1 if new else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-i", "--include", action="append", help="case id or glob (repeatable)")
    parser.add_argument("-x", "--exclude", action="append", help="case id or glob (repeatable)")
    parser.add_argument("-p", "--parallelism", type=int, default=2)
    parser.add_argument("--max-message-size", type=int, default=None)
    args = parser.parse_args()
    os.chdir(ROOT)
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
