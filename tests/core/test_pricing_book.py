"""Price matching, config overrides and aliases, and refreshing the list over loopback HTTP."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import PriceBook
from llmledger.config import load_config
from llmledger.errors import ConfigError
from llmledger.pricing.refresh import refresh
from llmledger.pricing.snapshot import load_best


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("gpt-5", "gpt-5"),
        ("openai/gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("dashscope/qwen3-max", "dashscope/qwen3-max"),
    ],
)
def test_names_match_their_entry(book: PriceBook, name: str, key: str) -> None:
    found = book.match(name)
    assert found is not None
    assert found.key == key


@pytest.mark.parametrize("name", ["claude-sonnet-4-7", "gpt-9-mini", "hunyuan-turbos-latest"])
def test_never_another_version(book: PriceBook, name: str) -> None:
    # A model the list does not know must not borrow a sibling's price.
    assert book.match(name) is None


def test_dated_name_strips_the_date_only(book: PriceBook) -> None:
    found = book.match("gpt-4o-2099-01-01")
    assert found is not None and found.key == "gpt-4o"


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_per_million_override_and_alias(tmp_path: Path) -> None:
    config = load_config(
        _write_config(
            tmp_path,
            """
[pricing.models."hunyuan-turbos-latest"]
input_per_million = 0.8
output_per_million = 2
cache_read_per_million = 0.2

[pricing.aliases]
"my-sonnet" = "claude-sonnet-4-5"
""",
        )
    )
    book = PriceBook(pricing=config.pricing)
    assert book.cost(
        "hunyuan-turbos-latest", input_tokens=1_000_000, output_tokens=500_000
    ) == Decimal("1.8")
    assert book.cost("my-sonnet", input_tokens=1000) == Decimal("0.003")
    assert book.version.endswith("+config")


def test_override_in_cny_per_token(tmp_path: Path) -> None:
    config = load_config(
        _write_config(
            tmp_path,
            """
[pricing.exchange_rates]
CNY = 8

[pricing.models."qwen-internal"]
currency = "CNY"
input_cost_per_token = 0.000008
output_cost_per_token = 0.000016
""",
        )
    )
    book = PriceBook(pricing=config.pricing)
    # 1M input at 8 CNY/M = $1, 1M output at 16 CNY/M = $2
    assert book.cost("qwen-internal", input_tokens=10**6, output_tokens=10**6) == Decimal(3)


def test_override_tiers_are_cliffs(tmp_path: Path) -> None:
    config = load_config(
        _write_config(
            tmp_path,
            """
[pricing.models."tiered-x"]
input_per_million = 1
output_per_million = 2
tiers = [{ above_input_tokens = 1000, input_per_million = 10, output_per_million = 20 }]
""",
        )
    )
    book = PriceBook(pricing=config.pricing)
    assert book.cost("tiered-x", input_tokens=1000) == Decimal("0.001")
    assert book.cost("tiered-x", input_tokens=1001, output_tokens=1) == Decimal("0.01003")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[pricing.models."m"]\ninput_per_million = "abc"\noutput_per_million = 1\n', "input"),
        ('[pricing.models."m"]\ninput_per_million = -1\noutput_per_million = 1\n', "input"),
        ('[pricing.models."m"]\ninput_per_million = 1\n', "output"),
        (
            '[pricing.models."m"]\ninput_per_milion = 1\noutput_per_million = 1\n',
            "input_per_milion",
        ),
        (
            '[pricing.models."m"]\ncurrency = "CNY"\ninput_per_million = 1\n'
            "output_per_million = 1\n",
            "exchange_rates",
        ),
        ("[pricing\nbroken", "config"),
    ],
)
def test_bad_pricing_config_names_the_key(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write_config(tmp_path, text))
    assert names in str(info.value)


# -- refresh over a loopback server ------------------------------------------------------------


class _PriceServer(http.server.BaseHTTPRequestHandler):
    body = b""
    status = 200
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def price_server() -> Iterator[tuple[str, type[_PriceServer]]]:
    handler = type("Handler", (_PriceServer,), {"body": b"", "status": 200, "hits": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prices.json", handler
    server.shutdown()


NEW_LIST = {
    "brand-new-model": {
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06,
        "litellm_provider": "openai",
        "mode": "chat",
    }
}


def test_refresh_downloads_validates_and_caches_an_hour(
    tmp_path: Path, price_server: tuple[str, type[_PriceServer]]
) -> None:
    url, handler = price_server
    handler.body = json.dumps(NEW_LIST).encode()
    cache = tmp_path / "cache"
    first = refresh(cache, url)
    assert first.status == "downloaded"
    book = PriceBook(load_best(cache))
    assert book.cost("brand-new-model", input_tokens=10**6) == Decimal(1)
    second = refresh(cache, url)
    assert second.status == "fresh"
    assert handler.hits == 1
    assert refresh(cache, url, force=True).status == "downloaded"
    assert handler.hits == 2


@pytest.mark.parametrize(
    ("status", "body"), [(500, b"oops"), (200, b"{not json"), (200, b"[1, 2]")]
)
def test_refresh_failure_keeps_last_good_copy(
    tmp_path: Path, price_server: tuple[str, type[_PriceServer]], status: int, body: bytes
) -> None:
    url, handler = price_server
    cache = tmp_path / "cache"
    handler.body = json.dumps(NEW_LIST).encode()
    assert refresh(cache, url).status == "downloaded"
    handler.status, handler.body = status, body
    result = refresh(cache, url, force=True)
    assert result.status == "failed"
    assert "keeping the current one" in result.message
    assert PriceBook(load_best(cache)).cost("brand-new-model", input_tokens=10**6) == Decimal(1)


def test_refresh_with_no_server_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    result = refresh(tmp_path, "http://127.0.0.1:9/none.json", timeout=2)
    assert result.status == "failed"
    # Nothing was cached: the bundled snapshot stays in use.
    assert load_best(tmp_path).origin == "bundled"
