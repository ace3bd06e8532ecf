"""Red-team of calibrated time limits (``run_tests(..., calibration=Calibration())``).

Every test runs real ``LocalSandbox`` processes against the documented promises of
README "Time limits from the reference." and ``exectune_rl.sandboxes.calibration``;
each is named for the promise it checks. The cache is isolated per test through
``EXECTUNE_CACHE_DIR`` (the store's documented default location).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from exectune_rl.sandboxes import LocalSandbox
from exectune_rl.sandboxes.calibration import ESCALATION, LIMIT_SOURCES, Calibration
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, calibrate, run_tests

CAL_LOGGER = "exectune_rl.sandboxes.calibration"

# A correct reference and eight top-level assert cases.
REF = "def add(a, b):\n    return a + b\n"
ASSERTS = "".join(f"assert add({i}, {i % 3}) == {i + i % 3}\n" for i in range(8))
# CPU burner shared by the honest "slow" programs (process time, so machine load does not matter).
BURN = ("import time as _t\n"
        "def _burn(s):\n"
        "    t0 = _t.process_time()\n"
        "    while _t.process_time() - t0 < s:\n"
        "        pass\n")
LOOP = "def add(a, b):\n    while True:\n        pass\n"
WRONG = "def add(a, b):\n    return a - b\n"


@pytest.fixture(scope="module")
def sb():
    with LocalSandbox(workers=2) as box:
        yield box


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXECTUNE_CACHE_DIR", str(tmp_path))
    return tmp_path


def _t_ref(cal: Calibration, tests: ProgramTests) -> float:
    hit = cal.lookup(cal.key(tests, tests.reference))
    assert hit is not None and hit[1] == "reference", hit
    return hit[0]


# --------------------------------------------------------------------------- promise 1
# recheck="always": a correct program slower than the reference is never failed by calibration.


def _slow_programs(fmt: str, t_ref: float, n_calls: int) -> dict[str, str]:
    """Correct programs k x slower than the reference's whole measured run (t_ref)."""
    progs = {}
    for k in (5, 20, 100):
        total = k * t_ref
        if fmt == "io":
            progs[f"{k}x_start"] = BURN + f"_burn({total!r})\nprint(int(input()) * 2)\n"
            continue
        name = "inc" if fmt == "check" else "add"
        body = "return x + 1" if fmt == "check" else "return a + b"
        args = "x" if fmt == "check" else "a, b"
        # spread evenly over every call
        progs[f"{k}x_spread"] = BURN + f"def {name}({args}):\n    _burn({total / n_calls!r})\n    {body}\n"
        # all of it in the very first call
        progs[f"{k}x_first_call"] = (BURN + f"_DONE = []\ndef {name}({args}):\n    if not _DONE:\n"
                                     f"        _DONE.append(1)\n        _burn({total!r})\n    {body}\n")
    return progs


@pytest.mark.parametrize("fmt", ["asserts", "check", "io"])
def test_always_correct_programs_5x_20x_100x_slower_than_the_reference_pass_rechecked(sb, cache, fmt):
    hard = 3.0
    if fmt == "asserts":
        tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
        n_calls = 8
    elif fmt == "check":
        tests = ProgramTests("check", code="def check(candidate):\n" + "".join(
            f"    assert candidate({i}) == {i + 1}\n" for i in range(6)), entry_point="inc",
            reference="def inc(x):\n    return x + 1\n")
        n_calls = 6
    else:
        tests = ProgramTests("io", cases=(("2", "4"), ("5", "10"), ("7", "14")), reference="print(int(input()) * 2)\n")
        n_calls = 1
    # floor_s tiny, so the limit is factor (4) x t_ref and a 5x slower program runs out of it
    cal = Calibration(floor_s=0.001)
    calibrate(sb, tests, cal, cpu_time_s=hard)
    t_ref = _t_ref(cal, tests)
    assert 100 * t_ref < 0.6 * hard, f"reference too slow on this machine for the test: {t_ref}"
    progs = _slow_programs(fmt, t_ref, n_calls)
    outs = run_tests(sb, list(progs.values()), tests, cpu_time_s=hard, calibration=cal)
    for (name, _), out in zip(progs.items(), outs):
        assert out.passed, (name, out.status, out.detail, out.time_limit_s, out.limit_source)
        # every one of them ran out of 4 x t_ref: re-run at the hard limit, and says so
        assert out.rechecked and out.limit_source == "hard" and out.time_limit_s == hard, (name, out)


