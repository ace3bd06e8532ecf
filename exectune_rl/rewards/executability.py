"""Guide-averaged executability: alpha(x) = E_{z ~ guide(.|x)} P(core executes z on x).

Estimated by Monte Carlo: k strategies per task, m core runs per strategy. Per task,
alpha(x) is the mean success over its k * m runs (with a Wilson interval); overall, alpha is
the mean of the per-task estimates, with a Wilson interval over all runs and a bootstrap
interval that resamples *tasks* (runs of one task are correlated, so resampling runs would
be too narrow).

The estimator is streaming: memory grows with the number of tasks, not of runs.

Example:
    >>> est = ExecutabilityEstimator()
    >>> est.add("t1", [True, True]); est.add("t1", [False, True]); est.add("t2", [False, False])
    >>> r = est.result()
    >>> r.overall, r.per_task[0].estimate
    (0.375, 0.75)
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from exectune_rl.errors import ConfigError

__all__ = [
    "Interval",
    "TaskExecutability",
    "ExecutabilityEstimate",
    "ExecutabilityEstimator",
    "wilson_interval",
    "bootstrap_interval",
    "estimate_executability",
]


@dataclass(frozen=True)
class Interval:
    """A confidence interval."""

    low: float
    high: float
    method: str
    confidence: float


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: float, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion (well-behaved at 0 and 1 and for few trials).

    Args:
        successes: Number of successes (may be fractional for graded outcomes).
        trials: Number of trials.
        confidence: Coverage, e.g. 0.95.

    Returns:
        The interval; (0, 1) when there are no trials.

    Example:
        >>> i = wilson_interval(8, 10)
        >>> round(i.low, 3), round(i.high, 3)
        (0.49, 0.943)
    """
    z = _z(confidence)
    if trials <= 0:
        return Interval(0.0, 1.0, "wilson", confidence)
    if not 0 <= successes <= trials:  # also rejects NaN
        raise ConfigError(f"successes must be in [0, trials={trials}], got {successes!r}")
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact at the boundaries, no rounding dust
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return Interval(low, high, "wilson", confidence)


def bootstrap_interval(
    task_means: Sequence[float], confidence: float = 0.95, resamples: int = 1000, seed: int = 0
) -> Interval:
    """Percentile bootstrap of the mean over tasks (tasks resampled with replacement).

    Args:
        task_means: One executability estimate per task.
        confidence: Coverage.
        resamples: Bootstrap resamples.
        seed: Random seed (the interval is reproducible).

    Returns:
        The interval; (0, 1) with no tasks.

    Example:
        >>> bootstrap_interval([1.0, 1.0, 1.0]).low
        1.0
    """
    _z(confidence)
    n = len(task_means)
    if n == 0:
        return Interval(0.0, 1.0, "bootstrap", confidence)
    if resamples < 1:
        raise ConfigError(f"resamples must be >= 1, got {resamples!r}")
    means = _resample_means(list(task_means), resamples, seed)
    means.sort()
    alpha = (1.0 - confidence) / 2.0
    lo = means[max(0, int(math.floor(alpha * resamples)))]
    hi = means[min(resamples - 1, int(math.ceil((1.0 - alpha) * resamples)) - 1)]
    return Interval(lo, hi, "bootstrap", confidence)


