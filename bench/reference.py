"""The reference server: our socket's job done by a bare ``websockets`` server, the Python limit.

It speaks the same frames and reads the same Redis messages as
``notifications.delivery`` (one pub/sub subscription, ``F`` batches of
``key<TAB>frame`` lines), keeps ``user key -> sockets`` in a dict and writes
each frame straight to the socket. Sessions are resolved from a cookie map
loaded at start (no database per handshake), the Origin must match, and a
``state`` frame opens every socket. No flow control, rate limit or revocation:
what ours does on top is the price of the product.

    python bench/reference.py --port 9000 --redis redis://127.0.0.1:6379/0 \\
        --channel asgi:notifications --sessions sessions.json

``GET /__bench__/stats`` answers RSS, CPU and GC pauses, like bench/server.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
from http import HTTPStatus
from http.cookies import SimpleCookie
from pathlib import Path

import redis.asyncio as aredis
import websockets
from websockets.asyncio.server import serve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import Stats

STATE = json.dumps({"type": "state", "cursor": 0, "unread_count": 0}, separators=(",", ":"))


class Reference:
    def __init__(self, sessions: dict[str, str], origin: str) -> None:
        self.sessions = sessions
        self.origin = origin
        self.sockets: dict[str, set] = {}
        self.stats = Stats()

    def process_request(self, connection, request):
        if request.path.startswith("/__bench__/stats"):
            body = json.dumps(self.stats.read(reset="reset" in request.path))
            return connection.respond(HTTPStatus.OK, body)
        if request.headers.get("Origin") != self.origin:
            return connection.respond(HTTPStatus.FORBIDDEN, "origin\n")
        return None

    async def handler(self, ws) -> None:
        cookie = SimpleCookie(ws.request.headers.get("Cookie", ""))
        morsel = cookie.get("sessionid")
        key = self.sessions.get(morsel.value) if morsel else None
        if key is None:
            await ws.close(4401)
            return
        self.sockets.setdefault(key, set()).add(ws)
        try:
            await ws.send(STATE)
            async for _message in ws:  # Pings and acks: nothing to do.
                pass
        finally:
            same = self.sockets.get(key)
            same.discard(ws)
            if not same:
                del self.sockets[key]

    async def listen(self, url: str, channel: str) -> None:
        client = aredis.Redis.from_url(url)
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            data = message["data"].decode()
            if not data.startswith("F"):
                continue
            sockets = self.sockets
            for line in data[2:].split("\n"):
                key, _, text = line.partition("\t")
                for ws in tuple(sockets.get(key, ())):
                    try:
                        await ws.send(text)
                    except websockets.ConnectionClosed:
                        pass


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--sessions", required=True, help="JSON file: cookie value -> user key")
    parser.add_argument("--reuse-port", action="store_true", help="share the port (SO_REUSEPORT)")
    args = parser.parse_args()
    sessions = json.loads(Path(args.sessions).read_text())
    reference = Reference(sessions, f"http://127.0.0.1:{args.port}")
    listener = asyncio.ensure_future(reference.listen(args.redis, args.channel))
    gc.collect()
    gc.freeze()  # The same start-up treatment our hub gives Daphne.
    async with serve(
        reference.handler,
        "127.0.0.1",
        args.port,
        process_request=reference.process_request,
        compression=None,
        max_queue=None,
        ping_interval=20,
        ping_timeout=30,
        backlog=2048,
        max_size=65536,
        reuse_port=args.reuse_port,
    ):
        print(f"reference listening on {args.port} (pid {os.getpid()})", flush=True)
        await listener


if __name__ == "__main__":
    asyncio.run(main())
