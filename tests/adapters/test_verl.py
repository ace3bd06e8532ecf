"""verl's custom reward function, by contract (verl 0.9 needs transformers < 5.11 and cannot share
this environment): the adapter is loaded the way verl's loader loads one (a ``pkg://`` module or a
file path, ``getattr`` of ``name``, ``reward_kwargs`` merged into each call, coroutine functions
awaited) and called with the keywords verl's reward managers pass."""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import inspect
import math
import os

import pytest

from exectune_rl.adapters import RewardUnavailableError, verl
from exectune_rl.rewards.sample import iter_sample
from exectune_rl.serve.labels import LabelError

from adapter_testlib import math_scorer


def _load_like_verl(path: str, name: str, reward_kwargs: dict):
    """verl's get_custom_reward_fn, restated: resolve path and name, bind reward_kwargs (they win)."""
    if path.startswith("pkg://"):
        module = importlib.import_module(path[len("pkg://") :].replace("/", "."))
    else:
        spec = importlib.util.spec_from_file_location(f"custom_module_{hash(os.path.abspath(path))}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    raw = getattr(module, name)

    def call(*args, **kwargs):
        return raw(*args, **{**kwargs, **reward_kwargs})

    async def acall(*args, **kwargs):
        return await raw(*args, **{**kwargs, **reward_kwargs})

    return functools.partial(acall) if inspect.iscoroutinefunction(raw) else functools.partial(call)


def _verl_call(fn, solution, ground_truth, extra_info):
    # The naive reward manager's keywords, with the keys it adds to extra_info.
    extra = {**extra_info, "num_turns": None, "rollout_reward_scores": {}}
    kwargs = dict(data_source="exectune", solution_str=solution, ground_truth=ground_truth, extra_info=extra)
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn(**kwargs))
    return fn(**kwargs)


@pytest.fixture(scope="module")
def rows():
    return list(iter_sample())[:6]


@pytest.mark.parametrize("path", ["pkg://exectune_rl.adapters.verl", verl.__file__])
@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
def test_loaded_like_verl_scores_like_exectune_reward(path, name, rows):
    from exectune_rl.adapters._scoring import get_scorer

    fn = _load_like_verl(path, name, {})
    assert inspect.iscoroutinefunction(fn) == (name == "compute_score_async")  # how verl picks await or executor
    results = []
    for r in rows:  # the task as an id of the embedded default's table, the outputs in extra_info
        extra = {"core_output": r["core_output"], "core_only_output": r["core_only_output"]}
        results.append(_verl_call(fn, r["completion"], r["task_id"], extra))
    expected = [rec.reward for rec in get_scorer().run.score_rows(rows)]
    assert [res["score"] for res in results] == expected
    assert len({tuple(res) for res in results}) == 1  # verl stacks each key into one array: same keys every time
    assert {"score", "status", "format", "execution", "leakage", "cost"} <= set(results[0])
    assert all(isinstance(v, float) for res in results for k, v in res.items() if k != "status")


def test_ground_truth_as_object_json_or_answer_with_the_task_in_extra_info(monkeypatch):
    scorer = math_scorer()
    monkeypatch.setattr(verl, "get_scorer", lambda *a: scorer)
    task = {"kind": "math", "problem": "What is 2+3?", "answer": "5"}
    good = "<strategy>Add the two numbers.</strategy>"
    assert verl.compute_score("gsm8k", good, task)["score"] == 1.0
    assert verl.compute_score("gsm8k", good, '{"kind": "math", "problem": "What is 2+3?", "answer": "5"}')["score"] == 1.0
    # verl's usual dataset shape: ground_truth is the gold answer, the question rides in extra_info
    assert verl.compute_score("gsm8k", good, "5", {"question": "What is 2+3?", "kind": "math", "index": 3})["score"] == 1.0
    result = verl.compute_score("gsm8k", "no strategy block", "sum")
    assert result["status"] == "format_failed" and result["score"] == 0.0 and math.isnan(result["execution"])
    with pytest.raises(LabelError, match="unknown task id 'nope'"):
        verl.compute_score("gsm8k", good, "nope")
    scorer.close()


def test_an_infrastructure_failure_raises_unless_missing_score_is_given(monkeypatch):
    scorer = math_scorer(fail=True)
    monkeypatch.setattr(verl, "get_scorer", lambda *a: scorer)
    with pytest.raises(RewardUnavailableError, match="the core's API is down"):
        verl.compute_score("gsm8k", "<strategy>Add.</strategy>", "sum")
    fn = _load_like_verl("pkg://exectune_rl.adapters.verl", "compute_score", {"missing_score": -0.25})
    result = _verl_call(fn, "<strategy>Add.</strategy>", "sum", {})
    assert result["score"] == -0.25 and result["status"] == "infra"
    scorer.close()
