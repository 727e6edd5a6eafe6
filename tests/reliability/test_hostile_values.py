"""Hostile parameter values through the runtime: refused before any connection, naming the
parameter.

The values are tests/urls/hostile_values.py's (imported by path). Each one goes through what
an embedding program does: ``Runtime.authentication(...)`` (the parameter schema), then, for
an authentication that got past it (a weaker manifest, a record written by another tool),
``get_token`` and ``client()`` (the network policy). A real listener on 127.0.0.1 to which
the runtime's transport sends *every* request, whatever its host, must see no connection
until the valid control value is sent last.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from connector_sdk import Runtime
from connector_sdk._auth.parameters import validate_parameters
from connector_sdk._errors import NetworkPolicyError, ParameterError
from connector_sdk._http.settings import HttpSettings
from connector_sdk._manifest.model import (
    Authentication,
    ClientCredentialsAuth,
    ParameterSpec,
    Service,
)
from connector_sdk._manifest.templates import parse_template
from connector_sdk._secrets import Secret
from connector_sdk.testing import LoopbackServer, faults

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(60)]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_reliability_hostile_values", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DATA = _load(Path(__file__).parents[1] / "urls" / "hostile_values.py")
SHOPIFY_VALID = {"shopify_url": "my-store.myshopify.com", "client_id": "id",
                 "client_secret": "s", "api_version": "2025-10"}


@pytest.fixture
def listener(local_server: LoopbackServer) -> LoopbackServer:
    """The kit's loopback server answering any path with a token; it counts connections."""
    local_server.route("/{any:path}", faults.token("t", expires_in=60))
    return local_server


@pytest.fixture
def runtime(listener, tmp_path, rk) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    transport = rk.EverythingToLoopback(listener.port)
    settings = HttpSettings(timeout=2.0, transport=transport)
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "home")}, http=settings,
                 allow_loopback=False) as rt:
        yield rt
    transport.close()


def generic_service(token_url: str, base_url: str, allowed: str) -> Service:
    """A manifest as a careless author could write it: no pattern on the host parameter."""
    return Service(
        id="generic", title="Generic", version="1.0.0", description="no value constraints",
        parameters_schema={"type": "object"},
        parameters=(ParameterSpec("tenant", secret=False, required=True, type="string"),
                    ParameterSpec("client_id", secret=False, required=True, type="string"),
                    ParameterSpec("client_secret", secret=True, required=True,
                                  type="string")),
        auth=ClientCredentialsAuth(
            token_url=parse_template(token_url),
            client_id=parse_template("{{client_id}}"),
            client_secret=parse_template("{{client_secret}}"),
            headers={"Authorization": parse_template("Bearer {{access_token}}")}),
        allowed_hosts=(allowed,), base_url=parse_template(base_url), operations={},
        source="tests/reliability/test_hostile_values.py")


def names_parameter(error: Exception, name: str) -> bool:
    if isinstance(error, NetworkPolicyError):
        return error.parameter == name and name in str(error)
    if isinstance(error, ParameterError):
        return name in error.fields and name in str(error)
    return False


class Tally:
    """Counts values tried and refused (correctly: naming the parameter, no connection)."""

    def __init__(self) -> None:
        self.tried = 0
        self.failures: list[str] = []

    def check(self, label: str, name: str, attempt: Any) -> None:
        self.tried += 1
        try:
            attempt()
        except (NetworkPolicyError, ParameterError) as error:
            if not names_parameter(error, name):
                self.failures.append(f"{label}: refused without naming '{name}': {error}")
            return
        self.failures.append(f"{label}: accepted")

    def check_runtime(self, label: str, name: str, runtime: Runtime, service_id: str,
                      values: dict[str, Any]) -> bool:
        """What an embedding program does: create the authentication, then use it. Returns
        whether the schema step let the value through (the policy then refused it)."""
        try:
            auth = runtime.authentication(service_id, values)
        except (NetworkPolicyError, ParameterError) as error:
            self.tried += 1
            if not names_parameter(error, name):
                self.failures.append(f"{label}: refused without naming '{name}': {error}")
            return False
        for attempt in through_the_policy(runtime, auth):
            self.check(f"{label} (past the schema)", name, attempt)
        return True


