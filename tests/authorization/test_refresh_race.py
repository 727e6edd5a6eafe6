"""A slow refresh answer cannot lose a user's consent.

The provider spends the rotating refresh token R1 at once and issues R2, but its answer is
slow. Before the fix, a second runtime on the same store whose lease wait ran out sent R1
itself, got ``invalid_grant`` at once, marked the record ``needs_reconsent``, and the first
runtime, losing its compare-and-set, dropped R2: the consent was gone although a live refresh
token had been issued. Each test runs two runtimes (each its own token manager, as two
processes have) in threads on one store, against ``OAuthSandbox`` on a loopback
``SandboxServer`` whose refresh answers are held after the token was spent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk import NeedsReconsent, Runtime, TokenTransportError
from connector_sdk._auth.single_flight import LeasePolicy
from connector_sdk.sandbox import OAuthSandbox, SandboxServer, SandboxTransport

from .provider import CLIENT_ID, ProviderPlugin

SECRET = "race-client-secret-0123456789"
REDIRECT = "http://127.0.0.1:9/callback"
HOLD = 5.0  # how long an accepted refresh's answer is held (the lease waits are 1 s or less)


class SlowAnswers:
    """``OAuthSandbox`` whose accepted refresh answers arrive ``HOLD`` s after the refresh
    token was spent; refused ones answer at once. ``spent`` is set when the first accepted
    refresh is being held."""

    name = "oauth"

    def __init__(self, sandbox: OAuthSandbox) -> None:
        self.sandbox = sandbox
        self.spent = threading.Event()
        self.refreshes: list[int] = []  # the status of each refresh answer
        self.hold = 0.0

    def serves(self, host: str) -> bool:
        return self.sandbox.serves(host)

    def handle(self, request: httpx.Request) -> httpx.Response:
        refresh = request.method == "POST" and b"grant_type=refresh_token" in request.content
        answer = self.sandbox.handle(request)
        if refresh:
            self.refreshes.append(answer.status_code)
            if answer.status_code == 200 and self.hold:
                self.spent.set()
                time.sleep(self.hold)
        return answer


@pytest.fixture
def slow() -> Iterator[tuple[SlowAnswers, SandboxServer]]:
    answers = SlowAnswers(OAuthSandbox(host="127.0.0.1", clients={CLIENT_ID: SECRET},
                                       token_lifetime=2))
    server = SandboxServer(answers).start()
    try:
        yield answers, server
    finally:
        server.stop()


def _runtimes(slow: tuple[SlowAnswers, SandboxServer], tmp_path: Path, key_text: str,
              store: str | None, lease: LeasePolicy) -> Iterator[Runtime]:
    environ = {"CONNECTOR_SDK_SECRET_KEY": key_text, "CONNECTOR_SDK_HOME": str(tmp_path)}
    while True:
        yield Runtime(environ=environ, allow_loopback=True, store=store,
                      token_manager_options={"lease": lease},
                      extra_plugins={"provider": ProviderPlugin(slow[1].port)})


def _race(slow: tuple[SlowAnswers, SandboxServer], a: Runtime, b: Runtime,
          *, b_async: bool = False, hold: float = HOLD) -> dict[str, Any]:
    """Connect, let the access token expire, then A refreshes (held) and B asks meanwhile."""
    answers = slow[0]
    begun = a.begin_authorization("acmeauth", "shared", {
        "client_id": CLIENT_ID, "client_secret": SECRET}, redirect_url=REDIRECT)
    a.complete_authorization(answers.sandbox.approve(begun.url))
    answers.sandbox.token_lifetime = 3600  # R2's access token stays fresh
    time.sleep(2.5)  # the stored access token has expired
    answers.hold = hold
    out: dict[str, Any] = {}

    def ask(name: str, runtime: Runtime) -> None:
        try:
            if name == "B" and b_async:
                import asyncio

                out[name] = asyncio.run(runtime.aget_token("shared"))
            else:
                out[name] = runtime.get_token("shared")
        except Exception as exc:  # the outcome is what the test asserts
            out[name] = exc

    first = threading.Thread(target=ask, args=("A", a))
    first.start()
    assert answers.spent.wait(30), "A's refresh never reached the provider"
    second = threading.Thread(target=ask, args=("B", b))
    second.start()
    first.join(60)
    second.join(60)
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stored_refresh_token_works(runtime: Runtime, answers: SlowAnswers) -> bool:
    stored = json.loads(runtime.store.get("shared").tokens.reveal())
    answers.hold = 0.0
    with httpx.Client(transport=SandboxTransport(answers.sandbox)) as http:
        answer = http.post("http://127.0.0.1/token", auth=(CLIENT_ID, SECRET), data={
            "grant_type": "refresh_token", "refresh_token": stored["refresh_token"]})
    return answer.status_code == 200


@pytest.mark.parametrize(("backend", "b_async"), [
    ("sqlite", False), ("sqlite", True), ("postgresql", False)])
def test_a_waiter_whose_lease_wait_ran_out_waits_for_the_slow_refresh(
    backend: str, b_async: bool, slow: tuple[SlowAnswers, SandboxServer], tmp_path: Path,
    key_text: str, request: pytest.FixtureRequest,
) -> None:
    store = None if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    make = _runtimes(slow, tmp_path, key_text, store, LeasePolicy(ttl=30, wait=1.0))
    with next(make) as a, next(make) as b:
        out = _race(slow, a, b, b_async=b_async)
        assert not isinstance(out["A"], Exception), repr(out["A"])
        assert not isinstance(out["B"], Exception), repr(out["B"])
        record = a.store.get("shared")
        stored = json.loads(record.tokens.reveal())
        assert record.status == "active"
        assert slow[0].refreshes == [200]  # B never spent the refresh token concurrently
        assert {_digest(out[n].access_token.reveal()) for n in "AB"} == {
            _digest(stored["access_token"])}  # both were served R2's access token
        assert _stored_refresh_token_works(a, slow[0])  # the consent is kept


def test_a_refusal_caused_by_a_slow_holder_does_not_lose_the_tokens_it_was_issued(
    slow: tuple[SlowAnswers, SandboxServer], tmp_path: Path, key_text: str,
) -> None:
    # the lease (1 s) is outlived by the held answer (4 s): B takes the expired lease, sends
    # the spent R1, is refused and marks needs_reconsent; A's answer then arrives, its
    # compare-and-set loses, and it must write R2 over the mark rather than drop it
    make = _runtimes(slow, tmp_path, key_text, None, LeasePolicy(ttl=1.0, wait=0.5))
    with next(make) as a, next(make) as b:
        out = _race(slow, a, b)
        assert not isinstance(out["A"], Exception), repr(out["A"])
        assert slow[0].refreshes == [200, 400]  # B did send R1, under the lease
        record = a.store.get("shared")
        assert record.status == "active"
        stored = json.loads(record.tokens.reveal())
        assert stored["access_token"] == out["A"].access_token.reveal()
        # B's own call was refused, but the authentication is not lost: its next call works
        assert isinstance(out["B"], NeedsReconsent)
        assert b.get_token("shared").access_token.reveal() == stored["access_token"]
        assert _stored_refresh_token_works(a, slow[0])


def test_a_waiter_gives_up_without_refreshing_while_another_holds_the_lease(
    slow: tuple[SlowAnswers, SandboxServer], tmp_path: Path, key_text: str,
) -> None:
    # A's lease lasts 600 s; B's own policy waits 0.5 + 1 s: B fails with a transient error
    # instead of spending the refresh token, and its next call reads A's tokens
    a = next(_runtimes(slow, tmp_path, key_text, None, LeasePolicy(ttl=600, wait=30)))
    b = next(_runtimes(slow, tmp_path, key_text, None, LeasePolicy(ttl=1.0, wait=0.5)))
    with a, b:
        out = _race(slow, a, b, hold=7.0)  # well past B's 1.5 s, within the 10 s read timeout
        assert not isinstance(out["A"], Exception), repr(out["A"])
        assert isinstance(out["B"], TokenTransportError), repr(out["B"])
        assert "no second refresh was sent" in str(out["B"])
        assert slow[0].refreshes == [200]
        assert a.store.get("shared").status == "active"
        assert b.get_token("shared").access_token == out["A"].access_token
