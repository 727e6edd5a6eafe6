"""Durable runs across worker processes: one token for a fan-out, a dead worker, a restarted
server, rate limits, permanent errors and a history with nothing in clear.

Each test runs ``connector-sdk worker`` processes against a Twitch emulator on loopback in
this process (its counters are read here) and reads the run's history with a client of its
own: with the codec to find what ran where, without it to check that nothing is in clear.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from connector_twitch.emulator import TWITCH_CLIENT_ID, TwitchSandbox
from connector_twitch.emulator._data import twitch_data
from devserver import DevServer
from temporal_harness import FANOUT, Workers, base_env, cli, report, without_durations

from connector_sdk.sandbox import SandboxServer, json_response

TOP = """\
workflow_version: 1
name: top
steps:
  - id: games
    operation: twitch.get_top_games
    authentication: twitch
    inputs: {first: 3}
    limits: {max_pages: 1}
outputs:
  names: "{{ steps.games.data }}"
"""


class SlowTwitch(TwitchSandbox):
    """The Twitch emulator with a delay per API answer, 429s with a reset for the first
    top-games requests for 8 s from the first one (``limited``), and a 400 for the user id
    ``refused``."""

    def __init__(self, canary: str, *, delay: float = 0.0, limited: bool = False) -> None:
        super().__init__(clients={TWITCH_CLIENT_ID: canary})
        self.delay, self.limited = delay, limited
        self.reset_at = 0.0
        self.limited_answers = 0
        self.api_answers = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/helix/"):
            if self.delay:
                time.sleep(self.delay)
            if request.url.path == "/helix/games/top" and self.limited:
                now = time.time()
                self.reset_at = self.reset_at or now + 8
                if now < self.reset_at:  # limited until the reset, however often asked
                    self.limited_answers += 1
                    return json_response(429, {"error": "Too Many Requests", "status": 429,
                                               "message": "Too Many Requests"},
                                         headers={"Ratelimit-Limit": "800",
                                                  "Ratelimit-Remaining": "0",
                                                  "Ratelimit-Reset": str(int(self.reset_at))})
            if request.url.params.get("id") == "refused":
                return json_response(400, {"error": "Bad Request", "status": 400,
                                           "message": "Invalid user id 'refused'"})
            self.api_answers += 1
        return super().handle(request)


@pytest.fixture
def twitch(canary: str) -> Iterator[tuple[SlowTwitch, SandboxServer]]:
    emulator = SlowTwitch(canary)
    with SandboxServer(emulator) as server:
        yield emulator, server


def setup(tmp_path: Path, server: SandboxServer, canary: str, **extra: str) -> dict[str, str]:
    env = base_env(tmp_path, CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary,
                   **extra)
    created = cli(env, "auth", "create", "twitch", "--name", "twitch", "--param",
                  f"client_id={TWITCH_CLIENT_ID}", "--param", "client_secret=@env:TWITCH_SECRET")
    assert created.returncode == 0, created.stderr
    return env


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


USERS = twitch_data(0).users


def ids_input(count: int) -> str:
    """``ids=[…]``: the ids of the emulator's first ``count`` users."""
    return "ids=" + json.dumps([u["id"] for u in USERS[:count]])


async def history(server: DevServer, run_id: str, *, decoded: bool) -> list[Any]:
    from temporalio.client import Client

    from connector_sdk._workflows.executors.temporal.codec import data_converter

    kwargs: dict[str, Any] = {"data_converter": data_converter()} if decoded else {}
    client = await Client.connect(server.address, **kwargs)
    found = await client.get_workflow_handle(run_id).fetch_history()
    return list(found.events)


def start(env: dict[str, str], workers: Workers, *args: str) -> str:
    started = cli(env, "run", *args, "--no-wait", *workers.run_args())
    assert started.returncode == 0, started.stderr[-3000:]
    return started.stdout.strip()


