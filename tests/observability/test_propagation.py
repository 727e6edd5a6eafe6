"""traceparent on outgoing requests: only where the manifest allows it, never to the token
endpoint; asserted on what a real loopback server received."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from connector_sdk import _telemetry, load_manifest
from connector_sdk.testing import (
    APIServer,
    LoopbackServer,
    TokenServer,
    authentication,
    loopback_service,
)

from .conftest import Telemetry

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
TWITCH = Path(__file__).parents[2] / "connectors" / "twitch" / "connector_twitch" / "twitch.yaml"


def _call_twice(runtime: Any, auth: Any, tokens: TokenServer, *, use_async: bool) -> None:
    """Two calls; the token is revoked in between, so the second is a 401 and a refresh."""
    if use_async:
        async def run() -> None:
            async with runtime.async_client(auth) as client:
                assert (await client.get("/things")).status_code == 200
                tokens.revoke()
                assert (await client.get("/things")).status_code == 200
        asyncio.run(run())
        return
    with runtime.client(auth) as client:
        assert client.get("/things").status_code == 200
        tokens.revoke()
        assert client.get("/things").status_code == 200


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("allowed", [True, False], ids=["allowed", "default"])
def test_traceparent_goes_to_api_requests_only_when_the_manifest_allows_it(
    telemetry: Telemetry, make_sdk_runtime: Callable[..., Any], local_server: LoopbackServer,
    token_server: TokenServer, api_server: APIServer, allowed: bool, use_async: bool,
) -> None:
    api_server.route("GET", "/api/things", json={"ok": True})
    service = dataclasses.replace(loopback_service(local_server, api_path="/api"),
                                  propagate_trace_context=allowed)
    runtime = make_sdk_runtime()
    auth = authentication(service, client_id="app", client_secret="app-secret-value")
    _call_twice(runtime, auth, token_server, use_async=use_async)

    api = api_server.requests("/api/things")
    assert len(api) == 3  # the first call, the 401, its resend with the new token
    token_requests = token_server.requests
    assert len(token_requests) == 2
    assert all("traceparent" not in seen.headers for seen in token_requests)
    assert all("tracestate" not in seen.headers for seen in token_requests)
    if not allowed:
        assert all("traceparent" not in seen.headers for seen in api)
        return
    gets = sorted(telemetry.named("GET"), key=lambda s: s.start_time or 0)
    assert len(gets) == 3
    for seen, span in zip(api, gets, strict=True):
        match = TRACEPARENT.fullmatch(seen.headers["traceparent"])
        assert match is not None, seen.headers["traceparent"]
        # the header names the attempt's own span: the provider's spans join this trace
        assert match.group(1) == f"{span.context.trace_id:032x}"
        assert match.group(2) == f"{span.context.span_id:016x}"
    assert gets[2].attributes["connector_sdk.attempt"] == 2


def test_without_a_recording_tracer_no_traceparent_is_invented(
    make_sdk_runtime: Callable[..., Any], local_server: LoopbackServer,
    token_server: TokenServer, api_server: APIServer,
) -> None:
    """With the API but no SDK (the no-op tracer) and no incoming trace, nothing is sent."""
    _telemetry.use_providers()
    api_server.route("GET", "/api/things", json={"ok": True})
    service = dataclasses.replace(loopback_service(local_server, api_path="/api"),
                                  propagate_trace_context=True)
    auth = authentication(service, client_id="app", client_secret="app-secret-value")
    with make_sdk_runtime().client(auth) as client:
        assert client.get("/things").status_code == 200
    assert all("traceparent" not in seen.headers for seen in api_server.requests())


def test_an_incoming_trace_propagates_through_the_no_op_tracer(
    make_sdk_runtime: Callable[..., Any], local_server: LoopbackServer,
    token_server: TokenServer, api_server: APIServer,
) -> None:
    """A trace the operator's code started (with a tracer the SDK's instrumentation does not
    use: here the SDK's spans are no-ops) continues through the SDK's calls unchanged."""
    provider = TracerProvider()
    _telemetry.use_providers()  # the global providers: none configured, so no-op spans
    api_server.route("GET", "/api/things", json={"ok": True})
    service = dataclasses.replace(loopback_service(local_server, api_path="/api"),
                                  propagate_trace_context=True)
    auth = authentication(service, client_id="app", client_secret="app-secret-value")
    try:
        with provider.get_tracer("operator").start_as_current_span("job") as job, \
                make_sdk_runtime().client(auth) as client:
            assert client.get("/things").status_code == 200
    finally:
        _telemetry.use_providers()
        provider.shutdown()
    (seen,) = api_server.requests("/api/things")
    match = TRACEPARENT.fullmatch(seen.headers["traceparent"])
    assert match is not None
    assert match.group(1) == f"{job.get_span_context().trace_id:032x}"
    assert match.group(2) == f"{job.get_span_context().span_id:016x}"


def test_the_manifest_field_defaults_off_and_is_checked_by_the_schema() -> None:
    text = TWITCH.read_text()
    service, problems = load_manifest(text)
    assert problems == [] and service is not None
    assert service.propagate_trace_context is False
    service, problems = load_manifest(text + "\ntelemetry:\n  propagate_trace_context: true\n")
    assert problems == [] and service is not None and service.propagate_trace_context
    service, problems = load_manifest(text + "\ntelemetry:\n  propagate_trace_context: 'true'\n")
    assert service is None and problems
    service, problems = load_manifest(text + "\ntelemetry:\n  baggage: true\n")
    assert service is None and any("baggage" in p.message for p in problems)
