"""The stages of one composite-reward batch: prepare, ask the core, execute, combine.

Kept apart from :mod:`exectune_rl.rewards.composite` so the sync and async entry points
share every stage; only the core call differs (``generate`` vs ``await agenerate``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from exectune_rl.cores.base import CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import DataError, MissingColumnError
from exectune_rl.rewards.columns import column, tasks_from_columns
from exectune_rl.rewards.cost import CoreUsage, TokenSource
from exectune_rl.rewards.execution import ExecutionResult, ExecutionStatus
from exectune_rl.rewards.format_gate import FormatResult, FormatStatus
from exectune_rl.rewards.leakage import LeakageResult, detect_leakage
from exectune_rl.rewards.nondegradation import Baseline, compare
from exectune_rl.rewards.records import CoreRun, RewardRecord, RewardStatus
from exectune_rl.rewards.syntax import SyntaxResult
from exectune_rl.rewards.text import completion_text
from exectune_rl.tasks.base import Task, TaskKind

if TYPE_CHECKING:
    from exectune_rl.rewards.composite import ExecTuneReward

__all__ = ["Batch", "prepare", "build_requests", "finish"]

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    """Everything known about a batch between stages."""

    n: int
    texts: list[str]
    formats: list[FormatResult]
    strategies: list[str]
    tasks: list[Task | None]
    task_errors: list[str | None]
    leakage: list[LeakageResult | None]
    strategy_tokens: list[tuple[int, TokenSource]]
    given_outputs: list[list[str] | None]
    given_baselines: list[str | None]
    needs_core: list[bool] = field(default_factory=list)
    # request bookkeeping: ("run", item, j) or ("base", task_key, j)
    slots: list[tuple[str, Any, int]] = field(default_factory=list)
    model: str = ""
    baseline_errors: dict[str, str] = field(default_factory=dict)


def _outputs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [v if isinstance(v, str) else "" for v in value] or None
    return [""]


def prepare(rw: "ExecTuneReward", prompts: Any, completions: Any, completion_ids: Any, columns: Mapping[str, Any]) -> Batch:
    """Stage 1: completion text, format gate, tasks, leakage, strategy tokens. No I/O."""
    cfg = rw.config
    if isinstance(completions, (str, bytes, Mapping)):
        # A lone completion would otherwise be scored character by character (or key by key).
        raise DataError(
            f"completions must be a list with one completion (a string or chat messages) each, got a {type(completions).__name__}"
        )
    completions = list(completions if completions is not None else [])
    n = len(completions)
    texts = [completion_text(c) for c in completions]
    formats = [rw.format_gate(t) for t in texts]
    strategies = []
    for text, fmt in zip(texts, formats):
        if fmt.passed or (not cfg.format_gate and fmt.strategy):
            strategies.append(fmt.strategy)
        else:
            strategies.append(text.strip() if not cfg.format_gate else "")
    tasks, errors = tasks_from_columns(columns, n, cfg.task_kind)
    given = column(columns, "core_output", n)
    given_base = column(columns, "core_only_output", n)
    if given is None and rw.core is None:
        raise MissingColumnError(
            "ExecTuneReward has no core: pass core=... or give the dataset a 'core_output' column"
        )
    gated = [cfg.format_gate and not f.passed for f in formats]
    leakage: list[LeakageResult | None] = [None] * n
    if cfg.leakage != "off" and rw.detectors:
        todo = [i for i in range(n) if tasks[i] is not None and not gated[i] and strategies[i]]
        found = detect_leakage([strategies[i] for i in todo], [tasks[i] for i in todo], rw.detectors)  # type: ignore[misc]
        for i, res in zip(todo, found):
            leakage[i] = res
    ids = list(completion_ids) if completion_ids is not None else None
    tokens = []
    for i in range(n):
        if ids is not None and i < len(ids) and ids[i] is not None:
            tokens.append((len(ids[i]), TokenSource.COMPLETION_IDS))
        else:
            tokens.append(rw.guide_counter.count(texts[i]))
    batch = Batch(
        n, texts, formats, strategies, tasks, errors, leakage, tokens,
        [_outputs(given[i]) if given else None for i in range(n)],
        [given_base[i] if given_base and isinstance(given_base[i], str) else None for i in range(n)],
    )  # fmt: skip
    batch.needs_core = [_needs_core(rw, batch, i) for i in range(n)]
    return batch


def _needs_core(rw: "ExecTuneReward", b: Batch, i: int) -> bool:
    if b.tasks[i] is None or (rw.config.format_gate and not b.formats[i].passed):
        return False
    leak = b.leakage[i]
    if leak is not None and leak.leaked is None:
        return False  # an undecided judge: the reward will be None, do not pay for the core
    if leak is not None and leak.leaked and rw.config.leakage == "gate":
        return False  # a gated leak scores without paying for the core
    return b.given_outputs[i] is not None or rw.core is not None


def build_requests(rw: "ExecTuneReward", b: Batch) -> list[CoreRequest]:
    """Stage 2: the core calls the batch needs (guided runs, then missing baselines)."""
    cfg = rw.config
    requests: list[CoreRequest] = []
    given_model = cfg.given_output_model or "given"
    b.model = (getattr(rw.core, "model", "") or "core") if rw.core is not None else given_model
    for i in range(b.n):
        if not b.needs_core[i] or b.given_outputs[i] is not None:
            continue
        for j in range(cfg.core_runs):
            requests.append(rw.core_request(b.tasks[i], b.strategies[i], j))
            b.slots.append(("run", i, j))
    if cfg.nondegradation_penalty > 0:
        seen: set[str] = set()
        for i in range(b.n):
            task = b.tasks[i]
            if not b.needs_core[i] or task is None or task.id in seen:
                continue
            seen.add(task.id)
            if b.given_baselines[i] is not None or rw.baselines.get(b.model, task.id) is not None:
                continue
            if rw.core is None:
                continue  # no core and no core_only_output: non-degradation is skipped for this task
            for j in range(cfg.baseline_runs):
                requests.append(rw.core_request(task, None, j))
                b.slots.append(("base", task.id, j))
    return requests


def finish(rw: "ExecTuneReward", b: Batch, responses: Sequence[CoreResponse]) -> list[RewardRecord]:
    """Stage 3: execute every output (one sandbox batch), fill baselines, combine."""
    if len(responses) != len(b.slots):
        logger.warning("core returned %d responses for %d requests", len(responses), len(b.slots))
        missing = CoreResponse.failure(CoreFailureKind.INTERNAL, "the core returned too few responses")
        responses = list(responses)[: len(b.slots)] + [missing] * max(0, len(b.slots) - len(responses))
    runs: dict[int, list[tuple[str, CoreResponse | None]]] = {}
    bases: dict[str, list[tuple[str, CoreResponse | None]]] = {}
    for (kind, key, _j), resp in zip(b.slots, responses):
        (runs.setdefault(key, []) if kind == "run" else bases.setdefault(key, [])).append((resp.text, resp))
    for i in range(b.n):
        if b.needs_core[i] and b.given_outputs[i] is not None:
            runs[i] = [(t, None) for t in b.given_outputs[i]]  # type: ignore[union-attr]
    base_tasks: dict[str, Task] = {}
    for i in range(b.n):
        task = b.tasks[i]
        if task is not None and b.needs_core[i] and b.given_baselines[i] is not None and task.id not in bases:
            if rw.baselines.get(b.model, task.id) is None and rw.config.nondegradation_penalty > 0:
                bases[task.id] = [(b.given_baselines[i], None)]  # type: ignore[list-item]
        if task is not None:
            base_tasks[task.id] = task
    # One execution batch for guided runs and baselines alike.
    flat: list[tuple[str, Any, int]] = []
    outputs: list[str] = []
    tasks: list[Task] = []
    groups = [(("run", i), b.tasks[i], items) for i, items in runs.items()]
    groups += [(("base", tid), base_tasks[tid], items) for tid, items in bases.items()]
    for (kind, key), task, items in groups:
        for j, (text, resp) in enumerate(items):
            if task is not None and (resp is None or resp.ok):
                flat.append((kind, key, j))
                outputs.append(text)
                tasks.append(task)
    executed = dict(zip(flat, rw.execute(outputs, tasks)))
    _store_baselines(rw, b, bases, executed)
    return [_combine(rw, b, i, runs.get(i, []), executed) for i in range(b.n)]


def _run_result(resp: CoreResponse | None, executed: Mapping[Any, ExecutionResult], key: tuple) -> ExecutionResult:
    if resp is not None and not resp.ok:
        err = resp.error
        if err is not None and err.kind is CoreFailureKind.BAD_REQUEST:
            # The only failure that is the request's fault: e.g. a strategy too long for the core.
            return ExecutionResult(ExecutionStatus.NO_ANSWER, 0.0, detail=f"core rejected the request: {err.message[:200]}")
        kind = err.kind.value if err is not None else "unknown"
        return ExecutionResult.infra(f"core call failed ({kind}): {err.message[:200] if err else ''}")
    return executed.get(key) or ExecutionResult.infra("not executed")


def _store_baselines(rw: "ExecTuneReward", b: Batch, bases: Mapping[str, list], executed: Mapping[Any, ExecutionResult]) -> None:
    for tid, items in bases.items():
        results = [_run_result(resp, executed, ("base", tid, j)) for j, (_t, resp) in enumerate(items)]
        valid = [r for r in results if not r.is_infra]
        if not valid:
            b.baseline_errors[tid] = results[0].detail if results else "no core-only run"
            continue
        rate = sum(r.success for r in valid) / len(valid)
        value = sum(r.value for r in valid) / len(valid)
        rw.baselines.put(b.model, tid, Baseline(rate, len(valid), value))


def _gated(rw: "ExecTuneReward", b: Batch, i: int, base: dict[str, Any]) -> RewardRecord | None:
    """The record of a completion decided before any core run (bad row, format, leak), else None."""
    cfg = rw.config
    task, fmt, leak = b.tasks[i], b.formats[i], b.leakage[i]
    if task is None:
        return RewardRecord(reward=None, status=RewardStatus.BAD_TASK, reason=b.task_errors[i] or "bad task", **base)
    if cfg.format_gate and not fmt.passed:
        return RewardRecord(reward=cfg.format_fail_reward, status=RewardStatus.FORMAT_FAILED, reason=f"format: {fmt.status.value}", **base)
    if leak is not None and leak.leaked is None:
        why = "; ".join(f.evidence for f in leak.findings if f.leaked is None)
        return RewardRecord(reward=None, status=RewardStatus.INFRA, reason=f"leakage undecided: {why}", **base)
    if leak is not None and leak.leaked and cfg.leakage == "gate":
        return RewardRecord(reward=cfg.leakage_reward, status=RewardStatus.LEAKED, reason=f"leak: {', '.join(leak.detectors)}", **base)
    if rw.core is None and b.given_outputs[i] is None:
        return RewardRecord(reward=None, status=RewardStatus.BAD_TASK, reason="row has no core_output and no core was given", **base)
    return None


def _core_runs(b: Batch, i: int, items: list, executed: Mapping[Any, ExecutionResult]) -> tuple[CoreRun, ...]:
    runs = []
    for j, (text, resp) in enumerate(items):
        runs.append(CoreRun(
            text, _run_result(resp, executed, ("run", i, j)),
            resp.prompt_tokens if resp is not None else None,
            resp.completion_tokens if resp is not None else None,
            (resp.model if resp is not None else "") or b.model,
            None if resp is None or resp.ok else (resp.error.message if resp.error else "failed"),
            bool(resp is not None and resp.cached),
        ))  # fmt: skip
    return tuple(runs)


def _combine(rw: "ExecTuneReward", b: Batch, i: int, items: list, executed: Mapping[Any, ExecutionResult]) -> RewardRecord:
    cfg = rw.config
    task, leak = b.tasks[i], b.leakage[i]
    base: dict[str, Any] = dict(index=i, task_id=task.id if task else f"row-{i}", format=b.formats[i], strategy=b.strategies[i], leakage=leak)
    early = _gated(rw, b, i, base)
    if early is not None or task is None:
        return early  # type: ignore[return-value]
    runs = _core_runs(b, i, items, executed)
    base.update(runs=runs, strategy_syntax=_strategy_syntax(rw, b.strategies[i], task))
    valid = [r.execution for r in runs if not r.execution.is_infra]
    if not valid:  # every run failed for infrastructure reasons: no reward, never 0
        return RewardRecord(reward=None, status=RewardStatus.INFRA, reason=runs[0].execution.detail if runs else "no core output", **base)
    value = sum(r.value for r in valid) / len(valid)
    success = sum(r.success for r in valid) / len(valid)
    syn = [r.syntax.value for r in valid if r.syntax is not None and r.syntax.value is not None]
    base.update(execution=value, success=success, syntax=sum(syn) / len(syn) if syn else None)
    nd = None
    if cfg.nondegradation_penalty > 0:
        baseline = rw.baselines.get(b.model, task.id)
        if baseline is None and task.id in b.baseline_errors:
            reason = f"core-only baseline failed: {b.baseline_errors[task.id]}"
            return RewardRecord(reward=None, status=RewardStatus.INFRA, reason=reason, **base)
        nd = compare(baseline, success) if baseline is not None else None
    cost = rw.cost_model.breakdown(*b.strategy_tokens[i], [_usage(rw, b, i, r) for r in runs])
    base.update(nondegradation=nd, cost=cost)
    if cfg.cost_lambda > 0 and cost.cost is None:
        return RewardRecord(reward=None, status=RewardStatus.INFRA, reason="cost unknown: a model has no price", **base)
    reward = cfg.execution_weight * value + cfg.syntax_weight * (base["syntax"] or 0.0) + cfg.format_bonus
    reward -= cfg.nondegradation_penalty * (nd.degradation if nd is not None else 0.0)
    reward -= cfg.cost_lambda * (cost.cost or 0.0)
    if leak is not None and leak.leaked and cfg.leakage == "penalty":
        return RewardRecord(reward=reward - cfg.leakage_penalty, status=RewardStatus.LEAKED, reason=f"leak: {', '.join(leak.detectors)}", **base)
    return RewardRecord(reward=reward, status=RewardStatus.SCORED, reason="", **base)


def _strategy_syntax(rw: "ExecTuneReward", strategy: str, task: Task) -> SyntaxResult | None:
    if "```" not in strategy and "~~~" not in strategy:
        return None
    return rw.syntax.check_text(strategy, task.language if task.kind is TaskKind.CODE else "python", fenced_only=True)


def _usage(rw: "ExecTuneReward", b: Batch, i: int, run: CoreRun) -> CoreUsage:
    if run.prompt_tokens is not None and run.completion_tokens is not None:
        return CoreUsage(run.model, run.prompt_tokens, run.completion_tokens, reported=True)
    prompt = rw._prompt_tokens(b.tasks[i], b.strategies[i])  # type: ignore[arg-type]
    completion, _ = rw.core_counter.count(run.text)
    return CoreUsage(run.model, prompt, completion, reported=False)
