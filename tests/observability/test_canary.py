"""No secret, token or input value in any span attribute, event, link, status description,
metric attribute or SDK log field of a workflow run with failures and retries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import HttpSettings, Runtime, _telemetry, load_workflow, run_workflow_sync
from connector_sdk.sandbox import SandboxTransport
from connector_sdk.testing import FAST_RETRY, assert_no_canary, new_canary

from .conftest import Flaky, Telemetry, once

WORKFLOW = """\
workflow_version: 1
name: canary-run
inputs:
  who:
    type: string
steps:
  - id: games
    operation: twitch.get_top_games
    authentication: twitch
    inputs:
      first: 3
    limits:
      max_pages: 1
  - id: users
    operation: twitch.get_users
    authentication: twitch
    foreach: "{{ steps.games.data }}"
    concurrency: 1
    continue_on_error: true
    inputs:
      id: ["{{ item.id }}"]
  - id: named
    operation: twitch.get_users
    authentication: twitch
    continue_on_error: true
    inputs:
      login: ["{{ inputs.who }}"]
"""


def _telemetry_text(telemetry: Telemetry) -> str:
    """Every string the exporter and reader hold that the SDK chose."""
    parts: list[str] = []

    def add(attributes: Any) -> None:
        for key, value in (attributes or {}).items():
            parts.append(f"{key}={value!r}")

    for span in telemetry.spans():
        parts.append(span.name)
        add(span.attributes)
        parts.append(span.status.description or "")
        for event in span.events:
            parts.append(event.name)
            add(event.attributes)
        for link in span.links:
            add(link.attributes)
    data = telemetry.reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                parts.append(metric.name)
                for point in metric.data.data_points:
                    add(point.attributes)
    return "\n".join(parts)


class _Fields(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.fields: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("connector_sdk"):
            self.fields.append({k: getattr(record, k, None) for k in _telemetry.LOG_FIELDS})


@pytest.fixture
def sdk_records() -> Iterator[_Fields]:
    handler = _Fields()
    logger = logging.getLogger("connector_sdk")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_no_value_reaches_telemetry_in_a_run_with_failures_and_retries(
    telemetry: Telemetry, canary: str, emulator: Callable[..., Any], tmp_path: Path,
    sdk_records: _Fields,
) -> None:
    twitch = emulator("twitch", clients={"canaryclientid0000000000000000": canary})
    inner = SandboxTransport(twitch)
    flaky = Flaky(inner, rules=[
        once("/oauth2/token", 503), once("/helix/games/top", 429, {"Retry-After": "0"}),
        once("/helix/users", 401), once("/helix/users", 500)])
    who = new_canary("w")[:25]  # an input value (a login: at most 25 characters)
    path = tmp_path / "flow.yaml"
    path.write_text(WORKFLOW)
    with Runtime(home=tmp_path / "home",
                 http=HttpSettings(transport=inner, async_transport=flaky),
                 token_manager_options={"retry": FAST_RETRY}) as runtime:
        runtime.create_authentication("twitch", "twitch", {
            "client_id": "canaryclientid0000000000000000", "client_secret": canary})
        flow = load_workflow(path, services=runtime.services)
        result = run_workflow_sync(runtime, flow, {"who": who})
        token = runtime.tokens.peek(runtime.get_authentication("twitch"))
    assert result.status == "partial"
    assert flaky.rules == []  # every fault was served
    assert token is not None

    text = _telemetry_text(telemetry)
    assert "connector_sdk.attempt=2" in text and "error.type='500'" in text  # it is all there
    assert_no_canary(text, canary, who, token.access_token.reveal())
    assert sdk_records.fields
    assert_no_canary(repr(sdk_records.fields), canary, who, token.access_token.reveal())
