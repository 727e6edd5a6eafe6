"""Fixtures of the authorization-code tests: both store backends, the fleet's real
PostgreSQL (``tests/fleet/conftest.py``: from ``scripts/services`` or started here; skipped
locally without it, a failure under ``CONNECTOR_SDK_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk._stores.crypto import SecretCipher, generate_key_text

FLEET = Path(__file__).parents[1] / "fleet"
sys.path.insert(0, str(FLEET))
_spec = importlib.util.spec_from_file_location("_fleet_conftest", FLEET / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fleet = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fleet)

postgresql_server_url = _fleet.postgresql_server_url
postgresql_url = _fleet.postgresql_url


@pytest.fixture
def key_text() -> str:
    return generate_key_text()


def cipher_of(key_text: str) -> SecretCipher:
    import base64

    return SecretCipher(base64.urlsafe_b64decode(key_text), origin="CONNECTOR_SDK_SECRET_KEY")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store of each backend, as a URL (``CONNECTOR_SDK_STORE``)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'db' / 'authentications.db'}"
    else:
        yield request.getfixturevalue("postgresql_url")


@pytest.fixture
def provider(canary: str) -> Iterator[Any]:
    """The loopback authorization servers (``provider.py``); the client secret is the canary."""
    from .provider import Provider

    server = Provider(canary)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_runtime(tmp_path: Path, provider: Any, key_text: str) -> Iterator[Any]:
    """``make_runtime(store=None, **options)``: runtimes sharing this test's home and key,
    with the provider's services installed; closed after the test."""
    from connector_sdk import Runtime

    from .provider import ProviderPlugin

    made: list[Any] = []

    def make(store: str | None = None, **options: Any) -> Any:
        environ = {"CONNECTOR_SDK_SECRET_KEY": key_text, "CONNECTOR_SDK_HOME":
                   str(tmp_path / "home")}
        runtime = Runtime(environ=environ, allow_loopback=True, store=store,
                          sandbox_url=provider.url,
                          extra_plugins={"provider": ProviderPlugin(provider.port)},
                          **options)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
