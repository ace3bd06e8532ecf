"""The pytest helper the judge runs (``_pytest_cases.py``), on its own in this process."""

import pytest

from exectune_rl.sandboxes.runner import _PYTEST_CASES

TESTS = '''
import pytest
SEEN = []

@pytest.fixture
def base():
    SEEN.append("open")
    yield 10
    SEEN.append("close")

@pytest.mark.parametrize("a", [1, 2])
@pytest.mark.parametrize("b", [3, pytest.param(4, marks=pytest.mark.skip)])
def test_sum(a, b, base):
    assert a + b + base < 100

@pytest.mark.xfail(reason="known")
def test_known():
    assert False

def test_needs_tmp(tmp_path):
    pass
'''


def _namespace() -> dict:
    ns: dict = {"__name__": "exectune_tests"}
    exec(compile(_PYTEST_CASES, "_pytest_cases.py", "exec"), ns)
    exec(compile(TESTS, "tests.py", "exec"), ns)
    return ns


def test_parametrize_marks_multiply_and_fixtures_are_finished_after_each_case():
    ns = _namespace()
    cases = ns["__et_pytest"](lambda: ns["test_sum"], ns)
    assert len(cases) == 2  # a in (1, 2) times b in (3,): the skipped param is no case
    assert all(case() is True for case in cases)
    assert ns["SEEN"] == ["open", "close"] * 2


def test_an_expected_failure_is_no_case_and_a_missing_fixture_fails_naming_it():
    ns = _namespace()
    assert ns["__et_pytest"](lambda: ns["test_known"], ns) == []
    [case] = ns["__et_pytest"](lambda: ns["test_needs_tmp"], ns)
    with pytest.raises(LookupError, match="tmp_path"):
        case()  # in the judge, its HarnessError (the tests' namespace names it): INFRA


def test_fixture_params_indirect_and_generate_hooks_multiply_the_cases():
    ns: dict = {"__name__": "exectune_tests"}
    exec(compile(_PYTEST_CASES, "_pytest_cases.py", "exec"), ns)
    exec(compile('''
import pytest
SEEN = []
@pytest.fixture(params=[1, 2, 3])
def n(request):
    return request.param
@pytest.fixture
def twice(request):
    return 2 * request.param
def pytest_generate_tests(metafunc):
    if "g" in metafunc.fixturenames:
        metafunc.parametrize("g", ["x", "y"])
@pytest.mark.parametrize("twice", [5], indirect=True)
def test_all(n, twice, g):
    SEEN.append((n, twice, g))
''', "tests.py", "exec"), ns)
    ns["__et_function_hooks"] = (None, None, ns["pytest_generate_tests"])
    cases = ns["__et_pytest"](lambda: ns["test_all"], ns)
    assert len(cases) == 6 and all(case() is True for case in cases)
    assert sorted(ns["SEEN"]) == sorted((n, 10, g) for n in (1, 2, 3) for g in "xy")


def test_a_test_the_helper_cannot_get_is_one_failing_case():
    ns = _namespace()
    [case] = ns["__et_pytest"](lambda: ns["test_missing"], ns)
    with pytest.raises(KeyError):
        case()
