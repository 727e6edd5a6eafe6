"""Tokens of authorization-code authentications: read from the store, refreshed once.

The store is the truth for these tokens: the user's consent lives in the refresh token, and
a rotating provider (Twitch) invalidates it on use, so two processes that both spent it
would lose the consent. ``StoredTokens`` is what the ``TokenManager`` uses for them:

* **Read.** ``read`` opens the record's sealed tokens and gives the access token while it is
  fresh (by the manager's monotonic deadlines, ``held``) and not one an API refused
  (``reject``, the 401 path). A record marked ``needs_reconsent`` raises ``NeedsReconsent``.
* **One refresh across processes.** The leader takes the *store's* lease (``TokenLease`` on
  the shared SQLite file or PostgreSQL database) through ``single_flight.lead_sync``, re-reads
  the record (another process may have refreshed it), and only then sends the refresh
  request. A caller that finds the lease taken polls the record and uses the new token. The
  lead is *exclusive*: a refresh is never sent without the lease, even when the wait runs
  out (the waiter keeps re-reading until the lease expires and takes it, and otherwise
  fails with ``TokenTransportError``): a second request would spend the rotating refresh
  token concurrently.
* **Rotation is compare-and-set.** The new tokens (the old refresh token kept when none
  comes back, RFC 6749 §6) are written with ``update_tokens(expected_version=...)``. When the
  write loses, the record is re-read: if its refresh token changed, another process rotated
  it, and its tokens are used (the answer just received is dropped, never written over);
  if it is still the one just spent, only the status or version moved (a ``needs_reconsent``
  mark by a holder whose refresh the provider refused because ours had spent the token, or
  a parameters update), and the new tokens are written over it, active, by compare-and-set
  on the re-read version: the provider issued them, so they are the consent.
* **invalid_grant.** Only a lease holder (its lease not outlived) whose spent refresh token
  is still the stored one marks the record ``needs_reconsent`` (never deleted) and raises
  ``NeedsReconsent``, naming the authentication and the fix; every later call raises it too,
  until it is connected again. When the stored refresh token changed meanwhile, its tokens
  are used; when the lease was outlived, the refusal is raised as a transient
  ``TokenEndpointError`` and nothing is marked (the next call refreshes under the lease).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthenticationConflict,
    NeedsReconsent,
    StoreError,
    TokenEndpointError,
    TokenTransportError,
)
from .._manifest.model import Authentication
from .fetch import FetchFlow
from .grants import RefreshTokenGrant, response_context
from .held import HeldTokens
from .request import TokenRequest
from .response import TokenGrant
from .single_flight import LeaseBusy, LeasePolicy, lead_async, lead_sync
from .token import RefreshPolicy, Token
from .user_tokens import UserTokens

if TYPE_CHECKING:
    from .._stores.protocol import AuthenticationRecord, AuthorizationStore

__all__ = ["StoredTokens", "needs_reconsent"]

logger = logging.getLogger("connector_sdk.tokens")

#: How many times a refresh's new tokens are written again over a record that only moved
#: (status or version) while the refresh was in flight; each loss means another write.
_REWRITES = 5

#: Builds the retry loop for one request (the manager's ``fetch_flow`` with its policy).
MakeFlow = Callable[[TokenRequest, Any, RefreshTokenGrant], FetchFlow]


def needs_reconsent(authentication: Authentication, why: str) -> NeedsReconsent:
    name, service = authentication.name, authentication.service.id
    return NeedsReconsent(
        f"service '{service}', authentication '{name}' needs the user's consent again: {why};"
        f" connect it again with `connector-sdk auth connect {service} --name {name}` (or"
        " begin_authorization), which keeps its name",
        service=service, authentication=name, oauth_error="invalid_grant", permanent=True)


class StoredTokens:
    """The store side of authorization-code tokens for one ``TokenManager``."""

    def __init__(self, store: Callable[[], AuthorizationStore], held: HeldTokens, *,
                 refresh: RefreshPolicy, lease: LeasePolicy, make_flow: MakeFlow,
                 allow_loopback: bool, clock: Callable[[], float],
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._held = held
        self._refresh = refresh
        self._lease = lease
        self._make_flow = make_flow
        self._allow_loopback = allow_loopback
        self._clock = clock
        self._wall_clock = wall_clock
        self._rejected: dict[str, str] = {}

    def reject(self, key: str, token: Token) -> None:
        """The API refused ``token``: a record still holding it must be refreshed."""
        self._rejected[key] = token.access_token.reveal()

    def forget(self, key: str) -> None:
        self._rejected.pop(key, None)

    # -- reading ---------------------------------------------------------------------------

    def _record(self, authentication: Authentication) -> tuple[AuthenticationRecord,
                                                              UserTokens]:
        record = self._store().get(authentication.name)
        if record.status == "needs_reconsent":
            raise needs_reconsent(authentication, "its refresh token was refused earlier")
        if record.tokens is None:
            raise needs_reconsent(authentication, "it holds no tokens (it was never connected)")
        return record, UserTokens.from_secret(record.tokens, name=record.name)

    def read(self, key: str, authentication: Authentication) -> Token | None:
        """The stored access token while fresh and not refused; held from now on."""
        _, tokens = self._record(authentication)
        if self._rejected.get(key) == tokens.token.access_token.reveal():
            return None
        return self._held.read(key, tokens.token)

    # -- refreshing --------------------------------------------------------------------------

    def lead_sync(self, key: str, authentication: Authentication,
                  drive: Callable[[FetchFlow], TokenGrant]) -> Token:
        """The token for ``key``: read, or refreshed under the store's lease (blocking)."""
        try:
            return lead_sync(
                key, self._store(), self._lease, clock=self._clock, exclusive=True,
                read=lambda: self.read(key, authentication),
                fetch=lambda: self._refresh_with(key, authentication, drive))
        except LeaseBusy:
            raise self._busy(authentication) from None

    async def lead_async(self, key: str, authentication: Authentication,
                         drive: Callable[[FetchFlow], Awaitable[TokenGrant]]) -> Token:
        """``lead_sync`` for coroutines; the store's calls run in a worker thread."""
        import asyncio

        async def read() -> Token | None:
            return await asyncio.to_thread(self.read, key, authentication)

        async def fetch() -> Token:
            started = self._clock()
            record, tokens = await asyncio.to_thread(self._record, authentication)
            flow = self._flow(authentication, self._request(authentication, tokens))
            try:
                answer: TokenGrant | TokenEndpointError = await drive(flow)
            except TokenEndpointError as error:
                answer = error
            return await asyncio.to_thread(self._settle, key, authentication, record, tokens,
                                           answer, started)

        try:
            return await lead_async(key, self._store(), self._lease, clock=self._clock,
                                    exclusive=True, read=read, fetch=fetch)
        except LeaseBusy:
            raise self._busy(authentication) from None

    def _busy(self, authentication: Authentication) -> TokenTransportError:
        name, service = authentication.name, authentication.service.id
        waited = self._lease.wait + self._lease.ttl
        return TokenTransportError(
            f"service '{service}', authentication '{name}': another process held the lease"
            f" on its refresh for the whole {waited:.0f} s this call waited; no second"
            " refresh was sent (it would spend the refresh token concurrently); try again",
            service=service, authentication=name)

    def _refresh_with(self, key: str, authentication: Authentication,
                      drive: Callable[[FetchFlow], TokenGrant]) -> Token:
        started = self._clock()
        record, tokens = self._record(authentication)
        flow = self._flow(authentication, self._request(authentication, tokens))
        try:
            answer: TokenGrant | TokenEndpointError = drive(flow)
        except TokenEndpointError as error:
            answer = error
        return self._settle(key, authentication, record, tokens, answer, started)

    def _settle(self, key: str, authentication: Authentication, record: AuthenticationRecord,
                tokens: UserTokens, answer: TokenGrant | TokenEndpointError,
                started: float) -> Token:
        """The refresh's outcome written to the store: rotated tokens, or a refusal.
        ``started``: when the refresh began under the lease (``clock``)."""
        if isinstance(answer, TokenEndpointError):
            return self._refused(authentication, record, tokens, answer, started)
        return self._rotate(key, authentication, record, tokens, answer)

    def _request(self, authentication: Authentication, tokens: UserTokens) -> TokenRequest:
        if tokens.refresh_token is None:
            raise needs_reconsent(authentication, "its access token was refused and the"
                                  " provider gave no refresh token")
        return RefreshTokenGrant(tokens.refresh_token).build_request(
            authentication, allow_loopback=self._allow_loopback)

    def _flow(self, authentication: Authentication, request: TokenRequest) -> FetchFlow:
        context = response_context(authentication, request, self._refresh)
        return self._make_flow(request, context, RefreshTokenGrant())

    def _still_spent(self, name: str, spent: UserTokens) -> AuthenticationRecord | None:
        """The record, re-read, while it still holds the refresh token just spent (only its
        status or version moved); None once another process rotated or reconnected it."""
        current = self._store().get(name)
        if current.tokens is None:
            return None
        stored = UserTokens.from_secret(current.tokens, name=name)
        return current if stored.refresh_token == spent.refresh_token else None

    def _rotate(self, key: str, authentication: Authentication, record: AuthenticationRecord,
                tokens: UserTokens, grant: TokenGrant) -> Token:
        new = UserTokens.from_grant(grant, now=self._wall_clock(), previous=tokens)
        target: AuthenticationRecord | None = record
        for _ in range(_REWRITES):
            assert target is not None
            try:
                self._store().update_tokens(record.name, new.to_secret(),
                                            expected_version=target.version)
            except AuthenticationConflict:
                target = self._still_spent(record.name, tokens)
                if target is None:
                    # another process rotated the tokens (a lease outlived) or the user
                    # connected again: its tokens are the truth; ours are dropped
                    logger.info("authentication %s: another process rotated its tokens"
                                " first; using theirs", record.name)
                    _, theirs = self._record(authentication)
                    return theirs.token
                logger.info("authentication %s: the record moved (status %s) but still holds"
                            " the refresh token just spent; writing the new tokens over it",
                            record.name, target.status)
                continue
            self._rejected.pop(key, None)
            return new.token
        raise AuthenticationConflict(
            f"authentication '{record.name}': its record kept changing while its refreshed"
            f" tokens were written ({_REWRITES} tries); try again", name=record.name)

    def _refused(self, authentication: Authentication, record: AuthenticationRecord,
                 tokens: UserTokens, error: TokenEndpointError, started: float) -> Token:
        if error.oauth_error != "invalid_grant":
            raise error
        if self._clock() - started >= self._lease.ttl:
            # our lease was outlived: another holder may have spent the token meanwhile,
            # and only a holder may take a refusal for a revoked consent
            raise TokenEndpointError(
                f"{error} [not marked needs_reconsent: the refresh took longer than its lease"
                f" ({self._lease.ttl:.0f} s), so another process may have spent the refresh"
                " token meanwhile; try again]", service=error.service,
                authentication=error.authentication, status=error.status,
                provider_message=error.provider_message, oauth_error=error.oauth_error,
                permanent=False) from None
        for _ in range(_REWRITES):
            current = self._still_spent(record.name, tokens)
            if current is None:  # rotated by another process meanwhile
                return self._record(authentication)[1].token
            if current.status == "needs_reconsent":
                break
            try:
                self._store().update_tokens(record.name, current.tokens,
                                            expected_version=current.version,
                                            status="needs_reconsent")
                break
            except AuthenticationConflict:
                continue
            except StoreError as exc:
                logger.warning("authentication %s: could not mark it needs_reconsent (%s)",
                               record.name, type(exc).__name__)
                break
        raise needs_reconsent(
            authentication, "the provider refused its refresh token (invalid_grant: the"
            " user revoked the app, or the token expired)") from None
