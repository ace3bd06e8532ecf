"""ExecTune's verifiers hooks through verifiers 0.4's own scoring code (``Task.score``).

Run by ``run_verifiers.sh`` in an environment of its own (verifiers 0.4 needs ``openai<3``).
A ``vf.Task`` subclass carries ``ExecTuneRubric``'s hooks two ways (as class attributes, and
plugged by path through ``TaskConfig.rewards``/``metrics``); verifiers discovers them, injects
``task``/``trace`` by name, awaits them together and records rewards and metrics on the trace.
The rollout's reply is set on a ``vf.Trace`` built without a model call (``model_construct``).
The reward is the scripted math task's: a sound strategy scores 1.0, a missing strategy block
the gated floor, and a failing core raises, so verifiers records a scoring error, not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import verifiers
import verifiers.v1 as vf

from exectune_rl.adapters import _scoring
from exectune_rl.adapters.verifiers import ExecTuneRubric
from exectune_rl.cores import CallableCore
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from exectune_rl.serve.config import ServeLimits
from exectune_rl.serve.run import ScoringRun


def _scorer(fail: bool) -> _scoring.Scorer:
    def answer(request):
        if fail:
            raise ConnectionError("the core's API is down")
        return "The answer is 5.\n#### 5"

    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(answer, model="scripted"))
    table = {"sum": {"task_id": "sum", "kind": "math", "problem": "What is 2+3?", "answer": "5"}}
    return _scoring.Scorer(run=ScoringRun(reward, table, ServeLimits(), "verifiers check"))


class MathData(vf.TaskData):
    exectune: dict | str | None = None


rubric = ExecTuneRubric(weight=1.0)


class MathTask(vf.Task[MathData, vf.State, vf.TaskConfig]):
    exectune = rubric.reward
    exectune_components = rubric.metrics


class PluggedTask(vf.Task[MathData, vf.State, vf.TaskConfig]):
    pass


def _trace(reply: str):
    return vf.Trace.model_construct(root_reply=reply, rewards={}, metrics={}, info={}, extra_usage=[])


async def _score(task, reply: str):
    trace = _trace(reply)
    error = None
    try:
        await task.score(trace)
    except Exception as exc:  # verifiers wraps a failing hook in its TaskError
        error = f"{type(exc).__name__}: {exc}"
    return {name: (r.score if r is not None else None) for name, r in trace.rewards.items()}, dict(trace.metrics), error


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    good, broken = "<strategy>Add the two numbers.</strategy>", "no strategy block"
    _scoring.get_scorer = lambda *a, **k: _scorer(False)  # noqa: the hooks read the process scorer
    import exectune_rl.adapters.verifiers as adapter

    adapter.get_scorer = _scoring.get_scorer
    task = MathTask(MathData(exectune="sum", prompt="What is 2+3?"))
    by_attr_good = asyncio.run(_score(task, good))
    by_attr_gated = asyncio.run(_score(task, broken))
    plugged_cfg = vf.TaskConfig(
        rewards={"exectune": {"fn": "exectune_rl.adapters.verifiers:exectune_reward"}},
        metrics={"exectune_components": {"fn": "exectune_rl.adapters.verifiers:exectune_metrics"}},
    )
    plugged = asyncio.run(_score(PluggedTask(MathData(exectune={"kind": "math", "problem": "What is 2+3?", "answer": "5"}), plugged_cfg), good))
    adapter.get_scorer = lambda *a, **k: _scorer(True)
    adapter._DEFAULT = None
    failing = asyncio.run(_score(MathTask(MathData(exectune="sum")), good))
    result = {
        "verifiers_version": verifiers.__version__,
        "attr_hooks_sound_strategy": by_attr_good,
        "attr_hooks_no_strategy_block": by_attr_gated,
        "plugged_by_path": plugged,
        "core_down": failing,
    }
    ok = (
        by_attr_good[0].get("exectune") == 1.0 and by_attr_good[1].get("exectune/execution") == 1.0
        and by_attr_gated[0].get("exectune") == 0.0 and by_attr_gated[1].get("exectune/format") == 0.0
        and plugged[0].get("exectune") == 1.0 and plugged[1].get("exectune/format") == 1.0
        and failing[2] is not None and failing[0].get("exectune") is None
    )  # fmt: skip
    result["ok"] = ok
    print(json.dumps(result, indent=2, default=str))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2, default=str)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
