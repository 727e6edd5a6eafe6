"""Fixtures for the reliability suite: a loopback server that misbehaves on cue, services
built in code whose token endpoint and API live on it, runtimes wired to it, and
``figures`` to record what a test measured for ``scripts/reliability``.

The fault server is the test kit's ``LoopbackServer`` on 127.0.0.1; each route is scripted
with *behaviours* (``connector_sdk.testing.faults``), callables that get the raw exchange and
may answer, answer in part and reset, hang, trickle bytes or close without a word. Every
accepted TCP connection is counted, so a test can assert that nothing reached it at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import connector_sdk.testing as kit
from connector_sdk import Authentication, Runtime, Service
from connector_sdk._http.retry import RetryPolicy
from connector_sdk.sandbox import LoopbackRoutingTransport
from connector_sdk.testing import FAST_RETRY, LoopbackServer, faults

MARKERS = (
    "reliability: part of the reliability evidence suite (scripts/reliability)",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


# -- the fault server: the kit's loopback server and faults ----------------------------------

FaultServer = LoopbackServer
reply = faults.reply
token = faults.token
drop = faults.drop
reset = faults.reset
hang = faults.hang
reset_mid_body = faults.reset_mid_body
drop_mid_body = faults.drop_mid_body
trickle = faults.trickle
huge = faults.huge


@pytest.fixture
def fault_server(local_server: LoopbackServer) -> LoopbackServer:
    return local_server


@pytest.fixture
def other_server() -> Iterator[LoopbackServer]:
    """A second loopback server: where a redirect would take credentials."""
    with LoopbackServer() as server:
        yield server


# -- services and authentications on loopback ------------------------------------------------

TWITCH_HEADERS = {"Authorization": "Bearer {{access_token}}", "Client-Id": "{{client_id}}"}
SHOPIFY_HEADERS = {"X-Shopify-Access-Token": "{{access_token}}"}


def loopback_service(server: LoopbackServer, *, style: str = "twitch",
                     service_id: str = "faulty", token_path: str = "/token",
                     revocation: bool = False, **auth: Any) -> Service:
    """A service shaped like Twitch (Bearer + Client-Id) or Shopify (X-Shopify-Access-Token,
    no token_type) whose token endpoint and API are on ``server``."""
    headers = TWITCH_HEADERS if style == "twitch" else SHOPIFY_HEADERS
    if style == "shopify":
        auth.setdefault("default_token_type", "bearer")
    return kit.loopback_service(server, service_id=service_id, title="Faulty",
                                token_path=token_path, headers=headers,
                                revocation="/revoke" if revocation else None,
                                source="tests/reliability/conftest.py", **auth)


def authentication(service: Service, secret: str, *, client_id: str = "client-1",
                   name: str = "main") -> Authentication:
    return kit.authentication(service, name, client_id=client_id, client_secret=secret)


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Runtimes sharing one home, loopback allowed, a short timeout and fast backoff."""
    made: list[Runtime] = []

    def make(*, timeout: float = 2.0, retry: RetryPolicy = FAST_RETRY, **kwargs: Any) -> Runtime:
        runtime = kit.make_runtime(tmp_path / "home", timeout=timeout, retry=retry, **kwargs)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


# -- figures ---------------------------------------------------------------------------------


class Figures:
    """Adds figures to the test's report (``user_properties``) for reliability_plugin.py."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def scenario(self, scenario_id: str) -> None:
        """This test is one fault scenario; it survived if the test passes."""
        self._node.user_properties.append(("reliability.scenario", scenario_id))

    def add(self, name: str, amount: int = 1) -> None:
        """Add to a counted figure (``hostile.tried``, ``fuzz.examples``, ``canary.checks``)."""
        self._node.user_properties.append((f"reliability.{name}", amount))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    assert isinstance(request.node, pytest.Item)
    return Figures(request.node)


def EverythingToLoopback(port: int) -> LoopbackRoutingTransport:
    """Sends every request to one loopback port whatever its host (a stand-in for DNS that
    would resolve an attacker's host): a URL that got past the policy would arrive there."""
    return LoopbackRoutingTransport(f"http://127.0.0.1:{port}")


class ReliabilityKit:
    """Helpers for test modules (``--import-mode=importlib`` cannot import a conftest)."""

    reply = staticmethod(reply)
    token = staticmethod(token)
    drop = staticmethod(drop)
    reset = staticmethod(reset)
    hang = staticmethod(hang)
    reset_mid_body = staticmethod(reset_mid_body)
    drop_mid_body = staticmethod(drop_mid_body)
    trickle = staticmethod(trickle)
    huge = staticmethod(huge)
    service = staticmethod(loopback_service)
    authentication = staticmethod(authentication)
    EverythingToLoopback = staticmethod(EverythingToLoopback)
    FaultServer = FaultServer
    FAST_RETRY = FAST_RETRY


@pytest.fixture
def rk() -> type[ReliabilityKit]:
    return ReliabilityKit
