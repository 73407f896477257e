"""Offline token estimation: the shipped o200k vocabulary, the heuristic, and no network."""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger import estimate
from llmledger.estimate import (
    IMAGE_TOKENS,
    estimate_messages_tokens,
    estimate_tokens,
    heuristic_tokens,
    tokenizer_name,
)

# Shared machines are slow at times: no deadlines, no generation-speed health check.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

needs_tiktoken = pytest.mark.skipif(
    importlib.util.find_spec("tiktoken") is None, reason="tiktoken is not installed"
)


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """Forget the loaded encoder so a test sees the load itself; restore it afterwards."""
    saved = dict(estimate._CACHE)
    estimate._CACHE.clear()
    yield
    estimate._CACHE.clear()
    estimate._CACHE.update(saved)


@pytest.fixture
def heuristic_only(monkeypatch: pytest.MonkeyPatch, fresh_cache: None) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # import tiktoken -> ImportError


@needs_tiktoken
def test_known_o200k_counts() -> None:
    assert tokenizer_name() == "o200k_base"
    assert estimate_tokens("") == 0
    assert estimate_tokens("hello world") == 2
    assert estimate_tokens("Hello, world!") == 4
    assert estimate_tokens("The quick brown fox jumps over the lazy dog.") == 10
    assert estimate_tokens("a" * 10_000) == 1250


@needs_tiktoken
def test_cjk_estimates_are_sane() -> None:
    text = "你好，世界"  # 5 characters
    assert 2 <= estimate_tokens(text) <= 5
    japanese = "日本語のテキストです"
    assert 3 <= estimate_tokens(japanese) <= len(japanese)


@needs_tiktoken
def test_special_token_text_is_ordinary_text() -> None:
    # Never raises, never the special token: "<", "|", "end", "of", "text", "|", ">".
    assert estimate_tokens("<|endoftext|>") == 7


def test_lone_surrogates_do_not_raise() -> None:
    assert estimate_tokens("abc \ud800 def") == 3  # o200k and the heuristic agree


@needs_tiktoken
def test_model_argument_is_accepted() -> None:
    for model in (None, "gpt-4o", "claude-sonnet-4-5", "qwen-plus", "unknown/model"):
        assert estimate_tokens("hello world", model) == 2


@needs_tiktoken
def test_pattern_and_special_tokens_match_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: {})  # no download
    spec = openai_public.o200k_base()
    assert spec["pat_str"] == estimate.O200K_PATTERN
    assert spec["special_tokens"] == estimate.O200K_SPECIAL_TOKENS


def test_shipped_file_is_the_official_vocabulary() -> None:
    import hashlib
    from importlib.resources import files

    data = (files("llmledger") / "data" / "tokenizers" / estimate.O200K_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == estimate.O200K_SHA256
    assert len(data.splitlines()) == 199998


@needs_tiktoken
def test_loading_never_touches_the_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_cache: None
) -> None:
    import tiktoken
    import tiktoken.load

    def forbidden(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to fetch a vocabulary")

    monkeypatch.setattr(tiktoken.load, "read_file", forbidden)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", forbidden)
    monkeypatch.setattr(tiktoken, "get_encoding", forbidden)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))  # empty: nothing to find there
    assert estimate_tokens("hello world") == 2
    assert tokenizer_name() == "o200k_base"
    assert list(cache.iterdir()) == []


