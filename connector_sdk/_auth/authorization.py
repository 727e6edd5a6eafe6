"""The authorization request and the callback's checks of the authorization-code grant. Pure.

* ``pkce_pair``: RFC 7636 §4.1-4.2: a verifier of 64 characters from ``secrets.token_urlsafe``
  (the unreserved set, within 43-128) and its S256 challenge,
  ``BASE64URL(SHA256(ASCII(verifier)))`` without padding.
* ``authorization_url``: the manifest's ``authorization_url`` rendered by the same network
  policy as every token URL (``_http.policy.render_url``: scheme, allowed hosts, a value in
  the host a plain DNS name) *before* it is handed out, then RFC 6749 §4.1.1's query:
  ``response_type=code``, ``client_id``, ``redirect_uri``, ``scope`` joined with the
  manifest's separator (§3.3), ``state``, the PKCE challenge, and the manifest's rendered
  ``authorization_parameters`` (never one of those the flow sets).
* ``check_signature``: a ``sorted_query_hmac_sha256`` callback signature (Shopify's
  ``hmac``: every query parameter but the signature, sorted, joined ``k=v`` with ``&``, in
  keys and values ``%`` written ``%25`` and ``&`` ``%26``, in keys ``=`` ``%3D``, so no two
  different queries share a message; HMAC-SHA256 hex under the client secret;
  ``sorted_query_signature``, which the Shopify emulator signs with too), compared in constant time
  (``hmac.compare_digest``), and its ``timestamp`` within ``max_age`` seconds of now.
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
* ``check_callback_parameters``: a callback parameter that must equal an authentication
  parameter (Shopify's ``shop`` and ``shopify_url``): equal to the value the flow began
  with, character for character (so ``EVIL.myshopify.com``, a trailing dot, a look-alike
  in Unicode or ``shop.myshopify.com.attacker.net`` never pass), valid against that
  parameter's schema, and rendering an allowed host in every URL of the service.

Every refusal is an ``AuthorizationError`` with a ``reason``; no message quotes a value of
the callback (it may carry the code or the state).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import AuthorizationError, NetworkPolicyError, ParameterError
from .._http.policy import render_url
from .._manifest.model import Authentication, AuthorizationCodeSpec, CallbackSignatureSpec
from .parameters import validate_parameters
from .request import render_text

__all__ = [
    "FLOW_PARAMETERS",
    "authorization_url",
    "check_callback_parameters",
    "check_signature",
    "pkce_pair",
    "signature_message",
    "sorted_query_signature",
]

#: Query parameters the flow sets itself; ``authorization_parameters`` never override them.
FLOW_PARAMETERS = frozenset({"response_type", "client_id", "redirect_uri", "scope", "state",
                             "code_challenge", "code_challenge_method"})
_VERIFIER_BYTES = 48  # 64 characters of base64url


def pkce_pair() -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` for S256 (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(_VERIFIER_BYTES)
    return verifier, s256_challenge(verifier)


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def spec_of(authentication: Authentication) -> AuthorizationCodeSpec:
    """The manifest's ``authorization_code`` block; ``AuthorizationError`` when the service
    does not offer the grant."""
    spec = authentication.service.auth.authorization_code
    if spec is None:
        service = authentication.service.id
        raise AuthorizationError(
            f"service '{service}' does not offer the authorization-code grant (its manifest"
            " has no auth.authorization_code); use `connector-sdk auth create` for its"
            " client-credentials authentications",
            reason="not_offered", service=service, authentication=authentication.name)
    return spec


def authorization_url(
    authentication: Authentication, *, redirect_uri: str, state: str,
    scopes: Sequence[str], code_challenge: str | None, allow_loopback: bool,
) -> str:
    """The URL to send the user to; ``NetworkPolicyError`` before it is handed out."""
    service = authentication.service
    spec = spec_of(authentication)
    values = authentication.parameters
    url = render_url(spec.authorization_url, values, service=service.id,
                     url_name="authorization_url", allowed_hosts=service.allowed_hosts,
                     allow_loopback=allow_loopback)
    client_id = render_text(service.auth.client_id, values, service=service.id,
                            field="client_id")
    query: list[tuple[str, str | int | float | bool | None]] = [
        ("response_type", "code"), ("client_id", client_id), ("redirect_uri", redirect_uri)]
    if scopes:
        query.append(("scope", service.auth.scope_separator.join(scopes)))
    query.append(("state", state))
    if code_challenge is not None:
        query += [("code_challenge", code_challenge), ("code_challenge_method", "S256")]
    for name, template in spec.authorization_parameters.items():
        if name not in FLOW_PARAMETERS:
            query.append((name, render_text(template, values, service=service.id,
                                            field=f"authorization_parameters.{name}")))
    return str(url.copy_merge_params(query))


def _escaped(text: str, *, key: bool) -> str:
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if key else text


def signature_message(query: Sequence[tuple[str, str]], parameter: str) -> str:
    """The signed text: every pair but ``parameter``'s, sorted, ``k=v`` joined by ``&``, with
    ``%`` and ``&`` escaped in keys and values and ``=`` in keys (Shopify's verification,
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant),
    so a value holding ``&k=v`` cannot stand for another parameter: two different queries
    never give one message."""
    return "&".join(f"{_escaped(k, key=True)}={_escaped(v, key=False)}"
                    for k, v in sorted(p for p in query if p[0] != parameter))


def sorted_query_signature(query: Sequence[tuple[str, str]], parameter: str, secret: str) -> str:
    """The ``sorted_query_hmac_sha256`` signature of ``query`` (HMAC-SHA256 hex of
    ``signature_message`` keyed with ``secret``): what the check expects and what the
    emulators sign with, one algorithm."""
    message = signature_message(query, parameter).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def check_signature(
    spec: CallbackSignatureSpec, query: Sequence[tuple[str, str]],
    parameters: Mapping[str, Any], *, service: str, authentication: str, now: float,
) -> None:
    """``AuthorizationError(reason="signature_invalid")`` unless the callback is signed
    with the authentication's secret and, with ``max_age``, signed recently."""
    def refuse(why: str) -> AuthorizationError:
        return AuthorizationError(
            f"service '{service}', authentication '{authentication}': the callback's"
            f" signature {why}; the callback was not made by the provider for this app, or"
            " was altered: begin the authorization again",
            reason="signature_invalid", service=service, authentication=authentication)

    given = [v for k, v in query if k == spec.parameter]
    if len(given) != 1:
        raise refuse(f"parameter '{spec.parameter}' is missing or repeated")
    key = render_text(spec.secret, parameters, service=service,
                      field="callback_signature.secret")
    expected = sorted_query_signature(query, spec.parameter, key)
    if not hmac.compare_digest(expected.encode("ascii"),
                               given[0].encode("utf-8", "surrogatepass")):
        raise refuse("does not match")
    if spec.max_age is not None:
        stamps = [v for k, v in query if k == "timestamp"]
        try:
            stamp = float(stamps[0]) if len(stamps) == 1 else math.nan
        except ValueError:
            stamp = math.nan
        if not math.isfinite(stamp) or abs(now - stamp) > spec.max_age:
            raise refuse(f"is older than {spec.max_age:g} s (or has no usable timestamp)")


