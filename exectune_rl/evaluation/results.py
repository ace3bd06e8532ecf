"""Typed evaluation results: one :class:`MethodResult` per method, one :class:`TaskResult` per task."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError

__all__ = ["Estimate", "TaskResult", "MethodResult", "proportion", "save_results", "load_results"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval (plain data, saved in results JSON)."""

    value: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def fmt(self, percent: bool = True, digits: int = 1) -> str:
        scale = 100.0 if percent else 1.0
        return f"{self.value * scale:.{digits}f} [{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"


def proportion(successes: float, n: int, confidence: float = 0.95) -> Estimate:
    """A proportion with its Wilson interval (the reward module's implementation).

    Raises:
        ConfigError: ``n < 0`` or ``successes`` outside ``[0, n]``.

    Example:
        >>> round(proportion(8, 10).low, 3)
        0.49
    """
    from exectune_rl.rewards.executability import wilson_interval

    if n < 0 or not 0 <= successes <= n:
        raise ConfigError(f"a proportion needs 0 <= successes <= n, got successes={successes!r}, n={n!r}")
    interval = wilson_interval(successes, n, confidence)
    return Estimate(successes / n if n else 0.0, interval.low, interval.high, n, confidence)


@dataclass(frozen=True)
class TaskResult:
    """One task under one method: k strategies x m core runs."""

    task_id: str
    successes: int
    runs: int
    executed: int
    format_ok: int
    leaked: int
    infra: int
    guide_tokens: int
    core_tokens: int
    cost_usd: float | None
    sample_strategy: str = ""

    @property
    def accuracy(self) -> float | None:
        """Share of scored core runs that solved the task; None when none could be scored."""
        return self.successes / self.runs if self.runs else None


@dataclass(frozen=True)
class MethodResult:
    """Aggregate metrics of one method (core alone, base guide, SFT guide, RL guide...).

    Attributes:
        name: The method's label.
        accuracy: Share of scored core runs that solved their task, with a Wilson interval (None
            when no run could be scored: infrastructure failures are never counted as wrong).
        executability: Guide-averaged executability with its interval (None for core alone, or
            when no sampled strategy could be scored).
        format_rate / leak_rate: Shares of scored strategies that passed the gate / leaked.
        guide_tokens_per_task / core_tokens_per_task: Mean tokens per task (all k x m runs).
        cost_usd_per_task: Mean money per task, None when a model's price is unknown.
        n_tasks / k / m: Sizes of the evaluation.
        infra_failures: Runs that could not be scored (excluded from the rates).
    """

    name: str
    accuracy: Estimate | None
    executability: Estimate | None
    format_rate: float | None
    leak_rate: float | None
    guide_tokens_per_task: float
    core_tokens_per_task: float
    cost_usd_per_task: float | None
    n_tasks: int
    k: int
    m: int
    infra_failures: int = 0
    guide: str = ""
    tasks: tuple[TaskResult, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MethodResult":
        data = dict(data)
        data["accuracy"] = Estimate(**data["accuracy"]) if data.get("accuracy") else None
        data["executability"] = Estimate(**data["executability"]) if data.get("executability") else None
        data["tasks"] = tuple(TaskResult(**t) for t in data.get("tasks", ()))
        return cls(**data)


def save_results(results: list[MethodResult], path: str | Path) -> Path:
    """Write results as JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps([r.to_dict() for r in results], indent=1))
    return p


def load_results(path: str | Path) -> list[MethodResult]:
    """Read results written by :func:`save_results`."""
    return [MethodResult.from_dict(d) for d in json.loads(Path(path).read_text())]
