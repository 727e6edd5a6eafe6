"""Every hostile host value is refused before a connection is made.

The refusal is checked twice: ``render_url`` raises ``NetworkPolicyError`` naming the
parameter, and a real listener on 127.0.0.1, to which an httpx client routes *every* request
whatever its host, counts zero TCP connections while hostile values are tried (and exactly
one for the valid control value sent afterwards).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connector_sdk._errors import NetworkPolicyError
from connector_sdk._http.policy import render_url
from connector_sdk._secrets import Secret
from connector_sdk.sandbox import LoopbackRoutingTransport
from connector_sdk.testing import LoopbackServer, faults

from . import hostile_values

data = hostile_values

SHOPIFY_TOKEN_URL = "https://{{shopify_url}}/admin/oauth/access_token"
SHOPIFY_ALLOWED = ["*.myshopify.com"]
TENANT_TOKEN_URL = "https://{{tenant}}.example.com/oauth/token"
TENANT_ALLOWED = ["*.example.com"]

HOSTILE = [pytest.param(v, id=v.label) for v in data.HOST_VALUES]


def test_the_hostile_list_is_large_and_labelled_uniquely() -> None:
    labels = [v.label for v in data.HOST_VALUES]
    assert len(labels) >= 60
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_shopify_token_url_refuses_hostile_shop_domain(hostile: Any) -> None:
    with pytest.raises(NetworkPolicyError) as caught:
        render_url(SHOPIFY_TOKEN_URL, {"shopify_url": hostile.value}, service="shopify",
                   url_name="token_url", allowed_hosts=SHOPIFY_ALLOWED)
    error = caught.value
    assert (error.parameter, error.url_name, error.service) == (
        "shopify_url", "token_url", "shopify")
    assert "shopify_url" in str(error)
    assert "token_url" in str(error)
    assert "shopify" in str(error)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_tenant_token_url_refuses_hostile_tenant(hostile: Any) -> None:
    values = {"tenant": hostile.value}
    if hostile.whole_host_only:
        # As one label in front of .example.com this is an ordinary subdomain of the site
        # the manifest allows; nothing outside *.example.com can be reached with it.
        url = render_url(TENANT_TOKEN_URL, values, service="acme", url_name="token_url",
                         allowed_hosts=TENANT_ALLOWED)
        assert url.raw_host == f"{hostile.value}.example.com".encode()
        return
    with pytest.raises(NetworkPolicyError) as caught:
        render_url(TENANT_TOKEN_URL, values, service="acme", url_name="token_url",
                   allowed_hosts=TENANT_ALLOWED)
    assert caught.value.parameter == "tenant"
    assert "tenant" in str(caught.value)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_refusal_message_never_contains_the_value(hostile: Any, canary: str) -> None:
    # Put a canary inside each hostile shape and pass it as a Secret: the conftest canary
    # check fails the test if it shows up in the exception, logs or output.
    if "my-store" in hostile.value:
        value = hostile.value.replace("my-store", canary)
    else:
        value = hostile.value + "." + canary
    with pytest.raises(NetworkPolicyError) as caught:
        render_url(SHOPIFY_TOKEN_URL, {"shopify_url": Secret(value)}, service="shopify",
                   url_name="token_url", allowed_hosts=SHOPIFY_ALLOWED)
    assert canary not in str(caught.value)
    assert canary not in repr(caught.value.args)


@pytest.mark.parametrize(("value", "expected"), data.SHOP_DOMAINS_ACCEPTED)
def test_valid_shop_domains_render_to_the_token_url(value: str, expected: str) -> None:
    url = render_url(SHOPIFY_TOKEN_URL, {"shopify_url": value}, service="shopify",
                     url_name="token_url", allowed_hosts=SHOPIFY_ALLOWED)
    assert str(url) == expected


@pytest.mark.parametrize(("value", "expected"), data.SHOP_HANDLES_ACCEPTED)
def test_valid_shop_handles_render_in_a_host_label(value: str, expected: str) -> None:
    url = render_url("https://{{shop}}.myshopify.com/admin/oauth/access_token",
                     {"shop": value}, service="shopify", url_name="token_url",
                     allowed_hosts=SHOPIFY_ALLOWED)
    assert str(url) == expected


# --- no connection is made ---------------------------------------------------------------


@pytest.fixture
def listener(local_server: LoopbackServer) -> LoopbackServer:
    """The kit's loopback server, answering the token path with a token; it counts connections."""
    local_server.route("/admin/oauth/access_token", faults.token("t", expires_in=60),
                       method="POST")
    return local_server


def _fetch_token(client: httpx.Client, template: str, values: dict[str, Any],
                 allowed_hosts: list[str]) -> httpx.Response:
    """What the token layer does: render the URL, then post the client-credentials form."""
    url = render_url(template, values, service="svc", url_name="token_url",
                     allowed_hosts=allowed_hosts)
    return client.post(url, data={"grant_type": "client_credentials"})


@pytest.mark.timeout(60)
def test_hostile_values_never_reach_a_listener(listener: LoopbackServer) -> None:
    refused = 0
    # Every request goes to the listener whatever host its URL names (a stand-in for DNS that
    # would resolve an attacker's host): if a URL got through, the listener would see it.
    with httpx.Client(transport=LoopbackRoutingTransport(listener.url), timeout=5) as client:
        for hostile in data.HOST_VALUES:
            with pytest.raises(NetworkPolicyError):
                _fetch_token(client, SHOPIFY_TOKEN_URL, {"shopify_url": hostile.value},
                             SHOPIFY_ALLOWED)
            refused += 1
            if not hostile.whole_host_only:
                with pytest.raises(NetworkPolicyError):
                    _fetch_token(client, TENANT_TOKEN_URL, {"tenant": hostile.value},
                                 TENANT_ALLOWED)
        assert refused == len(data.HOST_VALUES)
        assert listener.connections == 0
        assert listener.requests() == []
        # Control: the same client and route do reach the listener with a valid value.
        response = _fetch_token(client, SHOPIFY_TOKEN_URL,
                                {"shopify_url": "my-store.myshopify.com"}, SHOPIFY_ALLOWED)
    assert response.status_code == 200
    assert listener.connections == 1
    assert [seen.route for seen in listener.requests()] == ["/admin/oauth/access_token"]
