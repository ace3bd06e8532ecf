"""The acceptance judge built on ``ExecTuneReward``: one scoring path for sampling, RL and eval.

Example:
    >>> judge = RewardJudge(reward)                                     # doctest: +SKIP
    >>> judge.judge([task], ["<strategy>print(1)</strategy>"])[0].accepted   # doctest: +SKIP
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.columns import rows_to_columns
from exectune_rl.rewards.metrics import strategy_outcomes
from exectune_rl.tasks.base import Task
from exectune_rl.training.sampling import Verdict

__all__ = ["RewardJudge", "task_columns", "verdict_from_record", "run_outcomes"]


def task_columns(tasks: Sequence[Task]) -> dict[str, list[Any]]:
    """Tasks as the column lists TRL would pass to a reward (names of ``Task.to_dict``)."""
    return rows_to_columns([t.to_dict() for t in tasks])


def run_outcomes(record: Any, m: int) -> list[float] | None:
    """Deprecated name of :func:`exectune_rl.rewards.metrics.strategy_outcomes`."""
    return strategy_outcomes(record, m)


def _feedback(record: Any) -> str:
    for run in record.runs:
        if run.error:
            return f"core call failed: {run.error}"
        if not run.execution.success:
            shown = run.text.strip()[-300:] or "(no output)"
            return f"status {run.execution.status.value}: {run.execution.detail or ''}\nExecutor output: {shown}"
    return record.reason or ""


def verdict_from_record(record: Any, min_success: float = 1.0) -> Verdict:
    """Turn one ``RewardRecord`` into a :class:`~exectune_rl.training.sampling.Verdict`.

    Args:
        record: From ``ExecTuneReward.score``.
        min_success: Share of the m core runs that must succeed for the strategy to count as
            executed (1.0: all of them).
    """
    from exectune_rl.rewards.records import RewardStatus

    infra = record.status in (RewardStatus.INFRA, RewardStatus.BAD_TASK)
    leaked = record.status is RewardStatus.LEAKED or bool(record.leakage is not None and record.leakage.leaked)
    success = record.success
    comps = record.components
    core_tokens = comps.get("core_tokens")
    return Verdict(
        format_ok=record.format.passed,
        leaked=leaked,
        executed=success is not None and success >= min_success,
        infra=infra,
        strategy=record.strategy,
        feedback=record.reason if infra or leaked or not record.format.passed else _feedback(record),
        reward=record.reward,
        core_tokens=None if core_tokens is None else int(round(core_tokens * max(1, len(record.runs)))),
    )


class RewardJudge:
    """A :class:`~exectune_rl.training.sampling.StrategyJudge` that scores with an ``ExecTuneReward``.

    Args:
        reward: The composite reward (its core is the target core).
        min_success: Share of core runs that must succeed.
        batch_size: Completions scored per call (bounds memory and keeps progress visible).
    """

    def __init__(self, reward: Any, *, min_success: float = 1.0, batch_size: int = 256) -> None:
        if not 0.0 < min_success <= 1.0:
            raise ConfigError(f"min_success must be in (0, 1], got {min_success!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        self.reward = reward
        self.min_success = min_success
        self.batch_size = batch_size

    def judge(self, tasks: Sequence[Task], completions: Sequence[str]) -> list[Verdict]:
        out: list[Verdict] = []
        for start in range(0, len(tasks), self.batch_size):
            chunk = list(tasks[start : start + self.batch_size])
            texts = list(completions[start : start + self.batch_size])
            records = self.reward.score(prompts=None, completions=texts, **task_columns(chunk))
            out.extend(verdict_from_record(r, self.min_success) for r in records)
        return out
