"""A loopback API whose routes the connector author declares, guarded by the kit's tokens.

``APIServer`` is a set of routes on a ``LoopbackServer``. Give it the ``TokenServer`` whose
tokens it accepts and every route (unless declared with ``auth=False``) answers 401 with
``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3.1) to a request that carries
no token that server issued and still considers valid, wherever the manifest attaches it:
the ``Authorization`` header in any scheme, another header (``X-Shopify-Access-Token``), or
a query parameter. So ``token_server.expire()`` makes the next API call get a 401, as a
provider's would, and the SDK's refresh-on-401 runs for real::

    api_server.route("GET", "/v1/things", json={"things": [{"id": 1}]})
    api_server.route("GET", "/v1/things/{id}", lambda ex: Reply(json={"id": ex.params["id"]}))

``replay(cassette)`` serves a recording (``connector_sdk.testing.recording``) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .servers import Exchange, LoopbackServer, Reply, Responder, Seen

if TYPE_CHECKING:
    from .recording import Cassette
    from .tokens import TokenServer

__all__ = ["APIServer", "carried_token"]

_UNAUTHORIZED = Reply(401, json={"error": "invalid_token",
                                 "message": "the access token is missing, expired or revoked"},
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def carried_token(seen: Seen, tokens: TokenServer) -> str | None:
    """The token ``seen`` carries that ``tokens`` issued and still considers valid, if any."""
    candidates: list[str] = []
    for name, value in seen.headers.items():
        if name in ("host", "content-length", "content-type", "user-agent", "accept"):
            continue
        candidates += [value, value.rpartition(" ")[2]]
    candidates += list(seen.query.values())
    return next((c for c in candidates if c and tokens.valid(c)), None)


class APIServer:
    """Declared routes on ``server`` (its own loopback server when None), under ``prefix``.

    ``host`` limits every route to requests whose ``Host`` is that host (several services'
    APIs on one local server). ``requests(path)`` and ``count(path)`` take the path without
    the prefix.
    """

    def __init__(self, server: LoopbackServer | None = None, *,
                 tokens: TokenServer | None = None, prefix: str = "",
                 host: str | None = None) -> None:
        self.server = server if server is not None else LoopbackServer()
        self._owns_server = server is None
        self.tokens = tokens
        self.prefix = prefix.rstrip("/")
        self.host = host

    @property
    def url(self) -> str:
        """The API's base URL on loopback, prefix included."""
        return self.server.url + self.prefix

    def route(self, method: str, path: str, responder: Responder | None = None, *,
              json: Any = None, status: int = 200, body: bytes | str = b"",
              headers: Mapping[str, str] | None = None, auth: bool = True) -> None:
        """Answer ``method path`` (a template: ``{name}`` captures a segment into
        ``exchange.params``) with ``responder``, or with a ``Reply`` built from ``json``,
        ``body``, ``status`` and ``headers``. With ``auth`` and a token server, a request
        without a valid token gets 401 first."""
        answer: Responder = responder if responder is not None else Reply(
            status, json=json, body=body, headers=dict(headers or {}))
        if auth and self.tokens is not None:
            answer = self._guarded(answer, self.tokens)
        self.server.route(self.prefix + path, answer, method=method, host=self.host)

    @staticmethod
    def _guarded(answer: Responder, tokens: TokenServer) -> Responder:
        def guarded(exchange: Exchange) -> Reply | None:
            if carried_token(exchange.seen, tokens) is None:
                return _UNAUTHORIZED
            return answer(exchange)
        return guarded

    def replay(self, cassette: Cassette, *, auth: bool = True) -> int:
        """Serve every recorded API answer of ``cassette`` (token requests excluded: the
        token server answers those); returns how many routes were added. Answers recorded
        for one method and path are given in the order they were recorded, the last one
        again once they are used up."""
        added = 0
        for (method, path), answers in cassette.answers_by_route().items():
            queue = list(answers)

            def play(exchange: Exchange, queue: list[Reply] = queue) -> Reply:
                return queue.pop(0) if len(queue) > 1 else queue[0]

            self.server.route(path, self._guarded(play, self.tokens)
                              if auth and self.tokens is not None else play,
                              method=method, host=self.host)
            added += 1
        return added

    def requests(self, path: str | None = None) -> list[Seen]:
        """The requests received for ``path`` (without the prefix), or all."""
        return self.server.requests(None if path is None else self.prefix + path)

    def count(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def close(self) -> None:
        """Close the server when this API server made its own."""
        if self._owns_server:
            self.server.close()
