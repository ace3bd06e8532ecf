"""One definition of each metric of the composite reward, computed from typed records.

``exectune score``'s summary, the trainer logs (``<name>/<metric>`` through TRL's
``log_metric``), RL training and ``exectune eval`` all read these functions, so a number means
the same thing everywhere. Each metric averages over a stated set of rows (:data:`DENOMINATORS`):

- **executability** is the paper's guide-averaged alpha: every strategy the guide sampled counts;
  one that failed the format gate or was found to leak counts as not executed (all of its ``m``
  runs fail); runs lost to the infrastructure (a failed core call, sandbox ``INFRA``) and
  bad rows are left out. alpha is the mean over tasks of the mean over each task's strategies of
  their runs' success (:class:`~exectune_rl.rewards.executability.ExecutabilityEstimator`).
- **execution** / **success** average the graded value V / the share of successful runs over
  the same strategies (a gated one counts 0).
- Token and money metrics average over the strategies where they were measured; a money metric
  with no known price is None (absent from the logs), never 0.

Example:
    >>> acc = MetricAccumulator()
    >>> acc.means()["executability"] is None
    True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from exectune_rl.rewards.executability import ExecutabilityEstimate, ExecutabilityEstimator
from exectune_rl.rewards.records import COMPONENTS, RewardRecord, RewardStatus

__all__ = ["METRICS", "DENOMINATORS", "strategy_outcomes", "MetricAccumulator", "batch_metrics", "executability"]

METRICS: tuple[str, ...] = ("reward", *COMPONENTS, "executability", "infra", "leaked")
"""Every metric's name, as logged (``<reward name>/<metric>``) and summarised."""

_STRATEGIES = "sampled strategies, gated ones counting 0; infrastructure failures and bad rows left out"
DENOMINATORS: dict[str, str] = {
    "reward": "completions with a reward (None left out)",
    "format": "all completions",
    "leakage": "strategies the detectors decided",
    "execution": _STRATEGIES,
    "success": _STRATEGIES,
    "syntax": "strategies whose core output had code to check",
    "nondegradation": "strategies compared with a core-only baseline",
    "cost": "strategies the core ran (cost measured)",
    "strategy_tokens": "strategies the core ran (cost measured)",
    "core_tokens": "strategies the core ran (cost measured)",
    "usd": "strategies with a known price (None when no price is known)",
    "executability": "tasks: mean over tasks of the mean over their " + _STRATEGIES,
    "infra": "all completions (share unscored: infrastructure or bad row)",
    "leaked": "all completions (share rejected or penalised as a leak)",
}
"""What each metric is averaged over, in words (the summary table and the docs show these)."""

# The metrics whose value a record carries in ``RewardRecord.components`` and that average
# over the records where that value is not None.
_REJECTED = (RewardStatus.FORMAT_FAILED, RewardStatus.LEAKED)
_MEASURED = ("format", "leakage", "syntax", "nondegradation", "cost", "strategy_tokens", "core_tokens", "usd")


def strategy_outcomes(record: RewardRecord, m: int = 1) -> list[float] | None:
    """Executed (1.0) or not (0.0) per core run of one strategy; None when it does not count.

    A strategy that failed the format gate, or was found to leak (gated, or penalised in
    ``"penalty"`` mode), counts as ``m`` failed runs. Runs the infrastructure lost (a failed core call, sandbox ``INFRA``)
    are left out; a bad row, or a strategy with no run left, is None.

    Args:
        record: From ``ExecTuneReward.score``.
        m: Core runs per strategy (``RewardConfig.core_runs``).

    Example:
        >>> from exectune_rl.rewards.format_gate import FormatResult, FormatStatus
        >>> rec = RewardRecord(0, "t", 0.0, RewardStatus.FORMAT_FAILED, "", FormatResult(FormatStatus.MISSING))
        >>> strategy_outcomes(rec, 2)
        [0.0, 0.0]
    """
    if record.status is RewardStatus.BAD_TASK:
        return None
    if record.status in _REJECTED:
        return [0.0] * max(1, m)
    runs = [float(bool(r.execution.success)) for r in record.runs if not r.error and not r.execution.is_infra]
    return runs or None


