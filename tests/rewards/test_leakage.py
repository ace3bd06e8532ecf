"""Leakage detectors on literal cases, the detector chain and the registry."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

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
    word_numbers,
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


def _gold(answer: str, problem: str = "A shop sells pens. How many pens are sold?") -> Task:
    return Task("w", "math", problem, answer=answer)


@pytest.mark.parametrize(
    ("strategy", "task", "leaked"),
    [
        # The README promises "any spelling": numbers written in words are the same value.
        ("The answer is seventy-two.", _gold("72"), True),
        ("So the shop sells seventy two pens.", _gold("#### 72"), True),  # GSM8K gold, no hyphen
        ("That makes one hundred and five in all.", _gold("105"), True),
        ("The balance ends at minus three.", _gold("-3"), True),
        ("Altogether twelve thousand pens.", _gold("12000"), True),
        ("About 12 thousand pens.", _gold("12,000"), True),  # digits with a scale word
        ("Roughly 1.5 million pens.", _gold("1500000"), True),
        ("Three quarters of them are sold.", _gold("0.75"), True),
        ("Two thirds remain.", _gold("\\frac{2}{3}"), True),
        ("A dozen pens.", _gold("12"), True),
        ("It is the seventy-second pen.", _gold("72"), True),  # ordinals past ten
        ("The answer is two.", _gold("2"), True),  # a small word that states the result
        ("You have five left.", _gold("5"), True),
        ("Write 72.", _gold("seventy-two"), True),  # a gold spelled in words is a number too
        # Honest strategies with number words that are not the answer.
        ("Add the two amounts, then split them into three groups.", _gold("2"), False),  # counts, not results
        ("Subtracting, we get two equations; the key is two pointers.", _gold("2"), False),
        ("The sum of two numbers gives two cases.", _gold("2"), False),
        ("First take one third of the total, then add twelve.", _gold("72"), False),
        ("Step two: multiply the rows by the columns.", _gold("2"), False),  # a step number
        ("The first and second steps are the same; the fifth one differs.", _gold("5"), False),  # small ordinals
        # Number words from the problem are not leaks, whatever their spelling there.
        ("Add three and sixty-nine.", _gold("72", "Tom has three apples and 69 more. How many apples?"), False),
        ("Add 3 and 69.", _gold("72", "Tom has three apples and sixty-nine more. How many apples?"), False),
        ("The result is twelve.", _gold("12", "A box holds a dozen eggs. How many eggs?"), False),
        ("Nothing to see: one by one, each one counts.", _gold("1"), False),
    ],
)
def test_gold_answer_in_words(strategy: str, task: Task, leaked: bool) -> None:
    assert GoldAnswerDetector().detect(strategy, task).leaked is leaked


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("seventy-two", {72}),
        ("one hundred and five", {105}),
        ("two thousand and twenty-four", {2024}),
        ("one million two hundred thousand", {1_200_000}),
        ("nineteen hundred", {1900}),
        ("seven point five", {Fraction(15, 2)}),
        ("negative 7", {-7}),
        ("twenty-first", {21}),
        ("three fifths", {Fraction(3, 5)}),
        ("three, four", set()),  # two lone small words, no result stated
        ("two three", set()),  # not one number: "two three" is no 23 and no 5
        ("hundredth", set()),
    ],
)
def test_word_numbers(text: str, values: set[Fraction]) -> None:
    assert word_numbers(text) == values


def test_word_numbers_every_small_word_on_request() -> None:
    # Problems are scanned with every=True, so "three apples" there excuses "three" in a strategy.
    assert word_numbers("three, four", every=True) == {3, 4}
    assert word_numbers("two three", every=True) == {2, 3}
    assert word_numbers("") == set() and word_numbers(None) == set()  # type: ignore[arg-type]


def test_numbers_in_reads_every_spelling() -> None:
    assert numbers_in("1,000 and 2.5 and 3/4 and \\frac{1}{3}") >= {1000, 2.5, 0.75}
    assert numbers_in("seventy-two and 3") == {72, 3}
    assert numbers_in("seventy-two", words=False) == set()


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


NATALIA = Task("natalia", "math", "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
               "in May. How many clips did Natalia sell altogether in April and May?", answer="72")
PIZZA = Task("pizza", "math", "A pizza is cut into 8 slices. Half of it is eaten, then half of the rest. How many slices "
             "are left?", answer="2")
FIVE = Task("five", "math", "Ann has 12 marbles and gives 7 away. How many does she have?", answer="5")


@pytest.mark.parametrize(
    ("strategy", "task", "leaked"),
    [
        # a list's numbers are blanked where they number steps, never by value: the result still counts
        ("1. Read.\n2. Subtract.\n3. Check.\n4. Round.\n5. Report.\nThe answer is 5.", FIVE, True),
        ("Subtract, and at step 5 stop. The answer is 5.", FIVE, True),
        ("Answer:\n5.", FIVE, True),  # a number alone on its line is no list item
        ("Plan: 1) read 2) subtract 3) check 4) round 5) report the difference.", FIVE, False),
        ("(1) read (2) subtract (3) check (4) round (5) report.", FIVE, False),
        # an operation's operands are not results
        ("Halving means dividing by 2: compute 8 / 2, then halve that result again.", PIZZA, False),
        ("Halve 8 by multiplying times 2 less... no: divide by 2 twice.", PIZZA, False),
        # disguised spellings of the gold
        ("The answer is 6 dozen.", NATALIA, True),
        ("The answer is .5", HALF, True),
        ("The answer is \u00bd.", HALF, True),
        ("The answer is $\\tfrac{1}{2}$.", HALF, True),
        ("The answer is 7\u200b2.", NATALIA, True),
        ("The answer is \u2077\u00b2.", NATALIA, True),
        ("Halve 48 for May, then add April and May.", NATALIA, False),
    ],
)
def test_gold_answer_by_position_operands_and_disguises(strategy: str, task: Task, leaked: bool) -> None:
    assert GoldAnswerDetector().detect(strategy, task).leaked is leaked, strategy


HE0 = Task("HumanEval/0", "code", "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
           '    """Any two numbers closer than threshold?"""\n', tests="assert has_close_elements([1.0, 2.0], 0.5) is False",
           test_format="asserts", entry_point="has_close_elements")
BODY = ("    for i, a in enumerate(xs):\n        for j, b in enumerate(xs):\n            if i != j:\n"
        "                d = abs(a - b)\n                if d < eps:\n                    return True\n    return False\n")


@pytest.mark.parametrize(
    ("strategy", "leaked"),
    [
        ("Use this body:\n```python\n" + BODY + "```", True),  # the body without its def line, renamed
        ("```python\ns = sorted(numbers)\nreturn any(b - a < threshold for a, b in zip(s, s[1:]))\n```", True),
        ("```text\ndef has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold for a in numbers "
         "for b in numbers if a is not b)\n```", True),  # a definition in a ```text fence
        ("Sort, then compare neighbours:\n```python\nfor a, b in zip(s, s[1:]):\n    ...\nreturn result\n```", False),  # a sketch
        ("If the list is empty, `return False`; otherwise compare each pair.", False),
        ("Sort the numbers and compare each neighbour's difference with `threshold`.", False),
    ],
)
def test_code_without_its_def_line_or_in_a_text_fence_is_a_definition(strategy: str, leaked: bool) -> None:
    assert EntryPointBodyDetector().detect(strategy, HE0).leaked is leaked, strategy


def test_a_worked_trace_in_a_text_fence_is_not_long_code() -> None:
    trace = "```text\n" + "\n".join(f"step {i}: compare {i} and {i + 1}" for i in range(14)) + "\n```"
    assert not LongCodeBlockDetector().detect(trace, HE0).leaked
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(14)) + "\n```"
    assert LongCodeBlockDetector().detect(code, HE0).leaked


def test_a_definition_in_full_width_letters_is_the_entry_points() -> None:
    # Python folds identifiers with NFKC: `def ｈas_close_elements` defines has_close_elements.
    strategy = "```python\ndef \uff48as_close_elements(xs, eps):\n" + BODY + "```"
    assert EntryPointBodyDetector().detect(strategy, HE0).leaked
