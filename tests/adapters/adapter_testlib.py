"""Shared pieces of the adapter tests: a math scorer over a scripted core, sample rows."""

from __future__ import annotations

import time

from exectune_rl.adapters._scoring import Scorer
from exectune_rl.cores import CallableCore
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from exectune_rl.serve.config import ServeLimits
from exectune_rl.serve.run import ScoringRun

MATH_TABLE = {"sum": {"task_id": "sum", "kind": "math", "problem": "What is 2+3?", "answer": "5"}}


def math_run(fail: bool = False, delay_s: float = 0.0) -> ScoringRun:
    def answer(request):
        if fail:
            raise ConnectionError("the core's API is down")
        time.sleep(delay_s)
        return "The answer is 5.\n#### 5"

    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(answer, model="scripted"))
    return ScoringRun(reward, dict(MATH_TABLE), ServeLimits(), "a test run")


def math_scorer(fail: bool = False) -> Scorer:
    return Scorer(run=math_run(fail))
