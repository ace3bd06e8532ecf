"""OpenRLHF's local reward function, by contract (openrlhf needs flash-attn, deepspeed and CUDA):
the file is loaded the way its SingleTurnAgentExecutor loads a ``.py`` given as
``--reward.remote_url`` (``spec_from_file_location("reward_func", path)``, then ``reward_func``)
and called from a thread with one-element lists, as it does; the answer is read the way it
reads it (``scores``, falling back to ``rewards``; ``extra_logs`` values made into tensors)."""

from __future__ import annotations

import asyncio
import importlib.util
import numbers

import pytest

from exectune_rl.adapters import RewardUnavailableError, openrlhf
from exectune_rl.adapters._scoring import get_scorer
from exectune_rl.rewards.sample import iter_sample

from adapter_testlib import math_scorer

PROMPT = "<|user|>Plan the solution.<|assistant|>"


def _load_like_openrlhf():
    spec = importlib.util.spec_from_file_location("reward_func", openrlhf.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def _call_like_openrlhf(reward_func, query, prompt, label):
    async def fetch():
        return await asyncio.gather(asyncio.to_thread(reward_func, [query], [prompt], [label]))

    [info] = asyncio.run(fetch())
    return info


def test_the_file_loads_and_scores_like_exectune_reward():
    reward_func = _load_like_openrlhf()
    rows = list(iter_sample())[:6]
    answers = []
    for r in rows:  # the label: the task object with the core's outputs (the default service has no core)
        label = {k: v for k, v in r.items() if k != "completion"}
        answers.append(_call_like_openrlhf(reward_func, PROMPT + r["completion"], PROMPT, label))
    expected = [rec.reward for rec in get_scorer().run.score_rows(rows)]
    assert [a["rewards"][0] for a in answers] == expected
    for a in answers:
        assert set(a) == {"rewards", "scores", "extra_logs"}
        assert 0.0 <= a["scores"][0] <= 1.0
        assert all(isinstance(v, numbers.Real) for v in a["extra_logs"].values())


def test_a_remote_reward_func_equals_the_local_one():
    from serve_testlib import live_server

    scorer = math_scorer()
    with live_server(scorer.run) as server:
        remote = openrlhf.make_reward_func(url=server.url)
        local = openrlhf.make_reward_func()
        query = PROMPT + "<strategy>Add the two numbers.</strategy>"
        label = {"kind": "math", "problem": "What is 2+3?", "answer": "5"}
        got = _call_like_openrlhf(remote, query, PROMPT, label)
        assert got["rewards"] == [1.0] and got["scores"] == [1.0]
        # a task id resolves on the service's table
        assert _call_like_openrlhf(remote, query, PROMPT, "sum")["rewards"] == [1.0]
        assert local is not remote
    scorer.close()


def test_an_unscorable_sample_raises_so_openrlhf_leaves_it_unscored(monkeypatch):
    scorer = math_scorer(fail=True)
    monkeypatch.setattr(openrlhf, "get_scorer", lambda *a: scorer)
    with pytest.raises(RewardUnavailableError, match="the core's API is down"):
        openrlhf.reward_func([PROMPT + "<strategy>Add.</strategy>"], [PROMPT], ["sum"])
    scorer.close()


@pytest.mark.parametrize(("queries", "prompts", "labels"), [
    (["a", "b"], ["p", "p"], [{"kind": "math"}]),  # zip dropped the second reward
    (["a"], ["p"], [{"kind": "math"}, {"kind": "math"}]),
    (["a", "b"], ["p"], [{"kind": "math"}, {"kind": "math"}]),
    (None, None, [{"kind": "math"}]),
    (["a"], None, None),
])
def test_mismatched_or_missing_batches_are_a_clear_error(queries, prompts, labels):
    from exectune_rl.errors import DataError

    with pytest.raises(DataError, match="queries|labels"):
        openrlhf.make_reward_func()(queries, prompts, labels)
