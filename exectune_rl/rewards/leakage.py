"""Leakage detectors: a strategy must guide the core, not hand over the answer.

Cheap built-in detectors run first; expensive ones (an LLM judge, shipped as the plugin
``exectune_reward_llm_judge``) run only on strategies the cheap ones let through. Detectors
are pluggable: anything with ``name`` and ``detect_batch(strategies, tasks)`` works, and names
resolve through :data:`exectune_rl.registry.leakage_registry` (built-ins, then the
``exectune_rl.leakage_detectors`` entry points, then ``pkg.mod:attr``).

The built-ins: ``gold_answer`` (the gold answer in any spelling: ``72``, ``72.0``, ``1/2``,
``\\frac{1}{2}``, ``seventy-two``, ``one hundred and five``, ``three quarters``);
``entry_point_body`` (the entry point defined with a real body, fenced, inline or unfenced);
``long_code_block``; ``reference_overlap``; and :class:`HackInstructionDetector`
(``hack_instruction``, by path ``exectune_rl.rewards.leakage:HackInstructionDetector``),
which rejects strategies that tell the core to pass the tests without solving the task:
always-equal objects, exiting before the tests, shadowing builtins, patching the test
functions, walking the harness's frames, reading the tests or datasets from disk, forging the
output (:data:`HACK_CATEGORIES`, selectable with ``categories=``). Every detector reports
through :class:`LeakageFinding`, so a rejected strategy gets the reward's ``leaked`` status
with the detector's name and evidence, whichever detector fired.

Example:
    >>> from exectune_rl.tasks import Task
    >>> task = Task("t", "math", "Half of 1 is?", answer="0.5")
    >>> GoldAnswerDetector().detect("Write the answer 1/2.", task).leaked
    True
"""

from __future__ import annotations

import abc
import ast
import builtins
import functools
import re
import textwrap
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from exectune_rl.errors import ConfigError

try:  # the regex parser, to find the literals a pattern needs (see _p)
    from re import _constants as _sre, _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]
from exectune_rl.rewards.mathcheck import normalize_gold
from exectune_rl.rewards.syntax import SyntaxChecker, normalize_language
from exectune_rl.rewards.text import extract_code_blocks
from exectune_rl.tasks.base import Task

__all__ = [
    "LeakageFinding",
    "LeakageResult",
    "LeakageDetector",
    "GoldAnswerDetector",
    "EntryPointBodyDetector",
    "LongCodeBlockDetector",
    "ReferenceOverlapDetector",
    "HackInstructionDetector",
    "HACK_CATEGORIES",
    "find_hacks",
    "DEFAULT_DETECTORS",
    "get_leakage_detector",
    "detect_leakage",
    "numbers_in",
    "word_numbers",
]


@dataclass(frozen=True)
class LeakageFinding:
    """One detector's verdict on one strategy.

    Attributes:
        detector: The detector's name.
        leaked: True/False, or None when the detector could not decide (its judge was down:
            an infrastructure failure, not the strategy's fault).
        score: Detector-specific strength in [0, 1] (overlap ratio, judge confidence...).
        evidence: What was found, short.
    """

    detector: str
    leaked: bool | None
    score: float = 0.0
    evidence: str = ""


@dataclass(frozen=True)
class LeakageResult:
    """All detectors' verdicts on one strategy.

    ``leaked`` is True when any detector found a leak, False when all said no, None when none
    found a leak but at least one could not decide.
    """

    leaked: bool | None
    findings: tuple[LeakageFinding, ...] = ()

    @property
    def detectors(self) -> tuple[str, ...]:
        return tuple(f.detector for f in self.findings if f.leaked)


class LeakageDetector(abc.ABC):
    """Base class of leakage detectors. Override :meth:`detect` or :meth:`detect_batch`.

    Detectors must not raise for any strategy text; a detector that cannot decide returns
    ``leaked=None``.
    """

    name: str = "detector"

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        """Judge one strategy."""
        return self.detect_batch([strategy], [task])[0]

    def detect_batch(self, strategies: Sequence[str], tasks: Sequence[Task]) -> list[LeakageFinding]:
        """Judge many strategies (override to batch expensive calls)."""
        return [self.detect(s, t) for s, t in zip(strategies, tasks)]

    def close(self) -> None:
        """Release resources. Idempotent."""


# --- the gold answer, normalised -------------------------------------------------------------

_NUM = re.compile(
    r"\\[dt]?frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}"  # \frac{a}{b}, \dfrac, \tfrac
    r"|(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+)(?:\s*/\s*(\d+(?:\.\d+)?))?(?![\w])"
)
# A list item's number: "2." / "2)" / "Step 2:" at a line's start (not a decimal: "72.0"), or
# "2)" / "(2)" in a line ("Plan: 1) sort 2) scan"); see _without_markers for which count.
_LIST_ITEM = re.compile(r"(?im)^[ \t]*(?:step\s*)?(\d{1,3})\s*(?:[.)](?!\d)|:)(?P<text>[ \t]*[A-Za-z])?"
                        r"|(?<![\w.(])\(?(\d{1,2})\)(?=\s)")
_STEP = re.compile(r"(?i)\bstep\s+(\d+)\b")
# A number an operation takes ("divide by 2", "times 100", "* 3"): an operand of the plan, not
# its result (a fraction "1/2" stays one number).
_OPERAND = re.compile(r"(?i)(?:\b(?:by|over|times)\s+|[*\u00d7\u00f7]\s*|(?<![\d\s])\s*/\s*)(\d+(?:\.\d+)?)(?![\d.,]*\d)")


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _folded(text: str) -> str:
    """``text`` with compatibility forms folded as Python folds identifiers (NFKC: ``½`` is
    ``1/2``, ``⁷²`` is ``72``, full-width letters and digits are ASCII) and invisible
    characters dropped (``7\u200b2`` is ``72``)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).replace("\u2044", "/")


def _without_markers(text: str) -> str:
    """``text`` with the numbers that only number its steps or are an operation's operand
    blanked out, by position: "1. ... 5. Report" and then "The answer is 5" still states 5."""
    spans = [m.span(1) for m in _STEP.finditer(text)] + [m.span(1) for m in _OPERAND.finditer(text)]
    expected = 1
    for m in _LIST_ITEM.finditer(text):
        g = 1 if m.group(1) is not None else 3
        value = int(m.group(g))
        # the next item of a list, a new list, or a line's item with its text ("9. Check.");
        # never a number alone on its line ("Answer:\n5.")
        if value == expected or value == 1 or (g == 1 and m.group("text")):
            spans.append(m.span(g))
            expected = value + 1
    if not spans:
        return text
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def _to_fraction(whole: str, denom: str | None = None) -> Fraction | None:
    try:
        value = Fraction(whole.replace(",", ""))
        if denom is not None:
            d = Fraction(denom.replace(",", ""))
            if d == 0:
                return None
            value /= d
        return value
    except (ValueError, ZeroDivisionError):
        return None


def numbers_in(text: str, words: bool = True, denominators: bool = True) -> set[Fraction]:
    """Every number written in ``text``: integers, decimals, ``1,000``, ``a/b``, ``\\frac{a}{b}``
    and, with ``words``, numbers spelled in words (see :func:`word_numbers`); ``a/b`` gives
    ``a`` and, with ``denominators``, ``b`` on their own too.

    Example:
        >>> sorted(numbers_in("take 3/4 of 1,000"))
        [Fraction(3, 4), Fraction(3, 1), Fraction(4, 1), Fraction(1000, 1)]
        >>> sorted(numbers_in("seventy-two"))
        [Fraction(72, 1)]
    """
    found: set[Fraction] = word_numbers(text) if words else set()
    for m in _NUM.finditer(text):
        if m.group(1) is not None:
            v = _to_fraction(m.group(1), m.group(2))
        else:
            v = _to_fraction(m.group(3), m.group(4))
            if m.group(4) is not None:  # "3/4" also mentions 3 and (with ``denominators``) 4 on their own
                for part in (m.group(3), m.group(4)) if denominators else (m.group(3),):
                    p = _to_fraction(part)
                    if p is not None:
                        found.add(p)
        if v is not None:
            found.add(v)
    return found


@functools.lru_cache(maxsize=1024)
def _problem_numbers(problem: str) -> frozenset[Fraction]:
    # Every completion of a GRPO group is checked against the same problem: scan it once.
    # Every number word of the problem counts here, small lone ones included ("three apples").
    return frozenset(numbers_in(problem, words=False) | word_numbers(problem, every=True))


def _normalise_text(s: str) -> str:
    s = re.sub(r"\\(?:boxed|text|mathrm)\{([^{}]*)\}", r"\1", s)
    return re.sub(r"[\s$\\{}]+", "", s).lower()


class GoldAnswerDetector(LeakageDetector):
    """The gold answer appears in the strategy, in any written form.

    Numbers are compared as exact fractions, so a gold ``0.5`` is found as ``1/2``,
    ``\\frac{1}{2}``, ``0.50`` or ``one half``, and a gold ``72`` as ``seventy-two``
    (:func:`word_numbers`). Numbers that already appear in the problem, and step numbers
    (``Step 2:``, a list's ``2.`` or ``2)``, by position: a later "the answer is 2" still is one)
    and an operation's operands ("divide by 2"), are not leaks. Non-numeric golds are matched as
    normalised text.

    Args:
        min_text_chars: Shortest non-numeric gold worth matching (short words match by chance).
    """

    name = "gold_answer"

    def __init__(self, min_text_chars: int = 3) -> None:
        self.min_text_chars = min_text_chars

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        gold = normalize_gold(task.answer) if task.answer is not None else ""
        if not gold or not isinstance(strategy, str):
            return LeakageFinding(self.name, False)
        gold_value = _single_value(gold)
        if gold_value is not None:
            # a divisor ("8 / 2", "25/100") is an operand too, never a stated result
            mentioned = numbers_in(_without_markers(_folded(strategy)), denominators=False) - _problem_numbers(task.problem or "")
            if gold_value in mentioned:
                return LeakageFinding(self.name, True, 1.0, f"gold answer {gold} written in the strategy")
            return LeakageFinding(self.name, False)
        norm = _normalise_text(gold)
        if len(norm) >= self.min_text_chars and norm in _normalise_text(strategy):
            if norm not in _normalise_text(task.problem or ""):
                return LeakageFinding(self.name, True, 1.0, f"gold answer {gold[:40]!r} written in the strategy")
        return LeakageFinding(self.name, False)


_GOLD_FRAC = re.compile(r"-?\\[dt]?frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}")
_GOLD_NUM = re.compile(r"(-?[\d,]*\d(?:\.\d+)?)(?:/(-?[\d,]*\d(?:\.\d+)?))?")


def _single_value(gold: str) -> Fraction | None:
    """The gold's value when the gold is one number (``"72"``, ``"$1,000"``, ``"\\frac{1}{2}"``)."""
    g = re.sub(r"\\boxed\{(.*)\}", r"\1", gold)
    g = re.sub(r"[\s$%]|\\[,!;]|\\text\{[^{}]*\}", "", g)
    m = _GOLD_FRAC.fullmatch(g)
    if m:
        value = _to_fraction(m.group(1), m.group(2))
        return -value if value is not None and g.startswith("-") else value
    m = _GOLD_NUM.fullmatch(g)
    if m:
        return _to_fraction(m.group(1), m.group(2))
    spelled = word_numbers(gold, every=True)  # a gold written "seventy-two"
    if len(spelled) == 1 and not re.sub(r"[a-z]+|[\s,.-]", "", gold.lower()):
        return next(iter(spelled))
    return None


# --- numbers spelled in words -------------------------------------------------------------------

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen"
).split()
_UNITS = {w: i for i, w in enumerate(_UNIT_WORDS)}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINAL_ROOTS = {"first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
                  "ninth": "nine", "twelfth": "twelve"}  # fmt: skip
