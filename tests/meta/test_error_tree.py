"""The error tree: its drawing in ``connector_sdk._errors`` matches the classes, every class
is public, and misuses once reported under an unfitting class raise the one that fits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import connector_sdk
from connector_sdk import (
    AuthenticationConflict,
    ConnectorSDKError,
    Runtime,
    WorkflowError,
    _errors,
    load_workflow,
)

_ENTRY = re.compile(r"^(?P<indent>(?:│   |    )*)(?:├── |└── )(?P<name>\w+)")


def drawn_parents() -> dict[str, str]:
    """Each class of the docstring's tree with the class drawn above it."""
    lines = (_errors.__doc__ or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "ConnectorSDKError")
    margin = lines[start].index("ConnectorSDKError")
    stack = ["ConnectorSDKError"]
    parents: dict[str, str] = {}
    for line in lines[start + 1:]:
        match = _ENTRY.match(line[margin:])
        if match is None:
            continue
        depth = len(match["indent"]) // 4
        del stack[depth + 1:]
        parents[match["name"]] = stack[depth]
        stack.append(match["name"])
    return parents


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn = drawn_parents()
    actual = {name: getattr(_errors, name).__mro__[1].__name__
              for name in _errors.__all__ if name != "ConnectorSDKError"}
    assert drawn == actual


def test_every_error_is_public_and_a_connector_sdk_error() -> None:
    for name in _errors.__all__:
        assert name in connector_sdk.__all__, name
        assert issubclass(getattr(connector_sdk, name), ConnectorSDKError)


def test_a_lost_update_names_the_authentication(tmp_path: Path) -> None:
    with Runtime(environ={}, home=tmp_path) as runtime:
        store = runtime.store
        record = store.create("app", "twitch", {"client_id": "x" * 30})
        store.update("app", {"client_id": "y" * 30}, expected_version=record.version)
        with pytest.raises(AuthenticationConflict, match="'app'") as caught:
            store.update("app", {"client_id": "z" * 30}, expected_version=record.version)
    assert caught.value.name == "app"


def test_an_invalid_workflow_file_is_a_workflow_error_with_its_problems() -> None:
    text = b"workflow_version: 1\nsteps:\n  - {id: a, operation: nope.nothing, authentication: x}\n"
    with pytest.raises(WorkflowError) as caught:
        load_workflow(text, file="bad.yaml", services=Runtime(environ={}).services)
    assert not isinstance(caught.value, connector_sdk.ManifestError)
    assert [p.rule for p in caught.value.problems] == ["WORKFLOW-OPERATION-UNKNOWN"]
    assert "bad.yaml" in str(caught.value) and "WORKFLOW-OPERATION-UNKNOWN" in str(caught.value)
