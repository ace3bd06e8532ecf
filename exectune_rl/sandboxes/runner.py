"""Run a program against its tests: the common code-reward case.

Formats (``ProgramTests.format``):

- ``"check"``: HumanEval style: test code defining ``check(candidate)``, called with the
  ``entry_point`` function.
- ``"asserts"``: module-level ``assert`` statements and/or pytest-style ``test_*`` functions
  (MBPP, KodCode). ``from solution import ...`` in the tests imports the program.
- ``"io"``: stdin/stdout cases, one run each; works for every language the sandbox runs.

For Python, every ``assert`` in the tests is counted on its own, so the outcome carries the
fraction of test cases passed and not only a verdict. Passing requires that the test harness
ran to its end: a program that calls ``sys.exit(0)`` or ``os._exit(0)`` before or while its
tests run gets ``EARLY_EXIT``, never ``PASSED``.

Other languages plug in through :func:`register_harness`; ``javascript`` (tests appended to
the program, a failing ``assert`` throws) ships alongside Python.

Example:
    >>> from exectune_rl.sandboxes import LocalSandbox
    >>> tests = ProgramTests("asserts", code="assert add(1, 2) == 3\\nassert add(2, 2) == 5")
    >>> with LocalSandbox(workers=1) as sb:                              # doctest: +SKIP
    ...     [out] = run_tests(sb, ["def add(a, b):\\n    return a + b"], tests)
    >>> out.status, out.fraction                                          # doctest: +SKIP
    (<TestStatus.FAILED: 'failed'>, 0.5)
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import json
import logging
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from exectune_rl.errors import ConfigError
from exectune_rl.languages import normalize
from exectune_rl.sandboxes import _wire
from exectune_rl.sandboxes.base import (_COUNT_LIMITS, MAX_CPU_TIME_S, MAX_WALL_TIME_S, ExecRequest, ExecResult, ExecStatus,
                                        Sandbox, _count, _seconds)
from exectune_rl.sandboxes.futures import Future, done_future, then

__all__ = ["ProgramTests", "TestStatus", "TestOutcome", "TestHarness", "run_tests", "submit_tests", "arun_tests", "register_harness",
           "calibrate", "prompt_helpers"]

logger = logging.getLogger(__name__)


TEST_FORMATS = ("check", "asserts", "io")
"""The test formats the runner understands (see ``ProgramTests``)."""


class TestStatus(str, enum.Enum):
    """The verdict of a program against its tests."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    """The harness ran to its end and at least one case failed."""
    SYNTAX_ERROR = "syntax_error"
    RUNTIME_ERROR = "runtime_error"
    """An exception escaped (while defining the program or during a test)."""
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SIGNALED = "signaled"
    EARLY_EXIT = "early_exit"
    """The program exited before its tests finished (``sys.exit``/``os._exit``)."""
    INFRA = "infra"


_FROM_EXEC = {
    ExecStatus.SYNTAX_ERROR: TestStatus.SYNTAX_ERROR, ExecStatus.TIMEOUT: TestStatus.TIMEOUT,
    ExecStatus.MEMORY_LIMIT: TestStatus.MEMORY_LIMIT, ExecStatus.OUTPUT_LIMIT: TestStatus.OUTPUT_LIMIT,
    ExecStatus.SIGNALED: TestStatus.SIGNALED, ExecStatus.INFRA: TestStatus.INFRA,
    ExecStatus.RUNTIME_ERROR: TestStatus.RUNTIME_ERROR,
}


@dataclass(frozen=True)
class ProgramTests:
    """The tests a program must pass.

    Args:
        format: ``"check"``, ``"asserts"`` or ``"io"``.
        code: Test code (``check``/``asserts``). ``asserts`` code holds top-level asserts
            (each one case, counted once however often it runs) or pytest-style ``test_*``
            functions and ``Test*`` classes (each test, and each of its parametrized cases,
            one case), run without pytest's runner: parametrize marks, the module's own
            fixtures, ``capsys``, skip/xfail marks and setup/teardown methods work.
        entry_point: The function ``check`` is called with (``check`` only).
        cases: ``(stdin, expected_stdout)`` pairs (``io`` only).
        language: The program's language.
        support: Trusted Python code the tests rely on, run next to them before they start
            (``check``/``asserts`` only): helpers the task itself defines, such as the
            ``poly`` or ``encode_cyclic`` a HumanEval prompt gives. Names it binds take
            precedence over the program's, so a program cannot redefine a helper the tests
            call to check it. :meth:`from_task` takes it from a HumanEval-style prompt.
        reference: A program known to pass (the task's reference solution): what
            calibrated time limits are measured on (see ``run_tests(calibration=...)``).
    """

    __test__ = False

    format: str
    code: str = ""
    entry_point: str | None = None
    cases: tuple[tuple[str, str], ...] = ()
    language: str = "python"
    support: str = ""
    reference: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not self.language.strip():
            raise ConfigError(f"ProgramTests.language must be a non-empty str, got {self.language!r}")
        object.__setattr__(self, "language", normalize(self.language))  # "py" is "python"
        if self.format not in TEST_FORMATS:
            raise ConfigError(f"ProgramTests.format must be 'check', 'asserts' or 'io', got {self.format!r}")
        if self.format == "check" and not (self.code and self.entry_point):
            raise ConfigError("ProgramTests(format='check') needs test code and an entry_point")
        if self.format == "asserts" and not self.code:
            raise ConfigError("ProgramTests(format='asserts') needs test code")
        if self.format == "io" and not self.cases:
            raise ConfigError("ProgramTests(format='io') needs at least one (stdin, expected) case")
        object.__setattr__(self, "cases", tuple((str(i), str(o)) for i, o in self.cases))

    @classmethod
    def from_task(cls, task: Any) -> "ProgramTests":
        """Build the tests of a code ``Task`` (its ``tests``, ``test_format``, ``entry_point``)."""
        fmt = getattr(task, "test_format", "check") or "check"
        if fmt == "io":
            import json

            raw = task.tests
            cases = json.loads(raw) if isinstance(raw, str) else raw
            return cls("io", cases=tuple(tuple(c) for c in cases), language=task.language,
                       reference=getattr(task, "reference", None) or None)
        support = ""
        if fmt == "check" and task.entry_point and task.language == "python":
            support = prompt_helpers(getattr(task, "problem", "") or "", task.entry_point)
        return cls(fmt, code=task.tests or "", entry_point=task.entry_point, language=task.language, support=support,
                   reference=getattr(task, "reference", None) or None)


_OPEN_BODY = ('"' * 3, "'" * 3, ":")


@functools.lru_cache(maxsize=4096)
def prompt_helpers(prompt: str, entry_point: str) -> str:
    """The helpers a code prompt defines besides its entry point (imports included).

    A HumanEval prompt is Python: the entry point's signature and docstring, sometimes after
    helper functions the tests call (``poly``, ``encode_cyclic``). Returns '' when the prompt
    is not Python or does not declare ``entry_point``.
    """
    body = "\n    pass\n" if prompt.rstrip().endswith(_OPEN_BODY) else ""
    try:
        tree = ast.parse(prompt + body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    if not any(isinstance(n, funcs) and n.name == entry_point for n in tree.body):
        return ""
    keep = [n for n in tree.body if isinstance(n, (*funcs, ast.ClassDef, ast.Import, ast.ImportFrom))
            and getattr(n, "name", None) != entry_point]
    if not any(isinstance(n, (*funcs, ast.ClassDef)) for n in keep):
        return ""
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


@dataclass(frozen=True)
class TestOutcome:
    """How a program fared against its tests.

    Attributes:
        status: The verdict.
        passed: True only when every case passed and the harness ran to its end.
        parses: The program compiled.
        runs: The program's own code ran without raising (before the tests).
        passed_cases / total_cases: Cases passed and seen, where the format allows.
        fraction: ``passed_cases / total_cases`` (None where unknown).
        detail: A short reason.
        results: The raw sandbox results (one per run).
    """

    __test__ = False

    status: TestStatus
    passed: bool
    parses: bool
    runs: bool
    passed_cases: int | None = None
    total_cases: int | None = None
    fraction: float | None = None
    detail: str = ""
    results: tuple[ExecResult, ...] = ()
    time_limit_s: float | None = None
    """The CPU limit of the run that gave this outcome."""
    limit_source: str = "hard"
    """Where that limit came from (``"hard"``: the caller's; ``"reference"``, ``"first_pass"``,
    ``"baseline"``: a calibration, see :mod:`exectune_rl.sandboxes.calibration`)."""
    rechecked: bool = False
    """The program ran out of a calibrated limit and was re-run at the hard limit."""
    harness_mode: str = "out_of_process"
    """``"out_of_process"``: the tests ran in a trusted judge process (or, for ``io``, the
    output was compared outside the program's process); ``"inprocess"``: the tests ran inside
    the program's process (other languages, or a sandbox without ``supports_judge``)."""

    @property
    def is_infra(self) -> bool:
        return self.status is TestStatus.INFRA


HARNESS_MODES = ("out_of_process", "inprocess")


class TestHarness(Protocol):
    """Turns (program, tests) into sandbox requests and their results into an outcome.

    ``limits`` carries the run limits and ``harness_mode`` (``"out_of_process"`` when the
    sandbox runs a separate judge, ``"inprocess"`` otherwise).
    """

    def build(self, program: str, tests: ProgramTests, nonce: str, limits: dict[str, Any]) -> list[ExecRequest]: ...

    def evaluate(self, program: str, tests: ProgramTests, nonce: str, results: list[ExecResult]) -> TestOutcome: ...


# --------------------------------------------------------------------------- Python


class _CountAsserts(ast.NodeTransformer):
    """Rewrites each ``assert`` into a counted check that does not stop the suite.

    Each rewritten assert is one case (its *site*), however often it runs: it passes only if
    every run passed (see ``_tally.CaseTally``). Left alone, with Python's own semantics:
    asserts in pytest-style ``test_*`` functions (each such function is one case, failed by
    its first failing assert, as in pytest), in classes, and, where the tests have ``test_*``
    functions, in every function (their helpers: a failing assert fails the test calling it).
    """

    def __init__(self, in_functions: bool = True) -> None:
        self.count = 0
        self.in_functions = in_functions

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        if node.name.startswith("test") or not self.in_functions:
            return node
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        return node

    def visit_Assert(self, node: ast.Assert) -> Any:
        if isinstance(node.test, ast.Constant) and node.test.value:
            return node  # ``assert True, "..."`` checks nothing: no case any program could fail
        if any(isinstance(n, ast.NamedExpr) for n in ast.walk(node.test)):
            return self._counted_in_place(node)
        return ast.copy_location(ast.Expr(self._case(node.test)), node)

    def _case(self, body: ast.expr) -> ast.Call:
        call = ast.Call(func=ast.Name("__et_case", ast.Load()), args=[ast.Lambda(
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=body), ast.Constant(self.count)], keywords=[])
        self.count += 1
        return call

    def _counted_in_place(self, node: ast.Assert) -> Any:
        """An assert whose test binds a name (``assert (r := f(1)) == 2``): the test runs where
        the assert stood, so the name is bound there as in Python; its outcome (a value, or
        what it raised) is then the counted case's."""
        tree = ast.parse(
            "try:\n    __et_r = (TEST,)\nexcept BaseException as __et_x:\n    __et_r = __et_x\n"
            "__et_case(lambda __et_r=__et_r: __et_r[0] if type(__et_r) is tuple "
            "else (_ for _ in ()).throw(__et_r), SITE)\n")
        for n in ast.walk(tree):
            if isinstance(n, ast.Tuple) and n.elts and isinstance(n.elts[0], ast.Name) and n.elts[0].id == "TEST":
                n.elts[0] = node.test
            elif isinstance(n, ast.Name) and n.id == "SITE":
                n.__class__, n.value = ast.Constant, self.count  # type: ignore[assignment]
        self.count += 1
        return [ast.copy_location(stmt, node) for stmt in tree.body]

    def visit_If(self, node: ast.If) -> Any:
        # ``if C: assert False`` (or ``raise AssertionError``), alone in its branch, is ``assert not C``:
        # one case, passed when the branch is not taken (it is never skipped, so never uncounted)
        only = node.body[0] if len(node.body) == 1 and not node.orelse else None
        failing = isinstance(only, ast.Assert) and isinstance(only.test, ast.Constant) and not only.test.value
        raising = isinstance(only, ast.Raise) and only.cause is None and isinstance(only.exc, (ast.Name, ast.Call)) and \
            getattr(only.exc.func if isinstance(only.exc, ast.Call) else only.exc, "id", "") == "AssertionError"
        if failing or raising:
            return self.visit_Assert(ast.copy_location(ast.Assert(test=ast.UnaryOp(ast.Not(), node.test)), node))
        return self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> Any:
        # a call of numpy's or pandas's own testing asserts (``np.testing.assert_allclose(...)``),
        # written as a statement: a case, passed when it does not raise
        call = node.value
        if isinstance(call, ast.Call) and _library_assert(call.func):
            return ast.copy_location(ast.Expr(self._case(ast.BoolOp(ast.Or(), [
                ast.Compare(call, [ast.IsNot()], [ast.Constant(...)]), ast.Constant(True)]))), node)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        return node  # asserts cannot live in lambdas; keep them untouched


# The program ran first and may have patched builtins or modules: the harness uses truth
# testing (no ``bool`` lookup) and writes its marks with ``__et_write``/``__et_flush``, the
# real ``os.write`` and streams captured before the program ran. Its names, the completion
# token among them, live in a namespace the program's own functions cannot see. (Code that
# walks interpreter frames could still find them: the marks resist exits, patching and
# forged globals, not introspection.)
_TALLY = (Path(__file__).with_name("_tally.py")).read_text(encoding="utf-8")
_PY_PRELUDE = _TALLY + """
__et_tally = CaseTally()
del CaseTally
def __et_case(test, site=None):
    if site is None:
        __et_tally.depth += 1
    try:
        ok = True if test() else False
    except BaseException as exc:
        if type(exc).__name__ == "Skipped" and any(c.__module__ == "_pytest.outcomes" for c in type(exc).__mro__):
            if site is None:
                __et_tally.planned -= 1
            return
        if not isinstance(exc, Exception):
            __et_tally.cut_short(site)  # a run cut short (an exit): that assert has not passed
            raise
        ok = False
    finally:
        if site is None:
            __et_tally.depth -= 1
    __et_tally.record(site, ok)
    if not ok and site is not None and __et_tally.depth:
        raise AssertionError("a counted assert failed in this test")
__et_plan = __et_tally.plan
__et_harness_error = LookupError  # a fixture no harness here provides fails its case (in the judge: INFRA)
def __et_mark(text):
    __et_flush()
    __et_write(1, ("\\n" + text + "\\n").encode())
"""


# pytest-style tests run without pytest's runner: the helper in ``_pytest_cases.py`` (trusted
# code, put as text before the tests' calls) expands each test into its cases; see there.
_PYTEST_CASES = (Path(__file__).with_name("_pytest_cases.py")).read_text(encoding="utf-8")



def _decorator_name(dec: ast.expr) -> str:
    """``parametrize`` for ``@pytest.mark.parametrize(...)``, ``skip`` for ``@unittest.skip(...)``."""
    target = dec.func if isinstance(dec, ast.Call) else dec
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def _parametrized_cases(fn: ast.FunctionDef) -> int:
    """How many cases a test's literal ``parametrize`` decorators give (1 without any, 0 when skipped)."""
    n = 1
    for dec in fn.decorator_list:
        name = _decorator_name(dec)
        if name in ("skip", "expectedFailure") or name == "xfail" and not (isinstance(dec, ast.Call) and dec.args):
            return 0  # pytest's and unittest's skip (a reason only), an unconditional xfail
        if name == "parametrize" and isinstance(dec, ast.Call) and len(dec.args) >= 2 \
                and isinstance(dec.args[1], (ast.List, ast.Tuple)):
            n *= sum(1 for e in dec.args[1].elts if not _skipped_param(e))
    return n


def _skipped_param(node: ast.expr) -> bool:
    """``pytest.param(..., marks=pytest.mark.skip...)``: a parametrized case pytest would skip."""
    return isinstance(node, ast.Call) and any(k.arg == "marks" and "skip" in ast.unparse(k.value)
                                              and "skipif" not in ast.unparse(k.value) for k in node.keywords)


def _without_script_entry(tree: ast.Module, has_tests: bool) -> list[ast.stmt]:
    """The tests less what runs them as a script: the harness runs and counts their cases
    itself. An ``if __name__ == "__main__":`` block is what pytest makes of it (its ``else``)
    where the file has tests (test functions or classes: the block would run them, uncounted,
    or start a runner), and both branches where it has none (asserts there count, in both
    harness modes, whichever branch the author meant to run them); a top-level statement that starts a runner
    (``unittest.main``, ``pytest.main``, a ``TextTestRunner``, however imported or wrapped) or
    exits (``sys.exit``, ``raise SystemExit``) is left out either way."""
    runners = {"unittest.main", "pytest.main", "unittest.TextTestRunner", "unittest.TestProgram"}
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            runners |= {f"{a.asname or a.name}.{m}" for a in n.names if a.name in ("unittest", "pytest")
                        for m in ("main", "TextTestRunner", "TestProgram")}
        elif isinstance(n, ast.ImportFrom) and n.module in ("unittest", "pytest"):
            runners |= {a.asname or a.name for a in n.names if a.name in ("main", "TextTestRunner", "TestProgram")}
    exits = {"sys.exit", "exit", "quit", "os._exit", "SystemExit"}
    stops = runners | exits

    def is_main_guard(test: ast.expr) -> bool:
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
            return False
        sides = [test.left, test.comparators[0]]
        return (any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides)
                and any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides))

    def script_only(node: ast.stmt) -> bool:
        if isinstance(node, ast.Raise):
            return node.exc is not None and ast.unparse(getattr(node.exc, "func", node.exc)) in exits
        return any(isinstance(c, ast.Call) and ast.unparse(c.func) in stops for c in ast.walk(node))

    def strip(body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for node in body:
            if isinstance(node, ast.If) and is_main_guard(node.test):
                out += strip(node.orelse if has_tests else node.body + node.orelse)
            elif not (isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Raise)) and script_only(node)):
                out.append(node)
        return out or [ast.Pass()]

    return strip(tree.body)


