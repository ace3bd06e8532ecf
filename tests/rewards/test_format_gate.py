"""The format gate on literal cases, awkward ones included."""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.format_gate import FormatGate, FormatStatus, check_format


@pytest.mark.parametrize(
    ("completion", "status", "strategy"),
    [
        ("<strategy>sort then scan</strategy>", FormatStatus.OK, "sort then scan"),
        # Thinking before the block is allowed by default.
        ("Let me think.\n<strategy>\n 1. sort\n</strategy>\n", FormatStatus.OK, "1. sort"),
        ("no tags at all", FormatStatus.MISSING, ""),
        # Two blocks: the guide must commit to one strategy.
        ("<strategy>a</strategy> and <strategy>b</strategy>", FormatStatus.MULTIPLE, ""),
        ("<strategy>a <strategy>b</strategy>", FormatStatus.MULTIPLE, ""),
        # The most common failure of a truncated generation.
        ("<strategy>never closed", FormatStatus.UNCLOSED, ""),
        ("</strategy>backwards<strategy>", FormatStatus.UNOPENED, ""),
        ("only a close</strategy>", FormatStatus.UNOPENED, ""),
        ("<strategy>   \n </strategy>", FormatStatus.EMPTY, ""),
        # Tags are case-insensitive and may carry attributes.
        ('<Strategy id="1">x</STRATEGY>', FormatStatus.OK, "x"),
    ],
)
def test_gate_statuses(completion: str, status: FormatStatus, strategy: str) -> None:
    result = FormatGate()(completion)
    assert result.status is status
    assert result.passed is (status is FormatStatus.OK)
    if status in (FormatStatus.OK,):
        assert result.strategy == strategy


def test_conversational_completion() -> None:
    msgs = [{"role": "assistant", "content": "<strategy>use a heap</strategy>"}]
    assert FormatGate()(msgs).strategy == "use a heap"


def test_length_budget() -> None:
    gate = FormatGate(max_chars=10)
    assert gate("<strategy>" + "x" * 10 + "</strategy>").passed
    too_long = gate("<strategy>" + "x" * 11 + "</strategy>")
    assert too_long.status is FormatStatus.TOO_LONG and too_long.n_chars == 11


def test_outside_text_can_be_forbidden() -> None:
    gate = FormatGate(allow_outside_text=False)
    assert gate("  <strategy>x</strategy>\n").passed
    assert gate("chat <strategy>x</strategy>").status is FormatStatus.EXTRA_TEXT


def test_custom_tag_and_span() -> None:
    result = check_format("ab<plan>x</plan>", tag="plan")
    assert result.passed and result.span == (2, 16)
    # The default tag is not the custom one.
    assert check_format("<strategy>x</strategy>", tag="plan").status is FormatStatus.MISSING


def test_wrap_round_trips() -> None:
    gate = FormatGate(tag="plan")
    assert gate(gate.wrap("step one")).strategy == "step one"


@pytest.mark.parametrize("bad", ["", "with space", "<x>", "1abc"])
def test_bad_tag_names_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigError, match="tag"):
        FormatGate(tag=bad)


def test_bad_budgets_are_rejected() -> None:
    with pytest.raises(ConfigError, match="max_chars"):
        FormatGate(max_chars=0)
    with pytest.raises(ConfigError, match="min_chars"):
        FormatGate(max_chars=5, min_chars=6)
