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
hard limit and saves no time on loops. ``recheck="progress"`` re-runs every timeout at the hard limit except
a judged one stuck in the suite's first call with nothing done (:func:`stuck_in_first_case`),
which is re-run once at ``ESCALATION`` times its calibrated limit instead (and at the hard limit
if it then shows progress): a loop then costs three calibrated limits (tens of milliseconds),
and CPU noise around the limit (a program's CPU time varies by up to twice from run to run)
never decides a verdict. A program still being imported, one that finished a call, one stopped
by the wall clock before its CPU limit, any single-case suite, and every run the judge does not
watch (``io`` cases, the in-process harness, other languages, where a slow start and a loop look
the same) are re-run at the hard limit; an honest program more than ``ESCALATION`` times slower
than the limit on its very first call is the one it fails. ``recheck="never"`` re-runs none
(there, in runs the judge does not watch, the program's imports count against the limit).

A limit from a passing program (``first_pass``) or a recorded run (``baseline``) is that
program's time, not a reference's: when a later program passes only on a re-run, the suite's
figure is raised to that program's time, so the next such program passes at once.

A reference that fails its own tests is reported (a warning, ``stats["failed_references"]``)
and not measured again in this process; its suite runs at the hard limit (or from its first
passing program).

Calibrations persist in SQLite (default ``$EXECTUNE_CACHE_DIR/calibration.sqlite``), keyed by
the tests, the reference, the harness (tests in the judge or in the program's process), this
library's version, the interpreter and the machine (its architecture and CPU count), so a changed task is measured
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
from exectune_rl.sandboxes.base import default_wall_time_s

__all__ = ["Calibration", "TimeLimit", "LIMIT_SOURCES", "ESCALATION", "recheck_rate", "stuck_in_first_case"]

logger = logging.getLogger(__name__)

ESCALATION = 2.0
"""``recheck="progress"``: a run stuck in its first call is re-run once at this many times its
calibrated limit (CPU time of one program varies by up to about 2x between runs on a 2-core
machine; see the module docstring)."""

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


def _check_source(source: Any) -> None:
    if source not in LIMIT_SOURCES[1:]:
        raise ConfigError(f"calibration source must be one of {LIMIT_SOURCES[1:]}, got {source!r}")


def _fingerprint() -> str:
    from exectune_rl import __version__

    return f"{platform.python_implementation()}-{sys.version_info[:2]}-{platform.machine()}-{os.cpu_count()}-{__version__}"


@dataclass
class Calibration:
    """Calibrated time limits for :func:`~exectune_rl.sandboxes.runner.run_tests`.

    Args:
        factor: Multiple of the reference's CPU time a program may use.
        floor_s: The smallest limit, whatever the reference's time.
        repeats: Runs of the reference per calibration (the median counts).
        recheck: ``"always"`` (or True): re-run a program that ran out of a calibrated limit
            once at the hard limit; ``"progress"``: at the hard limit when it showed progress
            (it was still being imported, made a second call or passed a case, or the suite has
            a single case; see :func:`stuck_in_first_case`), else once at ``ESCALATION`` times
            its limit: an infinite loop in the first call then costs three calibrated limits,
            and an honest program more than twice slower than the limit on its very first call
            fails; ``"never"`` (or False).
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
                                                           "recheck_passed": 0, "judged": 0, "limited": 0,
                                                           "escalated": 0, "failed_references": 0})

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
        if not isinstance(self.from_first_pass, bool):
            raise ConfigError(f"Calibration.from_first_pass must be True or False, got {self.from_first_pass!r}")
        if self.path is not None and not isinstance(self.path, (str, os.PathLike)):
            raise ConfigError(f"Calibration.path must be a file path, ':memory:' or None, got {self.path!r}")
        self._lock = threading.Lock()
        self._failed: set[str] = set()  # references that failed their own tests, in this process
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
    def key(tests: Any, reference: str | None, harness_mode: str | None = None) -> str:
        """The cache key of a suite and its reference (None: calibrated from a passing program),
        for the harness that runs it (``"inprocess"``, or None for the judge, the default)."""
        parts = [tests.format, tests.code, tests.entry_point or "", json.dumps(list(tests.cases)), tests.language,
                 tests.support, reference if reference is not None else "\0first-pass", _fingerprint()]
        if harness_mode == "inprocess":
            parts.append("\0inprocess")
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
        _check_source(source)
        with self._lock:
            self._memo[key] = (float(t_ref), source)
            db = self._conn()
            if db is not None:
                try:
                    db.execute("INSERT OR REPLACE INTO calibration VALUES (?, ?, ?, ?)", (key, float(t_ref), source, time.time()))
                    db.commit()
                except sqlite3.Error as exc:
                    self._lost_store("could not be written", exc)

    def record(self, tests: Any, cpu_s: float, source: str = "baseline", harness_mode: str | None = None) -> None:
        """Use a run that passed ``tests`` in ``cpu_s`` CPU seconds as the suite's reference.

        For callers that already ran a passing program, such as non-degradation's core-alone
        baseline; a suite with a reference of its own keeps that one.

        Raises:
            ConfigError: ``cpu_s`` is not a finite number >= 0, or ``source`` is not a
                calibration source.
        """
        if not isinstance(cpu_s, (int, float)) or isinstance(cpu_s, bool) or not math.isfinite(cpu_s) or cpu_s < 0:
            raise ConfigError(f"Calibration.record: cpu_s must be a finite number of seconds >= 0, got {cpu_s!r}")
        _check_source(source)
        key = self.key(tests, None, harness_mode)
        if self.lookup(key) is None:
            self.store(key, cpu_s, source)

    def _raise_figure(self, key: str, cpu_s: float) -> None:
        """A program passed only on a re-run: the suite's figure (from a passing program or a
        recorded run, never a reference) becomes at least its time."""
        hit = self.lookup(key)
        if hit is not None and hit[1] != "reference" and cpu_s > hit[0] and math.isfinite(cpu_s):
            self.store(key, cpu_s, hit[1])

    def limit(self, t_ref: float, hard: float) -> float:
        return min(hard, max(self.floor_s, self.factor * t_ref))

    def recheck_rate(self) -> float:
        """The share of runs under a calibrated limit that were re-run (0.0 before any)."""
        return recheck_rate([self]) or 0.0

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_db", "_store_failed")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._db = None
        self._store_failed = False
        self.__dict__.setdefault("_failed", set())
        for name, value in Calibration().stats.items():
            self.stats.setdefault(name, value)



def recheck_rate(calibrations: Any) -> float | None:
    """The share of runs under a calibrated limit that were re-run (escalated or at the hard
    limit), over one or more calibrations; None before any such run."""
    cals = list(calibrations)
    limited = sum(c.stats.get("limited", 0) for c in cals)
    return sum(c.stats.get("rechecked", 0) for c in cals) / limited if limited else None


def _calibrated_limits(limits: dict[str, Any], cpu: float, hard: float, hard_wall: float | None) -> dict[str, Any]:
    """One run's limits under a calibrated CPU limit ``cpu``.

    A judged run may take up to ``hard - cpu`` to be imported and ``cpu`` from then on
    (``ExecRequest.load_cpu_time_s``): the reference's calls set the limit, and an import the
    reference did not make (numpy, pandas) never eats into it. The whole run stays within the
    hard limit. Its wall-clock backstop is 4x ``cpu`` (at least ``cpu`` + 1 s) plus that
    allowance, and never more than the same run's at the hard limit (``wall_time_s``, else
    ``default_wall_time_s(hard)``): no program passes only because its limit was calibrated.
    """
    load = max(0.0, hard - cpu)
    wall = max(4.0 * cpu, cpu + 1.0) + load
    cap = hard_wall if hard_wall else default_wall_time_s(hard)
    return dict(limits, cpu_time_s=cpu, load_cpu_time_s=load or None, wall_time_s=min(wall, cap))


def stuck_in_first_case(outcome: Any, limit: float) -> bool:
    """Whether a judged run that timed out used up its CPU ``limit`` in the first call of its
    suite, having shown no progress: imported (its verdict says ``ready``), at most one call of
    the tests made, no case passed, and the suite has more than one case (with one, nothing
    tells a slow program from a loop). A run stopped by the wall clock before its CPU limit (a
    loaded machine, a program asleep in its first call, after an import of any cost) is never
    stuck, and neither is a run without the judge's verdict (``io`` cases, the in-process
    harness, other languages): there, a slow start and a loop look the same. ``recheck="progress"`` re-runs every timeout that is not stuck at the hard limit, and
    a stuck one once at ``ESCALATION`` times its limit."""
    if (outcome.total_cases or 0) <= 1 or (outcome.passed_cases or 0) > 0:
        return False
    timed_out = [r for r in outcome.results if r.status.value == "timeout"]
    if not timed_out or any(_stopped_by_the_clock(r, limit) for r in timed_out):
        return False
    verdict = outcome.results[-1].verdict if outcome.results else None
    if not isinstance(verdict, dict):
        return False
    calls = verdict.get("calls")
    return bool(verdict.get("ready")) and isinstance(calls, int) and calls <= 1


def _stopped_by_the_clock(result: Any, limit: float) -> bool:
    """Whether a timed-out run was stopped by the wall clock, not by its CPU ``limit``: the
    judge's deadline passed (its verdict says ``timed_out``, whatever CPU the import took before
    the limit began to count), or it used less CPU than the limit in all."""
    verdict = result.verdict
    return (isinstance(verdict, dict) and bool(verdict.get("timed_out"))) or result.cpu_s < limit


def run_calibrated(execute: Any, programs: Any, suites: list[Any], limits: dict[str, Any], cal: Calibration) -> list[Any]:
    """``run_tests`` with calibrated limits (see the module docstring).

    ``execute(programs, suites, per_program_limits)`` runs one batch and returns outcomes.
    """
    hard = float(limits["cpu_time_s"])
    hard_wall = limits.get("wall_time_s")
    programs = [str(p) for p in programs]
    keys, fresh = _calibrate(execute, suites, limits, cal)
    return _run_with_limits(execute, programs, suites, keys, fresh, limits, cal, hard, hard_wall)


def calibrate_missing(execute: Any, suites: list[Any], limits: dict[str, Any], cal: Calibration) -> list[str | None]:
    """Measure, in one batch, every suite with a reference not calibrated yet; return the keys."""
    return _calibrate(execute, suites, limits, cal)[0]


def _calibrate(execute: Any, suites: list[Any], limits: dict[str, Any], cal: Calibration) -> tuple[list[str | None], set[str]]:
    """The suites' keys, and those of the ones calibrated just now (measured in one batch)."""
    mode = limits.get("harness_mode")
    keys = [cal.key(s, s.reference, mode) if s.reference is not None else None for s in suites]
    todo: dict[str, Any] = {}
    for key, suite in zip(keys, suites):
        if key is not None and key not in todo and key not in cal._failed and cal.lookup(key) is None:
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
            else:
                bad = next(o for o in mine if not o.passed)
                cal._failed.add(key)
                cal.stats["failed_references"] += 1
                logger.warning("a task's reference did not pass its own tests (%s, %s/%s cases: %s); its programs run "
                               "at the hard limit%s", bad.status.value, bad.passed_cases, bad.total_cases,
                               (bad.detail or "no detail")[:200], " or from their first passing program" if cal.from_first_pass else "")
        cal.calibration_s += time.perf_counter() - start
    return keys, {k for k in todo if k not in cal._failed}


