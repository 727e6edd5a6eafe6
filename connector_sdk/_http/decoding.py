"""Content decoding that cannot grow past a limit: the defence against decompression bombs.

httpx decodes a whole network chunk at once, so 64 KiB of gzip may become 64 MiB in memory
before a caller sees the first byte. These decoders are fed raw bytes and hand out decoded
output ``n`` bytes at a time; whatever compression ratio a body has, the memory a reader
holds is what it kept plus one step. ``gzip`` and ``deflate`` (zlib or raw, as httpx reads
it) use ``zlib``'s ``max_length``; ``br`` is decoded when a ``brotli`` module with
``output_buffer_limit`` (Brotli 1.2 or later) is importable, and only then is it asked for
(``ACCEPT_ENCODING``). Unknown codings are passed through undecoded, as httpx does.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Sequence
from typing import Any

__all__ = ["ACCEPT_ENCODING", "Decoder", "DecodingFailed", "decoder_for"]


class DecodingFailed(Exception):
    """The body's content coding is damaged; ``coding`` names it."""

    def __init__(self, coding: str) -> None:
        super().__init__(f"the body's {coding} coding is damaged")
        self.coding = coding


def _bounded_brotli() -> Any:
    for name in ("brotli", "brotlicffi"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        decompressor = getattr(module, "Decompressor", None)
        if decompressor is not None and hasattr(decompressor, "can_accept_more_data"):
            return module
    return None


_BROTLI = _bounded_brotli()
#: What our clients ask for: only codings decoded within bounds.
ACCEPT_ENCODING = "gzip, deflate" + (", br" if _BROTLI is not None else "")


class Decoder:
    """Identity: fed bytes come back as they are, ``n`` at a time. Subclasses decode."""

    coding = "identity"

    def __init__(self) -> None:
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data

    def read(self, n: int) -> bytes:
        """At most ``n`` decoded bytes; ``b""`` once everything fed so far is decoded."""
        out, self._input = self._input[:n], self._input[n:]
        return out


class _Zlib(Decoder):
    def __init__(self, coding: str, wbits: int) -> None:
        super().__init__()
        self.coding = coding
        self._zlib = zlib.decompressobj(wbits)
        self._first = coding == "deflate"  # zlib-wrapped first, raw deflate if that fails

    def read(self, n: int) -> bytes:
        if self._zlib.eof:
            return b""
        data, self._input = self._input, b""
        try:
            out = self._zlib.decompress(data, n)
        except zlib.error:
            if not self._first:
                raise DecodingFailed(self.coding) from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, n)
        if data:
            self._first = False
        self._input = self._zlib.unconsumed_tail
        return out


class _Brotli(Decoder):
    coding = "br"

    def __init__(self) -> None:
        super().__init__()
        self._brotli = _BROTLI.Decompressor()
        self._extra = b""

    def read(self, n: int) -> bytes:
        if not self._extra and not self._brotli.is_finished():
            data = b""
            if self._brotli.can_accept_more_data():
                data, self._input = self._input, b""
            try:
                self._extra = self._brotli.process(data, output_buffer_limit=n)
            except _BROTLI.error:
                raise DecodingFailed(self.coding) from None
        out, self._extra = self._extra[:n], self._extra[n:]
        return out


class _Chain(Decoder):
    """Several codings (``Content-Encoding: gzip, br``), undone last first."""

    _STEP = 64 * 1024

    def __init__(self, stages: Sequence[Decoder]) -> None:
        super().__init__()
        self._stages = list(stages)
        self.coding = ", ".join(s.coding for s in reversed(self._stages))

    def feed(self, data: bytes) -> None:
        self._stages[0].feed(data)

    def read(self, n: int) -> bytes:
        return self._pull(len(self._stages) - 1, n)

    def _pull(self, index: int, n: int) -> bytes:
        stage = self._stages[index]
        while True:
            out = stage.read(n)
            if out or index == 0:
                return out
            more = self._pull(index - 1, self._STEP)
            if not more:
                return b""
            stage.feed(more)


def _stage(coding: str) -> Decoder | None:
    if coding == "gzip" or coding == "x-gzip":
        return _Zlib("gzip", zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _Zlib("deflate", zlib.MAX_WBITS)
    if coding == "br" and _BROTLI is not None:
        return _Brotli()
    return None  # identity, or a coding we do not decode (left as it is, like httpx)


def decoder_for(content_encoding: Sequence[str]) -> Decoder:
    """The decoder for a response's ``Content-Encoding`` values (in the order applied)."""
    stages = [s for value in content_encoding for part in value.split(",")
              if (s := _stage(part.strip().lower())) is not None]
    if not stages:
        return Decoder()
    if len(stages) == 1:
        return stages[0]
    return _Chain(list(reversed(stages)))
