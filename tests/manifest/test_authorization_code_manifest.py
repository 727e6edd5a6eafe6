"""The authorization-code grant in a manifest: the model it loads into, and every invalid
shape reported as its named rule at the line of the change (file:line, field and fix)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from connector_sdk import load_manifest
from connector_sdk._manifest.model import (
    AuthorizationCodeSpec,
    CallbackSignatureSpec,
    ClientCredentialsAuth,
    OAuth2Auth,
)
from connector_sdk.cli._validation import validate_paths

BASE = (Path(__file__).parent / "fixtures" / "valid" / "acme.yaml").read_text()
CODE = """  grant: [authorization_code, client_credentials]
  authorization_code:
    authorization_url: https://{{ tenant }}.acme.example/oauth/authorize
    scopes: [read]
"""
OPERATION = """operations:
  get_me:
    title: Get me
    description: The user who consented.
    input: {type: object}
    request: {method: GET, path: /me}
    scopes: [profile]
"""


def code_manifest(extra: str = "") -> str:
    return BASE.replace("  grant: client_credentials\n", CODE + extra)


def problems_of(tmp_path: Path, text: str) -> list:
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    [result] = validate_paths([path])
    return result.problems


def assert_one(tmp_path: Path, text: str, rule: str, line_text: str) -> str:
    """Exactly ``rule`` is reported, in this file, at the line containing ``line_text``."""
    problems = problems_of(tmp_path, text)
    assert {p.rule for p in problems} == {rule}, [p.format_text() for p in problems]
    lines = text.splitlines()
    for problem in problems:
        assert problem.file == str(tmp_path / "acme.yaml")
        assert line_text in lines[problem.line - 1], problem.format_text()
    return problems[0].format_text()


def test_a_client_credentials_manifest_loads_as_before() -> None:
    service, problems = load_manifest(BASE)
    assert problems == [] and service is not None
    assert ClientCredentialsAuth is OAuth2Auth
    assert service.auth.grants == ("client_credentials",)
    assert service.auth.grant == "client_credentials"
    assert service.auth.authorization_code is None


def test_both_grants_load_with_the_first_as_default() -> None:
    text = code_manifest("""    pkce: S256
    authorization_parameters: {prompt: consent, tenant_hint: '{{ tenant }}'}
    token_request_fields: {expiring: '1'}
    redirect_urls: single
    refresh_token_rotation: true
    callback_parameters: {shop: tenant}
    callback_signature:
      style: sorted_query_hmac_sha256
      parameter: hmac
      secret: '{{ client_secret }}'
      max_age: 90
