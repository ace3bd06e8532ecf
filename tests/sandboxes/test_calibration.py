"""Calibrated time limits on real processes: loops stop early, slower honest programs pass."""

from __future__ import annotations

import pickle

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes.calibration import Calibration
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, calibrate, run_tests

REF = "def add(a, b):\n    return a + b\n"
TESTS = ProgramTests("asserts", code="for i in range(50):\n    assert add(i, 1) == i + 1\n", reference=REF)
LOOP = "def add(a, b):\n    while True:\n        pass\n"
# correct, and far slower than the reference: more than factor x t_ref, well under the hard limit
SLOW = "def add(a, b):\n    x = 0\n    for _ in range(60_000):\n        x += 1\n    return a + b\n"


def test_a_loop_stops_at_the_calibrated_limit_without_recheck(pool, tmp_path):
    cal = Calibration(path=tmp_path / "cal.sqlite", recheck=False, floor_s=0.1)
    [out] = run_tests(pool, [LOOP], TESTS, cpu_time_s=3.0, calibration=cal)
    assert out.status is TestStatus.TIMEOUT
    assert out.limit_source == "reference" and out.time_limit_s == pytest.approx(0.1)
    assert out.results[0].cpu_s < 1.0  # it did not burn the 3 s hard limit
    assert cal.stats["calibrated"] == 1


def test_a_slower_honest_program_is_rechecked_and_passes(pool, tmp_path):
    cal = Calibration(path=tmp_path / "cal.sqlite", floor_s=0.01, factor=1.0)
    slow, loop = run_tests(pool, [SLOW, LOOP], TESTS, cpu_time_s=2.0, calibration=cal)
    assert slow.passed and slow.rechecked and slow.limit_source == "hard" and slow.time_limit_s == 2.0
    assert loop.status is TestStatus.TIMEOUT and loop.rechecked
    assert cal.stats["rechecked"] == 2 and cal.stats["recheck_passed"] == 1
    assert 0 < cal.recheck_rate() <= 1


def test_calibrations_persist_across_instances_and_follow_the_task(pool, tmp_path):
    path = tmp_path / "cal.sqlite"
    first = Calibration(path=path)
    assert calibrate(pool, [TESTS], first, cpu_time_s=2.0) > 0
    second = Calibration(path=path)
    assert calibrate(pool, [TESTS], second, cpu_time_s=2.0) == 0  # reused from the file
    assert second.lookup(second.key(TESTS, REF)) is not None
    changed = ProgramTests("asserts", code=TESTS.code + "assert add(0, 0) == 0\n", reference=REF)
    assert second.lookup(second.key(changed, REF)) is None  # a changed suite is measured again


def test_without_a_reference_the_first_pass_calibrates(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck=False, floor_s=0.1)
    tests = ProgramTests("asserts", code=TESTS.code)
    first, loop1 = run_tests(pool, [REF, LOOP], tests, cpu_time_s=2.0, calibration=cal)
    assert first.passed and first.limit_source == "hard" and loop1.limit_source == "hard"
    [loop2] = run_tests(pool, [LOOP], tests, cpu_time_s=2.0, calibration=cal)
    assert loop2.limit_source == "first_pass" and loop2.status is TestStatus.TIMEOUT
    assert loop2.time_limit_s == pytest.approx(0.1)


