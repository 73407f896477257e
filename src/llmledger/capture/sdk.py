"""``instrument(client)``: record the usage of every call of an ``openai`` / ``anthropic`` client.

The client object is returned unchanged in type and behaviour. Capture wraps, on this client
only, the ``_post`` of its metered resources (``chat.completions``, ``completions``,
``responses``, ``embeddings``; ``messages`` and ``beta.messages``), the one place every
``create``, ``parse``, ``stream()`` helper, ``with_raw_response`` and ``with_streaming_response``
call goes through. Copies made with ``client.with_options(...)`` / ``client.copy(...)`` are
instrumented the same way.

Per call it reads the request (API, model, body), snapshots the attribution in effect, and:

* a whole response: normalizes its usage and queues one event;
* a stream: watches the SDK's stream object in place (``capture.streams``); for Chat and
  legacy Completions streams whose caller did not set ``stream_options.include_usage`` it asks
  for the usage chunk and hides that extra chunk (``choices == []``) from the caller; a provider
  that rejects the option gets the request again without it (once per client and API);
* an exception: one failed event with no tokens, then the exception propagates unchanged.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from llmledger.capture.calls import (
    API_PATHS,
    Api,
    is_usage_option_rejection,
    make_spec,
    needs_usage_option,
    with_usage_option,
)
from llmledger.capture.context import Attribution, current_attribution, make_attribution
from llmledger.capture.providers import detect_provider
from llmledger.capture.record import CallRecorder, Sink, StreamRecorder
from llmledger.capture.streams import watch_async_stream, watch_stream
from llmledger.ledger import Ledger
from llmledger.usage.sse import decode_json

__all__ = ["instrument", "is_instrumented"]

log = logging.getLogger("llmledger.capture")

C = TypeVar("C")

_MARK = "_llmledger_capture"
# Resources (attribute paths from the client) whose POSTs are metered, per SDK.
_RESOURCES: dict[str, tuple[tuple[str, ...], ...]] = {
    "openai": (("chat", "completions"), ("completions",), ("responses",), ("embeddings",)),
    "anthropic": (("messages",), ("beta", "messages")),
}


@dataclass
class Settings:
    """What one instrumented client records and where."""

    sink: Sink
    provider: str | None
    provider_given: bool
    defaults: Attribution
    include_usage: bool = True
    # APIs (request paths) whose provider rejected ``stream_options``: not asked again.
    no_usage_option: set[str] = field(default_factory=set)


class _Holder:
    """Shared by a client's wrappers, so instrumenting again only swaps the settings."""

    __slots__ = ("settings",)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def _family(client: object) -> str | None:
    for cls in type(client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in _RESOURCES:
            return root
    return None


def is_instrumented(client: object) -> bool:
    return isinstance(getattr(client, _MARK, None), _Holder)


def instrument(
    client: C,
    ledger: Ledger | None = None,
    *,
    provider: str | None = None,
    include_usage: bool = True,
    **attributes: Any,
) -> C:
    """Record the usage of every call ``client`` makes into ``ledger`` (default: the default
    ledger); returns ``client`` itself.

    ``provider`` overrides the provider detected from the client's base URL. ``attributes``
    (``user_id``, ``org_id``, ``session_id``, ``request_type``, ``project``, ``account``,
    ``api_key_id``, ``tags``) are defaults for every call; ``llmledger.attribute`` blocks
    override them per call. ``include_usage=False`` never adds ``stream_options`` to streams
    (their usage is then estimated unless the caller asks for it). Instrumenting a client again
    replaces these settings.
    """
    family = _family(client)
    if family is None:
        raise TypeError(
            f"instrument() supports openai and anthropic SDK clients, not {type(client).__name__}"
        )
    defaults = make_attribution(**attributes)
    detected = provider or detect_provider(getattr(client, "base_url", ""), family)
    settings = Settings(Sink(ledger), detected, provider is not None, defaults, include_usage)
    _install(client, family, settings)
    _warm_estimator()
    return client


def _install(client: object, family: str, settings: Settings) -> None:
    holder = getattr(client, _MARK, None)
    if isinstance(holder, _Holder):
        holder.settings = settings
        return
    holder = _Holder(settings)
    setattr(client, _MARK, holder)
    for attrs in _RESOURCES[family]:
        resource = _resolve(client, attrs)
        if resource is not None:
            _wrap_resource(resource, holder)
    _wrap_copies(client, family, holder)


def _resolve(client: object, attrs: tuple[str, ...]) -> object | None:
    obj: object | None = client
    for name in attrs:
        try:
            obj = getattr(obj, name)
        except Exception:  # an SDK version without this resource
            return None
    return obj


def _wrap_resource(resource: Any, holder: _Holder) -> None:
    post = getattr(resource, "_post", None)
    if post is None or getattr(post, "__llmledger__", False):
        return
    wrapper: Any = (
        _async_post(post, holder) if inspect.iscoroutinefunction(post) else _sync_post(post, holder)
    )
    wrapper.__llmledger__ = True
    resource._post = wrapper


def _wrap_copies(client: Any, family: str, holder: _Holder) -> None:
    """``client.copy()`` / ``client.with_options()`` return new clients: instrument them too."""
    for name in ("copy", "with_options"):
        original = getattr(client, name, None)
        if not callable(original):
            continue

        def copy(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            new = _original(*args, **kwargs)
            try:
                settings = holder.settings
                provider = settings.provider
                if not settings.provider_given:
                    provider = detect_provider(getattr(new, "base_url", ""), family)
                _install(new, family, replace(settings, provider=provider, no_usage_option=set()))
            except Exception:
                log.error("llmledger could not instrument a copy of a client", exc_info=True)
            return new

        setattr(client, name, copy)


# -- one call -------------------------------------------------------------------------------


class _Call:
    __slots__ = ("kwargs", "path", "rec")

    def __init__(self, rec: CallRecorder, kwargs: dict[str, Any], path: str) -> None:
        self.rec = rec
        self.kwargs = kwargs
        self.path = path


def _begin(settings: Settings, api: Api, path: str, kwargs: dict[str, Any]) -> _Call:
    stream = kwargs.get("stream") is True
    spec = make_spec(api, settings.provider, kwargs.get("body"), stream)
    if (
        stream
        and settings.include_usage
        and path not in settings.no_usage_option
        and needs_usage_option(api, spec.body, _extra_body(kwargs.get("options")))
    ):
        spec.body = with_usage_option(spec.body)
        spec.injected_usage_option = True
        kwargs = {**kwargs, "body": spec.body}
    scope = current_attribution()  # merged over the defaults when the event is built
    rec: CallRecorder
    if stream:
        rec = StreamRecorder(settings.sink, spec, settings.defaults, scope=scope)
    else:
        rec = CallRecorder(settings.sink, spec, settings.defaults, scope=scope)
    return _Call(rec, kwargs, path)


def _extra_body(options: object) -> object:
    return options.get("extra_json") if isinstance(options, Mapping) else None


def _retry_without_option(call: _Call, settings: Settings, exc: BaseException) -> bool:
    """After a provider refused the injected ``stream_options``: never ask this API again."""
    spec = call.rec.spec
    if not (spec.injected_usage_option and is_usage_option_rejection(exc)):
        return False
    settings.no_usage_option.add(call.path)
    log.warning(
        "llmledger: %s rejected stream_options.include_usage; retrying without it "
        "(stream usage will be estimated)",
        spec.provider or "the provider",
    )
    return True


def _finish(call: _Call, result: Any, is_async: bool) -> Any:
    """Record a whole response, or start watching a stream; returns what the app gets."""
    rec = call.rec
    try:
        if isinstance(rec, StreamRecorder):
            if hasattr(result, "_iterator"):
                return (watch_async_stream if is_async else watch_stream)(result, rec)
            if _is_raw(result):
                return _watch_raw(result, rec, is_async)
            log.warning("llmledger cannot watch a %s; usage not recorded", type(result).__name__)
            return result
        if _is_raw(result):
            return _watch_raw(result, rec, is_async)
        rec.record_response(result)
    except Exception:
        log.error("llmledger failed to record a %s call", rec.spec.api, exc_info=True)
    return result


def _sync_post(post: Callable[..., Any], holder: _Holder) -> Callable[..., Any]:
    def _post(path: str, *args: Any, **kwargs: Any) -> Any:
        api = API_PATHS.get(path)
        if api is None:
            return post(path, *args, **kwargs)
        settings = holder.settings
        try:
            call = _begin(settings, api, path, kwargs)
        except Exception:
            log.error("llmledger could not meter a call; passing it through", exc_info=True)
            return post(path, *args, **kwargs)
        try:
            result = post(path, *args, **call.kwargs)
        except BaseException as exc:
            if not _retry_without_option(call, settings, exc):
                call.rec.record_failure(exc)
                raise
            call = _begin(settings, api, path, kwargs)
            try:
                result = post(path, *args, **call.kwargs)
            except BaseException as again:
                call.rec.record_failure(again)
                raise
        return _finish(call, result, is_async=False)

    return _post


def _async_post(post: Callable[..., Any], holder: _Holder) -> Callable[..., Any]:
    async def _post(path: str, *args: Any, **kwargs: Any) -> Any:
        api = API_PATHS.get(path)
        if api is None:
            return await post(path, *args, **kwargs)
        settings = holder.settings
        try:
            call = _begin(settings, api, path, kwargs)
        except Exception:
            log.error("llmledger could not meter a call; passing it through", exc_info=True)
            return await post(path, *args, **kwargs)
        try:
            result = await post(path, *args, **call.kwargs)
        except BaseException as exc:
            if not _retry_without_option(call, settings, exc):
                call.rec.record_failure(exc)
                raise
            call = _begin(settings, api, path, kwargs)
            try:
                result = await post(path, *args, **call.kwargs)
            except BaseException as again:
                call.rec.record_failure(again)
                raise
        return _finish(call, result, is_async=True)

    return _post


# -- raw responses (with_raw_response / with_streaming_response) --------------------------


def _is_raw(result: object) -> bool:
    return hasattr(result, "http_response") and callable(getattr(result, "parse", None))


def _watch_raw(raw: Any, rec: CallRecorder, is_async: bool) -> Any:
    """A raw response: record when the app parses it; if it never does, read the body (if it
    was read) when the raw response is dropped."""
    parse = raw.parse
    state = {"adopted": False}

    def adopt(parsed: Any) -> Any:
        if state["adopted"]:
            return parsed
        state["adopted"] = True
        if isinstance(rec, StreamRecorder):
            if hasattr(parsed, "__aiter__") and hasattr(parsed, "_iterator"):
                return watch_async_stream(parsed, rec)
            if hasattr(parsed, "_iterator"):
                return watch_stream(parsed, rec)
            rec.finish("abandoned")
        else:
            rec.record_response(parsed)
        return parsed

    if inspect.iscoroutinefunction(parse):

        async def aparse(*args: Any, **kwargs: Any) -> Any:
            return adopt(await parse(*args, **kwargs))

        raw.parse = aparse
    else:

        def sparse(*args: Any, **kwargs: Any) -> Any:
            return adopt(parse(*args, **kwargs))

        raw.parse = sparse
    weakref.finalize(raw, _record_unparsed, rec, raw.http_response, state)
    return raw


def _record_unparsed(rec: CallRecorder, http_response: Any, state: dict[str, bool]) -> None:
    if state["adopted"] or rec.done:
        return
    if isinstance(rec, StreamRecorder):
        rec.finish("abandoned")
        return
    content = getattr(http_response, "_content", None)  # set once the body was read
    payload = decode_json(content) if isinstance(content, bytes) else None
    rec.record_response(payload if payload is not None else {})


# -- estimator warm-up ----------------------------------------------------------------------

_warm_lock = threading.Lock()
_warmed = False


def _warm_estimator() -> None:
    """Load the offline tokenizer in the background once, so the first stream that needs an
    estimate does not pay for it on the app's path."""
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        _warmed = True

    def load() -> None:
        try:
            from llmledger.estimate import tokenizer_name

            tokenizer_name()
        except Exception:
            log.debug("tokenizer warm-up failed", exc_info=True)

    threading.Thread(target=load, name="llmledger-estimator-warmup", daemon=True).start()
