"""Tool definitions derived from manifests: selection, names, schemas, annotations and
descriptions. Pure derivation: these run without the ``[mcp]`` extra."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import OperationError, Runtime, hookimpl
from connector_sdk._mcp.tools import derive_tools, tool_name

THINGS = """\
manifest_version: 1
service: {id: things, title: Things API, version: 1.0.0, description: Things.}
parameters:
  type: object
  required: [client_id, client_secret, region]
  properties:
    client_id: {type: string}
    client_secret: {type: string, secret: true}
    region: {type: string, pattern: '^[a-z]+$'}
auth:
  grant: client_credentials
  token_url: https://auth.things.example/token
  client_id: '{{ client_id }}'
  client_secret: '{{ client_secret }}'
  headers: {Authorization: 'Bearer {{ access_token }}'}
allowed_hosts: ['*.things.example']
base_url: https://{{ region }}.things.example/v1
operations:
  list_things:
    title: List things
    description: Things, a page at a time.
    input:
      type: object
      additionalProperties: false
      properties: {after: {type: string}, size: {type: integer}}
    output:
      type: object
      additionalProperties: false
      properties: {items: {type: array}}
    request:
      method: GET
      path: /things
      query: {after: '{{ after }}', size: '{{ size }}'}
    pagination: {style: cursor, items: items, cursor: next, cursor_param: after}
  delete_thing:
    title: Delete a thing
    description: Deletes one thing.
    input: {type: object, required: [id], properties: {id: {type: string}}}
    request: {method: DELETE, path: '/things/{{ id }}'}
  put_thing:
    title: Replace a thing
    description: Replaces one thing.
    input: {type: object, required: [id], properties: {id: {type: string}}}
    request: {method: PUT, path: '/things/{{ id }}'}
  create_thing:
    title: Create a thing
    description: Creates a thing.
    input: {type: object, properties: {name: {type: string}}}
    request: {method: POST, path: /things, body: {name: '{{ name }}'}}
  run_script:
    title: Run a script
    description: Anything a handler does.
    input: {type: object, properties: {script: {type: string}}}
    handler: run_script
  search:
    title: Search
    description: An operation with an input named cursor.
    input: {type: object, properties: {cursor: {type: string}}}
    request: {method: GET, path: /search, query: {c: '{{ cursor }}'}}
    pagination: {style: cursor, items: items, cursor: next, cursor_param: c}
