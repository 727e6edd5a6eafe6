"""TokenManager against a loopback token server: caching, refresh, retries, cooldowns,
and that no secret or token ever reaches a message or a log line."""

from __future__ import annotations

import logging
import time
from email.utils import formatdate

import pytest

from connector_sdk._auth.cache import MemoryTokenCache
from connector_sdk._auth.token import RefreshPolicy
from connector_sdk._errors import (
    TokenEndpointError,
    TokenError,
    TokenResponseError,
    TokenTransportError,
)
from connector_sdk._http.retry import RetryPolicy
from connector_sdk._http.settings import HttpSettings
from connector_sdk._manifest.model import ParameterSpec

# -- caching and refresh --------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", ["3600", 3599.5, "3599.5", 1e9, None, "missing"])
def test_valid_lifetimes_give_one_request_for_a_hundred_calls(
    kit, server, make_manager, expires_in
):
    extra = {} if expires_in == "missing" else {"expires_in": expires_in}
    server.default("/token", kit.token_reply("tok", **extra))
    manager = make_manager()
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    tokens = {manager.get_token(auth).access_token.reveal() for _ in range(100)}
    assert tokens == {"tok"}
    assert server.count("/token") == 1
    assert manager.stats.requests == 1


@pytest.mark.parametrize("expires_in", [0, -5])
def test_zero_or_negative_lifetime_takes_the_default_and_never_storms(
    kit, server, make_manager, expires_in
):
    server.default("/token", kit.token_reply("tok", expires_in=expires_in))
    manager = make_manager()
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    assert manager.get_token(auth).lifetime == 3600
    for _ in range(100):
        manager.get_token(auth)
    assert server.count("/token") == 1


def test_token_is_refreshed_a_margin_before_expiry(kit, server, make_manager, clock):
    server.script("/token", kit.token_reply("one", expires_in=3600),
                  kit.token_reply("two", expires_in=3600))
    manager = make_manager(clock=clock)
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    assert manager.get_token(auth).access_token.reveal() == "one"
    clock.advance(3600 - 61)
    assert manager.get_token(auth).access_token.reveal() == "one"
    clock.advance(2)  # now inside the 60 s margin
    assert manager.get_token(auth).access_token.reveal() == "two"
    assert server.count("/token") == 2


def test_short_lifetime_uses_a_fraction_as_margin_not_a_refresh_loop(
    kit, server, make_manager, clock
):
    server.default("/token", kit.token_reply("tok", expires_in=30))
    manager = make_manager(clock=clock)
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    for _ in range(100):
        manager.get_token(auth)
    clock.advance(26.9)  # margin = min(60, 0.1 * 30) = 3 s
    manager.get_token(auth)
    assert server.count("/token") == 1
    clock.advance(0.2)
    manager.get_token(auth)
    assert server.count("/token") == 2


def test_refresh_policy_is_configurable(kit, server, make_manager, clock):
    server.default("/token", kit.token_reply("tok", expires_in=1000))
    manager = make_manager(clock=clock, refresh=RefreshPolicy(margin_seconds=10,
                                                              margin_fraction=0.5))
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    manager.get_token(auth)
    clock.advance(989)
    manager.get_token(auth)
    assert server.count("/token") == 1
    clock.advance(2)
    manager.get_token(auth)
    assert server.count("/token") == 2


def test_token_records_its_timing_and_hides_itself(kit, server, make_manager, clock, canary):
    server.default("/token", kit.token_reply(canary, expires_in=100, scope="a b"))
    manager = make_manager(clock=clock, wall_clock=lambda: 5000.0)
    token = manager.get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert token.expires_at == 5000.0 + 100
    assert token.lifetime == 100
    assert token.obtained_at == 5000.0
    assert token.scopes == ("a", "b")
    assert canary not in repr(token)
    assert canary not in str(token)


def test_different_parameter_values_get_different_tokens(kit, server, make_manager):
    tenant = ParameterSpec("tenant", secret=False, required=True, type="string")
    server.default("/one/token", kit.token_reply("token-one"))
    server.default("/two/token", kit.token_reply("token-two"))
    service = kit.service(token_path="/{{tenant}}/token", extra_parameters=(tenant,))
    manager = make_manager()
    one = kit.auth(service, client_id="a", client_secret="b", tenant="one")
    two = kit.auth(service, client_id="a", client_secret="b", tenant="two")
    assert manager.get_token(one).access_token.reveal() == "token-one"
    assert manager.get_token(two).access_token.reveal() == "token-two"
    assert manager.get_token(one).access_token.reveal() == "token-one"
    assert (server.count("/one/token"), server.count("/two/token")) == (1, 1)


