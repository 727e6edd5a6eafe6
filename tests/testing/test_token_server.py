"""The kit's OAuth2 token server, driven by the SDK's real token layer (no mocks): it counts
requests, expires and revokes on demand, injects faults, and checks client credentials."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from connector_sdk import (
    Runtime,
    TokenEndpointError,
    TokenResponseError,
    TokenTransportError,
)
from connector_sdk.testing import (
    APIServer,
    LoopbackServer,
    Reply,
    TokenServer,
    authentication,
    faults,
    loopback_service,
)


@pytest.fixture
def runtime(make_sdk_runtime: Callable[..., Runtime]) -> Runtime:
    return make_sdk_runtime(timeout=2.0)


def auth_for(server: LoopbackServer, secret: str = "s3cret", **service: object):
    return authentication(loopback_service(server, **service), client_id="app",
                          client_secret=secret)


def test_a_token_is_issued_and_counted(runtime: Runtime, token_server: TokenServer,
                                       local_server: LoopbackServer) -> None:
    token = runtime.get_token(auth_for(local_server))
    assert token_server.count == 1
    assert token_server.issued == [token.access_token.reveal()]
    assert token_server.valid(token.access_token.reveal())
    assert token_server.requests[0].form()["grant_type"] == "client_credentials"


def test_concurrent_callers_share_one_token_request(runtime: Runtime, token_server: TokenServer,
                                                    local_server: LoopbackServer) -> None:
    auth = auth_for(local_server)
    token_server.fail_next(Reply(200, json={"access_token": "slow", "expires_in": 60,
                                                   "token_type": "bearer"}, delay=0.5))
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(
        runtime.get_token(auth).access_token.reveal())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["slow"] * 16
    assert token_server.count == 1


def test_an_expired_token_gets_a_401_and_one_refresh(
    runtime: Runtime, token_server: TokenServer, api_server: APIServer,
    local_server: LoopbackServer,
) -> None:
    api_server.route("GET", "/api/things", json={"things": [1]})
    auth = auth_for(local_server)
    with runtime.client(auth) as client:
        assert client.get("/things").json() == {"things": [1]}
        assert token_server.expire() == 1
        response = client.get("/things")
    assert response.status_code == 200
    assert token_server.count == 2
    assert api_server.count("/api/things") == 3  # first, refused with 401, retried


def test_a_revoked_token_is_refused_by_the_api(token_server: TokenServer,
                                               api_server: APIServer) -> None:
    api_server.route("GET", "/v1/me", json={"ok": True})
    token = token_server.issue()
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(api_server.url + "/v1/me", headers=headers).status_code == 200
    token_server.revoke(token)
    refused = httpx.get(api_server.url + "/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_5xx_is_retried(runtime: Runtime, token_server: TokenServer,
                          local_server: LoopbackServer) -> None:
    token_server.fail_next(faults.status(503), faults.status(502))
    assert runtime.get_token(auth_for(local_server)).access_token.reveal() in token_server.issued
    assert token_server.count == 3


def test_retry_after_is_waited_for(runtime: Runtime, token_server: TokenServer,
                                   local_server: LoopbackServer) -> None:
    token_server.fail_next(faults.rate_limited(retry_after=1))
    runtime.get_token(auth_for(local_server))
    first, second = token_server.requests
    assert second.received_at - first.received_at >= 0.95


def test_a_hanging_endpoint_times_out(make_sdk_runtime: Callable[..., Runtime],
                                      token_server: TokenServer,
                                      local_server: LoopbackServer) -> None:
    runtime = make_sdk_runtime(timeout=0.3,
                               token_manager_options={"retry": _one_attempt()})
    token_server.fail_next(faults.hang(30))
    started = time.monotonic()
    with pytest.raises(TokenTransportError):
        runtime.get_token(auth_for(local_server))
    assert time.monotonic() - started < 20


def _one_attempt():  # type: ignore[no-untyped-def]
    from connector_sdk._http.retry import RetryPolicy

    return RetryPolicy(max_attempts=1)


def test_a_body_that_is_not_json_is_a_token_response_error(
    runtime: Runtime, token_server: TokenServer, local_server: LoopbackServer
) -> None:
    token_server.fail_next(faults.bad_body())
    with pytest.raises(TokenResponseError):
        runtime.get_token(auth_for(local_server))


def test_wrong_credentials_are_invalid_client(runtime: Runtime, local_server: LoopbackServer
                                              ) -> None:
    TokenServer(local_server, clients={"app": "right"})
    with pytest.raises(TokenEndpointError, match="invalid_client"):
        runtime.get_token(auth_for(local_server, secret="wrong"))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_both_client_authentication_methods_are_accepted(
    runtime: Runtime, local_server: LoopbackServer, method: str
) -> None:
    tokens = TokenServer(local_server, clients={"app": "p&ss w+rd:%"})
    runtime.get_token(auth_for(local_server, secret="p&ss w+rd:%", client_auth=method))
    assert tokens.count == 1
    sent = tokens.requests[0]
    assert ("authorization" in sent.headers) == (method == "client_secret_basic")


def test_the_clock_decides_expiry(fake_clock: Callable[[], float],
                                  local_server: LoopbackServer) -> None:
    tokens = TokenServer(local_server, clock=fake_clock, expires_in=60)
    token = tokens.issue()
    fake_clock.advance(59)  # type: ignore[attr-defined]
    assert tokens.valid(token)
    fake_clock.advance(1)  # type: ignore[attr-defined]
    assert not tokens.valid(token)


def test_other_grant_types_are_refused(token_server: TokenServer) -> None:
    answer = httpx.post(token_server.url, data={"grant_type": "password", "client_id": "a",
                                                "client_secret": "b"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_a_templated_path_serves_every_tenant(runtime: Runtime, local_server: LoopbackServer
                                              ) -> None:
    from connector_sdk._manifest.model import ParameterSpec

    tokens = TokenServer(local_server, path="/{tenant}/oauth/token")
    tenant = ParameterSpec("tenant", secret=False, required=True, type="string")
    service = loopback_service(local_server, token_path="/{{tenant}}/oauth/token",
                               extra_parameters=(tenant,))
    for name in ("one", "two"):
        runtime.get_token(authentication(service, name, client_id="app", client_secret="s",
                                         tenant=name))
    assert [s.route for s in tokens.requests] == ["/one/oauth/token", "/two/oauth/token"]
