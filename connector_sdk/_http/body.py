"""The one bounded reader: at most N decoded bytes, within T seconds for the whole exchange.

Every answer the SDK reads itself goes through here: token endpoints, the body of a 401,
revocation endpoints, operation responses. What callers may rely on:

* **one total deadline** covers connecting, the response headers and the whole body: a
  server dripping a byte a second, in its headers or its body, cannot hold a call past
  ``seconds``. Async exchanges run inside ``asyncio.timeout``; sync ones inside
  ``deadline.within``, which the SDK's own sync transport honours at every socket operation
  (a caller's transport is checked between chunks). Past the deadline ``send_*`` raises
  ``httpx.ReadTimeout`` saying so; ``read_*`` keeps what arrived (a 401's message);
* **the limit counts decoded bytes**: the raw stream is decoded by ``decoding`` a step at a
  time, so a gzip, deflate or brotli bomb stops at the limit, never expanding in memory.
  Past the limit the ``Body`` says ``over_limit`` and holds the first ``limit`` bytes; the
  caller raises its own typed error (``too_large`` words it), naming the endpoint;
* a damaged content coding is ``Body.damaged``, never an exception from a decoder;
* the response is closed when the reader returns, whatever happened.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .deadline import within
from .decoding import Decoder, DecodingFailed, decoder_for
from .seam import httpx

__all__ = ["Body", "read_async", "read_sync", "send_async", "send_sync", "too_large"]

#: Decoded bytes produced per step: what one step can add to memory beyond the body kept.
_STEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class Body:
    """An answer read within bounds. ``response`` is closed (status, headers, request);
    ``content`` is decoded and at most the limit long."""

    response: httpx.Response
    content: bytes
    over_limit: bool = False
    damaged: str | None = None
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        return not (self.over_limit or self.damaged or self.interrupted)

    def as_response(self) -> httpx.Response:
        """A read ``httpx.Response`` with the decoded content (codings and length dropped)."""
        old = self.response
        headers = [(k, v) for k, v in old.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(old.status_code, headers=headers, content=self.content,
                              request=old.request, extensions=old.extensions)


def too_large(limit: int, setting: str) -> str:
    """The words for an answer over the limit: the size and the setting that raises it."""
    return (f"the answer is larger than {limit} bytes (decoded); raise HttpSettings.{setting}"
            " if it is expected")


class _Collector:
    def __init__(self, response: httpx.Response, limit: int, *, decoded: bool) -> None:
        self._decoder = Decoder() if decoded else decoder_for(
            response.headers.get_list("content-encoding"))
        self._buffer = io.BytesIO()
        self._limit = limit
        self.size = 0
        self.over_limit = False
        self.damaged: str | None = None
        self.interrupted = False

    def take(self, raw: bytes) -> bool:
        """Decode ``raw``; False when reading should stop (limit reached or damage)."""
        self._decoder.feed(raw)
        try:
            while out := self._decoder.read(min(self._limit - self.size + 1, _STEP)):
                if self.size + len(out) > self._limit:
                    self._buffer.write(out[: self._limit - self.size])
                    self.size = self._limit
                    self.over_limit = True
                    return False
                self._buffer.write(out)
                self.size += len(out)
        except DecodingFailed as exc:
            self.damaged = exc.coding
            return False
        return True

    def body(self, response: httpx.Response) -> Body:
        return Body(response, self._buffer.getvalue(), self.over_limit, self.damaged,
                    self.interrupted)


def _timed_out(request: httpx.Request, seconds: float) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"no complete answer within {seconds:g} s (the total deadline"
                             " of one exchange)", request=request)


def _preloaded(response: httpx.Response, keep: bool) -> bool:
    """A response whose content is already read and decoded (a transport that built it
    with ``content=``, as ``httpx.MockTransport`` handlers do): it is judged as it is."""
    return response.is_stream_consumed and not keep


def _collector(response: httpx.Response, limit: int, keep: bool = False) -> _Collector:
    return _Collector(response, limit, decoded=_preloaded(response, keep))


def _drain_sync(response: httpx.Response, collector: _Collector, deadline: float,
                seconds: float, *, keep: bool = False) -> None:
    """Read through ``collector``; ``keep`` reads the stream itself and closes only it, so
    the response may be given a new stream and read by httpx after all."""
    stream = response.stream
    chunks = stream if keep and isinstance(stream, httpx.SyncByteStream) else None
    source: Iterable[bytes] = (
        chunks if chunks is not None
        else [response.content] if _preloaded(response, keep) else response.iter_raw())
    try:
        for raw in source:
            if not collector.take(raw):
                break
            if time.monotonic() > deadline:  # a caller's transport: checked between chunks
                raise _timed_out(response.request, seconds)
    finally:
        if chunks is not None:
            chunks.close()
        else:
            response.close()


async def _drain_async(response: httpx.Response, collector: _Collector, *,
                       keep: bool = False) -> None:
    stream = response.stream
    chunks = stream if keep and isinstance(stream, httpx.AsyncByteStream) else None
    if chunks is None and _preloaded(response, keep):
        collector.take(response.content)
        await response.aclose()
        return
    try:
        async for raw in chunks if chunks is not None else response.aiter_raw():
            if not collector.take(raw):
                break
    finally:
        if chunks is not None:
            await chunks.aclose()
        else:
            await response.aclose()


def _bound_waits(request: httpx.Request, seconds: float) -> None:
    """No single wait (pool, connect, read, write) longer than the whole budget."""
    timeouts = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {
        key: seconds if timeouts.get(key) is None else min(timeouts[key], seconds)
        for key in ("connect", "read", "write", "pool")
    }


def send_sync(client: httpx.Client, request: httpx.Request, *, limit: int,
              seconds: float, partial: bool = False) -> Body:
    """Send ``request`` and read its answer within ``limit`` decoded bytes and ``seconds``
    in total. Raises ``httpx.TransportError`` (``ReadTimeout`` past the deadline); with
    ``partial``, a body cut short once the headers are in is ``Body.interrupted`` instead
    (for callers that need only the status and the start of a message)."""
    _bound_waits(request, seconds)
    with within(seconds) as deadline:
        try:
            response = client.send(request, stream=True)
            collector = _collector(response, limit)
            try:
                _drain_sync(response, collector, deadline, seconds)
            except httpx.TransportError:
                if not partial:
                    raise
                collector.interrupted = True
        except httpx.TimeoutException:
            if time.monotonic() >= deadline:
                raise _timed_out(request, seconds) from None
            raise
    return collector.body(response)


async def send_async(client: httpx.AsyncClient, request: httpx.Request, *, limit: int,
                     seconds: float, partial: bool = False) -> Body:
    """The async twin of ``send_sync``: the exchange runs inside one ``asyncio.timeout``."""
    _bound_waits(request, seconds)
    collector: _Collector | None = None
    try:
        async with asyncio.timeout(seconds):
            response = await client.send(request, stream=True)
            collector = _collector(response, limit)
            await _drain_async(response, collector)
    except (TimeoutError, httpx.TransportError) as exc:
        if not partial or collector is None:
            if isinstance(exc, TimeoutError):
                raise _timed_out(request, seconds) from None
            raise
        collector.interrupted = True
    return collector.body(response)


def read_sync(response: httpx.Response, *, limit: int, seconds: float,
              keep: bool = False) -> Body:
    """Read the body of a response already received, within bounds; never raises for a
    transport failure or the deadline: the ``Body`` holds what arrived (``interrupted``).
    ``keep``: only the underlying stream is read and closed, so the caller may hand the
    response a new stream (an auth flow discarding a 401 that httpx reads afterwards)."""
    collector = _collector(response, limit, keep)
    with within(seconds) as deadline:
        try:
            _drain_sync(response, collector, deadline, seconds, keep=keep)
        except httpx.HTTPError:
            collector.interrupted = True
    return collector.body(response)


async def read_async(response: httpx.Response, *, limit: int, seconds: float,
                     keep: bool = False) -> Body:
    """The async twin of ``read_sync``."""
    collector = _collector(response, limit, keep)
    try:
        async with asyncio.timeout(seconds):
            await _drain_async(response, collector, keep=keep)
    except (TimeoutError, httpx.HTTPError):
        collector.interrupted = True
    return collector.body(response)
