"""Reward throughput benchmarks, shared by ``exectune bench`` and ``benchmarks/bench_rewards.py``.

The default workload is built offline from HumanEval: core outputs are the canonical
solutions and broken variants (wrong result, exception, syntax error) in rotation, the
completions are scripted strategies (mostly sound, some malformed, some leaking the
solution). No model is called: the core is a lookup of the prepared outputs, so the numbers
measure the reward itself. Each component is timed alone on the same workload, then the
composite :class:`~exectune_rl.rewards.ExecTuneReward` end to end (execution cache off, so
every program really runs; a second composite figure shows the cache's effect).

Example:
    >>> result = run_benchmark(n=200, workers=2)          # doctest: +SKIP
    >>> result["composite_per_s"] > 0                      # doctest: +SKIP
    True
"""

from __future__ import annotations

import ast
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exectune_rl.tasks.base import Task, TaskKind

__all__ = ["WorkItem", "build_workload", "load_workload", "run_benchmark", "format_results", "TARGETS", "FULL_WORKLOAD"]

TARGETS = {"composite_per_s": 400.0, "syntax_vs_ast_ratio": 1.0}
FULL_WORKLOAD = 1000  # completions of the default workload the targets are set for


@dataclass(frozen=True)
class WorkItem:
    """One completion to score: the guide's text, its task and the core's prepared output."""

    completion: str
    task: Task
    output: str
    alone: str | None = None


