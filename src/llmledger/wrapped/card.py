"""The card's layout, written once against a two-method canvas (rectangles and text), and the
two canvases: Pillow's for PNG, plain SVG markup for SVG. 1200 × 630, the size link previews
use; text from Pillow's own scalable font (no system font needed) and, in SVG, a sans-serif."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol
from xml.sax.saxutils import escape

from llmledger.wrapped.year import Ranked, YearInReview

WIDTH, HEIGHT = 1200, 630
BACKGROUND = "#0d1117"
PANEL = "#161b22"
TEXT = "#e6edf3"
MUTED = "#8b949e"
ACCENT = "#39d353"
LEVEL_COLORS = ("#21262d", "#0e4429", "#006d32", "#26a641", "#39d353")
CELL, GAP = 15, 3
GRAPH_X, GRAPH_Y = 60, 430


class Canvas(Protocol):
    def rect(self, x: int, y: int, w: int, h: int, fill: str, radius: int = 0) -> None: ...

    def text(
        self, x: int, y: int, value: str, size: int, fill: str, *, right: bool = False
    ) -> None:
        """``value`` with its top-left (``right``: top-right) corner at (x, y)."""
        ...


def tokens_text(count: int) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= size:
            return f"{count / size:.1f}{suffix}"
    return str(count)


def usd_text(nanos: int) -> str:
    return f"${nanos / 1e9:,.2f}"


def graph_cells(year: int) -> list[tuple[date, int, int]]:
    """(day, column, row) of each day: columns are weeks starting on Sunday, as GitHub's."""
    first = date(year, 1, 1)
    offset = (first.weekday() + 1) % 7  # Sunday = 0
    cells = []
    day = first
    while day.year == year:
        index = (day - first).days + offset
        cells.append((day, index // 7, index % 7))
        day += timedelta(days=1)
    return cells


def _ranked(canvas: Canvas, x: int, y: int, title: str, items: list[Ranked]) -> None:
    canvas.text(x, y, title, 18, MUTED)
    if not items:
        canvas.text(x, y + 32, "-", 22, TEXT)
    for index, item in enumerate(items):
        line = y + 32 + index * 34
        canvas.text(x, line, f"{index + 1}. {item.name[:30]}", 22, TEXT)
        canvas.text(x + 500, line, usd_text(item.cost_nanos), 22, ACCENT, right=True)


def draw(review: YearInReview, canvas: Canvas) -> None:
    canvas.rect(0, 0, WIDTH, HEIGHT, BACKGROUND)
    canvas.text(60, 40, f"{review.year} in LLM tokens", 44, TEXT)
    canvas.text(WIDTH - 60, 52, "llmledger wrapped", 22, MUTED, right=True)
    stats = (
        (tokens_text(review.tokens), "tokens"),
        (usd_text(review.cost_nanos), "API-equivalent cost"),
        (f"{review.calls:,}", "calls"),
        (f"{review.active_days}", "active days"),
        (f"{review.longest_streak}", "longest streak (days)"),
    )
    for index, (value, label) in enumerate(stats):
        x = 60 + index * 220
        canvas.rect(x, 115, 200, 90, PANEL, radius=10)
        canvas.text(x + 16, 128, value, 34, ACCENT)
        canvas.text(x + 16, 174, label, 16, MUTED)
    _ranked(canvas, 60, 230, "Top models", review.models)
    _ranked(canvas, 640, 230, "Top agents", review.agents)
    if review.busiest is not None:
        day, tokens, cost = review.busiest
        busiest = f"Busiest day: {day:%a %d %b} · {tokens_text(tokens)} tokens · {usd_text(cost)}"
    else:
        busiest = "No usage recorded this year"
    canvas.text(60, 392, busiest, 18, MUTED)
    levels = review.levels()
    for day, column, row in graph_cells(review.year):
        x, y = GRAPH_X + column * (CELL + GAP), GRAPH_Y + row * (CELL + GAP)
        canvas.rect(x, y, CELL, CELL, LEVEL_COLORS[levels.get(day, 0)], radius=3)
    canvas.text(60, HEIGHT - 48, f"Made on this machine from its ledger ({review.zone})", 16, MUTED)


def cell_center(review: YearInReview, day: date) -> tuple[int, int]:
    """Where ``day``'s square is on the card (for tests and image maps)."""
    for other, column, row in graph_cells(review.year):
        if other == day:
            x, y = GRAPH_X + column * (CELL + GAP), GRAPH_Y + row * (CELL + GAP)
            return x + CELL // 2, y + CELL // 2
    raise ValueError(f"{day} is not in {review.year}")


class SvgCanvas:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def rect(self, x: int, y: int, w: int, h: int, fill: str, radius: int = 0) -> None:
        rounded = f' rx="{radius}"' if radius else ""
        self.parts.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"{rounded}/>'
        )

    def text(
        self, x: int, y: int, value: str, size: int, fill: str, *, right: bool = False
    ) -> None:
        anchor = ' text-anchor="end"' if right else ""
        self.parts.append(
            f'<text x="{x}" y="{y}" font-size="{size}" fill="{fill}"{anchor}'
            f' dominant-baseline="hanging">{escape(value)}</text>'
        )

    def markup(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
            f' viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial,'
            f' sans-serif">\n' + "\n".join(self.parts) + "\n</svg>\n"
        )


def svg(review: YearInReview) -> str:
    canvas = SvgCanvas()
    draw(review, canvas)
    return canvas.markup()


def png(review: YearInReview) -> bytes:
    """The card as PNG bytes (Pillow: ``pip install pillow``)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    pen = ImageDraw.Draw(image)
    fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}

    class PillowCanvas:
        def rect(self, x: int, y: int, w: int, h: int, fill: str, radius: int = 0) -> None:
            pen.rounded_rectangle((x, y, x + w - 1, y + h - 1), radius=radius, fill=fill)

        def text(
            self, x: int, y: int, value: str, size: int, fill: str, *, right: bool = False
        ) -> None:
            font = fonts.get(size) or fonts.setdefault(size, ImageFont.load_default(size=size))
            pen.text((x, y), value, fill=fill, font=font, anchor="ra" if right else "la")

    draw(review, PillowCanvas())
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