def test_always_a_correct_program_slow_only_at_import_passes_under_the_calibrated_limit(sb, cache):
    # 100x the reference in top-level set-up: the import has the rest of the hard limit
    hard = 3.0
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    cal = Calibration(floor_s=0.001)
    calibrate(sb, tests, cal, cpu_time_s=hard)
    t_ref = _t_ref(cal, tests)
    prog = BURN + f"_burn({100 * t_ref!r})\n" + REF
    [out] = run_tests(sb, [prog], tests, cpu_time_s=hard, calibration=cal)
    assert out.passed and not out.rechecked and out.limit_source == "reference", out
    assert out.time_limit_s == pytest.approx(cal.limit(t_ref, hard))


# --------------------------------------------------------------------------- promise 2
# recheck="progress": a loop is cheap; honest programs fail only when > ESCALATION x the limit
# on the very first call.

LOOP_SUITES = {
    "asserts": (ProgramTests("asserts", code="".join(f"assert inc({i}) == {i + 1}\n" for i in range(5)),
                             reference="def inc(x):\n    return x + 1\n"), "def inc(x):\n    while True:\n        pass\n"),
    "check": (ProgramTests("check", code="def check(candidate):\n" + "".join(
        f"    assert candidate({i}) == {i + 1}\n" for i in range(5)), entry_point="inc",
        reference="def inc(x):\n    return x + 1\n"), "def inc(x):\n    while True:\n        pass\n"),
    "pytest_functions": (ProgramTests("asserts", code="".join(
        f"def test_{i}():\n    assert inc({i}) == {i + 1}\n" for i in range(5)),
        reference="def inc(x):\n    return x + 1\n"), "def inc(x):\n    while True:\n        pass\n"),
    "unittest": (ProgramTests("asserts", code="import unittest\nclass T(unittest.TestCase):\n" + "".join(
        f"    def test_{i}(self):\n        self.assertEqual(inc({i}), {i + 1})\n" for i in range(5)),
        reference="def inc(x):\n    return x + 1\n"), "def inc(x):\n    while True:\n        pass\n"),
}


def test_progress_an_infinite_loop_in_the_first_call_is_cheap(sb, cache):
    hard = 2.0
    cal = Calibration(recheck="progress")
    suites = [s for s, _ in LOOP_SUITES.values()]
    calibrate(sb, suites, cal, cpu_time_s=hard)
    outs = run_tests(sb, [p for _, p in LOOP_SUITES.values()], suites, cpu_time_s=hard, calibration=cal)
    for name, (suite, _), out in zip(LOOP_SUITES, LOOP_SUITES.values(), outs):
        limit = cal.limit(_t_ref(cal, suite), hard)
        assert out.status is TestStatus.TIMEOUT and out.rechecked, (name, out)
        assert out.limit_source == "reference" and out.time_limit_s == pytest.approx(ESCALATION * limit), (name, out)
        assert out.results[0].cpu_s < 0.5, (name, out.results[0].cpu_s)  # never the 2 s hard limit
    # four loops on two workers, three calibrated limits each (CPU, not wall: these machines are shared)
    assert sum(r.cpu_s for out in outs for r in out.results) < hard, outs


def test_progress_a_loop_after_the_constructors_call_counts_as_progress_and_stops_at_the_hard_limit(sb, cache):
    # `Solution().solve(x)` is two calls of the tests (the class, then the method): a second
    # call is progress, so a loop in the method is re-run at the hard limit, never cheaply
    # failed, and never held past that limit.
    hard = 1.0
    ref = "class Solution:\n    def solve(self, x):\n        return x + 1\n"
    tests = ProgramTests("asserts", code="".join(f"assert Solution().solve({i}) == {i + 1}\n" for i in range(5)),
                         reference=ref)
    cal = Calibration(recheck="progress")
    calibrate(sb, tests, cal, cpu_time_s=hard)
    [out] = run_tests(sb, ["class Solution:\n    def solve(self, x):\n        while True:\n            pass\n"], tests,
                      cpu_time_s=hard, calibration=cal)
    assert out.status is TestStatus.TIMEOUT and out.rechecked, out
    assert (out.limit_source, out.time_limit_s) == ("hard", hard), out
    assert 0.8 * hard < out.results[-1].cpu_s < 1.6 * hard, out.results[-1]


