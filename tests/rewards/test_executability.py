"""Guide-averaged executability: per task and overall, Wilson and bootstrap intervals."""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.executability import (
    ExecutabilityEstimator,
    bootstrap_interval,
    estimate_executability,
    wilson_interval,
)


def test_wilson_known_values() -> None:
    # 8 of 10 at 95%: the textbook Wilson interval is (0.490, 0.943).
    i = wilson_interval(8, 10)
    assert (round(i.low, 3), round(i.high, 3)) == (0.49, 0.943)
    # At the boundary the interval stays inside [0, 1] and is not degenerate.
    zero = wilson_interval(0, 20)
    assert zero.low == 0.0 and 0.1 < zero.high < 0.2
    assert wilson_interval(0, 0).high == 1.0


def test_k_strategies_m_runs() -> None:
    est = estimate_executability({"a": [[1, 1], [1, 0]], "b": [[0, 0], [0, 0]]})
    assert est.overall == pytest.approx(0.375)
    assert [(t.task_id, t.strategies, t.runs, t.estimate) for t in est.per_task] == [("a", 2, 4, 0.75), ("b", 2, 4, 0.0)]
    assert est.tasks == 2 and est.strategies == 4 and est.runs == 8
    assert est.wilson.low < 0.375 < est.wilson.high


def test_uneven_runs_average_strategies_first() -> None:
    e = ExecutabilityEstimator()
    e.add("t", [True])  # strategy 1: one run, success
    e.add("t", [False, False, False])  # strategy 2: three runs, all fail
    # alpha(x) = mean over strategies of each one's success rate = (1 + 0) / 2.
    assert e.result().per_task[0].estimate == 0.5


def test_bootstrap_is_reproducible_and_covers_the_mean() -> None:
    means = [0.0, 0.25, 0.5, 1.0, 1.0, 0.75]
    a, b = bootstrap_interval(means, seed=3), bootstrap_interval(means, seed=3)
    assert a == b
    assert a.low <= sum(means) / len(means) <= a.high
    assert bootstrap_interval([1.0, 1.0]).low == 1.0


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="confidence"):
        wilson_interval(1, 2, confidence=1.5)
    with pytest.raises(ConfigError, match="run outcomes"):
        ExecutabilityEstimator().add("t", [2.0])
