"""Prices: genai-prices lookups, user tables, and unknown models."""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.runtime import ModelPrice, PriceTable, estimate_cost_usd, genai_prices_lookup


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", 0.15 + 0.60),  # $ per million input + output tokens
        ("openai/gpt-4o-mini", 0.15 + 0.60),  # provider prefix
        ("claude-3-5-haiku-latest", 0.80 + 4.00),
    ],
)
def test_genai_prices_known_models(model, expected):
    assert estimate_cost_usd(model, 1_000_000, 1_000_000) == pytest.approx(expected)


def test_unknown_model_is_none_never_zero():
    assert estimate_cost_usd("surely-not-a-real-model-xyz", 1000, 1000) is None
    assert genai_prices_lookup("surely-not-a-real-model-xyz", 1, 1) is None


def test_user_table_comes_first_and_accepts_several_forms():
    table = {"gpt-4o-mini": 1.0, "a": (1.0, 3.0), "b": {"input": 2.0, "output": 4.0}, "c": ModelPrice(0.5, 0.5)}
    assert estimate_cost_usd("gpt-4o-mini", 1_000_000, 0, table=table) == pytest.approx(1.0)  # overrides genai-prices
    assert estimate_cost_usd("a", 1_000_000, 1_000_000, table=table) == pytest.approx(4.0)
    assert estimate_cost_usd("B", 500_000, 500_000, table=table) == pytest.approx(3.0)  # case-insensitive
    assert estimate_cost_usd("c", 2_000_000, 0, table=table) == pytest.approx(1.0)
    # models missing from the table still fall back to genai-prices ...
    assert estimate_cost_usd("gpt-4o", 1_000_000, 0, table=table) == pytest.approx(2.5)
    # ... unless the table says not to
    assert estimate_cost_usd("gpt-4o", 1_000_000, 0, table=PriceTable(table, use_genai_prices=False)) is None


def test_local_models_can_be_priced_at_zero():
    assert estimate_cost_usd("program", 0, 0, table={"program": 0}) == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [(("m", -1, 0), "prompt_tokens"), (("m", 0, 1.5), "completion_tokens"), (("", 1, 1), "model")],
)
def test_bad_arguments(args, match):
    with pytest.raises(ConfigError, match=match):
        estimate_cost_usd(*args)


def test_bad_table_entries_name_the_model():
    with pytest.raises(ConfigError, match="'weird'"):
        PriceTable({"weird": "cheap"})
    with pytest.raises(ConfigError, match="input_per_mtok"):
        ModelPrice(-1.0, 1.0)


def test_price_table_pickles():
    import pickle

    from exectune_rl.runtime.prices import PriceTable

    table = PriceTable({"teacher": (3.0, 15.0)}, use_genai_prices=False)
    clone = pickle.loads(pickle.dumps(table))
    assert clone == table and clone.lookup("teacher").output_per_mtok == 15.0 and not clone.use_genai_prices
