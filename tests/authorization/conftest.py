"""Fixtures of the authorization-code tests: both store backends, the fleet's real
PostgreSQL (``tests/fleet/conftest.py``: from ``scripts/services`` or started here; skipped
locally without it, a failure under ``CONNECTOR_SDK_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

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