def _run_with_limits(execute: Any, programs: list[str], suites: list[Any], keys: list[str | None], fresh: set[str],
                     limits: dict[str, Any], cal: Calibration, hard: float, hard_wall: float | None) -> list[Any]:
    from dataclasses import replace

    mode = limits.get("harness_mode")
    # 2. Each program's limit: its suite's calibration, else the hard limit (also where the
    # calibrated limit would be the hard limit or above: then the hard limit is what applies).
    chosen: list[TimeLimit] = []
    figure_keys: list[str | None] = []
    for key, suite in zip(keys, suites):
        hit = cal.lookup(key) if key is not None else None
        used = key
        if hit is None and cal.from_first_pass:
            used = cal.key(suite, None, mode)
            hit = cal.lookup(used)
        figure_keys.append(used if hit is not None else None)
        if hit is None or cal.limit(hit[0], hard) >= hard:
            chosen.append(TimeLimit(hard, "hard"))
        else:
            if used not in fresh:
                cal.stats["reused"] += 1
            chosen.append(TimeLimit(cal.limit(hit[0], hard), hit[1], hit[0]))
    per = [limits if t.source == "hard" else _calibrated_limits(limits, t.cpu_time_s, hard, hard_wall) for t in chosen]
    outcomes = [replace(o, time_limit_s=t.cpu_time_s, limit_source=t.source)
                for o, t in zip(execute(programs, suites, per), chosen)]
    cal.stats["judged"] += len(outcomes)
    cal.stats["limited"] += sum(t.source != "hard" for t in chosen)
    # 3. Re-run what ran out of a calibrated limit: at the hard limit, or (``progress``, a run
    # stuck in its first call) once at ESCALATION times its limit, then at the hard limit only
    # if it shows progress there.
    if cal.recheck != "never":
        out_of_limit = [i for i, (o, t) in enumerate(zip(outcomes, chosen)) if t.source != "hard" and o.status.value == "timeout"]
        stuck = {i for i in out_of_limit if cal.recheck == "progress" and stuck_in_first_case(outcomes[i], chosen[i].cpu_time_s)}
        escalate = [i for i in out_of_limit if i in stuck and min(hard, ESCALATION * chosen[i].cpu_time_s) < hard]
        again = [i for i in out_of_limit if i not in escalate]
        cal.stats["rechecked"] += len(out_of_limit)
        if escalate:
            cal.stats["escalated"] += len(escalate)
            up = [min(hard, ESCALATION * chosen[i].cpu_time_s) for i in escalate]
            redo = execute([programs[i] for i in escalate], [suites[i] for i in escalate],
                           [_calibrated_limits(limits, u, hard, hard_wall) for u in up])
            for i, u, o in zip(escalate, up, redo):
                outcomes[i] = replace(o, time_limit_s=u, limit_source=chosen[i].source, rechecked=True)
                if o.status.value == "timeout" and not stuck_in_first_case(o, u):
                    again.append(i)  # progress at last: a slow program, never called a loop by calibration
                elif o.passed:
                    cal.stats["recheck_passed"] += 1
        if again:
            again.sort()
            redo = execute([programs[i] for i in again], [suites[i] for i in again], [limits] * len(again))
            for i, o in zip(again, redo):
                cal.stats["recheck_passed"] += int(o.passed)
                outcomes[i] = replace(o, time_limit_s=hard, limit_source="hard", rechecked=True)
        for i in out_of_limit:
            fk = figure_keys[i]
            if fk is not None and outcomes[i].passed and outcomes[i].results:
                cal._raise_figure(fk, max(r.cpu_s for r in outcomes[i].results))
    # 4. A suite without a reference is calibrated from its first passing program.
    if cal.from_first_pass:
        for suite, t, o, fk in zip(suites, chosen, outcomes, figure_keys):
            if t.source == "hard" and fk is None and o.passed and o.results:
                cal.record(suite, max(r.cpu_s for r in o.results), "first_pass", mode)
    return outcomes
