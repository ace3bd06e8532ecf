"""Dataset columns into tasks: aliases per row, rows without a task text."""

from __future__ import annotations

import logging

import pytest

from exectune_rl.cores.base import CallableCore, CoreRequest
from exectune_rl.errors import DataError, MissingColumnError
from exectune_rl.rewards import ExecTuneReward, RewardConfig, RewardStatus
from exectune_rl.rewards.columns import column, tasks_from_columns
from exectune_rl.rewards.mathcheck import MathVerifier


def test_aliases_fall_back_row_by_row() -> None:
    cols = {"problem": ["2+3?", None, None], "question": [None, "4+4?", None], "test": ["t"] * 3}
    assert column(cols, "problem", 3) == ["2+3?", "4+4?", None]
    assert column({"problem": ["a", "b"], "question": ["x", "y"]}, "problem", 2) == ["a", "b"]  # the main name wins
    assert column(cols, "tests", 3) == ["t"] * 3 and column(cols, "answer", 3) is None
    with pytest.raises(DataError, match="'question' has 1 values for 3"):
        column({"problem": ["a"] * 3, "question": ["b"]}, "problem", 3)


def test_mixed_problem_and_question_columns_keep_every_row() -> None:
    tasks, errors = tasks_from_columns({"problem": ["2+3?", None], "question": [None, "4+4?"], "answer": ["5", "8"]}, 2, "math")
    assert errors == [None, None]
    assert [t.problem for t in tasks] == ["2+3?", "4+4?"] and tasks[0].id != tasks[1].id


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_a_row_without_task_text_is_a_per_row_failure(missing: object) -> None:
    tasks, errors = tasks_from_columns({"problem": ["2+3?", missing], "answer": ["5", "6"]}, 2, "math")
    assert tasks[0] is not None and tasks[1] is None
    assert errors[1] is not None and "row 1: no task text" in errors[1]


def test_a_task_text_column_absent_from_every_row_is_an_error() -> None:
    with pytest.raises(MissingColumnError, match="'problem' or 'question'"):
        tasks_from_columns({"answer": ["5"]}, 1, "math")


def test_the_reward_scores_mixed_columns_and_skips_rows_without_text(math_verifier: MathVerifier, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def core(request: CoreRequest) -> str:
        text = request.messages[-1]["content"]
        seen.append(text)
        return "#### 8" if "4+4" in text else "#### 5"

    reward = ExecTuneReward(RewardConfig.math(nondegradation_penalty=0.0), core=CallableCore(core, max_concurrency=1), math_verifier=math_verifier)
    caplog.set_level(logging.WARNING)
    recs = reward.score(
        completions=["<strategy>Add.</strategy>"] * 3,
        problem=["What is 2+3?", None, None], question=[None, "What is 4+4?", None], answer=["5", "8", "5"],
    )  # fmt: skip
    assert [r.reward for r in recs[:2]] == [1.0, 1.0] and recs[0].task_id != recs[1].task_id
    assert recs[2].reward is None and recs[2].status is RewardStatus.BAD_TASK and "no task text" in recs[2].reason
    assert len(seen) == 2  # the row without a task never reached the core
    reward(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=[None], answer=["5"])
    assert "no task text" in caplog.text