def _resample_means(values: list[float], resamples: int, seed: int) -> list[float]:
    n = len(values)
    try:
        import numpy as np
    except ImportError:
        rng = random.Random(seed)
        return [sum(rng.choices(values, k=n)) / n for _ in range(resamples)]
    gen = np.random.default_rng(seed)
    arr = np.asarray(values, dtype=float)
    out: list[float] = []
    step = max(1, 2_000_000 // max(n, 1))  # bounded memory for many tasks
    for start in range(0, resamples, step):
        k = min(step, resamples - start)
        out.extend(arr[gen.integers(0, n, size=(k, n))].mean(axis=1).tolist())
    return out


@dataclass(frozen=True)
class TaskExecutability:
    """alpha(x) for one task.

    Attributes:
        task_id: The task.
        strategies: k, strategies seen.
        runs: k * m, core runs seen.
        successes: Successful runs.
        estimate: Mean over strategies of each strategy's success rate.
        interval: Wilson interval over the task's runs.
    """

    task_id: str
    strategies: int
    runs: int
    successes: float
    estimate: float
    interval: Interval


@dataclass(frozen=True)
class ExecutabilityEstimate:
    """Guide-averaged executability over a task set.

    Attributes:
        overall: Mean of the per-task estimates.
        wilson: Wilson interval over all runs pooled.
        bootstrap: Bootstrap interval over tasks.
        per_task: Per-task estimates, in first-seen order.
        tasks / strategies / runs: Counts.
    """

    overall: float
    wilson: Interval
    bootstrap: Interval
    per_task: tuple[TaskExecutability, ...]
    tasks: int
    strategies: int
    runs: int


class ExecutabilityEstimator:
    """Accumulates core-run outcomes per task and strategy; call :meth:`result` at any time.

    Args:
        confidence: Interval coverage.
        resamples: Bootstrap resamples.
        seed: Bootstrap seed.

    Example:
        >>> e = ExecutabilityEstimator(); e.add("t", [True, False]); e.result().overall
        0.5
    """

    def __init__(self, confidence: float = 0.95, resamples: int = 1000, seed: int = 0) -> None:
        _z(confidence)
        self.confidence = confidence
        self.resamples = resamples
        self.seed = seed
        # task id -> [strategies, runs, successes, sum of per-strategy means]
        self._tasks: dict[str, list[float]] = {}

    def add(self, task_id: str, runs: Iterable[bool | float]) -> None:
        """Record one strategy's m core runs for a task (True/1.0 = executed successfully)."""
        values = [float(r) for r in runs]
        if not values:
            return
        for v in values:
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"run outcomes must be booleans or in [0, 1], got {v!r}")
        slot = self._tasks.setdefault(str(task_id), [0, 0, 0.0, 0.0])
        slot[0] += 1
        slot[1] += len(values)
        slot[2] += sum(values)
        slot[3] += sum(values) / len(values)

    def __len__(self) -> int:
        return len(self._tasks)

    def overall(self) -> float | None:
        """alpha alone (no intervals, so no bootstrap): the mean of the per-task estimates, or None.

        Example:
            >>> e = ExecutabilityEstimator(); e.add("a", [1.0]); e.add("b", [0.0, 1.0]); e.overall()
            0.75
        """
        if not self._tasks:
            return None
        return sum(mean_sum / k for k, _runs, _succ, mean_sum in self._tasks.values()) / len(self._tasks)

    def result(self) -> ExecutabilityEstimate:
        """The estimate from everything added so far."""
        per_task = []
        for tid, (k, runs, succ, mean_sum) in self._tasks.items():
            # The mean over strategies of each strategy's run mean: alpha(x) as defined,
            # even when strategies had different numbers of runs.
            interval = wilson_interval(succ, int(runs), self.confidence)
            per_task.append(TaskExecutability(tid, int(k), int(runs), succ, mean_sum / k, interval))
        means = [t.estimate for t in per_task]
        total_runs = sum(t.runs for t in per_task)
        total_succ = sum(t.successes for t in per_task)
        overall = sum(means) / len(means) if means else 0.0
        return ExecutabilityEstimate(
            overall=overall,
            wilson=wilson_interval(total_succ, total_runs, self.confidence),
            bootstrap=bootstrap_interval(means, self.confidence, self.resamples, self.seed),
            per_task=tuple(per_task),
            tasks=len(per_task),
            strategies=int(sum(t.strategies for t in per_task)),
            runs=total_runs,
        )


def estimate_executability(
    outcomes: Mapping[str, Sequence[Sequence[bool | float]]], confidence: float = 0.95, resamples: int = 1000
) -> ExecutabilityEstimate:
    """alpha from a mapping task id -> k strategies -> m run outcomes.

    Args:
        outcomes: ``{task_id: [[run, ...] per strategy]}``.
        confidence: Interval coverage.
        resamples: Bootstrap resamples.

    Returns:
        The :class:`ExecutabilityEstimate`.

    Example:
        >>> estimate_executability({"a": [[1, 1], [1, 0]], "b": [[0, 0], [0, 0]]}).overall
        0.375
    """
    est = ExecutabilityEstimator(confidence, resamples)
    for task_id, strategies in outcomes.items():
        for runs in strategies:
            est.add(task_id, runs)
    return est.result()
