"""SYNTHETIC data for the offline end-to-end recipe: arithmetic word problems, program of thought.

Nothing here is a benchmark. It exists so the whole recipe (acceptance sampling, SFT, GRPO,
evaluation) can run on a CPU with no network and show learning: the guide writes a short Python
program inside ``<strategy>...</strategy>``, a core carries it out (``ProgramCore`` in a
sandbox, or the SCRIPTED :class:`~exectune_rl.cores.scripted.StepCalculatorCore`, which does
one operation per line), and the printed number is checked against the gold answer.

:class:`ScriptedTeacher` is a SCRIPTED stand-in for a strong teacher model: it reads the problem,
and writes a correct program (in one of three :class:`Style` s: compact, stepwise, verbose) or,
on purpose, a flawed one (wrong operation, syntax error, undefined name, missing tag, leaked
answer), so acceptance sampling has something to reject. Given failure feedback it revises,
and is then more often right. It is labelled ``scripted`` everywhere it appears (model name,
dataset rows, reports).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError
from exectune_rl.tasks.base import Task, TaskKind

__all__ = [
    "ArithProblem",
    "FlawKind",
    "make_arith_problems",
    "arith_tasks",
    "correct_strategy",
    "correct_program",
    "Style",
    "flawed_strategy",
    "ScriptedTeacher",
    "GUIDE_INSTRUCTION",
    "synthetic_corpus",
]

GUIDE_INSTRUCTION = "Write a Python strategy that prints the answer."

_NAMES = ("Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gia", "Hal")
_ITEMS = ("apples", "books", "coins", "cards", "pens", "shells")

# (template id, text, expression over a b c, number of operands)
_TEMPLATES: tuple[tuple[str, str, str, int], ...] = (
    ("add", "{n} has {a} {i}. {n} gets {b} more. How many {i} now?", "a + b", 2),
    ("sub", "{n} has {a} {i} and gives away {b}. How many {i} are left?", "a - b", 2),
    ("mul", "{n} buys {a} bags with {b} {i} each. How many {i} in total?", "a * b", 2),
    ("div", "{n} splits {a} {i} equally into {b} piles. How many {i} per pile?", "a // b", 2),
    ("addsub", "{n} has {a} {i}, gets {b} more, then loses {c}. How many {i} now?", "a + b - c", 3),
    ("muladd", "{n} fills {a} boxes with {b} {i} each and has {c} loose. How many {i} in all?", "a * b + c", 3),
)


@dataclass(frozen=True)
class ArithProblem:
    """One synthetic problem: its text, operands and the program that solves it."""

    id: str
    template: str
    text: str
    operands: tuple[int, ...]
    expression: str
    answer: int

    def to_task(self) -> Task:
        return Task(
            id=self.id,
            kind=TaskKind.MATH,
            problem=self.text,
            answer=str(self.answer),
            metadata={"synthetic": True, "template": self.template},
        )


def _operands(rng: random.Random, template: str, n: int) -> tuple[int, ...]:
    if template == "div":
        b = rng.randint(2, 9)
        return (b * rng.randint(2, 12), b)
    if template == "sub":
        a = rng.randint(10, 60)
        return (a, rng.randint(1, a - 1))
    if template == "addsub":
        a, b = rng.randint(5, 40), rng.randint(2, 30)
        return (a, b, rng.randint(1, a + b - 1))
    if template in ("mul", "muladd"):
        return tuple(rng.randint(2, 12) for _ in range(n))
    return tuple(rng.randint(2, 60) for _ in range(n))


def make_arith_problems(n: int, *, seed: int = 0, prefix: str = "arith") -> list[ArithProblem]:
    """Generate ``n`` distinct synthetic problems (deterministic in ``seed``).

    The gold answer never appears as text in the correct program, so a leakage check on the
    gold answer only fires on strategies that really print it as a literal.

    Args:
        n: How many problems.
        seed: Random seed.
        prefix: Task id prefix (ids are ``f"{prefix}/{i}"``).

    Returns:
        A list of :class:`ArithProblem`.

    Example:
        >>> p = make_arith_problems(1, seed=1)[0]
        >>> eval(p.expression, {}, dict(zip("abc", p.operands))) == p.answer
        True
    """
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    out: list[ArithProblem] = []
    seen: set[str] = set()
    while len(out) < n:
        tid, text, expr, k = _TEMPLATES[rng.randrange(len(_TEMPLATES))]
        ops = _operands(rng, tid, k)
        answer = eval(expr, {}, dict(zip("abc", ops)))  # our own fixed expressions
        body = text.format(n=rng.choice(_NAMES), i=rng.choice(_ITEMS), **dict(zip("abc", ops)))
        program = correct_program(ops, expr)
        if body in seen or str(answer) in program:
            continue
        seen.add(body)
        out.append(ArithProblem(f"{prefix}/{len(out)}", tid, body, ops, expr, answer))
    return out


def arith_tasks(n: int, *, seed: int = 0, prefix: str = "arith") -> list[Task]:
    """``make_arith_problems`` as :class:`~exectune_rl.tasks.base.Task` objects (kind math)."""
    return [p.to_task() for p in make_arith_problems(n, seed=seed, prefix=prefix)]


def correct_program(operands: Sequence[int], expression: str, style: str = "compact") -> str:
    """The program for ``expression`` over operands a, b, c in one :class:`Style`."""
    lines = [f"{name} = {value}" for name, value in zip("abc", operands)]
    parts = expression.split()  # our own templates: "a op b" or "a op b op c", left to right
    steps = [f"t = {' '.join(parts[:3])}"] if len(parts) == 5 else []
    last = f"t {' '.join(parts[3:])}" if len(parts) == 5 else expression
    if style == Style.COMPACT:
        return "\n".join([*lines, f"print({expression})"])
    if style == Style.STEPWISE:
        return "\n".join([*lines, *steps, f"print({last})"])
    if style == Style.VERBOSE:
        # The comment goes after the numbers: a guide copies them from the problem more
        # reliably when nothing stands between the problem and the copy.
        return "\n".join([*lines, _PLAN_COMMENT, *steps, f"result = {last}", "print(result)"])
    raise ConfigError(f"unknown style {style!r}; known: {', '.join(Style.ALL)}")


class Style:
    """How a correct strategy is written (all print the right answer in Python).

    ``compact`` puts the whole expression on the ``print`` line (two operations on one line
    for three-number problems: the step calculator core stops there); ``stepwise`` does one
    operation per line; ``verbose`` is stepwise with a plan comment and a named result:
    correct everywhere, but about twice the tokens.
    """

    COMPACT = "compact"
    STEPWISE = "stepwise"
    VERBOSE = "verbose"
    ALL = (COMPACT, STEPWISE, VERBOSE)


_PLAN_COMMENT = "# plan: combine the numbers one step at a time, then print the result"


def correct_strategy(problem: ArithProblem, style: str = Style.COMPACT) -> str:
    """A correct strategy for ``problem`` written in ``style`` (default: the shortest Python)."""
    return f"<strategy>\n{correct_program(problem.operands, problem.expression, style)}\n</strategy>"


class FlawKind:
    """The deliberate mistakes :func:`flawed_strategy` can make."""

    WRONG_OP = "wrong_op"
    SYNTAX = "syntax_error"
    UNDEFINED = "undefined_name"
    NO_TAG = "missing_tag"
    LEAK = "leaks_answer"
    ALL = (WRONG_OP, SYNTAX, UNDEFINED, NO_TAG, LEAK)


def flawed_strategy(problem: ArithProblem, flaw: str, style: str = Style.COMPACT) -> str:
    """A strategy for ``problem`` in ``style`` with one deliberate ``flaw`` (a :class:`FlawKind` value)."""
    expr, ops = problem.expression, problem.operands
    if flaw == FlawKind.WRONG_OP:
        swapped = expr.replace("+", "\0").replace("-", "+").replace("\0", "-")
        swapped = swapped.replace("*", "+").replace("//", "*")
        return f"<strategy>\n{correct_program(ops, swapped, style)}\n</strategy>"
    if flaw == FlawKind.SYNTAX:
        return f"<strategy>\n{correct_program(ops, expr, style).replace('print(', 'print((', 1)}\n</strategy>"
    if flaw == FlawKind.UNDEFINED:
        return f"<strategy>\n{correct_program(ops[:-1], expr, style)}\n</strategy>"
    if flaw == FlawKind.NO_TAG:
        return correct_program(ops, expr, style)
    if flaw == FlawKind.LEAK:
        return f"<strategy>\nprint({problem.answer})\n</strategy>"
    raise ConfigError(f"unknown flaw {flaw!r}; known: {', '.join(FlawKind.ALL)}")


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class ScriptedTeacher(Core):
    """A SCRIPTED teacher (not a model) for the synthetic recipe.

    It finds which known problem a request is about (its text appears in the prompt) and
    answers with a correct strategy with probability ``p_correct`` (``p_revise`` once the
    conversation holds failure feedback, i.e. more than one user turn), else with a flawed one.
    A strategy's :class:`Style` is drawn with weights ``p_stepwise`` and ``p_verbose`` (the
    rest ``compact``): a strong teacher writes correct Python, sometimes verbose, sometimes
    with several operations on one line, which a limited core may not carry out. A revision
    avoids ``compact`` when another style has weight (it splits the work into steps).
    Choices depend only on the prompt and ``sample_index``, so responses are cacheable and
    reruns identical. A prompt about no known problem gets a strategy with a missing tag.

    Args:
        problems: The problems it may be asked about.
        p_correct: Probability of a correct first attempt.
        p_revise: Probability of a correct revision after feedback.
        seed: Mixes into every choice.
        p_stepwise / p_verbose: Weights of the stepwise and verbose styles (default 0: every
            strategy compact, the shortest Python).

    Example:
        >>> probs = make_arith_problems(3)
        >>> teacher = ScriptedTeacher(probs, p_correct=1.0)
        >>> teacher.generate([CoreRequest.from_prompt(probs[0].text)])[0].text.startswith("<strategy>")
        True
    """

    def __init__(
        self, problems: Sequence[ArithProblem], *, p_correct: float = 0.5, p_revise: float = 0.7, seed: int = 0,
        p_stepwise: float = 0.0, p_verbose: float = 0.0,
    ):  # fmt: skip
        for name, p in (("p_correct", p_correct), ("p_revise", p_revise), ("p_stepwise", p_stepwise), ("p_verbose", p_verbose)):
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {p!r}")
        if p_stepwise + p_verbose > 1.0:
            raise ConfigError(f"p_stepwise + p_verbose must be <= 1, got {p_stepwise} + {p_verbose}")
        self.problems = list(problems)
        self.p_correct, self.p_revise, self.seed = p_correct, p_revise, seed
        self.p_stepwise, self.p_verbose = p_stepwise, p_verbose
        styled = f",styles={p_stepwise},{p_verbose}" if p_stepwise or p_verbose else ""
        self.model = f"scripted-teacher(p={p_correct},{p_revise}{styled})"
        self._by_text = {p.text: p for p in self.problems}

    def _find(self, text: str) -> ArithProblem | None:
        for body, problem in self._by_text.items():
            if body in text:
                return problem
        return None

    def _style(self, problem: ArithProblem, sample_index: int, rounds: int) -> str:
        u = _unit("style", self.seed, problem.text, sample_index, rounds)
        compact = 1.0 - self.p_stepwise - self.p_verbose
        if rounds > 0 and self.p_stepwise + self.p_verbose > 0:
            return Style.VERBOSE if u * (self.p_stepwise + self.p_verbose) < self.p_verbose else Style.STEPWISE
        if u < compact:
            return Style.COMPACT
        return Style.VERBOSE if u < compact + self.p_verbose else Style.STEPWISE

    def _answer(self, request: CoreRequest) -> str:
        users = [m["content"] for m in request.messages if m["role"] == "user"]
        problem = self._find(users[0] if users else "")
        if problem is None:
            return "I cannot tell which problem this is."
        rounds = len(users) - 1
        p = self.p_correct if rounds == 0 else self.p_revise
        style = self._style(problem, request.sample_index, rounds)
        u = _unit(self.seed, problem.text, request.sample_index, rounds)
        if u < p:
            return correct_strategy(problem, style)
        flaws = FlawKind.ALL
        flaw = flaws[int(_unit("flaw", self.seed, problem.text, request.sample_index, rounds) * len(flaws))]
        return flawed_strategy(problem, flaw, style)

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        out = []
        for req in requests:
            text = self._answer(req)
            out.append(
                CoreResponse(
                    text=text,
                    prompt_tokens=len(req.prompt_text.split()),
                    completion_tokens=len(re.findall(r"\S+", text)),
                    model=self.model,
                )
            )
        return out


def synthetic_corpus(problems: Sequence[ArithProblem], repeats: int = 2) -> list[str]:
    """Tokenizer-training text for the synthetic recipe: problems, programs and every small number."""
    lines = [GUIDE_INSTRUCTION] * 10
    for p in problems:
        lines.append(p.text)
        lines.extend(correct_strategy(p, style) for style in Style.ALL)
    lines.extend(f"{i} = {i}" for i in range(200) for _ in range(repeats))
    return lines * repeats
