"""Streaming a run's results to a sink (issue 11.5): every call's result as it finishes, what
was written survives a failure, no secret in the file, and a big foreach holds no outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import CallResult, JsonLinesSink, load_workflow, run_workflow_sync
from connector_sdk._workflows.executors import local
from connector_sdk._workflows.step import secrets_of

MakeRuntime = Any  # conftest.make_runtime
ROOT = Path(__file__).parents[2]
BAD_GAME = "999999999"  # the emulator answers get_videos for an unknown game with an error


def _foreach(runtime: Any, items: list[str], *, concurrency: int, extra: str = "") -> Any:
    return load_workflow(f"""
workflow_version: 1
steps:
  - id: videos
    operation: twitch.get_videos
    authentication: twitch
    foreach: {json.dumps(items)}
    concurrency: {concurrency}
    inputs: {{game_id: "{{{{ item }}}}", first: 1}}
    limits: {{max_pages: 1}}
{extra}""".encode(), file="<test>", services=runtime.services)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_item_arrives_once_with_its_index_in_finishing_order(
        make_runtime: MakeRuntime, twitch: TwitchSandbox) -> None:
    runtime, _ = make_runtime(delay=0.002)
    games = [g["id"] for g in twitch.data.games[:40]]
    got: list[CallResult] = []
    result = run_workflow_sync(runtime, _foreach(runtime, games, concurrency=8),
                               on_result=got.append)
    assert result.status == "succeeded", result.error
    assert sorted(r.index for r in got if r.index is not None) == list(range(40))
    assert all(r.step == "videos" and r.status == "succeeded" for r in got)
    # the sink saw each item's own output, the one the report keeps at that index
    by_index = {r.index: r.output for r in got}
    assert [by_index[i] for i in range(40)] == result.steps["videos"].output
    one: list[CallResult] = []
    run_workflow_sync(runtime, _foreach(runtime, games[:10], concurrency=1), on_result=one.append)
    assert [r.index for r in one] == list(range(10)), "one at a time: the list's order"


def test_a_failure_mid_run_keeps_every_line_written_and_marks_the_rest_skipped(
        make_runtime: MakeRuntime, twitch: TwitchSandbox, tmp_path: Path) -> None:
    runtime, _ = make_runtime()
    good = twitch.data.games[0]["id"]
    flow = _foreach(runtime, [good] * 10 + [BAD_GAME] + [good] * 20, concurrency=1, extra="""
  - id: after
    operation: twitch.get_top_games
    authentication: twitch
    inputs: {first: 1}
    limits: {max_pages: 1}
""")
    path = tmp_path / "results.jsonl"
    with JsonLinesSink(path) as sink:
        result = run_workflow_sync(runtime, flow, on_result=sink)
        written = _lines(path)  # on disk before the sink is closed: flushed line by line
    assert result.status == "failed"
    assert [line["status"] for line in written] == \
        ["succeeded"] * 10 + ["failed"] + ["skipped"] * 20
    assert [line["index"] for line in written] == list(range(31))
    assert written[10]["error"]["item"] == 10
    assert _lines(path) == written
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_file_has_one_line_per_call_and_no_secret(
        make_runtime: MakeRuntime, twitch: TwitchSandbox, tmp_path: Path) -> None:
    runtime, _ = make_runtime()
    games = [g["id"] for g in twitch.data.games[:12]]
    flow = _foreach(runtime, games, concurrency=4, extra="""
  - id: top
    operation: twitch.get_top_games
    authentication: twitch
    inputs: {first: 2}
    limits: {max_pages: 1}