def check_callback_parameters(
    authentication: Authentication, query: Sequence[tuple[str, str]], *,
    allow_loopback: bool,
) -> None:
    """``AuthorizationError(reason="callback_parameter_invalid")`` unless each callback
    parameter the manifest binds equals, and is valid as, its authentication parameter."""
    service = authentication.service
    spec = spec_of(authentication)
    for name, parameter in spec.callback_parameters.items():
        def refuse(why: str, name: str = name, parameter: str = parameter) -> None:
            raise AuthorizationError(
                f"service '{service.id}', authentication '{authentication.name}': the"
                f" callback's '{name}' {why} (it must equal the parameter '{parameter}' the"
                " authorization began with); begin the authorization again for the right"
                f" {parameter}",
                reason="callback_parameter_invalid", service=service.id,
                authentication=authentication.name)

        given = [v for k, v in query if k == name]
        if len(given) != 1:
            refuse("is missing or repeated")
        value, expected = given[0], authentication.parameters.get(parameter)
        if not isinstance(expected, str) or not hmac.compare_digest(
                value.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
            refuse("is not the value the authorization began with")
        try:
            validate_parameters(service, {**authentication.parameters, parameter: value})
            for url_name, template in (("token_url", service.auth.token_url),
                                       ("base_url", service.base_url)):
                render_url(template, {**authentication.parameters, parameter: value},
                           service=service.id, url_name=url_name,
                           allowed_hosts=service.allowed_hosts, allow_loopback=allow_loopback)
        except (ParameterError, NetworkPolicyError):
            refuse("is not a valid value of that parameter")
