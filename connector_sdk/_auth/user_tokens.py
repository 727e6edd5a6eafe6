"""The tokens of an authorization-code authentication, as the store keeps them.

``UserTokens`` is the access token (a ``Token``: type, scopes, wall-clock expiry) plus the
refresh token. The store seals its JSON (``to_secret``) in a column of its own, never among
the parameters (``_stores.sql``); ``from_secret`` reads it back and refuses anything else
with a ``StoreError`` that says how to recover (connect again), never quoting it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .._errors import StoreError
from .._secrets import Secret
from .response import TokenGrant
from .token import Token

__all__ = ["UserTokens"]


@dataclass(frozen=True, slots=True, repr=False)
class UserTokens:
    """An access token and the refresh token that renews it (None: the provider gave none,
    so the access token is used until the API refuses it)."""

    token: Token
    refresh_token: Secret | None

    def __repr__(self) -> str:
        return f"UserTokens({self.token!r}, refresh_token=<hidden>)"

    @classmethod
    def from_grant(cls, grant: TokenGrant, *, now: float,
                   previous: UserTokens | None = None) -> UserTokens:
        """The tokens after ``grant`` was received at wall time ``now``.

        A new refresh token replaces the old one (rotation); an answer without one keeps
        the previous refresh token, which stays valid (RFC 6749 §6). An answer without a
        lifetime and without any refresh token gives an access token with no known expiry.
        """
        refresh = grant.refresh_token or (previous.refresh_token if previous else None)
        lasting = not grant.expires_given and refresh is None
        token = Token(access_token=grant.access_token, token_type=grant.token_type,
                      scopes=grant.scopes, obtained_at=now,
                      expires_at=None if lasting else now + grant.expires_in)
        return cls(token, refresh)

    def to_secret(self) -> Secret:
        """The JSON the store seals (clear tokens inside a ``Secret``)."""
        data: dict[str, Any] = self.token.to_dict()
        data["refresh_token"] = None if self.refresh_token is None \
            else self.refresh_token.reveal()
        return Secret(json.dumps(data, separators=(",", ":")))

    @classmethod
    def from_secret(cls, sealed: Secret, *, name: str) -> UserTokens:
        """The tokens in a record's ``tokens``; ``StoreError`` naming ``name`` otherwise."""
        try:
            data = json.loads(sealed.reveal())
            refresh = data.get("refresh_token") if isinstance(data, dict) else None
            if refresh is not None and (not isinstance(refresh, str) or not refresh):
                raise ValueError("bad refresh token")
            token = Token.from_dict(data)
        except StoreError:
            raise
        except (ValueError, TypeError, AttributeError, RecursionError):
            raise StoreError(
                f"the stored tokens of authentication '{name}' are damaged; connect it again"
                " (`connector-sdk auth connect SERVICE --name NAME`)") from None
        return cls(token, None if refresh is None else Secret(refresh))
