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
