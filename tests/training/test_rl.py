"""GRPO and RLOO with ExecTuneReward on the tiny local guide, a real ProgramCore and LocalSandbox."""

from __future__ import annotations

import json
import pickle

import pytest

pytest.importorskip("trl")

from exectune_rl.training.config import RLRecipe  # noqa: E402
from exectune_rl.training.rl import TrackedReward, executability_of, rl_dataset, run_rl  # noqa: E402
from exectune_rl.training.synthetic import correct_strategy, make_arith_problems  # noqa: E402

TRAINER = {"max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 4, "max_completion_length": 12,
           "logging_steps": 1, "beta": 0.0}  # fmt: skip


def _prompt(task):
    return f"Write a Python strategy that prints the answer.\n{task.problem}"


@pytest.fixture(scope="module")
def tasks():
    return [p.to_task() for p in make_arith_problems(8, seed=11)]


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_training_logs_reward_components_and_executability(algorithm, tiny_model_path, program_reward, tasks, tmp_path):
    recipe = RLRecipe(model=str(tiny_model_path), output_dir=str(tmp_path / algorithm), algorithm=algorithm, trainer=TRAINER)
    result = run_rl(recipe, tasks=tasks, reward=program_reward, guide_prompt=_prompt)
    assert result.steps == 2 and result.n_prompts == len(tasks) and result.algorithm == algorithm
    history = json.loads((tmp_path / algorithm / "training_log.json").read_text())["log_history"]
    logged = set().union(*history)
    for key in ("exectune/executability", "exectune/format", "exectune/reward", "rewards/exectune/mean"):
        assert key in logged, f"{key} not logged by {algorithm}: {sorted(logged)}"
    # An untrained guide writes no strategy block: executability is really 0, not missing.
    assert all(h["exectune/executability"] == 0.0 for h in history if "exectune/executability" in h)
    assert (tmp_path / algorithm / "config.json").is_file()


def test_reward_logs_guide_averaged_executability(program_reward, tasks):
    problem = make_arith_problems(8, seed=11)
    completions = [correct_strategy(problem[0]), "no tags here", f"<strategy>\nprint({problem[1].answer})\n</strategy>"]
    cols = {k: [t.to_dict()[k] for t in tasks[:3]] for k in ("task_id", "kind", "problem", "answer")}
    cols_first = {k: [v[0], v[0], v[1]] for k, v in cols.items()}
    logged = {}
    values = program_reward(prompts=None, completions=completions, log_metric=lambda k, v: logged.__setitem__(k, v), **cols_first)
    assert values == [1.0, 0.0, 0.0]
    # Mean over tasks: task 0 executed one of its two strategies (0.5), task 1 none (its only one leaks).
    assert logged["exectune/executability"] == pytest.approx(0.25) and logged["exectune/format"] == pytest.approx(2 / 3)
    with pytest.deprecated_call():
        assert TrackedReward(program_reward) is program_reward  # the wrapper is gone; the name stays


def test_reward_pickles():
    # TRL may pickle reward functions (multiprocessing); a reward without live resources must survive it.
    from exectune_rl.rewards import ExecTuneReward, RewardConfig

    reward = ExecTuneReward(RewardConfig.math(math_workers=0))
    assert pickle.loads(pickle.dumps(reward)).__name__ == "exectune"


def test_dataset_carries_prompt_and_task_columns(tasks):
    ds = rl_dataset(tasks, _prompt)
    assert ds[0]["prompt"] == [{"role": "user", "content": _prompt(tasks[0])}]
    assert {"task_id", "kind", "problem", "answer"} <= set(ds.column_names)
    assert executability_of([]) is None


def test_async_reward_trains_grpo_through_the_async_wrapper(tiny_model_path, program_reward, tasks, tmp_path):
    # TRL awaits async reward functions together; the async twin shares the reward's core and sandbox.
    async_reward = program_reward.as_async()
    assert async_reward.pipeline is program_reward.pipeline  # one pipeline, two call styles
    recipe = RLRecipe(model=str(tiny_model_path), output_dir=str(tmp_path / "async"), trainer={**TRAINER, "max_steps": 1})
    run_rl(recipe, tasks=tasks, reward=async_reward, guide_prompt=_prompt)
    history = json.loads((tmp_path / "async" / "training_log.json").read_text())["log_history"]
    assert any("exectune/executability" in h for h in history)


def test_executability_leaves_out_runs_the_infrastructure_lost():
    from exectune_rl.rewards.execution import ExecutionResult, ExecutionStatus
    from exectune_rl.rewards.format_gate import FormatResult, FormatStatus
    from exectune_rl.rewards.records import CoreRun, RewardRecord, RewardStatus

    ok, bad = FormatResult(FormatStatus.OK, "s"), FormatResult(FormatStatus.MISSING)
    passed = CoreRun("4", ExecutionResult(ExecutionStatus.PASSED, 1.0, success=True))
    lost = CoreRun("", ExecutionResult.infra("sandbox died"))
    records = [
        # one passed run and one the sandbox lost: the lost run is nobody's fault, not a failure
        RewardRecord(0, "t0", 1.0, RewardStatus.SCORED, "", ok, runs=(passed, lost)),
        # a strategy that failed the gate counts as not executed
        RewardRecord(1, "t1", 0.0, RewardStatus.FORMAT_FAILED, "format", bad),
        # an unscorable record is left out entirely
        RewardRecord(2, "t2", None, RewardStatus.INFRA, "core down", ok, runs=(lost,)),
    ]
    assert executability_of(records) == 0.5
    assert executability_of(records[2:]) is None
