"""Real TRL runs: GRPOTrainer (sync and async ExecTuneReward, and the reward-model adapter) and
RLOOTrainer, on a tiny guide built locally, with a deterministic scripted core."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from exectune_rl.cores.base import CallableCore, CoreRequest
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from reward_testlib import strategy_of

trl = pytest.importorskip("trl", reason="the TRL tests need the [train] extra")
datasets = pytest.importorskip("datasets", reason="the TRL tests need the [train] extra")

COMPONENTS = ("format", "execution", "success", "nondegradation", "cost", "strategy_tokens", "core_tokens")


def scripted_core(request: CoreRequest) -> str:
    """Deterministic: the core alone is right; guided, it is right when the strategy's length is even."""
    strategy = strategy_of(request)
    if strategy is None:
        return "The sum is 5.\n#### 5"
    return "#### 5" if len(strategy) % 2 == 0 else "#### 4"


def _dataset() -> Any:
    pairs = [(0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0), (6, -1), (7, -2)]  # every sum is 5, like the core's answer
    rows = [
        {"prompt": f"Plan how to add {a} and {b}. Write <strategy>...</strategy>.", "problem": f"What is {a} + {b}?", "answer": "5"}
        for a, b in pairs
    ]
    return datasets.Dataset.from_list(rows)


def _grpo_args(tmp_path: Path, **extra: Any) -> Any:
    return trl.GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4, max_completion_length=12,
        max_steps=2, logging_steps=1, learning_rate=1e-4, bf16=False, use_cpu=True, report_to="none",
        save_strategy="no", seed=0, dataloader_num_workers=0, **extra,
    )  # fmt: skip


def _logged(trainer: Any) -> dict[str, float]:
    merged: dict[str, float] = {}
    for entry in trainer.state.log_history:
        merged.update({k: v for k, v in entry.items() if isinstance(v, (int, float))})
    return merged


@pytest.fixture
def reward() -> Any:
    cfg = RewardConfig.math(format_gate=False, math_workers=1, math_timeout_s=2, cost_lambda=0.01)
    r = ExecTuneReward(cfg, core=CallableCore(scripted_core, model="scripted"))
    yield r
    r.close()


def test_grpo_with_exectune_reward(tiny_model_path: Path, tmp_path: Path, reward: ExecTuneReward) -> None:
    trainer = trl.GRPOTrainer(model=str(tiny_model_path), reward_funcs=reward, args=_grpo_args(tmp_path), train_dataset=_dataset())
    trainer.train()
    logs = _logged(trainer)
    for name in COMPONENTS:
        assert f"exectune/{name}" in logs, sorted(logs)
    assert math.isfinite(logs["rewards/exectune/mean"]) and logs["exectune/format"] >= 0.0
    assert trainer.state.global_step == 2


def test_grpo_with_the_async_reward(tiny_model_path: Path, tmp_path: Path) -> None:
    cfg = RewardConfig.math(math_workers=1, math_timeout_s=2, format_bonus=0.0)
    reward = ExecTuneReward(cfg, core=CallableCore(scripted_core, model="scripted")).as_async()
    try:
        trainer = trl.GRPOTrainer(model=str(tiny_model_path), reward_funcs=[reward], args=_grpo_args(tmp_path), train_dataset=_dataset())
        trainer.train()
    finally:
        reward.close()
    logs = _logged(trainer)
    # The untrained guide rarely writes a well-formed block: the gate is what shows.
    assert "rewards/exectune/mean" in logs and "exectune/infra" in logs
    # Logged every step, even when no completion passes the gate; tokens and cost only once measured.
    for name in ("format", "execution", "success", "executability", "leaked"):
        assert f"exectune/{name}" in logs, sorted(logs)
    assert trainer.state.global_step == 2


def test_rloo_with_exectune_reward(tiny_model_path: Path, tmp_path: Path, reward: ExecTuneReward) -> None:
    args = trl.RLOOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4, max_completion_length=12,
        max_steps=2, logging_steps=1, learning_rate=1e-4, bf16=False, use_cpu=True, report_to="none",
        save_strategy="no", seed=0, dataloader_num_workers=0,
    )  # fmt: skip
    trainer = trl.RLOOTrainer(model=str(tiny_model_path), reward_funcs=reward, args=args, train_dataset=_dataset())
    trainer.train()
    logs = _logged(trainer)
    for name in COMPONENTS:
        assert f"exectune/{name}" in logs, sorted(logs)
    assert trainer.state.global_step == 2


def test_reward_model_adapter_in_grpo(tiny_model_path: Path, tmp_path: Path, reward: ExecTuneReward) -> None:
    from transformers import AutoTokenizer

    from exectune_rl.rewards import RewardModelAdapter

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_path))
    data = _dataset()
    adapter = RewardModelAdapter(reward, tokenizer, rows=list(data))
    calls: list[int] = []
    original = reward.score

    def counting_score(*args: Any, **kwargs: Any) -> Any:
        records = original(*args, **kwargs)
        calls.append(len(records))
        return records

    reward.score = counting_score  # type: ignore[method-assign]
    trainer = trl.GRPOTrainer(
        model=str(tiny_model_path), reward_funcs=[adapter], reward_processing_classes=[tokenizer],
        args=_grpo_args(tmp_path), train_dataset=data, processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    logs = _logged(trainer)
    assert "rewards/exectune/mean" in logs and math.isfinite(logs["rewards/exectune/mean"])
    # Every completion was matched to its dataset row and scored by the composite.
    assert sum(calls) == 2 * 4
