"""The callback's signature and bound parameters (Shopify's ``hmac`` and ``shop``): the
documented vector, tampering, age, and the class of look-alike shop domains."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from connector_sdk import AuthorizationError
from connector_sdk._auth.authorization import check_signature, signature_message
from connector_sdk._manifest.model import CallbackSignatureSpec
from connector_sdk._manifest.templates import parse_template
from connector_sdk.testing import assert_no_canary

from .provider import CLIENT_ID

REDIRECT = "http://127.0.0.1:9/callback"
SHOP = "some-shop.myshopify.com"


def test_the_documented_shopify_vector_verifies() -> None:
    # https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
    # (secret "hush"; the vector's timestamp is from 2012, so max_age is disabled here)
    query = [("code", "0907a61c0c8d55e99db179b68161bc00"), ("shop", SHOP),
             ("state", "0.6784241404160823"), ("timestamp", "1337178173"),
             ("hmac", "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf")]
    assert signature_message(query, "hmac") == (
        "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
        "&state=0.6784241404160823&timestamp=1337178173")
    spec = CallbackSignatureSpec(style="sorted_query_hmac_sha256", parameter="hmac",
                                 secret=parse_template("{{ client_secret }}"), max_age=None)
    check_signature(spec, query, {"client_secret": "hush"}, service="s", authentication="a",
                    now=time.time())
    tampered = [(k, v + "0" if k == "code" else v) for k, v in query]
    with pytest.raises(AuthorizationError) as caught:
        check_signature(spec, tampered, {"client_secret": "hush"}, service="s",
                        authentication="a", now=time.time())
    assert caught.value.reason == "signature_invalid"
    aged = CallbackSignatureSpec(style="sorted_query_hmac_sha256", parameter="hmac",
                                 secret=parse_template("{{ client_secret }}"), max_age=90)
    with pytest.raises(AuthorizationError, match="older than 90 s"):
        check_signature(aged, query, {"client_secret": "hush"}, service="s",
                        authentication="a", now=time.time())


def _begin(runtime: Any, canary: str, shop: str = SHOP) -> Any:
    return runtime.begin_authorization("shopauth", "store", {
        "shop": shop, "client_id": CLIENT_ID, "client_secret": canary},
        redirect_url=REDIRECT)


def test_a_signed_callback_completes_with_comma_scopes_and_extra_fields(
    make_runtime: Any, provider: Any, canary: str
) -> None:
    runtime = make_runtime()
    begun = _begin(runtime, canary)
    asked = dict(parse_qsl(urlsplit(begun.url).query))
    assert urlsplit(begun.url).netloc == SHOP
    record = runtime.complete_authorization(provider.approve(begun.url))
    assert asked["scope"] == "read_products,write_orders"
    assert asked["grant_options[]"] == "per-user" and asked["shop"] == SHOP
    assert "code_challenge" not in asked  # pkce: none
    assert provider.token_forms[-1]["expiring"] == "1"
    assert provider.token_forms[-1]["client_secret"] == canary  # client_secret_post
    assert record.grant == "authorization_code"


def _resign(callback: str, secret: str, **changes: str) -> str:
    query = dict(parse_qsl(urlsplit(callback).query))
    query.update(changes)
    query.pop("hmac")
    message = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    query["hmac"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"{REDIRECT}?{urlencode(query)}"


def test_a_tampered_signature_is_refused_before_the_code_is_exchanged(
    make_runtime: Any, provider: Any, canary: str
) -> None:
    runtime = make_runtime()
    callback = provider.approve(_begin(runtime, canary).url)
    query = dict(parse_qsl(urlsplit(callback).query))
    query["hmac"] = query["hmac"][:-1] + ("0" if query["hmac"][-1] != "0" else "1")
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(f"{REDIRECT}?{urlencode(query)}")
    assert caught.value.reason == "signature_invalid" and provider.exchanges == 0
    assert_no_canary(str(caught.value), canary, query["code"], query["state"])


@pytest.mark.parametrize("shop", [
    "some-shop.myshopify.com.attacker.net", "evil.myshopify.com", "SOME-SHOP.myshopify.com",
    "some-shop.myshopify.com.", "some-shоp.myshopify.com",  # Cyrillic o
    "some-shop.myshopify.com/x", "",
])
def test_a_shop_other_than_the_one_begun_is_refused_even_when_signed(
    make_runtime: Any, provider: Any, canary: str, shop: str
) -> None:
    # an attacker who knows the secret cannot happen; this proves the check stands on its
    # own: a validly signed callback naming another (or a look-alike) shop is refused
    runtime = make_runtime()
    callback = provider.approve(_begin(runtime, canary).url)
    with pytest.raises(AuthorizationError) as caught:
        runtime.complete_authorization(_resign(callback, canary, shop=shop))
    assert caught.value.reason == "callback_parameter_invalid" and provider.exchanges == 0


def test_a_begun_shop_outside_the_pattern_is_refused_at_begin(make_runtime: Any,
                                                              canary: str) -> None:
    from connector_sdk import ParameterError

    with pytest.raises(ParameterError):
        _begin(make_runtime(), canary, shop="shop.myshopify.com.attacker.net")


def test_a_value_holding_an_ampersand_cannot_stand_for_another_parameter() -> None:
    """Two different queries never share a signed message (a signed ``host`` cannot swallow
    ``shop``): ``%`` and ``&`` are escaped in keys and values, ``=`` in keys."""
    from connector_sdk.sandbox import sorted_query_signature

    signed = [("code", "C"), ("host", "H"), ("shop", SHOP), ("state", "ST"),
              ("timestamp", "1")]
    forged = [("code", "C"), ("host", f"H&shop={SHOP}"), ("state", "ST"), ("timestamp", "1")]
    assert signature_message(signed, "hmac") != signature_message(forged, "hmac")
    assert signature_message([("a", "1%26b=2")], "hmac") != signature_message(
        [("a", "1&b=2")], "hmac")
    assert signature_message([("a=b", "c")], "hmac") != signature_message([("a", "b=c")], "hmac")
    assert signature_message([("k%=&", "v%=&")], "hmac") == "k%25%3D%26=v%25=%26"
    spec = CallbackSignatureSpec(style="sorted_query_hmac_sha256", parameter="hmac",
                                 secret=parse_template("{{ client_secret }}"), max_age=None)
    signature = sorted_query_signature(signed, "hmac", "s3cret")
    check_signature(spec, [*signed, ("hmac", signature)], {"client_secret": "s3cret"},
                    service="s", authentication="a", now=time.time())
    with pytest.raises(AuthorizationError) as caught:
        check_signature(spec, [*forged, ("hmac", signature)], {"client_secret": "s3cret"},
                        service="s", authentication="a", now=time.time())
    assert caught.value.reason == "signature_invalid"
