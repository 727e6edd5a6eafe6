"""One total deadline per exchange: a server dripping a byte a second, in its headers or its
body, is cut off at ``HttpSettings.timeout`` for token, API and revocation calls alike.

Each byte arrives well inside httpx's per-read timeout, so only a deadline over the whole
exchange (connect, headers, body) can stop the call; the drip itself would last hours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from connector_sdk import APIError, TokenTransportError, call_operation_sync
from connector_sdk._auth.revocation import revoke

from .conftest import Routes, audit_auth, drip_body, drip_headers, elapsed, token_answer

DEADLINE = 1.5
#: Generous: the machine is shared; the drip would go on for hours.
MARGIN = 4.0

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["headers", "body"])
def drip(request: pytest.FixtureRequest) -> Callable[..., object]:
    return {"headers": drip_headers, "body": drip_body}[request.param]  # type: ignore[return-value]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_dripping_token_endpoint_is_cut_off_at_the_deadline(
        raw_server, audit_runtime, drip, mode, scenario, figure, request):
    scenario(f"H-drip-token-{drip.__name__}-{mode}")
    server = raw_server(lambda conn, req: None)
    server.behaviour = Routes(token=drip(server))
    runtime = audit_runtime(server.url, timeout=DEADLINE)
    auth = audit_auth(runtime)
    if mode == "sync":
        seconds, outcome = elapsed(lambda: runtime.get_token(auth))
    else:
        seconds, outcome = elapsed(lambda: asyncio.run(runtime.tokens.aget_token(auth)))
    assert isinstance(outcome, TokenTransportError), outcome
    assert f"did not answer within {DEADLINE:g} s" in str(outcome)
    assert seconds < DEADLINE + MARGIN, seconds
    figure(f"drip.token.{drip.__name__}.{mode}.seconds", round(seconds, 2))


def test_a_dripping_api_is_cut_off_at_the_deadline(raw_server, audit_runtime, drip, scenario,
                                                   figure):
    scenario(f"H-drip-api-{drip.__name__}")
    server = raw_server(lambda conn, req: None)
    server.behaviour = Routes(token=token_answer(), api=drip(server))
    runtime = audit_runtime(server.url, timeout=DEADLINE)
    auth = audit_auth(runtime)
    runtime.get_token(auth)  # the token arrives at once; the API's answer drips
    seconds, outcome = elapsed(
        lambda: call_operation_sync(runtime, "audit.get_thing", auth, {"id": "1"}))
    assert isinstance(outcome, APIError), outcome
    assert "did not answer in time" in str(outcome)
    assert seconds < DEADLINE + MARGIN, seconds
    figure(f"drip.api.{drip.__name__}.seconds", round(seconds, 2))


def test_a_dripping_revocation_endpoint_is_cut_off_at_the_deadline(
        raw_server, audit_runtime, drip, scenario, figure):
    scenario(f"H-drip-revoke-{drip.__name__}")
    server = raw_server(lambda conn, req: None)
    server.behaviour = Routes(token=token_answer(), revoke=drip(server))
    runtime = audit_runtime(server.url, timeout=DEADLINE)
    auth = audit_auth(runtime)
    runtime.get_token(auth)
    seconds, result = elapsed(lambda: revoke(auth, runtime.tokens, runtime.http))
    assert seconds < DEADLINE + MARGIN, seconds
    if drip is drip_headers:  # no status ever arrived
        assert not result.ok and "could not be reached (ReadTimeout)" in result.message
    else:  # a 200 arrived at once; its body is not needed
        assert result.revoked
    figure(f"drip.revoke.{drip.__name__}.seconds", round(seconds, 2))


def test_a_401_body_that_drips_is_cut_off_at_the_deadline(raw_server, audit_runtime, scenario):
    """The sync client's 401 body is read under the same deadline (after the refresh)."""
    scenario("H-drip-401-body")
    server = raw_server(lambda conn, req: None)
    server.behaviour = Routes(token=token_answer(), api=drip_body(server, status=401))
    runtime = audit_runtime(server.url, timeout=DEADLINE)
    auth = audit_auth(runtime)
    with runtime.client(auth) as client:
        seconds, outcome = elapsed(lambda: client.get("/things/1"))
    assert type(outcome).__name__ == "UnauthorizedError", outcome
    assert seconds < 3 * DEADLINE + MARGIN, seconds  # two 401s read, then the message
