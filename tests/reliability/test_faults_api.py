"""API faults through ``Runtime`` clients: on a loopback fault server, and against the
Twitch and Shopify emulators served on loopback (``SandboxServer``, real sockets).

Scenarios (A-...): 401 before the token's stated expiry, 401 twice, 429 with each provider's
signal, a redirect to another host (the credentials must not follow: the second server sees
no token header at all), a body far larger than expected. Pass criteria: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import Runtime
from connector_sdk._errors import NetworkPolicyError, UnauthorizedError
from connector_sdk.sandbox import SandboxServer

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(30)]

TOKEN_HEADERS = ("authorization", "client-id", "x-shopify-access-token")


def error_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), repr(exc.args),
                      "".join(traceback.format_exception(exc))])


@pytest.fixture
def api(fault_server, make_runtime, make_canary, rk):  # type: ignore[no-untyped-def]
    """(server, runtime, authentication, secret, [token1, token2]) with the token endpoint
    handing out the canary tokens in order."""
    def make(style: str = "twitch", timeout: float = 1.0) -> tuple[Any, ...]:
        secret = make_canary("secret")
        tokens = [make_canary("token1"), make_canary("token2"), make_canary("token3")]
        service = rk.service(fault_server, style=style)
        fault_server.script("/token", *(rk.token(t) for t in tokens))
        runtime = make_runtime(timeout=timeout)
        return fault_server, runtime, rk.authentication(service, secret), secret, tokens
    return make


def sent_token(seen: Any) -> str:
    value = seen.headers.get("authorization") or seen.headers.get("x-shopify-access-token", "")
    return value.removeprefix("Bearer ")


# -- 401 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["twitch", "shopify"])
def test_401_before_the_stated_expiry_refreshes_once_and_succeeds(api, rk, figures, style):
    figures.scenario(f"A-401-before-expiry-{style}")
    server, runtime, auth, secret, tokens = api(style)
    server.script("/api/items", rk.reply(401, json_body={"message": "invalid token"}),
                  rk.reply(200, json_body={"data": [1]}))
    with runtime.client(auth) as client:
        response = client.get("/items")
    assert response.status_code == 200
    assert server.count("/token") == 2
    assert [sent_token(s) for s in server.requests("/api/items")] == tokens[:2]


def test_401_before_expiry_with_200_async_callers_refreshes_once(api, rk, figures):
    figures.scenario("A-401-before-expiry-200-tasks")
    server, runtime, auth, secret, tokens = api()

    def items(ex: Any) -> None:
        if sent_token(ex.seen) == tokens[0]:
            ex.reply(401, json_body={"status": 401, "message": "Invalid OAuth token"})
        else:
            ex.reply(200, json_body={"data": []})

    server.default("/api/items", items)

    async def main() -> list[int]:
        async with runtime.async_client(auth) as client:
            await client.get("/items")  # warm up with token 1... which is refused
            server.script("/token", rk.token(tokens[2]))
            responses = await asyncio.gather(*(client.get("/items") for _ in range(200)))
        return [r.status_code for r in responses]

    assert set(asyncio.run(main())) == {200}
    assert server.count("/token") == 2


@pytest.mark.parametrize("style", ["twitch", "shopify"])
def test_401_twice_raises_unauthorized_without_a_loop(api, rk, figures, style):
    figures.scenario(f"A-401-twice-{style}")
    server, runtime, auth, secret, tokens = api(style)
    server.default("/api/items", lambda ex: ex.reply(
        401, json_body={"message": f"token {sent_token(ex.seen)} refused for {secret}"}))
    started = time.monotonic()
    with runtime.client(auth) as client, pytest.raises(UnauthorizedError) as caught:
        client.get("/items")
    assert time.monotonic() - started < 2.0
    assert server.count("/token") == 2
    assert server.count("/api/items") == 2
    text = error_text(caught.value)
    assert "faulty" in text
    assert all(value not in text for value in [secret, *tokens])


def test_401_twice_with_a_huge_body_is_read_only_in_part(api, rk, figures):
    figures.scenario("A-401-twice-huge-body")
    server, runtime, auth, secret, tokens = api()
    server.default("/api/items", rk.huge(401, 100 * 1024 * 1024))
    tracemalloc.start()
    try:
        started = time.monotonic()
        with runtime.client(auth) as client, pytest.raises(UnauthorizedError):
            client.get("/items")
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5.0
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_401_twice_with_a_trickling_body_fails_within_a_bound(api, rk, figures):
    figures.scenario("A-401-twice-trickling-body")
    server, runtime, auth, secret, tokens = api()

    def dripping_401(ex: Any) -> None:
        ex.head(401, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        _drip(ex, 0.05, 20.0)

    server.default("/api/items", dripping_401)
    started = time.monotonic()
    with runtime.client(auth) as client, pytest.raises(UnauthorizedError):
        client.get("/items")
    assert time.monotonic() - started < 2 * 2.0 + 2.0


def _drip(ex: Any, interval: float, total: float) -> None:
    deadline = time.monotonic() + total
    while time.monotonic() < deadline:
        try:
            ex._handler.wfile.write(b"1\r\nx\r\n")
            ex._handler.wfile.flush()
        except OSError:
            return
        time.sleep(interval)
    ex.drop()


# -- 429, each provider's signal -------------------------------------------------------------

PROVIDER_429 = {
    "twitch": {"status": 429, "json_body": {"error": "Too Many Requests", "status": 429,
                                            "message": "Too Many Requests"},
               "headers": {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0",
                           "Ratelimit-Reset": "{reset}"}},
    "shopify-rest": {"status": 429, "json_body": {"errors": "Exceeded 2 calls per second for"
                                                            " api client."},
                     "headers": {"Retry-After": "2.0",
                                 "X-Shopify-Shop-Api-Call-Limit": "40/40"}},
    "shopify-graphql": {"status": 200, "json_body": {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 101, "throttleStatus": {
            "maximumAvailable": 2000.0, "currentlyAvailable": 50, "restoreRate": 100.0}}}},
        "headers": {}},
}


@pytest.mark.parametrize("provider", sorted(PROVIDER_429))
def test_429_reaches_the_caller_with_its_signal_and_keeps_the_token(api, rk, figures,
                                                                    provider):
    figures.scenario(f"A-429-{provider}")
    server, runtime, auth, secret, tokens = api("twitch" if provider == "twitch" else "shopify")
    spec = PROVIDER_429[provider]
    headers = {k: v.format(reset=int(time.time()) + 5) for k, v in spec["headers"].items()}
    server.script("/api/items", rk.reply(spec["status"], json_body=spec["json_body"],
                                         headers=headers),
                  rk.reply(200, json_body={"data": []}))
    with runtime.client(auth) as client:
        limited = client.get("/items")
        after = client.get("/items")
    assert limited.status_code == spec["status"]
    for name, value in headers.items():
        assert limited.headers[name] == value
    assert after.status_code == 200
    assert server.count("/token") == 1  # a rate limit is not an authentication problem
    assert server.count("/api/items") == 2
    assert {sent_token(s) for s in server.requests("/api/items")} == {tokens[0]}


@pytest.fixture
def emulators() -> Iterator[tuple[TwitchSandbox, ShopifySandbox, SandboxServer]]:
    twitch = TwitchSandbox(rate_limit=3)
    shopify = ShopifySandbox(bucket_size=3, leak_rate=0.01)
    with SandboxServer(twitch, shopify) as server:
        yield twitch, shopify, server


@pytest.fixture
def sandbox_runtime(tmp_path, emulators) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    with Runtime(environ=environ, sandbox_url=emulators[2].url) as runtime:
        yield runtime


def test_twitch_emulator_429_carries_its_reset_and_keeps_the_token(sandbox_runtime, emulators,
                                                                   figures):
    figures.scenario("A-429-twitch-emulator")
    twitch = emulators[0]
    auth = sandbox_runtime.authentication("twitch", TwitchSandbox().parameters())
    with sandbox_runtime.client(auth) as client:
        statuses = [client.get("/users", params={"login": "twitchdev"}) for _ in range(5)]
    codes = [r.status_code for r in statuses]
    assert codes[:3] == [200, 200, 200]
    assert 429 in codes[3:]
    limited = next(r for r in statuses if r.status_code == 429)
    assert limited.headers["Ratelimit-Remaining"] == "0"
    assert int(limited.headers["Ratelimit-Reset"]) >= int(time.time())
    assert twitch.token_requests == 1


def test_shopify_emulator_429_carries_retry_after_and_keeps_the_token(sandbox_runtime,
                                                                      emulators, figures):
    figures.scenario("A-429-shopify-emulator")
    shopify = emulators[1]
    auth = sandbox_runtime.authentication("shopify", ShopifySandbox().parameters())
    with sandbox_runtime.client(auth) as client:
        responses = [client.get("/shop.json") for _ in range(6)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    assert float(limited[0].headers["Retry-After"]) > 0
    assert shopify.token_requests == 1


def test_emulator_revoking_tokens_before_expiry_costs_one_refresh(sandbox_runtime, emulators,
                                                                  figures):
    figures.scenario("A-401-before-expiry-twitch-emulator")
    twitch = emulators[0]
    twitch.rate_limit = 800
    auth = sandbox_runtime.authentication("twitch", TwitchSandbox().parameters())
    with sandbox_runtime.client(auth) as client:
        assert client.get("/users", params={"login": "twitchdev"}).status_code == 200
        assert twitch.revoke_all_tokens() == 1
        assert client.get("/users", params={"login": "twitchdev"}).status_code == 200
    assert twitch.token_requests == 2


def test_shopify_emulator_expiring_tokens_early_costs_one_refresh(sandbox_runtime, emulators,
                                                                  figures):
    figures.scenario("A-401-before-expiry-shopify-emulator")
    shopify = emulators[1]
    shopify.bucket_size = 40
    auth = sandbox_runtime.authentication("shopify", ShopifySandbox().parameters())
    with sandbox_runtime.client(auth) as client:
        assert client.get("/shop.json").status_code == 200
        assert shopify.expire_all_tokens() == 1
        assert client.get("/shop.json").status_code == 200
    assert shopify.token_requests == 2


# -- redirects: the credentials never follow -------------------------------------------------


def assert_no_credentials(server: Any, secret: str, tokens: list[str]) -> None:
    for seen in server.requests():
        assert not set(seen.headers) & set(TOKEN_HEADERS), seen.headers
        blob = seen.path + repr(seen.headers) + seen.body.decode("latin-1")
        assert all(value not in blob for value in [secret, *tokens])


@pytest.mark.parametrize("style", ["twitch", "shopify"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_an_opted_in_redirect_to_another_host_carries_no_credentials(
    api, rk, other_server, figures, style, status
):
    figures.scenario(f"A-redirect-{status}-{style}")
    server, runtime, auth, secret, tokens = api(style)
    server.default("/api/items", rk.reply(status, headers={
        "Location": f"{other_server.base}/collect?from=api"}))
    other_server.default("/collect", rk.reply(200, json_body={"ok": True}))
    with runtime.client(auth) as client:
        response = client.post("/items", json={"q": 1}, follow_redirects=True)
    assert response.status_code == 200
    assert other_server.count("/collect") == 1
    assert_no_credentials(other_server, secret, tokens)


@pytest.mark.parametrize("style", ["twitch", "shopify"])
def test_a_redirect_is_not_followed_by_default(api, rk, other_server, figures, style):
    figures.scenario(f"A-redirect-not-followed-{style}")
    server, runtime, auth, secret, tokens = api(style)
    server.default("/api/items", rk.reply(302, headers={"Location": f"{other_server.base}/x"}))
    with runtime.client(auth) as client:
        assert client.get("/items").status_code == 302
    assert other_server.connections == 0


def test_a_redirect_to_a_host_outside_allowed_hosts_is_refused(api, rk, other_server,
                                                               figures):
    figures.scenario("A-redirect-disallowed-host")
    server, runtime, auth, secret, tokens = api()
    server.default("/api/items", rk.reply(302, headers={
        "Location": f"http://localhost:{other_server.port}/steal"}))
    with runtime.client(auth) as client, pytest.raises(NetworkPolicyError):
        client.get("/items", follow_redirects=True)
    assert other_server.connections == 0


def test_a_redirect_back_to_the_same_origin_keeps_the_token(api, rk, figures):
    figures.scenario("A-redirect-same-origin")
    server, runtime, auth, secret, tokens = api()
    server.default("/api/items", rk.reply(302, headers={"Location": "/api/moved"}))
    server.default("/api/moved", rk.reply(200, json_body={"ok": True}))
    with runtime.client(auth) as client:
        assert client.get("/items", follow_redirects=True).status_code == 200
    assert sent_token(server.requests("/api/moved")[0]) == tokens[0]


def test_async_redirect_to_another_host_carries_no_credentials(api, rk, other_server,
                                                               figures):
    figures.scenario("A-redirect-async")
    server, runtime, auth, secret, tokens = api("shopify")
    server.default("/api/items", rk.reply(307, headers={"Location": f"{other_server.base}/c"}))
    other_server.default("/c", rk.reply(200, json_body={}))

    async def main() -> int:
        async with runtime.async_client(auth) as client:
            return (await client.get("/items", follow_redirects=True)).status_code

    assert asyncio.run(main()) == 200
    assert_no_credentials(other_server, secret, tokens)


# -- a body far larger than expected -----------------------------------------------------------


def test_a_huge_api_body_can_be_streamed_without_buffering(api, rk, figures):
    figures.scenario("A-huge-body-streamed")
    server, runtime, auth, secret, tokens = api()
    size = 200 * 1024 * 1024
    server.default("/api/items", rk.huge(200, size))
    received = 0
    tracemalloc.start()
    try:
        with runtime.client(auth) as client, client.stream("GET", "/items") as response:
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > 8 * 1024 * 1024:
                    break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > 8 * 1024 * 1024
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_a_dropped_api_connection_surfaces_as_a_transport_error(api, rk, figures):
    figures.scenario("A-connection-dropped")
    server, runtime, auth, secret, tokens = api()
    server.default("/api/items", rk.drop_mid_body(200))
    with runtime.client(auth) as client, pytest.raises(httpx.TransportError) as caught:
        client.get("/items")
    assert all(value not in error_text(caught.value) for value in [secret, *tokens])
    assert server.count("/token") == 1


def test_a_hanging_api_times_out_within_the_timeout(api, rk, figures):
    figures.scenario("A-slow-beyond-timeout")
    server, runtime, auth, secret, tokens = api()
    server.default("/api/items", rk.hang(5.0))
    started = time.monotonic()
    with runtime.client(auth) as client, pytest.raises(httpx.TimeoutException):
        client.get("/items")
    assert time.monotonic() - started < 2.0 + 1.0


def test_threads_sharing_a_client_through_a_401_refresh_once(api, rk, figures):
    figures.scenario("A-401-before-expiry-50-threads")
    # 50 threads on two shared cores: a 1 s read timeout is a load test, not this one's point
    server, runtime, auth, secret, tokens = api(timeout=10.0)

    def items(ex: Any) -> None:
        ok = sent_token(ex.seen) != tokens[0]
        ex.reply(200 if ok else 401, json_body={"data": []})

    server.default("/api/items", items)
    with runtime.client(auth) as client:
        client.get("/items")
        barrier = threading.Barrier(50)
        codes: list[int] = []

        def call() -> None:
            barrier.wait()
            codes.append(client.get("/items").status_code)

        threads = [threading.Thread(target=call) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert codes == [200] * 50
    assert server.count("/token") == 2


def test_async_401_twice_with_huge_and_trickling_bodies_is_bounded(api, rk, figures):
    figures.scenario("A-401-twice-huge-then-trickling-async")
    server, runtime, auth, secret, tokens = api()

    def dripping_401(ex: Any) -> None:
        ex.head(401, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        _drip(ex, 0.05, 20.0)

    server.script("/api/items", rk.huge(401, 100 * 1024 * 1024), dripping_401)

    async def main() -> None:
        async with runtime.async_client(auth) as client:
            await client.get("/items")

    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(UnauthorizedError):
            asyncio.run(main())
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0 + 2.0
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
