"""Run the kit's servers as a development server, for the CLI's ``--local-server``.

``serve_in_background(server)`` lets a short script stand up a token server and an API for
manual runs and the tutorial (docs/tutorial.md)::

    server = LoopbackServer(port=8765, start=False)
    tokens = TokenServer(server, host="demo.acme.example", clients={"my-client": "dev-secret"})
    api = APIServer(server, tokens=tokens, host="demo.acme.example", prefix="/v1")
    api.route("GET", "/items", json={"items": [{"id": "1"}]})
    serve_in_background(server, pid_file="dev_server.pid")

The script returns once the port is bound and listening (connections wait in its backlog
until served), so the next command can use it at once; the server keeps running in a child
process, detached from the terminal, until ``kill $(cat dev_server.pid)``. Where ``fork`` is
not available, it serves in the foreground instead (run it in another terminal).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from .servers import LoopbackServer

__all__ = ["serve_in_background"]


def serve_in_background(server: LoopbackServer, *, pid_file: str | Path | None = None) -> None:
    """Serve ``server`` (made with ``start=False``) from a detached child process; the
    caller's process exits at once, after printing the URL and the child's pid."""
    if not hasattr(os, "fork"):
        print(f"serving on {server.url}; stop with Ctrl-C", flush=True)
        server.serve_forever()
        return
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        if pid_file is not None:
            Path(pid_file).write_text(f"{pid}\n", encoding="utf-8")
        print(f"serving on {server.url} (pid {pid})", flush=True)
        os._exit(0)  # the child owns the server now; nothing of the parent may run
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):  # a caller reading our output must see its end now
        os.dup2(devnull, stream)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        os._exit(0)
