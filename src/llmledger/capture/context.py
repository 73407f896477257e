"""Who caused a call: attribution carried in a context variable.

``with attribute(user_id="u1", org_id="o1", session_id="s1"):`` makes every instrumented call
inside the block (and inside functions it calls) record those fields. Blocks nest: an inner
block overrides the fields it names and adds its tags to the outer block's.

Context variables follow the code that runs, not the thread or event loop:

* asyncio tasks each start with a copy of the context of the code that created them, so
  ``asyncio.gather(a(), b())`` with a different ``attribute`` block inside each coroutine records
  each call to its own user, and ``asyncio.to_thread`` carries the context into its thread;
* a plain ``threading.Thread`` or ``ThreadPoolExecutor.submit`` starts from an empty context.
  Carry the caller's attribution over with ``contextvars.copy_context().run`` (or ``bind``)::

      ctx = contextvars.copy_context()
      pool.submit(ctx.run, work, arg)        # or: pool.submit(bind(work), arg)
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, ParamSpec, TypeVar

__all__ = ["ATTRIBUTE_NAMES", "Attribution", "attribute", "bind", "current_attribution"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Attribution:
    """The attribution fields of a UsageEvent; None means "not set here"."""

    user_id: str | None = None
    org_id: str | None = None
    session_id: str | None = None
    request_type: str | None = None
    project: str | None = None
    account: str | None = None
    api_key_id: str | None = None
    tags: tuple[str, ...] = ()

    def merged(self, inner: Attribution) -> Attribution:
        """``inner`` over ``self``: its set fields win, tags are added (order kept, no repeats)."""
        if inner is EMPTY:
            return self
        if self is EMPTY:
            return inner
        changes: dict[str, Any] = {
            name: value for name in _SCALAR_NAMES if (value := getattr(inner, name)) is not None
        }
        if inner.tags:
            changes["tags"] = _join_tags(self.tags, inner.tags)
        return replace(self, **changes) if changes else self

    def event_fields(self) -> dict[str, Any]:
        """The fields as ``UsageEvent`` keyword arguments (unset ones left out)."""
        data: dict[str, Any] = {
            name: value for name in _SCALAR_NAMES if (value := getattr(self, name)) is not None
        }
        if self.tags:
            data["tags"] = self.tags
        return data


ATTRIBUTE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Attribution))
_SCALAR_NAMES: tuple[str, ...] = tuple(name for name in ATTRIBUTE_NAMES if name != "tags")
EMPTY = Attribution()

_current: contextvars.ContextVar[Attribution] = contextvars.ContextVar(
    "llmledger_attribution", default=EMPTY
)


def _join_tags(outer: tuple[str, ...], inner: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*outer, *inner)))


def make_attribution(**values: Any) -> Attribution:
    """An Attribution from keyword arguments, checking names and types (TypeError otherwise)."""
    unknown = sorted(set(values) - set(ATTRIBUTE_NAMES))
    if unknown:
        raise TypeError(
            f"unknown attribution field(s): {', '.join(unknown)}; "
            f"expected some of {', '.join(ATTRIBUTE_NAMES)}"
        )
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "tags":
            clean["tags"] = _tags(value)
        elif isinstance(value, str):
            clean[name] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            clean[name] = str(value)  # numeric ids are common; store them as text
        else:
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return Attribution(**clean) if clean else EMPTY


def _tags(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        tags = tuple(value)
        if all(isinstance(tag, str) for tag in tags):
            return tuple(dict.fromkeys(tags))
    raise TypeError("tags must be a string or an iterable of strings")


def current_attribution() -> Attribution:
    """The attribution in effect here (all enclosing ``attribute`` blocks merged)."""
    return _current.get()


@contextmanager
def attribute(
    *,
    user_id: str | None = None,
    org_id: str | None = None,
    session_id: str | None = None,
    request_type: str | None = None,
    project: str | None = None,
    account: str | None = None,
    api_key_id: str | None = None,
    tags: Iterable[str] | str | None = None,
) -> Iterator[Attribution]:
    """Attribute every instrumented call inside the block; yields the merged attribution.

    Works the same in threads and asyncio tasks (see the module docs for carrying it into a new
    thread). Fields given to ``instrument(client, ...)`` are defaults that these override.
    """
    added = make_attribution(
        user_id=user_id,
        org_id=org_id,
        session_id=session_id,
        request_type=request_type,
        project=project,
        account=account,
        api_key_id=api_key_id,
        tags=tags,
    )
    merged = _current.get().merged(added)
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)


def bind(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` wrapped to run in a copy of the current context, e.g. for a thread pool:
    ``pool.submit(bind(work), arg)`` records ``work``'s calls with the caller's attribution."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run
