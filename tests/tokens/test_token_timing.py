"""Token lifetimes: the floor for tiny ones, overflowing ones, and wall-clock expiry that
survives a trip through another process's cache while each manager keeps to its own
monotonic clock."""

from __future__ import annotations

import json

import pytest

from connector_sdk import Token
from connector_sdk._auth.cache import MemoryTokenCache
from connector_sdk._auth.response import ResponseContext, parse_token_response
from connector_sdk._auth.token import MIN_LIFETIME, RefreshPolicy
from connector_sdk._secrets import Secret
from connector_sdk.testing import FakeClock

CTX = ResponseContext(service="demo", authentication="main", default_expires_in=3600)


def parse_raw(raw: bytes):
    return parse_token_response(200, "application/json", raw, CTX)


@pytest.mark.parametrize("value", ["0.0001", "1e-300", "5e-324", "0.5", "0.999", '"0.0001"'])
def test_a_tiny_positive_expires_in_gets_the_floor(value):
    grant = parse_raw(b'{"access_token":"t","token_type":"bearer","expires_in":%s}'
                      % value.encode())
    assert grant.expires_in == MIN_LIFETIME == 1.0


@pytest.mark.parametrize("value", ["1e400", "-1e400", '"1e400"', '"inf"', '"nan"', "1" + "0" * 400,
                                   '"' + "9" * 400 + '"'])
def test_an_expires_in_past_a_float_takes_the_default(value):
    grant = parse_raw(b'{"access_token":"t","token_type":"bearer","expires_in":%s}'
                      % value.encode())
    assert grant.expires_in == 3600.0


def test_an_expires_in_at_the_floor_or_above_is_believed():
    assert parse_raw(b'{"access_token":"t","token_type":"bearer","expires_in":1}'
                     ).expires_in == 1.0
    assert parse_raw(b'{"access_token":"t","token_type":"bearer","expires_in":30}'
                     ).expires_in == 30.0


def test_a_tiny_lifetime_does_not_cost_a_token_request_per_call(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok", expires_in=0.0001))
    manager = make_manager()
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    for _ in range(200):
        manager.get_token(auth)
    assert server.count("/token") == 1


def test_a_huge_int_expires_in_from_the_endpoint_is_not_an_internal_error(
    kit, server, make_manager
):
    server.default("/token", kit.Reply(200, body=b'{"access_token":"tok","token_type":"bearer",'
                                                 b'"expires_in":1' + b"0" * 400 + b"}",
                                      headers={"Content-Type": "application/json"}))
    manager = make_manager()
    token = manager.get_token(kit.auth(kit.service(), client_id="a", client_secret="b"))
    assert token.lifetime == 3600.0


# -- wall-clock expiry ------------------------------------------------------------------------


def roundtrip(token: Token) -> Token:
    """What another process reads back: the JSON form (a real cache encrypts it)."""
    return Token.from_dict(json.loads(json.dumps(token.to_dict())))


def test_a_token_restored_in_another_manager_is_fresh_then_stale_by_wall_clock(
    kit, server, make_manager, clock
):
    server.script("/token", kit.token_reply("first", expires_in=100))
    server.default("/token", kit.token_reply("second", expires_in=100))
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    wall = FakeClock(5000.0)
    writer = make_manager(clock=clock, wall_clock=wall)
    written = writer.get_token(auth)
    assert (written.obtained_at, written.expires_at) == (5000.0, 5100.0)
    restored = roundtrip(written)
    assert restored.access_token == written.access_token
    assert restored.expires_at == written.expires_at and restored.lifetime == 100.0

    # another process, 50 s later by the wall clock; its monotonic clock is unrelated
    shared = MemoryTokenCache()
    shared.set(writer.key_of(auth), restored)
    wall.now = 5050.0
    reader = make_manager(cache=shared, clock=type(clock)(start=77.0), wall_clock=wall)
    assert reader.get_token(auth).access_token.reveal() == "first"
    assert server.count("/token") == 1

    # one more, 95 s after: inside the 10 s refresh margin, so it fetches, though the
    # token has not expired yet
    wall.now = 5095.0
    late_cache = MemoryTokenCache()
    late_cache.set(writer.key_of(auth), restored)
    late = make_manager(cache=late_cache, clock=type(clock)(start=9.0), wall_clock=wall)
    assert late.peek(auth) is not None  # not expired
    assert late.get_token(auth).access_token.reveal() == "second"
    assert server.count("/token") == 2

    # and past expiry it is not even peeked at
    wall.now = 5200.0
    gone_cache = MemoryTokenCache()
    gone_cache.set(writer.key_of(auth), restored)
    gone = make_manager(cache=gone_cache, clock=type(clock)(start=1.0), wall_clock=wall)
    assert gone.peek(auth) is None


def test_a_held_token_keeps_to_the_monotonic_clock_when_the_wall_clock_jumps(
    kit, server, make_manager, clock
):
    server.default("/token", kit.token_reply("tok", expires_in=3600))
    wall = FakeClock(5000.0)
    manager = make_manager(clock=clock, wall_clock=wall)
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    manager.get_token(auth)
    wall.now += 86400  # NTP step, VM resume: a day ahead
    manager.get_token(auth)
    wall.now -= 2 * 86400  # and back
    clock.advance(3000)
    manager.get_token(auth)
    assert server.count("/token") == 1
    clock.advance(600)  # past refresh by the monotonic clock: a new token
    manager.get_token(auth)
    assert server.count("/token") == 2


def test_refresh_policy_turns_wall_clock_expiry_into_monotonic_deadlines():
    token = Token(Secret("t"), "Bearer", (), expires_at=2000.0, obtained_at=1000.0)
    refresh_at, expires_at = RefreshPolicy().deadlines(token, now=10.0, wall_now=1500.0)
    assert (refresh_at, expires_at) == (450.0, 510.0)  # 500 s left, 60 s margin
    forever = Token(Secret("t"), "Bearer", (), expires_at=None, obtained_at=1000.0)
    assert RefreshPolicy().deadlines(forever, now=10.0, wall_now=1500.0) == (
        float("inf"), float("inf"))


@pytest.mark.parametrize("damaged", [
    {}, {"access_token": "", "token_type": "Bearer", "scopes": [], "expires_at": 1.0,
         "obtained_at": 0.0},
    {"access_token": "t", "token_type": "Bearer", "scopes": "a b", "expires_at": 1.0,
     "obtained_at": 0.0},
    {"access_token": "t", "token_type": "Bearer", "scopes": [], "expires_at": "1",
     "obtained_at": 0.0},
    {"access_token": "t", "token_type": "Bearer", "scopes": [], "expires_at": float("inf"),
     "obtained_at": 0.0},
    [],
])
def test_a_damaged_serialised_token_is_a_value_error(damaged):
    with pytest.raises(ValueError, match="not a serialised token"):
        Token.from_dict(damaged)


def test_token_repr_and_serialised_form_keep_the_secret_where_it_belongs(canary):
    token = Token(Secret(canary), "Bearer", ("a",), expires_at=2.0, obtained_at=1.0)
    assert canary not in repr(token)
    assert token.to_dict()["access_token"] == canary  # for the cache to encrypt
