"""Calibrated time limits on real processes: loops stop early, slower honest programs pass."""

from __future__ import annotations

import pickle

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes.calibration import ESCALATION, Calibration
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
    # 0.5 s: its wall clock (the calls' backstop plus the import allowance, 1.5 s) is 3x its CPU,
    # so a loaded machine does not stop it before its CPU limit
    [out] = run_tests(pool, ["while True:\n    pass\n" + REF], TESTS, cpu_time_s=0.5, calibration=cal)
    assert out.status is TestStatus.TIMEOUT
    assert "while the program was imported" in out.results[0].detail
    assert 0.4 < out.results[0].cpu_s < 0.8


def test_a_calibrated_run_never_has_more_wall_clock_time_than_the_same_run_at_the_hard_limit(pool, tmp_path):
    # A calibrated limit just under the hard limit once gave a wall-clock backstop of 4x it plus
    # the import allowance: more than the hard run's default (3x, at least + 2 s), so a program
    # asleep for that long passed only because its limit was calibrated.
    asleep = ("import time\n_SLEPT = []\ndef add(a, b):\n    if not _SLEPT:\n        _SLEPT.append(1)\n"
              "        time.sleep(3.4)\n    return a + b\n")  # 3.4 s: past the hard run's 3 s, within the old 3.7 s
    hard_only, = run_tests(pool, [asleep], TESTS, cpu_time_s=1.0)
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="never", floor_s=0.9)
    calibrated, = run_tests(pool, [asleep], TESTS, cpu_time_s=1.0, calibration=cal)
    assert calibrated.limit_source == "reference" and calibrated.time_limit_s == pytest.approx(0.9), calibrated
    assert hard_only.status is calibrated.status is TestStatus.TIMEOUT, (hard_only, calibrated)
    assert calibrated.results[0].wall_s < 3.3, calibrated.results[0]


def test_progress_recheck_skips_a_loop_in_the_first_call_and_rechecks_the_rest(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="progress", floor_s=0.15, factor=1.0)
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(12)), reference=REF)
    # slow on every call (about 20-60 ms): the first call ends inside the limit, a later one does not
    slow_calls = "def add(a, b):\n    x = 0\n    for _ in range(1_000_000):\n        x += 1\n    return a + b\n"
    loop, slow = run_tests(pool, [LOOP, slow_calls], tests, cpu_time_s=3.0, calibration=cal)
    # the loop, stuck in its first call, is re-run once at ESCALATION x its limit, never at the hard limit
    assert loop.status is TestStatus.TIMEOUT and loop.rechecked and loop.results[0].cpu_s < 0.5
    assert loop.time_limit_s == pytest.approx(ESCALATION * 0.15) and loop.limit_source == "reference"
    assert slow.passed and slow.rechecked and slow.limit_source == "hard"
    assert cal.stats["rechecked"] == 2 and cal.stats["escalated"] == 1


def test_progress_recheck_never_lets_cpu_noise_at_the_limit_decide(pool, tmp_path):
    # a first call that takes about 1.3x the limit (as CPU noise makes of a program at 70% of
    # it): stuck by the rule, and passed by its escalated re-run, at no hard-limit cost
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="progress", floor_s=0.1, factor=1.0)
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(6)), reference=REF)
    first_heavy = ("import time\nDONE = []\ndef add(a, b):\n    if not DONE:\n        t = time.process_time()\n"
                   "        while time.process_time() - t < 0.13:\n            pass\n        DONE.append(1)\n    return a + b\n")
    [out] = run_tests(pool, [first_heavy], tests, cpu_time_s=3.0, calibration=cal)
    assert out.passed and out.rechecked and out.limit_source == "reference", out
    assert out.time_limit_s == pytest.approx(ESCALATION * 0.1) and cal.stats["escalated"] == 1


def test_a_figure_from_a_passing_program_is_raised_by_a_slower_one_that_passed_on_its_recheck(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", floor_s=0.02)
    tests = ProgramTests("asserts", code="".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(6)))
    [fast] = run_tests(pool, [REF], tests, cpu_time_s=3.0, calibration=cal)  # no reference: it becomes the figure
    slow = ("import time\ndef add(a, b):\n    t = time.process_time()\n    while time.process_time() - t < 0.02:\n"
            "        pass\n    return a + b\n")
    [first] = run_tests(pool, [slow], tests, cpu_time_s=3.0, calibration=cal)
    assert fast.passed and first.passed and first.rechecked, first
    [second] = run_tests(pool, [slow], tests, cpu_time_s=3.0, calibration=cal)
    assert second.passed and not second.rechecked and second.limit_source == "first_pass", second
    assert second.time_limit_s >= 4 * 0.1  # factor x the slower program's time (six calls of 20 ms)


def test_a_limit_at_or_above_the_hard_limit_is_the_hard_limit(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", floor_s=2.0)
    [out] = run_tests(pool, [LOOP], TESTS, cpu_time_s=0.5, calibration=cal)
    assert out.status is TestStatus.TIMEOUT and out.limit_source == "hard" and out.time_limit_s == 0.5
    assert not out.rechecked and cal.recheck_rate() == 0.0 and cal.stats["limited"] == 0


def test_a_failed_reference_is_reported_once_and_not_measured_again(pool, tmp_path, caplog):
    cal = Calibration(path=tmp_path / "c.sqlite", recheck="never", from_first_pass=False)
    tests = ProgramTests("asserts", code="assert add(1, 2) == 3", reference="def add(a, b):\n    return a - b\n")
    with caplog.at_level("WARNING", logger="exectune_rl.sandboxes.calibration"):
        [a] = run_tests(pool, [REF], tests, cpu_time_s=1.0, calibration=cal)
        spent = cal.calibration_s
        [b] = run_tests(pool, [REF], tests, cpu_time_s=1.0, calibration=cal)
    assert a.passed and b.passed and a.limit_source == b.limit_source == "hard"
    assert cal.stats["failed_references"] == 1 and cal.calibration_s == spent
    assert sum("did not pass its own tests" in r.getMessage() for r in caplog.records) == 1


def test_bad_figures_and_arguments_are_config_errors(pool, tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite")
    for bad in (float("nan"), float("inf"), -1.0, "0.1", None, True):
        with pytest.raises(ConfigError):
            cal.record(TESTS, bad)
    cal.record(ProgramTests("asserts", code="assert add(2, 2) == 4"), 0.01)  # the store still takes figures
    assert Calibration(path=tmp_path / "c.sqlite").lookup(Calibration.key(ProgramTests("asserts", code="assert add(2, 2) == 4"), None))
    for kwargs in ({"calibration": "yes"}, {"calibration": True}, {"cpu_time_s": 0}, {"cpu_time_s": float("nan")},
                   {"cpu_time_s": "5"}, {"cpu_time_s": 1e9}):
        with pytest.raises(ConfigError):
            run_tests(pool, [REF], TESTS, **({"calibration": cal} | kwargs))
    with pytest.raises(ConfigError):
        calibrate(pool, None, cal)
    assert calibrate(pool, TESTS, cal) >= 0.0  # one suite, as run_tests takes it
    for kwargs in ({"from_first_pass": "no"}, {"path": 3}):
        with pytest.raises(ConfigError):
            Calibration(**kwargs)


def test_the_key_follows_the_harness():
    assert Calibration.key(TESTS, REF) == Calibration.key(TESTS, REF, "out_of_process")
    assert Calibration.key(TESTS, REF) != Calibration.key(TESTS, REF, "inprocess")


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
