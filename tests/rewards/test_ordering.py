"""The outcome ordering the reward keeps: pass > partial > wrong >= gated, with and without cost.

Real programs in a real sandbox (given as ``core_output``, so no model is needed). Before the
floor, a format failure or a gated leak scored 0 and paid no cost while a well-formed wrong
strategy scored ``-lambda * cost`` (and ``-nondegradation_penalty`` when the core alone was
right): GRPO learned to stop writing well-formed strategies.
"""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards import ExecTuneReward, RewardConfig, RewardStatus

PROBLEM = 'def add(a, b):\n    """Return a + b."""\n'
TESTS = "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(2, 2) == 4"
PASS = "```python\ndef add(a, b):\n    return a + b\n```"
PARTIAL = "```python\ndef add(a, b):\n    return a * b if a == 2 else a - b\n```"  # passes 0+0 and 2*2 only
WRONG = "```python\ndef add(a, b):\n    return None\n```"
GOOD = "<strategy>Return the sum of both arguments.</strategy>"
LEAK = "<strategy>Use this:\n```python\ndef add(a, b):\n    return a + b\n```</strategy>"
BROKEN = "<strategy>Return the sum"


def _score(cfg: RewardConfig, sandbox, rows: list[tuple[str, str]], alone: str = PASS) -> list:
    n = len(rows)
    columns = dict(problem=[PROBLEM] * n, tests=[TESTS] * n, test_format=["asserts"] * n, entry_point=["add"] * n,
                   core_output=[out for _, out in rows], core_only_output=[alone] * n)  # fmt: skip
    with ExecTuneReward(cfg, sandbox=sandbox) as reward:
        return reward.score(completions=[c for c, _ in rows], **columns)


@pytest.mark.parametrize("cost_lambda", [0.0, 0.05, 1.0], ids=["no-cost", "cost", "heavy-cost"])
def test_pass_beats_partial_beats_wrong_beats_gated(cost_lambda, sandbox):
    cfg = RewardConfig.code(cost_lambda=cost_lambda)
    # The wrong program is made as expensive as possible; the gated completions pay nothing.
    costly_wrong = WRONG + "\n" + "# padding\n" * 4000
    rows = [(GOOD, PASS), (GOOD, PARTIAL), (GOOD, WRONG), (GOOD, costly_wrong), (BROKEN, PASS), (LEAK, PASS)]
    ok, partial, wrong, worst, broken, leak = _score(cfg, sandbox, rows)
    assert [r.status for r in (broken, leak)] == [RewardStatus.FORMAT_FAILED, RewardStatus.LEAKED]
    assert ok.success == 1.0 and 0 < partial.execution < 1 and wrong.execution < partial.execution
    assert ok.reward > partial.reward > wrong.reward >= worst.reward >= broken.reward
    assert worst.reward >= leak.reward
    assert broken.reward == leak.reward == cfg.gated_floor <= -cfg.cost_lambda * cfg.cost_cap


def test_a_gated_completion_never_beats_losing_the_core_alone_success(sandbox):
    # Without cost too: a wrong strategy where the core alone passes loses 0.5 (non-degradation).
    cfg = RewardConfig.code()
    wrong, broken = _score(cfg, sandbox, [(GOOD, WRONG), (BROKEN, PASS)], alone=PASS)
    assert wrong.nondegradation is not None and wrong.nondegradation.degradation == 1.0
    assert wrong.reward >= broken.reward == -0.5


def test_a_floor_above_the_worst_well_formed_reward_is_refused():
    with pytest.raises(ConfigError, match="format_fail_reward.*above the worst"):
        RewardConfig.code(cost_lambda=0.1, format_fail_reward=0.0)
    with pytest.raises(ConfigError, match="leakage_reward"):
        RewardConfig.math(leakage_reward=-0.1)
    # At or below the floor is the user's choice.
    assert RewardConfig.code(cost_lambda=0.1, max_cost=2.0, format_fail_reward=-2.0).format_fail_value == -2.0
    assert RewardConfig.code(cost_lambda=0.1, max_cost=2.0).gated_floor == pytest.approx(-0.7)
    assert RewardConfig.advisor().gated_floor == 0.0


def test_cost_saturates_at_max_cost():
    cfg = RewardConfig(cost_lambda=0.1, max_cost=3.0, nondegradation_penalty=0.0)
    assert cfg.scored_reward(1.0, None, 0.0, 1000.0) == pytest.approx(0.7)
    assert cfg.scored_reward(1.0, None, 0.0, 1.0) == pytest.approx(0.9)