""")
    path = tmp_path / "results.jsonl"
    authentication = runtime.get_authentication("twitch")
    with JsonLinesSink(path, secrets=secrets_of([authentication])) as sink:
        result = run_workflow_sync(runtime, flow, on_result=sink)
    assert result.status == "succeeded", result.error
    lines = _lines(path)
    assert len(lines) == 13 == sink.lines
    assert [line["index"] for line in lines if line["step"] == "top"] == [None]
    text = path.read_text()
    token = runtime.get_token(authentication).access_token.reveal()
    for secret in (twitch.parameters()["client_secret"], token):
        assert secret not in text


def test_a_streamed_foreach_over_the_limit_keeps_no_item_output(
        make_runtime: MakeRuntime, twitch: TwitchSandbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "KEEP_STREAMED_OUTPUTS", 5)
    runtime, _ = make_runtime()
    good = twitch.data.games[0]["id"]
    got: list[CallResult] = []
    flow = _foreach(runtime, [good] * 8 + [BAD_GAME] + [good] * 3, concurrency=3,
                    extra="    continue_on_error: true\n")
    result = run_workflow_sync(runtime, flow, on_result=got.append)
    assert result.status == "partial"
    step = result.steps["videos"]
    assert step.output is None
    assert [item.index for item in step.items or ()] == [8]  # only the failure is held
    assert any("not kept" in warning for warning in result.warnings)
    assert len(got) == 12
    assert sum(r.output is not None for r in got) == 11


def test_a_sink_that_raises_fails_the_step_and_receives_nothing_more(
        make_runtime: MakeRuntime, twitch: TwitchSandbox) -> None:
    runtime, _ = make_runtime()
    games = [g["id"] for g in twitch.data.games[:30]]
    got: list[CallResult] = []

    def sink(result: CallResult) -> None:
        if len(got) == 3:
            raise OSError(28, "No space left on device")
        got.append(result)

    result = run_workflow_sync(runtime, _foreach(runtime, games, concurrency=2),
                               on_result=sink)
    assert result.status == "failed"
    assert "the results sink failed: OSError" in result.steps["videos"].error["message"]
    assert len(got) == 3


def test_cli_results_jsonl_writes_one_line_per_item(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.jsonl"
    path.parent.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "connector_sdk.cli", "run", "examples/twitch-top-streams.yaml",
         "--sandbox", "-q", "--input", "streams=4", "--results-jsonl", str(path)],
        cwd=ROOT, env={**os.environ, "CONNECTOR_SDK_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = _lines(path)
    steps = [line["step"] for line in lines]
    assert steps.count("streamers") == 4
    assert sorted(line["index"] for line in lines if line["step"] == "streamers") == [0, 1, 2, 3]
    assert len(lines) == 6  # top_games, streams, four streamers
    refused = subprocess.run(
        [sys.executable, "-m", "connector_sdk.cli", "run", "examples/twitch-top-streams.yaml",
         "--results-jsonl", str(tmp_path / "no" / "such" / "dir.jsonl"), "--sandbox"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2
    assert "--results-jsonl" in refused.stderr and "Traceback" not in refused.stderr


def _result(output: Any) -> CallResult:
    return CallResult(step="s", index=None, status="succeeded", output=output)


def test_an_existing_results_file_becomes_owner_only_and_a_symlink_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text("old\n")
    path.chmod(0o644)
    with JsonLinesSink(path) as sink:
        sink(_result({"a": 1}))
    assert path.stat().st_mode & 0o777 == 0o600
    assert _lines(path) == [{"step": "s", "index": None, "status": "succeeded",
                             "duration_ms": 0.0, "output": {"a": 1}, "error": None}]
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        JsonLinesSink(link)
    assert target.read_text() == "keep\n"


def test_a_secret_that_json_escapes_is_masked_in_every_form(tmp_path: Path) -> None:
    secret = 'abc"def\\ghi\n'
    path = tmp_path / "r.jsonl"
    with JsonLinesSink(path, secrets=[secret]) as sink:
        sink(_result({"echo": secret, "nested": json.dumps({"again": secret})}))
    text = path.read_text()
    parsed = json.loads(text)
    assert secret not in json.dumps(parsed) and secret not in text
    assert secret not in parsed["output"]["echo"]
    assert secret not in parsed["output"]["nested"]
    assert secret not in json.loads(parsed["output"]["nested"]).get("again", "")


def test_a_run_refused_before_any_step_leaves_the_previous_results_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"previous": true}\n')
    refused = subprocess.run(
        [sys.executable, "-m", "connector_sdk.cli", "run", "examples/twitch-top-streams.yaml",
         "--results-jsonl", str(path)],  # no --sandbox: the authentication does not exist
        cwd=ROOT, env={**os.environ, "CONNECTOR_SDK_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0
    assert path.read_text() == '{"previous": true}\n'