def build_workload(n: int = 1000, *, malformed_every: int = 20, leak_every: int = 20) -> list[WorkItem]:
    """``n`` HumanEval completions: variants rotate per task; a few malformed and leaking ones.

    Args:
        n: Completions to build.
        malformed_every / leak_every: One in this many completions is malformed / leaks.

    Returns:
        The workload.
    """
    from exectune_rl.rewards.sample import VARIANTS, humaneval_tasks, variant_output

    tasks = humaneval_tasks()
    items = []
    for k in range(n):
        task = tasks[k % len(tasks)]
        variant = VARIANTS[(k // len(tasks) + k) % len(VARIANTS)]
        if k % malformed_every == 0:
            completion = f"<strategy>\nApproach {k}: loop over the input"
        elif k % leak_every == 1:
            completion = f"<strategy>\nApproach {k}, use:\n```python\n{(task.reference or '').rstrip()}\n```\n</strategy>"
        else:
            completion = (
                f"<strategy>\nApproach {k}: read the docstring of `{task.entry_point}`, handle empty and "
                "single-element inputs first, then walk the input once and return the result in the "
                "type the examples show.\n</strategy>"
            )
        items.append(WorkItem(completion, task, variant_output(task, variant), variant_output(task, "canonical")))
    return items


def load_workload(path: str, n: int | None = None) -> list[WorkItem]:
    """A workload from a JSONL file in ``exectune score``'s format (rows need ``core_output``)."""
    from exectune_rl.errors import MissingColumnError
    from exectune_rl.rewards.cli_score import read_rows
    from exectune_rl.rewards.columns import tasks_from_columns
    from exectune_rl.rewards.format_gate import FormatGate

    gate = FormatGate()
    items = []
    for row in read_rows(path, n):
        if "core_output" not in row:
            raise MissingColumnError(f"line {row['_line']}: benchmark rows need a 'core_output' column")
        [task], [error] = tasks_from_columns({k: [v] for k, v in row.items()}, 1, None)
        if task is None:
            continue
        out = row["core_output"]
        output = out if isinstance(out, str) else (out[0] if out else "")
        completion = row.get("completion") or gate.wrap(row.get("strategy", ""))
        items.append(WorkItem(completion, task, output, row.get("core_only_output")))
    return items


def _rate(n: int, fn: Callable[[], Any], rounds: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    elapsed = time.perf_counter() - start
    return n * rounds / elapsed if elapsed > 0 else float("inf")


def _batches(seq: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def _parse_rates(programs: list[str], rounds: int) -> tuple[float, float]:
    from exectune_rl.rewards.syntax import SyntaxChecker

    checker = SyntaxChecker()

    def ts() -> None:
        for p in programs:
            checker.check(p, "python")

    def py_ast() -> None:
        for p in programs:
            try:
                ast.parse(p)
            except (SyntaxError, ValueError):
                pass

    ts(), py_ast()  # warm both (parser objects, import caches)
    # Interleaved best-of-rounds: a busy neighbour slows both alike instead of one.
    best_ts = best_ast = 0.0
    for _ in range(rounds):
        best_ts = max(best_ts, _rate(len(programs), ts))
        best_ast = max(best_ast, _rate(len(programs), py_ast))
    return best_ts, best_ast


def _ast_ok(program: str) -> bool:
    try:
        ast.parse(program)
    except (SyntaxError, ValueError):
        return False
    return True


def _syntax_section(programs: list[str], rounds: int) -> dict[str, Any]:
    """tree-sitter vs ast.parse on the workload's Python snippets.

    ``syntax_vs_ast_ratio`` is measured on the snippets that are valid Python (what a syntax
    check mostly sees, and where parse speed is comparable); broken snippets are reported
    apart because the two do different work there: ast.parse stops at the first error, while
    tree-sitter recovers and reports every error region.
    """
    from exectune_rl.rewards.syntax import SyntaxChecker

    parses = [_ast_ok(p) for p in programs]
    valid = [p for p, ok in zip(programs, parses) if ok]
    broken = [p for p, ok in zip(programs, parses) if not ok]
    checker = SyntaxChecker()
    agree = sum(checker.check(p, "python").ok == ok for p, ok in zip(programs, parses)) / max(1, len(programs))
    out: dict[str, Any] = {"syntax_ratio_scope": "valid Python snippets of the workload", "syntax_agreement_with_ast": agree,
                           "syntax_snippets_valid": len(valid), "syntax_snippets_broken": len(broken)}  # fmt: skip
    if valid:
        ts_rate, ast_rate = _parse_rates(valid, rounds)
        out.update(syntax_per_s=ts_rate, ast_parse_per_s=ast_rate, syntax_vs_ast_ratio=ts_rate / ast_rate)
    if broken:
        ts_rate, ast_rate = _parse_rates(broken, rounds)
        out.update(syntax_broken_per_s=ts_rate, ast_parse_broken_per_s=ast_rate, syntax_vs_ast_ratio_broken=ts_rate / ast_rate)
    ts_rate, ast_rate = _parse_rates(programs, rounds)
    out["syntax_vs_ast_ratio_all"] = ts_rate / ast_rate
    return out


class _LookupCore:
    """A core that returns the prepared output for each (task, strategy): no model call."""

    def __init__(self, items: Sequence[WorkItem]) -> None:
        from exectune_rl.cores.base import CallableCore
        from exectune_rl.tasks.prompts import extract_strategy

        table = {}
        alone = {}
        gate_tag = "strategy"
        for it in items:
            strategy = extract_strategy(it.completion, gate_tag)
            table[(it.task.id, strategy)] = it.output
            alone[it.task.id] = it.alone or it.output

        def answer(request: Any) -> str:
            strategy = extract_strategy(request.messages[-1]["content"], gate_tag)
            tid = request.metadata.get("task_id", "")
            return alone[tid] if strategy is None else table.get((tid, strategy), "")

        self.core = CallableCore(answer, model="lookup")


def _composite_rate(
    items: list[WorkItem], sandbox: Any, batch_size: int, cache_size: int, kind: str | None, workers: int
) -> tuple[float, Any]:
    from exectune_rl.rewards.columns import rows_to_columns
    from exectune_rl.rewards.composite import ExecTuneReward
    from exectune_rl.rewards.config import RewardConfig

    options = {"execution_cache_size": cache_size, "math_workers": max(1, workers)}
    cfg = RewardConfig.preset(kind, **options) if kind else RewardConfig(**options)
    reward = ExecTuneReward(cfg, core=_LookupCore(items).core, sandbox=sandbox)
    batches = [
        (b, rows_to_columns([it.task.to_dict(drop_none=True) for it in b]))
        for b in _batches(items, batch_size)
    ]
    warm = items[: min(8, len(items))]
    reward.score(completions=[it.completion for it in warm], **rows_to_columns([it.task.to_dict() for it in warm]))
    reward.baselines = type(reward.baselines)()  # baselines count in the measured run
    statuses: dict[str, int] = {}

    def go() -> None:
        for b, columns in batches:
            for rec in reward.score(completions=[it.completion for it in b], **columns):
                statuses[rec.status.value] = statuses.get(rec.status.value, 0) + 1

    rate = _rate(len(items), go)
    reward.close()
    return rate, statuses


def run_benchmark(
    n: int = 1000,
    *,
    workers: int = 2,
    sandbox_name: str = "local",
    batch_size: int = 128,
    items: list[WorkItem] | None = None,
    math_n: int = 500,
    syntax_rounds: int = 5,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure per-component and composite throughput.

    Args:
        n: Completions in the default HumanEval workload.
        workers: Sandbox worker processes (and math-verify workers).
        sandbox_name: Sandbox registry name.
        batch_size: Completions per reward call (a trainer's batch).
        items: A workload to use instead of the default (see :func:`load_workload`).
        math_n: Answers for the math-verify measurement (0 skips it).
        syntax_rounds: Repetitions of the syntax/ast timing (best round counts).
        progress: Called with a short message as each stage starts.

    Returns:
        A JSON-ready dict with ``<component>_per_s``, ``composite_per_s``,
        ``syntax_vs_ast_ratio`` and the workload description.
    """
    say = progress or (lambda msg: None)
    items_given = items is not None
    items = items if items is not None else build_workload(n)
    if not items:
        from exectune_rl.errors import DataError

        raise DataError("the benchmark workload has no usable rows")
    code = [it for it in items if it.task.kind is TaskKind.CODE]
    out: dict[str, Any] = {"n_completions": len(items), "sandbox": sandbox_name, "workers": workers,
                           "batch_size": batch_size, "cpu_count": os.cpu_count()}  # fmt: skip
    out.update(_component_rates(items, code, syntax_rounds, say))
    out.setdefault("syntax_vs_ast_ratio", None)  # always a key: None when there is no Python to parse
    out.update(_sandbox_rates(items, code, sandbox_name, workers, batch_size, say))
    if math_n:
        say("math-verify workers")
        out["math_per_s"] = _math_rate(math_n, workers)
    # The targets are set for the full default workload; a smaller or different one shows its
    # figures without a verdict (a 48-row run says nothing about the target either way).
    full = items_given is False and n >= FULL_WORKLOAD
    out["full_workload"] = full
    out["targets"] = {
        k: {"target": v, "value": out.get(k), "met": (out.get(k) is not None and out[k] >= v) if full else None}
        for k, v in TARGETS.items()
    }
    return out


def _component_rates(items: list[WorkItem], code: list[WorkItem], syntax_rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The in-process components, each alone on the whole workload."""
    from exectune_rl.rewards.cost import CoreUsage, CostModel, TokenCounter
    from exectune_rl.rewards.execution import extract_program
    from exectune_rl.rewards.format_gate import FormatGate
    from exectune_rl.rewards.leakage import DEFAULT_DETECTORS, detect_leakage, get_leakage_detector
    from exectune_rl.rewards.nondegradation import Baseline, BaselineStore, compare

    out: dict[str, Any] = {}
    gate = FormatGate()
    say("format gate")
    out["format_per_s"] = _rate(len(items), lambda: [gate(it.completion) for it in items], rounds=3)
    strategies = [gate(it.completion).strategy or it.completion for it in items]
    say("syntax vs ast.parse")
    programs = [extract_program(it.output, it.task) for it in code if it.task.language == "python"]
    if programs:
        out.update(_syntax_section(programs, syntax_rounds))
    say("leakage detectors")
    detectors = [get_leakage_detector(d) for d in DEFAULT_DETECTORS]
    out["leakage_per_s"] = _rate(len(items), lambda: detect_leakage(strategies, [it.task for it in items], detectors))
    say("cost")
    guide, core_counter, model = TokenCounter(), TokenCounter(), CostModel()

    def cost() -> None:
        for it in items:
            model.breakdown(*guide.count(it.completion), [CoreUsage("lookup", 300, core_counter.count(it.output)[0], False)])

    cost()  # load the encoding and the price table once, outside the timing
    out["cost_per_s"] = _rate(len(items), cost)
    say("non-degradation")
    store = BaselineStore()
    for it in items:
        store.put("m", it.task.id, Baseline(1.0))
    out["nondegradation_per_s"] = _rate(len(items), lambda: [compare(store.get("m", it.task.id), 0.0) for it in items], rounds=3)  # type: ignore[arg-type]
    return out


def _sandbox_rates(
    items: list[WorkItem], code: list[WorkItem], sandbox_name: str, workers: int, batch_size: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Execution alone (code rows), then the composite reward with the execution cache off and on (every row)."""
    from exectune_rl.rewards.execution import CodeExecutor
    from exectune_rl.sandboxes import get_sandbox

    out: dict[str, Any] = {}
    kinds = {it.task.kind.value for it in items}
    kind = kinds.pop() if len(kinds) == 1 else None  # a mixed workload reads each row's kind
    sandbox = get_sandbox(sandbox_name, workers=workers) if code else None
    try:
        if code:
            say("execution in the sandbox")
            ex = CodeExecutor(sandbox, cache_size=0)
            ex.run([code[0].output], [code[0].task])  # warm the pool
            batches = _batches(code, batch_size)
            out["execution_per_s"] = _rate(len(code), lambda: [ex.run([i.output for i in b], [i.task for i in b]) for b in batches])
        say("composite (execution cache off)")
        out["composite_per_s"], out["composite_statuses"] = _composite_rate(items, sandbox, batch_size, 0, kind, workers)
        say("composite (execution cache on)")
        out["composite_cached_per_s"], _ = _composite_rate(items, sandbox, batch_size, 4096, kind, workers)
    finally:
        if sandbox is not None:
            sandbox.close()
    return out


def _math_rate(n: int, workers: int) -> float:
    import random

    from exectune_rl.rewards.mathcheck import MathVerifier

    rng = random.Random(0)
    golds, answers = [], []
    for k in range(n):
        a, b = rng.randint(2, 999), rng.randint(2, 99)
        golds.append(f"{a} * {b} = {a * b}\n#### {a * b}")
        answers.append(f"Multiply {a} by {b}: {a * b if k % 3 else a * b + 1}.\n#### {a * b if k % 3 else a * b + 1}")
    with MathVerifier(workers=max(1, workers)) as mv:
        mv.verify(answers[:workers * 2], golds[:workers * 2])  # start the workers
        return _rate(n, lambda: mv.verify(answers, golds))


def format_results(result: dict[str, Any]) -> str:
    """The benchmark as a plain-text table."""
    rows = [(k, result[k]) for k in result if k.endswith("_per_s")]
    rows += [(k, result.get(k)) for k in ("syntax_vs_ast_ratio", "syntax_vs_ast_ratio_broken", "syntax_vs_ast_ratio_all", "syntax_agreement_with_ast")]
    lines = [f"{'metric':<26}{'value':>12}  target"]
    full = result.get("full_workload", False)
    for name, value in rows:
        target = result.get("targets", {}).get(name)
        if value is None:
            verdict = "n/a (not measured)"
        else:
            verdict = ("PASS" if target and target["met"] else "FAIL") if full else "(no verdict: not the full workload)"
        mark = "" if target is None else f">= {target['target']:g} {verdict}"
        shown = "-" if value is None else f"{value:12.2f}"
        lines.append(f"{name:<26}{shown:>12}  {mark}")
    lines.append(
        f"workload: {result['n_completions']} completions, {result['workers']} workers, sandbox {result['sandbox']}, "
        f"batch {result['batch_size']}, {result['cpu_count']} CPUs"
    )
    if not full:
        lines.append(f"targets are judged on the full workload only (the default, {FULL_WORKLOAD} completions, no --input)")
    if "composite_statuses" in result:
        lines.append("composite statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(result["composite_statuses"].items())))
    return "\n".join(lines)