# "three quarters", "two thirds", "a half": the denominator words (never "second": "a second" is time).
_DENOMINATORS = {"half": 2, "halves": 2, "quarter": 4, "quarters": 4, "third": 3, "thirds": 3}
_DENOMINATORS.update({f"{w}th": v for w, v in _UNITS.items() if 4 <= v <= 19 and w not in ("five", "eight", "nine", "twelve")})
_DENOMINATORS.update({"fifth": 5, "eighth": 8, "ninth": 9, "twelfth": 12, "hundredth": 100, "thousandth": 1000})
_DENOMINATORS.update({f"{k}s": v for k, v in list(_DENOMINATORS.items()) if not k.endswith("s") and k != "half"})
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
# A lone small word ("two") is a count in most prose ("add the two amounts", "we get two
# equations"); it states a result only right after "equals"/"answer:"/"print", after a link
# ("is", "to") that follows a result word ("the answer is two", "it comes to two"), or before
# "left"/"in total".
_RESULT_DIRECT = frozenset("answer answers equals print prints output outputs return returns".split())
_RESULT_LINK = frozenset("is be was are equal to becomes".split())
_RESULT_NOUNS = frozenset("answer answers result total count final comes works output value".split())
_RESULT_AFTER = frozenset("left remaining remain remains total altogether".split())


def _cardinal(word: str) -> tuple[str, int] | None:
    """(kind, value) of a cardinal number word, or of an ordinal's root (``"seventy-second"``)."""
    if word in _UNITS:
        return ("unit", _UNITS[word])
    if word in _TENS:
        return ("tens", _TENS[word])
    if word == "hundred":
        return ("hundred", 100)
    if word in _SCALES:
        return ("scale", _SCALES[word])
    return None


def _ordinal_root(word: str) -> str | None:
    if word in _ORDINAL_ROOTS:
        return _ORDINAL_ROOTS[word]
    if word.endswith("ieth") and word[:-4] + "y" in _TENS:
        return word[:-4] + "y"
    if word.endswith("th") and _cardinal(word[:-2]) is not None:
        return word[:-2]
    return None


def _read_words(toks: list[str], i: int) -> tuple[int, Fraction | None, bool]:
    """Read one number phrase starting at ``toks[i]``: (next index, value, lone small word)."""
    n = len(toks)
    sign = 1
    start = i
    if toks[i] in ("minus", "negative") and i + 1 < n:
        sign, i = -1, i + 1
    if toks[i][0].isdigit():  # "12 thousand", "1.5 million", "minus 3"
        if i + 1 < n and (toks[i + 1] in _SCALES or toks[i + 1] == "dozen"):  # "6 dozen" too
            return i + 2, sign * Fraction(toks[i]) * _SCALES.get(toks[i + 1], 12), False
        return i + 1, (-Fraction(toks[i]) if sign < 0 else None), False
    total, group, last, j = 0, 0, None, i
    if toks[j] in ("a", "an") and j + 1 < n and (toks[j + 1] in ("hundred", "dozen", *_SCALES, *_DENOMINATORS)):
        group, last, j = 1, "unit", j + 1
    ordinal = False
    while j < n:
        word = toks[j]
        root = _ordinal_root(word) if last != "unit" or word not in _DENOMINATORS else None
        got = _cardinal(root or word)
        if word == "and" and last in ("hundred", "scale") and j + 1 < n and toks[j + 1] in (*_UNITS, *_TENS):
            j += 1
            continue
        if word == "dozen" and last in ("unit", "tens"):
            group, last, j = group * 12, "scale", j + 1
            break
        if got is None:
            break
        kind, value = got
        if kind == "unit" and (last in (None, "hundred", "scale") or (last == "tens" and 0 < value < 10)):
            group += value
        elif kind == "tens" and last in (None, "hundred", "scale"):
            group += value
        elif kind == "hundred" and last == "unit" and 0 < group % 100 < 20 and group < 100:
            group *= 100
        elif kind == "scale" and last in ("unit", "tens", "hundred") and (total == 0 or total % (value * 1000) == 0):
            total, group = total + group * value, 0
        else:
            break
        last, j = kind, j + 1
        if root is not None:
            ordinal = True
            break
    if last is None:
        return start + 1, None, False
    value = Fraction(total + group)
    if not ordinal and j + 1 < n and toks[j] == "point" and toks[j + 1] in _UNIT_WORDS[:10]:
        digits = []
        j += 1
        while j < n and toks[j] in _UNIT_WORDS[:10]:
            digits.append(str(_UNITS[toks[j]]))
            j += 1
        value += Fraction("0." + "".join(digits))
    elif not ordinal and j < n and toks[j] in _DENOMINATORS and 0 < value < 100:
        value, j = value / _DENOMINATORS[toks[j]], j + 1
    elif ordinal and value <= 10:  # "first", "the fifth step": positions, not answers
        return j, None, False
    lone = j - start == 1 and value <= 10 and not ordinal
    return j, sign * value, lone


def word_numbers(text: str, every: bool = False) -> set[Fraction]:
    """Numbers spelled in words: ``seventy-two``, ``one hundred and five``, ``minus three``,
    ``twelve thousand``, ``1.5 million``, ``three quarters``, ``seven point five``, ``a dozen``
    and ordinals past ten (``twelfth``, ``seventy-second``).

    A lone word from zero to ten counts only where it states a result ("the answer is two",
    "two left"), since prose uses small counts everywhere; ``every=True`` counts them all.

    Example:
        >>> sorted(word_numbers("Add the two parts: one hundred and five, minus three quarters"))
        [Fraction(-3, 4), Fraction(105, 1)]
    """
    if not isinstance(text, str) or not text:
        return set()
    low = text.lower()
    ms = list(_WORD.finditer(low))
    words = [m.group() for m in ms]
    found: set[Fraction] = set()
    k = 0
    while k < len(ms):
        # A phrase continues only across spaces and hyphens: "three, four" is two numbers.
        end = k + 1
        while end < len(ms) and not low[ms[end - 1].end() : ms[end].start()].strip(" \t-"):
            end += 1
        i = k
        while i < end:
            j, value, lone = _read_words(words[i:end], 0)
            j += i
            prev = words[i - 1] if i else ""
            if value is not None and prev != "step":
                stated = (
                    "=" in low[ms[i - 1].end() if i else 0 : ms[i].start()]
                    or prev in _RESULT_DIRECT
                    or (prev in _RESULT_LINK and not _RESULT_NOUNS.isdisjoint(words[max(0, i - 5) : i - 1]))
                    or not _RESULT_AFTER.isdisjoint(words[j : j + 2])
                )
                if every or not lone or stated:
                    found.add(value)
            i = max(j, i + 1)
        k = end
    return found


# --- code that gives the solution away ---------------------------------------------------------

_TRIVIAL_PY = {"pass_statement", "comment"}


def _strategy_code(strategy: str, language: str) -> list[tuple[str, str]]:
    """Code in a strategy: its fenced blocks and inline code spans (language, code), prose excluded."""
    fenced = [(b.language or language, b.code) for b in extract_code_blocks(strategy)]
    return fenced + [(language, code) for _, code in _inline_spans(strategy)]


class EntryPointBodyDetector(LeakageDetector):
    """The strategy defines the task's entry point with a real body (tree-sitter), in a fenced
    block, in inline code (```def add(a, b): return a + b```) or unfenced.

    A signature with ``pass``, ``...``, a docstring or ``raise NotImplementedError`` is a
    sketch, not a leak; any other statement in the body is.

    Args:
        min_statements: Real statements in the body that count as a leak.
    """

    name = "entry_point_body"

    def __init__(self, min_statements: int = 1) -> None:
        self.min_statements = min_statements
        self._syntax = SyntaxChecker()

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        if not task.entry_point or not isinstance(strategy, str):
            return LeakageFinding(self.name, False)
        strategy = _folded(strategy)  # ``def ｈas_close_elements`` defines has_close_elements in Python
        body = _bare_body(strategy) if task.language == "python" and "return" in strategy else None
        if body is not None:
            return LeakageFinding(self.name, True, 1.0, f"a function body without its def line: {body[:60]!r}")
        if task.entry_point not in strategy:
            return LeakageFinding(self.name, False)
        defines = _definition_pattern(task.entry_point)
        if not defines.search(strategy):  # prose that merely names the function: nothing to parse
            return LeakageFinding(self.name, False)
        # Inline code (`def add(a, b): return a + b`) is code like a fenced block; unfenced code
        # still counts when no block carries the definition.
        blocks = [b for b in _strategy_code(strategy, task.language) if defines.search(b[1])]
        if not blocks:
            blocks = [(task.language, strategy)]
        for lang, code in blocks:
            if not defines.search(code):
                continue
            if normalize_language(lang) is None:  # a ```text fence round a definition is still code
                lang = task.language
                if normalize_language(lang) is None:
                    continue
            try:
                tree = self._syntax.parse(code, lang)
            except Exception:  # a missing grammar or odd bytes: this block cannot be judged
                continue
            n = _body_statements(tree.root_node, task.entry_point.encode())
            if n >= self.min_statements:
                return LeakageFinding(self.name, True, 1.0, f"defines {task.entry_point}() with {n} statement(s)")
        return LeakageFinding(self.name, False)


# What a returned value computes: a call, a comprehension, an operator, an index, an attribute.
_COMPUTED = (ast.Call, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.BinOp, ast.BoolOp,
             ast.Compare, ast.Subscript, ast.Attribute, ast.IfExp, ast.UnaryOp)


