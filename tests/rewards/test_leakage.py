"""Leakage detectors on literal cases, the detector chain and the registry."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from exectune_rl.errors import UnknownNameError
from exectune_rl.rewards.leakage import (
    DEFAULT_DETECTORS,
    EntryPointBodyDetector,
    GoldAnswerDetector,
    LeakageDetector,
    LeakageFinding,
    LongCodeBlockDetector,
    ReferenceOverlapDetector,
    detect_leakage,
    get_leakage_detector,
    numbers_in,
)
from exectune_rl.tasks.base import Task

APPLES = Task("apples", "math", "Tom has 3 apples and buys 15 more, then gives away half. How many are left?", answer="9")
HALF = Task("half", "math", "What is 1 divided by 2?", answer="0.5")
ADD = Task(
    "add", "code", 'def add(a, b):\n    """Add two numbers."""\n', tests="assert add(1, 2) == 3", test_format="asserts",
    entry_point="add",
    reference="    total = a + b\n    if total > 1000:\n        total = total - 0\n    return total\n",
)  # fmt: skip


@pytest.mark.parametrize(
    ("strategy", "task", "leaked"),
    [
        ("Add 3 and 15, then halve the sum.", APPLES, False),  # numbers from the problem are fine
        ("Step 1: add.\nStep 2: halve.\n9. Double-check.", APPLES, False),  # list numbers are not answers
        ("Add them to get 18, halve to get 9.", APPLES, True),
        ("The answer is 9.0", APPLES, True),  # same value, other spelling
        # The gold is a decimal; the strategy writes it as a fraction (an awkward case).
        ("Just output 1/2.", HALF, True),
        ("Just output \\frac{1}{2}.", HALF, True),
        ("Divide 1 by 2.", HALF, False),
        ("Nothing numeric here.", Task("t", "math", "Name the capital of France.", answer="Paris"), False),
        ("It is Paris.", Task("t", "math", "Name the capital of France.", answer="Paris"), True),
    ],
)
def test_gold_answer(strategy: str, task: Task, leaked: bool) -> None:
    assert GoldAnswerDetector().detect(strategy, task).leaked is leaked


def test_gsm8k_gold_with_worked_solution() -> None:
    task = Task("g", "math", "Anna has 4 bags of 5 coins. How many coins?", answer="4 * 5 = 20\n#### 20")
    assert GoldAnswerDetector().detect("Multiply to reach 20.", task).leaked
    assert not GoldAnswerDetector().detect("Multiply bags by coins per bag.", task).leaked


def test_numbers_in_reads_every_spelling() -> None:
    assert numbers_in("1,000 and 2.5 and 3/4 and \\frac{1}{3}") >= {1000, 2.5, 0.75}


@pytest.mark.parametrize(
    ("strategy", "leaked"),
    [
        ("Use the + operator on a and b.", False),
        ("```python\ndef add(a, b):\n    pass\n```", False),  # a stub is a sketch
        ('```python\ndef add(a, b):\n    """Sum."""\n    ...\n```', False),
        ("```python\ndef add(a, b):\n    raise NotImplementedError\n```", False),
        ("```python\ndef add(a, b):\n    return a + b\n```", True),
        ("def add(a, b):\n    return a + b", True),  # unfenced code counts too
        ("```javascript\nfunction add(a, b) { return a + b; }\n```", True),
        ("```c\nint add(int a, int b) { return a + b; }\n```", True),
        ("```python\ndef other(a):\n    return a\n```", False),  # a helper is not the entry point
        ("```cobol\nadd stuff\n```", False),  # unsupported language: cannot judge, no crash
    ],
)
def test_entry_point_body(strategy: str, leaked: bool) -> None:
    assert EntryPointBodyDetector().detect(strategy, ADD).leaked is leaked


def test_long_code_block() -> None:
    det = LongCodeBlockDetector(max_lines=3)
    short = "```\na = 1\nb = 2\n```"
    long = "```\n" + "\n".join(f"x{i} = {i}" for i in range(4)) + "\n```"
    assert not det.detect(short, ADD).leaked
    hit = det.detect(long, ADD)
    assert hit.leaked and "4 lines" in hit.evidence


def test_reference_overlap() -> None:
    det = ReferenceOverlapDetector(threshold=0.5)
    copied = "Compute total = a + b; if total > 1000: total = total - 0; return total"
    hit = det.detect(copied, ADD)
    assert hit.leaked and hit.score >= 0.5
    miss = det.detect("Sum the two inputs and return the sum.", ADD)
    assert not miss.leaked and miss.score < 0.5
    # No reference: nothing to compare with.
    assert not det.detect(copied, APPLES).leaked


class Counting(LeakageDetector):
    """A costly detector stand-in that records what it was asked to judge."""

    name = "counting"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def detect_batch(self, strategies: Sequence[str], tasks: Sequence[Task]) -> list[LeakageFinding]:
        self.seen.extend(strategies)
        return [LeakageFinding(self.name, False) for _ in strategies]


class Broken(LeakageDetector):
    name = "broken"

    def detect_batch(self, strategies: Sequence[str], tasks: Sequence[Task]) -> list[LeakageFinding]:
        raise TimeoutError("judge unreachable")


def test_cheap_detectors_shield_the_costly_ones() -> None:
    costly = Counting()
    results = detect_leakage(["It is 9.", "Halve the sum."], [APPLES, APPLES], [GoldAnswerDetector(), costly])
    assert [r.leaked for r in results] == [True, False]
    assert costly.seen == ["Halve the sum."]  # the leaking strategy never reached it
    assert results[0].detectors == ("gold_answer",)


def test_a_failing_detector_leaves_the_verdict_undecided() -> None:
    [r] = detect_leakage(["Halve the sum."], [APPLES], [GoldAnswerDetector(), Broken()])
    assert r.leaked is None and "judge unreachable" in r.findings[-1].evidence
    # A leak found before the broken detector still counts.
    [r2] = detect_leakage(["It is 9."], [APPLES], [GoldAnswerDetector(), Broken()])
    assert r2.leaked is True


def test_registry_resolves_builtins_and_names_unknowns() -> None:
    for name in DEFAULT_DETECTORS:
        assert get_leakage_detector(name).name == name
    assert get_leakage_detector("long_code_block", max_lines=5).max_lines == 5
    with pytest.raises(UnknownNameError, match="gold_answer"):
        get_leakage_detector("no_such_detector")
    assert get_leakage_detector("exectune_rl.rewards.leakage:GoldAnswerDetector").name == "gold_answer"
