"""The size limit counts decoded bytes: a 1 MB answer that expands to 1 GiB stops at the limit.

httpx decodes each network chunk whole (64 KiB of gzip zeros is 64 MiB), so a limit checked
after decoding is too late. The bounded reader decodes a step at a time; peak memory, traced
from before the call to its end, stays within a few MiB of the limit.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from connector_sdk import APIError, TokenResponseError, call_operation_sync

from .conftest import Routes, audit_auth, serve, token_answer

LIMIT = 8 * 1024 * 1024
#: What may be held beyond the limit: one decoding step, httpx's read buffers, bookkeeping.
SLACK = 4 * 1024 * 1024

pytestmark = pytest.mark.timeout(120)


def _peak(call: Callable[[], Any]) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        try:
            result = call()
        except Exception as exc:
            result = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def _bomb_reply(bombs: Callable[[str], bytes], coding: str, status: int = 200) -> Any:
    return serve(status, {"Content-Type": "application/json", "Content-Encoding": coding},
                 bombs(coding))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_an_api_answer_that_expands_to_a_gibibyte_stops_at_the_limit(
        raw_server, audit_runtime, bombs, coding, scenario, figure):
    scenario(f"H-bomb-api-{coding}")
    body = bombs(coding)
    server = raw_server(Routes(token=token_answer(), api=_bomb_reply(bombs, coding)))
    runtime = audit_runtime(server.url, timeout=30, max_response_bytes=LIMIT)
    auth = audit_auth(runtime)
    runtime.get_token(auth)
    peak, outcome = _peak(
        lambda: call_operation_sync(runtime, "audit.get_thing", auth, {"id": "1"}))
    assert isinstance(outcome, APIError), outcome
    assert f"larger than {LIMIT} bytes (decoded)" in str(outcome)
    assert "max_response_bytes" in str(outcome)
    assert peak < LIMIT + SLACK, f"peak {peak / 2**20:.1f} MiB for a {LIMIT / 2**20:.0f} MiB limit"
    figure(f"bomb.api.{coding}.compressed_kib", len(body) // 1024)
    figure(f"bomb.api.{coding}.peak_mib_over_limit", round((peak - LIMIT) / 2**20, 2))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_token_answer_that_expands_to_a_gibibyte_is_a_typed_error(
        raw_server, audit_runtime, bombs, mode, scenario, figure):
    scenario(f"H-bomb-token-{mode}")
    server = raw_server(Routes(token=_bomb_reply(bombs, "gzip")))
    runtime = audit_runtime(server.url, timeout=30)
    limit = runtime.http.max_token_response_bytes
    auth = audit_auth(runtime)
    if mode == "sync":
        peak, outcome = _peak(lambda: runtime.get_token(auth))
    else:
        peak, outcome = _peak(lambda: asyncio.run(runtime.tokens.aget_token(auth)))
    assert isinstance(outcome, TokenResponseError), outcome
    text = str(outcome)
    assert f"token endpoint http://127.0.0.1:{server.port}/token answered HTTP 200" in text
    assert f"larger than {limit} bytes (decoded)" in text
    assert "max_token_response_bytes" in text
    assert peak < limit + SLACK, f"peak {peak / 2**20:.1f} MiB"
    figure(f"bomb.token.{mode}.peak_mib", round(peak / 2**20, 2))


def test_a_401_answer_that_expands_to_a_gibibyte_costs_no_memory(
        raw_server, audit_runtime, bombs, scenario):
    scenario("H-bomb-401")
    server = raw_server(Routes(token=token_answer(), api=_bomb_reply(bombs, "gzip", 401)))
    runtime = audit_runtime(server.url, timeout=30)
    auth = audit_auth(runtime)
    runtime.get_token(auth)  # building the token client is not what is measured
    with runtime.client(auth) as client:
        peak, outcome = _peak(lambda: client.get("/things/1"))
    assert type(outcome).__name__ == "UnauthorizedError", outcome
    assert peak < SLACK, f"peak {peak / 2**20:.1f} MiB"


def test_a_damaged_gzip_body_is_an_api_error_naming_the_coding(raw_server, audit_runtime):
    broken = serve(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                   b"\x1f\x8b\x08\x00not gzip at all")
    server = raw_server(Routes(token=token_answer(), api=broken))
    runtime = audit_runtime(server.url)
    auth = audit_auth(runtime)
    with pytest.raises(APIError, match="damaged gzip coding"):
        call_operation_sync(runtime, "audit.get_thing", auth, {"id": "1"})


def test_an_ordinary_gzip_answer_is_decoded(raw_server, audit_runtime):
    import gzip

    answer = serve(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                   gzip.compress(b'{"id": "1", "name": "thing"}'))
    server = raw_server(Routes(token=token_answer(), api=answer))
    runtime = audit_runtime(server.url)
    output = call_operation_sync(runtime, "audit.get_thing", audit_auth(runtime), {"id": "1"})
    assert output == {"id": "1", "name": "thing"}
