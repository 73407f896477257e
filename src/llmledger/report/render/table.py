"""A box-drawn text table that fits a given width.

Headers wrap onto several lines before anything else gives; then columns with the highest
``drop_order`` are left out (the caller says so in a footnote). Colors only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Align = Literal["left", "right"]

_RESET = "\x1b[0m"


@dataclass(frozen=True)
class Column:
    header: str
    align: Align = "right"
    drop_order: int = 0  # 0: never dropped; higher numbers are dropped first


@dataclass(frozen=True)
class Style:
    color: bool = False
    header: str = "\x1b[1;36m"
    total: str = "\x1b[1;33m"
    dim: str = "\x1b[2m"

    def paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and text.strip() else text


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[str]]
    totals: list[list[str]]  # rows below a rule, painted as totals
    dim_rows: frozenset[int] = frozenset()  # indexes of rows painted dim (breakdown lines)


def _wrap(header: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in header.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _widths(table: Table, keep: list[int], wrap: bool) -> list[int]:
    widths = []
    for index in keep:
        cells = [row[index] for row in table.rows + table.totals]
        content = max((len(c) for c in cells), default=0)
        header = table.columns[index].header
        head = max(len(w) for w in header.split()) if wrap and header.split() else len(header)
        widths.append(max(content, head))
    return widths


def _outer(widths: list[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1


def fit(table: Table, width: int) -> tuple[list[int], list[int], bool]:
    """Columns kept, their widths, and whether any column was dropped."""
    keep = list(range(len(table.columns)))
    dropped = False
    while True:
        for wrap in (False, True):
            widths = _widths(table, keep, wrap)
            if _outer(widths) <= width:
                return keep, widths, dropped
        droppable = [i for i in keep if table.columns[i].drop_order > 0]
        if not droppable:
            return keep, widths, dropped
        worst = max(table.columns[i].drop_order for i in droppable)
        keep = [i for i in keep if table.columns[i].drop_order != worst]
        dropped = True


def render(table: Table, width: int, style: Style) -> tuple[str, bool]:
    """The table as text, and whether columns had to be dropped to fit ``width``."""
    keep, widths, dropped = fit(table, width)
    columns = [table.columns[i] for i in keep]

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (w + 2) for w in widths) + right

    def line(cells: list[str], code: str | None = None) -> str:
        parts = []
        for cell, column, w in zip(cells, columns, widths):
            text = cell.rjust(w) if column.align == "right" else cell.ljust(w)
            parts.append(" " + (style.paint(text, code) if code else text) + " ")
        return "│" + "│".join(parts) + "│"

    header_lines = [_wrap(c.header, w) for c, w in zip(columns, widths)]
    height = max(len(h) for h in header_lines)
    out = [rule("┌", "┬", "┐")]
    for level in range(height):
        cells = [h[level] if level < len(h) else "" for h in header_lines]
        out.append(line(cells, style.header))
    out.append(rule("├", "┼", "┤"))
    for number, row in enumerate(table.rows):
        code = style.dim if number in table.dim_rows else None
        out.append(line([row[i] for i in keep], code))
    if table.totals:
        if table.rows:
            out.append(rule("├", "┼", "┤"))
        for row in table.totals:
            out.append(line([row[i] for i in keep], style.total))
    out.append(rule("└", "┴", "┘"))
    return "\n".join(out), dropped
