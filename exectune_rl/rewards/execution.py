"""Execution success: did the core's output actually solve the task?

Code tasks run the core's program against the task's tests in a :class:`~exectune_rl.sandboxes.Sandbox`
(through :func:`exectune_rl.sandboxes.runner.run_tests`, one batch per call) and earn graded
credit: parses, runs, fraction of tests passed, all pass. A program tree-sitter cannot parse is
not sent to the sandbox at all. Identical (program, tests) pairs are answered from a bounded
cache: a GRPO group often makes the core write the same program several times.

Math tasks are checked by :class:`~exectune_rl.rewards.mathcheck.MathVerifier`.

Example:
    >>> from exectune_rl.tasks import Task
    >>> task = Task("t", "code", "def add(a, b):\\n", tests="assert add(1, 2) == 3", test_format="asserts")
    >>> with CodeExecutor(workers=2) as ex:                           # doctest: +SKIP
    ...     [r] = ex.run(["def add(a, b):\\n    return a + b\\n"], [task])
    >>> r.status, r.value                                             # doctest: +SKIP
    (<ExecutionStatus.PASSED: 'passed'>, 1.0)
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.errors import ConfigError
from exectune_rl.rewards.syntax import SyntaxChecker, SyntaxResult, SyntaxStatus, normalize_language
from exectune_rl.sandboxes.futures import Future, done_future, gather, then
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, submit_tests
from exectune_rl.text import extract_code_blocks
from exectune_rl.tasks.base import Task

__all__ = ["ExecutionStatus", "ExecutionResult", "Grading", "CodeExecutor", "case_fraction", "extract_program", "prompt_imports"]

logger = logging.getLogger(__name__)


# The verdict vocabulary of execution: the runner's test verdicts (one member per
# :class:`~exectune_rl.sandboxes.runner.TestStatus`, same names and values) plus the
# outcomes only a reward sees. Derived, never re-listed, so the two cannot drift apart.
_REWARD_ONLY = {
    "NO_CODE": "no_code",  # the output holds no program
    "CORRECT": "correct",  # math: the final answer equals the gold answer
    "WRONG": "wrong",  # math: an answer was found and it is wrong
    "NO_ANSWER": "no_answer",  # math: no parsable final answer
}
ExecutionStatus = enum.Enum(  # type: ignore[misc]
    "ExecutionStatus",
    [(m.name, m.value) for m in TestStatus] + list(_REWARD_ONLY.items()),
    type=str,
    module=__name__,
    qualname="ExecutionStatus",
)
ExecutionStatus.__doc__ = """How the core's output fared: every ``TestStatus`` verdict (``PASSED``, ``FAILED``,
``SYNTAX_ERROR``, ``RUNTIME_ERROR``, ``TIMEOUT``, ``MEMORY_LIMIT``, ``OUTPUT_LIMIT``, ``SIGNALED``,
``EARLY_EXIT``, ``INFRA``) plus ``NO_CODE`` (no program in the output) and the math outcomes
``CORRECT``, ``WRONG`` and ``NO_ANSWER``. ``ExecutionStatus(test_status.value)`` converts."""


def case_fraction(outcome: Any) -> float:
    """The share of test cases a program passed, from ``passed_cases / total_cases`` only.

    A program that does not pass earns strictly less than one that passes: when every counted
    case passed but the verdict is not PASSED (the harness failed after the last assert, the
    program exited early), reaching the end of the tests counts as one more case it failed.

    Example:
        >>> from types import SimpleNamespace as O
        >>> case_fraction(O(passed=False, passed_cases=3, total_cases=3))
        0.75
    """
    passed, total = getattr(outcome, "passed_cases", None), getattr(outcome, "total_cases", None)
    if getattr(outcome, "passed", False):
        return 1.0
    if not passed or not total or passed < 0:
        return 0.0
    return passed / total if passed < total else total / (total + 1)


_BELOW_ONE = 1.0 - 1e-6  # a failure's share of cases never reaches a pass, whoever computed it


@dataclass(frozen=True)
class Grading:
    """How execution levels turn into a value in [0, 1].

    With ``graded=False`` the value is 1 for success and 0 otherwise. With ``graded=True``
    a failing program earns ``parse_credit`` for parsing, ``run_credit`` for running and the
    remaining share times the fraction of tests passed (:func:`case_fraction`, always below 1
    for a failure); success is always 1, and a failure always earns strictly less.
    """

    graded: bool = True
    parse_credit: float = 0.1
    run_credit: float = 0.1

    def __post_init__(self) -> None:
        for name in ("parse_credit", "run_credit"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {v!r}")
        if self.parse_credit + self.run_credit >= 1.0:
            # With nothing left for the tests, a failing program that runs would tie a pass.
            raise ConfigError(f"parse_credit + run_credit must be < 1, got {self.parse_credit + self.run_credit}")

    def value(self, success: bool, parses: bool, runs: bool, fraction: float | None) -> float:
        """The value of one outcome; ``fraction`` is the passed share of cases (for failures < 1)."""
        if success:
            return 1.0
        if not self.graded:
            return 0.0
        rest = 1.0 - self.parse_credit - self.run_credit
        share = min(max(float(fraction or 0.0), 0.0), _BELOW_ONE)
        return self.parse_credit * parses + self.run_credit * runs + rest * share


@dataclass(frozen=True)
class ExecutionResult:
    """The execution outcome of one core output.

    Attributes:
        status: The typed outcome.
        value: Graded value in [0, 1] (0 for INFRA; check ``is_infra`` first).
        success: All tests passed / the answer is correct.
        parses / runs: Intermediate levels (for math: an answer was found / verification ran).
        fraction: Fraction of test cases passed, where the test format allows.
        syntax: The tree-sitter check of the program, when one ran.
        detail: A short reason.
        cached: Answered from the execution cache.
        time_limit_s / limit_source / rechecked: Where time limits are calibrated, the CPU
            limit that applied, where it came from (one of
            :data:`~exectune_rl.sandboxes.calibration.LIMIT_SOURCES`) and whether the program
            was re-run after running out of a calibrated limit (None without calibration).
    """

    status: ExecutionStatus
    value: float = 0.0
    success: bool = False
    parses: bool = False
    runs: bool = False
    fraction: float | None = None
    syntax: SyntaxResult | None = None
    detail: str = ""
    cached: bool = False
    time_limit_s: float | None = None
    limit_source: str | None = None
    rechecked: bool | None = None

    @property
    def is_infra(self) -> bool:
        return self.status is ExecutionStatus.INFRA

    @classmethod
    def infra(cls, detail: str) -> "ExecutionResult":
        return cls(ExecutionStatus.INFRA, detail=detail)


_PY_DEF = "def {name}("


def extract_program(output: str, task: Task) -> str:
    """The program in a core's answer, ready to run against the task's tests.

    Fenced blocks in the task's language (or unlabelled) are preferred; among several, those
    defining the entry point are kept. For Python tasks whose answer is only a function body
    (HumanEval completion style), the task's prompt is put in front.

    Args:
        output: The core's text.
        task: The code task.

    Returns:
        Program text ("" when there is none).

    Example:
        >>> t = Task("t", "code", "def f():\\n", tests="assert f() == 1", test_format="asserts", entry_point="f")
        >>> extract_program("    return 1\\n", t)
        'def f():\\n    return 1\\n'
    """
    if not isinstance(output, str):
        return ""
    lang = normalize_language(task.language) or task.language
    blocks = extract_code_blocks(output)
    if blocks:
        mine = [b for b in blocks if b.language is None or normalize_language(b.language) == lang]
        blocks = mine or blocks
        if task.entry_point:
            defining = [b for b in blocks if task.entry_point in b.code]
            blocks = defining or blocks
        program = "\n\n".join(b.code for b in blocks)
    else:
        program = output
    if not program.strip():
        return ""
    if lang == "python" and task.entry_point and task.problem:
        if _PY_DEF.format(name=task.entry_point) not in program:
            if _PY_DEF.format(name=task.entry_point) in task.problem:
                program = task.problem + program
        else:
            program = _with_prompt_imports(program, task.problem)
    return program


_IMPORT_LINE = re.compile(r"^(?:import\s+\S|from\s+\S+\s+import\s)")


def prompt_imports(prompt: str) -> list[str]:
    """The top-level import statements of a task prompt (``from typing import List``...).

    Example:
        >>> prompt_imports("from typing import List\\nimport math\\n\\ndef f(x: List[int]):\\n    import os\\n")
        ['from typing import List', 'import math']
    """
    out: list[str] = []
    lines = prompt.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if _IMPORT_LINE.match(line):
            stmt = [line]
            # A parenthesised or backslash-continued import spans several lines.
            while i + 1 < len(lines) and (stmt[-1].endswith("\\") or ("(" in line and ")" not in "".join(stmt))):
                i += 1
                stmt.append(lines[i].rstrip())
            out.append("\n".join(stmt))
        i += 1
    return out


def _with_prompt_imports(program: str, prompt: str) -> str:
    """``program`` with the prompt's imports it lacks put in front (a full function written
    without them, e.g. ``List[float]`` without ``from typing import List``, would not run)."""
    have = {line.strip() for line in program.splitlines()}
    missing = [imp for imp in prompt_imports(prompt) if imp.splitlines()[0].strip() not in have]
    if not missing:
        return program
    future = [imp for imp in missing if imp.startswith("from __future__")]
    rest = "\n".join(imp for imp in missing if not imp.startswith("from __future__"))
    lines = program.splitlines(keepends=True)
    # ``from __future__`` imports must stay first: the prompt's others go after the program's.
    at = max((k + 1 for k, line in enumerate(lines) if line.startswith("from __future__")), default=0)
    head = "".join(f + "\n" for f in future)
    return head + "".join(lines[:at]) + (rest + "\n" if rest else "") + "".join(lines[at:])


class CodeExecutor(TransientState):
    """Runs core programs against task tests in a sandbox and grades the outcome.

    Args:
        sandbox: A sandbox to use (not closed by this executor). None: one is created on
            first use from ``sandbox_name`` and ``workers`` and closed by :meth:`close`.
        sandbox_name: Registry name of the sandbox to create.
        workers: Worker count of the created sandbox (None: the sandbox's default).
        sandbox_options: Other keyword arguments of the created sandbox (``get_sandbox``'s).
        cpu_time_s / memory_mb: Limits per program.
        grading: How levels become a value.
        cache_size: Most (program, tests) outcomes kept; 0 disables the cache.
        syntax_precheck: Skip the sandbox for programs tree-sitter cannot parse.
        syntax_checker: Checker to reuse.
        calibration: A :class:`~exectune_rl.sandboxes.calibration.Calibration` for time
            limits from each task's reference (``cpu_time_s`` stays the hard limit).

    Example:
        >>> ex = CodeExecutor(workers=2, cache_size=0)   # doctest: +SKIP
    """

    def __init__(
        self,
        sandbox: Any | None = None,
        *,
        sandbox_name: str = "local",
        workers: int | None = None,
        sandbox_options: Mapping[str, Any] | None = None,
        cpu_time_s: float = 5.0,
        memory_mb: int = 512,
        grading: Grading | None = None,
        cache_size: int = 4096,
        syntax_precheck: bool = True,
        syntax_checker: SyntaxChecker | None = None,
        calibration: Any = None,
    ) -> None:
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError(f"cache_size must be an int >= 0, got {cache_size!r}")
        if cpu_time_s <= 0 or memory_mb <= 0:
            raise ConfigError(f"cpu_time_s and memory_mb must be positive, got {cpu_time_s!r}, {memory_mb!r}")
        self._init_transient()
        self._sandbox = sandbox
        self._owns_sandbox = sandbox is None
        self.sandbox_name = sandbox_name
        self.workers = workers
        self.sandbox_options = dict(sandbox_options or {})
        self.cpu_time_s = cpu_time_s
        self.memory_mb = memory_mb
        self.grading = grading or Grading()
        self.cache_size = cache_size
        self.syntax_precheck = syntax_precheck
        self.syntax = syntax_checker or SyntaxChecker()
        self.calibration = calibration
        self.hits = 0
        self.misses = 0

    # Live processes do not pickle: a copy recreates its sandbox from the name on first use.
    _transient = ("_sandbox", "_owns_sandbox", "_cache", "_lock")

    def _init_transient(self) -> None:
        self._sandbox: Any = None
        self._owns_sandbox = True
        self._cache: OrderedDict[str, ExecutionResult] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def sandbox(self) -> Any:
        """The sandbox, created on first use."""
        with self._lock:
            if self._sandbox is None:
                from exectune_rl.sandboxes import get_sandbox

                options = dict(self.sandbox_options)
                if self.workers is not None:
                    options["workers"] = self.workers
                try:
                    self._sandbox = get_sandbox(self.sandbox_name, **options)
                except TypeError as exc:  # an option the sandbox does not take: the config's to fix
                    raise ConfigError(f"sandbox {self.sandbox_name!r} does not take these options {sorted(options)} "
                                      f"(RewardConfig.sandbox_options / sandbox_workers): {exc}") from exc
                self._owns_sandbox = True
            return self._sandbox

    def close(self) -> None:
        """Close the sandbox if this executor created it. Idempotent."""
        with self._lock:
            sb, self._sandbox = self._sandbox, None
        if sb is not None and self._owns_sandbox:
            sb.close()

    def __enter__(self) -> "CodeExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _key(self, program: str, task: Task) -> str:
        h = hashlib.blake2b(digest_size=16)
        for part in (program, task.tests or "", task.test_format, task.entry_point or "", task.language):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        h.update(f"{self.cpu_time_s}/{self.memory_mb}".encode())
        return h.hexdigest()

    def _cache_get(self, key: str) -> ExecutionResult | None:
        if not self.cache_size:
            return None
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.hits += 1
            return hit

    def _cache_put(self, key: str, result: ExecutionResult) -> None:
        if not self.cache_size or result.is_infra:
            return
        with self._lock:
            self._cache[key] = result
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def precheck(self, program: str, task: Task) -> tuple[ExecutionResult | None, SyntaxResult | None]:
        """Check a program before running it.

        Returns:
            (result, syntax): ``result`` is set when the program need not run (no code, does
            not parse); ``syntax`` is the tree-sitter check when one ran.
        """
        if not program.strip():
            return ExecutionResult(ExecutionStatus.NO_CODE, detail="no program in the output"), None
        if not self.syntax_precheck or normalize_language(task.language) is None:
            return None, None
        syn = self.syntax.check_text(program, task.language)
        if syn.status is SyntaxStatus.ERROR:
            where = f" at line {syn.errors[0].line}" if syn.errors else ""
            value = self.grading.value(False, False, False, None)
            return ExecutionResult(ExecutionStatus.SYNTAX_ERROR, value, syntax=syn, detail=f"does not parse{where}"), syn
        return None, syn

    def run(self, outputs: Sequence[str], tasks: Sequence[Task]) -> list[ExecutionResult]:
        """Grade each core output against its task; one sandbox batch for all that must run.

        Args:
            outputs: Core answers (fenced or raw code).
            tasks: The matching code tasks.

        Returns:
            One :class:`ExecutionResult` per output, in order. Sandbox failures give INFRA
            results, never exceptions.
        """
        return self.submit(outputs, tasks).result()

    # Programs handed to a queueing sandbox in parts of these sizes, the first small so the
    # workers start while the rest are still checked and planned.
    _PARTS = (4, 8, 16, 32)

    def submit(self, outputs: Sequence[str], tasks: Sequence[Task]) -> Future[list[ExecutionResult]]:
        """:meth:`run`, started: a future of its results.

        On a sandbox that queues submissions (``LocalSandbox``) the programs are queued in
        parts as they pass the precheck, so the sandbox runs the first while the rest are
        checked, and the caller can go on (cost the batch, say) before reading the results.
        Elsewhere the whole batch is one ``run``, done on return.
        """
        if len(outputs) != len(tasks):
            raise ConfigError(f"outputs and tasks differ in length: {len(outputs)} vs {len(tasks)}")
        results: list[ExecutionResult | None] = [None] * len(outputs)
        syntax: list[SyntaxResult | None] = [None] * len(outputs)
        pending: dict[str, list[int]] = {}
        part: list[tuple[str, str, Task]] = []
        parts: list[tuple[list[str], Future[list[ExecutionResult]]]] = []
        stream: bool | None = None  # asked of the sandbox once a part is ready: no program, no sandbox

        def flush() -> None:
            parts.append(([key for key, _, _ in part], self._submit([(p, t) for _, p, t in part])))
            part.clear()

        for i, (out, task) in enumerate(zip(outputs, tasks)):
            program = extract_program(out, task)
            early, syntax[i] = self.precheck(program, task)
            if early is not None:
                results[i] = early
                continue
            key = self._key(program, task)
            hit = self._cache_get(key)
            if hit is not None:
                results[i] = _replace(hit, cached=True, syntax=syntax[i])
                continue
            if key not in pending:
                self.misses += 1
                part.append((key, program, task))
                if len(part) >= self._PARTS[min(len(parts), len(self._PARTS) - 1)]:
                    if stream is None:
                        stream = bool(getattr(self.sandbox, "queues_submissions", False))
                    if stream:
                        flush()
            pending.setdefault(key, []).append(i)
        if part:
            flush()

        def assemble(done: list[Future]) -> list[ExecutionResult]:
            for (keys, _), fut in zip(parts, done):
                for key, res in zip(keys, fut.result()):
                    self._cache_put(key, res)
                    for i in pending[key]:
                        results[i] = _replace(res, syntax=syntax[i])
            return [r if r is not None else ExecutionResult.infra("no result") for r in results]

        return gather([f for _, f in parts], assemble)

    def _submit(self, items: list[tuple[str, Task]]) -> Future[list[ExecutionResult]]:
        results: list[ExecutionResult | None] = [None] * len(items)
        runnable: list[int] = []
        tests: list[ProgramTests] = []
        for k, (_, task) in enumerate(items):
            try:  # a task whose tests cannot be built fails alone, never its neighbours
                tests.append(ProgramTests.from_task(task))
                runnable.append(k)
            except (ConfigError, ValueError, TypeError) as exc:
                results[k] = ExecutionResult.infra(f"bad tests for task {task.id!r}: {exc}")

        def fill(outcomes: list[ExecutionResult]) -> list[ExecutionResult]:
            for k, res in zip(runnable, outcomes):
                results[k] = res
            return [r if r is not None else ExecutionResult.infra("no result") for r in results]

        if not runnable:
            return done_future(fill([]))
        programs = [items[k][0] for k in runnable]
        try:
            started = submit_tests(self.sandbox, programs, tests, cpu_time_s=self.cpu_time_s, memory_mb=self.memory_mb,
                                   calibration=self.calibration)
        except ConfigError:
            raise  # a sandbox that cannot serve these tests is a configuration to fix, not a flaky run
        except Exception as exc:  # the sandbox failing is infrastructure, never the program's fault
            return done_future(fill(self._sandbox_failed(programs, exc)))
        return then(started, lambda done: fill(self._outcomes(programs, done)))

    def _outcomes(self, programs: list[str], done: Future) -> list[ExecutionResult]:
        try:
            outcomes = done.result()
        except Exception as exc:  # the sandbox failing is infrastructure, never the program's fault
            return self._sandbox_failed(programs, exc)
        if len(outcomes) != len(programs):
            return [ExecutionResult.infra(f"sandbox returned {len(outcomes)} results for {len(programs)}") for _ in programs]
        return [self._from_outcome(o) for o in outcomes]

    @staticmethod
    def _sandbox_failed(programs: list[str], exc: Exception) -> list[ExecutionResult]:
        logger.warning("sandbox run failed for %d programs: %s: %s", len(programs), type(exc).__name__, exc)
        return [ExecutionResult.infra(f"sandbox failed: {type(exc).__name__}: {exc}") for _ in programs]

    def _from_outcome(self, outcome: Any) -> ExecutionResult:
        status = ExecutionStatus(outcome.status.value)
        if status is ExecutionStatus.INFRA:
            return ExecutionResult.infra(_short(outcome.detail) or "sandbox infrastructure failure")
        passed = status is ExecutionStatus.PASSED and bool(outcome.passed)
        value = self.grading.value(passed, bool(outcome.parses), bool(outcome.runs), case_fraction(outcome))
        return ExecutionResult(
            status,
            value,
            success=passed,
            parses=bool(outcome.parses),
            runs=bool(outcome.runs),
            fraction=outcome.fraction,
            detail=_short(outcome.detail),
            **self._limit_of(outcome),
        )

    def _limit_of(self, outcome: Any) -> dict[str, Any]:
        """The time limit that applied, where limits are calibrated."""
        if self.calibration is None:
            return {}
        return {"time_limit_s": getattr(outcome, "time_limit_s", None), "limit_source": getattr(outcome, "limit_source", None),
                "rechecked": bool(getattr(outcome, "rechecked", False))}


def _short(text: Any, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(text or "")).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _replace(result: ExecutionResult, **changes: Any) -> ExecutionResult:
    return replace(result, **changes)
