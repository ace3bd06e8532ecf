"""Evaluate one method (core alone, or a guide + the core) on held-out tasks.

For a guide, two passes:

* **accuracy** (deployment): one strategy per task, decoded at temperature 0, the core runs
  it m times (``RewardConfig.core_runs``); accuracy is the share of runs that solve the task,
  with a Wilson interval. A strategy that fails the format gate or leaks the answer counts as
  a failure: it would be rejected, not trusted.
* **guide-averaged executability**: k strategies per task sampled at ``temperature``, m core
  runs each; a run counts as executed when its strategy passed the format gate, did not leak
  and the core's output solved the task. The number is the one
  :mod:`exectune_rl.rewards.metrics` defines for ``exectune score`` and the trainer logs
  (mean of per-task estimates, bootstrap interval over tasks); a failed guide call is left out.

Tokens and money per task come from the accuracy pass: the guide's strategy tokens (as the
guide reported them) and the core's tokens per run; money is None where a price is unknown.
Runs the infrastructure could not score are left out and counted.

Example:
    >>> result = evaluate_method("SFT guide", guide, tasks, reward, k=4)     # doctest: +SKIP
    >>> result.executability.fmt()                                          # doctest: +SKIP
    '62.5 [55.0, 70.1]'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError
from exectune_rl.evaluation.results import Estimate, MethodResult, TaskResult, proportion
from exectune_rl.tasks.base import Task
from exectune_rl.rewards.metrics import MetricAccumulator, strategy_outcomes
from exectune_rl.training.judge import task_columns

__all__ = ["evaluate_method", "evaluate_core_alone", "generate_strategies"]

logger = logging.getLogger(__name__)


def generate_strategies(
    guide: Core, tasks: Sequence[Task], guide_prompt: Callable[[Task], str], *, k: int, temperature: float, max_tokens: int
) -> list[list[CoreResponse]]:
    """k guide completions per task (``sample_index`` 0..k-1), as ``[task][sample]``."""
    requests = [
        CoreRequest(
            messages=({"role": "user", "content": guide_prompt(t)},), temperature=temperature,
            max_tokens=max_tokens, sample_index=i, metadata={"task_id": t.id},
        )
        for t in tasks
        for i in range(k)
    ]
    responses = guide.generate(requests)
    if len(responses) != len(requests):
        raise ConfigError(f"guide {guide!r} returned {len(responses)} responses for {len(requests)} requests")
    return [responses[j * k : (j + 1) * k] for j in range(len(tasks))]


def _money(guide: Core, resp: CoreResponse, record: Any, prices: Any) -> float | None:
    """Guide call + mean core run in dollars, or None when either model has no price."""
    from exectune_rl.runtime.prices import estimate_cost_usd

    guide_usd = estimate_cost_usd(resp.model or guide.model, resp.prompt_tokens or 0, resp.completion_tokens or 0, table=prices)
    runs = [r for r in record.runs if not r.error]
    if guide_usd is None:
        return None
    if not runs:
        return guide_usd
    core = [estimate_cost_usd(r.model, r.prompt_tokens or 0, r.completion_tokens or 0, table=prices) for r in runs]
    return None if any(c is None for c in core) else guide_usd + sum(core) / len(core)  # type: ignore[arg-type]


def _score(reward: Any, tasks: Sequence[Task], responses: Sequence[CoreResponse]) -> list[Any]:
    # A failed guide call is scored as an empty completion and then left out as infrastructure.
    texts = [r.text if r.ok else "" for r in responses]
    return reward.score(prompts=None, completions=texts, **task_columns(tasks))


@dataclass
class _Acc:
    successes: float = 0.0
    runs: int = 0
    infra: int = 0
    guide_tokens: int = 0
    core_tokens: float = 0.0
    usd: float | None = 0.0


def evaluate_method(
    name: str,
    guide: Core,
    tasks: Sequence[Task],
    reward: Any,
    *,
    guide_prompt: Callable[[Task], str],
    k: int = 4,
    temperature: float = 0.7,
    max_tokens: int = 256,
    confidence: float = 0.95,
    prices: Any = None,
) -> MethodResult:
    """Accuracy, executability, tokens and money of ``guide`` + the reward's core on ``tasks``.

    Args:
        name: The method's label in the report.
        guide: Writes strategies (a ``TransformersCore`` on a checkpoint, an API model...).
        tasks: Held-out tasks.
        reward: An ``ExecTuneReward`` whose core is the target core.
        guide_prompt: The guide's prompt for a task.
        k: Sampled strategies per task for executability.
        temperature / max_tokens: Guide sampling for the executability pass.
        confidence: Interval coverage.
        prices: A price table (model -> dollars per million tokens) on top of ``genai-prices``.

    Returns:
        A :class:`~exectune_rl.evaluation.results.MethodResult`.
    """
    if not tasks:
        raise ConfigError("no evaluation tasks")
    m = reward.config.core_runs
    greedy = [row[0] for row in generate_strategies(guide, tasks, guide_prompt, k=1, temperature=0.0, max_tokens=max_tokens)]
    greedy_records = _score(reward, tasks, greedy)
    sampled = generate_strategies(guide, tasks, guide_prompt, k=k, temperature=temperature, max_tokens=max_tokens)
    flat_tasks = [t for t in tasks for _ in range(k)]
    flat_responses = [r for row in sampled for r in row]
    sampled_records = _score(reward, flat_tasks, flat_responses)
    counted = [rec for resp, rec in zip(flat_responses, sampled_records) if resp.ok]  # a failed guide call is infra
    metrics = MetricAccumulator(m, confidence).add(counted)
    per_task: dict[str, dict[str, int]] = {t.id: {"executed": 0, "format_ok": 0, "leaked": 0, "infra": 0} for t in tasks}
    for task, resp, rec in zip(flat_tasks, flat_responses, sampled_records):
        outcomes = strategy_outcomes(rec, m) if resp.ok else None
        slot = per_task[task.id]
        if outcomes is None:
            slot["infra"] += 1
            continue
        slot["format_ok"] += int(rec.format.passed)
        slot["leaked"] += int(rec.status.value == "leaked")
        slot["executed"] += int(sum(outcomes))
    est = metrics.estimate()
    interval = est.bootstrap
    # No scored run (every guide call or core run failed): unknown, not a guide that never executes.
    executability = Estimate(est.overall, interval.low, interval.high, est.runs, confidence) if est.runs else None
    money = [_money(guide, resp, rec, prices) for resp, rec in zip(greedy, greedy_records)]
    return _aggregate(name, guide, tasks, greedy, greedy_records, money, per_task, executability, k, m, confidence)


def _aggregate(
    name: str, guide: Core, tasks: Sequence[Task], greedy: Sequence[CoreResponse], records: Sequence[Any],
    money: Sequence[float | None], per_task: dict[str, dict[str, int]], executability: Estimate | None, k: int, m: int,
    confidence: float,
) -> MethodResult:
    acc = _Acc()
    rows = []
    for task, resp, rec, usd in zip(tasks, greedy, records, money):
        outcomes = strategy_outcomes(rec, m) if resp.ok else None
        g_tokens = resp.completion_tokens if resp.completion_tokens is not None else (rec.cost.strategy_tokens if rec.cost else 0)
        c_tokens = (rec.cost.core_prompt_tokens + rec.cost.core_completion_tokens) if rec.cost and rec.runs else 0.0
        acc.guide_tokens += g_tokens
        acc.core_tokens += c_tokens
        acc.usd = None if acc.usd is None or usd is None else acc.usd + usd
        s = per_task[task.id]
        if outcomes is None:
            acc.infra += 1
        else:
            acc.successes += sum(outcomes)
            acc.runs += len(outcomes)
        rows.append(TaskResult(
            task.id, int(sum(outcomes or [])), len(outcomes or []), s["executed"], s["format_ok"], s["leaked"],
            s["infra"], g_tokens, int(round(c_tokens)), usd, resp.text[:400],
        ))  # fmt: skip
    sampled_infra = sum(s["infra"] for s in per_task.values())
    n_strat = k * len(tasks) - sampled_infra  # rates over the strategies that were scored
    infra = acc.infra + sampled_infra
    return MethodResult(
        name=name, accuracy=proportion(acc.successes, acc.runs, confidence) if acc.runs else None,
        executability=executability,
        format_rate=sum(s["format_ok"] for s in per_task.values()) / n_strat if n_strat else None,
        leak_rate=sum(s["leaked"] for s in per_task.values()) / n_strat if n_strat else None,
        guide_tokens_per_task=acc.guide_tokens / len(tasks), core_tokens_per_task=acc.core_tokens / len(tasks),
        cost_usd_per_task=None if acc.usd is None else acc.usd / len(tasks),
        n_tasks=len(tasks), k=k, m=m, infra_failures=infra, guide=getattr(guide, "model", ""), tasks=tuple(rows),
    )


def evaluate_core_alone(
    name: str, tasks: Sequence[Task], reward: Any, *, confidence: float = 0.95, prices: Any = None
) -> MethodResult:
    """Accuracy, tokens and money of the reward's core with no guide (m runs per task).

    Args:
        name: The method's label.
        tasks: Held-out tasks.
        reward: An ``ExecTuneReward``; its core, prompt builder and graders are used.
        confidence: Interval coverage.
        prices: A price table on top of ``genai-prices``.

    Returns:
        A :class:`~exectune_rl.evaluation.results.MethodResult` with ``executability=None``
        (and ``accuracy=None`` when no core run could be scored).
    """
    from exectune_rl.runtime.prices import estimate_cost_usd

    if not tasks:
        raise ConfigError("no evaluation tasks")
    core: Core = reward.core
    m = reward.config.core_runs
    requests = [reward.core_request(t, None, i) for t in tasks for i in range(m)]
    responses = core.generate(requests)
    flat = [t for t in tasks for _ in range(m)]
    ok = [(t, r) for t, r in zip(flat, responses) if r.ok]
    graded = reward.execute([r.text for _, r in ok], [t for t, _ in ok])
    success: dict[str, list[float]] = {t.id: [] for t in tasks}
    for (t, _), g in zip(ok, graded):
        if not g.is_infra:
            success[t.id].append(float(bool(g.success)))
    tokens = [(r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in responses]
    costs = [estimate_cost_usd(r.model or core.model, r.prompt_tokens or 0, r.completion_tokens or 0, table=prices) for r in responses]
    usd = None if any(c is None for c in costs) else sum(costs) / len(tasks) / m  # type: ignore[arg-type]
    rows = tuple(TaskResult(t.id, int(sum(success[t.id])), len(success[t.id]), 0, 0, 0, m - len(success[t.id]), 0, 0, None) for t in tasks)
    total = sum(len(v) for v in success.values())
    return MethodResult(
        name=name, accuracy=proportion(sum(sum(v) for v in success.values()), total, confidence) if total else None,
        executability=None,
        format_rate=None, leak_rate=None, guide_tokens_per_task=0.0, core_tokens_per_task=sum(tokens) / len(tasks) / m,
        cost_usd_per_task=usd, n_tasks=len(tasks), k=0, m=m, infra_failures=len(flat) - total, guide="", tasks=rows,
    )
