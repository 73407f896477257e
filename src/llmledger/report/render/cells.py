"""Text measured in terminal cells: CJK and most emoji take two, combining marks none.

Every width the tables compute goes through ``cell_width``; names are cut in the middle by
whole grapheme clusters (an emoji sequence or a letter with its accents is never split).
"""

from __future__ import annotations

import unicodedata

import wcwidth

ELLIPSIS = "…"


def printable(text: str) -> str:
    """``text`` with control characters (tabs, newlines, escape sequences' ESC) shown as ``?``:
    a name read from a log must not move the cursor or color the terminal."""
    if text.isprintable():
        return text
    return "".join("?" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` (already ``printable``) takes."""
    if text.isascii():
        return len(text)
    return int(wcwidth.width(text, control_codes="ignore"))


def shorten_middle(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` cells, keeping its start and its end around ``…``;
    the end gets the larger half (it tells model versions and project folders apart)."""
    if cell_width(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    clusters = list(wcwidth.iter_graphemes(text))
    budget = width - cell_width(ELLIPSIS)
    head_budget = budget // 2
    head: list[str] = []
    used = 0
    for cluster in clusters:
        size = cell_width(cluster)
        if used + size > head_budget:
            break
        head.append(cluster)
        used += size
    tail: list[str] = []
    room = budget - used
    for cluster in reversed(clusters[len(head) :]):
        size = cell_width(cluster)
        if size > room:
            break
        tail.append(cluster)
        room -= size
    return "".join(head) + ELLIPSIS + "".join(reversed(tail))


def pad(text: str, width: int, align: str) -> str:
    """``text`` padded with spaces to ``width`` cells, on the left when ``align`` is right."""
    fill = " " * max(width - cell_width(text), 0)
    return fill + text if align == "right" else text + fill


def wrap(text: str, width: int | None) -> list[str]:
    """``text`` as lines of at most ``width`` cells (one line when ``width`` is None)."""
    text = printable(text)
    if width is None:
        return [text]
    return list(wcwidth.wrap(text, width)) or [""]
