"""ServiceAuth and the ready clients: headers from the manifest, refresh once on 401,
network policy on every request, no credentials across origins."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import httpx
import pytest

from connector_sdk._auth.attach import ServiceAuth
from connector_sdk._auth.client import build_async_client, build_client
from connector_sdk._errors import NetworkPolicyError, UnauthorizedError
from connector_sdk._http.settings import HttpSettings


class Provider:
    """Issues numbered tokens and accepts only the ones it has not revoked."""

    def __init__(self, kit, server, prefix: str) -> None:
        self.kit = kit
        self.prefix = prefix
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.lock = threading.Lock()
        server.default("/token", self.token)
        server.default("/api/users", self.api)

    def token(self, seen):
        with self.lock:
            value = f"{self.prefix}-{len(self.issued)}"
            self.issued.append(value)
        return self.kit.token_reply(value, expires_in=3600)

    def api(self, seen):
        header = seen.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or token not in self.issued or token in self.revoked:
            return self.kit.Reply(401, json={"error": "Unauthorized", "status": 401,
                                             "message": "Invalid OAuth token"})
        return self.kit.Reply(200, json={"data": [{"id": "141981764"}],
                                         "client": seen.headers.get("client-id")})


@pytest.fixture
def provider(kit, server, make_canary):
    return Provider(kit, server, make_canary("token"))


def test_twitch_style_headers_are_attached(kit, server, make_manager, provider):
    auth = kit.auth(kit.service(), client_id="hof5gwx0su6owfnys0yan9c87zr6t", client_secret="s")
    with build_client(auth, make_manager()) as client:
        response = client.get("/users", params={"login": "twitchdev"})
    assert response.status_code == 200
    (seen,) = server.requests("/api/users")
    assert seen.headers["authorization"] == f"Bearer {provider.issued[0]}"
    assert seen.headers["client-id"] == "hof5gwx0su6owfnys0yan9c87zr6t"
    assert seen.path == "/api/users?login=twitchdev"


def test_shopify_style_header_is_attached(kit, server, make_manager):
    server.default("/token", kit.Reply(200, json={
        "access_token": "f85632530bf277ec9ac6f649fc327f17",
        "scope": "write_orders,read_customers", "expires_in": 86399}))
    server.default("/api/shop.json", kit.Reply(200, json={"shop": {"name": "My Store"}}))
    service = kit.service(headers={"X-Shopify-Access-Token": "{{access_token}}"},
                          default_token_type="bearer", scope_separator=",",
                          scopes=("write_orders", "read_customers"))
    auth = kit.auth(service, client_id="a", client_secret="b")
    with build_client(auth, make_manager()) as client:
        assert client.get("/shop.json").json() == {"shop": {"name": "My Store"}}
    (seen,) = server.requests("/api/shop.json")
    assert seen.headers["x-shopify-access-token"] == "f85632530bf277ec9ac6f649fc327f17"
    assert "authorization" not in seen.headers


def test_async_client_attaches_the_same_headers(kit, server, make_manager, provider):
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager = make_manager()

    async def main():
        async with build_async_client(auth, manager) as client:
            return await asyncio.gather(*(client.get("/users") for _ in range(50)))

    responses = asyncio.run(main())
    assert {r.status_code for r in responses} == {200}
    assert server.count("/token") == 1
    assert server.count("/api/users") == 50


def test_401_drops_the_token_fetches_once_and_retries_once(kit, server, make_manager, provider):
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    with build_client(auth, make_manager()) as client:
        assert client.get("/users").status_code == 200
        provider.revoked.add(provider.issued[0])
        response = client.get("/users")
    assert response.status_code == 200
    assert server.count("/token") == 2
    assert server.count("/api/users") == 3
    assert server.requests("/api/users")[-1].headers["authorization"].endswith(provider.issued[1])


def test_401_refresh_posts_the_body_again(kit, server, make_manager, provider):
    server.default("/api/items", lambda seen: provider.api(seen) if provider.api(
        seen).status != 200 else kit.Reply(201, body=seen.body))
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager = make_manager()
    first = manager.get_token(auth)
    provider.revoked.add(first.access_token.reveal())
    with build_client(auth, manager) as client:
        response = client.post("/items", content=b'{"name": "x"}')
    assert response.status_code == 201
    assert response.content == b'{"name": "x"}'
    assert [s.body for s in server.requests("/api/items")] == [b'{"name": "x"}'] * 2


def test_second_401_raises_unauthorized_naming_service_and_authentication(
    kit, server, make_manager, provider, make_canary
):
    secret = make_canary("secret")
    server.default("/api/users", kit.Reply(401, json={
        "error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}))
    auth = kit.auth(kit.service(), client_id="cid", client_secret=secret)
    with build_client(auth, make_manager()) as client, pytest.raises(UnauthorizedError) as info:
        client.get("/users")
    text = str(info.value)
    assert "service 'demo', authentication 'main'" in text
    assert "Invalid OAuth token" in text
    assert info.value.status == 401
    assert secret not in text
    assert all(token not in text for token in provider.issued)
    assert server.count("/token") == 2
    assert server.count("/api/users") == 2


def test_second_401_raises_in_async_clients_too(kit, server, make_manager, provider):
    server.default("/api/users", kit.Reply(401, body="nope"))
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager = make_manager()

    async def main():
        async with build_async_client(auth, manager) as client:
            await client.get("/users")

    with pytest.raises(UnauthorizedError, match="nope"):
        asyncio.run(main())
    assert server.count("/token") == 2


def test_200_tasks_hitting_a_revoked_token_cause_one_refresh(kit, server, make_manager,
                                                              provider):
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager = make_manager()
    provider.revoked.add(manager.get_token(auth).access_token.reveal())

    async def main():
        async with build_async_client(auth, manager) as client:
            return await asyncio.gather(*(client.get("/users") for _ in range(200)))

    responses = asyncio.run(main())
    assert {r.status_code for r in responses} == {200}
    assert server.count("/token") == 2
    assert server.count("/api/users") <= 400


def test_request_to_a_host_outside_allowed_hosts_is_refused_before_a_token(
    kit, server, make_manager, provider
):
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    with build_client(auth, make_manager()) as client, pytest.raises(NetworkPolicyError):
        client.get("https://evil.example.com/steal")
    assert server.count("/token") == 0


def test_plain_http_to_loopback_needs_allow_loopback(kit, make_manager):
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    with pytest.raises(NetworkPolicyError):
        build_client(auth, make_manager(), HttpSettings(allow_loopback=False))


def test_redirects_are_not_followed(kit, server, make_manager, provider):
    server.default("/api/moved", kit.Reply(302, headers={"Location": "/api/users"}))
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    with build_client(auth, make_manager()) as client:
        response = client.get("/moved")
    assert response.status_code == 302
    assert server.count("/api/users") == 0


def test_opted_in_redirect_to_another_origin_carries_no_token(kit, server, make_manager,
                                                              provider):
    other = f"http://localhost:{server.port}/api/echo"
    server.default("/api/moved", kit.Reply(302, headers={"Location": other}))
    server.default("/api/echo", kit.Reply(200, json={}))
    service = kit.service()
    service = dataclasses.replace(service, allowed_hosts=("127.0.0.1", "localhost"))
    auth = kit.auth(service, client_id="cid", client_secret="s")
    with build_client(auth, make_manager()) as client:
        response = client.get("/moved", follow_redirects=True)
    assert response.status_code == 200
    (seen,) = server.requests("/api/echo")
    assert "authorization" not in seen.headers
    assert "client-id" not in seen.headers


def test_opted_in_redirect_to_a_disallowed_host_is_refused(kit, server, make_manager, provider):
    server.default("/api/moved", kit.Reply(302, headers={"Location": "https://evil.example/x"}))
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    with build_client(auth, make_manager()) as client, pytest.raises(NetworkPolicyError):
        client.get("/moved", follow_redirects=True)


def test_settings_transport_routes_token_and_api_requests(kit, make_manager):
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})
        return httpx.Response(200, json={"auth": request.headers["authorization"]})

    settings = HttpSettings(allow_loopback=True, transport=httpx.MockTransport(handler))
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager = make_manager(settings=settings)
    with build_client(auth, manager) as client:
        assert client.get("/users").json() == {"auth": "Bearer t"}
    assert seen == ["/token", "/api/users"]


def test_async_transport_routes_async_token_requests(kit, make_manager):
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})
        return httpx.Response(200, json={})

    settings = HttpSettings(allow_loopback=True, async_transport=httpx.MockTransport(handler))
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager = make_manager(settings=settings)

    async def main():
        async with build_async_client(auth, manager) as client:
            return (await client.get("/users")).status_code

    assert asyncio.run(main()) == 200
    assert seen == ["/token", "/api/users"]


def test_service_auth_is_not_driven_through_plain_auth_flow(kit, make_manager):
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    service_auth = ServiceAuth(auth, make_manager(), allow_loopback=True)
    with pytest.raises(TypeError, match=r"httpx\.Client"):
        service_auth.auth_flow(httpx.Request("GET", "http://127.0.0.1/"))


def test_second_401_masks_a_secret_reference_resolved_after_the_client_was_built(
    kit, server, make_manager, make_canary
):
    # The client (and its redactor's list) is built before the reference is first resolved,
    # by the token request; an API that echoes the secret in its 401 body must still not
    # show it in the error.
    from connector_sdk._secrets import SecretReference

    secret = make_canary("referenced")
    server.default("/token", kit.token_reply("tok-1", expires_in=3600))
    server.default("/api/users", kit.Reply(401, json={
        "error": "Unauthorized", "message": f"bad credentials for secret {secret}"}))
    reference = SecretReference("env:DEMO_SECRET").bound(lambda where: secret)
    auth = kit.auth(kit.service(), client_id="cid")
    auth = type(auth)(auth.name, auth.service, {**auth.parameters, "client_secret": reference})
    with build_client(auth, make_manager()) as client, pytest.raises(UnauthorizedError) as info:
        client.get("/users")
    text = str(info.value)
    assert "bad credentials for secret" in text
    assert secret not in text
    assert secret not in (info.value.provider_message or "")
