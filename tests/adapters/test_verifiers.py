"""The verifiers hooks, by contract: verifiers 0.4 needs openai < 3 and cannot share this
environment (``benchmarks/compat/run_verifiers.sh`` runs them through verifiers' own
``Task.score``). Restated from its code: a task's hooks are the callables in its class
``__dict__`` tagged ``reward``/``metric``, read back with ``getattr``; each is called with
the arguments it names (``task``, ``trace``) and the results are gathered; a reward is
recorded with ``float(value)`` times ``_vf_weight``, a metric mapping key by key."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from exectune_rl.adapters import RewardUnavailableError
from exectune_rl.adapters import verifiers as vfa

from adapter_testlib import math_scorer


class _Trace:
    def __init__(self, reply: str) -> None:
        self.last_reply = reply


class _TaskData:
    """Stands in for a pydantic ``vf.TaskData`` subclass (only ``model_dump`` is read)."""

    def __init__(self, **fields) -> None:
        self.fields = fields

    def model_dump(self):
        return dict(self.fields)


def _hooks(obj, attr):
    names = {n for klass in type(obj).__mro__ for n, fn in vars(klass).items() if callable(fn) and hasattr(fn, attr)}
    return sorted((getattr(obj, n) for n in names if hasattr(getattr(obj, n), attr)), key=lambda m: m.__name__)


def _score_like_verifiers(task_obj, data, trace):
    available = {"task": data, "trace": trace}

    async def run():
        out = {}
        for attr in ("metric", "reward"):
            fns = _hooks(task_obj, attr)
            results = await asyncio.gather(*(fn(**{k: available[k] for k in inspect.signature(fn).parameters if k in available}) for fn in fns))
            for fn, res in zip(fns, results):
                items = res.items() if isinstance(res, dict) else [(fn.__name__, res)]
                for key, value in items:
                    out[key] = float(value) * (getattr(fn, "_vf_weight", 1.0) if attr == "reward" else 1.0)
        return out

    return asyncio.run(run())


@pytest.fixture()
def rubric(monkeypatch):
    scorer = math_scorer()
    monkeypatch.setattr(vfa, "get_scorer", lambda *a: scorer)
    yield vfa.ExecTuneRubric(weight=2.0)
    scorer.close()


def test_hooks_on_a_task_class_are_found_unbound_and_score(rubric):
    class CodeTask:
        exectune = rubric.reward
        exectune_components = rubric.metrics

    task = CodeTask()
    assert task.exectune is rubric.reward  # not bound: verifiers injects (task, trace) by name
    assert list(inspect.signature(task.exectune).parameters) == ["task", "trace"]
    assert inspect.iscoroutinefunction(type(rubric.reward).__call__)
    scores = _score_like_verifiers(task, _TaskData(id="x", exectune="sum"), _Trace("<strategy>Add the two numbers.</strategy>"))
    assert scores["exectune"] == 2.0  # reward 1.0 times the hook's weight
    assert scores["exectune/format"] == 1.0 and scores["exectune/execution"] == 1.0 and scores["exectune/leakage"] == 0.0


@pytest.mark.parametrize(
    "data",
    [
        _TaskData(id="sum"),  # the TaskData id names a task of the table
        _TaskData(problem="What is 2+3?", kind="math", answer="5", prompt="ignored"),  # the task's own columns
        _TaskData(label='{"kind": "math", "problem": "What is 2+3?", "answer": "5"}'),  # JSON in a label field
    ],
)
def test_the_task_travels_in_the_task_data(rubric, data):
    record = asyncio.run(rubric.ascore(data, "<strategy>Add the two numbers.</strategy>"))
    assert record["reward"] == 1.0


def test_the_rollout_is_scored_once_for_both_hooks(rubric):
    calls = []
    scorer = rubric.scorer
    original = scorer.ascore

    async def counting(rows):
        calls.append(len(rows))
        return await original(rows)

    scorer.ascore = counting

    class T:
        r = rubric.reward
        m = rubric.metrics

    _score_like_verifiers(T(), _TaskData(exectune="sum"), _Trace("<strategy>Add.</strategy>"))
    assert calls == [1]


def test_an_unscorable_rollout_raises_instead_of_scoring_zero(monkeypatch):
    scorer = math_scorer(fail=True)
    monkeypatch.setattr(vfa, "get_scorer", lambda *a: scorer)
    rubric = vfa.ExecTuneRubric()
    with pytest.raises(RewardUnavailableError, match="the core's API is down"):
        asyncio.run(rubric.reward(task=_TaskData(exectune="sum"), trace=_Trace("<strategy>Add.</strategy>")))
    scorer.close()
