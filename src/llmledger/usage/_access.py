"""Tolerant readers for provider payloads: parsed JSON dicts or SDK (pydantic) objects alike.

Nothing here raises on malformed input: a value of the wrong type reads as missing (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from llmledger.usage.counts import MappedUsage, TokenCounts

# Counts above this are nonsense (and would overflow a 64-bit column once summed): treat as missing.
MAX_COUNT = 2**53 - 1

_SCALARS = (str, bytes, bytearray, int, float, complex, Decimal, list, tuple, set, frozenset)


def get(obj: object, key: str) -> object:
    """``obj[key]`` for a mapping, ``obj.key`` for an SDK object; None when absent or unreadable."""
    cls = type(obj)
    if cls is dict:  # the common case, parsed JSON: skip the slower checks
        return obj.get(key)  # type: ignore[attr-defined]
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _classify(cls)
    if kind == _PLAIN:
        value = _instance_value(obj, key)
        if value is not _MISSING:
            return None if value is None or callable(value) else value
    elif kind == _SCALAR:
        return None
    elif kind == _MAPPING:
        try:
            return obj.get(key)  # type: ignore[attr-defined]
        except Exception:
            return None
    try:
        value = getattr(obj, key, None)
    except Exception:  # properties of foreign objects may raise anything
        return None
    return None if callable(value) else value


_MISSING = object()
_SCALAR, _MAPPING, _PLAIN, _OTHER = range(4)
# How ``get`` reads instances of a class, decided once per class. ``_PLAIN`` classes keep every
# field in ``__dict__`` (or pydantic's extras) and compute nothing in ``__getattr__``: for them a
# key that is neither there nor a class attribute is missing, without asking ``getattr`` (which
# for pydantic builds and raises an AttributeError per miss, ~20x slower than a dict probe).
_KINDS: dict[type, int] = {type(None): _SCALAR}


def _classify(cls: type) -> int:
    if issubclass(cls, _SCALARS):
        kind = _SCALAR
    elif issubclass(cls, Mapping):
        kind = _MAPPING
    elif getattr(cls, "__getattr__", None) is None or (
        hasattr(cls, "__pydantic_fields__") and hasattr(cls, "__pydantic_extra__")
    ):
        kind = _PLAIN
    else:
        kind = _OTHER
    if len(_KINDS) < 4096:
        _KINDS[cls] = kind
    return kind


_CLASS_ATTRS: dict[tuple[type, str], bool] = {}


def _class_attribute(cls: type, key: str) -> bool:
    """Whether ``cls`` defines ``key`` (a property, a method), looked up in the MRO's own
    namespaces so a metaclass ``__getattr__`` (pydantic's raises per miss) is never run."""
    try:
        return _CLASS_ATTRS[(cls, key)]
    except KeyError:
        pass
    found = any(key in vars(base) for base in cls.__mro__)
    if len(_CLASS_ATTRS) < 65536:
        _CLASS_ATTRS[(cls, key)] = found
    return found


def _instance_value(obj: object, key: str) -> object:
    """The value stored on the instance (``__dict__`` or pydantic extras); ``_MISSING`` when
    the class may compute it (a property, a method) and ``getattr`` must decide."""
    try:
        fields = object.__getattribute__(obj, "__dict__")
    except AttributeError:  # __slots__ objects
        return _MISSING
    if type(fields) is dict and key in fields:
        return fields[key]
    if _class_attribute(type(obj), key):
        return _MISSING
    try:
        extra = object.__getattribute__(obj, "__pydantic_extra__")
    except AttributeError:
        return None
    return extra.get(key) if type(extra) is dict else None


def path(obj: object, *keys: str) -> object:
    """Follow ``keys`` through nested mappings/objects; None as soon as a step is missing."""
    for key in keys:
        obj = get(obj, key)
        if obj is None:
            return None
    return obj


def first_of(obj: object, *keys: str) -> object:
    """The first non-None value among ``keys`` (e.g. a camelCase and a snake_case spelling)."""
    for key in keys:
        value = get(obj, key)
        if value is not None:
            return value
    return None


def is_node(value: object) -> bool:
    """True for a mapping or an attribute-bearing object (something ``get`` can look into)."""
    return value is not None and not isinstance(value, _SCALARS)


def item(value: object, index: int) -> object:
    """``value[index]`` for a list/tuple, else None."""
    if isinstance(value, (list, tuple)) and -len(value) <= index < len(value):
        return value[index]
    return None


def items(value: object) -> tuple[object, ...]:
    """The elements of a list/tuple, else ()."""
    return tuple(value) if isinstance(value, (list, tuple)) else ()


def as_dict(value: object) -> dict[str, object]:
    """The fields of a mapping or SDK object as a plain dict (string keys only); {} otherwise."""
    if isinstance(value, Mapping):
        source: object = value
    elif is_node(value):
        dump = getattr(value, "model_dump", None)
        try:
            source = dump() if callable(dump) else vars(value)
        except Exception:
            return {}
    else:
        return {}
    if not isinstance(source, Mapping):
        return {}
    try:
        return {k: v for k, v in source.items() if isinstance(k, str)}
    except Exception:
        return {}


def as_count(value: object) -> int | None:
    """A token count: a non-negative integer (or integral float) up to MAX_COUNT, else None."""
    if type(value) is int:
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return as_count(int(value))
    return None


def as_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_usd(value: object) -> Decimal | None:
    """A non-negative, finite money amount (below 10^12) from a JSON number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if amount.is_finite() and amount >= 0 and (amount == 0 or amount.adjusted() < 12):
        return amount
    return None


def short_repr(value: object, limit: int = 60) -> str:
    """A bounded, JSON-safe description of a bad value for ``details``."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pydantic_fields(obj: object) -> dict[str, object] | None:
    """A pydantic object's stored fields and extras as a new dict; None for anything else."""
    if not hasattr(type(obj), "__pydantic_fields__"):
        return None
    try:
        fields = object.__getattribute__(obj, "__dict__")
        extra = object.__getattribute__(obj, "__pydantic_extra__")
    except AttributeError:
        return None
    if type(fields) is not dict:
        return None
    out = dict(fields)
    if type(extra) is dict:
        for key, value in extra.items():
            out.setdefault(key, value)
    return out


def plain_node(node: object) -> object:
    """An SDK (pydantic) usage object as a dict, two levels deep (``…_details`` objects
    included), so a normalizer's many probes are dict lookups; anything else unchanged."""
    out = _pydantic_fields(node)
    if out is None:
        return node
    for key, value in out.items():
        if value is not None and not isinstance(value, _SCALARS):
            inner = _pydantic_fields(value)
            if inner is not None:
                out[key] = inner
    return out


class UsageReader:
    """Reads counts from one usage node and remembers what was malformed or clamped."""

    __slots__ = ("clamped", "invalid", "node")

    def __init__(self, node: object) -> None:
        self.node = plain_node(node)
        self.invalid: dict[str, str] = {}
        self.clamped: dict[str, int] = {}

    def count(self, *keys: str) -> int | None:
        """The count at ``keys`` under the node; malformed values read as None and are noted."""
        node = self.node
        if type(node) is dict and len(keys) <= 2:  # parsed JSON: plain probes, no helpers
            raw = node.get(keys[0])
            if len(keys) == 2:
                raw = raw.get(keys[1]) if type(raw) is dict else path(raw, keys[1])
        else:
            raw = path(node, *keys)
        if raw is None:
            return None
        if type(raw) is int and 0 <= raw <= MAX_COUNT:
            return raw
        value = as_count(raw)
        if value is None and raw is not None:
            self.invalid[".".join(keys)] = short_repr(raw)
        return value

    def first_count(self, *candidates: tuple[str, ...]) -> int | None:
        """The first valid count among several key paths (alternative spellings)."""
        for keys in candidates:
            value = self.count(*keys)
            if value is not None:
                return value
        return None

    def clamp(self, field: str, value: int, ceiling: int | None = None) -> int:
        """``value`` limited to ``0..ceiling``; the unclamped value is noted when it changes."""
        clamped = max(0, value if ceiling is None else min(value, ceiling))
        if clamped != value:
            self.clamped[field] = value
        return clamped

    def finish(self, mapped: MappedUsage, extra: Mapping[str, Any] | None = None) -> TokenCounts:
        """The TokenCounts of a provider mapping's result; ``details`` gets the mapping's
        details, ``extra`` (response-level facts, e.g. OpenAI's service tier) and what this
        reader found malformed or clamped."""
        details: dict[str, Any] = {**(mapped.details or {}), **(extra or {})}
        if self.invalid:
            details["invalid"] = dict(self.invalid)
        if self.clamped:
            details["clamped"] = {**self.clamped, **details.get("clamped", {})}
        return TokenCounts(
            input_tokens=mapped.input_tokens,
            cache_read_tokens=mapped.cache_read_tokens,
            cache_write_tokens=mapped.cache_write_tokens,
            cache_write_1h_tokens=mapped.cache_write_1h_tokens,
            output_tokens=mapped.output_tokens,
            reasoning_tokens=mapped.reasoning_tokens,
            details=details or None,
        )