""") + OPERATION
    service, problems = load_manifest(text)
    assert problems == [], [p.format_text() for p in problems]
    assert service is not None
    auth = service.auth
    assert auth.grants == ("authorization_code", "client_credentials")
    assert auth.grant == "authorization_code"
    assert auth.offers("client_credentials") and not auth.offers("password")
    code = auth.authorization_code
    assert isinstance(code, AuthorizationCodeSpec)
    assert code.authorization_url.names == ("tenant",)
    assert (code.scopes, code.pkce, code.redirect_urls, code.refresh_token_rotation) == (
        ("read",), "S256", "single", True)
    assert code.authorization_parameters["tenant_hint"].names == ("tenant",)
    assert code.token_request_fields["expiring"].source == "1"
    assert dict(code.callback_parameters) == {"shop": "tenant"}
    assert code.callback_signature == CallbackSignatureSpec(
        style="sorted_query_hmac_sha256", parameter="hmac",
        secret=code.callback_signature.secret, max_age=90.0)
    assert code.callback_signature.secret.names == ("client_secret",)
    assert service.operations["get_me"].scopes == ("profile",)


def test_defaults_of_the_authorization_code_block() -> None:
    service, problems = load_manifest(code_manifest())
    assert problems == [] and service is not None
    code = service.auth.authorization_code
    assert code is not None
    assert (code.pkce, code.redirect_urls, code.refresh_token_rotation) == (
        "none", "multiple", False)
    assert dict(code.authorization_parameters) == {} and code.callback_signature is None


@pytest.mark.parametrize(("old", "new", "rule", "line"), [
    ("  grant: client_credentials\n", "  grant: password\n", "SCHEMA-ENUM", "grant:"),
    ("  grant: client_credentials\n", "  grant: [client_credentials, implicit]\n",
     "SCHEMA-ENUM", "grant:"),
    ("  grant: client_credentials\n", "  grant: []\n", "SCHEMA-MINITEMS", "grant:"),
    ("  grant: client_credentials\n", "  grant: {name: client_credentials}\n", "SCHEMA-TYPE",
     "grant:"),
    ("  grant: client_credentials\n", "  grant: [client_credentials, client_credentials]\n",
     "AUTH-GRANT-DUPLICATE", "grant:"),
    ("  grant: client_credentials\n", "  grant: [client_credentials, authorization_code]\n",
     "AUTH-CODE-MISSING", "grant:"),
    ("  scopes: [read, write]\n", "  scopes: [read, write]\n  token_request_fields:\n"
     "    grant_type: password\n", "AUTH-PARAMETER-RESERVED", "grant_type:"),
])
def test_invalid_grant_shapes(tmp_path: Path, old: str, new: str, rule: str, line: str) -> None:
    assert_one(tmp_path, BASE.replace(old, new), rule, line)


@pytest.mark.parametrize(("extra", "rule", "line"), [
    ("    pkce: plain\n", "SCHEMA-ENUM", "pkce:"),
    ("    redirect_url: multiple\n", "SCHEMA-UNKNOWN-KEY", "redirect_url:"),
    ("    redirect_urls: many\n", "SCHEMA-ENUM", "redirect_urls:"),
    ("    authorization_parameters: {state: fixed}\n", "AUTH-PARAMETER-RESERVED", "state"),
    ("    authorization_parameters: {secret_hint: '{{ client_secret }}'}\n", "SECRET-IN-URL",
     "secret_hint"),
    ("    authorization_parameters: {hint: '{{ tennant }}'}\n", "PLACEHOLDER-UNKNOWN", "hint"),
    ("    token_request_fields: {code_verifier: x}\n", "AUTH-PARAMETER-RESERVED",
     "code_verifier"),
    ("    token_request_fields: {audience: '{{ audiance }}'}\n", "PLACEHOLDER-UNKNOWN",
     "audience"),
    ("    callback_parameters: {state: tenant}\n", "AUTH-PARAMETER-RESERVED", "state"),
    ("    callback_parameters: {shop: client_secret}\n", "AUTH-CALLBACK-PARAMETER-INVALID",
     "shop"),
    ("    callback_parameters: {shop: shop_url}\n", "AUTH-CALLBACK-PARAMETER-INVALID", "shop"),
    ("    callback_signature: {style: sorted_query_hmac_sha256, parameter: hmac}\n",
     "SCHEMA-REQUIRED", "callback_signature"),
    ("    callback_signature: {style: sorted_query_hmac_sha256, parameter: hmac,"
     " secret: literal-key}\n", "AUTH-CALLBACK-SECRET", "callback_signature"),
    ("    callback_signature: {style: sorted_query_hmac_sha256, parameter: hmac,"
     " secret: '{{ client_secret }}{{ client_id }}'}\n", "AUTH-CALLBACK-SECRET",
     "callback_signature"),
    ("    callback_signature: {style: sorted_query_hmac_sha256, parameter: hmac,"
     " secret: '{{ client_secret }}'}\n    callback_parameters: {hmac: tenant}\n",
     "AUTH-PARAMETER-RESERVED", "callback_parameters"),
    ("    callback_signature: {style: md5, parameter: hmac, secret: '{{ client_secret }}'}\n",
     "SCHEMA-ENUM", "callback_signature"),
])
def test_invalid_authorization_code_blocks(tmp_path: Path, extra: str, rule: str,
                                           line: str) -> None:
    assert_one(tmp_path, code_manifest(extra), rule, line)


@pytest.mark.parametrize(("url", "rule"), [
    ("https://{{ tenant }}.acme.example/authorize?key={{ client_secret }}", "SECRET-IN-URL"),
    ("https://login.other.example/authorize", "URL-HOST-NOT-ALLOWED"),
    ("http://{{ tenant }}.acme.example/authorize", "URL-NOT-HTTPS"),
    ("https://{{ tennant }}.acme.example/authorize", "PLACEHOLDER-UNKNOWN"),
    ("https://{{ access_token }}.acme.example/authorize", "PLACEHOLDER-UNKNOWN"),
    ("/oauth/authorize", "URL-NOT-ABSOLUTE"),
    ("https://user:pw@{{ tenant }}.acme.example/authorize", "URL-USERINFO"),
    ("https://{{ tenant }}.acme.example:{{ region }}/authorize", "URL-PLACEHOLDER-POSITION"),
])
def test_authorization_url_follows_the_token_url_rules(tmp_path: Path, url: str,
                                                       rule: str) -> None:
    text = code_manifest().replace(
        "https://{{ tenant }}.acme.example/oauth/authorize", url)
    message = assert_one(tmp_path, text, rule, "authorization_url:")
    assert "$.auth.authorization_code.authorization_url" in message


@pytest.mark.parametrize("query", ["redirect_uri=https://evil.example/cb", "state=x",
                                   "a=1&scope=admin", "response%5Ftype=token"])
def test_the_authorization_url_cannot_set_the_flows_own_parameters(tmp_path: Path,
                                                                   query: str) -> None:
    text = code_manifest().replace("https://{{ tenant }}.acme.example/oauth/authorize",
                                   f"https://{{{{ tenant }}}}.acme.example/oauth/authorize?{query}")
    assert_one(tmp_path, text, "AUTH-PARAMETER-RESERVED", "authorization_url:")


def test_an_unconstrained_host_parameter_in_the_authorization_url_is_refused(
        tmp_path: Path) -> None:
    text = code_manifest().replace("https://{{ tenant }}.acme.example/oauth/authorize",
                                   "https://{{ client_id }}.acme.example/oauth/authorize")
    problems = problems_of(tmp_path, text)
    assert {p.rule for p in problems} == {"HOST-PLACEHOLDER-UNCONSTRAINED"}
    assert "auth.authorization_code.authorization_url" in problems[0].message


def test_an_authorization_code_block_without_the_grant_is_refused(tmp_path: Path) -> None:
    text = code_manifest().replace("  grant: [authorization_code, client_credentials]\n",
                                   "  grant: client_credentials\n")
    message = assert_one(tmp_path, text, "AUTH-CODE-UNUSED", "authorization_code:")
    assert "add it to auth.grant" in message


@pytest.mark.parametrize(("scopes", "rule"), [
    ("[]", "SCHEMA-MINITEMS"),
    ("['']", "SCHEMA-PATTERN"),
    ("['user read']", "SCHEMA-PATTERN"),
    ("[1]", "SCHEMA-TYPE"),
    ("[profile, profile]", "SCOPE-DUPLICATE"),
])
def test_invalid_operation_scopes(tmp_path: Path, scopes: str, rule: str) -> None:
    text = code_manifest() + OPERATION.replace("[profile]", scopes)
    assert_one(tmp_path, text, rule, "scopes:")


def test_operation_scopes_must_be_obtainable_by_client_credentials_alone(
        tmp_path: Path) -> None:
    message = assert_one(tmp_path, BASE + OPERATION, "OPERATION-SCOPES-UNOBTAINABLE", "scopes:")
    assert "get_me" in message and "profile" in message and "auth.scopes" in message
    # covered by auth.scopes, or obtainable by consent: no problem
    assert problems_of(tmp_path, BASE + OPERATION.replace("[profile]", "[read]")) == []
    assert problems_of(tmp_path, code_manifest() + OPERATION) == []
    # asking for no scope, the token carries what the provider configured: unknowable here
    assert problems_of(tmp_path, BASE.replace("  scopes: [read, write]\n", "") + OPERATION) == []


def test_a_scope_holding_the_separator_is_refused(tmp_path: Path) -> None:
    text = code_manifest().replace("  scopes: [read, write]\n",
                                   "  scopes: [read, write]\n  scope_separator: ','\n")
    assert_one(tmp_path, text + OPERATION.replace("[profile]", "['read,write']"),
               "SCOPE-CONTAINS-SEPARATOR", "scopes:")


def test_validation_never_opens_a_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    text = code_manifest().replace("https://{{ tenant }}.acme.example/oauth/authorize",
                                   "https://login.unresolvable.example/authorize")
    assert {p.rule for p in problems_of(tmp_path, text)} == {"URL-HOST-NOT-ALLOWED"}
