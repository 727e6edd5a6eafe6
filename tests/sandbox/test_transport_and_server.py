"""The same emulators in-process (SandboxTransport) and on loopback (SandboxServer + routing)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox
from sandbox_helpers import ADMIN, TWITCH, helix_headers, shopify_token, twitch_token

from connector_sdk import NetworkPolicyError
from connector_sdk.sandbox import (
    LoopbackRoutingTransport,
    SandboxServer,
    SandboxTransport,
    routing_transports,
    serve_forever_cli,
)


@pytest.fixture
def server(twitch: TwitchSandbox, shopify: ShopifySandbox) -> Iterator[SandboxServer]:
    with SandboxServer(twitch, shopify) as running:
        yield running


@pytest.fixture
def loopback_client(server: SandboxServer) -> Iterator[httpx.Client]:
    sync_transport, _ = routing_transports(server)
    with httpx.Client(transport=sync_transport, timeout=5) as c:
        yield c


# in-process ----------------------------------------------------------------------------------

def test_unknown_host_raises_connect_error(client: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError, match=r"no sandbox serves host 'example\.com'"):
        client.get("https://example.com/")


def test_async_client_over_sandbox_transport(twitch: TwitchSandbox) -> None:
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=SandboxTransport(twitch)) as c:
            token = (await c.post("https://id.twitch.tv/oauth2/token", data={
                **TWITCH, "grant_type": "client_credentials"})).json()["access_token"]
            responses = await asyncio.gather(*[
                c.get("https://api.twitch.tv/helix/streams", headers=helix_headers(token))
                for _ in range(5)])
            with pytest.raises(httpx.ConnectError):
                await c.get("https://nowhere.invalid/")
            return [r.status_code for r in responses]
    assert asyncio.run(run()) == [200] * 5
    assert twitch.api_requests == 5


def test_async_streaming_body_is_read(twitch: TwitchSandbox) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"client_id=" + TWITCH["client_id"].encode()
        yield b"&client_secret=" + TWITCH["client_secret"].encode()
        yield b"&grant_type=client_credentials"

    async def run() -> int:
        async with httpx.AsyncClient(transport=SandboxTransport(twitch)) as c:
            response = await c.post("https://id.twitch.tv/oauth2/token", content=body(), headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            return response.status_code
    assert asyncio.run(run()) == 200


def test_concurrent_threads_share_one_consistent_bucket() -> None:
    sandbox = TwitchSandbox(rate_limit=50, clock=lambda: 1_000_000.0)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        headers = helix_headers(twitch_token(c))
        statuses: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(10):
                response = c.get("https://api.twitch.tv/helix/users?id=1", headers=headers)
                status = response.status_code
                with lock:
                    statuses.append(status)
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    assert statuses.count(200) == 50 and statuses.count(429) == 30


# loopback ------------------------------------------------------------------------------------

def test_server_url_is_loopback_with_a_real_port(server: SandboxServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0


def test_twitch_over_loopback_keeps_the_real_url(
    loopback_client: httpx.Client, twitch: TwitchSandbox
) -> None:
    token = twitch_token(loopback_client)
    response = loopback_client.get("https://api.twitch.tv/helix/users?login=twitchdev",
                                   headers=helix_headers(token))
    assert response.status_code == 200
    assert str(response.request.url) == "https://api.twitch.tv/helix/users?login=twitchdev"
    assert response.json()["data"][0]["login"] == "twitchdev"
    assert response.headers["Ratelimit-Limit"] == "800"
    assert twitch.requests_by_path["/helix/users"] == 1


def test_shopify_link_walk_over_loopback(
    loopback_client: httpx.Client, shopify: ShopifySandbox
) -> None:
    headers = {"X-Shopify-Access-Token": shopify_token(loopback_client)}
    url: str | None = f"{ADMIN}/products.json?limit=250"
    seen = 0
    while url:
        response = loopback_client.get(url, headers=headers)
        seen += len(response.json()["products"])
        url = response.links.get("next", {}).get("url")
    assert seen == 1234
    plain = loopback_client.post(
        "https://other-store.myshopify.com/admin/oauth/access_token",
        data={**ShopifySandbox().parameters(), "grant_type": "client_credentials"})
    assert plain.status_code == 400 and plain.text.startswith("Oauth error shop_not_permitted")


def test_errors_keep_status_and_body_over_loopback(loopback_client: httpx.Client) -> None:
    response = loopback_client.post("https://id.twitch.tv/oauth2/token",
                                     data={"client_id": "x" * 30, "client_secret": "y",
                                           "grant_type": "client_credentials"})
    assert (response.status_code, response.json()) == (
        400, {"status": 400, "message": "invalid client"})


def test_keep_alive_reuses_one_connection(server: SandboxServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(b"GET /helix/nope HTTP/1.1\r\nHost: api.twitch.tv\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(4096)
            assert head.startswith(b"HTTP/1.1 404")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += sock.recv(4096)


def test_async_client_over_loopback(server: SandboxServer) -> None:
    _, async_transport = routing_transports(server.url)

    async def run() -> int:
        async with httpx.AsyncClient(transport=async_transport, timeout=5) as c:
            token = (await c.post("https://id.twitch.tv/oauth2/token", data={
                **TWITCH, "grant_type": "client_credentials"})).json()["access_token"]
            response = await c.get("https://api.twitch.tv/helix/games/top",
                                   headers=helix_headers(token))
            return response.status_code
    assert asyncio.run(run()) == 200


def test_async_routing_transport_survives_successive_event_loops(server: SandboxServer) -> None:
    _, async_transport = routing_transports(server)

    async def run() -> int:
        client = httpx.AsyncClient(transport=async_transport, timeout=5)
        response = await client.get("https://id.twitch.tv/oauth2/validate")
        return response.status_code
    assert [asyncio.run(run()) for _ in range(2)] == [401, 401]


def test_host_no_sandbox_serves_gets_421_on_loopback(server: SandboxServer) -> None:
    response = httpx.get(f"{server.url}/helix/users")
    assert response.status_code == 421
    assert "Host" in response.text


def test_non_loopback_bind_and_route_are_refused() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        with pytest.raises(NetworkPolicyError):
            SandboxServer(TwitchSandbox(), host=host)
    with pytest.raises(NetworkPolicyError):
        LoopbackRoutingTransport("http://10.0.0.1:8080")


def test_stop_is_idempotent_and_frees_the_port(twitch: TwitchSandbox) -> None:
    server = SandboxServer(twitch).start()
    port = server.port
    server.stop()
    server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_in_process_routing_transports_share_one_transport(twitch: TwitchSandbox) -> None:
    sync_transport, async_transport = routing_transports(twitch)
    assert isinstance(sync_transport, SandboxTransport) and sync_transport is async_transport


# CLI entry point -----------------------------------------------------------------------------

def test_serve_forever_cli_prints_address_and_credentials_then_stops(
    twitch: TwitchSandbox, shopify: ShopifySandbox,
) -> None:
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=serve_forever_cli, args=([twitch, shopify], 0),
                              kwargs={"out": lines.append, "stop": stop})
    thread.start()
    try:
        for _ in range(100):
            if any("Ctrl-C" in line for line in lines):
                break
            threading.Event().wait(0.02)
        url = lines[0].split()[-1]
        assert url.startswith("http://127.0.0.1:")
        text = "\n".join(lines)
        assert TWITCH["client_id"] in text and "my-store.myshopify.com" in text
        response = httpx.get(f"{url}/oauth2/validate", headers={"Host": "id.twitch.tv"})
        assert response.status_code == 401
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert lines[-1] == "sandbox stopped"

