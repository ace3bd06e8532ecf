"""math-verify in worker processes: verdicts, GSM8K answers, dead and hung workers."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.execution import ExecutionStatus, Grading
from exectune_rl.rewards.mathcheck import MathVerifier, normalize_gold


def test_verdicts(math_verifier: MathVerifier) -> None:
    answers = [
        "Three bags of 6 make 18.\n#### 18",  # GSM8K style
        "x = 0.5",  # a decimal for a fractional gold
        "The result is $\\boxed{\\frac{1}{2}}$.",
        "I am not sure.",
        "#### 17",
    ]
    golds = ["He has 18.\n#### 18", "1/2", "0.5", "3", "18"]
    got = [r.status for r in math_verifier.verify(answers, golds)]
    assert got == [
        ExecutionStatus.CORRECT, ExecutionStatus.CORRECT, ExecutionStatus.CORRECT,
        ExecutionStatus.NO_ANSWER, ExecutionStatus.WRONG,
    ]  # fmt: skip


# (gold, an honest answer, a wrong answer that is the gold's last number or part of it)
STRUCTURED_GOLDS = [
    ("(1, 2)", "\\boxed{(1, 2)}", "\\boxed{2}"),
    ("\\{3, 7\\}", "\\boxed{\\{3, 7\\}}", "\\boxed{7}"),
    ("2\\sqrt{3}", "\\boxed{\\sqrt{12}}", "\\boxed{2}"),
    ("3^{10}", "\\boxed{59049}", "\\boxed{3}"),
    ("[1, 2]", "\\boxed{[1, 2]}", "\\boxed{2}"),
    ("-1, 1", "\\boxed{1, -1}", "\\boxed{1}"),
    ("x=3, y=7", "\\boxed{x=3, y=7}", "\\boxed{7}"),
    ("5 \\text{ and } 7", "\\boxed{5, 7}", "\\boxed{7}"),
    ("10^{5}", "\\boxed{100000}", "\\boxed{10}"),
]


@pytest.mark.parametrize("gold, honest, wrong", STRUCTURED_GOLDS, ids=[g for g, _, _ in STRUCTURED_GOLDS])
def test_a_structured_gold_is_read_whole_not_as_its_last_number(math_verifier: MathVerifier, gold: str, honest: str,
                                                                 wrong: str) -> None:
    # Read as plain text, math-verify kept the gold's last number: the honest answer was
    # wrong and the gold's last number was correct.
    got = math_verifier.verify([honest, wrong], [gold, gold])
    assert [r.status for r in got] == [ExecutionStatus.CORRECT, ExecutionStatus.WRONG], got


@pytest.mark.parametrize("gold", ["72", "72 dollars", "The answer is 72", "$72$", "\\boxed{72}", "\\$72", "72.0", "#### 72"])
def test_plain_and_prose_golds_still_read_their_number(math_verifier: MathVerifier, gold: str) -> None:
    got = math_verifier.verify(["The answer is \\boxed{72}.", "\\boxed{27}"], [gold, gold])
    assert [r.status for r in got] == [ExecutionStatus.CORRECT, ExecutionStatus.WRONG], (gold, got)


@pytest.mark.parametrize("answer", ["The answer is \\$72.", "\\boxed {72}", "\\boxed{72.}", "so $\\boxed {72.}$"])
def test_answer_spellings_math_verify_misreads_are_read_right(math_verifier: MathVerifier, answer: str) -> None:
    got = math_verifier.verify([answer, answer.replace("72", "27")], ["72", "72"])
    assert [r.status for r in got] == [ExecutionStatus.CORRECT, ExecutionStatus.WRONG], (answer, got)


def test_values_follow_the_grading(math_verifier: MathVerifier) -> None:
    [ok, wrong, none] = math_verifier.verify(["#### 4", "#### 5", "no idea"], ["4", "4", "4"])
    assert (ok.value, ok.success, wrong.value, none.value) == (1.0, True, 0.0, 0.0)
    graded = MathVerifier(workers=0, grading=Grading(graded=True, parse_credit=0.1, run_credit=0.0))
    [w] = graded.verify(["#### 5"], ["4"])
    assert w.value == pytest.approx(0.1) and w.parses


def test_verification_works_off_the_main_thread(math_verifier: MathVerifier) -> None:
    # TRL may call rewards off the main thread, where math-verify's SIGALRM timeouts fail;
    # the workers run it on their own main threads.
    out: list[object] = []
    t = threading.Thread(target=lambda: out.extend(math_verifier.verify(["#### 7"], ["7"])))
    t.start()
    t.join()
    assert out[0].status is ExecutionStatus.CORRECT  # type: ignore[attr-defined]


def test_pathological_expression_is_bounded(math_verifier: MathVerifier) -> None:
    start = time.monotonic()
    [r] = math_verifier.verify(["$\\boxed{9^{9^{9^{9^{9}}}}}$"], ["5"])
    assert r.status in (ExecutionStatus.WRONG, ExecutionStatus.TIMEOUT)
    assert time.monotonic() - start < 10


def test_gold_normalisation() -> None:
    assert normalize_gold("2 + 2 = 4\n#### 4") == "4"
    assert normalize_gold(" 12 ") == "12"
    assert normalize_gold(None) == ""


def test_a_killed_worker_is_replaced_and_its_work_retried() -> None:
    with MathVerifier(workers=1, timeout_s=2) as mv:
        assert mv.verify(["#### 1"], ["1"])[0].success
        os.kill(mv._pool[0].proc.pid, signal.SIGKILL)
        time.sleep(0.1)
        results = mv.verify(["#### 2", "#### 3"], ["2", "4"])
        assert [r.status for r in results] == [ExecutionStatus.CORRECT, ExecutionStatus.WRONG]


def test_a_hung_worker_times_out_only_its_item() -> None:
    with MathVerifier(workers=1, timeout_s=1, backstop_s=1.5) as mv:
        assert mv.verify(["#### 1"], ["1"])[0].success
        stuck = mv._pool[0].proc.pid
        os.kill(stuck, signal.SIGSTOP)  # a worker that never answers, like a C-level hang
        try:
            [r] = mv.verify(["#### 2"], ["2"])
        finally:
            try:
                os.kill(stuck, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert r.status is ExecutionStatus.TIMEOUT and not r.success
        assert mv._pool[0].proc.pid != stuck
        assert mv.verify(["#### 3"], ["3"])[0].success  # the pool keeps working


def test_workers_do_not_outlive_close() -> None:
    mv = MathVerifier(workers=2, timeout_s=1)
    mv.verify(["#### 1"], ["1"])
    procs = [w.proc for w in mv._pool]
    mv.close()
    assert all(p.poll() is not None for p in procs)


def test_pickles_without_processes(math_verifier: MathVerifier) -> None:
    clone = pickle.loads(pickle.dumps(math_verifier))
    assert clone._pool == [] and clone.workers == 2


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        MathVerifier(timeout_s=0)
    with pytest.raises(ConfigError, match="workers"):
        MathVerifier(workers=-1)
    with pytest.raises(ConfigError, match="differ in length"):
        MathVerifier(workers=0).verify(["1"], [])
