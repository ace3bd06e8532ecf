"""The LLM-judge plugin: entry-point registration, verdicts, failures, and use inside the reward.

The judge here is a scripted ``CallableCore`` (no model can be downloaded in tests); what is
tested is the plugin's plumbing: prompts, batching, verdict parsing and failure handling.
"""

from __future__ import annotations

import pytest

from exectune_rl.cores.base import CallableCore, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError
from exectune_rl.registry import leakage_registry
from exectune_rl.rewards import ExecTuneReward, RewardConfig, RewardStatus, get_leakage_detector
from exectune_rl.tasks.base import Task

plugin = pytest.importorskip("exectune_reward_llm_judge", reason="install the plugin: pip install -e rewards/llm_judge")
LLMJudgeDetector = plugin.LLMJudgeDetector

TASK = Task("t", "math", "Sam has 2 pens and buys 3 more. How many pens?", answer="5")


def keyword_judge(request: CoreRequest) -> str:
    """A scripted judge: LEAK when the plan says 'five'."""
    plan = request.messages[-1]["content"].split("Plan:\n", 1)[1]
    return "LEAK" if "five" in plan.lower() else "OK"


def test_registered_under_the_entry_point_group() -> None:
    assert "llm_judge" in leakage_registry.names()
    assert leakage_registry.resolve("llm_judge") is LLMJudgeDetector
    judge = get_leakage_detector("llm_judge", core=CallableCore(keyword_judge))
    assert judge.name == "llm_judge"


def test_verdicts_and_the_prompt() -> None:
    seen: list[str] = []

    def judge(request: CoreRequest) -> str:
        seen.append(request.messages[-1]["content"])
        return keyword_judge(request)

    det = LLMJudgeDetector(core=CallableCore(judge))
    findings = det.detect_batch(["Add them.", "The answer is five."], [TASK, TASK])
    assert [f.leaked for f in findings] == [False, True]
    assert "Correct final answer:\n5" in seen[0] and "Sam has 2 pens" in seen[0]


@pytest.mark.parametrize(("reply", "leaked"), [("LEAK", True), ("ok.", False), ("Verdict: OK", False), ("unsure", None), ("LEAK or OK", None)])
def test_reply_parsing(reply: str, leaked: bool | None) -> None:
    assert plugin.parse_verdict(reply) is leaked


def test_a_failed_judge_is_undecided_not_a_leak() -> None:
    def down(request: CoreRequest) -> CoreResponse:
        return CoreResponse.failure(CoreFailureKind.TIMEOUT, "judge timed out")

    [f] = LLMJudgeDetector(core=CallableCore(down)).detect_batch(["Add them."], [TASK])
    assert f.leaked is None and "timed out" in f.evidence


def test_needs_a_core() -> None:
    with pytest.raises(ConfigError, match="needs a judge"):
        LLMJudgeDetector()
    det = LLMJudgeDetector(core_name="exectune_rl.cores.base:CallableCore", core_options={"fn": keyword_judge})
    assert det.detect("five pens", TASK).leaked is True


def core(request: CoreRequest) -> str:
    return "#### 5"


def test_inside_the_reward_after_the_cheap_detectors() -> None:
    asked: list[str] = []

    def judge(request: CoreRequest) -> str:
        asked.append(request.messages[-1]["content"])
        return keyword_judge(request)

    detectors = ["gold_answer", LLMJudgeDetector(core=CallableCore(judge))]
    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(core), detectors=detectors)
    recs = reward.score(
        completions=["<strategy>Add 2 and 3.</strategy>", "<strategy>It is 5.</strategy>", "<strategy>Say five.</strategy>"],
        problem=[TASK.problem] * 3,
        answer=["5"] * 3,
    )
    assert [r.status for r in recs] == [RewardStatus.SCORED, RewardStatus.LEAKED, RewardStatus.LEAKED]
    assert recs[1].leakage.detectors == ("gold_answer",) and recs[2].leakage.detectors == ("llm_judge",)  # type: ignore[union-attr]
    assert len(asked) == 2  # the strategy the cheap check caught never reached the judge


def test_judge_down_makes_the_reward_none() -> None:
    def down(request: CoreRequest) -> CoreResponse:
        return CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "503")

    reward = ExecTuneReward(
        RewardConfig.math(math_workers=0), core=CallableCore(core), detectors=[LLMJudgeDetector(core=CallableCore(down))]
    )
    assert reward(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=[TASK.problem], answer=["5"]) == [None]