def test_a_reference_that_fails_its_tests_leaves_the_hard_limit(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite")
    bad = ProgramTests("asserts", code="assert add(1, 1) == 2", reference="def add(a, b):\n    return 0\n")
    [out] = run_tests(pool, [REF], bad, cpu_time_s=1.5, calibration=cal)
    assert out.passed and out.limit_source == "hard" and out.time_limit_s == 1.5


def test_config_is_checked_and_pickles(tmp_path):
    with pytest.raises(ConfigError, match="factor"):
        Calibration(factor=0)
    with pytest.raises(ConfigError, match="repeats"):
        Calibration(repeats=0)
    cal = Calibration(path=tmp_path / "c.sqlite")
    cal.store("k", 0.01, "reference")
    copy = pickle.loads(pickle.dumps(cal))
    assert copy.lookup("k") == (0.01, "reference")
    with pytest.raises(ConfigError):
        cal.store("k", 0.01, "guess")


def test_io_suites_are_calibrated_per_case(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="never", floor_s=0.1)
    ref = "n = int(input())\nprint(n * 2)\n"
    tests = ProgramTests("io", cases=(("2", "4"), ("5", "10")), reference=ref)
    ok, loop = run_tests(pool, [ref, "while True:\n    pass\n"], tests, cpu_time_s=2.0, calibration=cal)
    assert ok.passed and ok.limit_source == "reference"
    assert loop.status is TestStatus.TIMEOUT and all(r.cpu_s < 1.0 for r in loop.results)


# An honest program with an import the reference does not make: 0.3 s of CPU at import,
# then calls as fast as the reference's.
HEAVY_IMPORT = "x = 0\nfor _ in range(3_000_000):\n    x += 1\n\n" + REF


def test_an_import_the_reference_does_not_make_never_eats_into_the_calibrated_limit(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="never", floor_s=0.05)
    heavy, loop = run_tests(pool, [HEAVY_IMPORT, LOOP], TESTS, cpu_time_s=3.0, calibration=cal)
    assert heavy.results[0].cpu_s > 0.1  # its import alone ran past the calibrated limit...
    assert heavy.passed and not heavy.rechecked and heavy.limit_source == "reference"  # ...and it passed
    assert heavy.time_limit_s == pytest.approx(0.05)
    assert loop.status is TestStatus.TIMEOUT and loop.results[0].cpu_s < 0.5  # the calls' limit still holds


def test_a_program_that_never_finishes_its_import_stops_within_the_hard_limit(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="never", floor_s=0.05)
    [out] = run_tests(pool, ["while True:\n    pass\n" + REF], TESTS, cpu_time_s=1.0, calibration=cal)
    assert out.status is TestStatus.TIMEOUT
    assert "while the program was imported" in out.results[0].detail
    assert 0.8 < out.results[0].cpu_s < 1.6


def test_progress_recheck_skips_a_loop_in_the_first_call_and_rechecks_the_rest(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="progress", floor_s=0.15, factor=1.0)
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(12)), reference=REF)
    # slow on every call (about 20-60 ms): the first call ends inside the limit, a later one does not
    slow_calls = "def add(a, b):\n    x = 0\n    for _ in range(1_000_000):\n        x += 1\n    return a + b\n"
    loop, slow = run_tests(pool, [LOOP, slow_calls], tests, cpu_time_s=3.0, calibration=cal)
    assert loop.status is TestStatus.TIMEOUT and not loop.rechecked and loop.results[0].cpu_s < 0.5
    assert slow.passed and slow.rechecked and slow.limit_source == "hard"
    assert cal.stats["rechecked"] == 1


def test_progress_recheck_reruns_a_single_case_suite(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="progress", floor_s=0.05, factor=1.0)
    tests = ProgramTests("asserts", code="assert add(1, 2) == 3", reference=REF)
    slow = "def add(a, b):\n    x = 0\n    for _ in range(3_000_000):\n        x += 1\n    return a + b\n"
    [out] = run_tests(pool, [slow], tests, cpu_time_s=3.0, calibration=cal)
    assert out.passed and out.rechecked  # one case: nothing tells it from a loop, so it is re-run