def _test_classes(body: list[ast.stmt]) -> dict[str, dict[str, ast.FunctionDef]]:
    """The module's test classes, each with its ``test*`` methods (those it inherits from the
    module's other classes included, its own overriding), in order: as pytest collects them,
    every ``unittest.TestCase`` subclass whatever its name (a base spelt ``TestCase``,
    ``unittest.TestCase``, ``IsolatedAsyncioTestCase``... or a class of the module deriving
    from one), and every other class named ``Test*`` (less one with ``__test__ = False``)."""
    classes = {c.name: c for c in body if isinstance(c, ast.ClassDef)}
    # TestCase under a name of the tests' own (``from unittest import TestCase as TC``)
    aliases = {a.asname or a.name for n in body if isinstance(n, ast.ImportFrom) and n.module in ("unittest", "unittest.case")
               for a in n.names if a.name.endswith("TestCase")}
    unit: set[str] = set()
    methods: dict[str, dict[str, ast.FunctionDef]] = {}
    for cls in classes.values():
        own = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef) and m.name.startswith("test")}
        inherited: dict[str, ast.FunctionDef] = {}
        for base in reversed(cls.bases):
            name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
            if name.endswith("TestCase") and name not in classes or name in unit or name in aliases:
                unit.add(cls.name)
            inherited.update(methods.get(name, {}))
        methods[cls.name] = inherited | own
        if cls.name in unit and not methods[cls.name]:  # a TestCase with only runTest: pytest runs that
            methods[cls.name] = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef) and m.name == "runTest"}
    out = {}
    for name, cls in classes.items():
        off = any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__test__" for t in n.targets)
                  and isinstance(n.value, ast.Constant) and not n.value.value for n in cls.body)
        off = off or any(_decorator_name(d) == "skip" for d in cls.decorator_list)  # unittest.skip(...) of the class
        if (name in unit or name.startswith("Test")) and not off:
            out[name] = methods[name]
    return out