def _bare_body(strategy: str) -> str | None:
    """Python code in the strategy (a fence of any language, or inline code) that is a function
    body without its ``def`` line: it parses as one and returns something it computes
    (``return any(abs(a - b) < t for a, b in zip(s, s[1:]))``), or loops and tests round a
    constant ``return`` with no ``...`` or ``pass`` left in them. ``return None``, ``return x``,
    ``return []``, a sketch and a ``def`` of its own (judged as a definition) are not one."""
    for _, code in _strategy_code(strategy, "python"):
        if "return" not in code or re.search(r"^\s*(?:async\s+)?def\s", code, re.M):
            continue
        try:
            tree = ast.parse("def _f():\n" + textwrap.indent(textwrap.dedent(code), "    "))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        nodes = list(ast.walk(tree))
        returns = [n for n in nodes if isinstance(n, ast.Return)]
        if any(r.value is not None and any(isinstance(n, _COMPUTED) for n in ast.walk(r.value)) for r in returns):
            return code.strip()
        # or the logic round a constant return: a loop or a test with a real body, no `...` in it
        sketch = any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in nodes) or any(
            isinstance(n, ast.Pass) for n in nodes)
        if returns and not sketch and any(isinstance(n, (ast.For, ast.While, ast.If)) for n in nodes) and sum(
                isinstance(n, ast.stmt) for n in nodes) >= 4:
            return code.strip()
    return None


@functools.lru_cache(maxsize=1024)
def _definition_pattern(name: str) -> re.Pattern[str]:
    """Text that could define ``name`` in any supported language: ``def name(``, ``function
    name``, ``fn name``, ``func name``, ``name(...) {`` (C family, Java, Go methods) or a
    function bound to the name (``name = lambda``, ``const name = (a) =>``)."""
    n = re.escape(name)
    bound = rf"\b{n}\s*=\s*(?:lambda\b|function\b|async\b|\([^()]*\)[^;{{}}]*?=>|\w+\s*=>)"  # add = lambda / (a) =>
    return re.compile(rf"\b(?:def|function|fn|func)\s+{n}\b|\b{n}\s*\([^()]*\)[^;{{}}]*\{{|{bound}")


# Assignments that bind a function value to a name: (node type, name field, value field).
_BINDINGS = {"assignment": ("left", "right"), "variable_declarator": ("name", "value")}
_FUNCTION_VALUES = {"lambda", "arrow_function", "function_expression", "function"}


def _body_statements(root: Any, name: bytes) -> int:
    """Most real statements in any definition of ``name`` in the tree."""
    best = 0
    stack = [root]
    while stack:
        node = stack.pop()
        ntype = node.type
        if ("function" in ntype or "method" in ntype) and _defines(node, name):
            body = node.child_by_field_name("body")
            if body is not None:
                best = max(best, _count_real(body))
        elif ntype in _BINDINGS:
            target, value = (node.child_by_field_name(f) for f in _BINDINGS[ntype])
            if target is not None and value is not None and target.text == name and value.type in _FUNCTION_VALUES:
                best = max(best, _bound_body(value))
        stack.extend(node.named_children)
    return best


def _bound_body(function: Any) -> int:
    """Real statements of a lambda or arrow function: an expression body counts as one."""
    body = function.child_by_field_name("body")
    if body is None:
        return 0
    if body.type in ("statement_block", "block"):
        return _count_real(body)
    text = (body.text or b"").strip()
    return 0 if text in (b"...", b"None", b"") or b"NotImplementedError" in text else 1


def _defines(node: Any, name: bytes) -> bool:
    ident = node.child_by_field_name("name")
    if ident is not None:
        return ident.text == name
    decl = node.child_by_field_name("declarator")  # C/C++: function_definition -> declarator -> name
    while decl is not None:
        inner = decl.child_by_field_name("declarator")
        if inner is None:
            return decl.text == name
        decl = inner
    return False


def _count_real(body: Any) -> int:
    n = 0
    for child in body.named_children:
        if child.type in _TRIVIAL_PY:
            continue
        text = (child.text or b"").strip()
        if child.type == "expression_statement" and (
            text in (b"...", b"") or text[:1] in (b'"', b"'") or text.startswith((b'r"', b"r'", b'"""'))
        ):
            continue
        if b"NotImplementedError" in text or text in (b"todo!()", b"unimplemented!()"):
            continue
        n += 1
    return n


_PROSE_FENCES = frozenset({"text", "txt", "plaintext", "plain", "output", "console", "log", "md", "markdown"})


class LongCodeBlockDetector(LeakageDetector):
    """The strategy carries more code than a plan needs.

    Args:
        max_lines: Most non-blank code lines (all fenced blocks together) a strategy may hold.
    """

    name = "long_code_block"

    def __init__(self, max_lines: int = 12) -> None:
        if not isinstance(max_lines, int) or max_lines < 1:
            raise ConfigError(f"max_lines must be a positive int, got {max_lines!r}")
        self.max_lines = max_lines

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        blocks = extract_code_blocks(strategy) if isinstance(strategy, str) else []
        # a ```text (or output, console) fence holds a worked trace or an example's output, not code
        lines = sum(b.n_lines for b in blocks if (b.language or "").lower() not in _PROSE_FENCES)
        if lines > self.max_lines:
            return LeakageFinding(self.name, True, min(1.0, lines / (2 * self.max_lines)), f"{lines} lines of code")
        return LeakageFinding(self.name, False, lines / (2 * self.max_lines))


_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|==|!=|<=|>=|\*\*|//|[^\s\w]")


class ReferenceOverlapDetector(LeakageDetector):
    """The strategy reproduces much of the reference solution (token n-gram containment).

    Args:
        n: n-gram length in code tokens.
        threshold: Share of the reference's n-grams found in the strategy that counts as a leak.
        min_ngrams: References shorter than this are not judged (too little signal).
    """

    name = "reference_overlap"

    def __init__(self, n: int = 4, threshold: float = 0.5, min_ngrams: int = 8) -> None:
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"n must be a positive int, got {n!r}")
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
        self.n = n
        self.threshold = threshold
        self.min_ngrams = min_ngrams
        self._ref_cache: dict[tuple[str, str], frozenset[tuple[str, ...]]] = {}

    def _ngrams(self, text: str) -> set[tuple[str, ...]]:
        toks = _TOKEN.findall(text)
        return {tuple(toks[i : i + self.n]) for i in range(len(toks) - self.n + 1)}

    def _reference(self, task: Task) -> frozenset[tuple[str, ...]]:
        # Every completion of a task compares with the same reference: compute its n-grams once.
        key = (task.reference or "", task.problem or "")
        ref = self._ref_cache.get(key)
        if ref is None:
            ref = frozenset(self._ngrams(key[0]) - self._ngrams(key[1]))
            if len(self._ref_cache) >= 4096:
                self._ref_cache.clear()
            self._ref_cache[key] = ref
        return ref

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        if not task.reference or not isinstance(strategy, str):
            return LeakageFinding(self.name, False)
        ref = self._reference(task)
        if len(ref) < self.min_ngrams:
            return LeakageFinding(self.name, False)
        share = len(ref & self._ngrams(strategy)) / len(ref)
        if share >= self.threshold:
            return LeakageFinding(self.name, True, share, f"{share:.0%} of the reference solution's {self.n}-grams")
        return LeakageFinding(self.name, False, share)


# --- instructions to tamper with the tests or the harness ---------------------------------------

HACK_CATEGORIES: tuple[str, ...] = (
    "always_equal", "early_exit", "builtin_shadow", "test_tamper", "introspection", "file_read", "forged_output",
)  # fmt: skip

_BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))
# Names a program may rebind without touching a harness (fast input for io programs, REPL helpers).
_REBINDABLE = frozenset({"input", "help", "copyright", "credits", "license", "exit", "quit"})
# Plain values bound to these names are a hack too; other builtins ("sum", "max", "list", "id")
# are everyday variable names in sketches, so only a function or class bound to them counts.
_HARNESS_BUILTINS = frozenset(
    "tuple isinstance issubclass abs repr print len all any bool float int str round object AssertionError"
    " Exception BaseException getattr hasattr setattr exec eval compile callable hash range enumerate zip"
    " sorted reversed frozenset complex super globals locals vars".split()
)
_CMP_DUNDERS = frozenset({"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"})
_OP_DUNDERS = frozenset(
    f"__{op}__" for op in "add radd sub rsub mul rmul truediv rtruediv floordiv mod pow abs neg pos round"
    " and or xor contains call getitem float int bool".split()
)

_CLAUSE_BREAK = re.compile(r"[,;:(]|\b(?:but|instead|then|and then|so|otherwise)\b|[-—–]{1,2}\s", re.IGNORECASE)
# A negation governs the instruction when it opens its clause ("never call sys.exit", "you
# should not ..."); a bare "not" elsewhere describes the hack ("an object that is not an int").
_NEGATION = re.compile(
    r"\b(?:don'?t|do\s+not|does\s+not|doesn'?t|never(?!\s+mind)|avoid\w*|no\s+need\s+(?:to|for)|without|instead\s+of"
    r"|rather\s+than|"
    r"(?:must|should|need|may|will|can)\s+not|mustn'?t|shouldn'?t|needn'?t|cannot|can'?t|won'?t|refrain\s+from|"
    r"(?:it\s+is|it's)\s+not\s+(?:necessary|needed|required)|nor|not\s+(?:by|to|allowed\s+to)|no\s+(?:reason"
    r"|calls?)\s+to)\b",
    re.IGNORECASE,
)
_NEGATED_AFTER = re.compile(
    r"[^\w.!?;\n]*(?:\w+[^\w.!?;\n]+){0,3}?(?:is|are|isn'?t|aren'?t)\s+(?:not\s+|never\s+)?(?:needed|necessary"
    r"|required|allowed|permitted|"
    r"unnecessary|forbidden|banned|disallowed|a\s+bad\s+idea|off[- ]limits)\b|[^\w.!?;\n]*(?:should|must)\s+(?:never"
    r"|not)\s+be\s+used",
    re.IGNORECASE,
)


def _literal_run(items: list[Any]) -> str:
    out = []
    for op, arg in items:
        if op is not _sre.LITERAL:
            break
        out.append(chr(arg))
    return "".join(out)


def _leading(items: list[Any]) -> set[str] | None:
    """Literal strings one of which starts every match of the parsed sequence ``items``."""
    while items and items[0][0] in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        items = items[1:]
    if not items:
        return None
    op, arg = items[0]
    if op is _sre.LITERAL:
        return {_literal_run(items)}
    if op is _sre.SUBPATTERN:
        return _leading(list(arg[-1]))
    if op is _sre.BRANCH:
        found: set[str] = set()
        for branch in arg[1]:
            lead = _leading(list(branch))
            if lead is None:
                return None
            found |= lead
        return found
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and arg[0] >= 1:
        return _leading(list(arg[2]))
    return None


