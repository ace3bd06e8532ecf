"""The composite reward as one object: :class:`RewardPipeline` and its stages.

A batch goes through ``prepare`` (completion text, format gate, tasks, leakage, strategy
tokens), ``build_requests`` (the core calls it needs), the core call, and ``finish`` (one
execution batch, baselines, combination). Every stage but the core call does no I/O on the
event loop's behalf, so :meth:`RewardPipeline.score` and :meth:`RewardPipeline.ascore` share
them; only the call that waits differs (``generate`` vs ``await agenerate``).
:class:`~exectune_rl.rewards.composite.ExecTuneReward` builds a pipeline from a
:class:`~exectune_rl.rewards.config.RewardConfig` and adapts it to TRL's reward signature.

The outcome ordering the combination keeps (see :mod:`exectune_rl.rewards.config`):
pass > partial > wrong > gated (format failure, gated leak), with and without cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.cores.base import CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import DataError, MissingColumnError
from exectune_rl.rewards.columns import column, tasks_from_columns
from exectune_rl.rewards.config import RewardConfig
from exectune_rl.rewards.cost import CoreUsage, CostBreakdown, CostModel, TokenCounter, TokenSource
from exectune_rl.rewards.execution import CodeExecutor, ExecutionResult, ExecutionStatus
from exectune_rl.rewards.format_gate import FormatGate, FormatResult
from exectune_rl.rewards.leakage import LeakageDetector, LeakageResult, detect_leakage
from exectune_rl.rewards.mathcheck import MathVerifier
from exectune_rl.rewards.nondegradation import Baseline, BaselineStore, compare
from exectune_rl.rewards.records import CoreRun, RewardRecord, RewardStatus
from exectune_rl.rewards.syntax import SyntaxChecker, SyntaxResult
from exectune_rl.sandboxes.futures import Future, done_future, then
from exectune_rl.text import completion_text, is_completion
from exectune_rl.tasks.base import Task, TaskKind

__all__ = ["Batch", "RewardPipeline"]

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


def _model(b: Batch, resp: CoreResponse | None) -> str:
    """The model a core run is charged to: the response's, else the batch's."""
    return (resp.model if resp is not None else "") or b.model


def _is_outputs(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))


def _kind_of(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"a list holding {', '.join(sorted({type(v).__name__ for v in value if not isinstance(v, str)}))}"
    return type(value).__name__


def _outputs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [v if isinstance(v, str) else "" for v in value] or None
    return [""]


PromptBuilder = Callable[[Task | None, str | None], Sequence[Mapping[str, str]]]


class RewardPipeline(TransientState):
    """The composite reward's stages over explicit collaborators.

    Args:
        config: The reward's configuration.
        core: The black-box core, or None when every row carries ``core_output``.
        format_gate: Checks the strategy block.
        detectors: Leakage detectors (empty: leakage is not checked).
        executor: Runs code outputs against their tests.
        math_verifier: Verifies math answers.
        syntax: The tree-sitter checker (strategy code, precheck).
        guide_counter / core_counter: Token counters for the strategy and the core's text.
        cost_model: Tokens and money into the reward's cost unit.
        baselines: Core-only outcomes per (core model, task).
        prompt_builder: ``(task, strategy | None) -> messages`` for core calls.

    Example:
        >>> pipe = ExecTuneReward(RewardConfig.math(), core=my_core).pipeline   # doctest: +SKIP
        >>> records = pipe.score(completions=[...], problem=[...], answer=[...]) # doctest: +SKIP
    """

    def __init__(
        self,
        config: RewardConfig,
        *,
        core: Any | None,
        format_gate: FormatGate,
        detectors: Sequence[LeakageDetector],
        executor: CodeExecutor,
        math_verifier: MathVerifier,
        syntax: SyntaxChecker,
        guide_counter: TokenCounter,
        core_counter: TokenCounter,
        cost_model: CostModel,
        baselines: BaselineStore,
        prompt_builder: PromptBuilder,
    ) -> None:
        self.config = config
        self.core = core
        self.format_gate = format_gate
        self.detectors = list(detectors)
        self.executor = executor
        self.math_verifier = math_verifier
        self.syntax = syntax
        self.guide_counter = guide_counter
        self.core_counter = core_counter
        self.cost_model = cost_model
        self.baselines = baselines
        self.prompt_builder = prompt_builder
        self._init_transient()

    _transient = ("_prompt_cache",)

    def _init_transient(self) -> None:
        self._prompt_cache: dict[str, int] = {}

    # --- what the stages call --------------------------------------------------------------

    def execute(self, outputs: Sequence[str], tasks: Sequence[Task]) -> list[ExecutionResult]:
        """Grade each core output against its task: code tasks in one sandbox batch, math tasks
        with math-verify. One result per output, in order."""
        return self.start_execution(outputs, tasks).result()

    def start_execution(self, outputs: Sequence[str], tasks: Sequence[Task]) -> Future[list[ExecutionResult]]:
        """:meth:`execute`, started: the code goes to the sandbox (which runs it while the
        caller goes on, where it queues submissions), math answers are verified; a future of
        every result, in order."""
        results: list[ExecutionResult | None] = [None] * len(outputs)
        for k, text in enumerate(outputs):
            results[k] = self._over_limit(text)
        code = [k for k, t in enumerate(tasks) if t.kind is TaskKind.CODE and results[k] is None]
        math = [k for k, t in enumerate(tasks) if t.kind is TaskKind.MATH and results[k] is None]
        running = self.executor.submit([outputs[k] for k in code], [tasks[k] for k in code]) if code else None
        if math:
            for k, res in zip(math, self.math_verifier.verify([outputs[k] for k in math], [tasks[k].answer for k in math])):
                results[k] = res

        def filled(code_results: list[ExecutionResult]) -> list[ExecutionResult]:
            for k, res in zip(code, code_results):
                results[k] = res
            return [r if r is not None else ExecutionResult.infra("not executed") for r in results]

        return done_future(filled([])) if running is None else then(running, lambda done: filled(done.result()))

    def _over_limit(self, text: str) -> ExecutionResult | None:
        """OUTPUT_LIMIT for a core output too long to parse and execute, else None.

        Parsing is not linear in every input (tree-sitter takes seconds on a few thousand
        consecutive comment lines), so one pathological answer could stall a whole batch.
        """
        cfg = self.config
        chars = len(text)
        if chars > cfg.max_core_output_chars:
            why = f"{chars} characters > max_core_output_chars={cfg.max_core_output_chars}"
        else:
            lines = text.count("\n", 0, chars) + 1
            if lines <= cfg.max_core_output_lines:
                return None
            why = f"{lines} lines > max_core_output_lines={cfg.max_core_output_lines}"
        return ExecutionResult(ExecutionStatus.OUTPUT_LIMIT, 0.0, detail=f"core output not parsed nor executed: {why}")

    def core_request(self, task: Task | None, strategy: str | None, sample_index: int = 0) -> CoreRequest:
        """The request sent to the core for ``task`` guided by ``strategy`` (None: the core alone)."""
        return CoreRequest(
            messages=tuple(self.prompt_builder(task, strategy)),
            temperature=self.config.core_temperature,
            max_tokens=self.config.core_max_tokens,
            sample_index=sample_index,
            metadata={"task_id": task.id if task else ""},
        )

    def prompt_tokens(self, task: Task, strategy: str) -> int:
        """Estimated core prompt tokens: the task's prompt (counted once per task) plus the strategy."""
        base = self._prompt_cache.get(task.id)
        if base is None:
            text = "\n".join(m.get("content", "") for m in self.prompt_builder(task, ""))
            base, _ = self.core_counter.count(text)
            if len(self._prompt_cache) > 100_000:
                self._prompt_cache.clear()
            self._prompt_cache[task.id] = base
        return base + self.core_counter.count(strategy)[0]

    # --- the batch, end to end ---------------------------------------------------------------

    def score(self, prompts: Any, completions: Any, completion_ids: Any, columns: Mapping[str, Any]) -> list[RewardRecord]:
        """Score a batch: every stage, with the core called synchronously."""
        batch = self.prepare(completions, completion_ids, columns)
        requests = self.build_requests(batch)
        try:
            responses = self.core.generate(requests) if requests else []
        except Exception as exc:  # a core must not raise; if one does, it is infrastructure
            responses = _failed(requests, exc)
        return self.finish(batch, responses)

    async def ascore(self, prompts: Any, completions: Any, completion_ids: Any, columns: Mapping[str, Any]) -> list[RewardRecord]:
        """:meth:`score` with the core awaited and the CPU-bound stages off the event loop."""
        batch = await asyncio.to_thread(self.prepare, completions, completion_ids, columns)
        requests = self.build_requests(batch)
        try:
            responses = await self.core.agenerate(requests) if requests else []
        except Exception as exc:  # a core must not raise; if one does, it is infrastructure
            responses = _failed(requests, exc)
        return await asyncio.to_thread(self.finish, batch, responses)

    def prepare(self, completions: Any, completion_ids: Any, columns: Mapping[str, Any]) -> Batch:
        """Stage 1: completion text, format gate, tasks, leakage, strategy tokens. No I/O."""
        cfg = self.config
        if isinstance(completions, (str, bytes, Mapping)):
            # A lone completion would otherwise be scored character by character (or key by key).
            raise DataError(
                f"completions must be a list with one completion (a string or chat messages) each, got a {type(completions).__name__}"
            )
        completions = list(completions if completions is not None else [])
        n = len(completions)
        if n == 0:  # a filtered-out batch: nothing to score, whatever columns came with it
            return Batch(0, [], [], [], [], [], [], [], [], [])
        texts = [completion_text(c) for c in completions]
        formats = [self.format_gate(t) for t in texts]
        strategies = []
        for text, fmt in zip(texts, formats):
            if fmt.passed or (not cfg.format_gate and fmt.strategy):
                strategies.append(fmt.strategy)
            else:
                strategies.append(text.strip() if not cfg.format_gate else "")
        tasks, errors = tasks_from_columns(columns, n, cfg.task_kind)
        given = column(columns, "core_output", n)
        given_base = column(columns, "core_only_output", n)
        for i in range(n):  # data that is not the model's: a bad row, never a format failure or "no answer"
            why = None
            if not is_completion(completions[i]):
                why = f"completion must be a string or chat messages, got {type(completions[i]).__name__}"
            elif given is not None and given[i] is not None and not _is_outputs(given[i]):
                why = f"core_output must be a string or a list of strings, got {_kind_of(given[i])}"
            if why is not None and tasks[i] is not None:
                tasks[i], errors[i] = None, why
        if given is None and self.core is None:
            raise MissingColumnError(
                "ExecTuneReward has no core: pass core=... or give the dataset a 'core_output' column"
            )
        gated = [cfg.format_gate and not f.passed for f in formats]
        leakage: list[LeakageResult | None] = [None] * n
        if cfg.leakage != "off" and self.detectors:
            todo = [i for i in range(n) if tasks[i] is not None and not gated[i] and strategies[i]]
            found = detect_leakage([strategies[i] for i in todo], [tasks[i] for i in todo], self.detectors)  # type: ignore[misc]
            for i, res in zip(todo, found):
                leakage[i] = res
        ids = list(completion_ids) if completion_ids is not None else None
        tokens = []
        for i in range(n):
            if ids is not None and i < len(ids) and ids[i] is not None:
                tokens.append((len(ids[i]), TokenSource.COMPLETION_IDS))
            else:
                tokens.append(self.guide_counter.count(texts[i]))
        batch = Batch(
            n, texts, formats, strategies, tasks, errors, leakage, tokens,
            [_outputs(given[i]) if given else None for i in range(n)],
            [given_base[i] if given_base and isinstance(given_base[i], str) else None for i in range(n)],
        )  # fmt: skip
        batch.needs_core = [self._needs_core(batch, i) for i in range(n)]
        return batch

    def _needs_core(self, b: Batch, i: int) -> bool:
        if b.tasks[i] is None or (self.config.format_gate and not b.formats[i].passed):
            return False
        leak = b.leakage[i]
        if leak is not None and leak.leaked is None:
            return False  # an undecided judge: the reward will be None, do not pay for the core
        if leak is not None and leak.leaked and self.config.leakage == "gate":
            return False  # a gated leak scores without paying for the core
        return b.given_outputs[i] is not None or self.core is not None

    def build_requests(self, b: Batch) -> list[CoreRequest]:
        """Stage 2: the core calls the batch needs (guided runs, then missing baselines)."""
        cfg = self.config
        requests: list[CoreRequest] = []
        given_model = cfg.given_output_model or "given"
        b.model = (getattr(self.core, "model", "") or "core") if self.core is not None else given_model
        for i in range(b.n):
            if not b.needs_core[i] or b.given_outputs[i] is not None:
                continue
            for j in range(cfg.core_runs):
                requests.append(self.core_request(b.tasks[i], b.strategies[i], j))
                b.slots.append(("run", i, j))
        if cfg.nondegradation_penalty > 0:
            seen: set[str] = set()
            for i in range(b.n):
                task = b.tasks[i]
                if not b.needs_core[i] or task is None or task.id in seen:
                    continue
                seen.add(task.id)
                if b.given_baselines[i] is not None or self.baselines.get(b.model, task.id) is not None:
                    continue
                if self.core is None:
                    continue  # no core and no core_only_output: non-degradation is skipped for this task
                for j in range(cfg.baseline_runs):
                    requests.append(self.core_request(task, None, j))
                    b.slots.append(("base", task.id, j))
        return requests

    def finish(self, b: Batch, responses: Sequence[CoreResponse]) -> list[RewardRecord]:
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
                if self.baselines.get(b.model, task.id) is None and self.config.nondegradation_penalty > 0:
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
        running = self.start_execution(outputs, tasks)
        # What the runs cost does not depend on how they fared: counted while they run.
        costs = {i: self._cost(b, i, items) for i, items in runs.items() if b.tasks[i] is not None}
        executed = dict(zip(flat, running.result()))
        self._store_baselines(b, bases, executed)
        return [self._combine(b, i, runs.get(i, []), executed, costs.get(i)) for i in range(b.n)]

    def _store_baselines(self, b: Batch, bases: Mapping[str, list], executed: Mapping[Any, ExecutionResult]) -> None:
        for tid, items in bases.items():
            results = [_run_result(resp, executed, ("base", tid, j)) for j, (_t, resp) in enumerate(items)]
            valid = [r for r in results if not r.is_infra]
            if not valid:
                b.baseline_errors[tid] = results[0].detail if results else "no core-only run"
                continue
            rate = sum(r.success for r in valid) / len(valid)
            value = sum(r.value for r in valid) / len(valid)
            self.baselines.put(b.model, tid, Baseline(rate, len(valid), value))

    def _gated(self, b: Batch, i: int, base: dict[str, Any]) -> RewardRecord | None:
        """The record of a completion decided before any core run (bad row, format, leak), else None."""
        cfg = self.config
        task, fmt, leak = b.tasks[i], b.formats[i], b.leakage[i]
        if task is None:
            return RewardRecord(reward=None, status=RewardStatus.BAD_TASK, reason=b.task_errors[i] or "bad task", **base)
        if cfg.format_gate and not fmt.passed:
            return RewardRecord(reward=cfg.format_fail_value, status=RewardStatus.FORMAT_FAILED, reason=f"format: {fmt.status.value}", **base)
        if leak is not None and leak.leaked is None:
            why = "; ".join(f.evidence for f in leak.findings if f.leaked is None)
            return RewardRecord(reward=None, status=RewardStatus.INFRA, reason=f"leakage undecided: {why}", **base)
        if leak is not None and leak.leaked and cfg.leakage == "gate":
            return RewardRecord(reward=cfg.leakage_value, status=RewardStatus.LEAKED, reason=f"leak: {', '.join(leak.detectors)}", **base)
        if self.core is None and b.given_outputs[i] is None:
            return RewardRecord(reward=None, status=RewardStatus.BAD_TASK, reason="row has no core_output and no core was given", **base)
        return None

    def _core_runs(self, b: Batch, i: int, items: list, executed: Mapping[Any, ExecutionResult]) -> tuple[CoreRun, ...]:
        runs = []
        for j, (text, resp) in enumerate(items):
            runs.append(CoreRun(
                text, _run_result(resp, executed, ("run", i, j)),
                resp.prompt_tokens if resp is not None else None,
                resp.completion_tokens if resp is not None else None,
                _model(b, resp),
                None if resp is None or resp.ok else (resp.error.message if resp.error else "failed"),
                bool(resp is not None and resp.cached),
            ))  # fmt: skip
        return tuple(runs)

    def _combine(self, b: Batch, i: int, items: list, executed: Mapping[Any, ExecutionResult],
                 cost: CostBreakdown | None = None) -> RewardRecord:
        cfg = self.config
        task, leak = b.tasks[i], b.leakage[i]
        base: dict[str, Any] = dict(index=i, task_id=task.id if task else f"row-{i}", format=b.formats[i], strategy=b.strategies[i], leakage=leak)
        early = self._gated(b, i, base)
        if early is not None or task is None:
            return early  # type: ignore[return-value]
        runs = self._core_runs(b, i, items, executed)
        base.update(runs=runs, strategy_syntax=self._strategy_syntax(b.strategies[i], task))
        valid = [r.execution for r in runs if not r.execution.is_infra]
        if not valid:  # every run failed for infrastructure reasons: no reward, never 0
            return RewardRecord(reward=None, status=RewardStatus.INFRA, reason=runs[0].execution.detail if runs else "no core output", **base)
        value = sum(r.value for r in valid) / len(valid)
        success = sum(r.success for r in valid) / len(valid)
        syn = [r.syntax.value for r in valid if r.syntax is not None and r.syntax.value is not None]
        base.update(execution=value, success=success, syntax=sum(syn) / len(syn) if syn else None)
        nd = None
        if cfg.nondegradation_penalty > 0:
            baseline = self.baselines.get(b.model, task.id)
            if baseline is None and task.id in b.baseline_errors:
                reason = f"core-only baseline failed: {b.baseline_errors[task.id]}"
                return RewardRecord(reward=None, status=RewardStatus.INFRA, reason=reason, **base)
            nd = compare(baseline, success) if baseline is not None else None
        cost = cost if cost is not None else self._cost(b, i, items)
        base.update(nondegradation=nd, cost=cost)
        if cfg.cost_lambda > 0 and cost.cost is None:
            return RewardRecord(reward=None, status=RewardStatus.INFRA, reason="cost unknown: a model has no price", **base)
        reward = cfg.scored_reward(value, base["syntax"], nd.degradation if nd is not None else 0.0, cost.cost)
        if leak is not None and leak.leaked and cfg.leakage == "penalty":
            return RewardRecord(reward=reward - cfg.leakage_penalty, status=RewardStatus.LEAKED, reason=f"leak: {', '.join(leak.detectors)}", **base)
        return RewardRecord(reward=reward, status=RewardStatus.SCORED, reason="", **base)

    def _strategy_syntax(self, strategy: str, task: Task) -> SyntaxResult | None:
        if "```" not in strategy and "~~~" not in strategy:
            return None
        return self.syntax.check_text(strategy, task.language if task.kind is TaskKind.CODE else "python", fenced_only=True)

    def _cost(self, b: Batch, i: int, items: list) -> CostBreakdown:
        """What row ``i``'s strategy and core runs (``(text, response)`` pairs) cost."""
        return self.cost_model.breakdown(*b.strategy_tokens[i], [self._usage(b, i, text, resp) for text, resp in items])

    def _usage(self, b: Batch, i: int, text: str, resp: CoreResponse | None) -> CoreUsage:
        model = _model(b, resp)
        if resp is not None and resp.prompt_tokens is not None and resp.completion_tokens is not None:
            return CoreUsage(model, resp.prompt_tokens, resp.completion_tokens, reported=True)
        prompt = self.prompt_tokens(b.tasks[i], b.strategies[i])  # type: ignore[arg-type]
        completion, _ = self.core_counter.count(text)
        return CoreUsage(model, prompt, completion, reported=False)

    def close(self) -> None:
        """Stop the executor's sandbox (if it made one), the math workers and the detectors. Idempotent."""
        self.executor.close()
        self.math_verifier.close()
        for d in self.detectors:
            try:
                d.close()
            except Exception:  # a plugin failing to close must not hide the others
                logger.debug("detector close failed", exc_info=True)


def _run_result(resp: CoreResponse | None, executed: Mapping[Any, ExecutionResult], key: tuple) -> ExecutionResult:
    if resp is not None and not resp.ok:
        err = resp.error
        if err is not None and err.kind is CoreFailureKind.BAD_REQUEST:
            # The only failure that is the request's fault: e.g. a strategy too long for the core.
            return ExecutionResult(ExecutionStatus.NO_ANSWER, 0.0, detail=f"core rejected the request: {err.message[:200]}")
        kind = err.kind.value if err is not None else "unknown"
        return ExecutionResult.infra(f"core call failed ({kind}): {err.message[:200] if err else ''}")
    return executed.get(key) or ExecutionResult.infra("not executed")


def _failed(requests: Sequence[Any], exc: Exception) -> list[CoreResponse]:
    logger.warning("the core raised instead of returning failed responses: %s: %s", type(exc).__name__, exc)
    return [CoreResponse.failure(CoreFailureKind.INTERNAL, f"core raised {type(exc).__name__}: {exc}") for _ in requests]