@functools.lru_cache(maxsize=4096)
def _python_tests(code: str) -> tuple[str, int, tuple[str, ...], int]:
    """Counted test code, the number of static asserts, the ``test_*`` functions, and the
    cases those functions give (their literal ``parametrize`` lists counted) (cached)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, 0, (), 0
    # leaving out the script entry (a main guard, runner and exit calls) removes no class
    classes = _test_classes(tree.body)
    has_tests = bool(classes) or any(isinstance(n, ast.FunctionDef) and n.name.startswith("test") for n in tree.body)
    tree.body = _without_script_entry(tree, has_tests)
    fns = [(n.name, n) for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    fns += [(f"{cls}.{name}", m) for cls, methods in classes.items() for name, m in methods.items()]
    counter = _CountAsserts(in_functions=not fns)
    tree = ast.fix_missing_locations(counter.visit(tree))
    return ast.unparse(tree), counter.count, tuple(name for name, _ in fns), sum(_parametrized_cases(n) for _, n in fns)




_MODULE_ALIASES = _wire.WELL_KNOWN_PACKAGES | {"np", "pd", "sp", "nx", "torch", "plt"}
_TESTING_ROOTS = frozenset({"np", "numpy", "pd", "pandas"})


def _library_assert(func: ast.expr) -> bool:
    """``np.testing.assert_allclose``, ``pd.testing.assert_frame_equal``: an ``assert*`` of a
    ``testing`` module of numpy or pandas (names the judge binds only to those modules)."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    return (isinstance(func, ast.Name) and func.id in _TESTING_ROOTS and len(parts) >= 2
            and parts[0].startswith("assert") and "testing" in parts[1:])
