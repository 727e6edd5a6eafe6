"""Workflows under faults, and workflows and operations as canary surfaces.

The Twitch manifest's real URLs are routed (``sandbox_url``) to a loopback fault server that
plays Helix and the token endpoint. Scenarios (W-...): the token endpoint is down for the
first K seconds, with and without ``Retry-After``; the workflow recovers without a storm of
token requests and sends no API request without a token. Canaries: the run's result (JSON),
its events, its errors, the DEBUG log, and ``connector-sdk run``/``call`` as processes.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import Runtime, load_workflow, run_workflow_sync
from connector_sdk._http.retry import RetryPolicy

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

TWITCH_ID = "abcdefghij0123456789abcdefghij"
WORKFLOW = """\
workflow_version: 1
name: reliability
inputs:
  first: {type: integer, default: 3}
steps:
  - id: games
    operation: twitch.get_top_games
    authentication: app
    inputs: {first: "{{ inputs.first }}"}
    limits: {max_pages: 1}
  - id: details
    operation: twitch.get_games
    authentication: app
    foreach: "{{ steps.games.data }}"
    concurrency: 8
    inputs: {id: ["{{ item.id }}"]}
outputs:
  first_game: "{{ steps.games.data.0.name }}"
"""
DEBUG_CLI = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr);"
             " from connector_sdk.cli import main; sys.exit(main(sys.argv[1:]))")
GAMES = [{"id": str(n), "name": f"Game {n}", "box_art_url": "", "igdb_id": ""}
         for n in range(20)]


def helix(server: Any, rk: Any, *, api_echo: str | None = None) -> None:
    server.default("/helix/games/top", rk.reply(200, json_body={
        "data": GAMES, "pagination": {}}))

    def games(ex: Any) -> None:
        if api_echo is not None:
            ex.reply(500, json_body={"error": "Internal Server Error", "status": 500,
                                     "message": f"{api_echo} {ex.seen.headers}"})
            return
        wanted = ex.seen.path.split("id=", 1)[-1]
        ex.reply(200, json_body={"data": [g for g in GAMES if g["id"] == wanted]})

    server.default("/helix/games", games)
    server.default("/oauth2/revoke", rk.reply(200, body=""))


@pytest.fixture
def wf_runtime(tmp_path, fault_server):  # type: ignore[no-untyped-def]
    made: list[Runtime] = []

    def make(secret: str, retry: RetryPolicy | None = None) -> Runtime:
        options = {"retry": retry} if retry else {}
        runtime = Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "home")},
                          sandbox_url=fault_server.base, token_manager_options=options)
        made.append(runtime)
        runtime.create_authentication("twitch", "app",
                                      {"client_id": TWITCH_ID, "client_secret": secret})
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def load(runtime: Runtime, text: str = WORKFLOW) -> Any:
    return load_workflow(text, file="reliability.yaml", services=runtime.services)


# -- the token endpoint is down for the first K seconds --------------------------------------


def test_a_run_waits_out_a_token_outage_announced_by_retry_after(
    wf_runtime, fault_server, rk, figures, make_canary
):
    figures.scenario("W-token-down-k-seconds-retry-after")
    secret, tok = make_canary("secret"), make_canary("token")
    helix(fault_server, rk)
    outage = 1.5
    down_until = time.monotonic() + outage

    def token(ex: Any) -> None:
        if time.monotonic() < down_until:
            ex.reply(503, body="maintenance", headers={"Retry-After": "1"})
        else:
            rk.token(tok)(ex)

    fault_server.default("/oauth2/token", token)
    runtime = wf_runtime(secret)
    started = time.monotonic()
    result = run_workflow_sync(runtime, load(runtime), {"first": 20})
    elapsed = time.monotonic() - started
    assert result.status == "succeeded", result.to_json()
    assert outage <= elapsed < outage + 1.5
    assert fault_server.count("/oauth2/token") <= 3  # one per Retry-After, not per step/item
    assert fault_server.count("/helix/games") == 20
    assert {s.headers.get("authorization") for s in fault_server.requests("/helix/games")} \
        == {f"Bearer {tok}"}


def test_runs_during_an_outage_fail_fast_and_the_first_run_after_it_succeeds(
    wf_runtime, fault_server, rk, figures, make_canary
):
    figures.scenario("W-token-down-k-seconds-no-signal")
    secret, tok = make_canary("secret"), make_canary("token")
    helix(fault_server, rk)
    outage, cooldown = 1.5, 0.5
    down_until = time.monotonic() + outage

    def token(ex: Any) -> None:
        if time.monotonic() < down_until:
            ex.reset()  # the endpoint is unreachable
        else:
            rk.token(tok)(ex)

    fault_server.default("/oauth2/token", token)
    retry = RetryPolicy(base_delay=0.01, max_delay=0.05, transient_cooldown=cooldown)
    runtime = wf_runtime(secret, retry)
    workflow = load(runtime)
    runs: list[tuple[float, str]] = []
    deadline = time.monotonic() + outage + 3.0
    while time.monotonic() < deadline:
        started = time.monotonic()
        result = run_workflow_sync(runtime, workflow, {"first": 20})
        runs.append((time.monotonic() - started, result.status))
        if result.status == "succeeded":
            break
        assert result.status == "failed"
        time.sleep(0.05)
    assert runs[-1][1] == "succeeded"
    assert time.monotonic() - down_until < cooldown + 1.0
    assert max(duration for duration, status in runs if status == "failed") < 1.0
    # a burst of 3, then one probe per cooldown: not one request per run, step or item
    assert fault_server.count("/oauth2/token") <= 3 + outage / cooldown + 2
    assert len(runs) > fault_server.count("/oauth2/token")
    assert fault_server.count("/helix/games") == 20  # no API request went out without a token


def test_concurrent_runs_share_one_token(wf_runtime, fault_server, rk, figures, make_canary):
    figures.scenario("W-concurrent-runs-one-token")
    secret, tok = make_canary("secret"), make_canary("token")
    helix(fault_server, rk)

    def slow_token(ex: Any) -> None:
        ex.sleep(0.2)
        rk.token(tok)(ex)

    fault_server.default("/oauth2/token", slow_token)
    runtime = wf_runtime(secret)
    workflow = load(runtime)
    statuses: list[str] = []
    errors: list[str] = []

    def run() -> None:
        result = run_workflow_sync(runtime, workflow, {"first": 5})
        statuses.append(result.status)
        if result.status != "succeeded":
            errors.append(json.dumps(result.error))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == ["succeeded"] * 8, errors[:1]
    assert fault_server.count("/oauth2/token") == 1


# -- canaries --------------------------------------------------------------------------------


def _texts(result: Any, events: list[Any], caplog: Any) -> dict[str, str]:
    return {
        "result.to_json": result.to_json(),
        "result.as_dict": repr(result.as_dict()),
        "repr(result)": repr(result),
        "events": repr(events),
        "log records": "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records),
    }


@pytest.mark.parametrize("path", ["success", "api-failure", "token-failure"])
def test_workflow_runs_show_no_secret_or_token(wf_runtime, fault_server, rk, figures,
                                               make_canary, caplog, path):
    caplog.set_level(logging.DEBUG)
    secret, tok = make_canary("secret"), make_canary("token")
    helix(fault_server, rk, api_echo=f"{secret} {tok}" if path == "api-failure" else None)
    if path == "token-failure":
        fault_server.default("/oauth2/token", rk.reply(400, json_body={
            "status": 400, "message": f"invalid client secret {secret}"}))
    else:
        fault_server.default("/oauth2/token", rk.token(tok))
    runtime = wf_runtime(secret)
    events: list[Any] = []
    texts: dict[str, str] = {}
    try:
        result = run_workflow_sync(runtime, load(runtime), {"first": 2},
                                          on_event=events.append)
    except Exception as exc:  # a WorkflowError is a surface too
        texts["exception"] = "".join(traceback.format_exception(exc))
        result = None
    if result is not None:
        assert result.status == ("succeeded" if path == "success" else "failed")
        texts.update(_texts(result, events, caplog))
    leaks = [name for name, text in texts.items() if secret in text or tok in text]
    figures.add("canary.checks", len(texts))
    figures.add("canary.leaks", len(leaks))
    assert leaks == []


def _cli_env(tmp_path: Path, server: Any, secret: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    env.update(CONNECTOR_SDK_HOME=str(tmp_path / "cli-home"), CONNECTOR_SDK_SANDBOX_URL=server.base,
               CONNECTOR_SDK_DEBUG="1", TW_SECRET=secret)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", DEBUG_CLI, *args], env=env, text=True,
                          capture_output=True, timeout=60)


@pytest.mark.skipif(not Path(__file__).parents[2].joinpath("connector_sdk/cli/run.py").exists(),
                    reason="connector-sdk run has not landed")
def test_run_and_call_commands_show_no_secret_or_token(fault_server, rk, tmp_path, figures,
                                                       make_canary):
    secret, tok = make_canary("secret"), make_canary("token")
    helix(fault_server, rk)
    fault_server.default("/oauth2/token", rk.token(tok))
    fault_server.default("/helix/users", rk.reply(200, json_body={"data": [{"id": "1"}]}))
    env = _cli_env(tmp_path, fault_server, secret)
    workflow = tmp_path / "reliability.yaml"
    workflow.write_text(WORKFLOW)
    outputs: dict[str, str] = {}
    created = _cli(env, "auth", "create", "twitch", "--name", "app", "--param",
                   f"client_id={TWITCH_ID}", "--param", "client_secret=@env:TW_SECRET")
    assert created.returncode == 0, created.stderr[-500:]
    commands = {
        "run json": ["run", str(workflow), "--format", "json", "-i", "first=2"],
        "run text": ["run", str(workflow), "-i", "first=2"],
        "call": ["call", "twitch.get_users", "--auth", "app", "--input", "login=twitchdev"],
    }
    for label, argv in commands.items():
        done = _cli(env, *argv)
        assert done.returncode == 0, (label, done.stderr[-800:])
        outputs[f"{label} stdout"] = done.stdout
        outputs[f"{label} stderr"] = done.stderr
    # the failure path: the API echoes what it was sent
    helix(fault_server, rk, api_echo=f"{secret} {tok}")
    failed = _cli(env, "run", str(workflow), "--format", "json", "-i", "first=2")
    assert failed.returncode == 1
    outputs["failed run stdout"] = failed.stdout
    outputs["failed run stderr"] = failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"
    leaks = [name for name, text in outputs.items() if secret in text or tok in text]
    figures.add("canary.checks", len(outputs))
    figures.add("canary.leaks", len(leaks))
    assert leaks == []
