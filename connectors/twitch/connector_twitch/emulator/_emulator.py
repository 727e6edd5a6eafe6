"""An emulator of Twitch's token endpoints (id.twitch.tv) and Helix (api.twitch.tv).

It answers as Twitch documents (https://dev.twitch.tv/docs/authentication/ and
https://dev.twitch.tv/docs/api/guide/), so the SDK's token layer, 401 retry, pagination and
rate-limit handling can be exercised without the network:

* ``POST /oauth2/token``: client credentials in the form body only (Twitch advertises
  ``client_secret_post``; a query string or Basic header is not read). Errors are Twitch's own
  shape, not RFC 6749's: ``400 invalid client``, ``403 invalid client secret``,
  ``400 invalid grant type``, ``400 missing client id``. Success is
  ``{"access_token","expires_in","token_type":"bearer"}`` with ``Cache-Control: no-store``.
* User access tokens (``_user_tokens``): ``GET /oauth2/authorize`` with a consent page, and
  ``grant_type=authorization_code`` and ``refresh_token`` at ``/oauth2/token``.
* ``GET /oauth2/validate`` (``OAuth`` or ``Bearer`` prefix; ``login`` and ``user_id`` for a
  user token) and ``POST /oauth2/revoke``
  (``client_id`` + ``token``; 200 empty, ``400 Invalid token``, ``404 client does not exist``).
* Helix: ``Authorization: Bearer`` and a matching ``Client-Id`` on every call; 401 with the
  Helix envelope when either is missing, unknown, expired, revoked or mismatched; endpoints
  that need a user token or a scope (``_helix_user``) 401 without it. A token bucket per
  client id, and per user for user tokens (``rate_limit`` points, refilled continuously over
  a minute), with ``Ratelimit-Limit/Remaining/Reset`` headers and 429 when empty.

Messages Twitch does not document exactly (missing Client-Id, 405, 429 text) follow the
documented envelope and are marked as the sandbox's choice where they are made.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connector_sdk.sandbox import (
    LOWER_ALNUM,
    Clock,
    TokenRecord,
    json_response,
    read_form,
)

from ._data import TwitchData, twitch_data
from ._helix import ENDPOINTS, HelixError
from ._helix_user import ROUTES, Caller, UserRoute, refusal
from ._user_tokens import UserTokens

__all__ = ["TWITCH_CLIENT_ID", "TWITCH_CLIENT_SECRET", "TwitchSandbox"]

# The documented sandbox client: 30 lower-case alphanumerics, the shape of real Twitch client
# ids and secrets. Not secrets (printed by ``connector-sdk sandbox``); nothing real accepts them.
TWITCH_CLIENT_ID = "sbx4twitch7client8id9abcdef012"
TWITCH_CLIENT_SECRET = "sbx4twitch7secret8value9abc012"

ID_HOST = "id.twitch.tv"
API_HOST = "api.twitch.tv"
_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}


def _id_error(status: int, message: str) -> httpx.Response:
    """id.twitch.tv's error shape: ``{"status":N,"message":"..."}`` (no ``error`` member)."""
    return json_response(status, {"status": status, "message": message})


