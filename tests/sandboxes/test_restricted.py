"""RestrictedSandbox: RestrictedPython's policy plus the worker's limits, on real processes."""

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes import ExecRequest, ExecStatus, RestrictedSandbox, get_sandbox


@pytest.fixture(scope="module")
def rsb():
    with RestrictedSandbox(workers=1) as sb:
        yield sb


def run(sb, code, **kw):
    kw.setdefault("cpu_time_s", 1.0)
    return sb.run([ExecRequest(code, **kw)])[0]


def test_allowed_code_runs(rsb):
    r = run(rsb, "import math\nx = 0\nfor i, c in enumerate('abc'):\n    x += i\nprint(x, sorted([3, 1]), math.gcd(12, 18))")
    assert r.status is ExecStatus.OK and r.stdout == "3 [1, 3] 6\n"


def test_policy_violations(rsb):
    # dunder chains are the classic escape from exec-based sandboxes
    r = run(rsb, "().__class__.__bases__[0].__subclasses__()")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception == "PolicyViolation"
    assert run(rsb, "import os").exception == "ImportError"
    assert run(rsb, "open('/etc/passwd')").exception == "NameError"
    assert run(rsb, "eval('1')").exception == "PolicyViolation"


def test_syntax_error(rsb):
    assert run(rsb, "def f(:").status is ExecStatus.SYNTAX_ERROR


def test_limits_still_hold(rsb):
    # RestrictedPython alone does not stop these: the worker's rlimits do.
    assert run(rsb, "while True:\n    pass", cpu_time_s=0.5).status is ExecStatus.TIMEOUT
    assert run(rsb, "x = ' ' * (2 ** 34)").status is ExecStatus.MEMORY_LIMIT
    assert run(rsb, "print(1 + 1)").stdout == "2\n"


def test_python_only_and_registry():
    with get_sandbox("restricted", workers=1) as sb:
        with pytest.raises(ConfigError, match="Python only"):
            sb.run([ExecRequest("console.log(1)", language="javascript")])


def test_code_strings_are_requests(rsb):
    [res] = rsb.run(["print(6 * 7)"])
    assert (res.status, res.stdout) == (ExecStatus.OK, "42\n")