def test_different_client_ids_do_not_share_a_token(kit, server, make_manager):
    server.default("/token", lambda seen: kit.token_reply(
        "for-" + seen.body.decode().split("&")[0].split("=")[1]))
    manager = make_manager()
    service = kit.service()
    a = manager.get_token(kit.auth(service, "x", client_id="id1", client_secret="s"))
    b = manager.get_token(kit.auth(service, "x", client_id="id2", client_secret="s"))
    assert (a.access_token.reveal(), b.access_token.reveal()) == ("for-id1", "for-id2")


def test_each_manager_has_its_own_cache(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    make_manager().get_token(auth)
    make_manager().get_token(auth)
    assert server.count("/token") == 2


def test_an_injected_cache_is_used(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    cache = MemoryTokenCache()
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    make_manager(cache=cache).get_token(auth)
    make_manager(cache=cache).get_token(auth)
    assert server.count("/token") == 1
    assert len(cache) == 1


def test_invalidate_drops_only_the_rejected_token(kit, server, make_manager):
    server.script("/token", kit.token_reply("one"), kit.token_reply("two"))
    manager = make_manager()
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    old = manager.get_token(auth)
    manager.invalidate(auth, old)
    new = manager.get_token(auth)
    manager.invalidate(auth, old)  # a late caller with the stale token changes nothing
    assert manager.get_token(auth) == new
    assert server.count("/token") == 2


# -- retries ------------------------------------------------------------------------------


def test_one_500_is_retried_inside_the_call(kit, server, make_manager):
    server.script("/token", kit.Reply(500, body="oops"))
    server.default("/token", kit.token_reply("tok"))
    manager = make_manager()
    started = time.monotonic()
    token = manager.get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert token.access_token.reveal() == "tok"
    assert server.count("/token") == 2
    assert time.monotonic() - started < 0.5


def test_503_with_retry_after_waits_that_long_then_succeeds(kit, server, make_manager):
    server.script("/token", kit.Reply(503, body="<html>busy</html>",
                                      headers={"Retry-After": "1", "Content-Type": "text/html"}))
    server.default("/token", kit.token_reply("tok"))
    started = time.monotonic()
    make_manager().get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed <= 1.5
    assert server.count("/token") == 2


def test_429_with_an_http_date_retry_after_is_honoured(kit, server, make_manager):
    now = 1_700_000_000.0
    server.script("/token", kit.Reply(429, json={"message": "slow down"},
                                      headers={"Retry-After": formatdate(now + 1, usegmt=True)}))
    server.default("/token", kit.token_reply("tok"))
    manager = make_manager(wall_clock=lambda: now + 0.7)  # date is 0.3 s ahead
    started = time.monotonic()
    manager.get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert 0.25 <= time.monotonic() - started <= 0.8
    assert server.count("/token") == 2


def test_retry_after_beyond_the_cap_fails_the_call_without_waiting(kit, server, make_manager):
    server.default("/token", kit.Reply(429, json={"message": "later"},
                                       headers={"Retry-After": "120"}))
    manager = make_manager(retry=RetryPolicy(retry_after_cap=2))
    started = time.monotonic()
    with pytest.raises(TokenEndpointError, match="asked to wait 120 s") as info:
        manager.get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert time.monotonic() - started < 0.5
    assert not info.value.permanent
    assert server.count("/token") == 1


def test_a_dropped_connection_is_retried(kit, server, make_manager):
    server.script("/token", kit.Reply(drop=True))
    server.default("/token", kit.token_reply("tok"))
    token = make_manager().get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert token.access_token.reveal() == "tok"
    assert server.count("/token") == 2


def test_a_hanging_endpoint_times_out_within_the_budget(kit, server, make_manager):
    server.default("/token", kit.Reply(delay=1.0, json={"access_token": "late"}))
    settings = HttpSettings(timeout=0.2, allow_loopback=True)
    manager = make_manager(settings=settings, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    started = time.monotonic()
    with pytest.raises(TokenTransportError, match=r"did not answer within 0\.2 s") as info:
        manager.get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert time.monotonic() - started < 0.2 * 2 + 0.5
    assert "after 2 attempts" in str(info.value)
    assert server.count("/token") == 2


def test_an_unreachable_endpoint_is_a_transport_error(kit, server, make_manager):
    service = kit.service()
    auth = kit.auth(service, client_id="a", client_secret="b")
    server.close()
    with pytest.raises(TokenTransportError, match="could not be reached"):
        make_manager().get_token(auth)


def test_persistent_5xx_is_bounded_then_fails_fast_then_probes_once(
    kit, server, make_manager, clock
):
    server.default("/token", kit.Reply(502, body="<title>Bad Gateway</title>",
                                       headers={"Content-Type": "text/html"}))
    manager = make_manager(clock=clock)
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    with pytest.raises(TokenEndpointError, match="HTTP 502 after 3 attempts"):
        manager.get_token(auth)
    assert server.count("/token") == 3
    for _ in range(50):  # inside the 5 s cooldown: no request at all
        with pytest.raises(TokenEndpointError, match="not retried"):
            manager.get_token(auth)
    assert server.count("/token") == 3
    assert manager.stats.fast_failures == 50
    clock.advance(5.1)
    with pytest.raises(TokenEndpointError):  # one probe, not a new burst of three
        manager.get_token(auth)
    assert server.count("/token") == 4
    server.default("/token", kit.token_reply("back"))
    clock.advance(5.1)
    assert manager.get_token(auth).access_token.reveal() == "back"
    assert server.count("/token") == 5


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_client"}),
        (400, {"error": "invalid_scope"}),
        (400, {"error": "unauthorized_client"}),
        (400, {"error": "invalid_grant"}),
        (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
        (400, {"status": 400, "message": "invalid client"}),
        (403, {"status": 403, "message": "invalid client secret"}),
        (404, {"message": "no such thing"}),
    ],
)
def test_client_errors_are_not_retried_and_are_negatively_cached(
    kit, server, make_manager, clock, status, body
):
    server.default("/token", kit.Reply(status, json=body))
    manager = make_manager(clock=clock)
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    with pytest.raises(TokenEndpointError) as info:
        manager.get_token(auth)
    assert info.value.permanent
    assert info.value.status == status
    for _ in range(199):
        with pytest.raises(TokenEndpointError):
            manager.get_token(auth)
    assert server.count("/token") == 1
    clock.advance(30.1)
    with pytest.raises(TokenEndpointError):
        manager.get_token(auth)
    assert server.count("/token") == 2


def test_negative_cache_cooldown_is_configurable(kit, server, make_manager, clock):
    server.default("/token", kit.Reply(400, json={"error": "invalid_client"}))
    manager = make_manager(clock=clock, retry=RetryPolicy(permanent_cooldown=2))
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    with pytest.raises(TokenEndpointError):
        manager.get_token(auth)
    clock.advance(2.1)
    with pytest.raises(TokenEndpointError):
        manager.get_token(auth)
    assert server.count("/token") == 2


@pytest.mark.parametrize(
    "reply",
    [
        {"body": b'{"access_token": "x", "tok'},
        {"body": b"<html>hello</html>", "headers": {"Content-Type": "text/html"}},
        {"json": {"error": "server_error"}},
        {"json": {"access_token": "", "token_type": "bearer"}},
    ],
)
def test_unusable_200_answers_are_typed_not_retried_and_not_cached(kit, server, make_manager,
                                                                   reply):
    server.script("/token", kit.Reply(200, **reply))
    server.default("/token", kit.token_reply("good"))
    manager = make_manager()
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    with pytest.raises(TokenResponseError):
        manager.get_token(auth)
    assert server.count("/token") == 1
    assert manager.get_token(auth).access_token.reveal() == "good"  # next call re-fetches
    assert server.count("/token") == 2


# -- secret hygiene -----------------------------------------------------------------------


def test_no_secret_or_token_in_errors_or_debug_logs(kit, server, make_manager, make_canary,
                                                    caplog):
    secret, token = make_canary("secret"), make_canary("token")
    caplog.set_level(logging.DEBUG, logger="connector_sdk")
    server.script(
        "/token",
        kit.Reply(500, body=f"upstream said client_secret={secret}"),
        kit.token_reply(token),
    )
    manager = make_manager()
    basic = kit.service(client_auth="client_secret_basic")
    auth = kit.auth(basic, client_id="id", client_secret=secret)
    assert manager.get_token(auth).access_token.reveal() == token
    server.default("/token", kit.Reply(401, json={"error": "invalid_client",
                                                  "error_description": f"bad {secret}"}))
    other = kit.auth(basic, "other", client_id="id", client_secret=secret)
    with pytest.raises(TokenError) as info:
        manager.get_token(other)
    text = str(info.value) + repr(info.value) + (info.value.provider_message or "")
    assert secret not in text
    assert token not in text
    assert "service 'demo', authentication 'other'" in text
    logs = caplog.text
    assert "token request service=demo authentication=main attempt=1/3" in logs
    assert "status=500" in logs
    assert "wait=" in logs
    assert secret not in logs and token not in logs
    assert "Basic " not in logs
