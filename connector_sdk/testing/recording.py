"""Record real responses once, with every secret scrubbed, and replay them in every test run.

A ``Cassette`` is a JSON file of interactions (method, URL, request headers and body, status,
response headers and body). ``RecordingTransport`` wraps a real transport (sync and async):
each exchange is written down *after* scrubbing, so nothing secret reaches the file:

- the values given as ``secrets`` (the authentication's secret parameters) and every token
  the recording sees in a token answer (``access_token``, ``refresh_token``, ``id_token``)
  are masked in every form the SDK's redactor knows (raw, percent-, form- and JSON-encoded);
- ``Authorization``, ``Cookie``, ``Set-Cookie`` and ``Proxy-Authorization`` are dropped
  outright, and every member named like a credential is masked whatever its value.

``ReplayTransport`` answers from a cassette without a network; ``APIServer.replay`` serves
the same recording on loopback (for the CLI's ``--local-server``). A replayed token answer
carries a fresh random token in place of the masked one, so the SDK's token checks see a
well-formed token. Requests are matched on method and path; among those, a recording with
the same query comes first, then the order of recording (the last answer repeats).
"""

from __future__ import annotations

import json
import secrets as _random
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from .._http.redact import TOKEN_KEYS, redact
from .._http.seam import httpx
from .._secrets import MASK
from .servers import Reply

__all__ = ["Cassette", "Interaction", "RecordingTransport", "ReplayTransport", "Tape"]

_DROPPED = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_HOP = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding",
                  "keep-alive", "date"})
_VERSION = 1


@dataclass
class Interaction:
    """One scrubbed exchange, as stored."""

    method: str
    url: str
    status: int
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(httpx.URL(self.url).query.decode(), keep_blank_values=True))

    @property
    def is_token_answer(self) -> bool:
        return _json_object(self.response_body).get("access_token") is not None

    def response(self, request: httpx.Request) -> httpx.Response:
        body = self.response_body
        data = _json_object(body)
        if data:
            fresh = {key: "replayed-" + _random.token_hex(12)
                     for key in TOKEN_KEYS if data.get(key) == MASK}
            if fresh:
                body = json.dumps({**data, **fresh})
        return httpx.Response(self.status, headers=self.response_headers,
                              content=body.encode(), request=request)

    def reply(self) -> Reply:
        return Reply(self.status, body=self.response_body, headers=self.response_headers)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class Cassette:
    """The interactions of one recording, loaded from and saved to ``path``."""

    def __init__(self, path: Path | str, interactions: Iterable[Interaction] = ()) -> None:
        self.path = Path(path)
        self.interactions = list(interactions)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | str) -> Cassette:
        """Read a cassette; ``FileNotFoundError`` names the file and how to record it."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: no recording; record it against the real service with"
                " pytest --connector-sdk-record") from None
        if data.get("version") != _VERSION:
            raise ValueError(f"{path}: cassette version {data.get('version')!r}, expected 1")
        return cls(path, (Interaction(**item) for item in data["interactions"]))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": _VERSION,
                   "interactions": [vars(i) for i in self.interactions]}
        self.path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")

    def add(self, interaction: Interaction) -> None:
        with self._lock:
            self.interactions.append(interaction)

    def answers_by_route(self) -> dict[tuple[str, str], list[Reply]]:
        """Recorded API answers (token answers left out) by (method, path)."""
        routes: dict[tuple[str, str], list[Reply]] = defaultdict(list)
        for item in self.interactions:
            if not item.is_token_answer:
                routes[(item.method, item.path)].append(item.reply())
        return dict(routes)

    def find(self, request: httpx.Request, used: dict[int, int]) -> Interaction | None:
        """The recording answering ``request`` (see the module doc); ``used`` counts how
        often each one has answered in this replay."""
        same = [i for i in self.interactions
                if i.method == request.method and i.path == request.url.path]
        if not same:
            return None
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        exact = [i for i in same if _query_matches(i.query, query)] or same
        fresh = [i for i in exact if used.get(id(i), 0) == 0]
        chosen = fresh[0] if fresh else exact[-1]
        used[id(chosen)] = used.get(id(chosen), 0) + 1
        return chosen


def _query_matches(recorded: dict[str, str], actual: dict[str, str]) -> bool:
    return recorded.keys() == actual.keys() and all(
        value in (MASK, actual[key]) for key, value in recorded.items())


class ReplayTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers from a cassette (sync and async); an unrecorded request gets a 599 answer
    whose body says which request had no recording and how to record it."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self._used: dict[int, int] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            found = self.cassette.find(request, self._used)
        if found is None:
            return httpx.Response(599, json={
                "error": "not_recorded",
                "message": f"{self.cassette.path} has no recording of {request.method}"
                           f" {request.url.path}; record again with"
                           " pytest --connector-sdk-record"}, request=request)
        return found.response(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handle_request(request)


class RecordingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends requests through real transports and adds each scrubbed exchange to
    ``cassette`` (``save()`` it afterwards; the ``cassette`` fixture does)."""

    def __init__(self, cassette: Cassette, *, secrets: Iterable[str] = (),
                 transport: httpx.BaseTransport | None = None,
                 async_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.cassette = cassette
        self.secrets: set[str] = {s for s in secrets if s}
        self._sync = transport or httpx.HTTPTransport()
        self._async = async_transport or httpx.AsyncHTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        response = self._sync.handle_request(request)
        response.read()
        self._record(request, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self._async.handle_async_request(request)
        await response.aread()
        self._record(request, response)
        return response

    def _record(self, request: httpx.Request, response: httpx.Response) -> None:
        body = response.content.decode("utf-8", "replace")
        data = _json_object(body)
        self.secrets |= {str(data[key]) for key in TOKEN_KEYS if data.get(key)}
        self.cassette.add(Interaction(
            method=request.method,
            url=self._scrub(str(request.url)),
            status=response.status_code,
            request_headers=self._headers(request.headers),
            request_body=self._scrub(request.content.decode("utf-8", "replace")),
            response_headers=self._headers(response.headers),
            response_body=self._scrub(body),
        ))

    def _scrub(self, text: str) -> str:
        return redact(text, self.secrets)

    def _headers(self, headers: httpx.Headers) -> dict[str, str]:
        return {name: self._scrub(value) for name, value in headers.items()
                if name.lower() not in _DROPPED | _HOP}

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()


class Tape:
    """A cassette in use: replayed, or recorded against the real service when ``record``.

    ``transport`` is the sync-and-async transport to give the runtime (``settings()`` builds
    the ``HttpSettings``); ``finish()`` saves a recording (the ``cassette`` fixture calls it
    after the test). Replaying a cassette that does not exist fails with how to record it.
    """

    def __init__(self, path: Path | str, *, record: bool = False,
                 secrets: Iterable[str] = ()) -> None:
        self.record = record
        self.transport: RecordingTransport | ReplayTransport
        if record:
            self.cassette = Cassette(path)
            self.transport = RecordingTransport(self.cassette, secrets=secrets)
        else:
            self.cassette = Cassette.load(path)
            self.transport = ReplayTransport(self.cassette)

    def settings(self, **kwargs: Any) -> Any:
        """``HttpSettings`` whose transports are this tape's (other fields from ``kwargs``)."""
        from .._http.settings import HttpSettings

        return HttpSettings(transport=self.transport, async_transport=self.transport, **kwargs)

    def finish(self) -> None:
        if self.record:
            self.cassette.save()