def test_progress_honest_programs_slow_over_many_calls_or_after_a_passed_case_pass(sb, cache):
    hard = 2.0
    # L pinned at 0.1 s (the references take a few ms)
    cal = Calibration(recheck="progress", floor_s=0.1, factor=1.0)
    inc = "def inc(x):\n    return x + 1\n"
    many = ProgramTests("asserts", code="".join(f"assert inc({i}) == {i + 1}\n" for i in range(10)), reference=inc)
    nocall_first = ProgramTests("asserts", code="assert 1 + 1 == 2\nassert inc(1) == 2\nassert inc(2) == 3\n",
                                reference=inc)
    funcs = ProgramTests("asserts", code="".join(f"def test_{i}():\n    assert inc({i}) == {i + 1}\n" for i in range(4)),
                         reference=inc)
    sol = "class Solution:\n    def solve(self, x):\n        return x + 1\n"
    cls = ProgramTests("asserts", code="s = Solution()\n" + "".join(f"assert s.solve({i}) == {i + 1}\n" for i in range(8)),
                       reference=sol)
    io = ProgramTests("io", cases=(("2", "3"), ("5", "6"), ("1", "2")), reference="print(int(input()) + 1)\n")
    nth_call_slow = BURN + "_N = []\ndef inc(x):\n    _N.append(1)\n    if len(_N) == {n}:\n        _burn({s})\n    return x + 1\n"
    cases = {
        # 10 calls of 0.06 s: 6 x the limit in all, none of them alone over it
        "spread_over_calls": (many, BURN + "def inc(x):\n    _burn(0.06)\n    return x + 1\n"),
        # a fast first call, then 6 x the limit in the second
        "slow_after_first_call": (many, nth_call_slow.format(n=2, s=0.6)),
        # a case passes without any call, then the first call takes 6 x the limit
        "slow_after_a_passed_case": (nocall_first, nth_call_slow.format(n=1, s=0.6)),
        # pytest-style: the second test function is the slow one
        "slow_second_test_function": (funcs, nth_call_slow.format(n=2, s=0.6)),
        # a first call at 1.4 x the limit (CPU noise): the escalated re-run passes it
        "first_call_1.4x_limit": (many, nth_call_slow.format(n=1, s=0.14)),
        # 0.6 s of set-up at import, calls as fast as the reference's
        "slow_import": (many, BURN + "_burn(0.6)\n" + inc),
        # class-style: fast constructor, every method call 0.05 s
        "class_methods_slow": (cls, BURN + "class Solution:\n    def solve(self, x):\n        _burn(0.05)\n        return x + 1\n"),
        # io: 0.3 s of honest set-up before reading input
        "io_slow_start": (io, BURN + "_burn(0.3)\nprint(int(input()) + 1)\n"),
    }
    suites = [s for s, _ in cases.values()]
    outs = run_tests(sb, [p for _, p in cases.values()], suites, cpu_time_s=hard, calibration=cal)
    for name, out in zip(cases, outs):
        assert out.passed, (name, out.status, out.detail, out.time_limit_s, out.limit_source,
                            out.results[-1].verdict if out.results else None)
        assert out.limit_source in LIMIT_SOURCES


def test_progress_a_wall_clock_stop_counts_as_progress(sb, cache):
    # Control for the next test: the first call blocks (no CPU) past the calibrated run's
    # wall-clock limit (about 2.0 s here) but within the hard run's (3.0 s).
    hard = 1.0
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(4)), reference=REF)
    prog = "import time\n_D = []\ndef add(a, b):\n    if not _D:\n        _D.append(1)\n        time.sleep(2.3)\n    return a + b\n"
    cal = Calibration(recheck="progress")
    calibrate(sb, tests, cal, cpu_time_s=hard)
    [out] = run_tests(sb, [prog], tests, cpu_time_s=hard, calibration=cal)
    assert out.passed and out.rechecked, (out.status, out.detail, out.time_limit_s, out.limit_source)


def test_progress_a_wall_clock_stop_counts_as_progress_after_a_cpu_heavy_import(sb, cache):
    # README: "(still importing, a second call, a passed case, a wall-clock stop or a one-case
    # suite all count as progress ...)". The same program as above, plus 0.15 s of CPU at
    # import (well inside the import's allowance, e.g. an `import numpy`): it passes at the hard
    # limit, but under recheck="progress" its wall-clock stop is taken for a loop in the first
    # call (the run's cpu_s, import included, is above the calls' limit), re-run at 2 x the
    # limit, stopped by the wall clock again, and failed as a TIMEOUT.
    hard = 1.0
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(4)), reference=REF)
    prog = (BURN + "_burn(0.15)\n"
            "import time\n_D = []\ndef add(a, b):\n    if not _D:\n        _D.append(1)\n        time.sleep(2.3)\n    return a + b\n")
    [plain] = run_tests(sb, [prog], tests, cpu_time_s=hard)
    assert plain.passed, (plain.status, plain.detail)  # the hard limit passes it
    cal = Calibration(recheck="progress")
    calibrate(sb, tests, cal, cpu_time_s=hard)
    [out] = run_tests(sb, [prog], tests, cpu_time_s=hard, calibration=cal)
    assert out.passed, (out.status, out.detail, out.time_limit_s, out.limit_source, cal.stats["escalated"])


