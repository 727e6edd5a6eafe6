"""Large fan-outs: a foreach is cut into chunk workflows and no history holds every item.

The 100,000-item test runs the real interpreter (``RunWorkflow``) on the dev server with the
chunk activity standing in for the chunks (each would be 200 real calls: too slow for CI),
and measures the run's history against Temporal's limits: 2 MB per payload (256 KB
warning), 50 MB per history (10 MB warning) and 51,200 events (10,240 warning)
(https://docs.temporal.io/cloud/limits, the same defaults in a self-hosted server). The
1,000-item test runs everything for real, two ``connector-sdk worker`` processes, chunks of
50, against the Twitch emulator on loopback.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_twitch.emulator import TWITCH_CLIENT_ID, TwitchSandbox
from devserver import DevServer
from temporal_harness import FANOUT, Workers, base_env, cli

from connector_sdk import Runtime, load_workflow
from connector_sdk.sandbox import SandboxServer

pytest.importorskip("temporalio")

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Replayer, Worker

from connector_sdk._workflows.executors.temporal import client as engine
from connector_sdk._workflows.executors.temporal.codec import (
    data_converter,
    load_payload_key,
)
from connector_sdk._workflows.executors.temporal.interpreter import (
    CHUNK_QUEUE,
    ForeachChunk,
    RunWorkflow,
    chunk_bounds,
    summarize,
)

FLOW = FANOUT.split("outputs:")[0].replace("CONCURRENCY", "20")  # no output refers to it
WARN_PAYLOAD, MAX_PAYLOAD = 256 * 1024, 2 * 1024 * 1024
WARN_HISTORY, WARN_EVENTS = 10 * 1024 * 1024, 10_240


def test_chunk_bounds_cut_100k_items_into_500_contiguous_chunks_of_200() -> None:
    bounds = chunk_bounds(100_000, 200)
    assert len(bounds) == 500
    assert bounds[0] == (0, 200) and bounds[-1] == (99_800, 100_000)
    assert all(end - start == 200 for start, end in bounds)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert chunk_bounds(1001, 50)[-1] == (1000, 1001) and chunk_bounds(0, 50) == []


def test_a_chunk_summary_names_the_first_failure_by_its_index_in_the_whole_list() -> None:
    ok = {"status": "succeeded", "output": {"n": 1}, "duration_ms": 1.0}
    bad = {"status": "failed", "error": {"message": "refused"}, "duration_ms": 1.0}
    summary = summarize([ok, bad, None, bad], 400, keep=False)
    assert summary == {"count": 4, "failed": 2, "outputs": None,
                       "first": {"index": 401, "error": {"message": "refused"}}}
    assert summarize([ok, None], 0, keep=True)["outputs"] == [{"n": 1}, None]


def _payload_sizes(event: Any) -> list[int]:
    """The size of every payload an event carries (inputs, results, details)."""
    sizes: list[int] = []

    def walk(message: Any) -> None:
        if message.DESCRIPTOR.full_name == "temporal.api.common.v1.Payload":
            sizes.append(message.ByteSize())
            return
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if hasattr(value, "ListFields"):
                walk(value)
            else:  # a repeated field or a map of messages
                for item in value.values() if hasattr(value, "values") else value:
                    if hasattr(item, "ListFields"):
                        walk(item)

    walk(event)
    return sizes


def test_a_100k_item_foreach_keeps_the_run_history_within_temporal_limits(
    tmp_path: Path, temporal: DevServer
) -> None:
    flow = tmp_path / "chunked.yaml"
    flow.write_text(FLOW)
    with Runtime(environ=base_env(tmp_path)) as runtime:
        wf = load_workflow(flow, services=runtime.services)
        ids = [str(i) for i in range(100_000)]
        request = engine.run_request(runtime, wf, {"ids": ids})
    seen: list[dict[str, Any]] = []

    @activity.defn(name="connector-sdk.check_authentications")
    async def check(steps: list[dict[str, str]]) -> None:
        return None

    @activity.defn(name="connector-sdk.run_chunk")
    async def chunk(request: dict[str, Any]) -> dict[str, Any]:
        seen.append({"id": request["id"], "offset": request["offset"],
                     "keep": request["keep"], "inputs": request["chunk"]["inputs"]})
        done = {"status": "succeeded", "output": {"data": []}, "duration_ms": 0.0}
        return summarize([done] * len(request["chunk"]["inputs"]), request["offset"],
                         request["keep"])

    async def go() -> tuple[Any, list[Any]]:
        client = await Client.connect(temporal.address,
                                      data_converter=data_converter(os.urandom(32)))
        queue = f"q-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[RunWorkflow, ForeachChunk],
                          activities=[check]), \
                Worker(client, task_queue=queue + CHUNK_QUEUE, activities=[chunk]):
            run_id = await engine.start_run(client, request, task_queue=queue)
            value = await asyncio.wait_for(client.get_workflow_handle(run_id).result(), 300)
        history = await client.get_workflow_handle(run_id).fetch_history()
        return value, list(history.events)

    value, events = asyncio.run(go())
    assert value["result"]["status"] == "succeeded"
    assert value["result"]["steps"]["users"]["total"] == 100_000
    assert len(value["chunks"]["users"]) == 500 == len(seen)
    assert [c["offset"] for c in seen] == list(range(0, 100_000, 200))
    assert [i for c in seen for i in c["inputs"]] == [{"id": [i]} for i in ids]  # in order
    assert not any(c["keep"] for c in seen)  # nothing refers to the step: no outputs back
    sizes = [size for event in events for size in _payload_sizes(event)]
    large = sorted(sizes)[-2:]  # the run's input (100,000 ids) and its result echo them
    assert all(size < MAX_PAYLOAD for size in large), large
    assert max(sorted(sizes)[:-2]) < WARN_PAYLOAD
    total = sum(e.ByteSize() for e in events)
    assert total < WARN_HISTORY, total
    print(f"100,000 items: {len(events)} events, {total} bytes of history, largest payloads"
          f" {large}, largest other {max(sorted(sizes)[:-2])}")
    assert len(events) < WARN_EVENTS, len(events)
    assert not any(e.HasField("start_child_workflow_execution_initiated_event_attributes")
                   for e in events)


@pytest.fixture
def emulator(canary: str) -> Iterator[tuple[TwitchSandbox, SandboxServer]]:
    twitch = TwitchSandbox(clients={TWITCH_CLIENT_ID: canary}, rate_limit=10**9)
    with SandboxServer(twitch) as server:
        yield twitch, server


def test_a_1000_item_foreach_in_chunks_of_50_runs_every_item_once_in_order(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers],
    emulator: tuple[TwitchSandbox, SandboxServer], canary: str
) -> None:
    twitch, server = emulator
    env = base_env(tmp_path, CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary)
    created = cli(env, "auth", "create", "twitch", "--name", "twitch", "--param",
                  f"client_id={TWITCH_CLIENT_ID}", "--param", "client_secret=@env:TWITCH_SECRET")
    assert created.returncode == 0, created.stderr
    workers = workers_factory(env, temporal).start(2)
    users = twitch.data.users
    ids = [users[i % len(users)]["id"] for i in range(1000)]
    flow = tmp_path / "chunked.yaml"
    flow.write_text(FLOW)

    async def go() -> tuple[Any, Any, list[Any], list[list[Any]], list[Any]]:
        client = await engine.connect(address, key=load_payload_key(env))
        with Runtime(environ=env) as runtime:
            wf = load_workflow(flow, services=runtime.services)
            request = engine.run_request(runtime, wf, {"ids": ids}, chunk_items=50)
        run_id = await engine.start_run(client, request, task_queue=workers.queue)
        value = await asyncio.wait_for(client.get_workflow_handle(run_id).result(), 400)
        result = await engine.assemble(client, value)
        parent = list((await client.get_workflow_handle(run_id).fetch_history()).events)
        chunks = [list((await client.get_workflow_handle(c).fetch_history()).events)
                  for c in value["chunks"]["users"]]
        summaries = [(await client.data_converter.decode(
            list(e.activity_task_completed_event_attributes.result.payloads)))[0]
            for e in parent if e.HasField("activity_task_completed_event_attributes")]
        replayer = Replayer(workflows=[RunWorkflow, ForeachChunk],
                            data_converter=client.data_converter)
        for workflow_id in (run_id, value["chunks"]["users"][0]):  # deterministic: replays
            await replayer.replay_workflow(
                await client.get_workflow_handle(workflow_id).fetch_history())
        return value, result, parent, chunks, summaries

    address = temporal.address
    value, result, parent, chunks, summaries = asyncio.run(go())
    assert result.status == "succeeded", result.error
    step = result.steps["users"]
    assert [i.status for i in step.items] == ["succeeded"] * 1000
    assert [i.index for i in step.items] == list(range(1000))
    assert [o["data"][0]["id"] for o in step.output] == ids  # every result, in order
    assert len(value["chunks"]["users"]) == 20
    assert twitch.api_requests == 1000  # each item ran once
    assert twitch.token_requests <= 2  # one per worker process (no shared cache here)
    for events in chunks:
        scheduled = [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]
        assert len(scheduled) == 50
    names = [e.activity_task_scheduled_event_attributes.activity_type.name for e in parent
             if e.HasField("activity_task_scheduled_event_attributes")]
    assert names == ["connector-sdk.run_chunk"] * 20  # authentications: a local activity
    chunk_summaries = summaries
    assert [s["count"] for s in chunk_summaries] == [50] * 20
    assert all(s["outputs"] is None and s["failed"] == 0 for s in chunk_summaries)


class SlowTwitch(TwitchSandbox):
    """Answers each API request after ``delay`` seconds, so a chunk is still running when
    the test terminates it."""

    delay = 0.3

    def handle(self, request: Any) -> Any:
        if request.url.path.startswith("/helix/"):
            time.sleep(self.delay)
        return super().handle(request)


def test_a_terminated_chunk_fails_its_items_and_the_run_reads_back_without_error(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Workers], canary: str
) -> None:
    twitch = SlowTwitch(clients={TWITCH_CLIENT_ID: canary}, rate_limit=10**9)
    with SandboxServer(twitch) as server:
        env = base_env(tmp_path, CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary)
        created = cli(env, "auth", "create", "twitch", "--name", "twitch", "--param",
                      f"client_id={TWITCH_CLIENT_ID}", "--param",
                      "client_secret=@env:TWITCH_SECRET")
        assert created.returncode == 0, created.stderr
        workers = workers_factory(env, temporal).start(1)
        flow = tmp_path / "chunked.yaml"
        flow.write_text(FANOUT.split("outputs:")[0].replace("CONCURRENCY", "1"))
        ids = [u["id"] for u in twitch.data.users[:20]]

        async def go() -> Any:
            client = await engine.connect(temporal.address, key=load_payload_key(env))
            with Runtime(environ=env) as runtime:
                wf = load_workflow(flow, services=runtime.services)
                request = engine.run_request(runtime, wf, {"ids": ids}, chunk_items=5)
            run_id = await engine.start_run(client, request, task_queue=workers.queue)
            first_run = (await client.get_workflow_handle(run_id).describe()).run_id
            chunk = client.get_workflow_handle(f"{run_id}/{first_run}/users/0")
            deadline = time.monotonic() + 120
            while True:
                try:
                    await chunk.describe()
                    break
                except RPCError:  # not started yet
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
            await chunk.terminate(reason="the test stops it")
            return await asyncio.wait_for(engine.result_of(client, run_id), 300)

        result = asyncio.run(go())
    assert result.status == "failed"
    step = result.steps["users"]
    assert "users/0" in step.error["message"]
    assert [i.status for i in step.items] == ["failed"] * 5 + ["skipped"] * 15
    assert twitch.api_requests < 20  # the later chunks never started