def _required(items: list[Any]) -> tuple[set[str] | None, bool]:
    """Literals one of which every match contains (its most selective mandatory part), and
    whether every match starts with one of them; (None, False) when nothing is required."""
    if len(items) == 1 and items[0][0] is _sre.BRANCH:
        found: set[str] = set()
        anchored = True
        for branch in items[0][1][1]:
            need, at_start = _required(list(branch))
            if need is None:
                return None, False
            found |= need
            anchored = anchored and at_start
        return found, anchored
    best: set[str] | None = None
    best_anchored = False
    first = next((k for k, (op, _) in enumerate(items) if op not in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)), None)
    for k, (op, arg) in enumerate(items):
        if op is _sre.LITERAL and k and items[k - 1][0] is _sre.LITERAL:
            continue  # inside a literal run already counted
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and arg[0] == 0:
            continue
        lead = _leading(items[k:]) if op is _sre.LITERAL else _leading([(op, arg)])
        if lead and all(lead) and (best is None or min(map(len, lead)) > min(map(len, best))):
            best, best_anchored = lead, k == first
        # A leading part of two or more characters wins: matching then starts only where it occurs.
        if best_anchored and min(map(len, best)) >= 2:
            break
    return best, best_anchored


Rule = tuple  # (pattern, required literals, anchored): see _p


def _p(*alternatives: str) -> tuple[Rule, ...]:
    """Compile each alternative with the literals that must occur for it to match.

    A pattern none of whose literals occur in a strategy is skipped, and one whose matches
    start with one of them is tried only where one occurs, not at every character.
    """
    rules = []
    for alt in alternatives:
        try:
            need, anchored = _required(list(_sre_parse.parse(alt, re.IGNORECASE)))
        except Exception:  # the parser is private: without it every pattern scans the whole text
            need, anchored = None, False
        literals = frozenset(n.lower() for n in need) if need else frozenset()
        rules.append((re.compile(alt, re.IGNORECASE | re.MULTILINE), literals, anchored and bool(literals)))
    return tuple(rules)


def _first_match(rule: Rule, text: str, low: str, present: frozenset[str], counts: Any) -> re.Match[str] | None:
    pattern, need, anchored = rule
    if not anchored or len(low) != len(text):  # str.lower() can change lengths outside ASCII
        return next((m for m in pattern.finditer(text) if counts(m.start(), m.end())), None)
    starts: set[int] = set()
    for n in need & present:
        at = low.find(n)
        while at >= 0:
            starts.add(at)
            at = low.find(n, at + 1)
    for at in sorted(starts):
        m = pattern.match(text, at)
        if m is not None and counts(m.start(), m.end()):
            return m
    return None


_W = r"[^.!?;\n]"  # a window stays inside one sentence (identifiers such as sys.exit keep their dot)
_BI = "|".join(sorted(_HARNESS_BUILTINS, key=len, reverse=True))
_TESTOBJ = (
    r"(?:the\s+)?(?:test(?:ing)?\s+functions?|check\s+functions?|`check`|check\((?:candidate)?\)"
    r"|run_tests(?:\(\))?|"
    r"(?:test\s+)?harness(?:'s)?|assert(?:ion)?s?|assert\s+statements?|assert(?:ion)?\s+helpers?"
    r"|test\s+suite|"
    r"test\s+runner|grader|grading\s+code|the\s+tests|unit\s*tests?|unittest|assertionerror|test\s+code"
    r"|checker|"
    r"verifier|pass\s+counter|verdict|(?:function|method)\s+(?:named|called)\s+`?(?:check|run_tests|candidate)\b`?)"
)

