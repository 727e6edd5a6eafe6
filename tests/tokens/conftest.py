"""Fixtures for the token layer, from the test kit: its scriptable loopback HTTP server,
services built in code, its fake clock, and token managers that are closed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector_sdk import Authentication, Service
from connector_sdk._auth.manager import TokenManager
from connector_sdk._http.settings import HttpSettings
from connector_sdk.testing import (
    FAST_RETRY,
    FakeClock,
    LoopbackServer,
    Reply,
    Seen,
    authentication,
    loopback_service,
)

Handler = Callable[[Seen], Reply]


@pytest.fixture
def server(local_server: LoopbackServer) -> LoopbackServer:
    """The kit's loopback server: ``script``/``default`` answers, ``count``/``requests``."""
    return local_server


@pytest.fixture
def clock() -> FakeClock:
    """The kit's fake clock, as a monotonic one starting at 1000 s."""
    return FakeClock(1000.0)


def make_service(server: LoopbackServer, *, token_path: str = "/token", **kwargs: Any
                 ) -> Service:
    """A service whose token endpoint and API live on ``server`` (loopback, any port)."""
    kwargs.setdefault("source", "tests/tokens/conftest.py")
    return loopback_service(server, token_path=token_path, **kwargs)


def make_auth(service: Service, name: str = "main", **values: Any) -> Authentication:
    """An authentication; values of secret parameters are wrapped in ``Secret``."""
    return authentication(service, name, **values)


def token_reply(token: str, **extra: Any) -> Reply:
    return Reply(200, json={"access_token": token, "token_type": "bearer", **extra})


@pytest.fixture
def make_manager() -> Iterator[Callable[..., TokenManager]]:
    """Token managers with loopback allowed, a short timeout and fast backoff; closed after."""
    made: list[TokenManager] = []

    def make(**kwargs: Any) -> TokenManager:
        kwargs.setdefault("settings", HttpSettings(timeout=5.0, allow_loopback=True))
        kwargs.setdefault("retry", FAST_RETRY)
        manager = TokenManager(**kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()


class Kit:
    """Helpers for test modules (``--import-mode=importlib`` cannot import conftest)."""

    Reply = Reply
    FakeClock = FakeClock
    FAST_RETRY = FAST_RETRY

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server

    def service(self, **kwargs: Any) -> Service:
        return make_service(self.server, **kwargs)

    @staticmethod
    def auth(service: Service, name: str = "main", **values: Any) -> Authentication:
        return make_auth(service, name, **values)

    @staticmethod
    def token_reply(token: str, **extra: Any) -> Reply:
        return token_reply(token, **extra)


@pytest.fixture
def kit(server: LoopbackServer) -> Kit:
    return Kit(server)