def test_progress_fails_only_the_documented_case_and_always_passes_it(sb, cache):
    # an honest program 6 x the limit on its very first call: the one program progress may fail
    hard = 2.0
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(4)), reference=REF)
    prog = BURN + "_D = []\ndef add(a, b):\n    if not _D:\n        _D.append(1)\n        _burn(0.6)\n    return a + b\n"
    always = Calibration(floor_s=0.1, factor=1.0)
    [a] = run_tests(sb, [prog], tests, cpu_time_s=hard, calibration=always)
    assert a.passed and a.rechecked and a.limit_source == "hard"
    progress = Calibration(recheck="progress", floor_s=0.1, factor=1.0)
    [p] = run_tests(sb, [prog], tests, cpu_time_s=hard, calibration=progress)
    assert p.status is TestStatus.TIMEOUT and p.rechecked and p.time_limit_s == pytest.approx(ESCALATION * 0.1)


# --------------------------------------------------------------------------- promise 3
# The store: $EXECTUNE_CACHE_DIR/calibration.sqlite, keyed by tests, reference, harness,
# version, machine; never a crash.


def test_store_lives_in_EXECTUNE_CACHE_DIR_and_a_new_process_reuses_it(sb, cache):
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    first = Calibration()
    assert calibrate(sb, tests, first, cpu_time_s=1.0) > 0
    assert (cache / "calibration.sqlite").is_file()
    key = Calibration.key(tests, REF)
    # another interpreter, same cache dir: reads the very figure
    code = ("import json, sys\nfrom exectune_rl.sandboxes.calibration import Calibration\n"
            f"print(json.dumps(Calibration().lookup({key!r})))\n")
    env = dict(os.environ, EXECTUNE_CACHE_DIR=str(cache))
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    assert tuple(json.loads(got.stdout)) == first.lookup(key)
    # and a new Calibration in this process runs the suite without measuring it again
    second = Calibration()
    [out] = run_tests(sb, [REF], tests, cpu_time_s=1.0, calibration=second)
    assert out.passed and out.limit_source == "reference"
    assert second.stats["calibrated"] == 0 and second.stats["reused"] == 1 and second.calibration_s == 0


def test_store_changed_tests_reference_harness_version_or_machine_are_measured_again(sb, cache, monkeypatch):
    base = ProgramTests("asserts", code=ASSERTS, reference=REF)
    calibrate(sb, base, Calibration(), cpu_time_s=1.0)
    same = Calibration()
    assert calibrate(sb, ProgramTests("asserts", code=ASSERTS, reference=REF), same, cpu_time_s=1.0) == 0
    assert same.stats["calibrated"] == 0

    io_ref = "print(int(input()) * 2)\n"
    calibrate(sb, ProgramTests("io", cases=(("1", "2"),), reference=io_ref), Calibration(), cpu_time_s=1.0)
    chk = ProgramTests("check", code="def check(c):\n    assert c(1, 2) == 3\n", entry_point="add", reference=REF)
    calibrate(sb, chk, Calibration(), cpu_time_s=1.0)
    variants = {
        "tests_code": ProgramTests("asserts", code=ASSERTS + "assert add(9, 9) == 18\n", reference=REF),
        "reference": ProgramTests("asserts", code=ASSERTS, reference=REF + "# v2\n"),
        "support": ProgramTests("asserts", code=ASSERTS, reference=REF, support="HELPER = 1\n"),
        "io_cases": ProgramTests("io", cases=(("1", "2"), ("3", "6")), reference=io_ref),
        "entry_point": ProgramTests("check", code=chk.code, entry_point="plus", reference=REF.replace("add", "plus")),
    }
    for name, suite in variants.items():
        cal = Calibration()
        calibrate(sb, suite, cal, cpu_time_s=1.0)
        assert cal.stats["calibrated"] == 1, name
    inproc = Calibration()
    calibrate(sb, base, inproc, cpu_time_s=1.0, harness_mode="inprocess")
    assert inproc.stats["calibrated"] == 1, "harness"
    import exectune_rl

    with monkeypatch.context() as m:
        m.setattr(exectune_rl, "__version__", exectune_rl.__version__ + ".post-redteam")
        ver = Calibration()
        calibrate(sb, base, ver, cpu_time_s=1.0)
        assert ver.stats["calibrated"] == 1, "version"
    real = os.cpu_count()
    with monkeypatch.context() as m:
        m.setattr(os, "cpu_count", lambda: (real or 1) + 7)
        machine = Calibration()
        calibrate(sb, base, machine, cpu_time_s=1.0)
        assert machine.stats["calibrated"] == 1, "machine"