class MetricAccumulator:
    """Streaming means of every metric over batches of records (memory grows with tasks only).

    Args:
        core_runs: m, core runs per strategy: a gated strategy counts as m failed runs when no
            strategy of its batch reached the core (else as many as those had).
        confidence: Coverage of the executability intervals.

    Example:
        >>> MetricAccumulator().add([]).counts["format"]
        0
    """

    def __init__(self, core_runs: int = 1, confidence: float = 0.95) -> None:
        self.core_runs = core_runs
        self.rows = 0
        self.status: Counter[str] = Counter()
        self.sums: dict[str, float] = dict.fromkeys(METRICS, 0.0)
        self.counts: dict[str, int] = dict.fromkeys(METRICS, 0)
        self.usd_unknown = 0
        self.estimator = ExecutabilityEstimator(confidence)

    def _put(self, name: str, value: float) -> None:
        self.sums[name] += value
        self.counts[name] += 1

    def add(self, records: Iterable[RewardRecord]) -> "MetricAccumulator":
        """Fold records in; returns self."""
        records = list(records)
        # A gated strategy counts as as many failed runs as the batch's strategies the core ran
        # had (core_runs when none ran), so the pooled interval weighs strategies alike.
        ran = [len(r.runs) for r in records if r.runs and r.status not in _REJECTED]
        m = max(ran) if ran else self.core_runs
        for rec in records:
            self.rows += 1
            self.status[rec.status.value] += 1
            comps = rec.components
            if rec.reward is not None:
                self._put("reward", rec.reward)
            for name in _MEASURED:
                if comps[name] is not None:
                    self._put(name, comps[name])  # type: ignore[arg-type]
            if rec.cost is not None and rec.cost.usd is None:
                self.usd_unknown += 1
            outcomes = strategy_outcomes(rec, m)
            if outcomes is not None:
                self.estimator.add(rec.task_id, outcomes)
                self._put("execution", 0.0 if rec.status in _REJECTED else rec.execution or 0.0)
                self._put("success", sum(outcomes) / len(outcomes))
            self._put("infra", float(rec.status in (RewardStatus.INFRA, RewardStatus.BAD_TASK)))
            self._put("leaked", float(rec.status is RewardStatus.LEAKED))
        return self

    def estimate(self) -> ExecutabilityEstimate:
        """The executability estimate with its intervals."""
        return self.estimator.result()

    def means(self) -> dict[str, float | None]:
        """Every metric of :data:`METRICS`: its mean over its denominator, None where that is empty."""
        out = {name: (self.sums[name] / self.counts[name] if self.counts[name] else None) for name in METRICS}
        out["executability"] = self.estimator.overall()  # the intervals (a bootstrap) only when asked for
        return out


def batch_metrics(records: Sequence[RewardRecord], core_runs: int = 1) -> dict[str, float | None]:
    """Every metric of one batch (what the reward logs each step).

    Example:
        >>> batch_metrics([])["reward"] is None
        True
    """
    return MetricAccumulator(core_runs).add(records).means()


def executability(records: Sequence[RewardRecord], core_runs: int = 1, confidence: float = 0.95) -> ExecutabilityEstimate:
    """Guide-averaged executability of a set of records, with its intervals."""
    return MetricAccumulator(core_runs, confidence).add(records).estimate()


def log_metrics(prefix: str, records: Sequence[RewardRecord], log_metric: Any, core_runs: int = 1) -> dict[str, float | None]:
    """Send each measured metric to ``log_metric(f"{prefix}/{name}", value)``; None is not sent.

    Returns:
        The metrics (None where unmeasured).
    """
    metrics = batch_metrics(records, core_runs)
    if callable(log_metric):
        for name, value in metrics.items():
            if value is not None:
                log_metric(f"{prefix}/{name}", value)
    return metrics
