"""The one counting rule of test cases, as both verdict paths run it."""

from __future__ import annotations

from exectune_rl.sandboxes import _judge, _tally, runner
from exectune_rl.sandboxes._tally import CaseTally


def test_both_verdict_paths_count_with_the_same_code():
    assert issubclass(_judge.Counts, CaseTally)
    assert runner._PY_PRELUDE.startswith(runner._TALLY)  # the in-process harness runs the same text
    ns: dict = {}
    exec(runner._PY_PRELUDE, ns)  # noqa: S102 - defines the harness's names, calls nothing
    tally = ns["__et_tally"]
    assert type(tally).__name__ == "CaseTally" and "CaseTally" not in ns  # its class is not a name the tests see
    assert _tally.__doc__ and "site" in _tally.__doc__
    ns["__et_case"](lambda: True, 0)
    ns["__et_case"](lambda: 1 / 0, 1)  # an exception of the program's: a failing case
    assert (tally.passed, tally.seen) == (1, 2)


def test_a_site_counts_once_and_passes_only_if_every_run_passed():
    t = CaseTally()
    assert [t.record(7, True) for _ in range(3)] == [None, None, None]
    assert (t.passed, t.seen) == (1, 1)
    assert t.record(7, False) == 1  # a later failing run: reported once, the site no longer passes
    assert t.record(7, False) is None and (t.passed, t.seen) == (0, 1)
    assert t.record(None, True) is None and t.record(None, False) == 3  # without a site: each run is a case
    assert (t.passed, t.seen) == (1, 3)


def test_a_run_cut_short_has_not_passed():
    t = CaseTally()
    t.record(1, True)
    t.cut_short(1)  # the program left in the middle of a later run of the same assert
    assert (t.passed, t.seen) == (0, 1)
    t.cut_short(2)  # the first run of another one
    assert (t.passed, t.seen) == (0, 2)
    t.cut_short(None)  # a case without a site is not counted
    assert (t.passed, t.seen) == (0, 2)
