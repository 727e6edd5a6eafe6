"""Reading token endpoint answers: RFC 6749 §5.1/§5.2 and what Twitch and Shopify really send."""

from __future__ import annotations

import json

import pytest

from connector_sdk._auth.response import (
    ResponseContext,
    endpoint_error,
    parse_token_response,
)
from connector_sdk._errors import TokenEndpointError, TokenResponseError
from connector_sdk._http.messages import provider_message

CTX = ResponseContext(service="demo", authentication="main", default_expires_in=3600,
                      max_lifetime=30 * 86400.0, requested_scopes=("asked",))


def parse(body: object, ctx: ResponseContext = CTX, ctype: str = "application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_token_response(200, ctype, raw, ctx)


@pytest.mark.parametrize("token_type", ["bearer", "Bearer", "BEARER"])
def test_token_type_is_case_insensitive_and_normalised_to_bearer(token_type):
    grant = parse({"access_token": "t", "token_type": token_type})
    assert grant.token_type == "Bearer"


def test_string_expires_in_is_read_as_a_number():
    grant = parse({"access_token": "t", "token_type": "Bearer", "expires_in": "3600"})
    assert grant.expires_in == 3600


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3600", 3600.0),
        (3599.5, 3599.5),
        ("3599.5", 3599.5),
        (0, 3600.0),
        (-5, 3600.0),
        (1e9, 30 * 86400.0),
        (None, 3600.0),
        ("soon", 3600.0),
        (True, 3600.0),
    ],
)
def test_expires_in_variants_never_raise(value, expected):
    grant = parse({"access_token": "t", "token_type": "bearer", "expires_in": value})
    assert grant.expires_in == expected


def test_missing_expires_in_uses_the_manifest_default():
    ctx = ResponseContext(service="s", authentication="a", default_expires_in=900)
    assert parse({"access_token": "t", "token_type": "BEARER"}, ctx).expires_in == 900


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("read write", ("read", "write")),
        ("write_orders,read_customers", ("write_orders", "read_customers")),
        (["channel:moderate", "chat:edit"], ("channel:moderate", "chat:edit")),
        ([], ()),
        ([""], ()),
        ("", ()),
        (None, ("asked",)),
    ],
)
def test_scope_shapes_are_normalised(scope, expected):
    assert parse({"access_token": "t", "token_type": "bearer", "scope": scope}).scopes == expected


def test_missing_scope_means_the_requested_scopes():
    assert parse({"access_token": "t", "token_type": "bearer"}).scopes == ("asked",)


def test_twitch_cli_variant_with_array_scope_and_empty_refresh_token_is_accepted():
    grant = parse({"access_token": "4f5dce6cea626cb", "refresh_token": "", "expires_in": 86399,
                   "scope": [], "token_type": "bearer"})
    assert grant.access_token.reveal() == "4f5dce6cea626cb"
    assert grant.expires_in == 86399
    assert grant.scopes == ()


def test_shopify_answer_without_token_type_uses_the_default_type():
    ctx = ResponseContext(service="shopify", authentication="shop", default_token_type="bearer")
    grant = parse({"access_token": "f85632530bf277ec9ac6f649fc327f17",
                   "scope": "write_orders,read_customers", "expires_in": 86399}, ctx)
    assert grant.token_type == "Bearer"
    assert grant.scopes == ("write_orders", "read_customers")


def test_missing_token_type_without_a_default_is_refused():
    with pytest.raises(TokenResponseError, match="default_token_type"):
        parse({"access_token": "t"})


def test_unknown_token_type_is_refused_and_extra_members_are_ignored():
    body = {"access_token": "2YotnFZFEjr1zCsicMWpAA", "token_type": "example",
            "expires_in": 3600, "example_parameter": "example_value"}
    with pytest.raises(TokenResponseError, match=r"'example'.*7\.1") as info:
        parse(body)
    assert info.value.permanent
    assert "2YotnFZFEjr1zCsicMWpAA" not in str(info.value)


def test_a_declared_token_type_is_accepted():
    ctx = ResponseContext(service="s", authentication="a", accepted_token_types=("example",))
    grant = parse({"access_token": "t", "token_type": "Example"}, ctx)
    assert grant.token_type == "Example"


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "", "token_type": "bearer"},
        {"token_type": "bearer"},
        {"access_token": 42, "token_type": "bearer"},
    ],
)
def test_empty_missing_or_non_string_access_token_is_a_response_error(body):
    with pytest.raises(TokenResponseError, match="access_token"):
        parse(body)


