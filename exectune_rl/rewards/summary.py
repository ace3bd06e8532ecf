"""A streaming summary of scored completions: means, statuses, executability, tokens, money.

Memory grows with the number of distinct tasks, never with the number of rows, so
``exectune score`` can summarise files of any length.

Example:
    >>> s = ScoreSummary()
    >>> s.result()["rows"]
    0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from exectune_rl.rewards.executability import ExecutabilityEstimator
from exectune_rl.rewards.records import COMPONENTS, RewardRecord

__all__ = ["ScoreSummary", "format_table"]


class ScoreSummary:
    """Accumulates :class:`~exectune_rl.rewards.records.RewardRecord` batches.

    Guide-averaged executability is estimated over the strategies the core actually ran
    (format failures and gated leaks have no core runs), counting a run as executed when it
    fully succeeded.

    Args:
        confidence: Coverage of the executability intervals.
    """

    def __init__(self, confidence: float = 0.95) -> None:
        self.rows = 0
        self.status: Counter[str] = Counter()
        self.sums: dict[str, float] = dict.fromkeys(COMPONENTS, 0.0)
        self.counts: dict[str, int] = dict.fromkeys(COMPONENTS, 0)
        self.reward_sum = 0.0
        self.reward_n = 0
        self.usd_unknown = 0
        self.executability = ExecutabilityEstimator(confidence)

    def add(self, records: Iterable[RewardRecord]) -> None:
        """Fold a batch of records in."""
        for rec in records:
            self.rows += 1
            self.status[rec.status.value] += 1
            if rec.reward is not None:
                self.reward_sum += rec.reward
                self.reward_n += 1
            for name, value in rec.components.items():
                if value is not None:
                    self.sums[name] += value
                    self.counts[name] += 1
            if rec.cost is not None and rec.cost.usd is None:
                self.usd_unknown += 1
            runs = [r.execution.success for r in rec.runs if not r.execution.is_infra]
            if runs:
                self.executability.add(rec.task_id, runs)

    def result(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        means = {name: (self.sums[name] / self.counts[name] if self.counts[name] else None) for name in COMPONENTS}
        est = self.executability.result()
        return {
            "rows": self.rows,
            "status": dict(self.status),
            "reward_mean": self.reward_sum / self.reward_n if self.reward_n else None,
            "unscored": self.rows - self.reward_n,
            "components": means,
            "executability": {
                "alpha": est.overall if est.tasks else None,
                "wilson": [est.wilson.low, est.wilson.high],
                "bootstrap": [est.bootstrap.low, est.bootstrap.high],
                "confidence": est.wilson.confidence,
                "tasks": est.tasks,
                "strategies": est.strategies,
                "runs": est.runs,
            },
            "tokens": {
                "strategy_total": self.sums["strategy_tokens"],
                "core_total": self.sums["core_tokens"],
            },
            "usd_total": self.sums["usd"] if self.counts["usd"] else None,
            "usd_unknown_rows": self.usd_unknown,
        }


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(summary: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """A plain-text table of a :meth:`ScoreSummary.result` (and extra rows such as throughput)."""
    lines: list[tuple[str, str]] = [("rows", str(summary["rows"]))]
    lines.append(("reward (mean of scored)", _fmt(summary["reward_mean"])))
    lines.append(("unscored (None)", str(summary["unscored"])))
    for name, value in summary["components"].items():
        if name not in ("usd",):
            lines.append((f"  {name}", _fmt(value)))
    for status, count in sorted(summary["status"].items()):
        lines.append((f"  status {status}", str(count)))
    ex = summary["executability"]
    if ex["alpha"] is not None:
        pct = int(round(ex["confidence"] * 100))
        lines.append(("executability alpha", _fmt(ex["alpha"])))
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
        money = f"${usd:.6f}"
    if usd is not None and unknown:
        money += f" (+{unknown} rows unpriced)"
    lines.append(("money", money))
    for key, value in (extra or {}).items():
        lines.append((key, _fmt(value, 2)))
    width = max(len(k) for k, _ in lines)
    rule = "-" * (width + 2 + max(len(v) for _, v in lines))
    return "\n".join([rule, *(f"{k.ljust(width)}  {v}" for k, v in lines), rule])
