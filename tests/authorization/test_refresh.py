"""Refresh that cannot lose a user's consent: processes refreshing one rotating refresh
token at once send one request and all get the new token; invalid_grant marks the record
needs_reconsent (kept), and every later call says so until it is connected again."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk import NeedsReconsent
from connector_sdk.sandbox import SandboxTransport
from connector_sdk.testing import assert_no_canary

from .provider import CLIENT_ID

REDIRECT = "http://127.0.0.1:9/callback"
WORKER = Path(__file__).with_name("_refresh_worker.py")


def _connect(runtime: Any, provider: Any, canary: str, name: str) -> Any:
    begun = runtime.begin_authorization("acmeauth", name, {
        "client_id": CLIENT_ID, "client_secret": canary}, redirect_url=REDIRECT)
    return runtime.complete_authorization(provider.approve(begun.url))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_refreshing_one_rotating_token_at_once_send_one_request(
    backend: str, make_runtime: Any, provider: Any, canary: str, key_text: str,
    tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    store = "" if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    provider.oauth.token_lifetime = 2
    provider.refresh_delay = 0.5  # the refresh answer takes a while: the workers overlap
    runtime = make_runtime(store=store or None)
    _connect(runtime, provider, canary, "shared")
    time.sleep(2.5)  # the stored access token has expired
    start = str(time.time() + 4.0)
    workers = [subprocess.Popen(
        [sys.executable, str(WORKER), store, str(tmp_path / "home"), key_text,
         str(provider.port), "shared", start], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for _ in range(3)]
    results = [w.communicate(timeout=120) for w in workers]
    for out, err in results:
        assert_no_canary(out + err, canary)
    assert all(w.returncode == 0 for w in workers), [err[-500:] for _, err in results]
    digests = {json.loads(out)["token"] for out, _ in results}
    assert provider.refreshes == 1  # one refresh request for every process
    record = runtime.store.get("shared")
    stored = json.loads(record.tokens.reveal())
    assert digests == {_digest(stored["access_token"])}  # all served the new token
    assert provider.oauth.consent.refresh_tokens_spent == 1  # only the one refreshed
    with httpx.Client(transport=SandboxTransport(provider.oauth)) as http:  # the kept one
        live = http.post("http://127.0.0.1/token", auth=(CLIENT_ID, canary), data={
            "grant_type": "refresh_token", "refresh_token": stored["refresh_token"]})
    assert live.status_code == 200, live.text
    assert record.status == "active"


def test_invalid_grant_marks_the_authentication_needs_reconsent(
    make_runtime: Any, provider: Any, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    runtime = make_runtime()
    _connect(runtime, provider, canary, "gone")
    tokens = json.loads(runtime.store.get("gone").tokens.reveal())
    caplog.set_level(logging.DEBUG)
    caplog.clear()  # from here on, only the SDK logs
    provider.revoke_refresh_tokens()   # the user revoked the app
    provider.expire_access_tokens()
    with runtime.client("gone") as client, pytest.raises(NeedsReconsent) as caught:
        client.get("/api/me")
    message = str(caught.value)
    assert "connector-sdk auth connect acmeauth --name gone" in message
    assert_no_canary(message + caplog.text + repr(caught.value), canary,
                     tokens["access_token"], tokens["refresh_token"])
    record = runtime.store.get("gone")
    assert record.status == "needs_reconsent" and record.tokens is not None  # kept
    requests = provider.refreshes
    later = make_runtime()  # another process: refused at once, nothing sent
    with pytest.raises(NeedsReconsent, match="gone"):
        later.get_token("gone")
    assert provider.refreshes == requests
    _connect(later, provider, canary, "gone")  # connecting again restores it
    assert later.store.get("gone").status == "active"
    with later.client("gone") as client:
        assert client.get("/api/me").status_code == 200
    # the first process sees the reconnection at once (no cooldown replaying the refusal)
    with runtime.client("gone") as client:
        assert client.get("/api/me").status_code == 200


def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one() -> None:
    from connector_sdk import Secret
    from connector_sdk._auth.response import TokenGrant
    from connector_sdk._auth.user_tokens import UserTokens

    first = UserTokens.from_grant(TokenGrant(Secret("a1"), "Bearer", (), 60.0,
                                             refresh_token=Secret("r1")), now=100.0)
    second = UserTokens.from_grant(TokenGrant(Secret("a2"), "Bearer", (), 60.0), now=200.0,
                                   previous=first)
    assert second.refresh_token is not None and second.refresh_token.reveal() == "r1"
    assert second.token.expires_at == 260.0
    rotated = UserTokens.from_grant(TokenGrant(Secret("a3"), "Bearer", (), 60.0,
                                               refresh_token=Secret("r2")), now=300.0,
                                    previous=second)
    assert rotated.refresh_token is not None and rotated.refresh_token.reveal() == "r2"
    lasting = UserTokens.from_grant(TokenGrant(Secret("a"), "Bearer", (), 3600.0,
                                               expires_given=False), now=1.0)
    assert lasting.token.expires_at is None  # kept until the API refuses it
    assert UserTokens.from_secret(rotated.to_secret(), name="n").refresh_token == Secret("r2")