"""Names tests commonly use for a third-party module: only a module (never another object of the
program) may answer for one the tests use without importing it."""


def _module_bound(body: list[ast.stmt]) -> set[str]:
    """Names the tests bind at module level (imports, definitions, assignments, loop targets),
    looking into top-level ``if``/``for``/``while``/``with``/``try`` blocks, never into a
    function or class."""
    bound: set[str] = set()
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            bound.update(n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names)
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                bound |= _module_bound([child])
            elif not isinstance(child, ast.expr) or isinstance(child, (ast.Name, ast.Tuple, ast.List, ast.Starred)):
                for name in ast.walk(child):
                    if isinstance(name, ast.Name) and not isinstance(name.ctx, ast.Load):
                        bound.add(name.id)
            elif isinstance(child, ast.NamedExpr):
                bound.add(child.target.id)
        for handler in getattr(node, "handlers", ()):
            if handler.name:
                bound.add(handler.name)
            bound |= _module_bound(handler.body)
    return bound


@functools.lru_cache(maxsize=4096)
def _module_names(code: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """For the judge: the standard-library modules the tests use (``math.isclose``) without
    binding the name at module level, the well-known third-party module names they use so, and
    every name the tests bind at module level (cached).

    The judge imports the first (the real modules), drops the program's value of the second
    unless it is a module, drops the program's value of every name of the third (the tests'
    own, even where used before they bind it), and lets a star import of the program's names
    rebind none of the three, nor a builtin's name: a program's ``math = Fake()``, ``abs = ...``
    or ``check_result = ...`` never answers for the tests.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return (), (), ()
    bound = _module_bound(tree.body)
    bases = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    bases |= {n.args[0].id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
              and n.func.id in ("getattr", "hasattr") and n.args and isinstance(n.args[0], ast.Name)}
    free = bases - bound - set(dir(builtins))
    return (tuple(sorted(free & _wire.STDLIB_MODULES)), tuple(sorted(free & _MODULE_ALIASES - _wire.STDLIB_MODULES)),
            tuple(sorted(bound)))


_STAR_IMPORT = re.compile(r"^(\s*)from\s+solution\s+import\s+\*\s*$", re.M)


def _may_hold_tests(code: str, test_fns: tuple[str, ...]) -> bool:
    """Whether the tests may define pytest- or unittest-style tests: some are written out, or
    the code names ``test``/``Test`` at all (tests made in a loop, by a factory, on a class)."""
    return bool(test_fns) or re.search(r"test|Test", code) is not None


def _pytest_calls(indent: str = "", own: tuple[str, ...] = ()) -> str:
    """The calls that run pytest-style tests (``__et_collect`` finds them once the tests'
    code has run): one counted case per (parametrized) case.

    Every test is expanded before any runs, as pytest collects before it runs: a test that
    changes a list a later test is parametrized by (through the program) changes nothing.
    """
    # the module's setup_module/teardown_module (pytest's and nose's names) around them all,
    # only where the tests define them
    around = {name: (f"{indent}{name}(*[__et_module(globals())][:{name}.__code__.co_argcount])\n" if name in own else "")
              for name in ("setup_module", "teardown_module", "setUpModule", "tearDownModule")}
    hooks = ", ".join(name if name in own else "None" for name in ("setup_function", "teardown_function", "pytest_generate_tests"))
    return (around["setup_module"] + around["setUpModule"]
            + f"{indent}globals()['__et_function_hooks'] = ({hooks})\n"
            + f"{indent}__et_all = [__et_pytest(__et_g, globals()) for __et_g in\n"
            f"{indent}            __et_collect(globals(), (lambda: 0).__code__.co_filename)]\n"
            f"{indent}__et_plan(sum(len(__et_cs) for __et_cs in __et_all))\n"
            f"{indent}for __et_cs in __et_all:\n"
            f"{indent}    for __et_c in __et_cs:\n{indent}        __et_case(__et_c)\n"
            + around["teardown_module"] + around["tearDownModule"])


@functools.lru_cache(maxsize=4096)
def _python_epilogue(code: str, fmt: str, entry_point: str | None) -> str:
    """The harness run after the program: counted tests between completion marks (cached)."""
    counted, _, test_fns, _ = _python_tests(code)
    pytest_style = fmt != "check" and _may_hold_tests(code, test_fns)
    if fmt == "check":
        call = f"check({entry_point})"
    else:
        call = _pytest_calls("    ", _module_names(code)[2]) if pytest_style else "    pass"
        call = "def __et_run():\n" + call + "\n__et_run()"
    pytest_cases = _PYTEST_CASES if pytest_style else ""
    return "\n".join([
        _PY_PRELUDE + pytest_cases, "__et_mark(__et_nonce + ':ran')", "try:",
        _indent(counted + "\n" + call), "finally:",
        "    __et_mark(__et_nonce + ':done %d %d %d' % (__et_tally.passed, __et_tally.seen, __et_tally.planned))",
        "__et_mark(__et_nonce + ':completed')",
    ])


@functools.lru_cache(maxsize=4096)
def _python_judge(code: str, fmt: str, entry_point: str | None, support: str = "") -> str:
    """The judge's code: counted tests, then the call that runs them (cached).

    The entry point is looked up on the ``solution`` module, never by a bare name that a
    builtin of the same name could answer.
    """
    counted, _, test_fns, _ = _python_tests(code)
    if fmt == "check":
        call = (f"import solution as __et_solution\n"
                f"if not hasattr(__et_solution, {entry_point!r}):\n"
                f"    raise NameError('the program defines no {entry_point}')\n"
                f"check(getattr(__et_solution, {entry_point!r}))")
    else:
        own = _module_names((support + "\n" if support else "") + code)[2]
        call = (_PYTEST_CASES + "\n" + _pytest_calls("", own)) if _may_hold_tests(code, test_fns) else ""
    stdlib, aliases, bound = _module_names((support + "\n" if support else "") + code)
    # the real module, or the real member of that name where the program bound one under it
    # (``from datetime import datetime``): never the program's own object
    head = "".join(f"import {name} as __et_m\nglobals()[{name!r}] = __et_m if isinstance(globals().get({name!r}, __et_m), "
                   f"type(__et_m)) or not hasattr(__et_m, {name!r}) else getattr(__et_m, {name!r})\n" for name in stdlib)
    if bound:  # a name the tests define is theirs from the start: used before its definition, it is unbound, as in Python
        head += f"for __et_n in {bound!r}:\n    globals().pop(__et_n, None)\n"
    if aliases:
        head += (f"import types as __et_types\nfor __et_n in {aliases!r}:\n"
                 f"    if not isinstance(globals().get(__et_n), __et_types.ModuleType):\n"
                 f"        globals().pop(__et_n, None)\n")
    if _STAR_IMPORT.search(counted):
        # the program's public names, less those the tests bind themselves (in their text, or
        # a test* name bound by the time of the import), the module names above and builtins'
        # names (whatever the program defines under them)
        keep = tuple(sorted(set(stdlib) | set(aliases) | set(bound)))
        counted = _STAR_IMPORT.sub(lambda m: m.group(1) + (
            "import solution as __et_star, builtins as __et_builtins; globals().update({__k: __v for __k, __v in "
            f"vars(__et_star).items() if not __k.startswith('_') and __k not in {keep!r} and not hasattr(__et_builtins, __k)"
            " and not (__k[:4] in ('test', 'Test') and __k in globals())})"),  # a test the tests made at run time
            counted)
    return head + (support + "\n" if support else "") + counted + "\n" + call + "\n"


class PythonHarness:
    """Tests in a trusted judge process (``out_of_process``, the default where the sandbox
    supports it), or appended to the program as a cached ``epilogue`` (``inprocess``)."""

    def build(self, program: str, tests: ProgramTests, nonce: str, limits: dict[str, Any]) -> list[ExecRequest]:
        limits = dict(limits)
        mode = limits.pop("harness_mode", "inprocess")
        load = limits.pop("load_cpu_time_s", None)  # for judged runs: the one kind that reports its import
        if tests.format == "io":
            return [ExecRequest(program, stdin=i, **limits) for i, _ in tests.cases]
        if mode == "out_of_process":
            judge = _python_judge(tests.code, tests.format, tests.entry_point, tests.support)
            return [ExecRequest(program, judge=judge, load_cpu_time_s=load, **limits)]
        files: dict[str, str] = {}
        if re.search(r"^\s*(from\s+solution\s+import|import\s+solution)", tests.code, re.M):
            files["solution.py"] = program
        epilogue = _python_epilogue((tests.support + "\n" if tests.support else "") + tests.code, tests.format, tests.entry_point)
        return [ExecRequest(program, files=files, epilogue=epilogue, epilogue_globals={"__et_nonce": nonce}, **limits)]

    def evaluate(self, program: str, tests: ProgramTests, nonce: str, results: list[ExecResult]) -> TestOutcome:
        if tests.format == "io":
            return _evaluate_io(tests, results)
        [res] = results
        if nonce.startswith(_JUDGED):
            return _evaluate_judged(tests, res)
        _, static, _, fn_cases = _python_tests(tests.code)
        expected = static + fn_cases if tests.format == "asserts" else static
        if res.status is ExecStatus.SYNTAX_ERROR:
            return TestOutcome(TestStatus.SYNTAX_ERROR, False, False, False,
                               detail=f"program does not compile: {res.stderr.strip()[-300:]}", results=(res,))
        if res.status is ExecStatus.INFRA and "epilogue" in res.detail:
            return TestOutcome(TestStatus.INFRA, False, True, False, detail="test code does not compile", results=(res,))
        out = res.stdout
        ran = f"{nonce}:ran" in out
        done = _counts_after(out, f"{nonce}:done ")
        completed = f"{nonce}:completed" in out
        passed_n, seen, planned = done if done else (0 if ran else None, None, 0)
        total = max(seen or 0, expected, static + planned) or seen
        fraction = (passed_n / total) if (total and passed_n is not None) else (0.0 if ran else None)
        if res.status is ExecStatus.OK and not completed:
            status, detail = TestStatus.EARLY_EXIT, "the program exited before its tests finished"
        elif res.status is ExecStatus.OK and not seen and not expected:
            status, detail = TestStatus.INFRA, _NO_CASES
        elif res.status is ExecStatus.OK:
            ok = bool(seen) and passed_n == seen
            if ok:
                total, fraction = seen, 1.0
            status, detail = (TestStatus.PASSED, "") if ok else (TestStatus.FAILED, f"{passed_n}/{total} cases passed")
        else:
            status = _FROM_EXEC.get(res.status, TestStatus.RUNTIME_ERROR)
            detail = res.detail or res.status.value
        return TestOutcome(status, status is TestStatus.PASSED, True, ran, passed_n, total,
                           fraction, detail, (res,), harness_mode="inprocess")


_NO_CASES = ("the tests hold no case this harness runs (no assert, no test function, no TestCase "
             "method; skipped tests, and async ones neither in an IsolatedAsyncioTestCase nor marked asyncio, "
             "are not run): "
             "a fault of the tests, not the program's")
"""Detail of a completed run whose tests, as written, count no case at all (an ``infra`` outcome)."""

_JUDGED = "judged-"
"""Nonce prefix of a plan built for the judge (``out_of_process``)."""


def _evaluate_judged(tests: ProgramTests, res: ExecResult) -> TestOutcome:
    """The outcome from what the judge counted and how the program's process ended.

    Only the judge's counts give credit; a pass needs every case passed, the tests run to
    their end, and the program's process alive and well throughout.
    """
    _, static, _, fn_cases = _python_tests(tests.code)
    expected = static + fn_cases if tests.format == "asserts" else static
    if res.status is ExecStatus.SYNTAX_ERROR:
        return TestOutcome(TestStatus.SYNTAX_ERROR, False, False, False, 0, expected or None, 0.0 if expected else None,
                           f"program does not compile: {res.stderr.strip()[-300:]}", (res,))
    v = res.verdict
    if res.status is ExecStatus.INFRA or v is None or v.get("harness_error"):
        why = (v or {}).get("harness_error") or res.detail or "the judge gave no verdict"
        return TestOutcome(TestStatus.INFRA, False, True, False, detail=why, results=(res,))
    ready = bool(v.get("ready"))
    passed_n, seen = int(v.get("passed", 0)), int(v.get("seen", 0))
    planned = int(v.get("planned") or 0) if tests.format == "asserts" else 0
    total = max(seen, expected, static + planned) or None
    fraction = passed_n / total if total else (0.0 if ready else None)
    failures = "; ".join(v.get("failures") or ())
    if v.get("import_error"):
        status, detail = _FROM_EXEC.get(res.status, TestStatus.RUNTIME_ERROR), f"the program raised on import: {v['import_error']}"
        if status in (TestStatus.INFRA,):
            status = TestStatus.RUNTIME_ERROR
        return TestOutcome(status, False, True, False, 0, expected or None, 0.0, detail, (res,))
    if v.get("timed_out") and res.status in (ExecStatus.OK, ExecStatus.SIGNALED):
        # stopped, asleep or blocked: the judge's deadline passed, then the worker killed it
        status, detail = TestStatus.TIMEOUT, f"wall-clock limit hit ({v.get('program_gone') or 'no answer'})"
    elif res.status is not ExecStatus.OK:
        status = _FROM_EXEC.get(res.status, TestStatus.RUNTIME_ERROR)
        detail = res.detail or res.status.value
    elif v.get("program_gone"):
        status, detail = TestStatus.EARLY_EXIT, f"the program exited before its tests finished ({v['program_gone']})"
    elif v.get("error"):
        status, detail = TestStatus.RUNTIME_ERROR, f"the tests stopped: {v['error']}"
    elif v.get("completed") and not seen and not expected:
        status, detail = TestStatus.INFRA, _NO_CASES
    elif v.get("completed"):
        # Every case the tests ran passed: a pass, as under the tests' own semantics (an
        # ``assert False`` after a call expected to raise is never reached).
        ok = seen > 0 and passed_n == seen
        if ok:
            total, fraction = seen, 1.0
        status = TestStatus.PASSED if ok else TestStatus.FAILED
        detail = "" if ok else f"{passed_n}/{total} cases passed" + (f" ({failures})" if failures else "")
    else:
        status, detail = TestStatus.RUNTIME_ERROR, "the tests did not finish"
    return TestOutcome(status, status is TestStatus.PASSED, True, ready, passed_n, total, fraction, detail, (res,))


def _indent(code: str) -> str:
    return "\n".join("    " + line if line.strip() else line for line in code.splitlines()) or "    pass"


def _counts_after(out: str, mark: str) -> tuple[int, int, int] | None:
    """``passed seen planned`` printed after ``mark`` (a plain find: a regex per nonce would not cache)."""
    at = out.find(mark)
    if at < 0:
        return None
    fields = out[at + len(mark):].split("\n", 1)[0].split()
    try:
        return int(fields[0]), int(fields[1]), int(fields[2]) if len(fields) > 2 else 0
    except (IndexError, ValueError):
        return None


_LINE_END_SPACE = " \t"


def _normalise(text: str) -> str:
    """Output as ``io`` cases compare it: lines split at ``\n`` (``\r\n`` too), ASCII spaces
    and tabs at line ends and blank lines at either end ignored; everything else counts (a
    first line's indent, ``\r``, ``\x1c`` or U+2028 inside a line, non-ASCII spaces)."""
    lines = [(line[:-1] if line.endswith("\r") else line).rstrip(_LINE_END_SPACE) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    return "\n".join(lines[start:])


def _evaluate_io(tests: ProgramTests, results: list[ExecResult]) -> TestOutcome:
    if any(r.status is ExecStatus.INFRA for r in results):
        return TestOutcome(TestStatus.INFRA, False, False, False, detail="sandbox failure", results=tuple(results))
    if any(r.status is ExecStatus.SYNTAX_ERROR for r in results):
        return TestOutcome(TestStatus.SYNTAX_ERROR, False, False, False, 0, len(results), 0.0,
                           "program does not compile", tuple(results))
    ok = [r.status is ExecStatus.OK and _normalise(r.stdout) == _normalise(exp) for r, (_, exp) in zip(results, tests.cases)]
    n = sum(ok)
    if n == len(ok):
        status, detail = TestStatus.PASSED, ""
    else:
        bad = next(r for r, good in zip(results, ok) if not good)
        status = TestStatus.FAILED if bad.status is ExecStatus.OK else _FROM_EXEC.get(bad.status, TestStatus.RUNTIME_ERROR)
        detail = f"{n}/{len(ok)} cases passed"
    runs = any(r.status is ExecStatus.OK for r in results)
    return TestOutcome(status, n == len(ok), True, runs, n, len(ok), n / len(ok), detail, tuple(results))


# --------------------------------------------------------------------------- scripts


class ScriptHarness:
    """Tests appended to the program; a failing test throws. One verdict, no fractions.

    Args:
        language: The sandbox language name.
        mark: A statement template printing its argument on a line of its own.
    """

    def __init__(self, language: str, mark: str) -> None:
        self.language = language
        self.mark = mark

    def build(self, program: str, tests: ProgramTests, nonce: str, limits: dict[str, Any]) -> list[ExecRequest]:
        limits = {k: v for k, v in limits.items() if k not in ("harness_mode", "load_cpu_time_s")}
        if tests.format == "io":
            return [ExecRequest(program, language=self.language, stdin=i, **limits) for i, _ in tests.cases]
        call = f"\n{tests.entry_point and tests.format == 'check' and f'check({tests.entry_point});' or ''}\n"
        if self.language == "javascript":
            return [ExecRequest(_js_harness(program, tests.code + call), language=self.language, stdin=nonce + "\n", **limits)]
        script = "\n".join([program, self.mark.format(f"{nonce}:ran"), tests.code, call, self.mark.format(f"{nonce}:completed")])
        return [ExecRequest(script, language=self.language, **limits)]

    def evaluate(self, program: str, tests: ProgramTests, nonce: str, results: list[ExecResult]) -> TestOutcome:
        if tests.format == "io":
            return _evaluate_io(tests, results)
        [res] = results
        ran, completed = f"{nonce}:ran" in res.stdout, f"{nonce}:completed" in res.stdout
        if res.status is ExecStatus.OK:
            status = TestStatus.PASSED if completed else TestStatus.EARLY_EXIT
        elif res.status is ExecStatus.RUNTIME_ERROR and ran:
            status = TestStatus.FAILED
        else:
            status = _FROM_EXEC.get(res.status, TestStatus.RUNTIME_ERROR)
        passed = status is TestStatus.PASSED
        parses = status not in (TestStatus.SYNTAX_ERROR, TestStatus.INFRA)
        return TestOutcome(status, passed, parses, ran, int(passed), 1, float(passed), res.detail, (res,),
                           harness_mode="inprocess")


_JS_HARNESS = r"""'use strict';
(() => {
  const fs = require('fs'), vm = require('vm');
  const write = fs.writeSync, run = vm.runInThisContext, nodeRequire = require;
  let nonce = '';
  try { nonce = fs.readFileSync(0, 'utf8').trim(); } catch (e) {}
  try { fs.closeSync(0); } catch (e) {}
  try { fs.unlinkSync(__filename); } catch (e) {}
  const assert = require('assert');
  Object.freeze(assert.strict);
  Object.freeze(assert);
  const ASSERTS = new Set(['assert', 'node:assert', 'assert/strict', 'node:assert/strict']);
  const testsRequire = (name) => ASSERTS.has(name) ? (name.endsWith('strict') ? assert.strict : assert) : nodeRequire(name);
  const mark = (text) => write(1, '\n' + nonce + ':' + text + '\n');
  const program = __PROGRAM__;
  const tests = __TESTS__;
  const m = { exports: {} };
  Object.assign(globalThis, { require: nodeRequire, module: m, exports: m.exports, __filename: 'solution.js', __dirname: process.cwd() });
  run(program, { filename: 'solution.js' });
  mark('ran');
  run('(function (require) {\n\'use strict\';\n' + tests + '\n})', { filename: 'tests.js' })(testsRequire);
  mark('completed');
})();
"""


def _js_harness(program: str, tests: str) -> str:
    """A JavaScript program and its tests in one node process, the verdict kept from the program.

    The completion nonce comes on stdin, which the harness reads and closes before the program
    runs, and the harness's file is removed first: the program never sees the nonce nor the
    tests' text. The markers are written through ``fs.writeSync`` taken before the program runs,
    so replacing ``console.log`` forges nothing; ``assert`` is frozen, and the tests get it
    through their own ``require`` (a program's ``Module._load`` cannot answer for it). The
    program runs as a script of its own (its declarations are the tests' globals, as in one
    file); the tests run in strict mode, so a program's function cannot reach them through
    ``caller``. It is one process still: a program scanning its own memory for the nonce could
    forge the mark (the Python judge, in a process of its own, rules that out).
    """
    return _JS_HARNESS.replace("__PROGRAM__", json.dumps(program)).replace("__TESTS__", json.dumps(tests))


class _Unsupported:
    """Stands in for a harness where none applies; its outcome is INFRA with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def evaluate(self, program: str, tests: ProgramTests, nonce: str, results: list[ExecResult]) -> TestOutcome:
        return TestOutcome(TestStatus.INFRA, False, False, False, detail=self.reason)


_HARNESSES: dict[str, TestHarness] = {
    "python": PythonHarness(),
    "javascript": ScriptHarness("javascript", 'console.log("\\n{0}");'),
    "c": ScriptHarness("c", ""),  # io format only: C has no script form
    "cpp": ScriptHarness("cpp", ""),
    "bash": ScriptHarness("bash", 'echo; echo "{0}"'),
}


def register_harness(language: str, harness: TestHarness) -> None:
    """Teach ``run_tests`` a new language (or replace how one is tested)."""
    _HARNESSES[language] = harness


# --------------------------------------------------------------------------- entry points


def _suites(programs: Sequence[str], tests: Sequence[ProgramTests] | ProgramTests) -> list[ProgramTests]:
    if isinstance(programs, str):
        raise TypeError("programs must be a sequence of strings, not a single string")
    suites = [tests] * len(programs) if isinstance(tests, ProgramTests) else list(tests)
    if len(suites) != len(programs):
        raise ConfigError(f"got {len(programs)} programs but {len(suites)} test suites")
    return suites


def _plan(programs: Sequence[str], tests: Sequence[ProgramTests] | ProgramTests,
          limits: dict[str, Any] | Sequence[dict[str, Any]]):
    suites = _suites(programs, tests)
    per_program = [limits] * len(suites) if isinstance(limits, dict) else list(limits)
    plan, requests = [], []
    for program, suite, limits in zip(programs, suites, per_program):
        harness = _HARNESSES.get(suite.language)
        if harness is None or (suite.format != "io" and suite.language in ("c", "cpp")) or (
                suite.format == "check" and suite.language == "bash"):
            # The toolkit cannot test this program: a typed outcome for this one, not an
            # error that would sink the whole batch.
            why = (f"no test harness for language {suite.language!r}; known: {sorted(_HARNESSES)}" if harness is None
                   else "bash programs are tested with format='io' or 'asserts' (check() is a call bash has not)"
                   if suite.language == "bash" else f"{suite.language} programs are tested with format='io' only")
            plan.append((_Unsupported(why), str(program), suite, "", len(requests), 0))
            continue
        nonce = (_JUDGED if limits.get("harness_mode") == "out_of_process" else "") + secrets.token_hex(8)
        own = isinstance(harness, (PythonHarness, ScriptHarness))
        try:
            reqs = harness.build(str(program), suite, nonce, limits if own else {
                k: v for k, v in limits.items() if k not in ("harness_mode", "load_cpu_time_s")})
        except (ConfigError, UnicodeError, ValueError, SyntaxError, RecursionError, MemoryError) as exc:
            # Tests this harness cannot turn into runs (text that is no UTF-8, such as a lone
            # surrogate in a comment or a case's stdin): INFRA for this row, never the batch.
            why = f"the tests could not be prepared for a run: {type(exc).__name__}: {str(exc)[:300]}"
            plan.append((_Unsupported(why), str(program), suite, "", len(requests), 0))
            continue
        plan.append((harness, str(program), suite, nonce, len(requests), len(reqs)))
        requests.extend(reqs)
    return plan, requests


def _finish(plan: list[Any], results: list[ExecResult]) -> list[TestOutcome]:
    return [h.evaluate(p, s, n, results[i : i + k]) for h, p, s, n, i, k in plan]


_warned_inprocess: set[str] = set()


def _limits(sandbox: Sandbox, cpu_time_s: float, memory_mb: int, wall_time_s: float | None,
            harness_mode: str | None) -> dict[str, Any]:
    supported = bool(getattr(sandbox, "supports_judge", False))
    if harness_mode is None:
        harness_mode = "out_of_process" if supported else "inprocess"
        name = type(sandbox).__name__
        if not supported and name not in _warned_inprocess:
            _warned_inprocess.add(name)
            logger.warning("%s runs no separate judge: Python check/asserts tests run inside the program's "
                           "process (harness_mode='inprocess'), where a program can tamper with them", name)
    elif harness_mode not in HARNESS_MODES:
        raise ConfigError(f"harness_mode must be one of {', '.join(HARNESS_MODES)}, got {harness_mode!r}")
    elif harness_mode == "out_of_process" and not supported:
        raise ConfigError(f"{type(sandbox).__name__} cannot run tests out of process (supports_judge is False); "
                          "use harness_mode='inprocess' or a sandbox such as LocalSandbox")
    # the batch's own limits, checked once: a bad one is the caller's error, never INFRA on every row
    cpu_time_s = _seconds("cpu_time_s", cpu_time_s, MAX_CPU_TIME_S, "run_tests")
    memory_mb = _count("memory_mb", memory_mb, _COUNT_LIMITS["memory_mb"], "run_tests")
    if wall_time_s is not None:
        wall_time_s = _seconds("wall_time_s", wall_time_s, MAX_WALL_TIME_S, "run_tests")
    return {"cpu_time_s": cpu_time_s, "memory_mb": memory_mb, "wall_time_s": wall_time_s, "harness_mode": harness_mode}


def _calibration_of(calibration: Any) -> Any:
    """``calibration`` when it is a :class:`~exectune_rl.sandboxes.calibration.Calibration`."""
    from exectune_rl.sandboxes.calibration import Calibration

    if not isinstance(calibration, Calibration):
        raise ConfigError(f"calibration must be a Calibration (exectune_rl.sandboxes.calibration) or None, "
                          f"got {type(calibration).__name__} {calibration!r}")
    return calibration


def run_tests(
    sandbox: Sandbox,
    programs: Sequence[str],
    tests: Sequence[ProgramTests] | ProgramTests,
    *,
    cpu_time_s: float = 5.0,
    memory_mb: int = 512,
    wall_time_s: float | None = None,
    harness_mode: str | None = None,
    calibration: Any = None,
) -> list[TestOutcome]:
    """Run each program against its tests in one sandbox batch.

    Args:
        sandbox: Where the programs run.
        programs: Program texts (for HumanEval: prompt + completion).
        tests: One ``ProgramTests`` per program, or one shared by all.
        cpu_time_s / memory_mb / wall_time_s: Limits per run.
        harness_mode: ``"out_of_process"`` (Python ``check``/``asserts`` tests run in a
            trusted judge process the program cannot reach; the default where the sandbox
            supports it), or ``"inprocess"`` (tests appended to the program, which can tamper
            with them: kept for sandboxes without a judge and for comparison).
        calibration: A :class:`~exectune_rl.sandboxes.calibration.Calibration`: each suite's
            limit comes from its reference's measured time (``cpu_time_s`` stays the hard
            limit); None (default) runs every program at ``cpu_time_s``.

    Returns:
        One ``TestOutcome`` per program, in order.
    """
    return submit_tests(sandbox, programs, tests, cpu_time_s=cpu_time_s, memory_mb=memory_mb, wall_time_s=wall_time_s,
                        harness_mode=harness_mode, calibration=calibration).result()


def submit_tests(
    sandbox: Sandbox,
    programs: Sequence[str],
    tests: Sequence[ProgramTests] | ProgramTests,
    *,
    cpu_time_s: float = 5.0,
    memory_mb: int = 512,
    wall_time_s: float | None = None,
    harness_mode: str | None = None,
    calibration: Any = None,
) -> Future[list[TestOutcome]]:
    """:func:`run_tests`, started: a future of its outcomes.

    On a sandbox that queues submissions (``LocalSandbox``) it returns once the programs are
    queued, so the caller can prepare the next ones while these run; elsewhere (and with
    ``calibration``, whose re-runs depend on the first results) the work is done on return.
    Configuration errors raise here, as from ``run_tests``.
    """
    limits = _limits(sandbox, cpu_time_s, memory_mb, wall_time_s, harness_mode)
    if calibration is not None:
        from exectune_rl.sandboxes.calibration import run_calibrated

        calibration = _calibration_of(calibration)

        return done_future(run_calibrated(lambda p, s, lim: _finish(*_run_plan(sandbox, p, s, lim)), programs,
                                          _suites(programs, tests), limits, calibration))
    plan, requests = _plan(programs, tests, limits)
    limit = float(cpu_time_s)
    return then(sandbox.submit(requests),
                lambda done: [replace(o, time_limit_s=limit) for o in _finish(plan, done.result())])


def calibrate(sandbox: Sandbox, tests: Sequence[ProgramTests] | ProgramTests, calibration: Any, *, cpu_time_s: float = 5.0,
              memory_mb: int = 512, harness_mode: str | None = None) -> float:
    """Measure the references of ``tests`` not calibrated yet (a one-off cost); return its seconds.

    ``run_tests(..., calibration=...)`` does this on its own for the suites of each batch;
    call it first to keep that cost out of a timed run.
    """
    from exectune_rl.sandboxes.calibration import calibrate_missing

    calibration = _calibration_of(calibration)
    limits = _limits(sandbox, cpu_time_s, memory_mb, None, harness_mode)
    suites = [tests] if isinstance(tests, ProgramTests) else list(tests) if isinstance(tests, (list, tuple)) else [tests]
    bad = [type(t).__name__ for t in suites if not isinstance(t, ProgramTests)]
    if bad:
        raise ConfigError(f"calibrate() takes ProgramTests (one, or a sequence of them), got {', '.join(bad)}")
    before = calibration.calibration_s
    calibrate_missing(lambda p, s, lim: _finish(*_run_plan(sandbox, p, s, lim)), suites, limits, calibration)
    return calibration.calibration_s - before


def _run_plan(sandbox: Sandbox, programs: Sequence[str], suites: Sequence[ProgramTests], limits: Any):
    plan, requests = _plan(programs, suites, limits)
    return plan, sandbox.run(requests)


async def arun_tests(
    sandbox: Sandbox,
    programs: Sequence[str],
    tests: Sequence[ProgramTests] | ProgramTests,
    *,
    cpu_time_s: float = 5.0,
    memory_mb: int = 512,
    wall_time_s: float | None = None,
    harness_mode: str | None = None,
    calibration: Any = None,
) -> list[TestOutcome]:
    """Async :func:`run_tests`."""
    if calibration is not None:
        import asyncio

        return await asyncio.to_thread(run_tests, sandbox, programs, tests, cpu_time_s=cpu_time_s, memory_mb=memory_mb,
                                       wall_time_s=wall_time_s, harness_mode=harness_mode, calibration=calibration)
    limits = _limits(sandbox, cpu_time_s, memory_mb, wall_time_s, harness_mode)
    plan, requests = _plan(programs, tests, limits)
    return [replace(o, time_limit_s=float(cpu_time_s)) for o in _finish(plan, await sandbox.arun(requests))]
