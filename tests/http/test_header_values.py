"""Values that cannot go in a header are refused where they enter, as typed errors naming the
field and never the value: a parameter the manifest places in a header (at authentication
creation), a token the provider sent (when the token answer is parsed), an operation input
placed in a header (when the input is validated). And an ``xn--`` host label that IDNA cannot
decode is refused by the network policy. In a workflow these are step failures like any
other: ``continue_on_error`` applies and the JSON report carries them.
"""

from __future__ import annotations

import json

import pytest

from connector_sdk import (
    NetworkPolicyError,
    OperationError,
    ParameterError,
    TokenResponseError,
    call_operation_sync,
    load_workflow,
    run_workflow_sync,
)
from connector_sdk._http.headers import header_value_problem
from connector_sdk.testing import LoopbackServer, Reply

from .conftest import audit_auth

#: (label, how to spoil a value); every spoiled value keeps the canary in it.
SPOILERS = [
    ("crlf", lambda v: f"{v}\r\nX-Injected: 1"),
    ("lf", lambda v: f"{v}\nmore"),
    ("cr", lambda v: f"{v}\rmore"),
    ("nul", lambda v: f"{v}\x00"),
    ("leading-space", lambda v: f" {v}"),
    ("trailing-tab", lambda v: f"{v}\t"),
    ("non-ascii", lambda v: f"{v}-é"),
    ("control", lambda v: f"{v}\x1b[2J"),
]
IDS = [label for label, _ in SPOILERS]

pytestmark = pytest.mark.timeout(60)


def test_safe_header_values_are_accepted():
    for value in ("", "Bearer abc.def-123", "a b\tc", "!#$%&'*+-.^_`|~"):
        assert header_value_problem(value) is None


@pytest.fixture
def loopback():  # type: ignore[no-untyped-def]
    with LoopbackServer() as server:
        yield server


@pytest.mark.parametrize(("label", "spoil"), SPOILERS, ids=IDS)
@pytest.mark.parametrize("parameter", ["api_key", "client_id"])
def test_a_parameter_placed_in_a_header_is_refused_at_creation(
        loopback, audit_runtime, make_canary, label, spoil, parameter, scenario):
    scenario(f"H-header-parameter-{parameter}-{label}")
    value = spoil(make_canary("value"))
    runtime = audit_runtime(loopback.url)
    values = {"client_id": "app", "client_secret": "s3cret", "api_key": "key-1",
              parameter: value}
    with pytest.raises(ParameterError) as caught:
        runtime.create_authentication("audit", "main", values)
    error = caught.value
    assert parameter in error.fields
    header = "X-Api-Key" if parameter == "api_key" else "Client-Id"
    assert f"goes in the '{header}' header" in str(error)
    assert value not in str(error) and value.strip() not in str(error)
    assert loopback.connections == 0


@pytest.mark.parametrize(("label", "spoil"), SPOILERS, ids=IDS)
def test_a_token_that_cannot_go_in_a_header_is_refused_when_parsed(
        loopback, audit_runtime, make_canary, label, spoil, scenario):
    scenario(f"H-header-token-{label}")
    token = spoil(make_canary("token"))
    loopback.route("/token", Reply(200, json={"access_token": token, "token_type": "bearer"}))
    runtime = audit_runtime(loopback.url)
    with pytest.raises(TokenResponseError) as caught:
        call_operation_sync(runtime, "audit.get_thing", audit_auth(runtime), {"id": "1"})
    assert "its access_token" in str(caught.value)
    assert token.strip() not in str(caught.value)
    assert loopback.count("/api/things/1") == 0


