"""Acceptance sampling with the scripted teacher, a real ProgramCore in a LocalSandbox and ExecTuneReward."""

from __future__ import annotations

import json

import pytest

from exectune_rl.cores.base import CallableCore, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError, DataError
from exectune_rl.runtime import CachedCore, ResponseCache
from exectune_rl.training.judge import RewardJudge
from exectune_rl.training.sampling import Rejection, acceptance_sample, feedback_message
from exectune_rl.training.sft_data import load_sft_dataset, sft_rows, write_acceptance_outputs
from exectune_rl.training.synthetic import ScriptedTeacher, correct_strategy, make_arith_problems

PROMPT = "Write a Python strategy that prints the answer.\n{}".format


def _prompt(task):
    return PROMPT(task.problem)


@pytest.fixture(scope="module")
def problems():
    return make_arith_problems(40, seed=5)


def test_judge_accepts_only_well_formed_non_leaking_correct_strategies(program_reward, problems):
    p = problems[0]
    task = p.to_task()
    completions = [
        correct_strategy(p),                                   # accepted
        correct_strategy(p).replace("<strategy>", ""),          # unopened tag: format
        f"<strategy>\nprint({p.answer})\n</strategy>",          # prints the gold answer: leak
        f"<strategy>\nprint({p.answer + 1})\n</strategy>",      # runs, wrong number: execution
        "<strategy>\nprint(undefined_name)\n</strategy>",       # crashes: execution
    ]  # fmt: skip
    verdicts = RewardJudge(program_reward).judge([task] * len(completions), completions)
    assert [v.rejection for v in verdicts] == [
        Rejection.NONE, Rejection.FORMAT, Rejection.LEAK, Rejection.EXECUTION, Rejection.EXECUTION,
    ]  # fmt: skip
    assert verdicts[0].accepted and verdicts[0].strategy.startswith("a = ")
    assert "wrong" in verdicts[3].feedback or "status" in verdicts[3].feedback


def test_revision_rounds_accept_more_and_statistics_add_up(program_reward, problems):
    tasks = [p.to_task() for p in problems]
    teacher = ScriptedTeacher(problems, p_correct=0.4, p_revise=0.8, seed=1)
    judge = RewardJudge(program_reward)
    once = acceptance_sample(tasks, teacher, judge, guide_prompt=_prompt, k=2, revision_rounds=0)
    twice = acceptance_sample(tasks, teacher, judge, guide_prompt=_prompt, k=2, revision_rounds=2)
    s = twice.stats
    assert once.stats.n_candidates == 80 and once.stats.accepted_per_round[0] == s.accepted_per_round[0]
    assert s.n_accepted > once.stats.n_accepted and s.accepted_per_round[1] > 0
    assert s.n_accepted + sum(s.rejections.values()) == s.n_candidates
    # Each accepted strategy really is the correct program for its task.
    by_id = {p.id: p for p in problems}
    assert all(correct_strategy(by_id[c.task_id]) == c.completion for c in twice.accepted)
    # A revision request carries the failed attempt and the feedback.
    assert feedback_message(twice.candidates[0].verdict).endswith("Write a corrected strategy.")


def test_rerun_through_the_cache_is_free_and_identical(program_reward, problems, tmp_path):
    tasks = [p.to_task() for p in problems[:20]]
    calls = []

    def counting(req: CoreRequest) -> str:
        calls.append(req)
        return ScriptedTeacher(problems, p_correct=0.5, seed=2).generate([req])[0].text

    cache = ResponseCache(tmp_path / "c.sqlite")
    teacher = CachedCore(CallableCore(counting, model="scripted-counting"), cache)
    judge = RewardJudge(program_reward)
    first = acceptance_sample(tasks, teacher, judge, guide_prompt=_prompt, k=2, revision_rounds=1)
    n_calls = len(calls)
    second = acceptance_sample(tasks, teacher, judge, guide_prompt=_prompt, k=2, revision_rounds=1)
    assert n_calls > 40 and len(calls) == n_calls  # the rerun asked the teacher nothing
    assert first.stats == second.stats
    assert [c.completion for c in first.candidates] == [c.completion for c in second.candidates]
    cache.close()


def test_teacher_failures_are_infrastructure_not_rejections(program_reward, problems):
    tasks = [p.to_task() for p in problems[:4]]

    def flaky(req: CoreRequest):
        if req.sample_index == 1:
            return CoreResponse.failure(CoreFailureKind.RATE_LIMITED, "429", model="t")
        return correct_strategy(problems[[t.problem in req.prompt_text for t in tasks].index(True)])

    result = acceptance_sample(tasks, CallableCore(flaky), RewardJudge(program_reward), guide_prompt=_prompt, k=2, revision_rounds=2)
    assert result.stats.rejections == {Rejection.TEACHER_ERROR: 4}
    assert result.stats.n_accepted == 4 and result.stats.n_candidates == 8  # failed calls are not revised
    assert result.stats.acceptance_rate == 1.0


def test_outputs_dataset_jsonl_and_stats(program_reward, problems, tmp_path):
    tasks = [p.to_task() for p in problems[:10]]
    result = acceptance_sample(tasks, ScriptedTeacher(problems, seed=3), RewardJudge(program_reward), guide_prompt=_prompt, k=3)
    rows = sft_rows(result, tasks, _prompt, keep_per_task=1)
    assert len(rows) == result.stats.tasks_with_accepted and len({r["task_id"] for r in rows}) == len(rows)
    write_acceptance_outputs(result, rows, tmp_path / "out", extra_stats={"note": 1})
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["n_accepted"] == result.stats.n_accepted and stats["n_rows"] == len(rows) and stats["note"] == 1
    assert len((tmp_path / "out" / "candidates.jsonl").read_text().splitlines()) == result.stats.n_candidates
    ds = load_sft_dataset(tmp_path / "out")
    row = ds[0]
    assert row["prompt"][0]["role"] == "user" and row["completion"][0]["role"] == "assistant"
    assert row["completion"][0]["content"].startswith("<strategy>\n") and row["answer"] is not None
    assert len(load_sft_dataset(tmp_path / "out" / "accepted.jsonl")) == len(rows)


def test_bad_arguments_and_missing_data(program_reward, tmp_path):
    with pytest.raises(ConfigError, match="k must be >= 1"):
        acceptance_sample([], CallableCore(lambda r: ""), RewardJudge(program_reward), guide_prompt=_prompt, k=0)
    with pytest.raises(DataError, match="no SFT dataset"):
        load_sft_dataset(tmp_path)
