"""``StepCalculatorCore``: a SCRIPTED core with limits, for the offline synthetic recipe.

Not a model and not a sandbox: a step-by-step calculator that carries out a strategy written
in a tiny subset of Python, the way a weak executor follows a plan one step at a time. It
exists so the synthetic recipe has what the ExecTune thesis is about: a core whose success
depends on *how* the guide writes, not only on whether the plan is right.

What it runs, one statement per line (blank lines and ``#`` comments are skipped):

* ``name = <operand>`` and ``name = <operand> <op> <operand>``;
* ``print(<operand>)`` and ``print(<operand> <op> <operand>)``;

where an operand is an integer literal or a name assigned before, and ``<op>`` is one of
``+ - * // %``. Its **limit**: at most ``max_ops_per_line`` operations per statement (default
1). ``print(a + b - c)`` is correct Python that any strong executor accepts; this core stops
there and answers nothing. Anything else (calls, loops, strings, ``/``) is an unsupported
construct and stops it too. With ``max_ops_per_line=None`` it executes nested expressions:
the strong executor, for comparison.

It never runs the text as code (it walks the ``ast``), so it needs no sandbox. Usage is
reported as a language-model core would: prompt tokens are the strategy's lexical tokens
(what the core reads), completion tokens the trace it writes (one ``name = value`` line per
executed statement) plus the printed answer. A verbose strategy costs the core more.

Example:
    >>> core = StepCalculatorCore()
    >>> core.generate([CoreRequest.from_prompt("<strategy>a = 6\\nprint(a * 7)</strategy>")])[0].text
    '42\\n'
    >>> r = core.generate([CoreRequest.from_prompt("<strategy>print(1 + 2 + 3)</strategy>")])[0]
    >>> r.text, r.metadata["exec_status"]
    ('', 'unsupported_construct')
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence
from typing import Any

from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.cores.program import extract_program, program_prompt_builder
from exectune_rl.errors import ConfigError

__all__ = ["StepCalculatorCore", "UnsupportedConstruct", "run_steps", "lexical_tokens"]

_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_TOKEN = re.compile(r"\w+|[^\w\s]")
_MAX_ABS = 10**12  # a calculator, not a bignum engine: larger values are unsupported
_MAX_STATEMENTS = 64


class UnsupportedConstruct(Exception):
    """The strategy uses something this core cannot carry out (the message says what and where)."""


def lexical_tokens(text: str) -> int:
    """Words, numbers and punctuation marks in ``text``: the scripted core's token count.

    Example:
        >>> lexical_tokens("t = a + b")
        5
    """
    return len(_TOKEN.findall(text))


def _ops_in(node: ast.AST) -> int:
    return sum(isinstance(n, ast.BinOp) for n in ast.walk(node))


def _value(node: ast.AST, env: dict[str, int], line: int) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise UnsupportedConstruct(f"line {line}: {node.id!r} is not defined")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _value(node.left, env, line), _value(node.right, env, line)
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
            raise UnsupportedConstruct(f"line {line}: division by zero")
        result = _OPS[type(node.op)](left, right)
        if abs(result) > _MAX_ABS:
            raise UnsupportedConstruct(f"line {line}: value too large")
        return result
    raise UnsupportedConstruct(f"line {line}: unsupported construct {type(node).__name__}")


def _is_print(stmt: ast.stmt) -> bool:
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return (
        isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"
        and len(call.args) == 1 and not call.keywords
    )  # fmt: skip


def run_steps(program: str, max_ops_per_line: int | None = 1) -> tuple[str, list[str]]:
    """Carry out ``program`` step by step.

    Args:
        program: The strategy's program text.
        max_ops_per_line: Most operations one statement may hold (None: no limit).

    Returns:
        ``(printed output, trace lines)``.

    Raises:
        UnsupportedConstruct: The program breaks the core's limits or is not in its subset.
        SyntaxError: The program does not parse.

    Example:
        >>> run_steps("a = 2\\nt = a * 3\\nprint(t + 1)")
        ('7\\n', ['a = 2', 't = 6', '7'])
    """
    tree = ast.parse(program)
    if len(tree.body) > _MAX_STATEMENTS:
        raise UnsupportedConstruct(f"more than {_MAX_STATEMENTS} statements")
    env: dict[str, int] = {}
    out: list[str] = []
    trace: list[str] = []
    for stmt in tree.body:
        line = stmt.lineno
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            expr, target = stmt.value, stmt.targets[0].id
        elif _is_print(stmt):
            expr, target = stmt.value.args[0], None  # type: ignore[attr-defined]
        else:
            raise UnsupportedConstruct(f"line {line}: unsupported statement {type(stmt).__name__}")
        if max_ops_per_line is not None and _ops_in(expr) > max_ops_per_line:
            raise UnsupportedConstruct(f"line {line}: more than {max_ops_per_line} operation(s) on one line")
        value = _value(expr, env, line)
        if target is None:
            out.append(str(value))
            trace.append(str(value))
        else:
            env[target] = value
            trace.append(f"{target} = {value}")
    return "".join(f"{v}\n" for v in out), trace


class StepCalculatorCore(Core):
    """A SCRIPTED core that carries out one operation per line (see the module docstring).

    Args:
        max_ops_per_line: Most operations per statement; None removes the limit (a strong
            executor of the same subset).
        model: The name reported in responses (prices in reports are keyed by it).

    Example:
        >>> StepCalculatorCore().model
        'scripted-step-calculator(ops<=1)'
    """

    prompt_builder = staticmethod(program_prompt_builder)

    def __init__(self, *, max_ops_per_line: int | None = 1, model: str | None = None) -> None:
        if max_ops_per_line is not None and (not isinstance(max_ops_per_line, int) or max_ops_per_line < 1):
            raise ConfigError(f"max_ops_per_line must be a positive int or None, got {max_ops_per_line!r}")
        self.max_ops_per_line = max_ops_per_line
        limit = "any" if max_ops_per_line is None else str(max_ops_per_line)
        self.model = model or f"scripted-step-calculator(ops<={limit})"

    def _answer(self, request: CoreRequest) -> CoreResponse:
        users = [m["content"] for m in request.messages if m.get("role") == "user"]
        program = extract_program(users[-1] if users else "", "strategy")
        read = lexical_tokens(program)
        try:
            printed, trace = run_steps(program, self.max_ops_per_line)
            status, detail = ("ok", "") if printed else ("no_output", "nothing printed")
        except SyntaxError as exc:
            printed, trace, status, detail = "", [], "syntax_error", f"line {exc.lineno}: {exc.msg}"
        except UnsupportedConstruct as exc:
            printed, trace, status, detail = "", [], "unsupported_construct", str(exc)
        return CoreResponse(
            text=printed, prompt_tokens=read, completion_tokens=sum(lexical_tokens(t) for t in trace),
            model=self.model, finish_reason="stop" if status == "ok" else status,
            metadata={"exec_status": status, "detail": detail, "stderr": detail},
        )  # fmt: skip

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Carry out each request's strategy (the last user message's ``<strategy>`` block)."""
        return [self._answer(r) for r in requests]
