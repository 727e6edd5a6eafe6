"""``connector-sdk mcp serve --sandbox`` as a subprocess, driven by the mcp SDK's own client
over stdio: the tools listed, a GET tool, pages and cursors, errors as tool results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import require_mcp, result_json, run, stdio_client

require_mcp()

pytestmark = pytest.mark.timeout(120)

TWITCH = ("--sandbox", "--service", "twitch")


def test_tools_are_listed_with_names_schemas_and_annotations(tmp_path: Path) -> None:
    async def main() -> Any:
        async with stdio_client(tmp_path, *TWITCH) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in run(main())}
    assert {"twitch_get_users", "twitch_get_streams", "twitch_get_top_games",
            "twitch_search_channels", "twitch_get_videos"} <= set(tools)
    users = tools["twitch_get_users"]
    assert users.title == "Get users"
    assert users.annotations is not None
    assert users.annotations.read_only_hint is True
    assert users.annotations.open_world_hint is True
    assert users.annotations.destructive_hint is None
    assert set(users.input_schema["properties"]) == {"login", "id"}
    assert users.input_schema["anyOf"] == [{"required": ["login"]}, {"required": ["id"]}]
    assert users.output_schema is not None
    assert users.output_schema["properties"]["data"]["type"] == "array"
    assert "api.twitch.tv" in (users.description or "")
    assert "id.twitch.tv" in (users.description or "")
    streams = tools["twitch_get_streams"]
    assert "cursor" in streams.input_schema["properties"]
    assert "authentication" not in streams.input_schema["properties"]
    assert streams.output_schema is None  # the manifest declares no output for it


def test_a_get_tool_returns_the_apis_data(tmp_path: Path) -> None:
    async def main() -> Any:
        async with stdio_client(tmp_path, *TWITCH, "--operations", "twitch.get_users") as c:
            return await c.call_tool("twitch_get_users", {"login": ["twitchdev"]})

    result = run(main())
    assert result.is_error is False
    assert result.structured_content["data"][0]["login"] == "twitchdev"
    assert result_json(result) == result.structured_content


def test_a_listing_returns_one_page_and_a_cursor_to_the_next(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        async with stdio_client(tmp_path, *TWITCH, "--page-size", "3",
                                "--operations", "twitch.get_top_games") as client:
            first = await client.call_tool("twitch_get_top_games", {})
            cursor = first.structured_content["next_cursor"]
            second = await client.call_tool("twitch_get_top_games", {"cursor": cursor})
            again = await client.call_tool("twitch_get_top_games", {"cursor": cursor})
            return [first, second, again]

    first, second, again = run(main())
    assert not first.is_error and not second.is_error
    page1 = [game["id"] for game in first.structured_content["data"]]
    page2 = [game["id"] for game in second.structured_content["data"]]
    assert len(page1) == 3 and len(page2) == 3
    assert not set(page1) & set(page2)
    assert first.structured_content["next_cursor"] != second.structured_content["next_cursor"]
    assert again.structured_content == second.structured_content  # a cursor is replayable


def test_shopify_link_pages_with_one_of_two_authentications(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        async with stdio_client(tmp_path, "--sandbox", "--auth", "eu=shopify",
                                "--auth", "us=shopify", "--page-size", "2",
                                "--operations", "shopify.list_products") as client:
            tool = (await client.list_tools()).tools[0]
            missing = await client.call_tool("shopify_list_products", {})
            first = await client.call_tool("shopify_list_products", {"authentication": "eu"})
            cursor = first.structured_content["next_cursor"]
            other = await client.call_tool("shopify_list_products",
                                           {"authentication": "us", "cursor": cursor})
            second = await client.call_tool("shopify_list_products",
                                            {"authentication": "eu", "cursor": cursor})
            return [tool, missing, first, other, second]

    tool, missing, first, other, second = run(main())
    assert tool.input_schema["properties"]["authentication"]["enum"] == ["eu", "us"]
    assert "authentication" in tool.input_schema["required"]
    assert missing.is_error and "give 'authentication' as one of 'eu', 'us'" in (
        missing.content[0].text)
    ids1 = [p["id"] for p in first.structured_content["products"]]
    ids2 = [p["id"] for p in second.structured_content["products"]]
    assert len(ids1) == 2 and len(ids2) == 2 and not set(ids1) & set(ids2)
    # a cursor is bound to the authentication it was issued for
    assert other.is_error and "not issued by this server" in other.content[0].text


def test_invalid_input_and_forged_cursors_are_tool_errors_with_our_messages(
    tmp_path: Path,
) -> None:
    async def main() -> list[Any]:
        async with stdio_client(tmp_path, *TWITCH, "--operations", "twitch.get_users",
                                "--operations", "twitch.get_top_games") as client:
            return [
                await client.call_tool("twitch_get_users", {}),
                await client.call_tool("twitch_get_top_games", {"first": 0}),
                await client.call_tool("twitch_get_top_games", {"cursor": "forged.cursor"}),
            ]

    no_user, bad_size, forged = run(main())
    assert no_user.is_error and no_user.content[0].text.startswith("OperationError: ")
    assert "twitch.get_users" in no_user.content[0].text
    assert bad_size.is_error and "$.first" in bad_size.content[0].text
    assert forged.is_error and "call again without 'cursor'" in forged.content[0].text


def test_an_unknown_tool_is_a_protocol_error(tmp_path: Path) -> None:
    from mcp.shared.exceptions import MCPError

    async def main() -> MCPError | None:
        async with stdio_client(tmp_path, *TWITCH, "--operations", "twitch.get_users") as c:
            try:
                await c.call_tool("twitch_get_streams", {})
            except MCPError as exc:
                return exc
        return None

    error = run(main())
    assert error is not None and error.code == -32602
    assert "unknown tool 'twitch_get_streams'" in error.message


def test_legacy_handshake_clients_see_the_same_tools(tmp_path: Path) -> None:
    async def main() -> Any:
        async with stdio_client(tmp_path, *TWITCH, "--operations", "twitch.get_users",
                                mode="legacy") as client:
            tools = (await client.list_tools()).tools
            return tools, await client.call_tool("twitch_get_users", {"id": ["141981764"]})

    tools, result = run(main())
    assert [tool.name for tool in tools] == ["twitch_get_users"]
    assert result.structured_content["data"][0]["login"] == "twitchdev"