def show(env: dict[str, str], server: DevServer, run_id: str, *, wait: float = 150
         ) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        shown = cli(env, "runs", "show", run_id, "--temporal", server.address, "--format",
                    "json")
        assert shown.returncode in (0, 1), shown.stderr[-2000:]
        found: dict[str, Any] = json.loads(shown.stdout)
        if found["status"] != "running" or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_a_200_item_fanout_on_two_workers_makes_one_token_request_and_history_is_sealed(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers],
    twitch: tuple[SlowTwitch, SandboxServer], own_redis: str, canary: str
) -> None:
    emulator, server = twitch
    env = setup(tmp_path, server, canary, CONNECTOR_SDK_TOKEN_CACHE=own_redis)
    workers = workers_factory(env, temporal).start(2)
    flow = write(tmp_path, "fanout.yaml", FANOUT.replace("CONCURRENCY", "20"))
    run_id = start(env, workers, flow, "--input", ids_input(200))
    found = show(env, temporal, run_id)
    assert found["status"] == "completed", found
    result = found["result"]
    assert result["status"] == "succeeded"
    assert [i["status"] for i in result["steps"]["users"]["items"]] == ["succeeded"] * 200
    assert [u["data"][0]["id"] for u in result["outputs"]["users"]] == \
        [u["id"] for u in USERS[:200]]
    assert emulator.token_requests == 1
    events = asyncio.run(history(temporal, run_id, decoded=True))
    identities = {e.activity_task_started_event_attributes.identity for e in events
                  if e.HasField("activity_task_started_event_attributes")}
    assert len(identities) == 2, identities  # both worker processes ran items
    raw = b"".join(e.SerializeToString() for e in asyncio.run(
        history(temporal, run_id, decoded=False)))
    tokens = [t.encode() for t in emulator._tokens]  # every token the emulator issued
    assert tokens and not any(t in raw for t in tokens)
    assert canary.encode() not in raw
    assert USERS[0]["login"].encode() not in raw  # operation data is sealed too
    assert USERS[0]["id"].encode() not in raw


def start_chunked(env: dict[str, str], workers: Workers, flow: str, ids: list[str],
                  chunk_items: int) -> str:
    """Start a run as ``run --no-wait`` does, with chunks of ``chunk_items`` items."""
    from connector_sdk import Runtime, load_workflow
    from connector_sdk._workflows.executors.temporal import client as engine
    from connector_sdk._workflows.executors.temporal.codec import load_payload_key

    async def go() -> str:
        client = await engine.connect(workers.server.address, key=load_payload_key(env))
        with Runtime(environ=env) as runtime:
            request = engine.run_request(runtime, load_workflow(flow, services=runtime.services),
                                         {"ids": ids}, chunk_items=chunk_items)
        return await engine.start_run(client, request, task_queue=workers.queue)

    return asyncio.run(go())


def recorded(server: DevServer, env: dict[str, str], run_id: str) -> Counter[str]:
    """The item activities the run's histories (its own and its chunks') record, by event."""
    from temporalio.client import Client

    from connector_sdk._workflows.executors.temporal.codec import (
        data_converter,
        load_payload_key,
    )

    async def go() -> Counter[str]:
        client = await Client.connect(server.address,
                                      data_converter=data_converter(load_payload_key(env)))
        value = await client.get_workflow_handle(run_id).result()
        counts: Counter[str] = Counter()
        for workflow_id in [run_id, *value["chunks"].get("users", [])]:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            items = {e.event_id for e in history.events
                     if e.HasField("activity_task_scheduled_event_attributes")
                     and e.activity_task_scheduled_event_attributes.activity_type.name
                     == "connector-sdk.run_step"}
            counts["scheduled"] += len(items)
            counts["completed"] += sum(
                1 for e in history.events if e.HasField("activity_task_completed_event_attributes")
                and e.activity_task_completed_event_attributes.scheduled_event_id in items)
        return counts

    return asyncio.run(go())


@pytest.mark.parametrize("chunk_items", [None, 30], ids=["one-history", "chunks-of-30"])
def test_a_worker_killed_mid_run_leaves_the_run_to_the_other(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers],
    twitch: tuple[SlowTwitch, SandboxServer], canary: str, chunk_items: int | None
) -> None:
    emulator, server = twitch
    emulator.delay = 0.05
    env = setup(tmp_path, server, canary)
    workers = workers_factory(env, temporal).start(2)
    flow = write(tmp_path, "f.yaml", FANOUT.replace("CONCURRENCY", "4"))
    if chunk_items is None:
        run_id = start(env, workers, flow, "--input", ids_input(120))
    else:
        run_id = start_chunked(env, workers, flow, [u["id"] for u in USERS[:120]], chunk_items)
    deadline = time.monotonic() + 60
    while emulator.api_answers < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers.processes[0].send_signal(signal.SIGKILL)
    found = show(env, temporal, run_id)
    assert found["status"] == "completed", found
    items = found["result"]["steps"]["users"]["items"]
    assert [i["status"] for i in items] == ["succeeded"] * 120
    assert [u["data"][0]["id"] for u in found["result"]["outputs"]["users"]] == \
        [u["id"] for u in USERS[:120]]
    assert workers.processes[0].poll() == -signal.SIGKILL
    # every item is recorded once; only calls in flight on the dead worker (at most the
    # step's concurrency, 4) ran again, their first completion never having been recorded
    assert recorded(temporal, env, run_id) == Counter(scheduled=120, completed=120)
    assert 120 <= emulator.api_answers <= 124


