"""A fleet of worker processes against one counting token endpoint: the pieces the fleet
tests and ``benchmarks/fleet.py`` share.

``TokenEndpoint`` is pytest-httpserver's real HTTP server on 127.0.0.1 (threaded): ``/token``
issues ``tok-1``, ``tok-2``… and counts the requests; ``/api`` answers 200 to a bearer token
it issued, 401 otherwise. ``run_worker`` is what each worker process runs (``_fleet_worker``):
a runtime with the fleet's cache, then rounds of concurrent asyncio API calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector_sdk import hookimpl

MANIFEST = """\
manifest_version: 1
service:
  id: fleet
  title: Fleet test API
  version: 1.0.0
  description: A token endpoint and an API on 127.0.0.1, shared by worker processes.
parameters:
  type: object
  required: [client_id, client_secret]
  properties:
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
auth:
  grant: client_credentials
  token_url: http://127.0.0.1:{port}/token
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'
allowed_hosts: ['127.0.0.1']
base_url: http://127.0.0.1:{port}
"""


class FleetPlugin:
    """Registers the ``fleet`` service for an endpoint on ``port``."""

    def __init__(self, port: int) -> None:
        self.text = MANIFEST.format(port=port)

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        register(self.text)


class TokenEndpoint:
    """The counting token endpoint and its API. ``delay``: seconds each token answer takes
    (so that callers overlap); ``hang_first``: the first token request never gets an answer
    until ``close`` (a worker killed while holding the lease)."""

    def __init__(self, *, expires_in: float = 3600, delay: float = 0.3,
                 hang_first: bool = False) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.hang_first = hang_first
        self.requests = 0
        self.api_calls = 0
        self.issued: set[str] = set()
        self.first_seen = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request("/api").respond_with_handler(self._api)
        self.server.start()

    @property
    def port(self) -> int:
        return int(self.server.port)

    def _token(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
            number = self.requests
        if number == 1:
            self.first_seen.set()
            if self.hang_first:
                self._release.wait(120)
                return Response("gone", status=503)
        time.sleep(self.delay)
        token = f"tok-{number}"
        with self._lock:
            self.issued.add(token)
        return Response(json.dumps({"access_token": token, "token_type": "bearer",
                                    "expires_in": self.expires_in}),
                        content_type="application/json")

    def _api(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.api_calls += 1
            known = token in self.issued
        if not known:
            return Response('{"error": "unknown token"}', status=401,
                            content_type="application/json")
        return Response('{"ok": true}', content_type="application/json")

    def close(self) -> None:
        self._release.set()
        self.server.clear()
        if self.server.is_running():
            self.server.stop()


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One worker: ``spec`` has ``port``, ``home``, ``key``, ``cache`` (a Redis URL or None
    for a per-process memory cache), ``calls`` per round, ``rounds`` (start offsets in seconds
    after the go signal), ``go`` (a file whose appearance starts the rounds), ``ready`` (a
    file this worker creates when it is ready) and ``lease`` (ttl, wait)."""
    from connector_sdk import Runtime
    from connector_sdk._auth.single_flight import LeasePolicy

    environ = {"CONNECTOR_SDK_HOME": spec["home"], "CONNECTOR_SDK_SECRET_KEY": spec["key"]}
    lease = LeasePolicy(ttl=spec.get("lease_ttl", 30.0), wait=spec.get("lease_wait", 30.0))
    runtime = Runtime(environ=environ, allow_loopback=True, token_cache=spec["cache"],
                      extra_plugins={"fleet": FleetPlugin(spec["port"])},
                      token_manager_options={"lease": lease})
    authentication = runtime.authentication(
        "fleet", {"client_id": "fleet-app", "client_secret": spec["secret"]}, name="fleet-auth")
    Path(spec["ready"]).touch()
    go = Path(spec["go"])
    while not go.exists():
        time.sleep(0.01)
    started = go.stat().st_mtime
    outcome: dict[str, Any] = {"ok": 0, "failed": 0, "errors": [], "rounds": []}

    async def call(client: Any) -> None:
        try:
            response = await client.get("/api")
            response.raise_for_status()
            outcome["ok"] += 1
        except Exception as exc:
            outcome["failed"] += 1
            outcome["errors"].append(f"{type(exc).__name__}: {str(exc)[:200]}")

    async def rounds() -> None:
        async with runtime.async_client(authentication) as client:
            for offset in spec["rounds"]:
                await asyncio.sleep(max(0.0, started + offset - time.time()))
                begin = time.perf_counter()
                await asyncio.gather(*(call(client) for _ in range(spec["calls"])))
                outcome["rounds"].append(time.perf_counter() - begin)

    try:
        asyncio.run(rounds())
    finally:
        runtime.close()
    outcome["token_requests"] = runtime.tokens.stats.requests
    return outcome


WORKER = Path(__file__).with_name("_fleet_worker.py")


class Fleet:
    """Worker processes started together: each gets ready (imports, runtime), then all start
    their rounds on one go signal, so the cold start really is concurrent."""

    def __init__(self, directory: Path, spec: dict[str, Any], count: int,
                 env: dict[str, str]) -> None:
        import subprocess
        import sys

        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.go = directory / "go"
        self.processes: list[subprocess.Popen[str]] = []
        for n in range(count):
            own = {**spec, "go": str(self.go), "ready": str(directory / f"ready-{n}")}
            self.processes.append(subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(own)], env=env, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not all((self.directory / f"ready-{n}").exists()
                      for n in range(len(self.processes))):
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited early: {process.communicate()[1]}")
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not get ready")
            time.sleep(0.02)

    def start(self) -> float:
        self.wait_ready()
        self.go.touch()
        return time.perf_counter()

    def results(self, timeout: float = 300) -> list[tuple[int, dict[str, Any] | None, str]]:
        """(exit code, outcome or None, stderr) of every worker."""
        done = []
        for process in self.processes:
            out, err = process.communicate(timeout=timeout)
            lines = out.strip().splitlines()
            outcome = json.loads(lines[-1]) if process.returncode == 0 and lines else None
            done.append((process.returncode, outcome, err))
        return done

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
