"""Offline token estimation, for when a provider reports no usage. Callers flag the result
``estimated``; these numbers are never mixed silently with reported counts.

With ``tiktoken`` installed, text is encoded with ``o200k_base`` (GPT-4o / o-series / GPT-4.1 /
GPT-5) built from the vocabulary file shipped in ``llmledger/data/tokenizers`` — never
downloaded. No offline tokenizer exists for Claude 3+ or Gemini: their estimates use o200k too.
Without ``tiktoken`` (or if the file is damaged) a heuristic stands in: one token per CJK /
kana / hangul character, four ASCII characters per token, two other characters per token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Protocol

__all__ = [
    "IMAGE_TOKENS",
    "TOKENS_PER_MESSAGE",
    "estimate_messages_tokens",
    "estimate_request_tokens",
    "estimate_tokens",
    "heuristic_tokens",
    "tokenizer_name",
]

log = logging.getLogger(__name__)

# OpenAI cookbook ``num_tokens_from_messages``: every message costs 3 tokens of framing plus
# its values, a ``name`` one more, and the reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# An image part of unknown size: a 1024x1024 high-detail image (85 + 4 tiles x 170).
IMAGE_TOKENS = 765

O200K_FILE = "o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# As tiktoken_ext/openai_public.py defines o200k_base.
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
O200K_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}

_WIDE = re.compile(
    "[\u1100-\u11ff\u2e80-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]"
)


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


_LOCK = threading.Lock()
_CACHE: dict[str, _Encoder | None] = {}


def _load_o200k() -> _Encoder | None:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        data = (files("llmledger") / "data" / "tokenizers" / O200K_FILE).read_bytes()
    except OSError:
        log.warning("token estimation: %s is missing; using the heuristic", O200K_FILE)
        return None
    if hashlib.sha256(data).hexdigest() != O200K_SHA256:
        log.warning("token estimation: %s is damaged; using the heuristic", O200K_FILE)
        return None
    try:
        ranks = {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in data.splitlines() if line)
        }
        return tiktoken.Encoding(
            name="o200k_base",
            pat_str=O200K_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=O200K_SPECIAL_TOKENS,
        )
    except Exception:  # an incompatible tiktoken must not break metering
        log.warning("token estimation: cannot build o200k_base; using the heuristic", exc_info=True)
        return None


def _encoder() -> _Encoder | None:
    """The cached o200k encoder (loaded once, from the packaged file), or None."""
    try:
        return _CACHE["o200k_base"]
    except KeyError:
        pass
    with _LOCK:
        if "o200k_base" not in _CACHE:
            _CACHE["o200k_base"] = _load_o200k()
        return _CACHE["o200k_base"]


def tokenizer_name() -> str:
    """``"o200k_base"`` when the real tokenizer is available, else ``"heuristic"``."""
    return "o200k_base" if _encoder() is not None else "heuristic"


def heuristic_tokens(text: str) -> int:
    """Tokenizer-free estimate: CJK/kana/hangul 1 each, ASCII 4 per token, others 2 per token."""
    if not text:
        return 0
    wide = len(_WIDE.findall(text))
    ascii_chars = len(text.encode("ascii", "ignore"))
    other = len(text) - wide - ascii_chars
    return wide + math.ceil((ascii_chars + 2 * other) / 4)


def estimate_tokens(text: str, model: str | None = None) -> int:
    """Estimated token count of ``text``.

    ``model`` is accepted for future per-model encodings; today every model is estimated with
    o200k_base (exact for current OpenAI models, an approximation for others).
    """
    if not text:
        return 0
    encoder = _encoder()
    if encoder is not None:
        try:
            return len(encoder.encode_ordinary(text))
        except Exception:  # e.g. unencodable surrogates
            log.debug("token estimation: encoder failed; using the heuristic", exc_info=True)
    return heuristic_tokens(text)


def _value_tokens(value: object, model: str | None) -> int:
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, str):
        return estimate_tokens(value, model)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return sum(_part_tokens(part, model) for part in value)
    try:
        return estimate_tokens(json.dumps(value, ensure_ascii=False, default=str), model)
    except (TypeError, ValueError, RecursionError):
        return 0


def _part_tokens(part: object, model: str | None) -> int:
    """A content part (``{"type": "text", "text": …}``, an image, …) or a tool call."""
    if isinstance(part, Mapping):
        kind = part.get("type")
        if isinstance(kind, str) and "image" in kind:
            return IMAGE_TOKENS
        text = part.get("text")
        if isinstance(text, str):
            return estimate_tokens(text, model)
    return _value_tokens(part, model)


def estimate_messages_tokens(
    messages: Sequence[Mapping[str, object]], model: str | None = None
) -> int:
    """Estimated prompt tokens of OpenAI chat ``messages`` (the cookbook's formula).

    String values (role, content, name) are encoded; content-part lists count their text parts
    and ``IMAGE_TOKENS`` per image; other values (tool calls) are encoded as JSON. Entries that
    are not mappings are skipped. An empty list is 0.
    """
    total = 0
    for message in messages:
        if isinstance(message, Mapping):
            try:
                total += TOKENS_PER_MESSAGE + sum(
                    _value_tokens(value, model) + (TOKENS_PER_NAME if key == "name" else 0)
                    for key, value in message.items()
                )
            except RecursionError:  # absurdly nested content: count the framing only
                total += TOKENS_PER_MESSAGE
    return total + REPLY_PRIMING_TOKENS if total else 0


# -- a request's input --------------------------------------------------------------------------


def _given(value: object) -> object:
    """A JSON value the caller set; None for anything else (an SDK's ``omit`` sentinel)."""
    if isinstance(value, (str, int, float, Mapping, list, tuple)) and not isinstance(value, bool):
        return value
    return None


def _json_tokens(value: object, model: str | None) -> int:
    value = _given(value)
    if not value:
        return 0
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return 0
    return estimate_tokens(text, model)


def _input_tokens(value: object, model: str | None) -> int:
    """A prompt / input / system: a string, a list of strings, token ids, or message-like
    items (content parts and blocks count their ``text``)."""
    value = _given(value)
    if isinstance(value, str):
        return estimate_tokens(value, model)
    if not isinstance(value, (list, tuple)):
        return 0
    if value and all(isinstance(v, int) for v in value):
        return len(value)  # already token ids
    total = 0
    messages = [v for v in value if isinstance(v, Mapping) and "content" in v]
    if messages:
        total += estimate_messages_tokens(messages, model)
    for v in value:
        if isinstance(v, Mapping) and "content" not in v:
            text = v.get("text")
            total += estimate_tokens(text, model) if isinstance(text, str) else 0
        elif not isinstance(v, Mapping):
            total += _input_tokens(v, model)
    return total


def _gemini_tokens(value: object, model: str | None) -> int:
    """Gemini ``contents`` (or one Content): the text of every part."""
    value = _given(value)
    contents = [value] if isinstance(value, Mapping) else value
    if not isinstance(contents, (list, tuple)):
        return 0
    total = 0
    for content in contents:
        parts = content.get("parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, (list, tuple)) else ():
            text = part.get("text") if isinstance(part, Mapping) else None
            total += estimate_tokens(text, model) if isinstance(text, str) else 0
    return total


def estimate_request_tokens(api: str, body: Mapping[str, object], model: str | None) -> int:
    """Offline estimate of the input a request sent, for a call whose provider reported no
    usage: the one estimate of capture, the middleware and the gateway.

    ``api``: ``chat`` (also ``chat.completions``), ``completions``, ``responses``,
    ``embeddings``, ``messages`` or ``generate_content``. Counts messages, system, tools,
    ``input`` and ``instructions``, ``prompt``, Gemini ``contents`` and ``systemInstruction``;
    0 for a body it cannot read.
    """
    try:
        if api == "completions":
            return _input_tokens(body.get("prompt"), model)
        if api == "embeddings":
            return _input_tokens(body.get("input"), model)
        if api == "generate_content":
            system = body.get("systemInstruction") or body.get("system_instruction")
            return _gemini_tokens(body.get("contents"), model) + _gemini_tokens(system, model)
        if api == "responses":
            prompt = _input_tokens(body.get("input"), model)
            prompt += _input_tokens(body.get("instructions"), model)
        else:  # chat, messages
            prompt = _input_tokens(body.get("messages"), model)
            prompt += _input_tokens(body.get("system"), model)
        return prompt + _json_tokens(body.get("tools"), model)
    except Exception:  # an estimate must never break recording
        return 0
