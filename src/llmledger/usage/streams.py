"""Stream accumulators: fed one parsed stream event at a time, they know the usage so far.

Pure and incremental: no I/O, no clocks. Feed parsed JSON events (dicts or SDK objects) with
``feed``, SSE events with ``feed_sse``, or raw response bytes with ``feed_bytes``. At any point
``usage`` is the provider-reported TokenCounts (None until the provider sent some), and ``text``
holds the output seen so far (bounded) for an estimate when usage never comes.

Also here: the one test for Chat Completions' usage-only chunk (``is_usage_only_chunk``), used
by the gateway, the ASGI middleware, transport capture and ``feed_bytes``. The SSE parser they
all read streams with is ``usage.sse``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace

from llmledger.estimate import estimate_tokens, tokenizer_name
from llmledger.usage._access import (
    as_count,
    as_dict,
    as_text,
    first_of,
    get,
    is_node,
    item,
    items,
    path,
)
from llmledger.usage.anthropic import anthropic_usage
from llmledger.usage.counts import TokenCounts
from llmledger.usage.gemini import gemini_usage
from llmledger.usage.normalize import Normalizer, UsageShape, normalizer_for
from llmledger.usage.openai import openai_chat_usage, openai_responses_usage
from llmledger.usage.sse import SSEEvent, SSEFrames, decode_json, event_fields, is_done

__all__ = [
    "AnthropicStream",
    "DeferredStream",
    "GeminiStream",
    "OpenAIChatStream",
    "OpenAIResponsesStream",
    "StreamAccumulator",
    "detect_stream_shape",
    "is_usage_only_chunk",
    "stream_for",
]

DEFAULT_MAX_TEXT_CHARS = 200_000


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(as_dict(value) if is_node(value) else value, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


def _reported(value: object) -> bool:
    """A usage value that may overwrite an earlier one: not null, not a malformed number."""
    if value is None:
        return False
    return as_count(value) is not None if isinstance(value, (int, float)) else True


class StreamAccumulator:
    """Common state of every stream accumulator; subclasses implement ``_feed``."""

    def __init__(
        self, normalizer: Normalizer, *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    ) -> None:
        self.normalizer = normalizer
        self.max_text_chars = max_text_chars
        self.model: str | None = None
        self.response_id: str | None = None
        self.finished = False  # the provider signalled the end of the response
        self.events = 0
        self.text_chars = 0  # all output characters seen, retained or not
        self._text: list[str] = []
        self._kept = 0
        self._usage: TokenCounts | None = None
        self._frames: SSEFrames | None = None

    @property
    def usage(self) -> TokenCounts | None:
        """Provider-reported usage so far; None if the stream carried none (yet)."""
        return self._usage

    @property
    def text(self) -> str:
        """Output text seen so far (content, reasoning, tool arguments), first
        ``max_text_chars`` characters only."""
        return "".join(self._text)

    def feed(self, event: object) -> None:
        """One parsed stream event or chunk (dict or SDK object). Malformed input is ignored."""
        self.events += 1
        self._feed(event)

    def feed_sse(self, event: SSEEvent) -> None:
        """One SSE event: JSON data is fed, ``[DONE]`` ends the stream, garbage is skipped."""
        if event.is_done:
            self.finished = True
            return
        payload = event.json()
        if payload is not None:
            self.feed(payload)

    def feed_bytes(self, chunk: bytes | str) -> None:
        """Raw ``text/event-stream`` bytes, split anywhere."""
        if self._frames is None:
            self._frames = SSEFrames()
        data = chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else chunk
        for block in self._frames.feed(data):
            self.feed_block(block)

    def feed_block(self, block: bytes) -> None:
        """One raw SSE event (``SSEFrames``): JSON data is fed, ``[DONE]`` ends the stream,
        garbage is skipped."""
        data = event_fields(block)[1]
        if data is None:
            return
        if is_done(data):
            self.finished = True
            return
        payload = decode_json(data)
        if payload is not None:
            self.feed(payload)

    def close(self) -> None:
        """End of the raw byte stream: flush a last event that lacked its blank line."""
        if self._frames is not None:
            rest = self._frames.close()
            if rest:
                self.feed_block(rest)

    def estimate_output_tokens(self, model: str | None = None) -> int:
        """Offline estimate of the output seen, scaled up if the text outgrew its bound."""
        kept = self.text
        tokens = estimate_tokens(kept, model or self.model)
        if self.text_chars > len(kept) > 0:
            tokens = math.ceil(tokens * self.text_chars / len(kept))
        return tokens

    def usage_or_estimate(self, input_tokens: int = 0) -> TokenCounts:
        """The reported usage once the stream finished; otherwise an estimate flagged
        ``estimated``.

        With no usage at all, output is estimated from the text seen and ``input_tokens``
        comes from the caller (e.g. ``estimate_messages_tokens`` of the request). With partial
        usage (an Anthropic stream cut after ``message_start``), the reported input side is
        kept, output is the larger of the reported and the estimated count, and the result is
        flagged ``estimated``.
        """
        reported = self._usage
        if reported is not None and self.finished:
            return reported
        output = self.estimate_output_tokens()
        if reported is None:
            return TokenCounts(
                input_tokens=max(0, input_tokens),
                output_tokens=output,
                estimated=True,
                details={"estimator": tokenizer_name()},
            )
        # The stream never reached its final usage: what came is partial (Anthropic's
        # ``message_start`` says output 1), so the result is flagged even when the reported
        # output is the larger number.
        details = {
            **(reported.details or {}),
            "estimator": tokenizer_name(),
            "reported_output_tokens": reported.output_tokens,
        }
        return replace(
            reported,
            output_tokens=max(output, reported.output_tokens),
            reported_cost=None,
            estimated=True,
            details=details,
        )

    @staticmethod
    def text_only(event: object) -> bool:
        """True for an event that can only add output text (no usage, identity that matters,
        or end-of-stream signal): feeding it is needed only for an estimate. Cheap to ask."""
        return False

    @staticmethod
    def text_only_json(data: bytes) -> bool:
        """``text_only`` asked of an event's JSON text before parsing it: True only when
        parsing it would surely give a text-only event (False: parse it and see)."""
        return False

    def _feed(self, event: object) -> None:
        raise NotImplementedError

    def _add_text(self, value: object) -> None:
        text = _json_text(value)
        if not text:
            return
        self.text_chars += len(text)
        room = self.max_text_chars - self._kept
        if room > 0:
            piece = text[:room]
            self._text.append(piece)
            self._kept += len(piece)

    def _set_identity(self, model: object, response_id: object) -> None:
        model_text, id_text = as_text(model), as_text(response_id)
        if model_text:
            self.model = model_text
        if id_text and self.response_id is None:
            self.response_id = id_text

    def _take_usage(self, payload: object) -> None:
        counts = self.normalizer(payload)
        if counts is not None:
            self._usage = counts


class OpenAIChatStream(StreamAccumulator):
    """Chat Completions (and legacy Completions) chunks, OpenAI and compatible vendors.

    Usage arrives in a last chunk with ``choices: []`` when ``include_usage`` was set, or inside
    ``choices[0].usage`` (Kimi); other chunks carry ``usage: null``. The latest wins.
    """

    def __init__(
        self,
        normalizer: Normalizer | None = None,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        super().__init__(normalizer or openai_chat_usage, max_text_chars=max_text_chars)
        self.finish_reason: str | None = None

    @staticmethod
    def text_only(event: object) -> bool:
        if is_node(get(event, "usage")):
            return False
        for choice in items(get(event, "choices")):
            if get(choice, "finish_reason") is not None or is_node(get(choice, "usage")):
                return False
        return True

    @staticmethod
    def text_only_json(data: bytes) -> bool:
        # No usage (not even null), error or type key, and every finish reason null. A key is
        # quoted without a backslash, unlike a quote inside a string. (A few ``in`` and
        # ``count`` scans: a regex took longer than parsing the chunk.)
        if b'"usage"' in data or b'"error"' in data or b'"type"' in data:
            return False
        reasons = data.count(b'"finish_reason"')
        return not reasons or reasons == data.count(b'"finish_reason":null') + data.count(
            b'"finish_reason": null'
        )

    def _feed(self, event: object) -> None:
        self._set_identity(get(event, "model"), get(event, "id"))
        for choice in items(get(event, "choices")):
            delta = get(choice, "delta")
            for key in ("content", "reasoning_content", "reasoning", "refusal"):
                self._add_text(as_text(get(delta, key)))
            self._add_text(as_text(get(choice, "text")))  # legacy /v1/completions
            for call in items(get(delta, "tool_calls")):
                self._add_text(as_text(path(call, "function", "name")))
                self._add_text(as_text(path(call, "function", "arguments")))
            finish = as_text(get(choice, "finish_reason"))
            if finish:
                self.finish_reason = finish
                self.finished = True
        if is_node(get(event, "usage")) or is_node(get(item(get(event, "choices"), 0), "usage")):
            self._take_usage(event)


def is_usage_only_chunk(event: object) -> bool:
    """The extra Chat Completions chunk ``include_usage`` adds: ``choices: []`` plus usage.

    The one test of it: the gateway hides it from clients that did not ask for it, capture
    from apps that did not. Parsed JSON (the usual case, checked first) or an SDK object."""
    if type(event) is dict:
        choices = event.get("choices")
        return type(choices) is list and not choices and type(event.get("usage")) is dict
    choices = get(event, "choices")
    return isinstance(choices, (list, tuple)) and not choices and is_node(get(event, "usage"))


class OpenAIResponsesStream(StreamAccumulator):
    """Responses API events; usage is on ``response`` of the terminal event."""

    TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
    TEXT_DELTAS = frozenset(
        {
            "response.output_text.delta",
            "response.refusal.delta",
            "response.function_call_arguments.delta",
            "response.reasoning_text.delta",
            "response.custom_tool_call_input.delta",
        }
    )

    def __init__(
        self,
        normalizer: Normalizer | None = None,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        super().__init__(normalizer or openai_responses_usage, max_text_chars=max_text_chars)
        self.status: str | None = None

    @classmethod
    def text_only(cls, event: object) -> bool:
        kind = as_text(get(event, "type")) or ""
        return kind not in cls.TERMINAL and kind != "error" and not is_node(get(event, "response"))

    def _feed(self, event: object) -> None:
        kind = as_text(get(event, "type")) or ""
        response = get(event, "response")
        if is_node(response):
            self._set_identity(get(response, "model"), get(response, "id"))
            self.status = as_text(get(response, "status")) or self.status
            self._take_usage(event)
        if kind in self.TEXT_DELTAS:
            self._add_text(as_text(get(event, "delta")))
        if kind in self.TERMINAL or kind == "error":
            self.finished = True


class AnthropicStream(StreamAccumulator):
    """Anthropic Messages events. ``message_start`` carries ``message.usage``; each
    ``message_delta`` carries CUMULATIVE usage: the latest non-null value of every field wins,
    nothing is ever summed."""

    def __init__(
        self,
        normalizer: Normalizer | None = None,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        super().__init__(normalizer or anthropic_usage, max_text_chars=max_text_chars)
        self.stop_reason: str | None = None
        self._raw_usage: dict[str, object] = {}

    CONTENT_EVENTS = frozenset(
        {"content_block_start", "content_block_delta", "content_block_stop", "ping"}
    )

    @classmethod
    def text_only(cls, event: object) -> bool:
        return as_text(get(event, "type")) in cls.CONTENT_EVENTS and not is_node(
            get(event, "usage")
        )

    def _feed(self, event: object) -> None:
        kind = as_text(get(event, "type"))
        message = get(event, "message")
        if is_node(message):
            self._set_identity(get(message, "model"), get(message, "id"))
        usage = get(event, "usage")
        if not is_node(usage):
            usage = get(message, "usage")
        if is_node(usage):
            fields = {k: v for k, v in as_dict(usage).items() if _reported(v)}
            if fields:
                self._raw_usage.update(fields)
                self._take_usage(self._raw_usage)
        if kind == "content_block_start":
            block = get(event, "content_block")
            self._add_text(as_text(get(block, "text")))
            self._add_text(as_text(get(block, "thinking")))
        elif kind == "content_block_delta":
            delta = get(event, "delta")
            for key in ("text", "thinking", "partial_json"):
                self._add_text(as_text(get(delta, key)))
        elif kind == "message_delta":
            stop = as_text(path(event, "delta", "stop_reason"))
            if stop:  # the delta carrying the stop reason carries the final usage
                self.stop_reason = stop
                self.finished = True
        elif kind in ("message_stop", "error"):
            self.finished = True


class GeminiStream(StreamAccumulator):
    """``streamGenerateContent`` chunks (``alt=sse``); usage may repeat on many chunks and the
    last non-empty ``usageMetadata`` wins."""

    def __init__(
        self,
        normalizer: Normalizer | None = None,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        super().__init__(normalizer or gemini_usage, max_text_chars=max_text_chars)
        self.finish_reason: str | None = None

    @staticmethod
    def text_only(event: object) -> bool:
        if is_node(first_of(event, "usageMetadata", "usage_metadata")):
            return False
        return all(
            first_of(candidate, "finishReason", "finish_reason") is None
            for candidate in items(get(event, "candidates"))
        )

    def _feed(self, event: object) -> None:
        self._set_identity(
            first_of(event, "modelVersion", "model_version"),
            first_of(event, "responseId", "response_id"),
        )
        for candidate in items(get(event, "candidates")):
            for part in items(path(candidate, "content", "parts")):
                self._add_text(as_text(get(part, "text")))
                call = first_of(part, "functionCall", "function_call")
                if is_node(call):
                    self._add_text(as_text(get(call, "name")))
                    self._add_text(get(call, "args"))
            finish = first_of(candidate, "finishReason", "finish_reason")
            if finish is not None:
                self.finish_reason = str(finish)
                self.finished = True
        if is_node(first_of(event, "usageMetadata", "usage_metadata")):
            self._take_usage(event)


_STREAMS: dict[UsageShape, type[StreamAccumulator]] = {
    "openai_chat": OpenAIChatStream,
    "openai_responses": OpenAIResponsesStream,
    "anthropic": AnthropicStream,
    "gemini": GeminiStream,
}


def stream_for(
    shape: UsageShape,
    provider: str | None = None,
    *,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> StreamAccumulator:
    """A fresh accumulator for an API shape, reading reported costs for ``provider`` if any."""
    return _STREAMS[shape](normalizer_for(shape, provider), max_text_chars=max_text_chars)


_ANTHROPIC_EVENTS = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
    }
)


def detect_stream_shape(event: object) -> UsageShape | None:
    """The API shape of one parsed stream event (a chunk of an unknown stream), or None when the
    event alone does not tell (``error`` events, keep-alives)."""
    kind = as_text(get(event, "type")) or ""
    if kind.startswith("response."):
        return "openai_responses"
    if kind in _ANTHROPIC_EVENTS:
        return "anthropic"
    if get(event, "choices") is not None:
        return "openai_chat"
    obj = as_text(get(event, "object")) or ""
    if obj.startswith(("chat.completion", "text_completion")):
        return "openai_chat"
    if get(event, "candidates") is not None or is_node(
        first_of(event, "usageMetadata", "usage_metadata")
    ):
        return "gemini"
    return None


class DeferredStream:
    """Keeps a stream's events and feeds them to an accumulator only when the result is asked
    for, skipping events that can only add text unless an estimate needs the text.

    Parsing every chunk of an SDK stream as it passes costs several microseconds a chunk; most
    chunks are text deltas whose text matters only when the provider's usage never comes.
    ``add`` is a list append, and ``add_events`` keeps a run of raw SSE events unsplit; past
    ``max_pending`` events (or ``max_pending_bytes`` of runs) everything pending is fed, so
    memory stays bounded on very long streams.
    """

    __slots__ = ("_max_pending", "_max_pending_bytes", "_pending", "_run_bytes", "accumulator")

    def __init__(
        self,
        accumulator: StreamAccumulator,
        *,
        max_pending: int = 4096,
        max_pending_bytes: int = 1024 * 1024,
    ) -> None:
        self.accumulator = accumulator
        self._max_pending = max_pending
        self._max_pending_bytes = max_pending_bytes
        self._pending: list[object] = []
        self._run_bytes = 0

    def add(self, event: object) -> None:
        """A parsed event, or the JSON text (bytes) of one the accumulator's
        ``text_only_json`` passed: parsed only if an estimate needs its text."""
        pending = self._pending
        pending.append(event)
        if len(pending) >= self._max_pending:
            self._flush()

    def add_events(self, run: bytes) -> None:
        """Whole raw SSE events (``SSEFrames``), none of them ``[DONE]``: split and read when
        the result is asked for, each as ``add`` would have taken it."""
        self._pending.append(_EventRun(run))
        self._run_bytes += len(run)
        if self._run_bytes >= self._max_pending_bytes or len(self._pending) >= self._max_pending:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._run_bytes = 0
        for item_ in _expanded(pending, self.accumulator):
            self._feed(item_)

    def settle(self) -> StreamAccumulator:
        """Feed what is pending and return the accumulator. Text-only events are fed only
        when the stream did not end with reported usage (``usage_or_estimate`` needs them)."""
        pending, self._pending = self._pending, []
        self._run_bytes = 0
        acc = self.accumulator
        text_only = acc.text_only
        skipped: list[object] = []
        for event in _expanded(pending, acc):
            if type(event) is bytes or text_only(event):
                skipped.append(event)
            else:
                acc.feed(event)
        if skipped and (acc.usage is None or not acc.finished):
            for event in skipped:
                self._feed(event)
        return acc

    def _feed(self, event: object) -> None:
        if type(event) is bytes:
            event = decode_json(event)
            if event is None:
                return
        self.accumulator.feed(event)


class _EventRun:
    """Raw SSE events kept unsplit by ``DeferredStream.add_events``."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def _expanded(pending: list[object], acc: StreamAccumulator) -> Iterator[object]:
    """``pending`` with every run of raw events split into what ``add`` takes: the JSON text of
    a text-only event (``text_only_json``), else the parsed event (malformed ones dropped)."""
    for item_ in pending:
        if type(item_) is not _EventRun:
            yield item_
            continue
        frames = SSEFrames()
        blocks = frames.feed(item_.raw)
        last = frames.close()
        if last:
            blocks.append(last)
        for block in blocks:
            data = event_fields(block)[1]
            if data is None:
                continue
            if is_done(data):
                acc.finished = True
            elif acc.text_only_json(data):
                yield data
            elif (payload := decode_json(data)) is not None:
                yield payload