def _helix_error(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """Helix's envelope: ``{"error":"<reason>","status":N,"message":"..."}``."""
    body = {"error": _REASONS.get(status, "Error"), "status": status, "message": message}
    return json_response(status, body, headers=headers)


def _app_endpoint(
    endpoint: Callable[[TwitchData, httpx.QueryParams], dict[str, Any]],
) -> Callable[[TwitchData, httpx.QueryParams, Caller], dict[str, Any]]:
    """An endpoint that answers app and user tokens alike (it ignores the caller)."""
    return lambda data, query, _caller: endpoint(data, query)


@dataclass
class _Bucket:
    points: float
    updated: float


class TwitchSandbox(UserTokens):
    """Twitch's id.twitch.tv and api.twitch.tv, in one thread-safe object.

    ``clients`` maps client id to client secret (default: the documented sandbox client
    ``TWITCH_CLIENT_ID``/``TWITCH_CLIENT_SECRET``; ``parameters()`` gives the first one as
    authentication parameters). ``token_lifetime`` is the ``expires_in`` of minted
    tokens; ``rate_limit`` the Helix bucket size per client id, refilled continuously over
    ``rate_window`` seconds (Twitch: a minute; benchmarks shorten it). ``clock`` returns
    epoch seconds (default ``time.time``); tests pass their own to move time.
    ``data`` holds the seeded resources (``TwitchData``).

    User access tokens: ``redirect_uris`` are registered redirect URIs (any loopback one is
    accepted too); ``user_id`` is the user who approves on the consent page (default
    TwitchDev, 141981764); ``user_token_lifetime`` the ``expires_in`` of user tokens.
    """

    name = "twitch"

    def __init__(
        self,
        *,
        seed: int = 0,
        token_lifetime: int = 5011271,
        rate_limit: int = 800,
        rate_window: float = 60.0,
        clients: Mapping[str, str] | None = None,
        redirect_uris: Iterable[str] = (),
        user_id: str = "141981764",
        user_token_lifetime: int = 14400,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.seed = seed
        self.token_lifetime = token_lifetime
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.clients: dict[str, str] = dict(
            clients if clients is not None else {TWITCH_CLIENT_ID: TWITCH_CLIENT_SECRET}
        )
        self.data = twitch_data(seed)
        if user_id not in self.data.user_by_id:
            raise ValueError(f"user_id {user_id!r} is not a user of the seeded data")
        self._init_user_tokens(redirect_uris=tuple(redirect_uris), user_id=user_id,
                               user_token_lifetime=user_token_lifetime)
        self._buckets: dict[str, _Bucket] = {}

    @property
    def hosts(self) -> tuple[str, ...]:
        """The real hosts this emulator stands in for."""
        return (ID_HOST, API_HOST)

    def serves(self, host: str) -> bool:
        return host.lower() in (ID_HOST, API_HOST)

    def parameters(self) -> dict[str, str]:
        """``client_id`` and ``client_secret`` of the first client this emulator accepts."""
        client_id, secret = next(iter(self.clients.items()), ("", ""))
        return {"client_id": client_id, "client_secret": secret}

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (its body already read); safe to call from many threads."""
        host = request.url.host.lower()
        with self.lock:
            if host == ID_HOST:
                return self._handle_id(request)
            if host == API_HOST:
                return self._handle_helix(request)
        return _id_error(404, f"the Twitch sandbox does not serve host {host}")

    # id.twitch.tv -------------------------------------------------------------------------

    def _handle_id(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.count_request(request, token=path == "/oauth2/token")
        routes = {
            "/oauth2/token": ("POST", self._token),
            "/oauth2/validate": ("GET", self._validate),
            "/oauth2/revoke": ("POST", self._revoke),
            "/oauth2/authorize": ("GET", self._authorize),
            "/oauth2/consent": ("POST", self._consent_answer),
        }
        if path not in routes:
            return _id_error(404, "Not Found")
        method, handler = routes[path]
        if request.method != method:
            return _id_error(405, "method not allowed")  # sandbox's choice of message
        return handler(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = read_form(request) or {}
        client_id = form.get("client_id", "")
        if not client_id:
            return _id_error(400, "missing client id")
        if client_id not in self.clients:
            return _id_error(400, "invalid client")
        if form.get("client_secret", "") != self.clients[client_id]:
            return _id_error(403, "invalid client secret")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(form, client_id)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, client_id)
        if grant_type != "client_credentials":
            return _id_error(400, "invalid grant type")
        record = TokenRecord(client_id=client_id, expires_at=self.clock() + self.token_lifetime)
        token = self.mint_token(record, length=30, alphabet=LOWER_ALNUM)
        body = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "bearer"}
        return json_response(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _validate(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("oauth", "bearer") or not token.strip():
            return _id_error(401, "missing authorization token")
        now = self.clock()
        record = self.find_token(token.strip())
        if record is None or not record.valid_at(now):
            return _id_error(401, "invalid access token")
        body: dict[str, object] = {"client_id": record.client_id}
        if record.subject:  # app tokens: login and user_id are absent (observed)
            body["login"] = self.data.user_by_id[record.subject]["login"]
        body["scopes"] = list(record.scopes)
        if record.subject:
            body["user_id"] = record.subject
        body["expires_in"] = max(0, int(record.expires_at - now))
        return json_response(200, body)

    def _revoke(self, request: httpx.Request) -> httpx.Response:
        form = read_form(request) or {}
        client_id, token = form.get("client_id", ""), form.get("token", "")
        if not client_id:
            return _id_error(400, "missing client id")
        if client_id not in self.clients:
            return _id_error(404, "client does not exist")
        record = self.find_token(token)
        if record is None or record.client_id != client_id or record.revoked:
            return _id_error(400, "Invalid token")
        record.revoked = True
        return httpx.Response(200)

    # api.twitch.tv ------------------------------------------------------------------------

    def _handle_helix(self, request: httpx.Request) -> httpx.Response:
        self.count_request(request, api=True)
        path = request.url.path.rstrip("/")
        route = ROUTES.get(path)
        if route is None and path in ENDPOINTS:
            route = UserRoute(_app_endpoint(ENDPOINTS[path]))
        if route is None or request.method != "GET":
            return _helix_error(404, "")
        client_header = request.headers.get("client-id", "")
        record, failure = self._authenticate(request, client_header)
        bucket_key = client_header if record is None or not record.subject else \
            f"{client_header}:{record.subject}"
        known = client_header in self.clients
        if failure is not None or record is None:
            return _helix_error(401, failure or "Invalid OAuth token",
                                self._peek_headers(bucket_key) if known else None)
        caller = Caller(record.subject or None, frozenset(record.scopes))
        refused = refusal(route, caller)
        if refused is not None:
            return _helix_error(401, refused, self._peek_headers(bucket_key))
        allowed, headers = self._take_point(bucket_key)
        if not allowed:
            # The 429 text is not documented; the envelope is
            # (https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits).
            return _helix_error(429, "Too Many Requests: the bucket for this client id is empty;"
                                " retry after the Ratelimit-Reset epoch", headers)
        try:
            body = route.endpoint(self.data, request.url.params, caller)
        except HelixError as error:
            return _helix_error(error.status, error.message, headers)
        return json_response(200, body, headers=headers)

    def _authenticate(
        self, request: httpx.Request, client_id: str
    ) -> tuple[TokenRecord | None, str | None]:
        """The token's record when the call may proceed, else the 401 message Helix sends."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None, "OAuth token is missing"
        if not client_id:
            return None, "Client-Id header required"  # as twitch-cli words it; undocumented
        record = self.find_token(token)
        if record is None or not record.valid_at(self.clock()):
            return None, "Invalid OAuth token"
        if record.client_id != client_id:
            return None, "Client ID and OAuth token do not match"
        return record, None

    def _bucket(self, client_id: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.setdefault(client_id, _Bucket(float(self.rate_limit), now))
        refill = (now - bucket.updated) * self.rate_limit / self.rate_window
        bucket.points = min(float(self.rate_limit), bucket.points + max(0.0, refill))
        bucket.updated = now
        return bucket

    def _headers(self, bucket: _Bucket) -> dict[str, str]:
        seconds_to_full = (self.rate_limit - bucket.points) * self.rate_window / self.rate_limit
        return {
            "Ratelimit-Limit": str(self.rate_limit),
            "Ratelimit-Remaining": str(math.floor(bucket.points)),
            "Ratelimit-Reset": str(math.ceil(bucket.updated + seconds_to_full)),
        }

    def _peek_headers(self, client_id: str) -> dict[str, str]:
        return self._headers(self._bucket(client_id))

    def _take_point(self, client_id: str) -> tuple[bool, dict[str, str]]:
        bucket = self._bucket(client_id)
        if bucket.points < 1.0:
            return False, self._headers(bucket)
        bucket.points -= 1.0
        return True, self._headers(bucket)