@pytest.mark.parametrize(("label", "spoil"), SPOILERS, ids=IDS)
def test_an_input_placed_in_a_header_is_refused_when_validated(
        loopback, audit_runtime, make_canary, label, spoil, scenario):
    scenario(f"H-header-input-{label}")
    note = spoil(make_canary("note"))
    runtime = audit_runtime(loopback.url)
    with pytest.raises(OperationError) as caught:
        call_operation_sync(runtime, "audit.get_thing", audit_auth(runtime),
                            {"id": "1", "note": note})
    assert "$.note goes in the 'X-Note' header" in str(caught.value)
    assert note.strip() not in str(caught.value)
    assert loopback.connections == 0  # not even a token request


@pytest.mark.parametrize("label", ["xn--abc", "xn--a", "xn--zz", "xn--80ak6aa92"])
def test_an_undecodable_idna_label_is_refused_by_the_network_policy(label, scenario):
    from connector_sdk._http.policy import render_url

    scenario(f"H-idna-{label}")
    with pytest.raises(NetworkPolicyError) as caught:
        render_url("https://{{shop}}.myshopify.com/admin", {"shop": label}, service="shopify",
                   url_name="base_url", allowed_hosts=["*.myshopify.com"])
    assert caught.value.parameter == "shop"
    assert "not a valid internationalised name (IDNA)" in str(caught.value)
    assert f"'{label}'" not in str(caught.value)  # the value is never quoted


def test_a_valid_idna_label_still_passes():
    from connector_sdk._http.policy import render_url

    url = render_url("https://{{shop}}.myshopify.com/admin", {"shop": "xn--pss"},
                     service="shopify", url_name="base_url", allowed_hosts=["*.myshopify.com"])
    assert url.host == "\u5927.myshopify.com"


def test_a_shop_with_an_undecodable_label_is_refused_at_creation(tmp_path, scenario):
    from connector_sdk import Runtime

    scenario("H-idna-create-authentication")
    with Runtime(environ={}, home=tmp_path) as runtime, \
            pytest.raises(NetworkPolicyError) as caught:
        runtime.create_authentication("shopify", "shop", {
                "shopify_url": "xn--abc.myshopify.com", "client_id": "id",
                "client_secret": "secret"})
    assert caught.value.parameter == "shopify_url"
    assert "not a valid internationalised name (IDNA)" in str(caught.value)


WORKFLOW = """\
workflow_version: 1
name: headers
steps:
  - id: bad_input
    operation: audit.get_thing
    authentication: main
    continue_on_error: true
    inputs: {id: "1", note: "line\\r\\nbreak"}
  - id: bad_token
    operation: audit.get_thing
    authentication: tokenless
    continue_on_error: true
    inputs: {id: "2"}
  - id: fine
    operation: audit.get_thing
    authentication: main
    inputs: {id: "3"}
"""


def test_workflow_steps_refused_for_header_values_continue_and_are_reported(
        loopback, audit_runtime, make_canary, scenario):
    scenario("H-header-workflow-continue-on-error")
    bad = make_canary("token") + "\r\nX-Injected: 1"

    def token(exchange):  # type: ignore[no-untyped-def]
        chosen = bad if exchange.form().get("client_id") == "other" else "good-token-12345"
        return Reply(200, json={"access_token": chosen, "token_type": "bearer"})

    loopback.route("/token", token)
    loopback.route("/api/things/{id}", lambda ex: Reply(200, json={"id": ex.params["id"]}))
    runtime = audit_runtime(loopback.url)
    base = {"client_secret": "s3cret", "api_key": "key-1"}
    runtime.create_authentication("audit", "main", {"client_id": "app", **base})
    runtime.create_authentication("audit", "tokenless", {"client_id": "other", **base})
    result = run_workflow_sync(runtime, load_workflow(WORKFLOW, services=runtime.services))
    report = json.loads(result.to_json())
    assert report["status"] == "partial"
    steps = report["steps"]
    assert steps["fine"]["status"] == "succeeded"
    assert steps["bad_input"]["error"]["type"] == "OperationError"
    assert steps["bad_token"]["error"]["type"] == "TokenResponseError"
    assert "internal" not in result.to_json().lower()
    assert bad.split("\r")[0] not in result.to_json()
