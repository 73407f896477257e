"""The dashboard page: ``templates/dashboard.html`` with its assets linked (served) or inlined
(the one-file ``html`` report), its settings as JSON, and a Content-Security-Policy that lets it
run its own scripts and nothing else.

The theme script is always inline in ``<head>`` so the remembered theme applies before the
first paint. JSON inside the page escapes ``<`` so no value can end its ``<script>`` element.
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import cache
from importlib import resources
from pathlib import Path

import msgspec

__all__ = [
    "SCRIPTS",
    "STATIC_DIR",
    "STYLES",
    "PageConfig",
    "StaticQuery",
    "render_page",
    "render_test_page",
    "script_json",
]

STATIC_DIR = Path(str(resources.files("llmledger.web") / "static"))
_TEMPLATE = "templates/dashboard.html"
STYLES = ("dashboard.css", "meter.css")
# In order: each script adds to window.llmledger what the later ones use.
SCRIPTS = (
    "format.js",
    "data.js",
    "cells.js",
    "graph2d.js",
    "graph3d.js",
    "charts.js",
    "tables.js",
    "state.js",
    "panel-graph.js",
    "panel-charts.js",
    "panel-lists.js",
    "panel-operators.js",
    "panel-limits.js",
    "app.js",
)
METER_SCRIPT = "meter.js"
THEME_SCRIPT = "theme.js"
AUTH_SCRIPT = "auth.js"  # the credentials a signed-in page sends (gateway)
TEST_PAGE = "templates/test_token_usage.html"
TEST_SCRIPT = "test-usage.js"


class StaticQuery(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The window an ``html`` report was written for (fixed in the file)."""

    tz: str
    since: str | None = None
    until: str | None = None


class PageConfig(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """What the page's scripts read from ``#llmledger-config``."""

    version: str
    default_timezone: str
    today: str  # in the default zone: the year shown first
    admin: bool = False
    usage_meter: bool = False
    sign_in: bool = False  # the views need a ledger key or the admin token (gateway)
    upstream_health: bool = False  # admin/upstreams exists (gateway)
    static: bool = False
    api: str = "api/dashboard/"
    # An ``html`` report's: its window, the years and sources it holds, when it was written.
    query: StaticQuery | None = None
    years: list[int] = []
    sources: list[str] = []
    initial_year: int | None = None
    generated_at: str | None = None


@cache
def asset(name: str) -> str:
    """A file of the package's ``static/`` (or ``templates/``) as text."""
    path = name if "/" in name else f"static/{name}"
    return (resources.files("llmledger.web") / path).read_text(encoding="utf-8")


def script_json(body: bytes) -> str:
    """Encoded JSON made safe inside ``<script type="application/json">``."""
    return body.decode("utf-8").replace("<", "\\u003c")


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _inline(tag: str, text: str) -> str:
    closing = f"</{tag}"
    if closing in text.lower():
        raise ValueError(f"an inlined {tag} holds {closing!r}")
    return f"<{tag}>{text}</{tag}>"


def render_page(
    config: PageConfig, data: bytes | None = None, *, preload: str | None = None
) -> tuple[str, str]:
    """The page and its Content-Security-Policy. A static page (``config.static``) inlines
    every asset and ``data`` (the views it holds) and states its policy in a ``<meta>``;
    a served one links ``static/…`` and the server sends the policy as a header.
    ``preload``: the view the page asks for first (``graph?…``), fetched while its scripts
    load."""
    theme = asset(THEME_SCRIPT)
    config_json = script_json(msgspec.json.encode(config))
    parts: dict[str, str] = {
        "theme": _inline("script", theme),
        "config": f'<script type="application/json" id="llmledger-config">{config_json}</script>',
        "data": "",
        "preload": "",
    }
    script_hashes = [_hash(theme)]
    if config.static:
        styles = [asset(name) for name in STYLES]
        scripts = [asset(name) for name in SCRIPTS]
        parts["styles"] = "\n".join(_inline("style", text) for text in styles)
        parts["scripts"] = "\n".join(_inline("script", text) for text in scripts)
        if data is not None:
            parts["data"] = (
                f'<script type="application/json" id="llmledger-data">{script_json(data)}</script>'
            )
        script_hashes += [_hash(text) for text in scripts]
        policy = (
            "default-src 'none'; "
            f"script-src {' '.join(script_hashes)}; "
            f"style-src {' '.join(_hash(text) for text in styles)}; "
            "img-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
        )
        parts["csp"] = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    else:
        parts["styles"] = "\n".join(
            f'<link rel="stylesheet" href="static/{name}">' for name in STYLES
        )
        names = [AUTH_SCRIPT] if config.sign_in else []
        names += [*SCRIPTS, METER_SCRIPT] if config.usage_meter else list(SCRIPTS)
        parts["scripts"] = _script_tags(names)
        parts["csp"] = ""
        if preload is not None:
            href = html.escape(config.api + preload)
            parts["preload"] = (
                f'<link rel="preload" href="{href}" as="fetch" crossorigin="anonymous">'
            )
        policy = _served_policy(script_hashes)
    return _fill(_TEMPLATE, parts), policy


def _script_tags(names: list[str]) -> str:
    return "\n".join(f'<script src="static/{name}" defer></script>' for name in names)


def _served_policy(script_hashes: list[str]) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'self' {' '.join(script_hashes)}; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _fill(template: str, parts: dict[str, str]) -> str:
    page = asset(template)
    for name, text in parts.items():
        page = page.replace(f"<!--llmledger:{name}-->", text)
    return page


def render_test_page(config: PageConfig) -> tuple[str, str]:
    """``/test_token_usage.html`` (served only when simulation is on) and its policy."""
    theme = asset(THEME_SCRIPT)
    parts = {
        "theme": _inline("script", theme),
        "styles": "\n".join(f'<link rel="stylesheet" href="static/{name}">' for name in STYLES),
        "config": '<script type="application/json" id="llmledger-config">'
        f"{script_json(msgspec.json.encode(config))}</script>",
        "scripts": _script_tags([AUTH_SCRIPT, METER_SCRIPT, TEST_SCRIPT]),
    }
    return _fill(TEST_PAGE, parts), _served_policy([_hash(theme)])
