"""The answers the service and the adapters give, built from reward records (no I/O).

OpenRLHF's remote reward protocol (checked against its ``SingleTurnAgentExecutor``, which
POSTs ``{"query": [...], "prompts": [...], "labels": [...]}`` and reads ``rewards``,
``scores`` and ``extra_logs`` from the JSON answer):

- ``rewards``: one reward per query, **null** where the infrastructure failed or the row was
  unusable (never 0);
- ``scores``: the same rows in [0, 1] for OpenRLHF's dynamic filtering: the graded execution
  value V of a scored strategy, 0 for a gated one (format failure, gated leak), null with the reward;
- ``extra_logs``: the batch's metrics (``<reward name>/<metric>``), numbers only (OpenRLHF
  turns each into a tensor), a metric with nothing to average left out;
- ``statuses`` and ``reasons``: per query, why (OpenRLHF ignores keys it does not know).

Example:
    >>> openrlhf_answer([], "exectune")["rewards"]
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["openrlhf_answer", "native_answer", "unscored_answer", "filter_score"]


def filter_score(record: Any) -> float | None:
    """A record's value in [0, 1] for dynamic filtering (None when its reward is None)."""
    if record.reward is None:
        return None
    value = record.execution if record.execution is not None else 0.0
    return min(1.0, max(0.0, float(value)))


def openrlhf_answer(records: Sequence[Any], name: str, core_runs: int = 1) -> dict[str, Any]:
    """The ``/get_reward`` answer for a batch of records."""
    from exectune_rl.rewards.metrics import batch_metrics

    logs = {f"{name}/{k}": float(v) for k, v in batch_metrics(records, core_runs).items() if v is not None} if records else {}
    return {
        "rewards": [r.reward for r in records],
        "scores": [filter_score(r) for r in records],
        "extra_logs": logs,
        "statuses": [r.status.value for r in records],
        "reasons": [r.reason for r in records],
    }


def unscored_answer(n: int, reason: str, status: str = "infra") -> dict[str, Any]:
    """An answer for ``n`` rows the service could not score: null rewards with the reason."""
    return {"rewards": [None] * n, "scores": [None] * n, "extra_logs": {}, "statuses": [status] * n, "reasons": [reason] * n}


def native_answer(records: Sequence[Any], name: str, core_runs: int = 1, include_text: bool = False) -> dict[str, Any]:
    """The ``/score`` answer: every record's full breakdown (``RewardRecord.to_dict``) and the batch metrics."""
    from exectune_rl.rewards.metrics import batch_metrics

    return {
        "records": [r.to_dict(include_text) for r in records],
        "rewards": [r.reward for r in records],
        "metrics": batch_metrics(records, core_runs) if records else {},
        "name": name,
    }
