"""The authorization-code flow against a real provider on 127.0.0.1: begin, consent,
complete, the stored tokens used by a client; and every refusal of the callback."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from connector_sdk import AuthorizationError, AuthorizationRequest
from connector_sdk.sandbox import verify_pkce
from connector_sdk.testing import assert_no_canary

from .provider import CLIENT_ID

REDIRECT = "http://127.0.0.1:9/callback"


def params(canary: str, **more: str) -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": canary, **more}


def test_the_whole_flow_stores_sealed_tokens_and_calls_the_api(
    make_runtime: Any, provider: Any, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = make_runtime()
    begun = runtime.begin_authorization("acmeauth", "alice", params(canary),
                                        redirect_url=REDIRECT)
    assert isinstance(begun, AuthorizationRequest)
    query = parse_qs(urlsplit(begun.url).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT] and query["state"] == [begun.state]
    assert query["scope"] == ["user:read chat:edit"]  # RFC 6749 §3.3: space-separated
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43 and canary not in begun.url
    assert begun.state not in repr(begun) and "url=<hidden>" in repr(begun)
    callback = provider.approve(begun.url)
    caplog.clear()  # the test's own request to the provider is not the SDK's to hide
    record = runtime.complete_authorization(callback)
    assert (record.name, record.service, record.grant, record.status) == (
        "alice", "acmeauth", "authorization_code", "active")
    assert "tokens" not in record.parameters and "refresh_token" not in repr(record.tokens)
    form = provider.token_forms[-1]
    assert form["grant_type"] == "authorization_code" and form["redirect_uri"] == REDIRECT
    assert verify_pkce(query["code_challenge"][0], "S256", form["code_verifier"])
    assert 43 <= len(form["code_verifier"]) <= 128
    with runtime.client("alice") as client:
        assert client.get("/api/me").status_code == 200
    assert provider.refreshes == 0  # the stored access token was used
    for text in (repr(record), caplog.text, repr(runtime.get_authentication("alice"))):
        assert_no_canary(text, canary, begun.state, callback)


def test_an_expired_access_token_is_refreshed_and_the_rotated_token_kept(
    make_runtime: Any, provider: Any, canary: str
) -> None:
    runtime = make_runtime()
    begun = runtime.begin_authorization("acmeauth", "bob", params(canary),
                                        redirect_url=REDIRECT)
    runtime.complete_authorization(provider.approve(begun.url))
    before = runtime.store.get("bob")
    provider.expire_access_tokens()
    with runtime.client("bob") as client:  # held token refused: 401, one refresh, retry
        assert client.get("/api/me").status_code == 200
    assert provider.refreshes == 1
    after = runtime.store.get("bob")
    assert after.version == before.version + 1
    old, new = (json.loads(r.tokens.reveal()) for r in (before, after))
    assert new["refresh_token"] != old["refresh_token"]  # the rotated one was stored
    fresh = make_runtime()  # another process: reads the rotated tokens from the store
    with fresh.client("bob") as client:
        assert client.get("/api/me").status_code == 200
    assert provider.refreshes == 1


def test_a_declined_consent_is_access_denied(make_runtime: Any, provider: Any,
                                             canary: str) -> None:
    runtime = make_runtime()
    begun = runtime.begin_authorization("acmeauth", "carol", params(canary),
                                        redirect_url=REDIRECT)
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(provider.approve(begun.url, deny=True))
    assert caught.value.reason == "access_denied" and "carol" in str(caught.value)
    assert [r.name for r in runtime.list_authentications()] == []


def test_a_replayed_state_or_code_is_refused(make_runtime: Any, provider: Any,
                                             canary: str) -> None:
    runtime = make_runtime()
    begun = runtime.begin_authorization("acmeauth", "dave", params(canary),
                                        redirect_url=REDIRECT)
    callback = provider.approve(begun.url)
    runtime.complete_authorization(callback)
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(callback)
    assert caught.value.reason == "state_replayed"
    # the same code with a fresh state: the provider refuses the spent code
    again = runtime.begin_authorization("acmeauth", "dave", params(canary),
                                        redirect_url=REDIRECT)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    forged = f"{REDIRECT}?{urlencode({'code': code, 'state': again.state})}"
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(forged)
    assert caught.value.reason == "invalid_grant"
    assert_no_canary(str(caught.value), code, again.state, canary)


def test_an_unknown_or_missing_state_is_refused(make_runtime: Any) -> None:
    runtime = make_runtime()
    for url in (f"{REDIRECT}?code=x&state=never-issued", f"{REDIRECT}?code=x",
                f"{REDIRECT}?code=x&state=a&state=b"):
        with pytest.raises(AuthorizationError) as caught:
            runtime.complete_authorization(url)
        assert caught.value.reason == "state_unknown"


def test_an_expired_state_is_refused(make_runtime: Any, provider: Any, canary: str) -> None:
    from connector_sdk._runtime.authorization import begin

    runtime = make_runtime()
    begun = begin(runtime, "acmeauth", "erin", params(canary), redirect_url=REDIRECT,
                  lifetime=0.5)
    callback = provider.approve(begun.url)
    time.sleep(1.0)
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(callback)
    assert caught.value.reason == "state_expired"
    assert provider.exchanges == 0


def test_a_state_completed_for_another_organisation_is_refused(
    make_runtime: Any, provider: Any, canary: str
) -> None:
    runtime = make_runtime()
    begun = runtime.begin_authorization("acmeauth", "frank", params(canary),
                                        organisation="acme", redirect_url=REDIRECT)
    callback = provider.approve(begun.url)
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(callback, organisation="globex")
    assert caught.value.reason == "organisation_mismatch"
    assert provider.exchanges == 0


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(
    make_runtime: Any, provider: Any, canary: str, tmp_path: Any
) -> None:
    runtime = make_runtime()
    begun = runtime.begin_authorization("acmeauth", "gina", params(canary),
                                        redirect_url=REDIRECT)
    # an attacker who intercepted the code completes it with their own pending state
    # (another verifier): the provider checks the verifier against the first challenge
    mine = runtime.begin_authorization("acmeauth", "gina2", params(canary),
                                       redirect_url=REDIRECT)
    code = parse_qs(urlsplit(provider.approve(begun.url)).query)["code"][0]
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(
            f"{REDIRECT}?{urlencode({'code': code, 'state': mine.state})}")
    assert caught.value.reason == "invalid_grant"
    assert "PKCE verifier" in str(caught.value)


def test_the_async_twins_complete_a_flow(make_runtime: Any, provider: Any,
                                         canary: str) -> None:
    runtime = make_runtime()

    async def flow() -> Any:
        begun = await runtime.abegin_authorization("acmeauth", "hank", params(canary),
                                                   redirect_url=REDIRECT)
        callback = await asyncio.to_thread(provider.approve, begun.url)
        return await runtime.acomplete_authorization(callback)

    assert asyncio.run(flow()).grant == "authorization_code"
    assert asyncio.run(runtime.aget_token("hank")).token_type == "Bearer"
    provider.expire_access_tokens()

    async def call() -> int:
        async with runtime.async_client("hank") as client:
            return (await client.get("/api/me")).status_code

    assert asyncio.run(call()) == 200  # 401, one refresh through the async path, retry
    assert provider.refreshes == 1

