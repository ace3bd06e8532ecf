"""Time limits from the reference: a loop costs tens of milliseconds, not the whole limit.

Every harness pays its full time limit for an infinite loop, and in RL rollouts loops are
common. A :class:`Calibration` measures, once per test suite, how much CPU time a reference
solution needs against the suite in the sandbox (median of ``repeats`` runs) and sets the
suite's limit to ``max(floor_s, factor * t_ref)``, never above the caller's hard limit
(``run_tests(cpu_time_s=...)``). Where no reference exists, the first program that passes the
suite at the hard limit becomes its reference (``source="first_pass"``); a caller that already
ran one, such as the core-alone baseline of non-degradation, can :meth:`Calibration.record` it.

For a judged run (Python tests in the judge, the default) the calibrated limit counts from
the moment the program is imported: its import may take what is left of the hard limit
(``ExecRequest.load_cpu_time_s``), so an honest program that imports numpy or pandas, which
the reference may not, is never cut short by a limit measured on calls.

A program that runs out of a calibrated limit is re-run once at the hard limit before it is
called a timeout (``TestOutcome.rechecked``; ``recheck="always"``, the default), so a loaded
machine or an honest, slower algorithm is never punished by calibration. An infinite loop
then costs the calibrated limit plus the hard limit: this mode keeps every verdict of the
hard limit and saves no time on loops. ``recheck="progress"`` re-runs every timeout except
a judged one stuck in the suite's first call with nothing done (:func:`stuck_in_first_case`):
a loop then costs the calibrated limit alone (tens of milliseconds), while a program still
being imported, one that finished a call, one stopped by the wall clock before its CPU limit,
any single-case suite, and every run the judge does not watch (``io`` cases, the in-process
harness, other languages, where a slow start and a loop look the same) are still re-run; an
honest program slower than the limit on its very first call is the one it fails.
``recheck="never"`` re-runs none.

Calibrations persist in SQLite (default ``$EXECTUNE_CACHE_DIR/calibration.sqlite``), keyed by
the tests, the reference, the interpreter and the machine, so a changed task is measured
again and other processes and runs reuse the figures. A store that cannot be opened, read or
written (a read-only folder, a file that is not a database) never fails a run: a warning says
so once and the figures stay in the process, as with ``path=":memory:"``.

Defaults, from ``benchmarks/bench_sandbox.py`` on 2-core machines: a HumanEval reference
takes 2.0-2.3 ms of CPU in the sandbox at the least (fork, set-up, the judge's round trips),
3 ms at the median, 23-28 ms at the 99th percentile and 0.25-0.29 s at the most
(HumanEval/75). ``factor`` 4 is EvalPlus's; ``floor_s`` 0.05 s is 17 times the median
reference's whole run for the calls alone (the import has its own allowance), so CPU noise and
honest programs several times slower stay inside it, and a loop costs tens of milliseconds.

Example:
    >>> from exectune_rl.sandboxes import LocalSandbox
    >>> from exectune_rl.sandboxes.calibration import Calibration
    >>> from exectune_rl.sandboxes.runner import ProgramTests, run_tests
    >>> tests = ProgramTests("asserts", code="assert add(1, 2) == 3", reference="def add(a, b):\\n    return a + b")
    >>> with LocalSandbox(workers=2) as sb:                                # doctest: +SKIP
    ...     [out] = run_tests(sb, ["def add(a, b):\\n    while True: pass"], tests, calibration=Calibration())
    >>> out.status, out.time_limit_s, out.limit_source                    # doctest: +SKIP
    (<TestStatus.TIMEOUT: 'timeout'>, 1.0, 'hard')
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import sqlite3
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError

__all__ = ["Calibration", "TimeLimit", "LIMIT_SOURCES", "stuck_in_first_case"]

logger = logging.getLogger(__name__)

LIMIT_SOURCES = ("hard", "reference", "first_pass", "baseline")
"""Where a time limit came from: the caller's hard limit, or a calibration from the task's
reference, from the first passing program, or from a recorded baseline run."""


@dataclass(frozen=True)
class TimeLimit:
    """The CPU limit one program got, and where it came from.

    Attributes:
        cpu_time_s: The limit of the first run (per case for ``io`` suites: the largest; for
            judged runs, counted from the moment the program was imported).
        source: One of :data:`LIMIT_SOURCES`.
        t_ref_s: The reference's measured CPU time (None for ``"hard"``).
    """

    cpu_time_s: float
    source: str
    t_ref_s: float | None = None


def _fingerprint() -> str:
    return f"{platform.python_implementation()}-{sys.version_info[:2]}-{platform.machine()}-{os.cpu_count()}"


@dataclass
class Calibration:
    """Calibrated time limits for :func:`~exectune_rl.sandboxes.runner.run_tests`.

    Args:
        factor: Multiple of the reference's CPU time a program may use.
        floor_s: The smallest limit, whatever the reference's time.
        repeats: Runs of the reference per calibration (the median counts).
        recheck: ``"always"`` (or True): re-run a program that ran out of a calibrated limit
            once at the hard limit; ``"progress"``: only when it showed progress (it was
            still being imported, made a second call or passed a case, or the suite has a
            single case; see :func:`stuck_in_first_case`): an infinite loop in the first call
            then costs the calibrated limit alone, and an honest program slower than the
            limit on its very first call fails; ``"never"`` (or False).
        path: The SQLite file (``None``: ``$EXECTUNE_CACHE_DIR/calibration.sqlite``;
            ``":memory:"``: this process only).
        from_first_pass: Calibrate a suite without a reference from its first passing program.
    """

    factor: float = 4.0
    floor_s: float = 0.05
    repeats: int = 3
    recheck: bool | str = "always"
    path: str | os.PathLike[str] | None = None
    from_first_pass: bool = True
    stats: dict[str, int] = field(default_factory=lambda: {"calibrated": 0, "reused": 0, "rechecked": 0,
                                                           "recheck_passed": 0, "judged": 0})

    def __post_init__(self) -> None:
        for name in ("factor", "floor_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 or value != value or value == float("inf"):
                raise ConfigError(f"Calibration.{name} must be a positive finite number, got {value!r}")
        if not isinstance(self.repeats, int) or isinstance(self.repeats, bool) or not 1 <= self.repeats <= 50:
            raise ConfigError(f"Calibration.repeats must be an int in [1, 50], got {self.repeats!r}")
        modes = {True: "always", False: "never", "always": "always", "progress": "progress", "never": "never"}
        if not isinstance(self.recheck, (bool, str)) or self.recheck not in modes:
            raise ConfigError(f"Calibration.recheck must be 'always', 'progress' or 'never', got {self.recheck!r}")
        self.recheck = modes[self.recheck]
        self._lock = threading.Lock()
        self._memo: dict[str, tuple[float, str]] = {}
        self._db: sqlite3.Connection | None = None
        self._store_failed = False
        self.calibration_s = 0.0

    # -- storage ----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection | None:
        """The store, opened on first use; None once it could not be (then this process keeps
        its calibrations in memory, as with ``path=":memory:"``, and says so once)."""
        if self._db is None and not self._store_failed:
            target: Path | None = None
            try:
                if self.path is None:
                    from exectune_rl.env import settings

                    target = settings().cache_dir / "calibration.sqlite"
                else:
                    target = Path(os.path.expanduser(str(self.path))) if str(self.path) != ":memory:" else None
                if target is not None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(target) if target else ":memory:", timeout=30, check_same_thread=False)
                try:
                    db.execute("CREATE TABLE IF NOT EXISTS calibration (key TEXT PRIMARY KEY, t_ref REAL NOT NULL, "
                               "source TEXT NOT NULL, created REAL NOT NULL)")
                    db.commit()
                except sqlite3.Error:
                    db.close()
                    raise
                self._db = db
            except (OSError, sqlite3.Error) as exc:
                self._lost_store(f"could not be opened at {target or self.path}", exc)
        return self._db

    def _lost_store(self, what: str, exc: BaseException) -> None:
        # A cache that cannot be read or written never fails a run: the figures stay in memory.
        self._store_failed = True
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None
        logger.warning("the calibration store %s (%s: %s): calibrations are kept in this process only",
                       what, type(exc).__name__, exc)

    @staticmethod
    def key(tests: Any, reference: str | None) -> str:
        """The cache key of a suite and its reference (None: calibrated from a passing program)."""
        parts = [tests.format, tests.code, tests.entry_point or "", json.dumps(list(tests.cases)), tests.language,
                 tests.support, reference if reference is not None else "\0first-pass", _fingerprint()]
        return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()

    def lookup(self, key: str) -> tuple[float, str] | None:
        with self._lock:
            hit = self._memo.get(key)
            db = self._conn() if hit is None else None
            if db is not None:
                try:
                    row = db.execute("SELECT t_ref, source FROM calibration WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error as exc:
                    self._lost_store("could not be read", exc)
                    row = None
                if row is not None and row[1] in LIMIT_SOURCES[1:] and isinstance(row[0], (int, float)) \
                        and math.isfinite(row[0]) and row[0] >= 0:
                    hit = self._memo[key] = (float(row[0]), str(row[1]))
            return hit

    def store(self, key: str, t_ref: float, source: str) -> None:
        if source not in LIMIT_SOURCES[1:]:
            raise ConfigError(f"calibration source must be one of {LIMIT_SOURCES[1:]}, got {source!r}")
        with self._lock:
            self._memo[key] = (float(t_ref), source)
            db = self._conn()
            if db is not None:
                try:
                    db.execute("INSERT OR REPLACE INTO calibration VALUES (?, ?, ?, ?)", (key, float(t_ref), source, time.time()))
                    db.commit()
                except sqlite3.Error as exc:
                    self._lost_store("could not be written", exc)

    def record(self, tests: Any, cpu_s: float, source: str = "baseline") -> None:
        """Use a run that passed ``tests`` in ``cpu_s`` CPU seconds as the suite's reference.

        For callers that already ran a passing program, such as non-degradation's core-alone
        baseline; a suite with a reference of its own keeps that one.
        """
        key = self.key(tests, None)
        if self.lookup(key) is None:
            self.store(key, cpu_s, source)

    def limit(self, t_ref: float, hard: float) -> float:
        return min(hard, max(self.floor_s, self.factor * t_ref))

    def recheck_rate(self) -> float:
        judged = self.stats["judged"]
        return self.stats["rechecked"] / judged if judged else 0.0

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_db", "_store_failed")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._db = None
        self._store_failed = False



def _wall(cpu: float, hard_wall: float | None) -> float:
    wall = max(4.0 * cpu, cpu + 1.0)
    return min(wall, hard_wall) if hard_wall else wall


def _calibrated_limits(limits: dict[str, Any], cpu: float, hard: float, hard_wall: float | None) -> dict[str, Any]:
    """One run's limits under a calibrated CPU limit ``cpu``.

    A judged run may take up to ``hard - cpu`` to be imported and ``cpu`` from then on
    (``ExecRequest.load_cpu_time_s``): the reference's calls set the limit, and an import the
    reference did not make (numpy, pandas) never eats into it. The whole run stays within the
    hard limit; its wall-clock backstop grows by the same allowance.
    """
    load = max(0.0, hard - cpu)
    wall = _wall(cpu, None) + load
    return dict(limits, cpu_time_s=cpu, load_cpu_time_s=load or None,
                wall_time_s=min(wall, hard_wall) if hard_wall else wall)


def stuck_in_first_case(outcome: Any, limit: float) -> bool:
    """Whether a judged run that timed out used up its CPU ``limit`` in the first call of its
    suite, having shown no progress: imported (its verdict says ``ready``), at most one call of
    the tests made, no case passed, and the suite has more than one case (with one, nothing
    tells a slow program from a loop). A run stopped by the wall clock before its CPU limit (a
    loaded machine) is never stuck, and neither is a run without the judge's verdict (``io``
    cases, the in-process harness, other languages): there, a slow start and a loop look the
    same. ``recheck="progress"`` re-runs every timeout that is not stuck."""
    if (outcome.total_cases or 0) <= 1 or (outcome.passed_cases or 0) > 0:
        return False
    timed_out = [r for r in outcome.results if r.status.value == "timeout"]
    if not timed_out or any(r.cpu_s < limit for r in timed_out):
        return False
    verdict = outcome.results[-1].verdict if outcome.results else None
    if not isinstance(verdict, dict):
        return False
    calls = verdict.get("calls")
    return bool(verdict.get("ready")) and isinstance(calls, int) and calls <= 1


def run_calibrated(execute: Any, programs: Any, suites: list[Any], limits: dict[str, Any], cal: Calibration) -> list[Any]:
    """``run_tests`` with calibrated limits (see the module docstring).

    ``execute(programs, suites, per_program_limits)`` runs one batch and returns outcomes.
    """
    hard = float(limits["cpu_time_s"])
    hard_wall = limits.get("wall_time_s")
    programs = [str(p) for p in programs]
    keys = calibrate_missing(execute, suites, limits, cal)
    return _run_with_limits(execute, programs, suites, keys, limits, cal, hard, hard_wall)


def calibrate_missing(execute: Any, suites: list[Any], limits: dict[str, Any], cal: Calibration) -> list[str | None]:
    """Measure, in one batch, every suite with a reference not calibrated yet; return the keys."""
    keys = [cal.key(s, s.reference) if s.reference is not None else None for s in suites]
    todo: dict[str, Any] = {}
    for key, suite in zip(keys, suites):
        if key is not None and key not in todo and cal.lookup(key) is None:
            todo[key] = suite
    if todo:
        start = time.perf_counter()
        order = [(k, s) for k, s in todo.items() for _ in range(cal.repeats)]
        outs = execute([s.reference for _, s in order], [s for _, s in order], [limits] * len(order))
        for key, suite in todo.items():
            mine = [o for (k, _), o in zip(order, outs) if k == key]
            if all(o.passed for o in mine):
                # per run: an io suite's limit holds for each case, so its slowest case counts
                cal.store(key, statistics.median(max(r.cpu_s for r in o.results) for o in mine), "reference")
                cal.stats["calibrated"] += 1
        cal.calibration_s += time.perf_counter() - start
    return keys


def _run_with_limits(execute: Any, programs: list[str], suites: list[Any], keys: list[str | None],
                     limits: dict[str, Any], cal: Calibration, hard: float, hard_wall: float | None) -> list[Any]:
    from dataclasses import replace

    # 2. Each program's limit: its suite's calibration, else the hard limit.
    chosen: list[TimeLimit] = []
    for key, suite in zip(keys, suites):
        hit = cal.lookup(key) if key is not None else None
        if hit is None and cal.from_first_pass:
            hit = cal.lookup(cal.key(suite, None))
        if hit is None:
            chosen.append(TimeLimit(hard, "hard"))
        else:
            cal.stats["reused"] += 1
            chosen.append(TimeLimit(cal.limit(hit[0], hard), hit[1], hit[0]))
    per = [limits if t.source == "hard" else _calibrated_limits(limits, t.cpu_time_s, hard, hard_wall) for t in chosen]
    outcomes = [replace(o, time_limit_s=t.cpu_time_s, limit_source=t.source)
                for o, t in zip(execute(programs, suites, per), chosen)]
    cal.stats["judged"] += len(outcomes)
    # 3. Re-run at the hard limit what ran out of a calibrated one.
    if cal.recheck != "never":
        again = [i for i, (o, t) in enumerate(zip(outcomes, chosen))
                 if t.source != "hard" and t.cpu_time_s < hard and o.status.value == "timeout"
                 and (cal.recheck == "always" or not stuck_in_first_case(o, t.cpu_time_s))]
        if again:
            cal.stats["rechecked"] += len(again)
            redo = execute([programs[i] for i in again], [suites[i] for i in again], [limits] * len(again))
            for i, o in zip(again, redo):
                cal.stats["recheck_passed"] += int(o.passed)
                outcomes[i] = replace(o, time_limit_s=hard, limit_source="hard", rechecked=True)
    # 4. A suite without a reference is calibrated from its first passing program.
    if cal.from_first_pass:
        for suite, t, o in zip(suites, chosen, outcomes):
            if t.source == "hard" and o.passed and o.results:
                cal.record(suite, max(r.cpu_s for r in o.results), "first_pass")
    return outcomes
