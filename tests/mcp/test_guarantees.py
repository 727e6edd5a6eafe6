"""The guarantees every path gives hold for tool calls too: secrets and tokens redacted from
results, rate limits waited out (then a tool error), over HTTP with the mcp SDK's client
against a server on a free loopback port whose runtime and emulator the test built."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import HttpSettings, RateLimitPolicy, Runtime
from connector_sdk._mcp.runner import ToolRunner
from connector_sdk._mcp.tools import derive_tools
from connector_sdk._secrets import MASK
from connector_sdk.sandbox import SandboxTransport
from connector_sdk.testing import FakeClock, Sleeps

from .conftest import http_client, http_thread, require_mcp, run

require_mcp()

from connector_twitch.emulator import TWITCH_CLIENT_ID, TwitchSandbox  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def runtime_for(tmp_path: Path) -> Iterator[Any]:
    runtimes: list[Runtime] = []

    def make(twitch: TwitchSandbox) -> Runtime:
        transport = SandboxTransport(twitch)
        runtime = Runtime(environ={}, home=tmp_path, http=HttpSettings(
            transport=transport, async_transport=transport))
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


def test_a_result_that_would_contain_the_secret_or_the_token_is_redacted(
    runtime_for: Any, canary: str
) -> None:
    twitch = TwitchSandbox(clients={TWITCH_CLIENT_ID: canary})
    users = [dict(user) for user in twitch.data.users]
    twitch.data = dataclasses.replace(twitch.data, users=users)
    users[0]["description"] = f"my client secret is {canary}, percent-encoded {canary}%21"
    runtime = runtime_for(twitch)
    auth = runtime.authentication(
        "twitch", {"client_id": TWITCH_CLIENT_ID, "client_secret": canary}, name="mine")
    runner = ToolRunner(runtime, derive_tools([auth], ["twitch.get_users"]))

    async def call(url: str) -> Any:
        async with http_client(url) as client:
            return await client.call_tool("twitch_get_users", {"login": ["twitchdev"]})

    with http_thread(runner) as url:
        first = run(call(url))
        token = runtime.tokens.peek(auth)
        assert token is not None
        value = token.access_token.reveal()
        users[0]["description"] = f"echoing your token: {value}"
        users[0]["access_token"] = "anything"
        second = run(call(url))
    for result in (first, second):
        assert not result.is_error
        text = result.content[0].text + json.dumps(result.structured_content)
        assert canary not in text and value not in text
    assert MASK in first.structured_content["data"][0]["description"]
    assert second.structured_content["data"][0]["description"] == f"echoing your token: {MASK}"
    assert second.structured_content["data"][0]["access_token"] == MASK


def test_a_429_is_waited_out_and_the_call_succeeds(runtime_for: Any) -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    twitch = TwitchSandbox(rate_limit=2, clock=clock)
    runtime = runtime_for(twitch)
    auth = runtime.authentication("twitch", twitch.parameters(), name="sbx")
    runner = ToolRunner(runtime, derive_tools([auth], ["twitch.get_top_games"]), page_size=1,
                        policy=RateLimitPolicy(sleep=sleeps, clock=clock))

    async def calls(url: str) -> list[Any]:
        async with http_client(url) as client:
            return [await client.call_tool("twitch_get_top_games", {}) for _ in range(4)]

    with http_thread(runner) as url:
        results = run(calls(url))
    assert all(not result.is_error for result in results), [r.content for r in results]
    assert all(len(result.structured_content["data"]) == 1 for result in results)
    assert sleeps.calls, "the emulator's 429 (or its empty bucket) was waited for"
    assert all(0 < seconds <= 60 for seconds in sleeps.calls)


def test_a_rate_limit_that_outlasts_the_policy_is_a_tool_error(runtime_for: Any) -> None:
    clock = FakeClock()
    twitch = TwitchSandbox(rate_limit=1, clock=clock)
    runtime = runtime_for(twitch)
    auth = runtime.authentication("twitch", twitch.parameters(), name="sbx")
    runner = ToolRunner(runtime, derive_tools([auth], ["twitch.get_top_games"]),
                        policy=RateLimitPolicy(max_waits=2, sleep=Sleeps(), clock=clock))

    async def calls(url: str) -> list[Any]:
        async with http_client(url) as client:
            return [await client.call_tool("twitch_get_top_games", {}) for _ in range(2)]

    with http_thread(runner) as url:
        first, second = run(calls(url))
    assert not first.is_error
    assert second.is_error
    assert second.content[0].text.startswith("RateLimitError: ")
    assert "still rate limited after 2 waits" in second.content[0].text


def test_an_authentication_whose_secret_cannot_be_read_is_a_tool_error(runtime_for: Any) -> None:
    # A stored secret sealed with another key reads as UnreadableSecret: the tool call fails
    # with the store's own message (how to fix the key), never as an exception out of call().
    import asyncio

    from connector_sdk import SecretKeyError
    from connector_sdk._secrets import UnreadableSecret

    runtime = runtime_for(TwitchSandbox())
    auth = runtime.authentication(
        "twitch", {"client_id": TWITCH_CLIENT_ID, "client_secret": "x" * 30}, name="mine")
    lost = SecretKeyError("the store's key cannot decrypt 'client_secret'; restore the key")
    unreadable = dataclasses.replace(auth, parameters={
        **auth.parameters, "client_secret": UnreadableSecret(lost)})
    tools = [dataclasses.replace(tool, authentications={"mine": unreadable})
             for tool in derive_tools([auth], ["twitch.get_users"])]
    runner = ToolRunner(runtime, tools)
    outcome = asyncio.run(runner.call(next(iter(runner.tools)), {"login": ["a"]}))
    assert outcome is not None and outcome.is_error
    assert "SecretKeyError" in outcome.text and "restore the key" in outcome.text