"""


class ThingsPlugin:
    def __init__(self, text: str = THINGS) -> None:
        self.text = text

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        register(self.text)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime(environ={}, home=tmp_path, extra_plugins={"things": ThingsPlugin()}) as value:
        yield value


def things(runtime: Runtime, name: str = "eu", region: str = "eu", secret: str = "s3cret") -> Any:
    return runtime.authentication("things", {"client_id": "app", "client_secret": secret,
                                             "region": region}, name=name)


def by_name(tools: list[Any]) -> dict[str, Any]:
    return {tool.name: tool.definition for tool in tools}


def test_every_operation_of_a_named_service_becomes_a_tool_named_service_operation(
    runtime: Runtime,
) -> None:
    tools = by_name(derive_tools([things(runtime)], ["things.*thing*", "things.run_script"]))
    assert set(tools) == {"things_list_things", "things_delete_thing", "things_put_thing",
                          "things_create_thing", "things_run_script"}
    for name in tools:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name)


def test_long_names_are_cut_to_64_characters_with_a_stable_hash() -> None:
    name = tool_name("s" * 63, "o" * 64)
    assert len(name) == 64 and re.fullmatch(r"[A-Za-z0-9_-]{64}", name)
    assert name == tool_name("s" * 63, "o" * 64)
    assert name != tool_name("s" * 63, "o" * 63 + "p")
    assert tool_name("twitch", "get_users") == "twitch_get_users"


def test_annotations_follow_the_http_method(runtime: Runtime) -> None:
    tools = by_name(derive_tools([things(runtime)], ["things.[lcdpr]*"]))
    hints = {name: definition["annotations"] for name, definition in tools.items()}
    assert hints["things_list_things"] == {"title": "List things", "readOnlyHint": True,
                                           "openWorldHint": True}
    assert hints["things_delete_thing"] == {"title": "Delete a thing", "readOnlyHint": False,
                                            "destructiveHint": True, "idempotentHint": True,
                                            "openWorldHint": True}
    assert hints["things_put_thing"] == {"title": "Replace a thing", "readOnlyHint": False,
                                         "idempotentHint": True, "openWorldHint": True}
    # POST and Python handlers get no hint a client could read as "safe"
    assert hints["things_create_thing"] == {"title": "Create a thing", "readOnlyHint": False,
                                            "openWorldHint": True}
    assert hints["things_run_script"] == {"title": "Run a script", "openWorldHint": True}


def test_input_schema_is_the_operations_plus_cursor_when_paginated(runtime: Runtime) -> None:
    tools = by_name(derive_tools([things(runtime)], ["things.list_things", "things.put_thing"]))
    listing = tools["things_list_things"]["inputSchema"]
    assert listing["additionalProperties"] is False
    assert set(listing["properties"]) == {"after", "size", "cursor"}
    assert listing["properties"]["cursor"]["type"] == "string"
    assert tools["things_put_thing"]["inputSchema"] == {
        "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}


def test_output_schema_is_the_declared_one_and_a_listing_gains_next_cursor(
    runtime: Runtime,
) -> None:
    tools = by_name(derive_tools([things(runtime)], ["things.list_things", "things.put_thing"]))
    output = tools["things_list_things"]["outputSchema"]
    assert output["additionalProperties"] is False
    assert output["properties"]["items"] == {"type": "array"}
    assert output["properties"]["next_cursor"]["type"] == ["string", "null"]
    assert "outputSchema" not in tools["things_put_thing"]


def test_several_authentications_of_a_service_become_a_required_enum(runtime: Runtime) -> None:
    tools = by_name(derive_tools([things(runtime, "eu", "eu"), things(runtime, "us", "us")],
                                 ["things.delete_thing"]))
    schema = tools["things_delete_thing"]["inputSchema"]
    assert schema["properties"]["authentication"]["enum"] == ["eu", "us"]
    assert schema["required"] == ["id", "authentication"]
    description = tools["things_delete_thing"]["description"]
    assert "eu.things.example (authentication 'eu')" in description
    assert "us.things.example (authentication 'us')" in description


def test_the_description_names_the_hosts_and_never_a_secret(
    runtime: Runtime, canary: str
) -> None:
    tools = derive_tools([things(runtime, secret=canary)], ["things.*thing*"])
    definition = by_name(tools)["things_list_things"]
    assert "eu.things.example" in definition["description"]
    assert "token from auth.things.example" in definition["description"]
    assert "GET /things" in definition["description"]
    assert "next_cursor" in definition["description"]
    assert canary not in json.dumps([tool.definition for tool in tools])


def test_nothing_is_exposed_without_an_authentication() -> None:
    with pytest.raises(OperationError, match="nothing is exposed by default"):
        derive_tools([])


def test_a_glob_that_matches_nothing_is_refused_with_a_hint(runtime: Runtime) -> None:
    with pytest.raises(OperationError, match=r"did you mean 'things\.list_things'"):
        derive_tools([things(runtime)], ["things.list_thing"])


def test_a_glob_cannot_reach_a_service_that_was_not_named(runtime: Runtime) -> None:
    with pytest.raises(OperationError, match="matches no operation of the exposed services"):
        derive_tools([things(runtime)], ["things.list_things", "twitch.*"])


def test_an_authentication_given_twice_is_refused(runtime: Runtime) -> None:
    with pytest.raises(OperationError, match="given twice"):
        derive_tools([things(runtime), things(runtime)], ["things.put_thing"])


def test_an_input_named_like_the_cursor_argument_is_refused(runtime: Runtime) -> None:
    with pytest.raises(OperationError, match="input named 'cursor'"):
        derive_tools([things(runtime)], ["things.search"])


def test_two_operations_sharing_a_tool_name_are_refused(tmp_path: Path) -> None:
    left = THINGS.replace("id: things,", "id: a_b,").replace("  list_things:", "  c:")
    right = THINGS.replace("id: things,", "id: a,").replace("  list_things:", "  b_c:")
    plugins = {"left": ThingsPlugin(left), "right": ThingsPlugin(right)}
    with Runtime(environ={}, home=tmp_path, extra_plugins=plugins) as runtime:
        params = {"client_id": "app", "client_secret": "s", "region": "eu"}
        auths = [runtime.authentication("a_b", params), runtime.authentication("a", params)]
        with pytest.raises(OperationError, match="would both be the tool 'a_b_c'"):
            derive_tools(auths, ["a_b.c", "a.b_c"])
