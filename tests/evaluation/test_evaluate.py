"""Evaluating methods with real execution: the scripted teacher as a guide, ProgramCore as the core."""

from __future__ import annotations

import json

import pytest

from exectune_rl.cores.base import CallableCore, CoreRequest
from exectune_rl.errors import ConfigError
from exectune_rl.evaluation.evaluate import evaluate_core_alone, evaluate_method
from exectune_rl.training.synthetic import ScriptedTeacher, make_arith_problems


PROBLEMS = make_arith_problems(30, seed=21)
TASKS = [p.to_task() for p in PROBLEMS]


def _prompt(task):
    return task.problem


def test_a_perfect_guide_scores_one_and_a_broken_one_zero(program_reward):
    perfect = evaluate_method("perfect", ScriptedTeacher(PROBLEMS, p_correct=1.0), TASKS, program_reward, guide_prompt=_prompt, k=3)
    assert perfect.accuracy.value == 1.0 and perfect.executability.value == 1.0
    assert perfect.format_rate == 1.0 and perfect.leak_rate == 0.0 and perfect.infra_failures == 0
    assert perfect.executability.n == 90 and perfect.guide_tokens_per_task > 0
    silent = CallableCore(lambda req: "I will not use tags.", model="no-format")
    broken = evaluate_method("broken", silent, TASKS, program_reward, guide_prompt=_prompt, k=2)
    assert broken.accuracy.value == 0.0 and broken.executability.value == 0.0 and broken.format_rate == 0.0
    assert broken.accuracy.high < 0.2  # a real interval, not a point


def test_a_mixed_guide_lands_in_between_with_per_task_records(program_reward):
    mixed = evaluate_method("mixed", ScriptedTeacher(PROBLEMS, p_correct=0.5, seed=4), TASKS, program_reward, guide_prompt=_prompt, k=4)
    assert 0.2 < mixed.executability.value < 0.8
    assert mixed.executability.low < mixed.executability.value < mixed.executability.high
    assert 0.0 < mixed.leak_rate < 0.5 and mixed.format_rate < 1.0
    assert len(mixed.tasks) == 30 and sum(t.executed for t in mixed.tasks) == round(mixed.executability.value * 120)
    json.dumps(mixed.to_dict())  # serialisable for results.json


def test_core_alone_has_no_executability(program_reward):
    alone = evaluate_core_alone("core alone", TASKS, program_reward)
    # An interpreter with no program prints nothing: the core alone solves nothing here.
    assert alone.executability is None and alone.accuracy.value == 0.0 and alone.accuracy.n == 30
    with pytest.raises(ConfigError, match="no evaluation tasks"):
        evaluate_method("x", ScriptedTeacher(PROBLEMS), [], program_reward, guide_prompt=_prompt)


def test_money_per_task_comes_from_the_price_table(program_reward):
    teacher = ScriptedTeacher(PROBLEMS, p_correct=1.0)
    prices = {"program": 0.0, teacher.model: (1.0, 2.0)}
    priced = evaluate_method("priced", teacher, TASKS, program_reward, guide_prompt=_prompt, k=1, prices=prices)
    # One strategy per task: its prompt and completion tokens at $1 / $2 per million; the interpreter is free.
    responses = teacher.generate([CoreRequest.from_prompt(t.problem) for t in TASKS])
    expected = sum(r.prompt_tokens * 1e-6 + r.completion_tokens * 2e-6 for r in responses) / len(TASKS)
    assert priced.cost_usd_per_task == pytest.approx(expected)
    unpriced = evaluate_method("unpriced", teacher, TASKS, program_reward, guide_prompt=_prompt, k=1)
    assert unpriced.cost_usd_per_task is None  # an unknown price is unknown, never 0
    assert evaluate_core_alone("alone", TASKS, program_reward, prices={"program": 0.0}).cost_usd_per_task == 0.0


def test_failed_guide_calls_are_infrastructure_not_zero(program_reward):
    from exectune_rl.cores.base import CoreFailureKind, CoreResponse

    good = ScriptedTeacher(PROBLEMS, p_correct=1.0)

    def flaky(req):
        if req.sample_index == 1:
            return CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "503", model="flaky")
        return good.generate([req])[0]

    result = evaluate_method("flaky", CallableCore(flaky, model="flaky"), TASKS, program_reward, guide_prompt=_prompt, k=2)
    # Half the sampled calls failed: they are counted apart and do not drag executability down.
    assert result.executability.value == 1.0 and result.infra_failures == len(TASKS) and result.format_rate == 1.0
