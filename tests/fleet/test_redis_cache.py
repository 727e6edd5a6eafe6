"""RedisTokenCache on a real Redis: what Redis holds, expiry, the lease, degraded mode."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time

import pytest
import redis
from servers import RedisServer

from connector_sdk import Secret
from connector_sdk._auth.cache import TokenCache, TokenLease, cache_key
from connector_sdk._auth.redis_cache import RedisTokenCache
from connector_sdk._auth.token import Token
from connector_sdk._stores.crypto import SecretCipher


def new_cache(url: str, **options: object) -> RedisTokenCache:
    prefix = f"t{secrets.token_hex(4)}:"
    return RedisTokenCache(url, SecretCipher(os.urandom(32)), prefix=prefix, **options)  # type: ignore[arg-type]


def token(value: str, lifetime: float = 3600) -> Token:
    now = time.time()
    return Token(Secret(value), "bearer", ("read",), now + lifetime, now)


def key() -> str:
    return cache_key(service="svc", authentication=secrets.token_hex(4),
                     token_url="https://example.com/token", client_id="id", scopes=["read"])


def test_redis_holds_a_sealed_token_under_a_digest_and_expires_it(
    redis_url: str, canary: str
) -> None:
    cache = new_cache(redis_url)
    assert isinstance(cache, TokenCache)
    assert isinstance(cache, TokenLease)
    k = key()
    cache.set(k, token(canary, lifetime=120))
    assert cache.get(k).access_token.reveal() == canary  # type: ignore[union-attr]
    raw = redis.Redis.from_url(redis_url)
    names = [name.decode() for name in raw.scan_iter(f"{cache._prefix}*")]
    assert names == [f"{cache._prefix}token:{k}"]  # a SHA-256 digest, never a secret
    value = raw.get(names[0])
    assert value is not None
    leaked = canary.encode() in value
    assert not leaked
    assert 110_000 < raw.pttl(names[0]) <= 120_000  # the token's remaining lifetime


def test_an_entry_sealed_with_another_key_or_damaged_is_a_miss(
    redis_url: str, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = new_cache(redis_url), new_cache(redis_url)
    second._prefix = first._prefix  # same fleet, another key
    k = key()
    first.set(k, token(canary))
    with caplog.at_level(logging.WARNING, "connector_sdk.tokens"):
        assert second.get(k) is None
        assert second.get(k) is None
    assert sum("cannot open" in r.getMessage() for r in caplog.records) == 1
    raw = redis.Redis.from_url(redis_url)
    raw.set(f"{first._prefix}token:{k}", b"\x01garbage")
    assert first.get(k) is None
    other = key()  # an entry copied under another key fails its integrity check
    raw.set(f"{first._prefix}token:{other}", raw.get(f"{first._prefix}token:{k}") or b"")
    first.set(k, token(canary))
    raw.copy(f"{first._prefix}token:{k}", f"{first._prefix}token:{other}", replace=True)
    assert first.get(other) is None


def test_the_lease_is_released_only_by_its_owner(redis_url: str) -> None:
    cache = new_cache(redis_url)
    k = key()
    assert cache.acquire_lease(k, "owner-a", 5.0)
    assert not cache.acquire_lease(k, "owner-b", 5.0)
    assert not cache.release_lease(k, "owner-b")  # compare-and-delete: not b's to release
    assert not cache.acquire_lease(k, "owner-b", 5.0)
    assert cache.release_lease(k, "owner-a")
    assert cache.acquire_lease(k, "owner-b", 0.3)
    time.sleep(0.6)  # b's lease expired: a new owner may take it, b may not delete it
    assert cache.acquire_lease(k, "owner-c", 5.0)
    assert not cache.release_lease(k, "owner-b")
    assert not cache.acquire_lease(k, "owner-d", 5.0)


def test_the_async_methods_share_the_same_entries_and_lease(
    redis_url: str, canary: str
) -> None:
    cache = new_cache(redis_url)
    k = key()

    async def scenario() -> None:
        await cache.aset(k, token(canary))
        found = await cache.aget(k)
        assert found is not None
        assert found.access_token.reveal() == canary
        assert await cache.aacquire_lease(k, "a", 5.0)
        assert not cache.acquire_lease(k, "b", 5.0)
        assert not await cache.arelease_lease(k, "b")
        assert await cache.arelease_lease(k, "a")
        await cache.adelete(k)
        assert await cache.aget(k) is None

    asyncio.run(scenario())
    asyncio.run(scenario())  # a second event loop gets its own client
    assert cache.get(k) is None


def test_a_hung_redis_falls_back_to_the_local_cache_with_one_warning(
    own_redis: RedisServer, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = new_cache(own_redis.url, retry_interval=0.2, timeout=0.3)
    k, gone = key(), key()
    cache.set(gone, token(canary + "-old"))
    own_redis.pause()  # hung: it keeps its data, answers nothing
    with caplog.at_level(logging.WARNING, "connector_sdk.tokens"):
        began = time.monotonic()
        for _ in range(200):
            cache.set(k, token(canary))
            assert cache.get(k).access_token.reveal() == canary  # type: ignore[union-attr]
            assert cache.acquire_lease(k, "me", 5.0) in (True, False)
            cache.release_lease(k, "me")
        cache.delete(gone)  # remembered, and done when Redis is back
        assert cache.degraded
        assert time.monotonic() - began < 30
        warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1
        own_redis.resume()
        time.sleep(0.3)
        assert cache.get(gone) is None  # the probe: Redis answers, the delete was replayed
        assert not cache.degraded
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    raw = redis.Redis.from_url(own_redis.url)
    assert raw.get(f"{cache._prefix}token:{gone}") is None
    assert cache.stats["outages"] == 1


def test_a_delete_made_during_an_outage_survives_a_failed_probe(
    redis_url: str, canary: str
) -> None:
    # A hung server would run the buffered DEL once resumed, so the failed probe is a real
    # refused connection instead: a client for a port nothing listens on.
    import socket

    cache = new_cache(redis_url, timeout=0.5)
    gone = key()
    cache.set(gone, token(canary + "-old"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    working, cache._client = cache._client, redis.Redis(port=closed, socket_timeout=0.5)
    cache.delete(gone)  # refused: remembered for later
    with pytest.raises(redis.RedisError):
        cache._replay_deletes_sync()  # the probe fails too: the delete must stay queued
    cache._client = working
    cache._replay_deletes_sync()
    raw = redis.Redis.from_url(redis_url)
    assert raw.get(f"{cache._prefix}token:{gone}") is None


def _connections_named(url: str, name: str) -> int:
    clients = redis.Redis.from_url(url).client_list()
    return sum(1 for client in clients if client.get("name") == name)


def test_close_closes_the_asyncio_clients_of_every_loop(redis_url: str) -> None:
    # Each event loop gets its own asyncio client; close() used to close only the sync one,
    # leaving one Redis connection per loop open until the process ended.
    name = f"close-{secrets.token_hex(4)}"
    cache = new_cache(redis_url)
    cache._options["client_name"] = name
    k = key()
    idle = asyncio.new_event_loop()
    elsewhere = asyncio.new_event_loop()
    import threading

    runner = threading.Thread(target=elsewhere.run_forever, daemon=True)
    try:
        idle.run_until_complete(cache.aset(k, token("a")))
        runner.start()
        asyncio.run_coroutine_threadsafe(cache.aget(k), elsewhere).result(timeout=10)
        assert _connections_named(redis_url, name) == 2
        cache.close()
        deadline = time.monotonic() + 10
        while _connections_named(redis_url, name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _connections_named(redis_url, name) == 0
    finally:
        elsewhere.call_soon_threadsafe(elsewhere.stop)
        runner.join(timeout=10)
        idle.close()
        elsewhere.close()


def test_aclose_closes_the_running_loops_client(redis_url: str) -> None:
    name = f"aclose-{secrets.token_hex(4)}"
    cache = new_cache(redis_url)
    cache._options["client_name"] = name

    async def use_then_close() -> int:
        await cache.aget(key())
        before = _connections_named(redis_url, name)
        await cache.aclose()
        return before

    assert asyncio.run(use_then_close()) == 1
    assert _connections_named(redis_url, name) == 0