def _unusable(kind: str, cache, monkeypatch) -> None:
    path = cache / "calibration.sqlite"
    if kind == "random_bytes":
        path.write_bytes(os.urandom(16384))
    elif kind == "sqlite_header_then_garbage":
        path.write_bytes(b"SQLite format 3\x00" + os.urandom(16384))
    elif kind == "truncated_database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE calibration (key TEXT PRIMARY KEY, t_ref REAL NOT NULL, source TEXT NOT NULL, "
                   "created REAL NOT NULL)")
        db.executemany("INSERT INTO calibration VALUES (?, ?, ?, ?)",
                       [(f"k{i:05d}" * 8, 0.01, "reference", 0.0) for i in range(3000)])
        db.commit()
        db.close()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + os.urandom(4096))
    elif kind == "wrong_schema":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE calibration (key TEXT, note TEXT)")
        db.commit()
        db.close()
    elif kind == "poisoned_rows":
        # the right table, with garbage figures under every key this test uses
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE calibration (key TEXT PRIMARY KEY, t_ref, source, created)")
        keys = [Calibration.key(ProgramTests("asserts", code=ASSERTS, reference=REF), r) for r in (REF, None)]
        db.executemany("INSERT INTO calibration VALUES (?, ?, ?, ?)",
                       [(keys[0], "fast", "reference", 0), (keys[1], -1.0, "first_pass", 0)])
        db.commit()
        db.close()
    elif kind == "a_directory":
        path.mkdir()
    elif kind == "a_fifo":
        os.mkfifo(path)
    elif kind == "cache_dir_is_a_file":
        blocker = cache / "not_a_dir"
        blocker.write_text("x")
        monkeypatch.setenv("EXECTUNE_CACHE_DIR", str(blocker))
    else:  # pragma: no cover
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["random_bytes", "sqlite_header_then_garbage", "truncated_database", "wrong_schema",
                                  "poisoned_rows", "a_directory", "a_fifo", "cache_dir_is_a_file"])
def test_store_garbage_or_unusable_never_crashes_or_changes_verdicts(sb, cache, kind, caplog, monkeypatch):
    _unusable(kind, cache, monkeypatch)
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    cal = Calibration(recheck="progress")
    with caplog.at_level("WARNING", logger=CAL_LOGGER):
        ok, wrong, loop = run_tests(sb, [REF, WRONG, LOOP], tests, cpu_time_s=1.0, calibration=cal)
        [again] = run_tests(sb, [REF], tests, cpu_time_s=1.0, calibration=cal)
    assert ok.passed and again.passed and ok.limit_source == "reference"
    assert wrong.status is TestStatus.FAILED and not wrong.passed
    assert loop.status is TestStatus.TIMEOUT and loop.results[0].cpu_s < 0.5
    if kind != "poisoned_rows":
        assert any("calibration store" in r.getMessage() for r in caplog.records), kind


def _immutable(paths, on: bool) -> bool:
    if shutil.which("chattr") is None:
        return False
    for p in paths:
        if subprocess.run(["chattr", "+i" if on else "-i", str(p)], capture_output=True).returncode != 0:
            return False
    return True


def test_store_read_only_is_still_read_and_never_fails_a_run(sb, cache, caplog):
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    calibrate(sb, tests, Calibration(), cpu_time_s=1.0)
    db = cache / "calibration.sqlite"
    if os.geteuid() == 0:
        if not _immutable([db, cache], True):
            pytest.skip("cannot make the store read-only as root here (no chattr)")
    else:
        db.chmod(0o444)
        cache.chmod(0o555)
    try:
        other = ProgramTests("asserts", code=ASSERTS + "assert add(1, 1) == 2\n", reference=REF)
        cal = Calibration(recheck="progress")
        with caplog.at_level("WARNING", logger=CAL_LOGGER):
            ok, loop, ok2 = run_tests(sb, [REF, LOOP, REF], [tests, tests, other], cpu_time_s=1.0, calibration=cal)
        assert ok.passed and ok2.passed and ok.limit_source == "reference" and ok2.limit_source == "reference"
        assert loop.status is TestStatus.TIMEOUT and loop.results[0].cpu_s < 0.5
        assert cal.stats["calibrated"] == 1 and cal.stats["reused"] >= 1  # the old figure was read, the new measured
        assert any("calibration store" in r.getMessage() for r in caplog.records)
    finally:
        if os.geteuid() == 0:
            _immutable([db, cache], False)
        else:
            cache.chmod(0o755)
            db.chmod(0o644)


def test_store_corrupted_while_in_use_never_crashes_or_changes_verdicts(sb, cache):
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    cal = Calibration(recheck="progress")
    [a] = run_tests(sb, [REF], tests, cpu_time_s=1.0, calibration=cal)
    assert a.passed
    (cache / "calibration.sqlite").write_bytes(os.urandom(20000))
    other = ProgramTests("asserts", code=ASSERTS + "assert add(2, 2) == 4\n", reference=REF)
    ok, wrong, loop = run_tests(sb, [REF, WRONG, LOOP], other, cpu_time_s=1.0, calibration=cal)
    assert ok.passed and ok.limit_source == "reference"
    assert wrong.status is TestStatus.FAILED
    assert loop.status is TestStatus.TIMEOUT and loop.results[0].cpu_s < 0.5
    # and a fresh instance (another run of the trainer) on the garbage file
    [b] = run_tests(sb, [REF], tests, cpu_time_s=1.0, calibration=Calibration())
    assert b.passed


