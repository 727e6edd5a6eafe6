"""Token endpoint faults on a real loopback server, through ``Runtime.get_token``.

Each test is one scenario with a measurable outcome: the call succeeds after N token
requests, or fails with the documented ``TokenError`` subclass within a time bound; it never
hangs, and the client secret and the issued tokens (canaries) appear nowhere but in the
token request's body and the API's token header. Scenario ids (T-...) are listed with their
pass criteria in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from email.utils import formatdate
from typing import Any

import pytest

from connector_sdk._errors import (
    TokenEndpointError,
    TokenError,
    TokenResponseError,
    TokenTransportError,
)
from connector_sdk._http.retry import RetryPolicy

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(30)]

HTML_502 = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad"
            " Gateway</h1></center><hr><center>nginx</center></body></html>")


def error_text(exc: BaseException) -> str:
    """Everything an exception can show: message, repr, args, traceback with chained causes."""
    return "\n".join([str(exc), repr(exc), repr(exc.args),
                      "".join(traceback.format_exception(exc))])


def assert_secret_only_where_it_belongs(server: Any, secret: str, tokens: list[str]) -> None:
    """The secret goes only in token request bodies; tokens only in API/revoke requests;
    neither ever in a URL."""
    for seen in server.requests():
        assert secret not in seen.path
        assert all(t not in seen.path for t in tokens)
        if seen.path != "/token":
            assert secret.encode() not in seen.body
            assert all(secret not in v for v in seen.headers.values())


@pytest.fixture
def setup(fault_server, make_runtime, make_canary, rk):  # type: ignore[no-untyped-def]
    """(server, runtime, authentication, secret, token value) for one scenario."""
    def make(*, style: str = "twitch", timeout: float = 2.0,
             retry: RetryPolicy = rk.FAST_RETRY, **auth: Any) -> tuple[Any, ...]:
        secret = make_canary("secret")
        tok = make_canary("token")
        runtime = make_runtime(timeout=timeout, retry=retry)
        service = rk.service(fault_server, style=style, **auth)
        return fault_server, runtime, rk.authentication(service, secret), secret, tok
    return make


# -- transient answers: retried inside the call ----------------------------------------------


@pytest.mark.parametrize(("status", "kind"), [
    (500, "json"), (502, "json"), (503, "json"), (500, "html"), (502, "html"), (503, "html"),
])
def test_one_5xx_is_retried_and_the_call_succeeds(setup, rk, figures, status, kind):
    figures.scenario(f"T-{status}-{kind}-once")
    server, runtime, auth, secret, tok = setup()
    body = ({"json_body": {"error": "server_error", "error_description": "try later"}}
            if kind == "json" else {"body": HTML_502, "content_type": "text/html"})
    server.script("/token", rk.reply(status, **body), rk.token(tok))
    started = time.monotonic()
    token = runtime.get_token(auth)
    assert token.access_token.reveal() == tok
    assert server.count("/token") == 2
    assert time.monotonic() - started < 1.5
    assert_secret_only_where_it_belongs(server, secret, [tok])


@pytest.mark.parametrize("status", [500, 502, 503])
def test_persistent_5xx_fails_within_the_budget_then_fails_fast(setup, rk, figures, status):
    figures.scenario(f"T-{status}-persistent")
    server, runtime, auth, secret, tok = setup()
    server.default("/token", rk.reply(status, body=HTML_502, content_type="text/html"))
    started = time.monotonic()
    with pytest.raises(TokenEndpointError) as caught:
        runtime.get_token(auth)
    assert time.monotonic() - started < 2.0
    assert caught.value.status == status
    assert not caught.value.permanent
    assert "502 Bad Gateway" in str(caught.value)
    assert server.count("/token") == 3  # max_attempts, per burst
    with pytest.raises(TokenEndpointError):
        runtime.get_token(auth)  # within the cooldown: no request
    assert server.count("/token") == 3
    assert secret not in error_text(caught.value)


def test_200_concurrent_callers_on_a_failing_endpoint_cause_one_burst(setup, rk, figures):
    figures.scenario("T-503-persistent-200-threads")
    server, runtime, auth, secret, tok = setup()
    server.default("/token", rk.reply(503, body="busy"))
    barrier = threading.Barrier(200)
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            runtime.get_token(auth)
        except TokenError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(200)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - started < 5.0
    assert len(errors) == 200
    assert server.count("/token") == 3


# -- the connection breaks ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["drop", "reset", "reset_mid_body", "drop_mid_body"])
def test_a_broken_connection_is_retried_and_the_call_succeeds(setup, rk, figures, fault):
    figures.scenario(f"T-{fault.replace('_', '-')}-once")
    server, runtime, auth, secret, tok = setup()
    server.script("/token", getattr(rk, fault)(), rk.token(tok))
    started = time.monotonic()
    assert runtime.get_token(auth).access_token.reveal() == tok
    assert server.count("/token") == 2
    assert time.monotonic() - started < 1.5


def test_a_connection_broken_every_time_is_a_transport_error_within_bounds(setup, rk, figures):
    figures.scenario("T-reset-persistent")
    server, runtime, auth, secret, tok = setup()
    server.default("/token", rk.reset())
    started = time.monotonic()
    with pytest.raises(TokenTransportError) as caught:
        runtime.get_token(auth)
    assert time.monotonic() - started < 2.0
    assert server.count("/token") == 3
    assert secret not in error_text(caught.value)


def test_a_refused_connection_is_a_transport_error_within_bounds(make_runtime, rk, figures,
                                                                 make_canary):
    figures.scenario("T-connection-refused")
    gone = rk.FaultServer()
    service = rk.service(gone)
    gone.close()
    secret = make_canary("secret")
    runtime = make_runtime()
    started = time.monotonic()
    with pytest.raises(TokenTransportError) as caught:
        runtime.get_token(rk.authentication(service, secret))
    assert time.monotonic() - started < 2.0
    assert secret not in error_text(caught.value)


# -- slow endpoints ----------------------------------------------------------------------------


def test_an_endpoint_slower_than_the_timeout_times_out_within_the_budget(setup, rk, figures):
    figures.scenario("T-slow-beyond-timeout")
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
    server, runtime, auth, secret, tok = setup(timeout=0.4, retry=retry)
    server.default("/token", rk.hang(3.0))
    started = time.monotonic()
    with pytest.raises(TokenTransportError) as caught:
        runtime.get_token(auth)
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 0.4 * 2 + 0.6
    assert "did not answer within" in str(caught.value)
    assert server.count("/token") == 2


def test_a_slow_first_answer_is_retried_and_the_call_succeeds(setup, rk, figures):
    figures.scenario("T-slow-once")
    server, runtime, auth, secret, tok = setup(timeout=0.4)
    server.script("/token", rk.hang(2.0), rk.token(tok))
    started = time.monotonic()
    assert runtime.get_token(auth).access_token.reveal() == tok
    assert time.monotonic() - started < 0.4 + 0.6
    assert server.count("/token") == 2


def test_a_body_that_trickles_forever_is_cut_off_within_a_bound(setup, rk, figures):
    # Each byte arrives well within the read timeout, so only a deadline for the whole
    # answer stops this; without one the call lasts as long as the server likes.
    figures.scenario("T-trickling-body")
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
    server, runtime, auth, secret, tok = setup(timeout=0.5, retry=retry)
    server.default("/token", rk.trickle(0.05, 20.0))
    started = time.monotonic()
    with pytest.raises(TokenTransportError):
        runtime.get_token(auth)
    assert time.monotonic() - started < 2 * (0.5 * 4) + 1.0


def test_async_callers_share_one_retry_after_a_timeout(setup, rk, figures):
    figures.scenario("T-slow-once-200-tasks")
    server, runtime, auth, secret, tok = setup(timeout=0.4)
    server.script("/token", rk.hang(2.0), rk.token(tok))

    async def main() -> set[str]:
        tokens = await asyncio.gather(*(runtime.aget_token(auth) for _ in range(200)))
        return {t.access_token.reveal() for t in tokens}

    started = time.monotonic()
    assert asyncio.run(main()) == {tok}
    assert time.monotonic() - started < 1.5
    assert server.count("/token") == 2


# -- unusable 200 answers ----------------------------------------------------------------------

UNUSABLE = {
    "malformed-json": {"body": b'{"access_token": "abc", "expires_in": 36', "content_type":
                       "application/json"},
    "html-200": {"body": "<html><title>Login</title></html>", "content_type": "text/html"},
    "error-member": {"json_body": {"error": "temporarily_unavailable",
                                   "error_description": "come back later"}},
    "empty-access-token": {"json_body": {"access_token": "", "token_type": "bearer"}},
    "null-access-token": {"json_body": {"access_token": None, "token_type": "bearer"}},
    "array-body": {"json_body": [{"access_token": "x"}]},
    "empty-body": {"body": b"", "content_type": "application/json"},
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_an_unusable_200_is_a_response_error_not_retried_and_not_cached(
    setup, rk, figures, case
):
    figures.scenario(f"T-{case}")
    server, runtime, auth, secret, tok = setup()
    server.script("/token", rk.reply(200, **UNUSABLE[case]), rk.token(tok))
    started = time.monotonic()
    with pytest.raises(TokenResponseError) as caught:
        runtime.get_token(auth)
    assert time.monotonic() - started < 1.0
    assert server.count("/token") == 1
    assert secret not in error_text(caught.value)
    # the cache was not poisoned: the next call asks again and gets the token
    assert runtime.get_token(auth).access_token.reveal() == tok
    assert server.count("/token") == 2


def test_a_200_echoing_the_secret_in_an_error_does_not_show_it(setup, rk, figures):
    figures.scenario("T-error-member-echoing-secret")
    server, runtime, auth, secret, tok = setup()
    server.default("/token", lambda ex: ex.reply(200, json_body={
        "error": "invalid_client", "error_description": f"bad secret {secret}",
        "access_token": tok}))
    with pytest.raises(TokenResponseError) as caught:
        runtime.get_token(auth)
    assert caught.value.permanent
    text = error_text(caught.value)
    assert secret not in text
    assert tok not in text


@pytest.mark.parametrize("token_type", ["mac", "N_A", "basic", "Bearer2"])
def test_an_unknown_token_type_is_refused_once_for_many_callers(setup, rk, figures,
                                                                token_type):
    figures.scenario(f"T-token-type-{token_type}")
    server, runtime, auth, secret, tok = setup()
    server.default("/token", rk.token(tok, token_type=token_type))
    with pytest.raises(TokenResponseError) as caught:
        runtime.get_token(auth)
    assert caught.value.permanent
    assert "token type" in str(caught.value)
    for _ in range(20):
        with pytest.raises(TokenResponseError):
            runtime.get_token(auth)
    assert server.count("/token") == 1  # negative cache: no storm
    assert tok not in error_text(caught.value)


# -- expires_in in every shape -----------------------------------------------------------------

LIFETIMES: dict[str, tuple[Any, float]] = {
    # label: (expires_in sent, lifetime expected)
    "string": ("3600", 3600.0),
    "fraction": (3599.5, 3599.5),
    "string-fraction": ("3599.5", 3599.5),
    "huge": (10**12, 30 * 24 * 3600.0),
    "huge-float": (1e300, 30 * 24 * 3600.0),
    "missing": ("<missing>", 3600.0),
    "null": (None, 3600.0),
    "garbage-string": ("soon", 3600.0),
    "boolean": (True, 3600.0),
    "zero": (0, 3600.0),
    "negative": (-5, 3600.0),
    "negative-string": ("-5", 3600.0),
}


@pytest.mark.parametrize("label", sorted(LIFETIMES))
def test_expires_in_in_any_shape_never_fails_and_never_storms(setup, rk, figures, label):
    figures.scenario(f"T-expires-in-{label}")
    sent, expected = LIFETIMES[label]
    server, runtime, auth, secret, tok = setup()
    extra = {} if sent == "<missing>" else {"expires_in": sent}
    body = {"access_token": tok, "token_type": "bearer", **extra}
    server.default("/token", rk.reply(200, json_body=body))
    first = runtime.get_token(auth)
    assert first.lifetime == pytest.approx(expected)
    for _ in range(100):
        runtime.get_token(auth)
    assert server.count("/token") == 1


def test_shopify_answer_without_token_type_or_expiry_is_used(setup, rk, figures):
    figures.scenario("T-shopify-shape")
    server, runtime, auth, secret, tok = setup(style="shopify")
    server.default("/token", rk.reply(200, json_body={"access_token": tok,
                                                      "scope": "read_products"}))
    token = runtime.get_token(auth)
    assert token.token_type == "Bearer"
    assert token.scopes == ("read_products",)
    assert server.count("/token") == 1


# -- Retry-After ------------------------------------------------------------------------------


def _http_date_in(seconds: float) -> str:
    return formatdate(time.time() + seconds, usegmt=True)


@pytest.mark.parametrize(("status", "label", "value", "low", "high"), [
    (503, "seconds", "1", 1.0, 1.6),
    (429, "fraction", "0.4", 0.4, 1.0),
    (503, "fraction", "0.25", 0.25, 0.9),
    (429, "http-date", "date+2", 1.0, 2.7),
])
def test_retry_after_is_waited_for_then_the_call_succeeds(setup, rk, figures, status, label,
                                                          value, low, high):
    figures.scenario(f"T-{status}-retry-after-{label}")
    server, runtime, auth, secret, tok = setup()

    def busy(ex: Any) -> None:
        header = _http_date_in(2) if value == "date+2" else value
        ex.reply(status, json_body={"message": "slow down"}, headers={"Retry-After": header})

    server.script("/token", busy, rk.token(tok))
    started = time.monotonic()
    assert runtime.get_token(auth).access_token.reveal() == tok
    elapsed = time.monotonic() - started
    assert low <= elapsed < high
    assert server.count("/token") == 2


def test_retry_after_beyond_the_cap_fails_at_once(setup, rk, figures):
    figures.scenario("T-retry-after-beyond-cap")
    server, runtime, auth, secret, tok = setup()
    server.default("/token", rk.reply(429, body="later", headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(TokenEndpointError) as caught:
        runtime.get_token(auth)
    assert time.monotonic() - started < 0.5
    assert "3600 s" in str(caught.value)
    assert server.count("/token") == 1


# -- oversized answers -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 500])
def test_a_huge_token_answer_is_read_only_up_to_the_limit(setup, rk, figures, status):
    figures.scenario(f"T-huge-body-{status}")
    retry = RetryPolicy(max_attempts=1)
    server, runtime, auth, secret, tok = setup(retry=retry)
    server.default("/token", rk.huge(status, 200 * 1024 * 1024))
    started = time.monotonic()
    with pytest.raises(TokenError) as caught:
        runtime.get_token(auth)
    assert time.monotonic() - started < 2.0
    assert len(str(caught.value)) < 1000


# -- the endpoint is down for a while: recovery without a storm -------------------------------


def test_callers_recover_after_an_outage_without_a_storm_of_token_requests(setup, rk,
                                                                          figures):
    figures.scenario("T-down-for-k-seconds")
    outage = 1.5
    retry = RetryPolicy(base_delay=0.01, max_delay=0.05, transient_cooldown=0.5)
    server, runtime, auth, secret, tok = setup(retry=retry)
    down_until = time.monotonic() + outage

    def endpoint(ex: Any) -> None:
        if time.monotonic() < down_until:
            ex.reply(503, body="<html><title>503</title></html>", content_type="text/html")
        else:
            ex.reply(200, json_body={"access_token": tok, "token_type": "bearer",
                                     "expires_in": 3600})

    server.default("/token", endpoint)
    done: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def worker() -> None:
        deadline = time.monotonic() + outage + 3.0
        while time.monotonic() < deadline:
            try:
                runtime.get_token(auth)
            except TokenError:
                with lock:
                    failures[0] += 1
                time.sleep(0.02)
                continue
            with lock:
                done.append(time.monotonic())
            return

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(done) == 20, "every caller got a token after the outage"
    assert max(done) - down_until < 0.5 + 0.5  # one cooldown (+ slack) after recovery
    # a burst of 3 attempts, then one probe per 0.5 s cooldown: ~3 + 1.5/0.5 + 1
    assert server.count("/token") <= 10, server.count("/token")
    assert failures[0] > 20  # callers did fail fast meanwhile, without requests


# -- the revocation endpoint -----------------------------------------------------------------


@pytest.mark.parametrize("fault", ["huge-body", "trickling-body", "reset", "hang"])
def test_a_misbehaving_revocation_endpoint_costs_bounded_time_and_memory(
    fault_server, make_runtime, make_canary, rk, figures, fault
):
    import tracemalloc

    from connector_sdk._auth.revocation import revoke

    figures.scenario(f"T-revoke-{fault}")
    secret, tok = make_canary("secret"), make_canary("token")
    runtime = make_runtime(timeout=0.5)
    auth = rk.authentication(rk.service(fault_server, revocation=True), secret)
    fault_server.default("/token", rk.token(tok))
    behaviours = {"huge-body": rk.huge(400, 100 * 1024 * 1024),
                  "trickling-body": rk.trickle(0.05, 20.0),
                  "reset": rk.reset(), "hang": rk.hang(5.0)}
    fault_server.default("/revoke", behaviours[fault])
    runtime.get_token(auth)
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = revoke(auth, runtime.tokens, runtime.http)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.revoked == (fault == "trickling-body")  # that one answered 200 at once
    assert elapsed < 0.5 * 4 + 0.5
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert secret not in result.message and tok not in result.message


def test_async_a_body_that_trickles_forever_is_cut_off_within_a_bound(setup, rk, figures):
    figures.scenario("T-trickling-body-async")
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
    server, runtime, auth, secret, tok = setup(timeout=0.5, retry=retry)
    server.default("/token", rk.trickle(0.05, 20.0))
    started = time.monotonic()
    with pytest.raises(TokenTransportError):
        asyncio.run(runtime.aget_token(auth))
    assert time.monotonic() - started < 2 * (0.5 * 4) + 1.0


def test_async_a_huge_token_answer_is_read_only_up_to_the_limit(setup, rk, figures):
    figures.scenario("T-huge-body-async")
    server, runtime, auth, secret, tok = setup(retry=RetryPolicy(max_attempts=1))
    server.default("/token", rk.huge(200, 200 * 1024 * 1024))
    started = time.monotonic()
    with pytest.raises(TokenError):
        asyncio.run(runtime.aget_token(auth))
    assert time.monotonic() - started < 2.0