def test_stuck_in_first_case_reads_the_verdict_and_the_cpu_used():
    from exectune_rl.sandboxes import ExecResult, ExecStatus
    from exectune_rl.sandboxes.calibration import stuck_in_first_case
    from exectune_rl.sandboxes.runner import TestOutcome

    def outcome(cpu, verdict, passed=0, total=5):
        r = ExecResult(status=ExecStatus.TIMEOUT, exit_code=None, signal=9, stdout="", stderr="", cpu_s=cpu, verdict=verdict)
        return TestOutcome(TestStatus.TIMEOUT, False, True, True, passed, total, passed / total if total else 0.0, "", (r,))

    first_call = {"v": 1, "ready": True, "calls": 1, "seen": 1, "passed": 0}
    assert stuck_in_first_case(outcome(0.06, first_call), 0.05)
    assert not stuck_in_first_case(outcome(0.01, first_call), 0.05)  # the wall stopped it: a loaded machine
    assert not stuck_in_first_case(outcome(0.06, dict(first_call, calls=2)), 0.05)  # a second call: progress
    assert not stuck_in_first_case(outcome(0.06, dict(first_call, ready=False)), 0.05)  # still importing
    assert not stuck_in_first_case(outcome(0.06, first_call, passed=1), 0.05)
    assert not stuck_in_first_case(outcome(0.06, first_call, total=1), 0.05)
    assert not stuck_in_first_case(outcome(0.06, None), 0.05)  # no verdict (io, in-process): a slow start looks the same


def test_progress_recheck_reruns_what_the_judge_does_not_watch(pool, tmp_path):
    # io cases and the in-process harness cannot tell a slow start from a loop: a program with
    # 0.3 s of honest set-up is re-run at the hard limit, and passes.
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="progress", floor_s=0.05)
    slow_start = "x = 0\nfor _ in range(3_000_000):\n    x += 1\n"
    io = ProgramTests("io", cases=(("2", "4"), ("5", "10"), ("1", "2")), reference="print(int(input()) * 2)\n")
    [out] = run_tests(pool, [slow_start + "print(int(input()) * 2)\n"], io, cpu_time_s=3.0, calibration=cal)
    assert out.passed and out.rechecked
    tests = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 2) == 4\n", reference=REF)
    [inproc] = run_tests(pool, [slow_start + REF], tests, cpu_time_s=3.0, calibration=cal, harness_mode="inprocess")
    assert inproc.passed and inproc.rechecked


def test_after_a_slow_import_the_calls_still_get_only_the_calibrated_limit(pool, tmp_path):
    # The worker timed its next CPU check from a sample taken before the import's end: a loop
    # right after a 0.9 s import got about 0.5 s, ten times its limit.
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="never", floor_s=0.05)
    tests = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 2) == 4\n", reference=REF)
    heavy_then_loop = ("import time\nx = 0\nwhile time.process_time() < 0.9:\n    x += 1\n"
                       "print(round(time.process_time(), 3))\n" + LOOP)
    [out] = run_tests(pool, [heavy_then_loop], tests, cpu_time_s=3.0, calibration=cal)
    assert out.status is TestStatus.TIMEOUT
    imported = float(out.results[0].stdout)
    assert out.results[0].cpu_s - imported < 0.2, (out.results[0].cpu_s, imported)


@pytest.mark.parametrize("where", ["not_a_database", "unwritable_folder"])
def test_a_store_that_cannot_be_used_never_fails_the_run(pool, tmp_path, where, caplog):
    if where == "not_a_database":
        path = tmp_path / "cal.sqlite"
        path.write_bytes(b"this is no sqlite file" * 50)
    else:
        blocker = tmp_path / "file"
        blocker.write_text("a file where the store's folder would be")
        path = blocker / "cal.sqlite"
    cal = Calibration(path=path, recheck="never", floor_s=0.1)
    with caplog.at_level("WARNING", logger="exectune_rl.sandboxes.calibration"):
        ok, loop = run_tests(pool, [REF, LOOP], TESTS, cpu_time_s=2.0, calibration=cal)
    assert ok.passed and ok.limit_source == "reference"  # calibrated all the same, in memory
    assert loop.status is TestStatus.TIMEOUT and loop.results[0].cpu_s < 1.0
    assert sum("calibration store" in r.getMessage() for r in caplog.records) == 1, caplog.records
    assert cal.lookup(cal.key(TESTS, TESTS.reference)) is not None
