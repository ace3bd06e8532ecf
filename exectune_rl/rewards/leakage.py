"""Leakage detectors: a strategy must guide the core, not hand over the answer.

Cheap built-in detectors run first; expensive ones (an LLM judge, shipped as the plugin
``exectune_reward_llm_judge``) run only on strategies the cheap ones let through. Detectors
are pluggable: anything with ``name`` and ``detect_batch(strategies, tasks)`` works, and names
resolve through :data:`exectune_rl.registry.leakage_registry` (built-ins, then the
``exectune_rl.leakage_detectors`` entry points, then ``pkg.mod:attr``).

Example:
    >>> from exectune_rl.tasks import Task
    >>> task = Task("t", "math", "Half of 1 is?", answer="0.5")
    >>> GoldAnswerDetector().detect("Write the answer 1/2.", task).leaked
    True
"""

from __future__ import annotations

import abc
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from exectune_rl.errors import ConfigError
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
    "DEFAULT_DETECTORS",
    "get_leakage_detector",
    "detect_leakage",
    "numbers_in",
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
    r"\\d?frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}"  # \frac{a}{b}
    r"|(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?(?![\w])"
)
# A list item ("2." / "2)" / "Step 2:"), not a decimal at the start of a line ("72.0").
_ENUMERATION = re.compile(r"(?im)^\s*(?:step\s*)?(\d+)\s*(?:[.)](?!\d)|:)|\bstep\s+(\d+)\b")


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


def numbers_in(text: str) -> set[Fraction]:
    """Every number written in ``text``: integers, decimals, ``1,000``, ``a/b`` and ``\\frac{a}{b}``.

    Example:
        >>> sorted(numbers_in("take 3/4 of 1,000"))
        [Fraction(3, 4), Fraction(3, 1), Fraction(4, 1), Fraction(1000, 1)]
    """
    found: set[Fraction] = set()
    for m in _NUM.finditer(text):
        if m.group(1) is not None:
            v = _to_fraction(m.group(1), m.group(2))
        else:
            v = _to_fraction(m.group(3), m.group(4))
            if m.group(4) is not None:  # "3/4" also mentions 3 and 4 on their own
                for part in (m.group(3), m.group(4)):
                    p = _to_fraction(part)
                    if p is not None:
                        found.add(p)
        if v is not None:
            found.add(v)
    return found


@functools.lru_cache(maxsize=1024)
def _problem_numbers(problem: str) -> frozenset[Fraction]:
    # Every completion of a GRPO group is checked against the same problem: scan it once.
    return frozenset(numbers_in(problem))


def _normalise_text(s: str) -> str:
    s = re.sub(r"\\(?:boxed|text|mathrm)\{([^{}]*)\}", r"\1", s)
    return re.sub(r"[\s$\\{}]+", "", s).lower()


class GoldAnswerDetector(LeakageDetector):
    """The gold answer appears in the strategy, in any written form.

    Numbers are compared as exact fractions, so a gold ``0.5`` is found as ``1/2``,
    ``\\frac{1}{2}`` or ``0.50``. Numbers that already appear in the problem, and step numbers
    (``Step 2:``), are not leaks. Non-numeric golds are matched as normalised text.

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
            enumerated = {Fraction(g) for m in _ENUMERATION.finditer(strategy) for g in m.groups() if g}
            mentioned = numbers_in(strategy) - _problem_numbers(task.problem or "") - enumerated
            if gold_value in mentioned:
                return LeakageFinding(self.name, True, 1.0, f"gold answer {gold} written in the strategy")
            return LeakageFinding(self.name, False)
        norm = _normalise_text(gold)
        if len(norm) >= self.min_text_chars and norm in _normalise_text(strategy):
            if norm not in _normalise_text(task.problem or ""):
                return LeakageFinding(self.name, True, 1.0, f"gold answer {gold[:40]!r} written in the strategy")
        return LeakageFinding(self.name, False)


_GOLD_FRAC = re.compile(r"-?\\d?frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}")
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
    return _to_fraction(m.group(1), m.group(2)) if m else None


# --- code that gives the solution away ---------------------------------------------------------

_TRIVIAL_PY = {"pass_statement", "comment"}


def _strategy_code(strategy: str, language: str) -> list[tuple[str, str]]:
    """Code in a strategy: its fenced blocks (language, code), prose excluded."""
    return [(b.language or language, b.code) for b in extract_code_blocks(strategy)]


class EntryPointBodyDetector(LeakageDetector):
    """The strategy defines the task's entry point with a real body (tree-sitter).

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
        if not task.entry_point or not isinstance(strategy, str) or task.entry_point not in strategy:
            return LeakageFinding(self.name, False)
        defines = _definition_pattern(task.entry_point)
        if not defines.search(strategy):  # prose that merely names the function: nothing to parse
            return LeakageFinding(self.name, False)
        blocks = _strategy_code(strategy, task.language)
        if not blocks:  # unfenced code still counts when it carries a definition
            blocks = [(task.language, strategy)]
        for lang, code in blocks:
            if not defines.search(code) or normalize_language(lang) is None:
                continue
            try:
                tree = self._syntax.parse(code, lang)
            except Exception:  # a missing grammar or odd bytes: this block cannot be judged
                continue
            n = _body_statements(tree.root_node, task.entry_point.encode())
            if n >= self.min_statements:
                return LeakageFinding(self.name, True, 1.0, f"defines {task.entry_point}() with {n} statement(s)")
        return LeakageFinding(self.name, False)


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
        lines = sum(b.n_lines for b in blocks)
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


DEFAULT_DETECTORS: tuple[str, ...] = ("gold_answer", "entry_point_body", "long_code_block", "reference_overlap")


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