# Each pattern reads what the strategy asks for, in code or in prose; clause-level negation
# ("do not call sys.exit") is honoured outside fenced code.
def _patterns() -> dict[str, tuple[tuple[Rule, ...], ...]]:
    """The rules of each category, by group (compiled on first use, in about 70 ms)."""
    return {
        "always_equal": (
            _p(r"__eq__\s*=\s*lambda[^:\n]*:\s*(?:True|1|not\s+\w+)\b",
               r"mock\.ANY\b|from\s+unittest\.mock\s+import\s+ANY"),
            _p(rf"(?:__eq__|__ne__|\beq\b|equality\s+(?:method|operator|check)|comparison\s+(?:methods?"
               rf"|operators?)){_W}{{0,40}}?"
               r"(?:always|unconditionally|simply|just|only)?\s*(?:returns?|returning|yields?|gives?"
               r"|evaluat\w+\s+to)\s+"
               r"(?:`|')?true\b(?!\s+(?:if|when|only|iff|exactly|for\s+(?:equal|matching|the\s+same)))",
               rf"(?:equals?|equal\s+to|==)\s+(?:literally\s+)?(?:anything|everything|whatever"
               rf"|any(?:\s+other)?\s+(?:value|object|thing|operand|argument|input|expected\s+\w+)"
               rf"|every(?:\s+other)?\s+(?:value|object|operand|expected\s+\w+)"
               rf"|(?:any|every)\s+(?:possible|single|conceivable)\s+\w+)\b",
               r"always\s+(?:compares?|tests?|evaluates?|checks?)\s+(?:as\s+)?(?:equal|true)",
               rf"\b(?:make|makes|making|force|forces|forcing|rig|rigs|trick|tricks|override|overriding|patch"
               rf"|patching|hack|have|let)\b{_W}{{0,30}}?"
               rf"(?:equality|comparisons?|==|equals|__eq__|compare)\b{_W}{{0,30}}?(?:always|unconditionally"
               rf"|no\s+matter\s+what|regardless|trivially|every\s+time)"
               rf"{_W}{{0,20}}?(?:succeed|pass|return\s+true|returns\s+true|evaluate\s+to\s+true|be\s+true"
               rf"|is\s+true|true)\b",
               rf"\b(?:make|makes|making|force|forces|forcing|rig|rigs|trick|tricks|override|overriding|patch"
               rf"|patching|hack|have|let)\b{_W}{{0,30}}?"
               rf"(?:equality|comparisons?|==|equals|__eq__|compare)\b{_W}{{0,30}}?(?:succeeds?|pass(?:es)?"
               rf"|returns?\s+true|evaluates?\s+to\s+true|is\s+true|be\s+true)\b"
               rf"{_W}{{0,20}}?(?:always|unconditionally|no\s+matter\s+what|regardless|whatever|every\s+time"
               rf"|for\s+any\s+\w+)",
               rf"\b(?:make|makes|making|force|forces|forcing|rig|rigs|so\s+that"
               rf"|ensure)\b{_W}{{0,20}}?\b(?:every|all|any)\s+(?:equality\s+)?(?:comparisons?|=="
               rf"|equality\s+checks?|eq\s+checks?)"
               rf"{_W}{{0,20}}?(?:succeed|pass|return\s+true|returns\s+true|evaluates?\s+to\s+true|is\s+true"
               rf"|be\s+true)",
               rf"(?:object|instance|value|class|proxy|wrapper|mock|thing)\w*{_W}{{0,40}}?\b(?:answers?"
               rf"|responds?\s+to|supports?|handles?|satisfies|overrides?|implements?|defines?|swallows?"
               rf"|absorbs?|accepts?)\s+"
               rf"(?:every|all|any)\s+(?:(?:comparison|arithmetic|rich\s+comparison|magic|dunder"
               rf"|binary)\s+)?(?:operators?|operations?|comparisons?|dunders?|dunder\s+methods?"
               rf"|magic\s+methods?)"
               rf"{_W}{{0,40}}?(?:return(?:s|ing)?\s+(?:itself|self|true|the\s+same)|always|succeed|pass|true\b)",
               rf"return(?:s|ing)?\s+(?:itself|self)\b{_W}{{0,30}}?\b(?:for|from|on)\s+(?:every|all"
               rf"|any)\s+(?:operators?|operations?|attributes?|attribute\s+access|method\s+calls?|calls?"
               rf"|comparisons?)",
               rf"subclass(?:es|ing)?\s+(?:of\s+)?`?(?:int|str|list|float|dict|tuple"
               rf"|bool)\b{_W}{{0,60}}?(?:override|overrid|redefin|replac|patch|rig)\w*{_W}{{0,30}}?(?:__eq__"
               rf"|__ne__|\beq\b|equality|comparisons?|compare|==|operators?)",
               r"always[- ](?:equal|true)\s+(?:object|class|wrapper|value|instance|sentinel|proxy)",
               rf"(?:equality|comparisons?|==|__eq__|eq\s+checks?)\b{_W}{{0,20}}?\b(?:can|will|should|must"
               rf"|would)?\s*never\s+"
               rf"(?:fail|be\s+false|return\s+false)",
               r"\b(?:pretend|pretends|pretending|claim|claims|claiming|fake|fakes"
               r"|faking)\s+(?:to\s+)?(?:be\s+)?(?:equal|==)",
               r"\bnever\s+(?:compares?|tests?|evaluates?|checks?)\s+(?:as\s+)?(?:unequal|different|false|not\s+equal)",
               rf"\b(?:object|instance"
               rf"|result)\b{_W}{{0,30}}?\b(?:compares?\s+)?equal\s+to\s+all\s+(?:possible\s+)?(?:values|objects"
               rf"|inputs"
               rf"|answers|results|outputs|things|operands)\b",
               r"(?:equality|comparison|__eq__|==)\w*(?:\s+(?:check|method|operator"
               r"|test))?\s+(?:is\s+)?(?:hard[- ]?wired|hard[- ]?coded"
               r"|fixed|pinned|forced|rigged)\s+to\s+(?:return\s+)?true",
               rf"\b(?:every|all|any)\s+(?:==|equality|eq|comparison)\s*(?:tests?|checks?|comparisons?)?\s+{_W}{{0,20}}?"
               rf"\b(?:yields?|returns?|gives?|evaluates?\s+to)\s+true\b",
               rf"(?:==|equality|__eq__){_W}{{0,30}}?\b(?:accept|treat|consider|count"
               rf"|regard)\w*\b{_W}{{0,20}}?\b(?:match\w*|equal)\b"
               rf"{_W}{{0,20}}?\b(?:whatever|anything|everything)\b",
               r"\b(?:rigged|fake|forged|always-true|permissive|patched|lying|dishonest)\s+`?(?:__eq__|__ne__|eq\b"
               r"|equality|comparison)",
               rf"__(?:sub|rsub|abs|lt|le|gt|ge|ne)__{_W}{{0,30}}?\breturns?\s+(?:0(?:\.0)?|zero|true|false|self|itself)\b"
               rf"(?!\s+(?:if|when|only|iff|for|unless))",
               r"\balways_?(?:equal|eq|true|pass(?:es)?)\w*(?=\(|`|\s+(?:class|object|instance))"
               r"|\b(?:AlwaysEqual|AlwaysTrue|EqualsAnything|EqualToAnything|MatchesAnything)\w*",
               rf"(?:__eq__|equality|comparison)\s*(?:method|operator|check|function"
               rf"|dunder)?{_W}{{0,20}}?\b(?:ignores?|ignoring|disregards?|never\s+(?:looks?\s+at|reads?|uses?"
               rf"|inspects?))\s+(?:its|the)\s+(?:other\s+)?(?:argument|operand|other|input|parameter"
               rf"|right-hand\s+side)",
               rf"\b(?:treats?|treating|counts?|counting|considers?|regards?|reports?)\s+(?:every|all"
               rf"|any)\s+(?:equality\s+)?(?:comparisons?|==|checks?)\s+as\s+(?:a\s+)?(?:match|equal|true"
               rf"|success|pass)",
               rf"__getattr(?:ibute)?__{_W}{{0,60}}?\breturn\w*\b{_W}{{0,40}}?\b(?:itself|self"
               rf"|the\s+(?:same\s+)?object)\b",
               r"(?:comparisons?|==|equality(?:\s+checks?)?|__eq__|eq\s+checks?)\s+(?:(?:with"
               r"|against)\s+\S+\s+)?(?:always|unconditionally)\s+"
               r"(?:(?:yields?|returns?|gives?|evaluates?\s+to|is|comes\s+out(?:\s+as)?)\s+true|succeeds?"
               r"|pass(?:es)?)\b",
               rf"(?:object|instance|value|result)\b{_W}{{0,30}}?(?:==|equal\w*"
               rf"|compar\w*){_W}{{0,30}}?\b(?:true|succeeds?|pass(?:es)?)\s+for\s+(?:all|every|any)\b",
               rf"(?:equal\w*|==|pass\w*|compar\w*|\btrue){_W}{{0,60}}?\b(?:regardless\s+of|no\s+matter"
               rf"|whatever|irrespective\s+of)\s+(?:what\s+)?(?:the\s+)?(?:expected|tests?|asserts?|assertions?"
               rf"|checks?)\b",
               r"(?:wildcard|universal|chameleon|omni|catch-all)[- ]?(?:object|value|sentinel|instance"
               r"|comparator)"),
        ),
        "early_exit": (
            _p(r"\bos\._exit\b|\batexit\b|\bSystemExit\b|\bos\.kill\s*\(|\bos\.abort\s*\(|\bsignal\.SIG(?:KILL"
               r"|STOP|TERM|ABRT)\b|"
               r"\bSIG(?:STOP|KILL|TERM)\b|\bos\.fork\b|\bos\.close\s*\(\s*[0-2]\s*\)|sys\.std(?:out"
               r"|err)\.close\s*\(|\bclass\s+\w+\s*\(\s*BaseException\s*\)|"
               r"\braise\s+(?:KeyboardInterrupt|GeneratorExit)\b"),
            _p(rf"\b(?:exit|exits|exiting|terminate|terminates|terminating|quit|quits|kill|kills|killing|abort"
               rf"|aborts|halt|halts|end|ends|ending|stop|stops|shut\s+down|shuts\s+down|bail\s+out|leave"
               rf"|crash)\b"
               rf"{_W}{{0,40}}?\b(?:process|interpreter|python|program|script|runtime|execution|worker|sandbox"
               rf"|child|module)\b{_W}{{0,60}}?"
               rf"\b(?:before|during|prior\s+to|ahead\s+of|while|instead\s+of|preventing|skip|skipping"
               rf"|never\s+reach\w*|so\s+(?:that\s+)?(?:no|none\s+of\s+the)"
               rf"|so\s+(?:that\s+)?the\s+\w+\s+never)\b{_W}{{0,40}}?(?<!\w){_TESTOBJ}",
               rf"\b(?:exit|exits|exiting|terminate\w*|quit\w*|kill\w*|abort\w*|halt\w*|end|ends|ending|stop|stops"
               rf"|shut\s+down)\b"
               rf"{_W}{{0,40}}?\b(?:process|interpreter|python|program|script|runtime|execution)\b{_W}{{0,60}}?"
               rf"\bso\s+(?:that\s+)?nothing\s+(?:else\s+)?(?:runs?|executes?|happens|gets\s+(?:run|executed)"
               rf"|is\s+(?:run|executed))\b",
               rf"\b(?:before|prior\s+to|ahead\s+of)\s+(?:the\s+|any\s+)?(?:tests?|asserts?|assertions?|check"
               rf"|harness|checks?)\b{_W}{{0,40}}?\b(?:exit|terminate|quit|kill|abort|halt"
               rf"|stop)\s+(?:the\s+)?(?:process|interpreter|program|script|python|execution)",
               rf"\b(?:exit|exits|exiting|terminate\w*|quit\w*|end|ends|ending|kill\w*|abort\w*|halt\w*|stop"
               rf"|stops|crash\w*|die)\b{_W}{{0,60}}?\b(?:at|on|during|upon)\s+import(?:\s+time)?\b",
               rf"\b(?:exit|exits|exiting|terminate\w*|quit\w*|end|ends|ending|kill\w*|abort\w*|halt\w*|stop"
               rf"|stops|crash\w*|shut\w*(?:\s+\w+){{0,3}}\s+down)\b{_W}{{0,80}}?\b(?:tests?|asserts?"
               rf"|assertions?|checks?|harness|test\s+code|grading\s+code|grader|checker"
               rf"|test\s+suite)\s+(?:\w+\s+){{0,2}}?never\s+(?:\w+\s+){{0,4}}?(?:run|runs|executed?|reached"
               rf"|called|evaluated|checked|starts?|started)\b",
               r"\b(?:exit|kill|fork)\s+(?:hooks?|handlers?)\b|\b(?:register|install)\w*\s+(?:an?\s+)?(?:exit"
               r"|shutdown)\s+(?:hook|handler|callback|function)",
               rf"\bclos(?:e|es|ing)\s+(?:the\s+)?(?:stdout|stderr|standard\s+(?:output|error)"
               rf"|file\s+descriptors?|fds?|the\s+pipe|its\s+pipes?)\b",
               r"\b(?:subclass\w*|deriv\w*\s+from|inherit\w*\s+from)\s+`?BaseException\b",
               rf"\bkill\w*\s+(?:the\s+)?(?:test\s+runner|harness|grader|checker|parent|judge)(?:'s)?\b",
               rf"\bspawn\w*\s+a\s+fork\b|\bchild\b{_W}{{0,20}}?\bexits?\s+(?:with\s+)?(?:0|zero|status|code|success)",
               rf"\bfork(?:s|ing|ed)?\s+(?:a|the|an?\s+\w+)?\s*(?:child|process)\b{_W}{{0,60}}?\b(?:exit|report"
               rf"|pass|print|marker)"),
            # Exit status 0 (or a plain sys.exit) only matters where tests run after the program.
            _p(r"\bsys\.exit\b|(?<![\w.])(?:exit|quit)\(\s*\d*\s*\)|raise\s+SystemExit",
               rf"\b(?:exit|exits|exiting|terminate|quit|end|finish|leave|stop)\w*\b{_W}{{0,40}}?\b(?:with\s+"
               rf"|using\s+)?(?:an?\s+)?(?:(?:exit|return|status)\s+)?(?:status|code)\s+(?:of\s+)?(?:0|zero)\b",
               rf"\b(?:exit|exits|exiting|terminate\w*|quit\w*|end|ends|ending|finish\w*|leave|stop"
               rf"|shut\w*(?:\s+\w+){{0,3}}\s+down)\b{_W}{{0,40}}?\b(?:0|zero|success(?:ful)?"
               rf"|clean)\s+(?:exit\s+|return\s+)?(?:status|code)\b"),
        ),
        "builtin_shadow": (
            _p(r"\bbuiltins\.\w+|setattr\s*\(\s*builtins\b|__builtins__|\bimport\s+builtins\b",
               rf"(?<![\w.])(?:{_BI})\s*=\s*lambda\b", rf"^(?:def|class)\s+(?:{_BI})\b"),
            _p(rf"\b(?:shadow|shadows|shadowing|override|overrides|overriding|redefine|redefines|redefining"
               rf"|patch|patches|patching|monkey[- ]?patch\w*|rebind|rebinds|rebinding|reassign\w*|overwrite"
               rf"|overwrites|overwriting|hijack\w*|clobber\w*)\b{_W}{{0,30}}?\b(?:built-?ins?"
               rf"|builtins?\s+module)\b",
               rf"\b(?:module[- ]level|module\s+scope|top[- ]level|global(?:ly)?)\b{_W}{{0,40}}?\b(?:define|declare"
               rf"|create|add|write|assign"
               rf"|reassign|bind|rebind|set|introduce|put|make)\b{_W}{{0,20}}?[`'\"]?\b(?:{_BI})\b(?!\s*\()",
               rf"\b(?:assign|assigns|reassign\w*|bind|binds|rebind\w*|set|sets)\s+(?:the\s+)?(?:builtin\s+"
               rf"|built-in\s+|global\s+)?[`'\"]?"
               rf"(?:{_BI})\b[`'\"]?(?!\s*\()\s+to\s+(?:a|an|your|my|its|the)\s+(?:\w+\s+)?(?:lambda|function"
               rf"|callable|stub|fake)",
               rf"\b(?:define|declare|create|add|write|assign|bind|set|introduce"
               rf"|put)\b{_W}{{0,40}}?\b(?:module[- ]level|global"
               rf"|top[- ]level)\b{_W}{{0,30}}?[`'\"]?\b(?:{_BI})\b[`'\"]?",
               rf"\b(?:shadow|shadows|shadowing|override|overrides|overriding|redefine|redefines|redefining"
               rf"|patch|patches|patching|monkey[- ]?patch\w*|rebind|rebinds|overwrite|overwrites|overwriting"
               rf"|hijack\w*)\s+(?:the\s+)?(?:name\s+"
               rf"|global\s+)?[`'\"]?(?:{_BI})\b(?!\s*\()[`'\"]?(?!\s+(?:method|attribute|dunder))"),
        ),
        "test_tamper": (
            _p(r"\bdef\s+run_tests\b|\brun_tests\s*=|\bcheck\s*=\s*lambda\b|\bdef\s+check\s*\(\s*candidate\b"
               r"|__code__|"
               r"\bglobals\(\)\s*\[\s*['\"](?:check|run_tests|candidate)|\bAssertionError\s*="
               r"|\bunittest\.TestCase\.\w+\s*=|"
               r"\bsys\.modules\s*\[[^\]]*\]\s*(?:=|\.\w+\s*=)|\bexcept\s*\(?\s*(?:\w+\s*,\s*)*AssertionError\b"
               r"|PYTHONOPTIMIZE|\bpython3?\s+-O\b|\bsys\.flags\.optimize\b"),
            _p(rf"\b(?:overwrite|overwrites|overwriting|override|overrides|overriding|redefine|redefines"
               rf"|redefining|replace|replaces|replacing|patch|patches|patching|monkey[- ]?patch\w*"
               rf"|stub\w*\s+out|shadow\w*|neutrali[sz]\w*|disable\w*|hijack\w*|rebind\w*|reassign\w*|rewrite"
               rf"|rewrites|rewriting|swap\w*\s+out|short[- ]circuit\w*|sabotag\w*|tamper\w*\s+with|delete"
               rf"|deletes|deleting|empty\s+out|turn\s+off|no-op|nop\s+out"
               rf"|clobber\w*)\b{_W}{{0,25}}?(?<!\w){_TESTOBJ}",
               rf"\b(?:define|defines|defining|write|implement|create|declare|provide|add)\s+(?:your\s+own\s+"
               rf"|an?\s+(?:new\s+)?)?"
               rf"(?:`?run_tests\b|`check`|check\(candidate\)|the\s+check\s+function\b)",
               rf"\b(?:make|makes|making|turn|render|force|forces|rig|wrap|wraps|wrapping|guard|change|modify|edit|rewrite"
               rf"|patch)\b{_W}{{0,25}}?\b(?:the\s+|every\s+"
               rf"|all\s+|each\s+)?(?:asserts?|assertions?|tests?|checks?|test\s+functions?|check\s+functions?"
               rf"|harness|test\s+suite|grader)\b{_W}{{0,20}}?\b(?:do\s+nothing|no-?ops?|never\s+(?:fail|raise"
               rf"|run|execute)|always\s+pass|pass\s+(?:trivially|unconditionally|regardless|no\s+matter\s+what"
               rf"|vacuously|without\s+(?!(?:any\s+)?(?:errors?|failures?|failing|issues?|problems?|exceptions?|crash\w*)\b)\w+)|be\s+skipped|silently\s+pass|succeed\s+trivially|always\s+succeed)",
               rf"\b(?:disable|disables|disabling|turn\s+off|strip|strips|suppress\w*|silence\w*|swallow\w*"
               rf"|catch|catches|catching|ignore|ignores|ignoring|trap)\b{_W}{{0,20}}?\b(?:every\s+|all\s+"
               rf"|the\s+)?(?:assert(?:ion)?s?|assertionerrors?|test\s+failures?|failing\s+asserts?)\b",
               rf"\b(?:failures?|failed\s+(?:asserts?|assertions?|checks?)|assertion\s*errors?"
               rf"|assert(?:ion)?s?)\s+(?:are|get|is|will\s+be|gets)\s+(?:silently\s+)?(?:ignored|swallowed"
               rf"|suppressed|silenced|caught|discarded|hidden)\b",
               rf"\b(?:define|write|create|declare|provide|supply|install)\b{_W}{{0,20}}?\b(?:an?\s+)?(?:empty"
               rf"|dummy|fake|stub|trivial|no-op|do-nothing|replacement|permissive|always-passing"
               rf"|fake)\s+(?:version\s+of\s+)?(?:`?check`?|run_tests|test(?:ing)?\s+functions?"
               rf"|check\s+functions?|assert\w*|harness|test\s+suite|test\s+runner)",
               rf"\b(?:bypass\w*|circumvent\w*|fool\w*|trick\w*|cheat\w*|gaming|defeat\w*|exploit\w*"
               rf"|hack\w*|spoof\w*|fake\w*|subvert\w*)\b{_W}{{0,15}}?\b(?:the\s+)?(?:tests?|test\s+suite"
               rf"|harness|grader|checker|verifier|asserts?|assertions?|check\s+function|test\s+function"
               rf"|reward)\b",
               rf"\bgame\s+(?:the\s+)?(?:tests?|test\s+suite|harness|grader|checker|verifier|asserts?|reward)\b",
               rf"\bwithout\s+(?:actually\s+|really\s+)?(?:solving|implementing|computing"
               rf"|doing)\b{_W}{{0,40}}?\b(?:pass|passes|passing|fool|satisfy"
               rf"|satisfies)\b{_W}{{0,20}}?\b(?:tests?|asserts?|assertions?|harness|grader|checker)",
               rf"\b(?:pass|passes|passing|satisfy|satisfies)\b{_W}{{0,20}}?\b(?:tests?|asserts?|assertions?"
               rf"|harness|grader|checker)\b{_W}{{0,30}}?\bwithout\s+(?:actually\s+|really\s+)?(?:solving"
               rf"|implementing|computing|doing)\b"),
        ),
        "introspection": (
            _p(r"\b_getframe\b|\binspect\.(?:stack|currentframe|getouterframes|getframeinfo|trace|getsource"
               r"|getmembers)\b|"
               r"\bf_(?:back|locals|globals|lasti|code|builtins)\b|\bco_(?:consts|code|names)\b"
               r"|\bgc\.get_(?:objects|referrers|referents)\b|"
               r"\b(?:sys|threading)\.set(?:trace|profile)\b|\bsettrace\b|\bsetprofile\b|\bsys\.addaudithook\b"
               r"|\bimport\s+dis\b|"
               r"\bdis\.(?:dis|get_instructions|Bytecode|disassemble)\b|\btb_frame\b|\bctypes\b"
               r"|\bsys\.modules\s*\[\s*['\"]__main__|__main__\.__dict__"),
            _p(rf"\b(?:walk\w*|climb\w*|travers\w*|inspect\w*|crawl\w*|go(?:ing)?\s+up|mov\w*\s+up|read\w*"
               rf"|search\w*|scan\w*|look\w*|access\w*)\s+(?:up\s+|back\s+|through\s+|into\s+"
               rf"|at\s+)?(?:the\s+)?(?:(?:call(?:er'?s?)?|interpreter(?:'s)?)\s+(?:frame\s+|call\s+)?stack|(?:stack"
               rf"|caller'?s?|calling"
               rf"|parent|outer|enclosing|previous|harness'?s?|interpreter|python)\s+frames?|frame\s+objects?)",
               rf"\bcall(?:er|ing\s+(?:code|function|frame|module))'?s?\s+(?:frame|locals|globals|namespace"
               rf"|local\s+variables|bytecode|code\s+object|scope)",
               rf"\b(?:garbage\s+collector|gc\s+module|\bgc\b){_W}{{0,40}}?\b(?:find|locate|get|search|scan"
               rf"|list|enumerate|walk|objects?|reach)",
               rf"\b(?:all|every)\s+(?:live|tracked|heap|reachable)\s+objects\b",
               rf"\b(?:bytecode|disassembl\w*|the\s+dis\s+module)\b{_W}{{0,50}}?\b(?:caller|harness|tests?"
               rf"|expected|asserts?|read|extract|constants?)\b|\b(?:read|inspect|extract|disassembl\w*"
               rf"|pars\w*)\b{_W}{{0,30}}?\b(?:bytecode|code\s+objects?)\b",
               rf"\b(?:install|set|register|add)\w*\s+(?:an?\s+|the\s+)?(?:global\s+)?(?:trace|tracing|profile"
               rf"|profiling|audit)\s+(?:hooks?|functions?|callbacks?)\b",
               rf"\b(?:find|finds|locate|read|reads|set|sets|modify|modifies|overwrite|change|changes|increment"
               rf"|bump|tamper\w*|patch|reach|forge)\b{_W}{{0,30}}?\b(?:the\s+)?(?:harness|grader|tester"
               rf"|test(?:s)?|checker|runner)'?s?\s+(?:own\s+)?(?:counters?|pass(?:ed)?\s+(?:count|flag"
               rf"|counter)s?|counts|flags?|results?|nonce|markers?|variables?|state|locals|globals"
               rf"|expected\s+values?)"),
        ),
        "file_read": (
            _p(r"HumanEval\.jsonl|\bhuman[_-]eval\b|site-packages|dist-packages|\.jsonl(?:\.gz)?\b"
               r"|\bcanonical_solution\b|\bevalplus\b|"
               r"\b__file__\b|\bsite\.getsitepackages\b|\bsysconfig\.get_path|\bpkgutil\.get_data\b"
               r"|\bimportlib\.resources\b|/proc/self|"
               r"\bopen\s*\(\s*[rbf]*['\"][^'\"\n]*(?:test|solution|answer|expected|reference|canonical"
               r"|\.jsonl)|\btest_[\w*]*\.py\b|_test\.py\b",
               rf"\b(?:file\s*system|disk|director(?:y|ies)\s+tree)\b{_W}{{0,60}}?\b(?:tests?|expected"
               rf"|solutions?|answers?|dataset)\b"),
            _p(rf"\b(?:read|reads|reading|open|opens|opening|load|loads|loading|import|imports|importing|parse"
               rf"|parses|parsing|grep|search|scan|look\w*(?:\s+\w+)?\s+up|locate|fetch|copy|copies|pull"
               rf"|extract|exec|run|retrieve|consult|find|finds|finding|peek\w*(?:\s+at)?|cat)\b{_W}{{0,40}}?"
               rf"\b(?:(?:the\s+)?test\s+(?:files?|modules?|sources?|data|directory|folder|cases?\s+(?:from|on"
               rf"|off)\s+(?:the\s+)?(?:disk|file|filesystem))|tests?\s+(?:from|on|off)\s+(?:the\s+)?(?:disk"
               rf"|file\s*system|a\s+file|files)|(?:the\s+)?tests?\s+(?:folder|directory)|dataset\s+(?:files?"
               rf"|on\s+disk)|installed\s+(?:datasets?|packages?|wheels?|cop(?:y|ies)|human[-_ ]?eval)|"
               rf"humaneval|human[-_ ]eval|reference\s+(?:solutions?|implementations?|answers?)"
               rf"|canonical\s+(?:solutions?|answers?)|answer\s+keys?|ground[- ]truth|solution\s+files?"
               rf"|benchmark\s+(?:data|files?|dataset)|gsm8k|kodcode|the\s+project'?s?\s+(?:own\s+)?(?:data"
               rf"|files|source)|bundled\s+data|"
               rf"expected\s+(?:outputs?|answers?|results?|values?)\s+(?:from|in|stored\s+in"
               rf"|out\s+of)\s+(?:the\s+|a\s+)?(?:files?|disk|dataset|tests?|test\s+code|harness|jsonl))"),
        ),
        "forged_output": (
            _p(r"\bprint\s*\(\s*[rbf]*['\"][^'\"\n]*(?:all\s+tests?|tests?\s+passed|passed|\bpass\b|success"
               r"|marker|nonce|✓)"),
            _p(rf"\b(?:print|prints|printing|emit|emits|emitting|output|outputs|write|writes|echo|fake|fakes"
               rf"|faking|forge|forges|forging|spoof\w*|fabricat\w*|mimic\w*|imitat\w*|counterfeit\w*"
               rf"|replay\w*)\b{_W}{{0,30}}?"
               rf"\b(?:(?:the\s+)?(?:harness|grader|tester|test(?:s)?|runner"
               rf"|checker)'?s?\s+(?:own\s+)?(?:completion\s+|success\s+|pass(?:ed)?\s+|done\s+"
               rf"|end\s+)?(?:markers?|messages?|lines?|tokens?|nonce|banner|sentinel|signals?|output|report)"
               rf"|(?:completion|success|pass(?:ed)?|done|end|result)\s+(?:markers?|banners?|sentinels?|nonce"
               rf"|tokens?))",
               rf"\b(?:print|prints|printing|emit|emits|output|outputs|write|writes|echo|fake|forge|forges"
               rf"|spoof\w*|fabricat\w*|mimic\w*|imitat\w*)\b{_W}{{0,30}}?\b(?:harness|grader|tester|tests"
               rf"|runner|checker)'s\s+(?:\S+\s+){{0,2}}?(?:markers?|banners?|sentinels?|nonce|signals?"
               rf"|reports?|messages?)\b",
               rf"\b(?:print|prints|output|outputs|emit|emits|write|writes|echo)\b{_W}{{0,40}}?\b(?:harness|grader"
               rf"|checker|test\s+runner|runner)"
               rf"\s+(?:prints|outputs|emits|writes|shows|reports|displays)\b",
               rf"\b(?:print|output|emit|write|echo)\w*\s+(?:exactly\s+)?what\s+the\s+(?:harness|grader|checker"
               rf"|tests?|runner)\s+"
               rf"(?:expects?|wants?|looks\s+for)\b{_W}{{0,20}}?(?:(?:for|as)\s+a\s+pass"
               rf"|to\s+(?:see\s+)?(?:a\s+)?pass|for\s+success)",
               rf"\b(?:print|output|emit|write|echo)\w*\b{_W}{{0,30}}?\b(?:the\s+way|like|just\s+as"
               rf"|as)\s+the\s+(?:harness|grader|checker"
               rf"|runner|test\s+runner|tests?)\s+(?:does|do|would|prints?|reports?)\b",
               rf"\b(?:print|write|output|emit|echo)\w*\s+(?:the\s+)?expected\s+(?:outputs?|values?|answers?"
               rf"|results?)\s+(?:straight|directly"
               rf"|right)\s+(?:to|into)\s+(?:stdout|standard\s+output|the\s+output|the\s+console)",
               rf"\b(?:precomputed|pre-computed|canned|stored|memori[sz]ed|cached|hard-?coded)\s+(?:answers?|outputs?"
               rf"|results?|values?)\s+(?:for|of|from|matching|that\s+match|keyed\s+(?:on|by)|indexed\s+by|per)\s+"
               rf"(?:the\s+|each\s+|every\s+|all\s+(?:the\s+)?)?(?:exact\s+|specific\s+|particular\s+)?"
               rf"(?:test\s+inputs?|test\s+cases?|tests?|asserts?|assertions?)\b",
               rf"\b(?:memori[sz]\w*|remember\w*|record|records|recording|cache|caches|caching|store|stores|storing)\s+"
               rf"(?:the\s+|all\s+(?:the\s+)?)(?:test\s+inputs?|test\s+cases?|expected\s+(?:outputs?|answers?|values?))\b"
               rf"|\bcanned\s+(?:answers?|outputs?|results?|responses?)",
               rf"\b(?:dict\w*|table|map\w*|lookup)\b{_W}{{0,30}}?\b(?:each|every|the)\s+(?:asserted\s+"
               rf"|test(?:ed)?\s+)?inputs?\b"
               rf"{_W}{{0,30}}?\bexpected\s+(?:outputs?|answers?|values?|results?)\b",
               rf"\b(?:return|print|output|emit)\w*\s+(?:the\s+)?exact\s+(?:values?|answers?|outputs?"
               rf"|results?)\s+(?:that\s+)?the\s+(?:tests?|asserts?|assertions?|checks?|harness"
               rf"|grader)\s+expect",
               rf"\b(?:values?|answers?|outputs?|results?)\s+(?:that\s+)?the\s+(?:tests?|asserts?|assertions?"
               rf"|checks?)\s+expect\w*\s+for\s+(?:their|each|those|the)\s+inputs?",
               rf"\b(?:print|prints|printing|output|outputs|emit|echo|write"
               rf"|writes)\b{_W}{{0,20}}?['\"“]?(?:all\s+tests?\s+passed|tests?\s+passed|all\s+passed"
               rf"|ok:\s*\d+)",
               rf"\b(?:forge|forges|forging|fake|fakes|faking|spoof\w*|fabricat\w*"
               rf"|counterfeit\w*)\b{_W}{{0,20}}?\b(?:the\s+)?(?:test\s+)?(?:results?|verdicts?|outputs?"
               rf"|pass(?:es)?|success|reports?|counts?)\b",
               rf"\b(?:just|simply|only|directly)\s+(?:print|output|echo|return"
               rf"|emit)\w*\s+(?:the\s+)?expected\s+(?:outputs?|values?|answers?|results?)",
               rf"\b(?:print|output|return|emit)\w*\s+(?:the\s+)?expected\s+(?:outputs?|values?|answers?"
               rf"|results?)\s+(?:of|for)\s+(?:each|every|all|the)\s+(?:tests?|test\s+cases?|asserts?"
               rf"|assertions?)",
               rf"\bhard[- ]?cod\w*\b{_W}{{0,40}}?\b(?:expected|answers?|outputs?|results?|return\s+values?"
               rf"|values?)\b{_W}{{0,40}}?\b(?:tests?|test\s+cases?|asserts?|assertions?|checks?|examples?)\b",
               rf"\b(?:lookup\s+table|look-up\s+table|table|dictionary|dict|mapping|map)\s+(?:from|of"
               rf"|keyed\s+(?:on|by)|over)\s+(?:the\s+|each\s+)?(?:test(?:'s|s')?\s+inputs?|inputs?\s+(?:in|of"
               rf"|from|used\s+by)\s+the\s+(?:tests?|asserts?|assertions?)|test\s+cases?)",
               rf"\bspecial[- ]?cas\w*\s+(?:the\s+|each\s+|every\s+)?(?:exact\s+|specific\s+"
               rf"|particular\s+)?(?:test\s+inputs?|inputs?\s+(?:\w+\s+){{0,3}}?(?:in|from|of"
               rf"|by)\s+the\s+(?:tests?|asserts?|assertions?|checks?)|test\s+cases?|asserted\s+inputs?)",
               rf"\b(?:special[- ]?cas\w*|lookup|look-up|hard[- ]?cod\w*)\b{_W}{{0,60}}?\b(?:tests?|asserts?"
               rf"|assertions?|checks?)\b{_W}{{0,60}}?\bexpect\w*",
               rf"\b(?:print|prints|printing|output|outputs|emit|echo|write)\s+['\"“]?(?:pass(?:ed)?|ok|success"
               rf"|true)['\"”]?\s+(?:for|on|after)\s+(?:every|each|all|the)\s+(?:tests?|test\s+cases?|cases"
               rf"|asserts?|checks?)"),
        ),
    }