_WORKER_SCRIPT = textwrap.dedent("""
    import json, sys, time, logging
    logging.basicConfig(level=logging.WARNING)
    from exectune_rl.sandboxes import LocalSandbox
    from exectune_rl.sandboxes.calibration import Calibration
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests
    me, go_at = sys.argv[1], float(sys.argv[2])
    REF = "def add(a, b):\\n    return a + b\\n"
    shared = ProgramTests("asserts", code="assert add(1, 2) == 3\\nassert add(2, 2) == 4\\n", reference=REF)
    mine = [ProgramTests("asserts", code=f"assert add({i}, 1) == {i + 1}\\n# {me}\\n", reference=REF) for i in range(6)]
    with LocalSandbox(workers=1) as sb:  # default settings, as two trainers on one machine
        while time.time() < go_at:
            time.sleep(0.01)
        cal = Calibration(recheck="progress")
        outs = []
        for suite in [shared] + mine:  # one batch per suite: many store writes, interleaved with the other process
            outs += run_tests(sb, [REF, "def add(a, b):\\n    return a - b\\n"], suite, cpu_time_s=1.0, calibration=cal)
    print(json.dumps({"verdicts": [(o.passed, o.limit_source) for o in outs], "stats": cal.stats}))
""")


def test_store_two_processes_sharing_one_cache_dir_at_once_both_work(cache):
    env = dict(os.environ, EXECTUNE_CACHE_DIR=str(cache))
    go_at = time.time() + 4.0
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER_SCRIPT, name, str(go_at)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert "calibration store" not in err, err[-3000:]  # neither lost the shared store
        results.append(json.loads(out.strip().splitlines()[-1]))
    for res in results:
        verdicts = res["verdicts"]
        assert [v[0] for v in verdicts] == [True, False] * 7, verdicts
        assert all(src == "reference" for _, src in verdicts), verdicts
    # every suite of both processes is in the one file, for the next process to reuse
    db = sqlite3.connect(cache / "calibration.sqlite")
    (count,) = db.execute("SELECT COUNT(*) FROM calibration").fetchone()
    db.close()
    assert count == 1 + 6 + 6


# --------------------------------------------------------------------------- promise 4
# A reference that fails, loops or crashes is reported, never hangs or crashes the caller.

BAD_REFERENCES = {
    "wrong": "def add(a, b):\n    return a * b\n",
    "loops_in_call": LOOP,
    "loops_at_import": "while True:\n    pass\n",
    "sleeps_forever": "import time\ntime.sleep(10 ** 6)\n",
    "exit_0_at_import": "import sys\nsys.exit(0)\n",
    "os_exit_0_in_call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "segfault": "import ctypes\ndef add(a, b):\n    return ctypes.string_at(0)\n",
    "raises_at_import": "raise RuntimeError('broken reference')\n",
    "syntax_error": "def add(a, b)\n    return a + b\n",
    "memory_bomb": "x = bytearray(1 << 40)\n",
    "flaky": "import random\ndef add(a, b):\n    return a + b + (random.random() < 0.3)\n",
    "empty": "",
}


def test_failing_looping_or_crashing_references_are_reported_and_never_hang(sb, cache, caplog):
    hard = 0.5
    suites = [ProgramTests("asserts", code=ASSERTS + f"# suite {name}\n", reference=ref)
              for name, ref in BAD_REFERENCES.items()]
    cal = Calibration(recheck="progress", repeats=3)
    start = time.monotonic()
    with caplog.at_level("WARNING", logger=CAL_LOGGER):
        outs = run_tests(sb, [REF] * len(suites), suites, cpu_time_s=hard, calibration=cal)
    assert time.monotonic() - start < 30
    for name, out in zip(BAD_REFERENCES, outs):
        assert out.passed and out.limit_source == "hard" and out.time_limit_s == hard, (name, out)
    assert cal.stats["failed_references"] == len(BAD_REFERENCES), cal.stats
    assert cal.stats["calibrated"] == 0
    warned = [r.getMessage() for r in caplog.records if "did not pass its own tests" in r.getMessage()]
    assert len(warned) == len(BAD_REFERENCES), warned
    # not measured again in this process: the next batch costs no calibration
    spent = cal.calibration_s
    outs2 = run_tests(sb, [WRONG] * len(suites), suites, cpu_time_s=hard, calibration=cal)
    assert all(o.status is TestStatus.FAILED for o in outs2)
    assert cal.calibration_s == spent and cal.stats["failed_references"] == len(BAD_REFERENCES)


