"""The SYNTHETIC task generator and the SCRIPTED teacher."""

from __future__ import annotations

import pytest

from exectune_rl.cores.base import CoreRequest
from exectune_rl.errors import ConfigError
from exectune_rl.training.synthetic import (
    FlawKind,
    ScriptedTeacher,
    correct_strategy,
    flawed_strategy,
    make_arith_problems,
)


def _run(strategy: str) -> str:
    import contextlib
    import io

    code = strategy.replace("<strategy>", "").replace("</strategy>", "")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(code, {})  # our own generated programs, not model output
    return buf.getvalue().strip()


def test_generator_is_deterministic_distinct_and_correct():
    a, b = make_arith_problems(50, seed=3), make_arith_problems(50, seed=3)
    assert a == b
    assert len({p.text for p in a}) == 50
    for p in a:
        assert _run(correct_strategy(p)) == str(p.answer)
        # The gold answer never appears in the correct program, so a leak check on it only
        # fires for strategies that print the answer literally.
        assert str(p.answer) not in correct_strategy(p)
    assert make_arith_problems(5, seed=4) != a[:5]


def test_flaws_are_really_flawed():
    p = next(p for p in make_arith_problems(30, seed=1) if p.template == "add")
    assert _run(flawed_strategy(p, FlawKind.WRONG_OP)) != str(p.answer)
    with pytest.raises(SyntaxError):
        _run(flawed_strategy(p, FlawKind.SYNTAX))
    with pytest.raises(NameError):
        _run(flawed_strategy(p, FlawKind.UNDEFINED))
    assert "<strategy>" not in flawed_strategy(p, FlawKind.NO_TAG)
    assert str(p.answer) in flawed_strategy(p, FlawKind.LEAK)
    with pytest.raises(ConfigError, match="unknown flaw"):
        flawed_strategy(p, "nope")


def test_scripted_teacher_mixes_correct_and_flawed_and_revises_better():
    problems = make_arith_problems(200, seed=2)
    teacher = ScriptedTeacher(problems, p_correct=0.5, p_revise=0.9, seed=0)
    assert "scripted" in teacher.model
    first = teacher.generate([CoreRequest.from_prompt(p.text, sample_index=0) for p in problems])
    share = sum(r.text == correct_strategy(p) for r, p in zip(first, problems)) / len(problems)
    assert 0.35 < share < 0.65
    revised = teacher.generate([
        CoreRequest(messages=({"role": "user", "content": p.text}, {"role": "assistant", "content": r.text},
                              {"role": "user", "content": "fix it"}))
        for p, r in zip(problems, first)
    ])  # fmt: skip
    share_revised = sum(r.text == correct_strategy(p) for r, p in zip(revised, problems)) / len(problems)
    assert share_revised > 0.8
    # Same prompt and sample index: the same answer (cacheable, reproducible).
    again = teacher.generate([CoreRequest.from_prompt(problems[0].text, sample_index=0)])
    assert again[0].text == first[0].text


def test_scripted_teacher_rejects_bad_probabilities_and_unknown_prompts():
    with pytest.raises(ConfigError, match="p_correct"):
        ScriptedTeacher([], p_correct=1.5)
    teacher = ScriptedTeacher(make_arith_problems(2))
    assert "<strategy>" not in teacher.generate([CoreRequest.from_prompt("unrelated")])[0].text
