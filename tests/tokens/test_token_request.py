"""What the SDK sends to a token endpoint, checked byte for byte on a loopback server."""

from __future__ import annotations

import base64
import dataclasses
from urllib.parse import parse_qs

import pytest

from connector_sdk._auth.grants import CLIENT_CREDENTIALS
from connector_sdk._auth.request import basic_authorization
from connector_sdk._errors import NetworkPolicyError
from connector_sdk._manifest.model import ParameterSpec
from connector_sdk._manifest.templates import parse_template

build = CLIENT_CREDENTIALS.build_request


def test_twitch_post_body_matches_the_documented_request_byte_for_byte(kit, server, make_manager):
    server.default("/token", kit.token_reply("jostpf5q0uzmxmkba9iyug38kjtgh"))
    service = kit.service()
    auth = kit.auth(
        service, client_id="hof5gwx0su6owfnys0yan9c87zr6t",
        client_secret="41vpdji4e9gif29md0ouet6fktd2",
    )
    make_manager().get_token(auth)
    (seen,) = server.requests("/token")
    assert seen.method == "POST"
    assert seen.path == "/token"  # nothing in the query string, ever
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.body == (
        b"client_id=hof5gwx0su6owfnys0yan9c87zr6t&client_secret=41vpdji4e9gif29md0ouet6fktd2"
        b"&grant_type=client_credentials"
    )
    assert "authorization" not in seen.headers


def test_basic_header_matches_rfc6749_example(kit, server, make_manager):
    server.default("/token", kit.token_reply("t"))
    service = kit.service(client_auth="client_secret_basic")
    auth = kit.auth(service, client_id="s6BhdRkqt3", client_secret="gX1fBat3bV")
    make_manager().get_token(auth)
    (seen,) = server.requests("/token")
    assert seen.headers["authorization"] == "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
    assert seen.body == b"grant_type=client_credentials"
    assert seen.path == "/token"


def test_basic_header_form_encodes_special_characters_before_base64(kit, server, make_manager):
    server.default("/token", kit.token_reply("t"))
    service = kit.service(client_auth="client_secret_basic")
    auth = kit.auth(service, client_id="my client", client_secret="p@ss:w/rd+%")
    make_manager().get_token(auth)
    (seen,) = server.requests("/token")
    expected = "Basic bXkrY2xpZW50OnAlNDBzcyUzQXclMkZyZCUyQiUyNQ=="
    assert seen.headers["authorization"] == expected
    user, password = base64.b64decode(expected[6:]).decode().split(":")
    assert (user, password) == ("my+client", "p%40ss%3Aw%2Frd%2B%25")


def test_basic_authorization_handles_non_ascii():
    value = basic_authorization("é", "a:b")
    assert base64.b64decode(value[6:]) == b"%C3%A9:a%3Ab"


def test_post_body_encodes_special_characters_so_the_server_decodes_them(kit, server, make_manager):
    server.default("/token", kit.token_reply("t"))
    auth = kit.auth(kit.service(), client_id="my client", client_secret="p@ss:w/rd+%é&x=1")
    make_manager().get_token(auth)
    (seen,) = server.requests("/token")
    form = parse_qs(seen.body.decode(), strict_parsing=True)
    assert form == {
        "client_id": ["my client"],
        "client_secret": ["p@ss:w/rd+%é&x=1"],
        "grant_type": ["client_credentials"],
    }


def test_scopes_are_joined_with_the_manifest_separator_and_extra_fields_follow(
    kit, server, make_manager
):
    server.default("/token", kit.token_reply("t"))
    service = kit.service(
        scopes=("read_orders", "write_products"),
        scope_separator=",",
        token_request_fields={"audience": parse_template("api-{{client_id}}")},
    )
    make_manager().get_token(kit.auth(service, client_id="abc", client_secret="s"))
    (seen,) = server.requests("/token")
    assert parse_qs(seen.body.decode()) == {
        "client_id": ["abc"],
        "client_secret": ["s"],
        "grant_type": ["client_credentials"],
        "scope": ["read_orders,write_products"],
        "audience": ["api-abc"],
    }


def test_extra_fields_cannot_override_the_grant(kit):
    service = kit.service(token_request_fields={"grant_type": parse_template("password")})
    request = build(kit.auth(service, client_id="a", client_secret="b"),
         allow_loopback=True)
    assert parse_qs(request.body.decode())["grant_type"] == ["client_credentials"]


def test_request_repr_and_cache_key_hide_the_secret(kit, canary):
    request = build(kit.auth(kit.service(), client_id="a", client_secret=canary),
         allow_loopback=True)
    assert canary not in repr(request)
    assert canary not in request.key
    assert canary in request.redact


def test_cache_key_differs_when_the_rendered_token_url_differs(kit):
    tenant = ParameterSpec("tenant", secret=False, required=True, type="string")
    service = kit.service(token_path="/{{tenant}}/token", extra_parameters=(tenant,))
    one = build(kit.auth(service, client_id="a", client_secret="b", tenant="one"),
         allow_loopback=True)
    two = build(kit.auth(service, client_id="a", client_secret="b", tenant="two"),
         allow_loopback=True)
    assert one.key != two.key
    assert one.url.path == "/one/token"


def test_token_url_outside_allowed_hosts_is_refused_before_sending(kit, server, make_manager):
    service = kit.service()
    service = dataclasses.replace(service, allowed_hosts=("example.com",))
    with pytest.raises(NetworkPolicyError):
        make_manager().get_token(kit.auth(service, client_id="a", client_secret="b"))
    assert server.count("/token") == 0


def test_http_loopback_token_url_needs_allow_loopback(kit):
    with pytest.raises(NetworkPolicyError):
        build(kit.auth(kit.service(), client_id="a", client_secret="b"))


def test_the_grant_is_chosen_by_the_manifests_auth_grant(kit):
    from connector_sdk._auth.grants import GRANTS, Grant, grant_for

    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    grant = grant_for(auth)
    assert grant is GRANTS["client_credentials"] is CLIENT_CREDENTIALS
    assert isinstance(grant, Grant)
    request = grant.build_request(auth, allow_loopback=True)
    assert request.grant == "client_credentials"
    assert parse_qs(request.body.decode())["grant_type"] == ["client_credentials"]


def test_a_grant_the_sdk_cannot_run_is_a_token_error_naming_it(kit, make_manager):
    from connector_sdk import TokenError

    service = kit.service()
    odd = dataclasses.replace(service, auth=dataclasses.replace(service.auth,
                                                                grants=("password",)))
    with pytest.raises(TokenError, match="grant 'password' is not one this SDK can run"):
        make_manager().get_token(kit.auth(odd, client_id="a", client_secret="b"))


def test_the_cache_key_depends_on_the_grant(kit):
    from connector_sdk._auth.cache import cache_key

    fields = {"service": "s", "authentication": "a", "token_url": "https://x/t",
              "client_id": "c", "scopes": ()}
    assert cache_key(**fields) != cache_key(**fields, grant="authorization_code")
