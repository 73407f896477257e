"""The statusline's text: named fields, a default layout, a ``--format`` template, colors."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # not typing: the fast path does without importing it
if TYPE_CHECKING:
    from typing import Any

SEPARATOR = " | "
DEFAULT_FORMAT = "{model} | {session} | {today} | {block} | {context} | {limits}"
FIELDS = (
    "model",
    "session",
    "session_tokens",
    "session_cost",
    "today",
    "today_cost",
    "block",
    "block_cost",
    "block_left",
    "burn",
    "projection",
    "context",
    "limits",
    "five_hour",
    "weekly",
)
RESET, BOLD, DIM, GREEN, YELLOW, RED = (
    "\033[0m",
    "\033[1m",
    "\033[2m",
    "\033[32m",
    "\033[33m",
    "\033[31m",
)


def usd(nanos: int) -> str:
    dollars = nanos / 1e9
    return f"${dollars:.2f}" if dollars >= 0.01 or dollars == 0 else f"${dollars:.4f}"


def tokens(count: int) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.1f}{suffix}"
    return str(count)


def span(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d{hours}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def clock(us: int, now_us: int) -> str:
    """A reset time in local time: ``14:00`` within a day, ``Fri 09:00`` beyond."""
    moment = time.localtime(us / 1e6)
    if us - now_us < 86_400_000_000:
        return time.strftime("%H:%M", moment)
    return time.strftime("%a %H:%M", moment)


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color and text else text


def _level(percent: float) -> str:
    return GREEN if percent < 50 else YELLOW if percent < 80 else RED


def fields(figures: dict[str, Any], now_us: int, color: bool) -> dict[str, str]:
    """Each template field's text ("" when there is nothing to show)."""
    out = dict.fromkeys(FIELDS, "")
    out["model"] = _paint(str(figures.get("model") or ""), BOLD, color)
    if figures.get("session_tokens") is not None:
        out["session_tokens"] = tokens(figures["session_tokens"])
        out["session_cost"] = _cost(figures.get("session_cost_nanos"))
        out["session"] = f"{out['session_tokens']} tok {out['session_cost']}".strip()
    if figures.get("today_cost_nanos") is not None:
        out["today_cost"] = _cost(figures["today_cost_nanos"])
        out["today"] = f"{out['today_cost']} today"
    block = figures.get("block")
    if block:
        out["block_cost"] = _cost(block["cost_nanos"])
        out["block_left"] = span((block["end_us"] - now_us) / 1e6)
        out["block"] = f"{out['block_cost']} block, {out['block_left']} left"
        if block.get("cost_per_hour_nanos") is not None:
            out["burn"] = f"{usd(block['cost_per_hour_nanos'])}/h"
            out["block"] += f" {out['burn']}"
        if block.get("projected_cost_nanos") is not None:
            out["projection"] = f"~{usd(block['projected_cost_nanos'])} est."
    percent = figures.get("context_percent")
    if percent is not None:
        out["context"] = "ctx " + _paint(f"{percent:.0f}%", _level(percent), color)
    windows = []
    for name, label in (("five_hour", "5h"), ("weekly", "wk")):
        window = figures.get(name)
        if not window:
            continue
        used = window["used_percent"]
        text = f"{label} " + _paint(f"{used:.0f}%", _level(used), color)
        if window.get("resets_at_us"):
            text += f" ↻{clock(window['resets_at_us'], now_us)}"
        out[name] = text
        windows.append(text)
    if windows:
        out["limits"] = " · ".join(windows) + " " + _paint("(official)", DIM, color)
    return out


def _cost(nanos: int | None) -> str:
    return "$?" if nanos is None else usd(nanos)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def line(values: dict[str, str], template: str | None, color: bool) -> str:
    """The statusline: ``template`` filled in, or the default layout without empty parts."""
    if template is not None:
        return template.format_map(_Blank(values))
    parts = []
    for segment in DEFAULT_FORMAT.split(SEPARATOR):
        text = segment.format_map(_Blank(values)).strip()
        if text:
            parts.append(text)
    return _paint(SEPARATOR, DIM, color).join(parts) if color else SEPARATOR.join(parts)
