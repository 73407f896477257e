"""The plain table ``prices`` prints for a search or ``--list``: one model a line, fitting 80
columns (a long name is shortened in the middle, a rate rounded to six decimals; ``--json``
carries both whole)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

WIDTH = 80
# Rates shown per model, as keys of prices._rates_dict: the base tier's input and output.
LISTED: tuple[str, ...] = ("input", "output")
HEADERS = ("Model", "Provider", "Input $/M", "Output $/M")
_GAP = "  "
_PROVIDER_MAX = 16


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by an ellipsis in the middle."""
    if len(text) <= width:
        return text
    if width < 2:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def brief(rate: str) -> str:
    """A rate to at most six decimals (the list has some like 1.142857142857); exact in JSON."""
    try:
        rounded = Decimal(rate).quantize(Decimal("0.000001"))
    except InvalidOperation:
        return rate
    return format(rounded.normalize(), "f") if rounded else rate


def price_table(given: Sequence[Sequence[str]], width: int = WIDTH) -> str:
    """Rows of (model, provider, input, output) as aligned text at most ``width`` wide."""
    rows = [(row[0], row[1], brief(row[2]), brief(row[3])) for row in given]
    rates = [max(len(h), *(len(r[k]) for r in rows)) for k, h in ((2, HEADERS[2]), (3, HEADERS[3]))]
    provider = min(max(len(HEADERS[1]), *(len(r[1]) for r in rows)), _PROVIDER_MAX)
    room = width - sum(rates) - provider - 3 * len(_GAP)
    model = min(max(len(HEADERS[0]), *(len(r[0]) for r in rows)), room)

    def line(cells: Sequence[str]) -> str:
        return _GAP.join(
            [
                shorten(cells[0], model).ljust(model),
                shorten(cells[1], provider).ljust(provider),
                cells[2].rjust(rates[0]),
                cells[3].rjust(rates[1]),
            ]
        ).rstrip()

    return "\n".join([line(HEADERS), *(line(row) for row in rows)])
