"""Typed per-completion records of the composite reward (what ``ExecTuneReward.score`` returns).

Example:
    >>> RewardStatus.INFRA.value
    'infra'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from exectune_rl.rewards.cost import CostBreakdown
from exectune_rl.rewards.execution import ExecutionResult
from exectune_rl.rewards.format_gate import FormatResult
from exectune_rl.rewards.leakage import LeakageResult
from exectune_rl.rewards.nondegradation import NonDegradationResult
from exectune_rl.rewards.syntax import SyntaxResult

__all__ = ["RewardStatus", "CoreRun", "RewardRecord", "COMPONENTS"]

COMPONENTS: tuple[str, ...] = (
    "format",
    "leakage",
    "execution",
    "success",
    "syntax",
    "nondegradation",
    "cost",
    "strategy_tokens",
    "core_tokens",
    "usd",
)
"""Component names as logged (``<reward name>/<component>``) and written by ``exectune score``."""


class RewardStatus(str, enum.Enum):
    """How a completion's reward was decided."""

    SCORED = "scored"
    """Every component was computed; the reward is the weighted sum."""
    FORMAT_FAILED = "format_failed"
    """The format gate failed: the reward is ``format_fail_reward``."""
    LEAKED = "leaked"
    """A detector found the answer in the strategy (gate mode): the reward is ``leakage_reward``."""
    INFRA = "infra"
    """The sandbox, core or a detector failed: the reward is None (never the model's fault)."""
    BAD_TASK = "bad_task"
    """The row's task data is unusable (e.g. a math row without an answer): the reward is None."""


@dataclass(frozen=True)
class CoreRun:
    """One core run for a strategy (or for the core-only baseline).

    Attributes:
        text: The core's output.
        execution: How it fared against the task.
        prompt_tokens / completion_tokens: Usage the core reported (None if not reported).
        model: The core's model name.
        error: The core call's failure message, if it failed.
        cached: The response came from the core's response cache.
    """

    text: str
    execution: ExecutionResult
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str = ""
    error: str | None = None
    cached: bool = False

    def to_dict(self, include_text: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.execution.status.value,
            "value": self.execution.value,
            "success": self.execution.success,
            "detail": self.execution.detail,
        }
        if self.execution.limit_source is not None:  # calibrated time limits: which one applied
            out.update(time_limit_s=self.execution.time_limit_s, limit_source=self.execution.limit_source,
                       rechecked=self.execution.rechecked)
        if self.error:
            out["error"] = self.error
        if include_text:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class RewardRecord:
    """The full breakdown of one completion's reward.

    Attributes:
        index: Position in the batch.
        task_id: The task.
        reward: The reward, or None (status INFRA / BAD_TASK; see ``reason``).
        status: How the reward was decided.
        reason: Why, in words (empty when SCORED).
        format: The format gate's result.
        strategy: The strategy text that was given to the core.
        leakage: Detector verdicts (None when leakage is off or the format failed).
        runs: The core runs for this strategy (m of them), possibly empty.
        execution: Mean graded execution value V over the valid runs.
        success: Share of valid runs that fully succeeded.
        syntax: Share of runs whose code parses (None when no run had code to check).
        strategy_syntax: Syntax of code fenced in the strategy (None when it has none).
        nondegradation: Guided vs core-only success (None when not computed).
        cost: Tokens and money.
    """

    index: int
    task_id: str
    reward: float | None
    status: RewardStatus
    reason: str
    format: FormatResult
    strategy: str = ""
    leakage: LeakageResult | None = None
    runs: tuple[CoreRun, ...] = ()
    execution: float | None = None
    success: float | None = None
    syntax: float | None = None
    strategy_syntax: SyntaxResult | None = None
    nondegradation: NonDegradationResult | None = None
    cost: CostBreakdown | None = None

    @property
    def components(self) -> dict[str, float | None]:
        """Flat numeric components (None where not computed), keyed as in :data:`COMPONENTS`."""
        leak = None if self.leakage is None or self.leakage.leaked is None else float(self.leakage.leaked)
        cost = self.cost
        return {
            "format": float(self.format.passed),
            "leakage": leak,
            "execution": self.execution,
            "success": self.success,
            "syntax": self.syntax,
            "nondegradation": None if self.nondegradation is None else self.nondegradation.degradation,
            "cost": None if cost is None else cost.cost,
            "strategy_tokens": None if cost is None else float(cost.strategy_tokens),
            "core_tokens": None if cost is None or not self.runs else cost.core_prompt_tokens + cost.core_completion_tokens,
            "usd": None if cost is None else cost.usd,
        }

    def to_dict(self, include_text: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (what ``exectune score`` writes per row)."""
        out: dict[str, Any] = {
            "index": self.index,
            "task_id": self.task_id,
            "reward": self.reward,
            "status": self.status.value,
            "reason": self.reason,
            "format_status": self.format.status.value,
            **self.components,
        }
        if self.leakage is not None:
            out["leak_detectors"] = list(self.leakage.detectors)
        if self.cost is not None:
            out["strategy_token_source"] = self.cost.strategy_source.value
            out["core_token_source"] = self.cost.core_source.value
        out["runs"] = [r.to_dict(include_text) for r in self.runs]
        if include_text:
            out["strategy"] = self.strategy
        return out