@needs_tiktoken
def test_encoder_is_loaded_once(monkeypatch: pytest.MonkeyPatch, fresh_cache: None) -> None:
    calls = []
    real = estimate._load_o200k

    def counting() -> object:
        calls.append(1)
        return real()

    monkeypatch.setattr(estimate, "_load_o200k", counting)
    threads = [threading.Thread(target=estimate_tokens, args=("hi there",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    estimate_tokens("again")
    assert len(calls) == 1


def test_without_tiktoken_the_heuristic_stands_in(heuristic_only: None) -> None:
    assert tokenizer_name() == "heuristic"
    assert estimate_tokens("hello world") == 3  # 11 ASCII chars / 4, rounded up
    assert estimate_tokens("你好，世界") == 5
    assert estimate_messages_tokens([{"role": "user", "content": "hello world"}]) == 3 + 1 + 3 + 3


@needs_tiktoken
def test_a_damaged_vocabulary_falls_back(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: None, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(estimate, "O200K_SHA256", "0" * 64)
    with caplog.at_level(logging.WARNING, logger="llmledger.estimate"):
        assert tokenizer_name() == "heuristic"
    assert "damaged" in caplog.text


@needs_tiktoken
def test_a_missing_vocabulary_falls_back(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    monkeypatch.setattr(estimate, "O200K_FILE", "no-such-file.tiktoken")
    assert tokenizer_name() == "heuristic"
    assert estimate_tokens("hello world") == 3


def test_heuristic_rules() -> None:
    assert heuristic_tokens("") == 0
    assert heuristic_tokens("abcd") == 1
    assert heuristic_tokens("abcde") == 2
    assert heuristic_tokens("日本語") == 3
    assert heuristic_tokens("한국어") == 3
    assert heuristic_tokens("héllo") == 2  # 4 ASCII + 1 other (counted as 2) -> 6 / 4
    assert heuristic_tokens("你好 world") == 2 + 2


# --- messages ------------------------------------------------------------------------------


@needs_tiktoken
def test_messages_follow_the_cookbook_formula() -> None:
    one = [{"role": "user", "content": "hello world"}]
    assert estimate_messages_tokens(one) == 3 + 1 + 2 + 3  # framing, "user", text, priming
    named = [{"role": "user", "name": "alice", "content": "hello world"}]
    assert estimate_messages_tokens(named) == 9 + estimate_tokens("alice") + 1
    two = [{"role": "system", "content": "Be brief."}, *one]
    assert estimate_messages_tokens(two) == 9 + 3 + 1 + estimate_tokens("Be brief.")
    assert estimate_messages_tokens([]) == 0


@needs_tiktoken
def test_content_parts_images_and_tool_calls() -> None:
    parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hello world"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    assert estimate_messages_tokens(parts) == 3 + 1 + 2 + IMAGE_TOKENS + 3
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert estimate_messages_tokens([call]) > 3 + 1 + 3 + 5


class Opaque:
    """Not JSON: encoded through ``str``."""

    def __str__(self) -> str:
        return "opaque"


def test_malformed_messages_never_raise() -> None:
    messages: list[object] = [
        None,
        "text",
        42,
        {"role": None, "content": {"nested": [1, 2, {"x": Opaque()}]}},
        {"role": "user", "content": [None, 3, {"type": 7}, {"text": 9}, ["deep"]]},
    ]
    # Entries that are not mappings are skipped; other values are counted as their JSON, text
    # parts as text; 3 per message and 3 to prime the reply.
    counted = ['{"nested": [1, 2, {"x": "opaque"}]}', "user", "3", '{"type": 7}', '{"text": 9}']
    expected = 3 * 3 + sum(estimate_tokens(text) for text in [*counted, "deep"])
    assert estimate_messages_tokens(messages) == expected  # type: ignore[arg-type]
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    # Absurdly nested: the message's framing only, and the reply's.
    assert estimate_messages_tokens([{"role": "user", "content": deep}]) == 3 + 3


@RELAXED
@given(st.text(max_size=200))
def test_estimates_are_bounded_by_the_byte_length(text: str) -> None:
    tokens = estimate_tokens(text)
    assert 0 <= tokens <= len(text.encode("utf-8", "surrogatepass"))
    assert (tokens == 0) == (text == "")
    assert 0 <= heuristic_tokens(text) <= 2 * len(text)


@RELAXED
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda c: st.one_of(
            st.lists(c, max_size=3), st.dictionaries(st.text(max_size=5), c, max_size=3)
        ),
        max_leaves=15,
    )
)
def test_any_json_messages_never_raise(value: object) -> None:
    for messages in ([value], [{"role": "user", "content": value}]):
        assert estimate_messages_tokens(messages) >= 0  # type: ignore[arg-type]
