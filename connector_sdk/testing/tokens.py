"""A generic OAuth2 token server on loopback, for any manifest's client-credentials grant.

``TokenServer`` answers token requests as RFC 6749 describes them, so the SDK's token layer
runs against it exactly as against a provider: client authentication by HTTP Basic
(``client_secret_basic``, §2.3.1, form-encoded id and secret) or in the body
(``client_secret_post``), ``grant_type=client_credentials`` (§4.4), a §5.1 success body and
§5.2 error bodies. Revocation (RFC 7009) is answered too when ``revocation_path`` is set.

What a test may rely on:

- ``count`` is the number of token requests received, faults included; ``issued`` the tokens
  handed out, in order. Counting happens before the answer is sent.
- ``clients`` (``{client_id: client_secret}``) are the credentials it accepts; when empty, it
  accepts any non-empty pair. A wrong pair gets 401 ``invalid_client``; another grant type
  400 ``unsupported_grant_type``; no ``client_id`` 400 ``invalid_request``.
- ``expire()`` / ``revoke()`` make issued tokens invalid on demand (all, or one), and
  ``valid(token)`` says whether an API should still accept one: the ``APIServer`` given this
  token server answers 401 for any other.
- ``fail_next(*responders)`` queues faults (``connector_sdk.testing.faults``) for the next
  token requests; after them, normal answers resume.
- Expiry follows ``clock`` (wall-clock seconds, ``time.time`` by default: pass a
  ``FakeClock`` to move time by hand).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from .servers import Exchange, LoopbackServer, Reply, Responder, Seen, path_pattern

__all__ = ["IssuedToken", "TokenServer"]


@dataclass
class IssuedToken:
    """A token the server handed out, and why it may no longer be valid."""

    value: str
    client_id: str
    expires_at: float | None
    scope: str | None = None
    revoked: bool = False
    expired: bool = False

    def valid_at(self, now: float) -> bool:
        if self.revoked or self.expired:
            return False
        return self.expires_at is None or now < self.expires_at


def _random_token() -> str:
    return "kit-" + secrets.token_urlsafe(18)


class TokenServer:
    """An OAuth2 client-credentials token endpoint on ``server`` at ``path`` (see module).

    ``path`` may be a template (``/{tenant}/oauth/token``) and ``host`` limits it to one
    ``Host``, for manifests whose token URL is parameterized. ``token_type=None`` or
    ``expires_in=None`` leave those fields out, as some providers do. ``make_token`` makes each
    token's value (a canary factory, in leak tests).
    """

    def __init__(
        self,
        server: LoopbackServer | None = None,
        *,
        path: str = "/oauth/token",
        host: str | None = None,
        clients: Mapping[str, str] | None = None,
        expires_in: int | None = 3600,
        token_type: str | None = "bearer",  # noqa: S107 (a token type, not a secret)
        revocation_path: str | None = "/oauth/revoke",
        make_token: Callable[[], str] = _random_token,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.server = server if server is not None else LoopbackServer()
        self._owns_server = server is None
        self.path = path
        self.clients: dict[str, str] = dict(clients or {})
        self.expires_in = expires_in
        self.token_type = token_type
        self.make_token = make_token
        self.clock = clock
        self.issued: list[str] = []
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self.server.route(path, self.answer, method="POST", host=host)
        self.revocation_path = revocation_path
        if revocation_path is not None:
            self.server.route(revocation_path, self._revoke, method="POST", host=host)

    @property
    def url(self) -> str:
        """The token endpoint on loopback (``http://127.0.0.1:PORT/oauth/token``)."""
        return self.server.url + self.path

    @property
    def requests(self) -> list[Seen]:
        """The token requests received so far (a template ``path`` counts every match)."""
        return [s for s in self.server.requests() if self._is_token_request(s)]

    @property
    def count(self) -> int:
        """How many token requests were received, faults included."""
        return len(self.requests)

    def _is_token_request(self, seen: Seen) -> bool:
        return seen.method == "POST" and _matches(self.path, seen.route)

    # -- on demand --------------------------------------------------------------------------

    def fail_next(self, *responders: Responder) -> None:
        """Answer the next token requests with these faults, in order (literal paths only)."""
        if "{" in self.path:
            raise ValueError("fail_next needs a literal path; script the rendered one on"
                             " the server instead")
        self.server.script(self.path, *responders)

    def valid(self, token: str) -> bool:
        """True when ``token`` was issued here and is neither expired nor revoked."""
        with self._lock:
            record = self._tokens.get(token)
            return record is not None and record.valid_at(self.clock())

    def expire(self, token: str | None = None) -> int:
        """Make ``token`` (or every issued token) expired now; returns how many changed."""
        return self._mark(token, "expired")

    def revoke(self, token: str | None = None) -> int:
        """Revoke ``token`` (or every issued token); returns how many changed."""
        return self._mark(token, "revoked")

    def _mark(self, token: str | None, attribute: str) -> int:
        with self._lock:
            records = list(self._tokens.values()) if token is None else [
                r for r in (self._tokens.get(token),) if r is not None]
            changed = [r for r in records if not getattr(r, attribute)]
            for record in changed:
                setattr(record, attribute, True)
            return len(changed)

    def issue(self, client_id: str = "kit-client", *, scope: str | None = None) -> str:
        """Mint a token without a request (an API test that needs one already issued)."""
        value = self.make_token()
        expires_at = None if self.expires_in is None else self.clock() + self.expires_in
        with self._lock:
            self._tokens[value] = IssuedToken(value, client_id, expires_at, scope)
            self.issued.append(value)
        return value

    # -- the endpoints ----------------------------------------------------------------------

    def answer(self, exchange: Exchange) -> Reply:
        """The endpoint's own answer to a token request: for a responder that delays or
        wraps it (``fail_next(lambda ex: (ex.sleep(1), server.answer(ex))[1])``)."""
        form = exchange.seen.form()
        try:
            basic = _basic_credentials(exchange.headers.get("authorization", ""))
        except ValueError:
            return _error(401, "invalid_client", "the Authorization header is not valid Basic")
        client_id, client_secret = basic or (form.get("client_id", ""),
                                             form.get("client_secret", ""))
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return _error(400, "unsupported_grant_type" if grant else "invalid_request",
                          "grant_type must be client_credentials")
        if not client_id:
            return _error(400, "invalid_request", "client_id is missing")
        expected = self.clients.get(client_id) if self.clients else client_secret or None
        if expected is None or not secrets.compare_digest(expected, client_secret):
            headers = {"WWW-Authenticate": 'Basic realm="token"'} if basic else {}
            return _error(401, "invalid_client", "client authentication failed", headers)
        scope = form.get("scope") or None
        value = self.issue(client_id, scope=scope)
        body: dict[str, object] = {"access_token": value}
        if self.token_type is not None:
            body["token_type"] = self.token_type
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if scope is not None:
            body["scope"] = scope
        return Reply(200, json=body, headers={"Cache-Control": "no-store"})

    def _revoke(self, exchange: Exchange) -> Reply:
        token = exchange.seen.form().get("token", "")
        if token:
            self.revoke(token)
        return Reply(200, body=b"")  # RFC 7009 §2.2: 200 whether or not the token was known

    def close(self) -> None:
        """Close the server when this token server made its own."""
        if self._owns_server:
            self.server.close()


def _error(code: int, error: str, description: str,
           headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(code, json={"error": error, "error_description": description},
                 headers=dict(headers or {}))


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """(id, secret) from ``Basic`` credentials (RFC 6749 §2.3.1: each form-encoded), None
    when there are none; ``ValueError`` when they are malformed."""
    scheme, _, data = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(data.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("malformed Basic credentials") from None
    client_id, sep, client_secret = decoded.partition(":")
    if not sep:
        raise ValueError("malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(client_secret)


def _matches(template: str, path: str) -> bool:
    return path_pattern(template).fullmatch(path) is not None