def test_after_a_failed_reference_the_suite_runs_hard_then_from_its_first_passing_program(sb, cache):
    suite = ProgramTests("asserts", code=ASSERTS, reference="def add(a, b):\n    return 0\n")
    cal = Calibration(recheck="never", floor_s=0.1)
    wrong, first = run_tests(sb, [WRONG, REF], suite, cpu_time_s=1.0, calibration=cal)
    assert not wrong.passed and wrong.limit_source == "hard"
    assert first.passed and first.limit_source == "hard" and first.time_limit_s == 1.0
    second, loop = run_tests(sb, [REF, LOOP], suite, cpu_time_s=1.0, calibration=cal)
    assert second.passed and second.limit_source == "first_pass" and second.time_limit_s == pytest.approx(0.1)
    assert loop.status is TestStatus.TIMEOUT and loop.results[0].cpu_s < 0.5
    strict = Calibration(recheck="never", floor_s=0.1, from_first_pass=False, path=":memory:")
    outs = run_tests(sb, [REF, REF], suite, cpu_time_s=1.0, calibration=strict)
    assert all(o.passed and o.limit_source == "hard" for o in outs)


# --------------------------------------------------------------------------- promise 5
# Results say which limit applied.


def test_results_say_which_limit_applied(sb, cache):
    hard = 1.0
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    [plain] = run_tests(sb, [REF], tests, cpu_time_s=hard)
    assert plain.limit_source == "hard" and plain.time_limit_s == hard and not plain.rechecked

    cal = Calibration(floor_s=0.02)
    ok, slow = run_tests(sb, [REF, BURN + "def add(a, b):\n    _burn(0.03)\n    return a + b\n"], tests,
                         cpu_time_s=hard, calibration=cal)
    t_ref = _t_ref(cal, tests)
    assert ok.limit_source == "reference" and ok.time_limit_s == pytest.approx(max(0.02, 4 * t_ref))
    assert not ok.rechecked
    assert slow.passed and slow.rechecked and slow.limit_source == "hard" and slow.time_limit_s == hard

    # a calibrated limit at or above the hard limit is the hard limit
    [high] = run_tests(sb, [REF], tests, cpu_time_s=hard, calibration=Calibration(floor_s=hard, path=":memory:"))
    assert high.limit_source == "hard" and high.time_limit_s == hard

    # first passing program, then first_pass
    noref = ProgramTests("asserts", code=ASSERTS)
    fp = Calibration(floor_s=0.05)
    [a] = run_tests(sb, [REF], noref, cpu_time_s=hard, calibration=fp)
    [b] = run_tests(sb, [REF], noref, cpu_time_s=hard, calibration=fp)
    assert a.limit_source == "hard" and b.limit_source == "first_pass"
    figure = fp.lookup(fp.key(noref, None))
    assert figure is not None and figure[1] == "first_pass"
    assert b.time_limit_s == pytest.approx(max(0.05, 4 * figure[0]))

    # a recorded baseline
    other = ProgramTests("asserts", code=ASSERTS + "assert add(3, 3) == 6\n")
    base = Calibration(floor_s=0.05)
    base.record(other, 0.04)
    [c] = run_tests(sb, [REF], other, cpu_time_s=hard, calibration=base)
    assert c.limit_source == "baseline" and c.time_limit_s == pytest.approx(0.16)
    # a recorded baseline never overrides a suite's own reference
    cal.record(tests, 0.2)
    [d] = run_tests(sb, [REF], tests, cpu_time_s=hard, calibration=cal)
    assert d.limit_source == "reference" and d.time_limit_s == pytest.approx(max(0.02, 4 * t_ref))

    # the escalated re-run of recheck="progress" reports its own limit
    esc = Calibration(recheck="progress", floor_s=0.05, factor=1.0)
    [e] = run_tests(sb, [LOOP], tests, cpu_time_s=hard, calibration=esc)
    assert e.rechecked and e.limit_source == "reference" and e.time_limit_s == pytest.approx(ESCALATION * 0.05)

    # io: the largest per-case limit
    io = ProgramTests("io", cases=(("1", "2"), ("4", "8")), reference="print(int(input()) * 2)\n")
    iocal = Calibration(floor_s=0.05)
    [f] = run_tests(sb, ["print(int(input()) * 2)\n"], io, cpu_time_s=hard, calibration=iocal)
    assert f.passed and f.limit_source == "reference"
    assert f.time_limit_s == pytest.approx(max(0.05, 4 * _t_ref(iocal, io)))
    for out in (plain, ok, slow, high, a, b, c, d, e, f):
        assert out.limit_source in LIMIT_SOURCES and 0 < out.time_limit_s <= hard