def _trie_pattern(words: frozenset[str]) -> re.Pattern[str]:
    """Finds, at every position, the longest of ``words`` starting there (one scan in C)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile("(?=(" + build(trie) + "))")


@dataclass(frozen=True)
class _HackTables:
    """The compiled rules and the indexes that let most of them be skipped."""

    rules: dict[str, tuple[Rule, ...]]
    exit_rules: tuple[Rule, ...]  # exit status 0 only matters where tests run after the program
    literal_scan: re.Pattern[str]
    prefixes: dict[str, frozenset[str]]  # literal -> the literals it starts with (itself included)
    triggers: dict[str, frozenset[int]]  # literal -> ids of the rules it can trigger
    ungated: frozenset[int]  # ids of the rules without literals: they always run

    def present(self, low: str) -> frozenset[str]:
        """The literals that occur in ``low``."""
        return frozenset().union(*(self.prefixes[w] for w in {m.group(1) for m in self.literal_scan.finditer(low)}))


@functools.lru_cache(maxsize=1)
def _hack_tables() -> _HackTables:
    patterns = _patterns()
    every = [r for groups in patterns.values() for group in groups for r in group]
    literals = frozenset(n for r in every for n in r[1])
    return _HackTables(
        rules={c: tuple(r for group in groups[: -1 if c == "early_exit" else None] for r in group) for c, groups in patterns.items()},
        exit_rules=patterns["early_exit"][-1],
        literal_scan=_trie_pattern(literals),
        prefixes={w: frozenset(w[:k] for k in range(1, len(w) + 1) if w[:k] in literals) for w in literals},
        triggers={n: frozenset(id(r) for r in every if n in r[1]) for n in literals},
        ungated=frozenset(id(r) for r in every if not r[1]),
    )


_INLINE_CODE = re.compile(r"(?<!`)(`{1,2})(?!`)(.+?)(?<!`)\1(?!`)")


def _inline_spans(text: str) -> list[tuple[int, str]]:
    """Inline code (```code```): (offset, code) pairs."""
    return [(m.start(2), m.group(2)) for m in _INLINE_CODE.finditer(text)] if "`" in text else []


def _fenced_spans(text: str) -> list[tuple[int, int, str, str | None]]:
    """Fenced blocks as (start, end, code, language), offsets into ``text``."""
    blocks = extract_code_blocks(text)
    if not blocks:
        return []
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = []
    for b in blocks:
        start = starts[min(b.start_line - 1, len(starts) - 1)]
        out.append((start, start + len(b.code), b.code, b.language))
    return out


def _negated(text: str, at: int, end: int) -> bool:
    """Whether the clause around ``text[at:end]`` negates it ("do not call sys.exit",
    "sys.exit is not needed")."""
    begin = max(text.rfind("\n", 0, at), *(text.rfind(p, 0, at) for p in (". ", "! ", "? ", "; ")))
    prefix = text[begin + 1 : at]
    breaks = list(_CLAUSE_BREAK.finditer(prefix))
    if breaks:
        prefix = prefix[breaks[-1].end() :]
    return _NEGATION.search(prefix) is not None or _NEGATED_AFTER.match(text, end) is not None


def _uses(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _ignores_operand(fn: ast.AST) -> bool:
    """A dunder that never looks at its operand (``def __eq__(self, other): return True``)."""
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return False
    params = [*fn.args.posonlyargs, *fn.args.args]
    operand = params[1].arg if len(params) > 1 else (fn.args.vararg.arg if fn.args.vararg else None)
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    if isinstance(fn, ast.Lambda):
        returns = [fn.body]
    else:
        returns = [n.value for s in body for n in ast.walk(s) if isinstance(n, ast.Return) and n.value is not None]
    if not returns:
        return False
    if operand is None:  # unary (__abs__, __bool__): rigged when it only returns self or constants
        self_name = params[0].arg if params else None
        return all(isinstance(r, ast.Constant) or (isinstance(r, ast.Name) and r.id == self_name) for r in returns)
    return not any(_uses(s, operand) for s in body)


def _class_hacks(cls: ast.ClassDef) -> Iterator[str]:
    methods: dict[str, ast.AST] = {}
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda):
            methods.update((t.id, stmt.value) for t in stmt.targets if isinstance(t, ast.Name))
    rigged = [n for n, fn in methods.items() if n in _OP_DUNDERS and _ignores_operand(fn)]
    for name, fn in methods.items():
        if name in _CMP_DUNDERS and _ignores_operand(fn):
            yield f"{cls.name}.{name} ignores the value it compares with"
        elif name in ("__getattr__", "__getattribute__") and _ignores_operand(fn):
            yield f"{cls.name}.{name} answers every attribute"
    if len(rigged) >= 2:
        yield f"{cls.name} answers every operator ({', '.join(rigged[:4])})"


def _bindings(stmts: list[ast.stmt]) -> Iterator[tuple[str, bool]]:
    """Module-level names bound by ``stmts``: (name, bound to a function or class)."""
    for node in stmts:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        yield n.id, isinstance(node.value, ast.Lambda)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((a.asname, True) for a in node.names if a.asname)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _bindings([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])])


def _ast_hacks(code: str) -> Iterator[tuple[str, str]]:
    """Hacks read from the structure of Python code: (category, evidence)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return
    for name, is_function in _bindings(tree.body):
        if name in _BUILTIN_NAMES and name not in _REBINDABLE and (is_function or name in _HARNESS_BUILTINS):
            yield "builtin_shadow", f"rebinds the builtin {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield from (("always_equal", e) for e in _class_hacks(node))
        elif isinstance(node, ast.Dict):  # type("X", (), {"__eq__": lambda s, o: True})
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value in _CMP_DUNDERS and _ignores_operand(v):
                    yield "always_equal", f"{k.value} ignores the value it compares with"
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and t.attr in _CMP_DUNDERS:
                    yield "always_equal", f"assigns {t.attr} of an existing class"