def through_the_policy(runtime: Runtime, auth: Authentication) -> list[Any]:
    """The two ways a value reaches the network: the token request and the API client."""
    return [lambda: runtime.get_token(auth), lambda: runtime.client(auth).close()]


def test_hostile_shop_domains_are_refused_by_the_shopify_manifest(runtime, listener,
                                                                  figures):
    service = runtime.service("shopify")
    tally = Tally()
    past_schema: list[str] = []
    for hostile in DATA.HOST_VALUES:
        values = {**SHOPIFY_VALID, "shopify_url": hostile.value}
        if tally.check_runtime(hostile.label, "shopify_url", runtime, "shopify", values):
            past_schema.append(hostile.label)
        # as if the schema had let it through (a looser manifest, a hand-edited store)
        params = {**values, "client_secret": Secret("s")}
        forged = Authentication(name="forged", service=service, parameters=params)
        for attempt in through_the_policy(runtime, forged):
            tally.check(f"policy {hostile.label}", "shopify_url", attempt)
    figures.add("hostile.tried", tally.tried)
    figures.add("hostile.rejected", tally.tried - len(tally.failures))
    assert tally.failures == []
    assert tally.tried >= 3 * 50
    # the manifest's pattern admits a label ending in a hyphen; the network policy refuses it
    assert past_schema in ([], ["trailing-hyphen"])
    assert listener.connections == 0
    control = runtime.authentication("shopify", SHOPIFY_VALID)
    assert runtime.get_token(control).access_token.reveal() == "t"
    assert listener.connections == 1


@pytest.mark.parametrize(("label", "token_url", "base_url"), [
    ("label", "https://{{tenant}}.example.com/oauth/token",
     "https://{{tenant}}.example.com/api"),
    ("whole-host", "https://{{tenant}}/oauth/token", "https://{{tenant}}/api"),
])
def test_hostile_values_are_refused_by_a_generic_manifest_without_constraints(
    runtime, listener, figures, label, token_url, base_url
):
    service = generic_service(token_url, base_url, "*.example.com")
    tally = Tally()
    for hostile in DATA.HOST_VALUES:
        if hostile.whole_host_only and label == "label":
            continue  # an ordinary subdomain of the allowed site (see hostile_values.py)
        values = {"tenant": hostile.value, "client_id": "id", "client_secret": "s"}
        try:
            checked = validate_parameters(service, values)
        except ParameterError as error:  # control characters are refused by the schema step
            tally.tried += 1
            if not names_parameter(error, "tenant"):
                tally.failures.append(f"{hostile.label}: {error}")
            continue
        auth = Authentication(name="generic", service=service, parameters=checked)
        for attempt in through_the_policy(runtime, auth):
            tally.check(hostile.label, "tenant", attempt)
    figures.add("hostile.tried", tally.tried)
    figures.add("hostile.rejected", tally.tried - len(tally.failures))
    assert tally.failures == []
    assert tally.tried >= 2 * 50
    assert listener.connections == 0
    valid = "acme.example.com" if label == "whole-host" else "acme"
    control = Authentication(name="generic", service=service, parameters=validate_parameters(
        service, {"tenant": valid, "client_id": "id", "client_secret": "s"}))
    assert runtime.get_token(control).access_token.reveal() == "t"
    assert listener.connections == 1


def test_hostile_api_versions_never_leave_their_path_segment(runtime, listener, figures):
    service = runtime.service("shopify")
    tally = Tally()
    for hostile in DATA.PATH_VALUES:
        values = {**SHOPIFY_VALID, "api_version": hostile.value}
        tally.check_runtime(hostile.label, "api_version", runtime, "shopify", values)
        if hostile.segment is None:
            forged = Authentication(name="forged", service=service,
                                    parameters={**values, "client_secret": Secret("s")})
            tally.check(f"policy {hostile.label}", "api_version",
                        lambda forged=forged: runtime.client(forged).close())
    figures.add("hostile.tried", tally.tried)
    figures.add("hostile.rejected", tally.tried - len(tally.failures))
    assert tally.failures == []
    assert listener.connections == 0
