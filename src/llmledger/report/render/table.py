"""A box-drawn text table that fits a given width, counted in terminal cells.

To fit, headers wrap onto several lines first; then names (columns with a ``min_width``) are
shortened in the middle, down to that width; then the columns with the highest
``drop_order`` are left out (the caller says so in a footnote) and the steps start over;
when nothing is left to drop, names shrink further, to ``NARROWEST`` cells. A width of
``None`` means no limit: every column at its natural width. Colors only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmledger.report.render.cells import cell_width, pad, printable, shorten_middle

Align = Literal["left", "right"]

_RESET = "\x1b[0m"

# The narrowest a name column becomes when every droppable column is already gone.
NARROWEST = 10


@dataclass(frozen=True)
class Column:
    header: str
    align: Align = "right"
    drop_order: int = 0  # 0: never dropped; higher numbers are dropped first
    min_width: int = 0  # 0: never shortened; else cells may be cut in the middle to this


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


@dataclass(frozen=True)
class Layout:
    keep: list[int]  # indexes of the columns shown
    widths: list[int]  # their widths in cells
    dropped: bool  # whether any column was left out


@dataclass(frozen=True)
class _Measure:
    content: int  # the widest cell
    header: int  # the header on one line
    word: int  # the header's longest word (wrapped headers)


def _wrap(header: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in header.split():
        if lines and cell_width(lines[-1]) + 1 + cell_width(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _outer(widths: list[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1


def _shrink(widths: list[int], floors: list[int], limit: int) -> list[int]:
    """Narrow the widest columns that are above their floors, a cell at a time, until the
    table fits ``limit`` or every column is at its floor."""
    widths = list(widths)
    excess = _outer(widths) - limit
    while excess > 0:
        candidates = [i for i, w in enumerate(widths) if w > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _measure(table: Table) -> list[_Measure]:
    measures = []
    for index, column in enumerate(table.columns):
        cells = [row[index] for row in table.rows + table.totals]
        words = column.header.split()
        measures.append(
            _Measure(
                content=max((cell_width(c) for c in cells), default=0),
                header=cell_width(column.header),
                word=max((cell_width(w) for w in words), default=0),
            )
        )
    return measures


def fit(table: Table, width: int | None) -> tuple[list[int], list[int], bool]:
    """Columns kept, their widths, and whether any column was dropped (see ``layout``)."""
    found = layout(table, width)
    return found.keep, found.widths, found.dropped


def layout(table: Table, width: int | None) -> Layout:
    """The columns shown and their widths for a table at most ``width`` cells wide (when it
    can be done; the narrowest layout otherwise)."""
    measures = _measure(table)
    keep = list(range(len(table.columns)))
    if width is None:
        return Layout(keep, [max(measures[i].content, measures[i].header) for i in keep], False)
    dropped = False
    while True:
        whole = [max(measures[i].content, measures[i].header) for i in keep]
        wrapped = [max(measures[i].content, measures[i].word) for i in keep]
        floors = [
            max(min(table.columns[i].min_width, measures[i].content), measures[i].word)
            if table.columns[i].min_width
            else wrapped[n]
            for n, i in enumerate(keep)
        ]
        for widths in (whole, wrapped, _shrink(wrapped, floors, width)):
            if _outer(widths) <= width:
                return Layout(keep, widths, dropped)
        droppable = [i for i in keep if table.columns[i].drop_order > 0]
        if not droppable:
            break
        worst = max(table.columns[i].drop_order for i in droppable)
        keep = [i for i in keep if table.columns[i].drop_order != worst]
        dropped = True
    last = [
        min(floor, max(NARROWEST, measures[i].word)) if table.columns[i].min_width else floor
        for floor, i in zip(floors, keep)
    ]
    return Layout(keep, _shrink(floors, last, width), dropped)


def render(table: Table, width: int | None, style: Style) -> tuple[str, bool]:
    """The table as text, and whether columns had to be dropped to fit ``width`` cells
    (``None``: no limit)."""
    table = Table(
        table.columns,
        [[printable(c) for c in row] for row in table.rows],
        [[printable(c) for c in row] for row in table.totals],
        table.dim_rows,
    )
    found = layout(table, width)
    columns = [table.columns[i] for i in found.keep]
    widths = found.widths

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (w + 2) for w in widths) + right

    def line(cells: list[str], code: str | None = None) -> str:
        parts = []
        for cell, column, w in zip(cells, columns, widths):
            text = pad(shorten_middle(cell, w), w, column.align)
            parts.append(" " + (style.paint(text, code) if code else text) + " ")
        return "│" + "│".join(parts) + "│"

    header_lines = [_wrap(c.header, w) for c, w in zip(columns, widths)]
    height = max((len(h) for h in header_lines), default=1)
    out = [rule("┌", "┬", "┐")]
    for level in range(height):
        cells = [h[level] if level < len(h) else "" for h in header_lines]
        out.append(line(cells, style.header))
    out.append(rule("├", "┼", "┤"))
    for number, row in enumerate(table.rows):
        code = style.dim if number in table.dim_rows else None
        out.append(line([row[i] for i in found.keep], code))
    if table.totals:
        if table.rows:
            out.append(rule("├", "┼", "┤"))
        for row in table.totals:
            out.append(line([row[i] for i in found.keep], style.total))
    out.append(rule("└", "┴", "┘"))
    return "\n".join(out), found.dropped