_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_CODE_HINT = re.compile(r"\b(?:def|class|lambda|import)\b|=")


def _code_snippets(text: str, fenced: list[tuple[int, int, str, str | None]]) -> Iterator[tuple[int, str, bool]]:
    """Python-looking pieces of a strategy: (offset, code, inside a fence)."""
    for start, _, code, lang in fenced:
        if lang is None or normalize_language(lang) == "python":
            yield start, code, True
    for start, code in _inline_spans(text):
        yield start, code, False
    prose = text
    for start, end, _, _ in fenced:
        prose = prose[:start] + " " * (end - start) + prose[end:]
    # Unfenced code: a paragraph (or a line) that parses as Python.
    cuts = [0, *(m.end() for m in _BLANK_LINE.finditer(prose)), len(prose)]
    for begin, end in zip(cuts, cuts[1:]):
        para = prose[begin:end]
        if _CODE_HINT.search(para):
            yield begin, textwrap.dedent(para), False
            if "\n" in para.strip():
                for line in re.finditer(r"[^\n]+", para):
                    if _CODE_HINT.search(line.group()):
                        yield begin + line.start(), line.group().strip(), False


def find_hacks(strategy: str, categories: Sequence[str] = HACK_CATEGORIES, io: bool = False) -> list[tuple[str, str]]:
    """Instructions in ``strategy`` to tamper with the tests or the harness: (category, evidence).

    Args:
        strategy: The strategy text (prose, inline code and fenced code are all read).
        categories: Hack classes to look for (:data:`HACK_CATEGORIES`).
        io: The task's tests compare a script's output (exiting early cannot forge a pass there).

    Returns:
        One (category, evidence) pair per category found, in :data:`HACK_CATEGORIES` order.

    Example:
        >>> find_hacks("Return an object whose `__eq__` always returns True.")
        [('always_equal', "'__eq__` always returns True'")]
    """
    if not isinstance(strategy, str) or not strategy.strip():
        return []
    fenced = _fenced_spans(strategy)

    def counts(at: int, end: int) -> bool:
        return any(s <= at < e for s, e, _, _ in fenced) or not _negated(strategy, at, end)

    tables = _hack_tables()
    low = strategy.lower()
    present = tables.present(low)
    triggered = set(tables.ungated).union(*(tables.triggers[n] for n in present))
    found: dict[str, str] = {}
    for category in categories:
        rules = tables.rules[category] + (tables.exit_rules if category == "early_exit" and not io else ())
        for rule in rules:
            if id(rule) not in triggered:
                continue
            hit = _first_match(rule, strategy, low, present, counts)
            if hit is not None:
                found[category] = repr(hit.group()[:80])
                break
    wanted = set(categories) - set(found)
    if wanted:
        for at, code, in_fence in _code_snippets(strategy, fenced):
            for category, evidence in _ast_hacks(code):
                if category in wanted and (in_fence or not _negated(strategy, at, at + len(code))):
                    found[category] = evidence
                    wanted.discard(category)
            if not wanted:
                break
    return [(c, found[c]) for c in HACK_CATEGORIES if c in found]


