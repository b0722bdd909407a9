"""The load: many websocket clients in one process, driven over stdin/stdout (JSON lines).

Started by bench/run.py, never by hand. Each socket counts the pushes it
receives, acknowledges them as the browser client does (every 100 frames,
``{"action": "ack", "frames": N}``; the reference server ignores it),
and records the latency of frames that carry a send time (``"t"``,
``time.monotonic()`` of the sender: one clock for every process here).

Commands (one JSON object per line; each is answered with one line):
``open``, ``reset``, ``collect``, ``latencies``, ``counts``, ``close``.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time

import websockets

_T = re.compile(r'"t":([0-9.eE+-]+)')


class Socket:
    __slots__ = ("frames", "pushes", "task", "ws")

    def __init__(self, ws) -> None:
        self.ws = ws
        self.frames = 0
        self.pushes = 0
        self.task = None


class Load:
    def __init__(self) -> None:
        self.sockets: list[Socket] = []
        self.latencies: list[float] = []
        self.last_at = 0.0
        self.first_at = 0.0
        self.closed = 0
        self.close_codes: dict[int, int] = {}
        self.changed = asyncio.Event()

    async def read(self, sock: Socket) -> None:
        ws = sock.ws
        try:
            async for text in ws:
                now = time.monotonic()
                sock.frames += 1
                if '"pong"' not in text[:20]:
                    sock.pushes += 1
                    if not self.first_at:
                        self.first_at = now
                    self.last_at = now
                    match = _T.search(text)
                    if match:
                        self.latencies.append(now - float(match.group(1)))
                    self.changed.set()
                if sock.frames % 100 == 0:
                    await ws.send(json.dumps({"action": "ack", "frames": sock.frames}))
        except websockets.ConnectionClosed:
            pass
        self.closed += 1
        code = ws.close_code or 1006
        self.close_codes[code] = self.close_codes.get(code, 0) + 1
        self.changed.set()

    async def open_one(self, url: str, origin: str, cookie: str, timeout: float):
        started = time.monotonic()
        ws = await websockets.connect(
            url,
            additional_headers={"Cookie": cookie, "Origin": origin},
            open_timeout=timeout,
            max_queue=None,
            compression=None,
            ping_interval=None,
        )
        state = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if state.get("type") != "state":
            raise RuntimeError(f"first frame was {state!r}")
        sock = Socket(ws)
        sock.frames = 1
        sock.task = asyncio.ensure_future(self.read(sock))
        self.sockets.append(sock)
        return time.monotonic() - started

    async def open(self, url, origin, cookies, in_flight=100, timeout=30.0, retries=0):
        started = time.monotonic()
        semaphore = asyncio.Semaphore(in_flight)
        times: list[float] = []
        failures: list[str] = []

        async def one(cookie):
            async with semaphore:
                for attempt in range(retries + 1):
                    try:
                        times.append(await self.open_one(url, origin, cookie, timeout))
                        return
                    except Exception as exc:
                        if attempt == retries:
                            failures.append(f"{type(exc).__name__}: {exc}"[:200])

        await asyncio.gather(*(one(c) for c in cookies))
        times.sort()
        return {
            "opened": len(times),
            "failed": len(failures),
            "failures": failures[:5],
            "seconds": time.monotonic() - started,
            "handshake_p50_ms": 1000 * statistics.median(times) if times else None,
            "handshake_p99_ms": 1000 * times[int(len(times) * 0.99) - 1] if times else None,
        }

    async def storm(self, url, origin, cookies, timeout=60.0, seed=1):
        """Reconnect every socket the way the browser client does after a deploy.

        Waits for each open socket to be closed by the server going away, then
        retries with the client's backoff (client/backoff.js, nextDelay):
        250 + random * (min(30000, 3000 * 2 ** attempt) - 250) ms. Returns when
        all are back (state frame received) or at ``timeout``.
        """
        import random

        rng = random.Random(seed)
        old = self.sockets
        self.sockets = []
        await asyncio.gather(*(s.task for s in old if s.task), return_exceptions=True)
        down_at = time.monotonic()
        attempts = 0
        failures = 0
        back: list[float] = []

        async def one(cookie):
            nonlocal attempts, failures
            attempt = 0
            while time.monotonic() - down_at < timeout:
                await asyncio.sleep(
                    (250 + rng.random() * (min(30000, 3000 * 2**attempt) - 250)) / 1000
                )
                attempts += 1
                try:
                    await self.open_one(url, origin, cookie, timeout=10)
                except Exception:
                    failures += 1
                    attempt += 1
                    continue
                back.append(time.monotonic() - down_at)
                return

        await asyncio.gather(*(one(c) for c in cookies))
        back.sort()
        return {
            "sockets": len(cookies),
            "reconnected": len(back),
            "attempts": attempts,
            "failed_attempts": failures,
            "all_back_s": back[-1] if len(back) == len(cookies) else None,
            "p50_back_s": back[len(back) // 2] if back else None,
        }

    def heartbeat(self, every=25.0):
        """Ping each socket once per ``every`` seconds, spread evenly, like the browser client."""
        if getattr(self, "_heartbeat", None) is None:

            async def beat():
                while True:
                    sockets = list(self.sockets)
                    if not sockets:
                        await asyncio.sleep(1)
                        continue
                    gap = every / len(sockets)
                    for sock in sockets:
                        if sock.ws.close_code is None:
                            try:
                                await sock.ws.send('{"action":"ping"}')
                            except websockets.ConnectionClosed:
                                pass
                        await asyncio.sleep(gap)

            self._heartbeat = asyncio.ensure_future(beat())
        return {"ok": True}

    def reset(self):
        for sock in self.sockets:
            sock.pushes = 0
        self.latencies = []
        self.first_at = self.last_at = 0.0
        return {"ok": True}

    async def collect(self, per_socket=1, timeout=60.0, settle=0.0):
        """Wait until every open socket has ``per_socket`` pushes; report the last arrival."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = sum(1 for s in self.sockets if s.pushes < per_socket and not s.ws.close_code)
            if not waiting or time.monotonic() > deadline:
                break
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                pass
        if settle:
            await asyncio.sleep(settle)  # Anything extra (duplicates) arrives meanwhile.
        pushes = [s.pushes for s in self.sockets]
        return {
            "first_at": self.first_at,
            "last_at": self.last_at,
            "complete": sum(1 for p in pushes if p >= per_socket),
            "short": sum(1 for p in pushes if p < per_socket),
            "lost": sum(max(0, per_socket - p) for p in pushes),
            "extra": sum(max(0, p - per_socket) for p in pushes),
            "sockets": len(self.sockets),
            "closed": self.closed,
            "close_codes": self.close_codes,
        }

    def latency_stats(self):
        values = sorted(self.latencies)
        if not values:
            return {"samples": 0}
        return {
            "samples": len(values),
            "p50_ms": 1000 * values[len(values) // 2],
            "p99_ms": 1000 * values[min(len(values) - 1, int(len(values) * 0.99))],
            "max_ms": 1000 * values[-1],
        }

    async def close(self):
        await asyncio.gather(*(s.ws.close() for s in self.sockets), return_exceptions=True)
        for sock in self.sockets:
            if sock.task:
                sock.task.cancel()
        self.sockets = []
        self.closed = 0
        self.close_codes = {}
        return {"ok": True}


async def main() -> None:
    load = Load()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        op = command.pop("op")
        if op == "open":
            result = await load.open(**command)
        elif op == "reset":
            result = load.reset()
        elif op == "collect":
            result = await load.collect(**command)
        elif op == "latencies":
            result = load.latency_stats()
        elif op == "heartbeat":
            result = load.heartbeat(**command)
        elif op == "storm":
            result = await load.storm(**command)
        elif op == "close":
            result = await load.close()
        else:
            result = {"error": f"unknown op {op}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
