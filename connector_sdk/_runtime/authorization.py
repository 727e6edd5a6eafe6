"""The authorization-code flow of a ``Runtime``: begin (a URL and a state), complete (the
callback: checks, code exchange, the authentication stored with its tokens sealed).

What callers may rely on:

* **The state** is 256 random bits (``secrets.token_urlsafe``): an opaque handle, no secret
  inside. What it stands for (service, authentication name, organisation, redirect URL,
  scopes, the PKCE verifier and the parameter values, secrets included) is a *pending
  authorization* sealed in the store (AES-256-GCM, the store's key) under the state's
  SHA-256 (``_stores.authorization``). So any process sharing the store can complete what
  another began; the state expires (10 minutes by default) and is taken exactly once
  across processes; a replayed, expired or unknown state, and one completed for another
  organisation, are refused (``AuthorizationError.reason``) before anything is sent.
* **The callback** is checked before the code is exchanged: the provider's error
  (``access_denied`` when the user declined), the manifest's callback signature (constant
  time, with its ``max_age``) and its callback parameters (Shopify's ``shop`` equal to,
  and as valid as, ``shopify_url``; see ``_auth.authorization``).
* **The exchange** is one request (a code is single use: a retry after a lost answer could
  only be refused), with the redirect URI and the PKCE verifier; a refused code is
  ``AuthorizationError(reason="invalid_grant")``.
* **The tokens** are stored sealed with the authentication (``grant`` authorization_code,
  status active); connecting an existing authentication of the same service again replaces
  its parameters and tokens (the way out of ``needs_reconsent``) and drops what the token
  manager held for it.

The async twins run the same code in a worker thread (``asyncio.to_thread``): the store is
synchronous, and the one token request of a completion costs a thread, not the event loop.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from .._auth.authorization import (
    authorization_url,
    check_callback_parameters,
    check_signature,
    pkce_pair,
    spec_of,
)
from .._auth.grants import AuthorizationCodeGrant
from .._auth.user_tokens import UserTokens
from .._errors import (
    AuthenticationConflict,
    AuthenticationExists,
    AuthenticationNotFound,
    AuthorizationError,
    ConfigError,
    NetworkPolicyError,
    TokenEndpointError,
)
from .._http.policy import is_loopback_host
from .._manifest.model import Authentication
from .._secrets import Secret, SecretReference
from .._stores.protocol import (
    GRANT_AUTHORIZATION_CODE,
    AuthenticationRecord,
    AuthorizationStore,
    exists,
    validate_name,
)

if TYPE_CHECKING:
    from .._auth.manager import TokenManager
    from .._http.settings import HttpSettings
    from .._stores.protocol import AuthenticationStore


class FlowRuntime(Protocol):
    """What the flow uses of a ``Runtime`` (not imported: the runtime imports this)."""

    @property
    def store(self) -> AuthenticationStore: ...

    @property
    def tokens(self) -> TokenManager: ...

    http: HttpSettings

    def authentication(self, service_id: str, parameters: Mapping[str, Any], *,
                       name: str = ...) -> Authentication: ...

__all__ = ["STATE_LIFETIME", "AuthorizationRequest", "begin", "complete"]

#: Seconds a state stays usable (RFC 6749 §10.12 leaves it to us; a person consents in less).
STATE_LIFETIME = 600.0
_MAX_CALLBACK = 16 * 1024
_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_scope",
                            "unsupported_grant_type"})


@dataclass(frozen=True, slots=True, repr=False)
class AuthorizationRequest:
    """What ``begin_authorization`` returns: send the user to ``url``; the provider comes
    back to ``redirect_url`` with ``state``. ``repr`` shows neither the URL nor the state."""

    url: str
    state: str
    redirect_url: str
    service: str
    name: str
    expires_at: float

    def __repr__(self) -> str:
        return (f"AuthorizationRequest(service={self.service!r}, name={self.name!r},"
                f" redirect_url={self.redirect_url!r}, url=<hidden>, state=<hidden>)")


def _store(runtime: FlowRuntime) -> AuthorizationStore:
    store = runtime.store
    if not isinstance(store, AuthorizationStore):
        raise ConfigError(
            f"the authentication store ({type(store).__name__}) cannot hold authorization-code"
            " authentications (it lacks update_tokens, put_pending and take_pending); use the"
            " built-in SQLite or PostgreSQL store", setting="CONNECTOR_SDK_STORE")
    return store


def _redirect(runtime: FlowRuntime, spec_multiple: bool, organisation: str | None,
              given: str | None, service: str) -> str:
    if given is None:
        redirects = getattr(runtime, "redirects", None)
        if redirects is None:
            raise ConfigError(
                f"service '{service}': no redirect URL for the authorization: pass"
                " redirect_url=, or configure CONNECTOR_SDK_REDIRECTS (Runtime(redirects=...);"
                " docs/redirects.md)", setting="CONNECTOR_SDK_REDIRECTS")
        return str(redirects.redirect_url_for(organisation, accepts_multiple=spec_multiple))
    parts = urlsplit(given)
    if not (parts.scheme == "https" or (parts.scheme == "http"
                                        and is_loopback_host(parts.hostname or ""))) \
            or not parts.hostname or parts.username or parts.password or parts.fragment:
        raise NetworkPolicyError(
            f"service '{service}': redirect_url must be an https URL without credentials or"
            " fragment (http only to a loopback host, RFC 8252 §7.3)",
            url_name="redirect_url", service=service)
    return given


def _encode(parameters: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        if isinstance(value, SecretReference):
            out[key] = {"$secret": value.reference}
        elif isinstance(value, Secret):
            out[key] = {"secret": value.reveal()}
        else:
            out[key] = value
    return out


def _decode(parameters: Mapping[str, Any]) -> dict[str, Any]:
    return {key: Secret(value["secret"]) if isinstance(value, dict) and "secret" in value
            else value for key, value in parameters.items()}


def begin(runtime: FlowRuntime, service_id: str, name: str, parameters: Mapping[str, Any], *,
          organisation: str | None = None, scopes: Sequence[str] | None = None,
          redirect_url: str | None = None,
          lifetime: float = STATE_LIFETIME) -> AuthorizationRequest:
    validate_name(name)
    authentication = runtime.authentication(service_id, parameters, name=name)
    service = authentication.service
    spec = spec_of(authentication)
    store = _store(runtime)
    _check_same_service(store, name, service.id)
    redirect = _redirect(runtime, spec.redirect_urls == "multiple", organisation,
                         redirect_url, service.id)
    chosen = tuple(spec.scopes if scopes is None else scopes)
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair() if spec.pkce == "S256" else (None, None)
    url = authorization_url(authentication, redirect_uri=redirect, state=state, scopes=chosen,
                            code_challenge=challenge, allow_loopback=runtime.http.allow_loopback)
    expires_at = time.time() + lifetime
    payload = {"service": service.id, "name": name, "organisation": organisation,
               "redirect_url": redirect, "scopes": list(chosen), "verifier": verifier,
               "parameters": _encode(authentication.parameters)}
    store.put_pending(state, Secret(json.dumps(payload)), expires_at=expires_at)
    return AuthorizationRequest(url, state, redirect, service.id, name, expires_at)


def _check_same_service(store: AuthorizationStore, name: str, service: str) -> None:
    try:
        found = store.get(name)
    except AuthenticationNotFound:  # a new authentication
        return
    if found.service != service:
        raise exists(name)


def _refuse(reason: str, message: str, payload: Mapping[str, Any] | None = None
            ) -> AuthorizationError:
    service = None if payload is None else payload.get("service")
    name = None if payload is None else payload.get("name")
    where = f"service '{service}', authentication '{name}': " if payload else ""
    return AuthorizationError(where + message, reason=reason, service=service,
                              authentication=name)


def complete(runtime: FlowRuntime, callback_url: str, *,
             organisation: str | None = None) -> AuthenticationRecord:
    if not isinstance(callback_url, str) or len(callback_url) > _MAX_CALLBACK:
        raise _refuse("callback_invalid", "the callback URL is not a string of at most"
                      f" {_MAX_CALLBACK} characters")
    query = parse_qsl(urlsplit(callback_url).query, keep_blank_values=True)
    states = [v for k, v in query if k == "state"]
    if len(states) != 1 or not states[0]:
        raise _refuse("state_unknown", "the callback carries no single state; it did not"
                      " come from an authorization this SDK began: begin it again")
    store = _store(runtime)
    now = time.time()
    pending = store.take_pending(states[0], now=now)
    if not pending.found or pending.payload is None:
        raise _refuse(f"state_{pending.outcome}", {
            "unknown": "the callback's state was never issued by this store (or is older"
                       " than a day); begin the authorization again",
            "expired": "the callback's state has expired (the consent took too long);"
                       " begin the authorization again",
            "replayed": "the callback's state was used already (a state is single use);"
                        " begin the authorization again",
        }[pending.outcome])
    payload = json.loads(pending.payload.reveal())
    if payload.get("organisation") != organisation:
        raise _refuse("organisation_mismatch", "the authorization was begun for another"
                      " organisation than the one completing it; begin it again on the"
                      " organisation's own redirect URL", payload)
    errors = [v for k, v in query if k == "error"]
    if errors:
        code = errors[0] if _ERROR_CODE.fullmatch(errors[0]) else "unnamed"
        denied = code == "access_denied"
        raise _refuse("access_denied" if denied else "provider_error",
                      "the user declined the authorization" if denied else
                      f"the provider refused the authorization ({code}); check the app's"
                      " registration (redirect URL, scopes)", payload)
    authentication = runtime.authentication(payload["service"],
                                            _decode(payload["parameters"]),
                                            name=payload["name"])
    spec = spec_of(authentication)
    if spec.callback_signature is not None:
        check_signature(spec.callback_signature, query, authentication.parameters,
                        service=authentication.service.id, authentication=authentication.name,
                        now=now)
    check_callback_parameters(authentication, query,
                              allow_loopback=runtime.http.allow_loopback)
    codes = [v for k, v in query if k == "code"]
    if len(codes) != 1 or not codes[0]:
        raise _refuse("callback_invalid", "the callback carries no single code", payload)
    verifier = payload.get("verifier")
    grant = AuthorizationCodeGrant(Secret(codes[0]), payload["redirect_url"],
                                   None if verifier is None else Secret(verifier),
                                   tuple(payload.get("scopes") or ()))
    try:
        answer = runtime.tokens.exchange(authentication, grant)
    except TokenEndpointError as error:
        # a refused code: invalid_grant (RFC 6749 §5.2), or Shopify's invalid_request
        if error.status == 400 and error.oauth_error not in _CLIENT_ERRORS:
            raise _refuse("invalid_grant", "the provider refused the authorization code:"
                          " it was used already, has expired, or the PKCE verifier did not"
                          " match; begin the authorization again", payload) from None
        raise
    tokens = UserTokens.from_grant(answer, now=time.time())
    record = _save(store, authentication, tokens)
    runtime.tokens.forget(_stored(authentication))
    return record


def _stored(authentication: Authentication) -> Authentication:
    return Authentication(authentication.name, authentication.service,
                          authentication.parameters, grant=GRANT_AUTHORIZATION_CODE)


def _save(store: AuthorizationStore, authentication: Authentication,
          tokens: UserTokens) -> AuthenticationRecord:
    name, service = authentication.name, authentication.service.id
    for _ in range(3):  # create, or replace an existing one of this service (reconnect)
        try:
            return store.create(name, service, authentication.parameters,
                                grant=GRANT_AUTHORIZATION_CODE, tokens=tokens.to_secret())
        except AuthenticationExists:
            found = store.get(name)
            if found.service != service:
                raise
            try:
                return store.update_tokens(name, tokens.to_secret(),
                                           expected_version=found.version,
                                           parameters=authentication.parameters,
                                           grant=GRANT_AUTHORIZATION_CODE)
            except (AuthenticationConflict, AuthenticationNotFound):  # changed meanwhile
                continue
    raise exists(name)
