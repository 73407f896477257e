"""The cost formula against hand-computed values, per provider family (notes/pricing.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmledger import PriceBook


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_issue_example_sonnet_4_5(book: PriceBook) -> None:
    # 1000 x $3/M + 2000 x $0.30/M + 300 x $3.75/M + 500 x $15/M
    cost = book.cost(
        "claude-sonnet-4-5",
        input_tokens=1000,
        cache_read_tokens=2000,
        cache_write_tokens=300,
        output_tokens=500,
    )
    assert cost == Decimal("0.012225")


def test_anthropic_one_hour_cache_writes_use_their_own_rate(book: PriceBook) -> None:
    # 1000x3 + 2000x0.3 + 300x3.75 + 400x6 (1h writes: 2x input) + 500x15 = 14625 micro-USD
    cost = book.cost(
        "claude-sonnet-4-5",
        input_tokens=1000,
        cache_read_tokens=2000,
        cache_write_tokens=300,
        cache_write_1h_tokens=400,
        output_tokens=500,
    )
    assert cost == Decimal("0.014625")


def test_anthropic_dated_and_prefixed_names_price_the_same(book: PriceBook) -> None:
    plain = book.cost("claude-sonnet-4-5", input_tokens=10_000, output_tokens=1_000)
    for name in ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"):
        assert book.cost(name, input_tokens=10_000, output_tokens=1_000) == plain


def test_openai_cached_input_and_reasoning_inside_output(book: PriceBook) -> None:
    # gpt-5: 10000 fresh x $1.25/M + 5000 cached x $0.125/M + 2000 output x $10/M;
    # the 1500 reasoning tokens are part of output and never billed twice.
    cost = book.cost(
        "gpt-5",
        input_tokens=10_000,
        cache_read_tokens=5_000,
        output_tokens=2_000,
        reasoning_tokens=1_500,
    )
    assert cost == Decimal("0.033125")


def test_openai_gpt_4o(book: PriceBook) -> None:
    # 1000 x $2.50/M + 1000 cached x $1.25/M + 100 x $10/M
    cost = book.cost("gpt-4o", input_tokens=1000, cache_read_tokens=1000, output_tokens=100)
    assert cost == Decimal("0.00475")


def test_gemini_below_and_above_the_200k_cliff(book: PriceBook) -> None:
    # <= 200k input: 100000 x $1.25/M + 1000 x $10/M
    below = book.cost("gemini-2.5-pro", input_tokens=100_000, output_tokens=1_000)
    assert below == Decimal("0.135")
    # > 200k (cache reads count toward the threshold): the whole request at the higher tier:
    # 250000 x $2.50/M + 10000 x $0.25/M + 1000 x $15/M
    above = book.cost(
        "gemini-2.5-pro", input_tokens=250_000, cache_read_tokens=10_000, output_tokens=1_000
    )
    assert above == Decimal("0.6425")


def test_deepseek_cache_hit_and_miss(book: PriceBook) -> None:
    # miss 2000 x $0.28/M + hit 8000 x $0.028/M + 1000 x $0.42/M
    cost = book.cost(
        "deepseek-chat",
        provider="deepseek",
        input_tokens=2_000,
        cache_read_tokens=8_000,
        output_tokens=1_000,
    )
    assert cost == Decimal("0.001204")


@pytest.mark.parametrize(
    ("input_tokens", "expected_input_cost"),
    [(20_000, "0.024"), (100_000, "0.24"), (200_000, "0.6"), (300_000, "0.9")],
)
def test_dashscope_tiered_pricing(
    book: PriceBook, input_tokens: int, expected_input_cost: str
) -> None:
    # qwen3-max tiers: [0,32k] $1.2/M, (32k,128k] $2.4/M, above $3/M; beyond the last range the
    # last tier applies.
    assert book.cost("dashscope/qwen3-max", input_tokens=input_tokens) == Decimal(
        expected_input_cost
    )


def test_dashscope_tier_also_sets_output_rate(book: PriceBook) -> None:
    # 100k input lands in the middle tier: output at $12/M
    cost = book.cost("dashscope/qwen3-max", input_tokens=100_000, output_tokens=1_000)
    assert cost == Decimal("0.24") + Decimal("0.012")


def test_unknown_model_is_none_not_zero(book: PriceBook) -> None:
    assert book.cost("claude-sonnet-4-7", input_tokens=1, output_tokens=1) is None
    assert book.cost("totally-made-up-model", input_tokens=1) is None


def test_zero_tokens_cost_zero_for_known_model(book: PriceBook) -> None:
    assert book.cost("gpt-4o") == Decimal(0)


def test_cost_is_exact_over_many_small_requests(book: PriceBook) -> None:
    # 1 token of gpt-4o input is $0.0000025: a million of them is exactly $2.50.
    nanos = [book.cost_nanos("gpt-4o", input_tokens=1) for _ in range(1000)]
    assert sum(n for n in nanos if n is not None) * 1000 == 2_500_000_000
