"""The SCRIPTED step-calculator core of the synthetic recipe and the teacher's strategy styles."""

from __future__ import annotations

import contextlib
import io

import pytest

from exectune_rl.cores.base import CoreRequest
from exectune_rl.cores.scripted import StepCalculatorCore, UnsupportedConstruct, lexical_tokens, run_steps
from exectune_rl.errors import ConfigError
from exectune_rl.training.synthetic import FlawKind, ScriptedTeacher, Style, correct_strategy, flawed_strategy, make_arith_problems


def _python(strategy: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(strategy.replace("<strategy>", "").replace("</strategy>", ""), {})  # our own generated programs
    return buf.getvalue().strip()


def _core(text: str, **kw):
    return StepCalculatorCore(**kw).generate([CoreRequest.from_prompt(text)])[0]


def test_one_operation_per_line_is_the_limit():
    assert run_steps("a = 3\nb = 4\nt = a * b\nprint(t + 1)") == ("13\n", ["a = 3", "b = 4", "t = 12", "13"])
    # Correct Python that a strong executor accepts; this core stops at the second operation.
    with pytest.raises(UnsupportedConstruct, match="line 3: more than 1 operation"):
        run_steps("a = 3\nb = 4\nprint(a * b + 1)")
    assert run_steps("a = 3\nb = 4\nprint(a * b + 1)", max_ops_per_line=None)[0] == "13\n"


@pytest.mark.parametrize(
    "program, reason",
    [
        ("import os\nprint(1)", "unsupported statement"),       # nothing outside the subset runs
        ("print(len('ab'))", "unsupported construct"),            # calls other than print
        ("print(x)", "'x' is not defined"),
        ("a = 4\nprint(a / 2)", "unsupported construct"),         # true division is not in its subset
        ("a = 4\nprint(a // 0)", "division by zero"),
        ("a = 1000000\nb = a * a\nprint(b * a)", "value too large"),
        ("for i in range(3):\n    print(i)", "unsupported statement"),
    ],
)
def test_anything_outside_the_subset_stops_the_core(program, reason):
    with pytest.raises(UnsupportedConstruct, match=reason):
        run_steps(program)


def test_responses_report_status_and_token_usage():
    ok = _core("<strategy>\n# a comment\na = 6\nprint(a * 7)\n</strategy>")
    assert (ok.text, ok.metadata["exec_status"], ok.ok) == ("42\n", "ok", True)
    # Reads the strategy (comments included: the core still reads them), writes one trace line per step.
    assert ok.prompt_tokens == lexical_tokens("# a comment\na = 6\nprint(a * 7)") and ok.completion_tokens == 4
    bad = _core("<strategy>print(1 + 2 + 3)</strategy>")
    assert bad.text == "" and bad.metadata["exec_status"] == "unsupported_construct" and bad.ok  # the strategy's fault
    assert _core("<strategy>print((</strategy>").metadata["exec_status"] == "syntax_error"
    assert _core("no strategy block").text == ""
    with pytest.raises(ConfigError, match="max_ops_per_line"):
        StepCalculatorCore(max_ops_per_line=0)


def test_every_style_is_correct_python_and_only_compact_multi_step_fails_on_the_core():
    for p in make_arith_problems(60, seed=5):
        for style in Style.ALL:
            strategy = correct_strategy(p, style)
            assert _python(strategy) == str(p.answer)
            assert str(p.answer) not in strategy  # the gold answer never appears in a correct strategy
            fails = style == Style.COMPACT and len(p.operands) == 3
            assert (_core(strategy).text.strip() == str(p.answer)) is not fails, (style, p.text)
        assert _core(correct_strategy(p, Style.COMPACT), max_ops_per_line=None).text.strip() == str(p.answer)
        assert _python(flawed_strategy(p, FlawKind.WRONG_OP, Style.VERBOSE)) != str(p.answer)


def test_verbose_costs_more_tokens_than_stepwise():
    p = next(p for p in make_arith_problems(20, seed=1) if len(p.operands) == 3)
    short, long = _core(correct_strategy(p, Style.STEPWISE)), _core(correct_strategy(p, Style.VERBOSE))
    assert long.prompt_tokens + long.completion_tokens > 1.4 * (short.prompt_tokens + short.completion_tokens)


def test_teacher_styles_follow_their_weights_and_revisions_split_the_work():
    problems = make_arith_problems(300, seed=2)
    teacher = ScriptedTeacher(problems, p_correct=1.0, p_revise=1.0, p_stepwise=0.2, p_verbose=0.5, seed=1)
    first = teacher.generate([CoreRequest.from_prompt(p.text) for p in problems])
    styles = [next(s for s in Style.ALL if r.text == correct_strategy(p, s)) for r, p in zip(first, problems)]
    # Two-number problems write compact and stepwise alike; count verbose, which is always distinct.
    assert 0.4 < styles.count(Style.VERBOSE) / len(problems) < 0.6
    revised = teacher.generate([
        CoreRequest(messages=({"role": "user", "content": p.text}, {"role": "assistant", "content": "x"},
                              {"role": "user", "content": "fix it"}))
        for p in problems
    ])  # fmt: skip
    assert all(r.text != correct_strategy(p, Style.COMPACT) or len(p.operands) == 2 for r, p in zip(revised, problems))
    with pytest.raises(ConfigError, match="p_stepwise"):
        ScriptedTeacher(problems, p_stepwise=0.7, p_verbose=0.6)
