"""Changing a stored authentication's parameters: tested first, saved atomically.

``update_parameters(runtime, name, changes)`` is what ``connector-sdk auth update`` runs:

* the new values are merged over the stored ones and checked against the service's schema
  and network policy like a new authentication's;
* when a secret changes (a rotated client secret), the authentication is **tested before
  anything is saved**: one token request with the new values (client credentials: a token;
  authorization code: a refresh with the stored refresh token). A refused test raises and
  leaves the stored values as they were;
* the save is one compare-and-set on the version read at the start (the parameters, and for
  an authorization-code authentication the tokens that test just rotated, together), so an
  update made meanwhile by someone else is an ``AuthenticationConflict``, never overwritten;
* the tokens held and cached for the old values are dropped, so no call keeps using them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._auth.grants import CLIENT_CREDENTIALS, RefreshTokenGrant
from .._auth.user_tokens import UserTokens
from .._errors import ConfigError
from .._manifest.model import Authentication
from .._stores.protocol import GRANT_AUTHORIZATION_CODE, AuthorizationStore

__all__ = ["Updated", "update_parameters"]


@dataclass(frozen=True, slots=True)
class Updated:
    """What changed (parameter names only) and whether a token request tested it."""

    name: str
    service: str
    changed: tuple[str, ...]
    tested: bool
    version: int


def update_parameters(runtime: Any, name: str, changes: Mapping[str, Any]) -> Updated:
    store = runtime.store
    record = store.get(name)
    old = runtime.get_authentication(name)
    service = old.service
    merged = {**record.parameters, **changes}
    checked = runtime.authentication(service.id, merged, name=name)
    new = Authentication(name, service, checked.parameters, grant=record.grant)
    changed = tuple(sorted(k for k in changes if record.parameters.get(k) != merged[k]))
    secret = bool(service.secret_parameters.intersection(changed))
    tokens = None
    if secret and record.grant == GRANT_AUTHORIZATION_CODE:
        if record.tokens is None:
            raise ConfigError(f"authentication '{name}' holds no tokens to test the new"
                              " values with; connect it again", setting="parameters")
        stored = UserTokens.from_secret(record.tokens, name=name)
        grant = RefreshTokenGrant(stored.refresh_token) if stored.refresh_token else None
        if grant is not None:
            answer = runtime.tokens.exchange(new, grant)
            tokens = UserTokens.from_grant(answer, now=time.time(), previous=stored)
    elif secret:
        runtime.tokens.exchange(new, CLIENT_CREDENTIALS)
    if tokens is not None and isinstance(store, AuthorizationStore):
        saved = store.update_tokens(name, tokens.to_secret(), expected_version=record.version,
                                    parameters=new.parameters, status="active")
    else:
        saved = store.update(name, new.parameters, expected_version=record.version)
    runtime.tokens.forget(old)
    runtime.tokens.forget(new)
    return Updated(name, service.id, changed, secret, saved.version)