def test_the_server_restarted_on_its_file_mid_run_completes_the_run(
    tmp_path: Path, own_temporal: DevServer, workers_factory: Callable[..., Workers],
    twitch: tuple[SlowTwitch, SandboxServer], canary: str
) -> None:
    emulator, server = twitch
    emulator.delay = 0.05
    env = setup(tmp_path, server, canary)
    workers = workers_factory(env, own_temporal).start(2)
    run_id = start(env, workers, write(tmp_path, "f.yaml", FANOUT.replace("CONCURRENCY", "2")),
                   "--input", ids_input(60))
    deadline = time.monotonic() + 60
    while emulator.api_answers < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    own_temporal.stop()
    time.sleep(2)
    own_temporal.start()
    found = show(env, own_temporal, run_id, wait=180)
    assert found["status"] == "completed", found
    assert [i["status"] for i in found["result"]["steps"]["users"]["items"]] == \
        ["succeeded"] * 60


def test_a_rate_limited_step_waits_on_the_server_without_holding_the_worker(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers],
    twitch: tuple[SlowTwitch, SandboxServer], canary: str
) -> None:
    emulator, server = twitch
    emulator.limited = True  # top games answer 429 for 8 s from the first request
    env = setup(tmp_path, server, canary)
    workers = workers_factory(env, temporal).start(1, "--max-concurrent-activities", "1")
    limited = start(env, workers, write(tmp_path, "top.yaml", TOP))
    deadline = time.monotonic() + 60
    while not emulator.limited_answers and time.monotonic() < deadline:
        time.sleep(0.05)
    other = start(env, workers, write(tmp_path, "f.yaml", FANOUT.replace("CONCURRENCY", "1")),
                  "--input", ids_input(3))
    other_done = show(env, temporal, other)
    limited_now = show(env, temporal, limited, wait=0)
    assert other_done["status"] == "completed"
    assert limited_now["status"] == "running"  # still waiting for its reset, slot free
    found = show(env, temporal, limited)
    assert found["status"] == "completed" and found["result"]["status"] == "succeeded"
    events = asyncio.run(history(temporal, limited, decoded=True))
    attempts = [e.activity_task_started_event_attributes.attempt for e in events
                if e.HasField("activity_task_started_event_attributes")]
    assert max(attempts) >= 2  # the wait was the server's: a later attempt answered


def test_a_permanent_error_fails_the_step_at_once_with_the_local_message(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers],
    twitch: tuple[SlowTwitch, SandboxServer], canary: str
) -> None:
    _, server = twitch
    env = setup(tmp_path, server, canary)
    workers = workers_factory(env, temporal).start(2)
    flow = write(tmp_path, "f.yaml", FANOUT.replace("CONCURRENCY", "1"))
    given = "ids=" + json.dumps([USERS[0]["id"], "refused", USERS[1]["id"]])
    remote = cli(env, "run", flow, "--input", given, "--format", "json", *workers.run_args())
    local = cli(env, "run", flow, "--input", given, "--format", "json")
    assert (remote.returncode, local.returncode) == (1, 1), remote.stderr[-2000:]
    assert without_durations(report(remote)) == without_durations(report(local))
    assert report(remote)["error"]["status"] == 400
    assert report(remote)["steps"]["users"]["items"][2]["status"] == "skipped"
    text = [cli(env, "run", flow, "--input", given, *args).stdout.splitlines()[-2:]
            for args in (workers.run_args(), [])]
    assert text[0] == text[1]


def test_an_unknown_authentication_fails_the_run_before_any_step_as_locally(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers],
    twitch: tuple[SlowTwitch, SandboxServer], canary: str
) -> None:
    emulator, server = twitch
    env = setup(tmp_path, server, canary)
    workers = workers_factory(env, temporal).start(1)
    flow = write(tmp_path, "f.yaml", FANOUT.replace("CONCURRENCY", "1").replace(
        "authentication: twitch", "authentication: nobody"))
    given = "ids=" + json.dumps([USERS[0]["id"]])
    remote = cli(env, "run", flow, "--input", given, "--format", "json", *workers.run_args())
    local = cli(env, "run", flow, "--input", given, "--format", "json")
    assert (remote.returncode, local.returncode) == (1, 1), remote.stderr[-2000:]
    assert without_durations(report(remote)) == without_durations(report(local))
    assert "nobody" in report(remote)["error"]["message"]
    assert emulator.api_answers == 0 and emulator.token_requests == 0
