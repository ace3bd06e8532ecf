"""A streaming summary of scored completions: means, statuses, executability, tokens, money.

Memory grows with the number of distinct tasks, never with the number of rows, so
``exectune score`` can summarise files of any length.

Example:
    >>> s = ScoreSummary()
    >>> s.result()["rows"]
    0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exectune_rl.rewards.metrics import DENOMINATORS, MetricAccumulator
from exectune_rl.rewards.records import COMPONENTS, RewardRecord

__all__ = ["ScoreSummary", "format_table"]


class ScoreSummary:
    """Accumulates :class:`~exectune_rl.rewards.records.RewardRecord` batches.

    Every number is the one :mod:`exectune_rl.rewards.metrics` defines (the trainer logs the
    same): guide-averaged executability counts every sampled strategy, a format failure or a
    gated leak as not executed, and leaves infrastructure failures out.

    Args:
        confidence: Coverage of the executability intervals.
        core_runs: m, core runs per strategy (``RewardConfig.core_runs``).
        cost_unit: The unit of the ``cost`` component (``RewardConfig.cost_unit``).
    """

    def __init__(self, confidence: float = 0.95, core_runs: int = 1, cost_unit: str = "ktokens") -> None:
        self.metrics = MetricAccumulator(core_runs, confidence)
        self.cost_unit = cost_unit

    @property
    def rows(self) -> int:
        return self.metrics.rows

    def add(self, records: Iterable[RewardRecord]) -> None:
        """Fold a batch of records in."""
        self.metrics.add(records)

    def result(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        acc = self.metrics
        means = acc.means()
        est = acc.estimate()
        return {
            "rows": acc.rows,
            "cost_unit": self.cost_unit,
            "status": dict(acc.status),
            "reward_mean": means["reward"],
            "unscored": acc.rows - acc.counts["reward"],
            "components": {name: means[name] for name in COMPONENTS},
            "counts": {name: acc.counts[name] for name in COMPONENTS},
            "denominators": {name: DENOMINATORS[name] for name in ("reward", *COMPONENTS, "executability")},
            "executability": {
                "alpha": means["executability"],
                "wilson": [est.wilson.low, est.wilson.high],
                "bootstrap": [est.bootstrap.low, est.bootstrap.high],
                "confidence": est.wilson.confidence,
                "tasks": est.tasks,
                "strategies": est.strategies,
                "runs": est.runs,
            },
            "tokens": {
                "strategy_total": acc.sums["strategy_tokens"],
                "core_total": acc.sums["core_tokens"],
            },
            "usd_total": acc.sums["usd"] if acc.counts["usd"] else None,
            "usd_unknown_rows": acc.usd_unknown,
        }


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# Short denominators for the table (the full text is metrics.DENOMINATORS and the JSON's "denominators").
_SHORT = {
    "format": "completions", "leakage": "strategies checked", "execution": "strategies, gated = 0",
    "success": "strategies, gated = 0", "syntax": "strategies with code", "nondegradation": "strategies with a baseline",
    "cost": "strategies the core ran", "strategy_tokens": "strategies the core ran", "core_tokens": "strategies the core ran",
    "usd": "strategies priced",
}


# What each component's mean is, and which way is better, for the table.
_MEANING = {
    "format": "share with one well-formed strategy; higher is better",
    "leakage": "share found leaking; lower is better",
    "execution": "graded value V in [0, 1]; higher is better",
    "success": "share of core runs that succeeded; higher is better",
    "syntax": "share whose code parses; higher is better",
    "nondegradation": "success lost against the core alone, in [0, 1]; lower is better",
    "cost": "{unit}; lower is better",
    "strategy_tokens": "guide tokens per strategy; lower is better",
    "core_tokens": "core tokens per strategy, all its runs; lower is better",
}


_COST_UNITS = {"ktokens": "(guide + core tokens) / 1000 per strategy", "usd": "US dollars per strategy"}


def format_table(summary: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """A plain-text table of a :meth:`ScoreSummary.result` (and extra rows such as throughput).

    Each component row gives its mean, how many rows it averages over and which rows those are
    (the denominator), what the number is and which way is better.
    """
    lines: list[tuple[str, str]] = [("rows", str(summary["rows"]))]
    lines.append(("reward (mean of scored)", _fmt(summary["reward_mean"]) + "  (completions with a reward; higher is better)"))
    lines.append(("unscored (None)", str(summary["unscored"]) + "  (infrastructure failures and bad rows: no reward, never 0)"))
    counts = summary.get("counts", {})
    unit = _COST_UNITS.get(summary.get("cost_unit", "ktokens"), str(summary.get("cost_unit")))
    for name, value in summary["components"].items():
        if name not in ("usd",):
            n = counts.get(name)
            meaning = _MEANING.get(name, "").format(unit=unit)
            lines.append((f"  {name}", _fmt(value) + (f"  (n={n} {_SHORT[name]}: {meaning})" if n is not None else "")))
    for status, count in sorted(summary["status"].items()):
        lines.append((f"  status {status}", str(count)))
    ex = summary["executability"]
    if ex["alpha"] is not None:
        pct = int(round(ex["confidence"] * 100))
        lines.append(("executability alpha", _fmt(ex["alpha"]) + "  (guide-averaged executability: mean over tasks of each task's "
                      "mean strategy success; gated = 0, infra left out)"))
        lines.append((f"  wilson {pct}% CI", f"[{ex['wilson'][0]:.4f}, {ex['wilson'][1]:.4f}]"))
        lines.append((f"  bootstrap {pct}% CI", f"[{ex['bootstrap'][0]:.4f}, {ex['bootstrap'][1]:.4f}]"))
        lines.append(("  tasks / strategies / runs", f"{ex['tasks']} / {ex['strategies']} / {ex['runs']}"))
    lines.append(("strategy tokens (total)", _fmt(summary["tokens"]["strategy_total"], 0)))
    lines.append(("core tokens (total, per run)", _fmt(summary["tokens"]["core_total"], 0)))
    usd = summary["usd_total"]
    unknown = summary["usd_unknown_rows"]
    if usd is None:  # no scored row at all is not an unknown price
        money = "unknown (no price for the core model)" if unknown else "-"
    else:
        money = f"${usd:.6f} (US dollars, all rows)"
    if usd is not None and unknown:
        money += f" (+{unknown} rows unpriced)"
    lines.append(("money", money))
    for key, value in (extra or {}).items():
        lines.append((key, _fmt(value, 2)))
    width = max(len(k) for k, _ in lines)
    rule = "-" * (width + 2 + max(len(v) for _, v in lines))
    return "\n".join([rule, *(f"{k.ljust(width)}  {v}" for k, v in lines), rule])
