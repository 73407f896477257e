"""Undoing a response body's content codings, on the copy capture reads (the app's client
decodes its own). gzip and deflate with the standard library; br and zstd with the modules
httpx itself would use, when installed (a client only advertises what it can decode).

A body capture cannot decode (an unknown coding, a damaged stream) is read as far as it can be;
decoding never raises: the call is then estimated, never broken.
"""

from __future__ import annotations

import importlib
import logging
import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["BodyDecoder", "decoder_for"]

log = logging.getLogger("llmledger.capture")


class _Stage(Protocol):
    def __call__(self, data: bytes) -> bytes: ...


class _Deflate:
    """zlib-wrapped deflate, or raw deflate from servers that send it unwrapped (as httpx)."""

    __slots__ = ("_first", "_obj")

    def __init__(self) -> None:
        self._obj = zlib.decompressobj()
        self._first = True

    def __call__(self, data: bytes) -> bytes:
        if self._first and data:
            self._first = False
            try:
                return self._obj.decompress(data)
            except zlib.error:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._obj.decompress(data)


def _gzip() -> _Stage:
    obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return lambda data: obj.decompress(data)


def _brotli() -> _Stage | None:
    for name in ("brotli", "brotlicffi"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        decompressor = module.Decompressor()
        step = getattr(decompressor, "process", None) or decompressor.decompress
        return step  # type: ignore[no-any-return]
    return None


def _zstd() -> _Stage | None:
    for name in ("compression.zstd", "backports.zstd"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.ZstdDecompressor().decompress  # type: ignore[no-any-return]
    try:
        zstandard = importlib.import_module("zstandard")
    except ImportError:
        return None
    return zstandard.ZstdDecompressor().decompressobj().decompress  # type: ignore[no-any-return]


_STAGES: dict[bytes, Callable[[], _Stage | None]] = {
    b"gzip": _gzip,
    b"x-gzip": _gzip,
    b"deflate": _Deflate,
    b"br": _brotli,
    b"zstd": _zstd,
}


class BodyDecoder:
    """Decodes a body fed in chunks; ``failed`` once a stage gave up (then yields nothing)."""

    __slots__ = ("failed", "stages")

    def __init__(self, stages: Sequence[_Stage]) -> None:
        self.stages = stages
        self.failed = False

    def decode(self, data: bytes) -> bytes:
        if self.failed:
            return b""
        try:
            for stage in self.stages:
                data = stage(data)
        except Exception:
            self.failed = True
            log.warning("llmledger could not decode a response body; its usage is estimated")
            return b""
        return data


def decoder_for(codings: Sequence[bytes]) -> BodyDecoder | None:
    """A decoder for codings applied in this order (``Content-Encoding``), or None when one of
    them cannot be decoded here."""
    stages: list[_Stage] = []
    for coding in reversed(codings):
        make = _STAGES.get(coding)
        stage = make() if make is not None else None
        if stage is None:
            return None
        stages.append(stage)
    return BodyDecoder(stages)