def test_error_member_in_a_200_answer_is_an_error():
    with pytest.raises(TokenResponseError, match="server_error") as info:
        parse({"error": "server_error"})
    assert info.value.oauth_error == "server_error"
    assert not info.value.permanent


def test_invalid_client_in_a_200_answer_is_permanent():
    with pytest.raises(TokenResponseError) as info:
        parse({"error": "invalid_client", "error_description": "nope"})
    assert info.value.permanent


@pytest.mark.parametrize(
    ("body", "ctype", "shown"),
    [
        (b'{"access_token": "abc', "application/json", "not JSON"),
        (b"<html><body>Welcome</body></html>", "text/html", "text/html"),
        (b"[1, 2]", "application/json", "JSON list"),
        (b"", "application/json", "(empty body)"),
    ],
)
def test_unusable_200_bodies_are_typed_errors_not_decoder_errors(body, ctype, shown):
    with pytest.raises(TokenResponseError) as info:
        parse_token_response(200, ctype, body, CTX)
    assert shown in str(info.value)
    assert "service 'demo', authentication 'main'" in str(info.value)


def test_truncated_json_with_a_token_does_not_show_the_token(make_canary):
    token = make_canary("token")
    body = f'{{"access_token": "{token}", "token_type": "bea'.encode()
    with pytest.raises(TokenResponseError) as info:
        parse_token_response(200, "application/json", body, CTX)
    assert token not in str(info.value)


def test_json_is_read_whatever_the_content_type_says():
    body = b'{"access_token":"t","token_type":"bearer"}'
    assert parse_token_response(200, "text/plain", body, CTX).token_type == "Bearer"
    assert parse_token_response(200, None, body, CTX).token_type == "Bearer"


def test_grant_repr_hides_the_token(canary):
    grant = parse({"access_token": canary, "token_type": "bearer"})
    assert canary not in repr(grant)


# -- error answers ------------------------------------------------------------------------


def error(status: int, body: bytes | str, ctype: str = "application/json",
          ctx: ResponseContext = CTX) -> TokenEndpointError:
    raw = body.encode() if isinstance(body, str) else body
    return endpoint_error(status, ctype, raw, ctx)


def test_rfc_error_names_code_description_service_and_authentication():
    err = error(
        401, '{"error":"invalid_client","error_description":"Client authentication failed"}'
    )
    text = str(err)
    assert "service 'demo', authentication 'main'" in text
    assert "HTTP 401" in text
    assert "invalid_client" in text
    assert "Client authentication failed" in text
    assert err.permanent
    assert err.oauth_error == "invalid_client"
    assert err.status == 401


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, '{"status":400,"message":"invalid client"}', "invalid client"),
        (403, '{"status":403,"message":"invalid client secret"}', "invalid client secret"),
        (401, '{"errors":"[API] Invalid API key or access token"}', "Invalid API key"),
    ],
)
def test_provider_shaped_errors_are_read_and_permanent(status, body, message):
    err = error(status, body)
    assert err.provider_message is not None
    assert message in err.provider_message
    assert err.permanent


def test_shopify_plain_text_400_is_read():
    err = error(400, "Oauth error shop_not_permitted: Client credentials cannot be performed on"
                " this shop.", "text/plain")
    assert "shop_not_permitted" in str(err)
    assert err.permanent


def test_html_502_shows_the_page_title_and_is_transient():
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body>"
    err = error(502, page, "text/html")
    assert "502 Bad Gateway" in str(err)
    assert len(str(err)) < 500
    assert not err.permanent


def test_long_messages_are_truncated():
    err = error(400, json.dumps({"error": "invalid_request", "error_description": "y" * 5000}))
    assert err.provider_message is not None
    assert len(err.provider_message) <= 200
    assert err.provider_message.endswith("...")


def test_secrets_echoed_by_the_provider_are_redacted(canary):
    ctx = ResponseContext(service="demo", authentication="main", redact=(canary,))
    err = error(400, f"bad request: client_secret={canary}", "text/plain", ctx)
    assert canary not in str(err)
    assert canary not in (err.provider_message or "")
    assert "**********" in str(err)


def test_provider_message_of_an_empty_body_says_so():
    said = provider_message(b"", None)
    assert (said.code, said.text, said.shown) == (None, None, "(empty body)")


@pytest.mark.parametrize("status", [429, 500, 503, 408])
def test_rate_limits_timeouts_and_server_errors_are_not_permanent(status):
    assert not error(status, "{}").permanent