# --------------------------------------------------------------------------- promise 6
# Adversarial programs never pass a suite they do not solve by gaming calibration or the re-run.

ADVERSARIAL = {
    "fast_but_wrong": WRONG,
    "exit_0_at_import": "import sys\nsys.exit(0)\n",
    "os_exit_0_at_import": "import os\nos._exit(0)\n" + REF,
    "os_exit_0_in_first_call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "system_exit_in_call": "def add(a, b):\n    raise SystemExit(0)\n",
    "prints_fake_success": ("print('8 passed, 0 failed')\nprint('PASSED')\nimport sys\nsys.stdout.flush()\n"
                            "def add(a, b):\n    print('ok')\n    return None\n"),
    "spins_until_killed": LOOP,
    "spins_past_the_calibrated_limit_then_exits_0": (
        BURN + "import os\ndef add(a, b):\n    _burn(0.3)\n    os._exit(0)\n"),
    # spins on a random half of its runs (forcing a re-run), answers wrong on the rest
    "spins_on_some_runs_wrong_on_others": ("import random\n_SPIN = random.random() < 0.5\ndef add(a, b):\n"
                                           "    while _SPIN:\n        pass\n    return a - b\n"),
    "wrong_after_the_first_call": "_N = []\ndef add(a, b):\n    _N.append(1)\n    return a + b if len(_N) == 1 else 0\n",
    # the process the tests talk to exits 0; a forked child goes on answering (correctly)
    "fork_then_parent_exits_0": "import os\n_F = []\ndef add(a, b):\n    if not _F:\n        _F.append(1)\n        if os.fork():\n            os._exit(0)\n    return a + b\n",
    "kills_itself_after_a_pass": ("import os, signal\n_N = []\ndef add(a, b):\n    _N.append(1)\n"
                                  "    if len(_N) == 2:\n        os.kill(os.getpid(), signal.SIGKILL)\n    return a + b\n"),
}


@pytest.mark.parametrize("mode", ["always", "progress", "never"])
def test_adversarial_programs_never_pass_under_calibration(sb, cache, mode):
    tests = ProgramTests("asserts", code=ASSERTS, reference=REF)
    cal = Calibration(recheck=mode)
    outs = run_tests(sb, list(ADVERSARIAL.values()), tests, cpu_time_s=1.0, calibration=cal)
    for name, out in zip(ADVERSARIAL, outs):
        assert not out.passed and out.status is not TestStatus.PASSED, (name, out.status, out.detail)
        assert out.status is not TestStatus.INFRA, (name, out.detail)
    # the same suite without a reference: the adversaries never become its figure
    noref = ProgramTests("asserts", code=ASSERTS)
    outs = run_tests(sb, list(ADVERSARIAL.values()), noref, cpu_time_s=1.0, calibration=cal)
    assert not any(o.passed for o in outs)
    assert cal.lookup(cal.key(noref, None)) is None


def test_a_lookup_table_first_passer_never_fails_later_honest_programs_under_always(sb, cache):
    hard = 2.0
    noref = ProgramTests("asserts", code=ASSERTS)
    table = "_T = {" + ", ".join(f"({i}, {i % 3}): {i + i % 3}" for i in range(8)) + "}\ndef add(a, b):\n    return _T[(a, b)]\n"
    cal = Calibration()  # always
    [first] = run_tests(sb, [table], noref, cpu_time_s=hard, calibration=cal)
    assert first.passed and first.limit_source == "hard"
    fig = cal.lookup(cal.key(noref, None))
    assert fig is not None and fig[1] == "first_pass"
    # honest programs far slower than the table (8 calls of 4 ms and of 20 ms), whose raised
    # figure (factor x about 0.17 s) stays under the hard limit
    honest = {k: BURN + f"def add(a, b):\n    _burn({s})\n    return a + b\n" for k, s in (("slow", 0.004), ("slower", 0.02))}
    outs = run_tests(sb, list(honest.values()) + [WRONG], noref, cpu_time_s=hard, calibration=cal)
    for name, out in zip(honest, outs):
        assert out.passed and out.rechecked, (name, out)
    assert outs[-1].status is TestStatus.FAILED  # fast but wrong stays failed under the tiny limit
    # the figure was raised by the slowest one that passed on its re-run: the next passes at once
    [again] = run_tests(sb, [honest["slower"]], noref, cpu_time_s=hard, calibration=cal)
    assert again.passed and not again.rechecked and again.limit_source == "first_pass", again
    # and another process (a fresh Calibration on the same store) keeps that
    [later] = run_tests(sb, [honest["slower"]], noref, cpu_time_s=hard, calibration=Calibration())
    assert later.passed and not later.rechecked and later.limit_source == "first_pass", later
