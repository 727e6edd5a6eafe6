"""The SDK's log records carry stable fields and the ids of the span they were logged in."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connector_sdk import Runtime, _telemetry, load_workflow, run_workflow_sync

from .conftest import Telemetry

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_token_records_name_their_unit_and_join_its_span(
    telemetry: Telemetry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connector_sdk.tokens")
    with Runtime(sandbox=True, home=tmp_path) as runtime:
        flow = load_workflow(EXAMPLES / "twitch-top-streams.yaml", services=runtime.services)
        assert run_workflow_sync(runtime, flow, {"streams": 1}).status == "succeeded"
    records = [r for r in caplog.records if r.name == "connector_sdk.tokens"]
    assert records
    for record in records:
        assert all(hasattr(record, name) for name in _telemetry.LOG_FIELDS)
    asked = next(r for r in records if r.getMessage().startswith("token request "))
    assert (asked.service, asked.authentication, asked.operation, asked.workflow, asked.step,
            asked.attempt) == ("twitch", "twitch", "twitch.get_top_games",
                               "twitch-top-streams", "top_games", 1)
    (lookup,) = list(telemetry.named("token twitch"))
    assert asked.trace_id == f"{lookup.context.trace_id:032x}"
    assert asked.span_id == f"{lookup.context.span_id:016x}"
    revoked = next(r for r in records if r.getMessage().startswith("revocation "))
    assert (revoked.service, revoked.authentication, revoked.step) == ("twitch", "twitch", None)


def test_a_field_the_call_site_passes_wins_over_the_unit(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    logger = _telemetry.get_logger("connector_sdk.tokens")
    caplog.set_level(logging.DEBUG, logger="connector_sdk.tokens")
    with _telemetry.unit("token", "token demo", service="demo", authentication="main"):
        logger.debug("inside", extra={"attempt": 3})
    logger.debug("outside")
    inside, outside = caplog.records[-2:]
    assert (inside.service, inside.authentication, inside.attempt) == ("demo", "main", 3)
    assert (outside.service, outside.attempt, outside.trace_id) == (None, None, None)
