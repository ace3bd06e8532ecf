"""Rows are validated one by one, languages resolve through one registry, and a failing program
never earns a pass's value. Real sandboxes throughout."""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError, DataError
from exectune_rl.rewards import ExecTuneReward, RewardConfig, RewardStatus
from exectune_rl.rewards.execution import ExecutionStatus, case_fraction
from exectune_rl.sandboxes.runner import TestStatus
from exectune_rl.tasks.base import Task

PROBLEM = 'def add(a, b):\n    """Return a + b."""\n'
SOLUTION = "```python\ndef add(a, b):\n    return a + b\n```"
CHECK = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"
ASSERTS = "assert add(1, 2) == 3\nassert add(0, 0) == 0"
GOOD = "<strategy>Return the sum.</strategy>"


def _score(sandbox, **columns):
    n = len(columns["tests"])
    columns = {"problem": [PROBLEM] * n, "core_output": [SOLUTION] * n, **columns}
    with ExecTuneReward(RewardConfig.code(nondegradation_penalty=0), sandbox=sandbox) as reward:
        return reward.score(completions=[GOOD] * n, **columns)


def test_a_check_row_without_entry_point_fails_alone(sandbox):
    # Before: ProgramTests raised for the bad row and both rows of the batch became INFRA.
    good, bad = _score(sandbox, tests=[CHECK, CHECK], entry_point=["add", None])
    assert good.status is RewardStatus.SCORED and good.reward == 1.0
    assert bad.status is RewardStatus.BAD_TASK and bad.reward is None and "'entry_point'" in bad.reason


def test_assert_tests_without_test_format_are_a_bad_row_not_full_reward(sandbox):
    # Before: 'check' was assumed, the asserts all passed, check() was missing: reward 1.0, runtime_error.
    good, bad = _score(sandbox, tests=[ASSERTS, ASSERTS], test_format=["asserts", None], entry_point=["add", "add"])
    assert good.reward == 1.0
    assert bad.status is RewardStatus.BAD_TASK and "'tests'" in bad.reason and "test_format" in bad.reason


@pytest.mark.parametrize("fmt, tests", [("asserts", ASSERTS + " +"), ("check", CHECK + "    assert candidate(1,\n")])
def test_python_tests_that_do_not_compile_are_a_bad_row_not_infra(sandbox, fmt, tests):
    # Before: every program of the row got INFRA ("the test code does not compile"), the row's
    # data at fault but reported as the infrastructure's.
    good, bad = _score(sandbox, tests=[CHECK if fmt == "check" else ASSERTS, tests], test_format=[fmt, fmt],
                       entry_point=["add", "add"])
    assert good.status is RewardStatus.SCORED and good.reward == 1.0
    assert bad.status is RewardStatus.BAD_TASK and "column 'tests' is not valid Python" in bad.reason, bad.reason


def test_malformed_io_cases_name_the_tests_column():
    with pytest.raises(DataError, match="column 'tests'"):
        Task("t", "code", "read a number", tests="[[1, 2", test_format="io")


def test_a_program_that_does_not_pass_earns_less_than_one_that_passes(sandbox):
    # Every assert passes, then the harness fails: the verdict is runtime_error, never a pass's 1.0.
    broken_harness = CHECK + "    raise RuntimeError('the harness broke after the last assert')\n"
    [rec] = _score(sandbox, tests=[broken_harness], entry_point=["add"])
    run = rec.runs[0].execution
    assert run.status is ExecutionStatus.RUNTIME_ERROR and not run.success
    assert run.value < 1.0 and rec.reward < 1.0
    assert run.value == pytest.approx(0.1 + 0.1 + 0.8 * 2 / 3)  # passed 2 of 2 asserts + the end it never reached


def test_case_fraction_comes_from_passed_and_total_cases_only():
    class Outcome:
        def __init__(self, passed, p, t):
            self.passed, self.passed_cases, self.total_cases = passed, p, t

    assert case_fraction(Outcome(True, 3, 3)) == 1.0
    assert case_fraction(Outcome(False, 3, 3)) == 0.75
    assert case_fraction(Outcome(False, 1, 4)) == 0.25
    assert case_fraction(Outcome(False, None, None)) == 0.0
    with pytest.raises(ConfigError):
        RewardConfig(parse_credit=0.5, run_credit=0.5)  # nothing left for the tests: a failure would tie a pass


def test_execution_statuses_are_the_test_verdicts_plus_reward_outcomes():
    assert {s.value for s in TestStatus} < {s.value for s in ExecutionStatus}
    assert ExecutionStatus(TestStatus.EARLY_EXIT.value) is ExecutionStatus.EARLY_EXIT
    assert {"no_code", "correct", "wrong", "no_answer"} <= {s.value for s in ExecutionStatus}


@pytest.mark.parametrize("spelling", ["py", "Python3", " python "])
def test_any_spelling_of_python_runs_its_tests(sandbox, spelling):
    # Before: 'py' passed the syntax precheck and then got INFRA ("no test harness for language 'py'").
    [rec] = _score(sandbox, tests=[CHECK], entry_point=["add"], language=[spelling])
    assert rec.status is RewardStatus.SCORED and rec.reward == 1.0 and rec.runs[0].execution.status.value == "passed"


def test_languages_resolve_through_one_registry():
    from exectune_rl.languages import canonical
    from exectune_rl.rewards.syntax import normalize_language
    from exectune_rl.sandboxes.base import ExecRequest

    assert Task("t", "code", "x", tests=ASSERTS, test_format="asserts", language="py").language == "python"
    assert ExecRequest("console.log(1)", language="node").language == "javascript"
    for name in ("py", "node", "c++", "sh", "golang"):
        assert normalize_language(name) == canonical(name) == ExecRequest("", language=name).language


def test_restricted_sandbox_grades_a_correct_solution_fully():
    # Before: 0.2 (parse + run credit): the harness could not see the restricted program's function.
    cfg = RewardConfig.code(sandbox="restricted", sandbox_workers=1, nondegradation_penalty=0)
    columns = dict(problem=[PROBLEM] * 2, tests=[CHECK, ASSERTS], test_format=["check", "asserts"], entry_point=["add"] * 2,
                   core_output=[SOLUTION] * 2)  # fmt: skip
    with ExecTuneReward(cfg) as reward:
        assert [r.reward for r in reward.score(completions=[GOOD] * 2, **columns)] == [1.0, 1.0]
        # Tests that import the program as a module would run it unrestricted: refused, clearly.
        imports = "from solution import add\n" + ASSERTS
        with pytest.raises(ConfigError, match="RestrictedSandbox cannot"):
            reward.score(completions=[GOOD], problem=[PROBLEM], tests=[imports], test_format=["asserts"], core_output=[SOLUTION])


def test_restricted_sandbox_passes_the_humaneval_canonical_solutions():
    from exectune_rl.sandboxes import RestrictedSandbox
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests
    from exectune_rl.tasks.loaders import load_humaneval

    tasks = load_humaneval()
    with RestrictedSandbox(workers=2) as sb:
        outcomes = run_tests(sb, [t.reference for t in tasks], [ProgramTests.from_task(t) for t in tasks])
    passed = sum(o.passed for o in outcomes)
    # Was 0 of 164. The rest use what the policy forbids (item augmented assignment, eval, hashlib, format).
    assert passed >= 155, passed
    refused = [o for o in outcomes if not o.passed]
    assert all(o.status in (TestStatus.RUNTIME_ERROR, TestStatus.FAILED) for o in refused)