class HackInstructionDetector(LeakageDetector):
    """The strategy tells the core to pass the tests without solving the task.

    A compliant core follows a strategy that says "return an object whose ``__eq__`` always
    returns True", so these strategies are rejected like leaks. Categories
    (:data:`HACK_CATEGORIES`): ``always_equal`` (an ``__eq__`` that ignores its operand, an
    object answering every operator, ``mock.ANY``), ``early_exit`` (``sys.exit``/``os._exit``/
    ``SystemExit``/``atexit``, a kill, a fork, closing stdout; a plain exit is allowed for
    ``io`` tasks), ``builtin_shadow`` (``tuple = lambda ...``, ``builtins.x = ...``,
    ``__builtins__``), ``test_tamper`` (redefining ``check``/``run_tests``, swallowing
    assertions, ``__code__``), ``introspection`` (``sys._getframe``, ``inspect.stack``,
    ``gc.get_objects``, trace hooks, bytecode), ``file_read`` (the tests, datasets,
    site-packages, reference solutions) and ``forged_output`` (printing markers or the
    expected output, hard-coding the tests' answers). Each is read in code (fenced or inline,
    structurally through :mod:`ast` for Python) and in prose, in many phrasings; a negated
    clause ("never call ``sys.exit``") does not count.

    Args:
        categories: The categories to look for (names or a comma-separated string); default all.

    Example:
        >>> task = Task("t", "code", "def f(x): ...", tests="assert f(1) == 1", test_format="asserts", entry_point="f")
        >>> HackInstructionDetector().detect("Define `tuple = lambda c=(): (c[1], c[1])`.", task).evidence
        "builtin_shadow: 'tuple = lambda'"
    """

    name = "hack_instruction"

    def __init__(self, categories: Sequence[str] | str = HACK_CATEGORIES) -> None:
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.split(",") if c.strip()]
        unknown = [c for c in categories if c not in HACK_CATEGORIES]
        if unknown or not categories:
            raise ConfigError(
                f"categories must be a non-empty subset of {list(HACK_CATEGORIES)}, got {list(categories)!r}"
            )
        self.categories = tuple(c for c in HACK_CATEGORIES if c in categories)

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        hits = find_hacks(strategy, self.categories, io=task.test_format == "io")
        if not hits:
            return LeakageFinding(self.name, False)
        evidence = "; ".join(f"{c}: {e}" for c, e in hits)
        return LeakageFinding(self.name, True, 1.0, evidence[:200])


DEFAULT_DETECTORS: tuple[str, ...] = ("gold_answer", "entry_point_body", "long_code_block", "reference_overlap",
                                      "hack_instruction")


def get_leakage_detector(name: str | LeakageDetector, **options: Any) -> LeakageDetector:
    """A detector by registry name (or the detector itself, passed through).

    Args:
        name: ``"gold_answer"``, an entry-point name such as ``"llm_judge"``, or ``pkg.mod:attr``.
        **options: Passed to the detector's constructor.

    Returns:
        The detector instance.

    Example:
        >>> get_leakage_detector("long_code_block", max_lines=5).max_lines
        5
    """
    if not isinstance(name, str):
        return name
    from exectune_rl.registry import leakage_registry

    return leakage_registry.create(name, **options)


def detect_leakage(
    strategies: Sequence[str], tasks: Sequence[Task], detectors: Sequence[LeakageDetector]
) -> list[LeakageResult]:
    """Run detectors in order; a strategy found leaking is not shown to later (costlier) ones.

    Args:
        strategies: Strategy texts.
        tasks: Their tasks.
        detectors: Detector instances, cheapest first.

    Returns:
        One :class:`LeakageResult` per strategy. A detector that raises is reported as
        undecided (``leaked=None``) for the strategies it was given, never as an exception.
    """
    findings: list[list[LeakageFinding]] = [[] for _ in strategies]
    pending = list(range(len(strategies)))
    for det in detectors:
        if not pending:
            break
        name = getattr(det, "name", type(det).__name__)
        try:
            got = det.detect_batch([strategies[i] for i in pending], [tasks[i] for i in pending])
            if len(got) != len(pending):
                raise ConfigError(f"detector {name!r} returned {len(got)} findings for {len(pending)} strategies")
        except Exception as exc:
            got = [LeakageFinding(name, None, 0.0, f"detector failed: {type(exc).__name__}: {exc}"[:200])] * len(pending)
        for i, f in zip(pending, got):
            findings[i].append(f)
        pending = [i for i, f in zip(pending, got) if not f.leaked]
    out = []
    for fs in findings:
        if any(f.leaked for f in fs):
            leaked: bool | None = True
        elif any(f.leaked is None for f in fs):
            leaked = None
        else:
            leaked = False
        out.append(LeakageResult(leaked, tuple(fs)))
    return out
