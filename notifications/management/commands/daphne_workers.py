"""Run several Daphne processes behind one port: ``manage.py daphne_workers -w 4 -p 8000``.

One Python process serves sockets on one core; to use every core, run one
Daphne per core. This command binds the port itself, once per worker with
``SO_REUSEPORT`` where the system has it (the kernel then spreads new
connections evenly), hands each socket to a ``python -m daphne --fd N``
child, restarts a child that dies, and stops them all on SIGTERM or Ctrl-C.
Everything after ``--`` goes to each daphne as is::

    python manage.py daphne_workers --workers 2 --port 8000 -- \\
        --websocket-max-message-size 65536 --proxy-headers

The workers share nothing but Redis and the database, so the notifications
transport must cross processes: ``REDIS_URL`` (the "redis" transport) or a
channel layer that does; the in-memory default serves one process only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notifications import delivery


class Command(BaseCommand):
    help = "Run several Daphne processes behind one port (one per core by default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-w", "--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("-b", "--bind", default="127.0.0.1", help="address to listen on")
        parser.add_argument("-p", "--port", type=int, default=8000)
        parser.add_argument("--backlog", type=int, default=2048, help="listen backlog per worker")
        parser.add_argument(
            "--application",
            default=None,
            help="module:attribute of the ASGI application (default: ASGI_APPLICATION)",
        )
        parser.add_argument("daphne_args", nargs="*", help="after --: passed to each daphne")

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        transport = delivery.get_transport()
        if workers > 1 and transport.name == "local":
            raise CommandError(
                f"{workers} workers cannot share the in-process 'local' notifications "
                "transport: set REDIS_URL (or a channels-redis CHANNEL_LAYERS entry) so "
                "pushes reach the sockets of every worker."
            )
        _refuse_unlimited_messages(options["daphne_args"])
        application = options["application"] or _application_path()
        sockets = _listen(options["bind"], options["port"], workers, options["backlog"])
        self.stdout.write(
            f"Serving {application} on http://{options['bind']}:{options['port']}/ with "
            f"{workers} Daphne worker(s), notifications transport {transport.name!r} "
            "(Ctrl-C to stop)."
        )
        supervisor = _Supervisor(sockets, application, options["daphne_args"], self.stderr)
        supervisor.run()


def _refuse_unlimited_messages(daphne_args: list[str]) -> None:
    """Refuse ``--websocket-max-message-size 0``: Daphne would accept messages of any size."""
    flag = "--websocket-max-message-size"
    for i, arg in enumerate(daphne_args):
        value = daphne_args[i + 1] if arg == flag and i + 1 < len(daphne_args) else None
        if arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
        if value is not None and value.strip() == "0":
            raise CommandError(
                f"{flag} 0 switches Daphne's message size limit off (CVE-2026-44545): "
                f"clients only send tiny control frames, so pass {flag} 65536."
            )


def _application_path() -> str:
    name = getattr(settings, "ASGI_APPLICATION", None)
    if not name or "." not in name:
        raise CommandError("Set ASGI_APPLICATION or pass --application module:attribute.")
    module, _, attribute = name.rpartition(".")
    return f"{module}:{attribute}"


def _listen(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    if ":" in host:
        # Daphne adopts inherited sockets as IPv4 only (its "fd:" endpoint).
        raise CommandError(f"--bind {host}: give an IPv4 address (put a proxy in front for IPv6).")
    family = socket.AF_INET
    reuse_port = hasattr(socket, "SO_REUSEPORT")
    sockets = []
    for _ in range(count if reuse_port else 1):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        sock.listen(backlog)
        sock.set_inheritable(True)
        sockets.append(sock)
    # Without SO_REUSEPORT every worker accepts from the one socket.
    return sockets * (count // len(sockets))


class _Supervisor:
    """Start one daphne per socket, restart the ones that die, stop all on a signal."""

    def __init__(self, sockets: list[socket.socket], application: str, extra: list, err) -> None:
        self.sockets = sockets
        self.application = application
        self.extra = extra
        self.err = err
        self.children: list[subprocess.Popen | None] = [None] * len(sockets)
        self.started: list[float] = [0.0] * len(sockets)
        self.stopping = False

    def spawn(self, index: int) -> None:
        fd = self.sockets[index].fileno()
        command = [
            sys.executable,
            "-m",
            "daphne",
            "--fd",
            str(fd),
            *self.extra,
            self.application,
        ]
        env = {**os.environ, "NOTIFICATIONS_WORKER": str(index)}
        self.children[index] = subprocess.Popen(command, pass_fds=[fd], env=env)
        self.started[index] = time.monotonic()

    def stop(self, *_args: Any) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        for index in range(len(self.sockets)):
            self.spawn(index)
        try:
            while not self.stopping:
                time.sleep(0.2)
                for index, child in enumerate(self.children):
                    if child is not None and child.poll() is not None and not self.stopping:
                        quick = time.monotonic() - self.started[index] < 5
                        self.err.write(
                            f"Worker {index} exited with {child.returncode}; restarting"
                            f"{' in 5 s' if quick else ''}."
                        )
                        if quick:
                            time.sleep(5)  # Crashing at start-up: do not spin.
                        self.spawn(index)
        finally:
            for child in self.children:
                if child is not None and child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in self.children:
                if child is not None:
                    try:
                        child.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        child.kill()
