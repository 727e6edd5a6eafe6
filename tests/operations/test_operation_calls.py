"""Input validation before any request, request building (path encoding, repeated query
parameters, typed JSON body), Link checks, provider messages, handlers, and no secret in
any error."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk import (
    APIError,
    AuthenticationMismatch,
    EventLoopError,
    NetworkPolicyError,
    OperationError,
)
from connector_sdk._operations.calls import (
    OperationContext,
    call_operation,
    call_operation_sync,
    stream_items,
)
from connector_sdk._operations.requests import render_body
from connector_sdk._operations.responses import api_message
from connector_sdk._runtime.runtime import Runtime

from .conftest import LoopEnv, SandboxEnv, sandbox_env

pytestmark = pytest.mark.timeout(30)


def run(loop: LoopEnv, name: str, input: Any, **kwargs: Any) -> Any:
    return asyncio.run(call_operation(loop.runtime, name, loop.auth, input, **kwargs))


def api_requests(httpserver: Any) -> list[Any]:
    return [request for request, _ in httpserver.log if request.path.startswith("/api/")]


# -- validation before any request --------------------------------------------------------------


@pytest.fixture
def flag_env(tmp_path: Path) -> Any:
    with sandbox_env("sandbox-flag", tmp_path) as env:
        yield env


def total_requests(env: SandboxEnv) -> int:
    return sum(env.twitch.requests_by_path.values()) + sum(env.shopify.requests_by_path.values())


def test_unknown_operation_suggests_the_closest(flag_env: SandboxEnv) -> None:
    with pytest.raises(OperationError, match=r"did you mean 'twitch\.get_users'\?"):
        call_operation_sync(flag_env.runtime, "twitch.get_user", "sbx", {})
    with pytest.raises(OperationError, match=r"SERVICE\.OPERATION"):
        call_operation_sync(flag_env.runtime, "get_users", "sbx", {})
    assert total_requests(flag_env) == 0


@pytest.mark.parametrize(("name", "input", "expected"), [
    ("twitch.search_channels", {}, [("$.query", "is required")]),
    ("twitch.get_users", {}, [("$", "needs at least one of: login, id")]),
    ("twitch.get_streams", {"first": "ten"}, [("$.first", "expected integer, got string")]),
    ("twitch.get_streams", {"first": 101, "type": "dead"},
     [("$.first", "must be at most 100"), ("$.type", "must be one of")]),
    ("twitch.get_users", {"login": "twitchdev"}, [("$.login", "expected array, got string")]),
    ("twitch.get_streams", {"frist": 5}, [("$", "unknown input 'frist' (did you mean 'first'?)")]),
    ("twitch.get_videos", {"id": ["1"], "user_id": "2"},
     [("$", "needs exactly one of: id, user_id, game_id")]),
    ("shopify.list_products", {"limit": 0}, [("$.limit", "must be at least 1")]),
])
def test_invalid_input_lists_every_field_before_any_request(
    flag_env: SandboxEnv, name: str, input: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(OperationError) as caught:
        call_operation_sync(flag_env.runtime, name, "sbx", input)
    details = caught.value.details
    assert len(details) == len(expected)
    for detail, (path, text) in zip(details, expected, strict=True):
        assert detail["path"] == path and text in detail["message"]
    assert total_requests(flag_env) == 0
    assert flag_env.twitch.token_requests == flag_env.shopify.token_requests == 0


def test_invalid_input_messages_never_quote_values(flag_env: SandboxEnv, canary: str) -> None:
    with pytest.raises(OperationError) as caught:
        call_operation_sync(flag_env.runtime, "twitch.get_streams", "sbx",
                            {"first": canary, "type": canary, "language": canary})
    assert canary not in str(caught.value) and canary not in json.dumps(caught.value.details)


def test_input_must_be_an_object(flag_env: SandboxEnv) -> None:
    with pytest.raises(OperationError, match="must be an object"):
        call_operation_sync(flag_env.runtime, "twitch.get_users", "sbx", ["twitchdev"])  # type: ignore[arg-type]


def test_stream_items_checks_the_input_when_called(flag_env: SandboxEnv) -> None:
    with pytest.raises(OperationError):
        stream_items(flag_env.runtime, "twitch.get_streams", "sbx", {"first": 0})


def test_an_authentication_of_another_service_is_refused(flag_env: SandboxEnv) -> None:
    with pytest.raises(AuthenticationMismatch, match="is for service 'shopify'") as caught:
        call_operation_sync(flag_env.runtime, "twitch.get_users", flag_env.auth("shopify"),
                            {"login": ["x"]})
    assert (caught.value.service, caught.value.expected) == ("shopify", "twitch")


def test_sync_call_inside_an_event_loop_says_to_await(flag_env: SandboxEnv) -> None:
    async def inside() -> None:
        call_operation_sync(flag_env.runtime, "twitch.get_users", "sbx", {"login": ["x"]})

    with pytest.raises(EventLoopError, match="await call_operation") as caught:
        asyncio.run(inside())
    assert (caught.value.entry_point, caught.value.use) == ("call_operation_sync",
                                                            "call_operation")


# -- request building ---------------------------------------------------------------------------


def test_request_is_built_from_the_templates(loop: LoopEnv, httpserver: Any) -> None:
    httpserver.expect_request(re.compile(r"^/api/things/.+/labels$"), method="POST") \
        .respond_with_json({"ok": True})
    out = run(loop, "loop.get_thing", {"id": "a/b?c#d", "labels": ["x y", "z&w"],
                                      "note": "hi", "count": 3})
    assert out == {"ok": True}
    [request] = api_requests(httpserver)
    assert request.environ["RAW_URI"].startswith("/api/things/a%2Fb%3Fc%23d/labels?")
    assert request.args.getlist("label") == ["x y", "z&w"]
    assert request.args.get("fixed") == "true"
    assert request.headers["X-Note"] == "hi"
    assert request.get_json() == {"count": 3, "note": "note: hi", "keep": [1, ["x y", "z&w"]]}


def test_absent_inputs_drop_parameters_headers_and_body_keys(
    loop: LoopEnv, httpserver: Any
) -> None:
    httpserver.expect_request("/api/things/7/labels", method="POST").respond_with_json({})
    run(loop, "loop.get_thing", {"id": "7"})
    [request] = api_requests(httpserver)
    assert list(request.args.items(multi=True)) == [("fixed", "true")]
    assert "X-Note" not in request.headers
    assert request.get_json() == {"keep": [1]}


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_path_values_that_would_change_the_path_are_refused(
    loop: LoopEnv, httpserver: Any, value: str
) -> None:
    with pytest.raises(OperationError, match="input 'id' goes in the URL path"):
        run(loop, "loop.get_thing", {"id": value})
    assert api_requests(httpserver) == []


def test_header_values_with_line_breaks_are_refused(loop: LoopEnv, httpserver: Any) -> None:
    with pytest.raises(OperationError, match="note goes in the 'X-Note' header and contains a"
                       " line break") as caught:
        run(loop, "loop.get_thing", {"id": "1", "note": "a\r\nX-Evil: 1"})
    assert "X-Evil" not in str(caught.value)
    assert api_requests(httpserver) == []


def test_body_template_keeps_json_types() -> None:
    body = {"n": "{{ n }}", "flag": "{{ flag }}", "obj": "{{ obj }}", "text": "n={{ n }}",
            "gone": "{{ missing }}", "list": ["{{ missing }}", "{{ n }}"]}
    values = {"n": 5, "flag": False, "obj": {"a": [1]}}
    assert render_body(body, values) == {"n": 5, "flag": False, "obj": {"a": [1]},
                                         "text": "n=5", "list": [5]}


# -- pagination links -----------------------------------------------------------------------------


def test_link_next_to_another_host_is_refused(loop: LoopEnv, httpserver: Any) -> None:
    httpserver.expect_request("/api/things").respond_with_json(
        {"things": [1]},
        headers={"Link": '<https://evil.example/api/things?page_info=x>; rel="next"'})
    with pytest.raises(NetworkPolicyError, match="pagination link"):
        run(loop, "loop.list_things", {})
    assert len(api_requests(httpserver)) == 1


def test_link_next_outside_the_base_path_is_refused(loop: LoopEnv, httpserver: Any) -> None:
    httpserver.expect_request("/api/things").respond_with_json(
        {"things": [1]},
        headers={"Link": f'<http://127.0.0.1:{httpserver.port}/token?x=1>; rel="next"'})
    with pytest.raises(NetworkPolicyError, match="outside"):
        run(loop, "loop.list_things", {})


def test_link_pages_are_followed_verbatim(loop: LoopEnv, httpserver: Any) -> None:
    page2 = f"http://127.0.0.1:{httpserver.port}/api/things?page_info=abc%3D%3D&limit=1"
    httpserver.expect_request("/api/things", query_string="tag=t").respond_with_json(
        {"things": [1]}, headers={"Link": f'<{page2}>; rel="next", <x>; rel="previous"'})
    httpserver.expect_request("/api/things", query_string="page_info=abc%3D%3D&limit=1") \
        .respond_with_json({"things": [2]})
    assert run(loop, "loop.list_things", {"tag": "t"}) == {"things": [1, 2]}


def test_a_page_without_a_list_is_an_api_error(loop: LoopEnv, httpserver: Any) -> None:
    httpserver.expect_request("/api/things").respond_with_json({"things": {"a": 1}})
    with pytest.raises(APIError, match="unexpected page"):
        run(loop, "loop.list_things", {})


# -- errors and secrets -----------------------------------------------------------------------


def test_api_error_scrubs_echoed_secrets(loop: LoopEnv, httpserver: Any) -> None:
    httpserver.expect_request("/api/things").respond_with_json(
        {"errors": [{"message": f"token {loop.token} and secret {loop.secret} rejected"}]},
        status=403)
    with pytest.raises(APIError) as caught:
        run(loop, "loop.list_things", {})
    error = caught.value
    assert error.status == 403 and error.service == "loop"
    assert error.operation == "loop.list_things" and error.authentication == "loop-auth"
    for text in (str(error), error.provider_message or ""):
        assert loop.token not in text and loop.secret not in text
    assert "rejected" in (error.provider_message or "")


def test_non_json_success_body_is_an_api_error(loop: LoopEnv, httpserver: Any) -> None:
    httpserver.expect_request("/api/things").respond_with_data("<html>", status=200)
    with pytest.raises(APIError, match="not JSON"):
        run(loop, "loop.list_things", {})


def response(status: int, body: Any, content_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": content_type})


@pytest.mark.parametrize(("body", "expected"), [
    ({"error": "Bad Request", "status": 400, "message": "Invalid cursor."}, "Invalid cursor."),
    ({"error": "Internal Server Error", "status": 500, "message": ""}, "Internal Server Error"),
    ({"errors": "[API] Invalid API key"}, "[API] Invalid API key"),
    ({"errors": [{"message": "a"}, {"message": "b"}]}, "a; b"),
    ({"errors": {"limit": ["must be at least 1"], "title": "blank"}},
     "limit: must be at least 1; title: blank"),
    ({"error": "invalid_request", "error_description": "no"}, "invalid_request: no"),
    ({"fault": {"detail": "db down"}}, "{\"fault\": {\"detail\": \"db down\"}}"),
    ([], None),
    (b"Oauth error shop_not_permitted: no\nmore", "Oauth error shop_not_permitted: no"),
])
def test_provider_message_shapes(body: Any, expected: str | None) -> None:
    kind = "text/plain" if isinstance(body, bytes) else "application/json"
    assert api_message(response(400, body, kind)) == expected


def test_provider_message_is_truncated_and_scrubbed() -> None:
    text = api_message(response(400, {"errors": "s3cret " + "x" * 1000}), ("s3cret",))
    assert text is not None and len(text) == 300 and text.endswith("...")
    assert "s3cret" not in text


# -- handlers ---------------------------------------------------------------------------------


def test_missing_handler_names_the_plugin_to_install(tmp_path: Path) -> None:
    runtime = Runtime(environ={}, home=tmp_path, sandbox=True)
    runtime.services.handlers.pop("shopify.graphql")
    with runtime, pytest.raises(OperationError, match="connector-sdk-shopify"):
        call_operation_sync(runtime, "shopify.graphql", "sbx", {"query": "{ shop { name } }"})
    assert sum(s.api_requests for s in runtime.sandboxes) == 0


def test_sync_and_async_handlers_get_context_and_validated_input(tmp_path: Path) -> None:
    seen: list[Any] = []

    def sync_handler(context: OperationContext, input: dict[str, Any]) -> Any:
        seen.append((context.service.id, context.operation.id, context.authentication.name,
                     isinstance(context.client, httpx.AsyncClient), input))
        return {"sync": True}

    async def async_handler(context: OperationContext, input: dict[str, Any]) -> Any:
        shop = await context.request("GET", "shop.json")
        return {"name": shop.json()["shop"]["name"]}

    runtime = Runtime(environ={}, home=tmp_path, sandbox=True)
    with runtime:
        runtime.services.handlers["shopify.graphql"] = sync_handler
        assert call_operation_sync(runtime, "shopify.graphql", "sbx", {"query": "q"}) \
            == {"sync": True}
        assert seen == [("shopify", "graphql", "sbx", True, {"query": "q"})]
        runtime.services.handlers["shopify.graphql"] = async_handler
        assert call_operation_sync(runtime, "shopify.graphql", "sbx", {"query": "q"}) \
            == {"name": "My Store"}


def test_a_crashing_handler_is_reported_as_a_plugin_bug(tmp_path: Path) -> None:
    def broken(context: OperationContext, input: dict[str, Any]) -> Any:
        raise KeyError("boom")

    runtime = Runtime(environ={}, home=tmp_path, sandbox=True)
    with runtime:
        runtime.services.handlers["shopify.graphql"] = broken
        with pytest.raises(OperationError, match=r"raised KeyError: 'boom'.*error in the plugin"):
            call_operation_sync(runtime, "shopify.graphql", "sbx", {"query": "q"})


def test_an_answer_over_the_size_limit_fails_the_operation(
    loop: LoopEnv, httpserver: Any
) -> None:
    from dataclasses import replace

    httpserver.expect_request("/api/things").respond_with_data(
        b'{"things": [' + b'"x",' * 500_000 + b'"x"]}', content_type="application/json")
    loop.runtime.http = replace(loop.runtime.http, max_response_bytes=100_000)
    with pytest.raises(APIError, match="larger than 100000 bytes"):
        run(loop, "loop.list_things", {})
