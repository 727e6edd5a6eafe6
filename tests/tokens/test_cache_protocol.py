"""The token cache protocol: never called under a lock, async methods from event loops, the
lease (owner, TTL, compare-and-delete) and fleet-style single flight through it, sync-only
caches still accepted. Token endpoints are real loopback servers."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from connector_sdk import Token, TokenCache
from connector_sdk._auth.cache import MemoryTokenCache, TokenLease, as_token_cache, lease_of
from connector_sdk._auth.single_flight import LeasePolicy

LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def locks_of(manager: Any) -> list[Any]:
    """Every lock the manager or one of its parts holds as an attribute."""
    found = []
    for part in (manager, *vars(manager).values()):
        attributes = getattr(part, "__dict__", {})
        found.extend(v for v in attributes.values() if isinstance(v, LOCK_TYPES))
    return found


class AssertsNoLock(MemoryTokenCache):
    """Fails the call (and so the test) if any lock of ``manager`` is held during it."""

    manager: Any = None
    calls: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    def _check(self, name: str) -> None:
        self.calls.append(name)
        held = [lock for lock in locks_of(self.manager) if lock.locked()]
        assert not held, f"cache.{name} called while a token manager lock is held"

    def get(self, key):
        self._check("get")
        return super().get(key)

    def set(self, key, token):
        self._check("set")
        super().set(key, token)

    def delete(self, key):
        self._check("delete")
        super().delete(key)

    def acquire_lease(self, key, owner, ttl):
        self._check("acquire_lease")
        return super().acquire_lease(key, owner, ttl)

    def release_lease(self, key, owner):
        self._check("release_lease")
        return super().release_lease(key, owner)


def test_cache_is_never_called_while_a_manager_lock_is_held(kit, server, make_manager):
    server.script("/token", kit.token_reply("old"))
    server.default("/token", kit.token_reply("new"))
    cache = AssertsNoLock()
    manager = make_manager(cache=cache)
    cache.manager = manager
    assert len(locks_of(manager)) >= 2  # the probe sees the manager's and single flight's
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    old = manager.get_token(auth)
    manager.invalidate(auth, old)
    assert manager.get_token(auth).access_token.reveal() == "new"
    asyncio.run(manager.ainvalidate(auth, manager.get_token(auth)))
    asyncio.run(manager.aget_token(auth))
    manager.peek(auth)
    manager.forget(auth)
    assert {"get", "set", "delete", "acquire_lease", "release_lease"} <= set(cache.calls)


class BlockingCache(MemoryTokenCache):
    """``get`` of one key blocks until released, as a slow remote cache would."""

    def __init__(self) -> None:
        super().__init__()
        self.slow_key: str | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.aentered: asyncio.Event | None = None
        self.arelease: asyncio.Event | None = None

    def get(self, key):
        if key == self.slow_key:
            self.entered.set()
            assert self.release.wait(30), "the test never released the cache"
        return super().get(key)

    async def aget(self, key):
        if key == self.slow_key and self.arelease is not None:
            self.aentered.set()
            await asyncio.wait_for(self.arelease.wait(), 30)
        return super().get(key)


def test_a_blocked_cache_call_does_not_stop_other_threads(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    cache = BlockingCache()
    manager = make_manager(cache=cache)
    service = kit.service()
    slow = kit.auth(service, "slow", client_id="a", client_secret="b")
    other = kit.auth(service, "other", client_id="c", client_secret="d")
    warm = kit.auth(service, "warm", client_id="e", client_secret="f")
    manager.get_token(warm)
    cache.slow_key = manager.key_of(slow)
    blocked = threading.Thread(target=manager.get_token, args=(slow,), daemon=True)
    blocked.start()
    try:
        assert cache.entered.wait(10)
        done: list[Token] = []
        helper = threading.Thread(
            target=lambda: done.extend([manager.get_token(other), manager.get_token(warm)]),
            daemon=True,
        )
        helper.start()
        helper.join(20)
        assert len(done) == 2, "another thread waited for the blocked cache call"
        assert manager.stats.tokens == 2
    finally:
        cache.release.set()
        blocked.join(20)
    assert not blocked.is_alive()


def test_a_blocked_async_cache_call_does_not_stop_other_tasks(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    cache = BlockingCache()
    manager = make_manager(cache=cache)
    service = kit.service()
    slow = kit.auth(service, "slow", client_id="a", client_secret="b")
    other = kit.auth(service, "other", client_id="c", client_secret="d")
    cache.slow_key = manager.key_of(slow)

    async def main():
        cache.aentered, cache.arelease = asyncio.Event(), asyncio.Event()
        blocked = asyncio.create_task(manager.aget_token(slow))
        await asyncio.wait_for(cache.aentered.wait(), 10)
        token = await asyncio.wait_for(manager.aget_token(other), 20)
        in_thread = await asyncio.to_thread(manager.get_token, other)
        assert not blocked.done()
        cache.arelease.set()
        await asyncio.wait_for(blocked, 20)
        return token, in_thread

    token, in_thread = asyncio.run(main())
    assert token is in_thread


# -- the lease ---------------------------------------------------------------------------------


def test_memory_cache_lease_has_one_owner_until_released(clock):
    cache = MemoryTokenCache(clock=clock)
    assert cache.acquire_lease("k", "alice", ttl=10)
    assert not cache.acquire_lease("k", "bob", ttl=10)
    assert not cache.acquire_lease("k", "alice", ttl=10)  # not re-entrant, like SET NX
    assert cache.acquire_lease("other", "bob", ttl=10)  # leases are per key
    assert not cache.release_lease("k", "bob")  # compare-and-delete: not bob's
    assert not cache.acquire_lease("k", "bob", ttl=10)
    assert cache.release_lease("k", "alice")
    assert not cache.release_lease("k", "alice")  # already gone
    assert cache.acquire_lease("k", "bob", ttl=10)


def test_memory_cache_lease_expires_after_its_ttl(clock):
    cache = MemoryTokenCache(clock=clock)
    assert cache.acquire_lease("k", "dead-worker", ttl=5)
    clock.advance(4.9)
    assert not cache.acquire_lease("k", "bob", ttl=5)
    clock.advance(0.2)
    assert cache.acquire_lease("k", "bob", ttl=5)
    # the late owner cannot release the lease bob took since
    assert not cache.release_lease("k", "dead-worker")
    assert not cache.acquire_lease("k", "carol", ttl=5)
    assert cache.release_lease("k", "bob")


def test_memory_cache_async_lease_methods_share_the_state(clock):
    cache = MemoryTokenCache(clock=clock)

    async def main():
        assert await cache.aacquire_lease("k", "a", 5)
        assert not cache.acquire_lease("k", "b", 5)
        assert not await cache.arelease_lease("k", "b")
        assert await cache.arelease_lease("k", "a")

    asyncio.run(main())
    assert isinstance(cache, TokenCache)
    assert isinstance(cache, TokenLease)


def slow_token(kit, token: str, delay: float = 0.3):
    reply = kit.token_reply(token, expires_in=3600)
    reply.delay = delay
    return reply


def test_two_managers_sharing_a_leased_cache_make_one_request(kit, server, make_manager):
    server.default("/token", slow_token(kit, "shared"))
    cache = MemoryTokenCache()
    managers = [make_manager(cache=cache), make_manager(cache=cache)]
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    barrier = threading.Barrier(16)
    results: list[Any] = []

    def work(manager):
        barrier.wait()
        results.append(manager.get_token(auth).access_token.reveal())

    threads = [threading.Thread(target=work, args=(managers[i % 2],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["shared"] * 16
    assert server.count("/token") == 1
    assert sum(m.stats.requests for m in managers) == 1


def test_two_async_managers_sharing_a_leased_cache_make_one_request(kit, server, make_manager):
    server.default("/token", slow_token(kit, "shared"))
    cache = MemoryTokenCache()
    one, two = make_manager(cache=cache), make_manager(cache=cache)
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")

    async def main():
        calls = [m.aget_token(auth) for _ in range(25) for m in (one, two)]
        return await asyncio.gather(*calls)

    tokens = asyncio.run(main())
    assert {t.access_token.reveal() for t in tokens} == {"shared"}
    assert server.count("/token") == 1


def test_a_lease_held_by_a_dead_worker_delays_for_at_most_its_ttl(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    cache = MemoryTokenCache()
    manager = make_manager(cache=cache, lease=LeasePolicy(ttl=30, wait=60))
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    assert cache.acquire_lease(manager.key_of(auth), "worker-killed-with-sigkill", ttl=0.5)
    started = time.monotonic()
    assert manager.get_token(auth).access_token.reveal() == "tok"
    waited = time.monotonic() - started
    assert 0.4 < waited < 20
    assert server.count("/token") == 1


def test_a_worker_fetches_anyway_after_the_bounded_wait(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    cache = MemoryTokenCache()
    manager = make_manager(cache=cache, lease=LeasePolicy(ttl=30, wait=0.5))
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    assert cache.acquire_lease(manager.key_of(auth), "stuck-worker", ttl=600)

    async def main():
        return await manager.aget_token(auth)

    started = time.monotonic()
    assert asyncio.run(main()).access_token.reveal() == "tok"
    assert 0.4 < time.monotonic() - started < 20
    assert server.count("/token") == 1
    assert not cache.release_lease(manager.key_of(auth), "anyone")  # still stuck-worker's


class BrokenLease(MemoryTokenCache):
    def acquire_lease(self, key, owner, ttl):
        raise ConnectionError("lease backend down")


def test_a_failing_lease_costs_a_request_not_the_call(kit, server, make_manager, caplog):
    server.default("/token", kit.token_reply("tok"))
    manager = make_manager(cache=BrokenLease())
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    assert manager.get_token(auth).access_token.reveal() == "tok"
    assert "lease acquire failed (ConnectionError)" in caplog.text


# -- caches written for the first, sync-only protocol ------------------------------------------


class SyncOnlyCache:
    def __init__(self) -> None:
        self.tokens: dict[str, Token] = {}

    def get(self, key):
        return self.tokens.get(key)

    def set(self, key, token):
        self.tokens[key] = token

    def delete(self, key):
        self.tokens.pop(key, None)


def test_a_sync_only_cache_still_works_from_threads_and_loops(kit, server, make_manager):
    server.default("/token", kit.token_reply("tok"))
    cache = SyncOnlyCache()
    assert lease_of(as_token_cache(cache)) is None
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    first = make_manager(cache=cache)
    first.get_token(auth)
    assert len(cache.tokens) == 1
    second = make_manager(cache=cache)
    assert asyncio.run(second.aget_token(auth)).access_token.reveal() == "tok"
    assert server.count("/token") == 1


def test_an_object_without_cache_methods_is_refused():
    with pytest.raises(TypeError, match="get, set and delete"):
        as_token_cache(object())  # type: ignore[arg-type]
