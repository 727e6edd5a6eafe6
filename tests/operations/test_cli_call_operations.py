"""``connector-sdk call`` and ``connector-sdk operations``, in-process through ``cli.main``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from connector_twitch.emulator import LIVE_STREAMS

from connector_sdk._runtime.runtime import Runtime
from connector_sdk.cli import call as call_command
from connector_sdk.cli import main

from .conftest import LoopEnv, LoopPlugin

pytestmark = pytest.mark.timeout(60)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path / "home"))


# -- operations ---------------------------------------------------------------------------------


def test_operations_lists_every_operation_with_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "operations")
    assert code == 0
    for name in ("twitch.get_users", "twitch.get_streams", "twitch.get_top_games",
                 "twitch.get_games", "twitch.search_channels", "twitch.search_categories",
                 "twitch.get_channel_information", "twitch.get_videos", "shopify.get_shop",
                 "shopify.list_products", "shopify.get_product", "shopify.count_products",
                 "shopify.graphql"):
        assert f"{name}  " in out
    assert "[GET /streams, paginated (cursor)]" in out
    assert "[handler shopify.graphql]" in out
    assert "first                integer, optional, >= 1, <= 100" in out


def test_operations_json_for_one_service(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "operations", "shopify", "--format", "json")
    assert code == 0
    operations = {op["name"]: op for op in json.loads(out)["operations"]}
    assert set(operations) == {"shopify.get_shop", "shopify.list_products",
                               "shopify.get_product", "shopify.count_products",
                               "shopify.graphql"}
    products = operations["shopify.list_products"]
    assert products["pagination"] == "link" and products["method"] == "GET"
    limit = next(i for i in products["inputs"] if i["name"] == "limit")
    assert limit == {"name": "limit", "type": "integer", "required": False,
                     "description": "Page size (default 50).", "minimum": 1, "maximum": 250}
    product_id = operations["shopify.get_product"]["inputs"][0]
    assert product_id["required"] is True and product_id["type"] == "integer|string"


def test_operations_of_an_unknown_service_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "operations", "twich")
    assert code == 1 and "no service 'twich'" in err


# -- call -------------------------------------------------------------------------------------


def test_call_in_the_sandbox_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "call", "twitch.get_users", "--sandbox",
                         "--input", "login=twitchdev", "--input", "login=nobody_here")
    assert code == 0, err
    assert [u["login"] for u in json.loads(out)["data"]] == ["twitchdev"]


def test_call_jsonl_streams_one_item_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "call", "twitch.get_streams", "--sandbox", "--format", "jsonl",
                       "--max-items", "7")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 7
    assert all(json.loads(line)["type"] == "live" for line in lines)


def test_call_with_page_limit_and_input_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "call", "twitch.get_streams", "--sandbox", "--max-pages", "2",
                       "--input-json", '{"first": 30}')
    assert code == 0 and len(json.loads(out)["data"]) == 60
    code, out, _ = cli(capsys, "call", "twitch.get_streams", "--sandbox")
    assert len(json.loads(out)["data"]) == LIVE_STREAMS


def test_call_graphql_handler_in_the_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "call", "shopify.graphql", "--sandbox", "--input-json",
                       '{"query": "query($n: Int!) { products(first: $n) { nodes { id } } }",'
                       ' "variables": {"n": 2}}')
    assert code == 0 and len(json.loads(out)["products"]["nodes"]) == 2


def test_call_typed_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "call", "shopify.get_product", "--sandbox",
                       "--input", "product_id=8000004568289", "--input", "fields=id")
    assert code == 0 and json.loads(out) == {"product": {"id": 8000004568289}}
    code, out, _ = cli(capsys, "call", "twitch.search_channels", "--sandbox",
                       "--input", "query=a", "--input", "live_only=true", "--max-items", "1")
    assert code == 0 and json.loads(out)["data"][0]["is_live"] is True


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["call", "twitch.get_users"], 2, "give --auth NAME"),
    (["call", "twitch.get_users", "--sandbox", "--input", "login"], 2, "write KEY=VALUE"),
    (["call", "twitch.get_users", "--sandbox", "--input-json", "{"], 2, "not valid JSON"),
    (["call", "twitch.get_users", "--sandbox", "--input-json", "[]"], 2, "JSON object"),
    (["call", "twitch.get_streams", "--sandbox", "--max-items", "0"], 2, "at least 1"),
    (["call", "twitch.get_streams", "--sandbox", "--input", "first=many"], 1,
     "$.first expected integer, got string"),
    (["call", "twitch.get_stream", "--sandbox"], 1, "did you mean 'twitch.get_streams'?"),
    (["call", "twitch.get_users", "--auth", "nobody", "--input", "id=1"], 1, "'nobody'"),
    (["call", "twitch.get_users", "--sandbox"], 1, "$ needs at least one of: login, id"),
])
def test_call_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    got, out, err = cli(capsys, *argv)
    assert got == code and out == ""
    assert message in err and "Traceback" not in err


def test_parse_inputs_follows_the_schema(tmp_path: Path) -> None:
    runtime = Runtime(environ={}, home=tmp_path, sandbox=True)
    _, operation = runtime.services.operation("twitch.search_channels")
    values = call_command.parse_inputs(operation, "twitch.search_channels",
                                       ["query=a=b", "live_only=no", "first=5"], None)
    assert values == {"query": "a=b", "live_only": False, "first": 5}
    _, videos = runtime.services.operation("twitch.get_videos")
    assert call_command.parse_inputs(videos, "twitch.get_videos", ["id=1", "id=2"],
                                     '{"id": ["0"], "sort": "views"}') \
        == {"id": ["1", "2"], "sort": "views"}


# -- secrets never in the output ----------------------------------------------------------------


@pytest.fixture
def loop_cli(loop: LoopEnv, httpserver: Any, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> LoopEnv:
    home = tmp_path / "cli-home"
    with Runtime(environ={}, home=home, extra_plugins={"loop": LoopPlugin(httpserver.port)}) \
            as runtime:
        runtime.create_authentication("loop", "mine", {"client_id": "app",
                                                        "client_secret": loop.secret})

    def make_runtime(args: Any, **kwargs: Any) -> Runtime:
        return Runtime(environ={}, home=home, allow_loopback=args.allow_loopback,
                       extra_plugins={"loop": LoopPlugin(httpserver.port)}, **kwargs)

    monkeypatch.setattr(call_command, "make_runtime", make_runtime)
    return loop


def test_call_output_and_errors_hold_no_secret(
    loop_cli: LoopEnv, httpserver: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_oneshot_request("/api/things").respond_with_json({"things": [{"a": 1}]})
    code, out, err = cli(capsys, "call", "loop.list_things", "--auth", "mine",
                         "--allow-loopback")
    assert code == 0 and json.loads(out) == {"things": [{"a": 1}]}
    httpserver.expect_request("/api/things").respond_with_json(
        {"errors": f"bad token {loop_cli.token} for secret {loop_cli.secret}"}, status=401)
    code, out2, err2 = cli(capsys, "call", "loop.list_things", "--auth", "mine",
                           "--allow-loopback")
    assert code == 1 and "401" in err2
    for text in (out, err, out2, err2):
        assert loop_cli.token not in text and loop_cli.secret not in text
