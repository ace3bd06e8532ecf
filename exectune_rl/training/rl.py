"""Structure-aware RL of the guide: TRL's ``GRPOTrainer`` or ``RLOOTrainer`` with ``ExecTuneReward``.

The training set is one conversational prompt per task plus the task columns
(:meth:`exectune_rl.tasks.base.Task.to_dict`); TRL passes those columns to the reward with each
completion, so the reward knows which task a strategy is for. The trained guide and its
training log (``training_log.json``: reward, executability and every reward metric per step,
as :class:`~exectune_rl.rewards.ExecTuneReward` logged them through ``log_metric``) go to the
output folder.

Example:
    >>> result = run_rl(RLRecipe(model="outputs/sft", algorithm="grpo",            # doctest: +SKIP
    ...                          trainer={"max_steps": 50, "num_generations": 4}))
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.tasks.base import Task
from exectune_rl.training.config import RLRecipe
from exectune_rl.training.sft_data import prompt_messages
from exectune_rl.training.trl_utils import load_tokenizer, quiet_progress, require_trl, save_log_history, trainer_args

__all__ = ["RLResult", "TrackedReward", "AsyncTrackedReward", "track", "executability_of", "rl_dataset", "run_rl", "build_rl_trainer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RLResult:
    """What a GRPO/RLOO run produced."""

    output_dir: Path
    algorithm: str
    steps: int
    n_prompts: int
    runtime_s: float
    first_reward: float | None
    last_reward: float | None


def executability_of(records: Sequence[Any], core_runs: int = 1) -> float | None:
    """Guide-averaged executability of a batch (:func:`exectune_rl.rewards.metrics.executability`).

    Every sampled strategy counts, a rejected one (format gate, leak) as not executed; runs lost
    to the infrastructure are left out. None when no strategy counts.
    """
    from exectune_rl.rewards.metrics import batch_metrics

    return batch_metrics(records, core_runs)["executability"]


def track(reward: Any) -> Any:
    """Deprecated: ``ExecTuneReward`` logs ``<name>/executability`` itself; returns ``reward`` unchanged."""
    warnings.warn("track() is no longer needed: ExecTuneReward logs executability itself", DeprecationWarning, stacklevel=2)
    return reward


def TrackedReward(reward: Any) -> Any:  # noqa: N802 - the deprecated class name
    """Deprecated alias of :func:`track` (the wrapper that re-logged executability is gone)."""
    return track(reward)


AsyncTrackedReward = TrackedReward


def rl_dataset(tasks: Sequence[Task], guide_prompt: Callable[[Task], str]):  # -> datasets.Dataset
    """The RL training set: ``prompt`` (one user turn) and the task columns, one row per task."""
    import datasets

    if not tasks:
        raise ConfigError("the RL training set is empty: no tasks were loaded")
    return datasets.Dataset.from_list([{"prompt": prompt_messages(guide_prompt(t)), **t.to_dict()} for t in tasks])


def build_rl_trainer(
    recipe: RLRecipe, dataset: Any, reward_funcs: list[Any], *, callbacks: list[Any] | None = None
) -> Any:
    """A ready ``GRPOTrainer``/``RLOOTrainer`` for ``recipe`` (not yet trained).

    Args:
        recipe: Model path, algorithm and ``trainer:`` fields.
        dataset: From :func:`rl_dataset`.
        reward_funcs: Reward callables (``ExecTuneReward`` and any others) or reward models.
        callbacks: Extra trainer callbacks.

    Returns:
        The trainer.
    """
    trl = require_trl()
    tokenizer = load_tokenizer(recipe.model)
    config_cls, trainer_cls = (
        (trl.GRPOConfig, trl.GRPOTrainer) if recipe.algorithm == "grpo" else (trl.RLOOConfig, trl.RLOOTrainer)
    )
    args = trainer_args(config_cls, recipe.output_dir, recipe.trainer)
    trainer = trainer_cls(
        model=recipe.model, reward_funcs=reward_funcs, args=args, train_dataset=dataset,
        processing_class=tokenizer, callbacks=callbacks or None,
    )
    return quiet_progress(trainer, recipe.output_dir)


def _reward_series(history: list[dict[str, Any]]) -> list[float]:
    return [float(h["reward"]) for h in history if "reward" in h and h["reward"] == h["reward"]]


def run_rl(
    recipe: RLRecipe,
    *,
    tasks: Sequence[Task],
    reward: Any,
    guide_prompt: Callable[[Task], str],
    callbacks: list[Any] | None = None,
) -> RLResult:
    """Train the guide with GRPO or RLOO on ``tasks`` with ``reward``.

    Args:
        recipe: The RL recipe (model, algorithm, trainer fields, output folder).
        tasks: Training tasks.
        reward: The reward callable (usually an ``ExecTuneReward``), or a list of them.
        guide_prompt: The guide's prompt for a task.
        callbacks: Extra trainer callbacks.

    Returns:
        An :class:`RLResult`; the guide is saved in ``recipe.output_dir``.
    """
    dataset = rl_dataset(tasks, guide_prompt)
    reward_funcs = list(reward) if isinstance(reward, (list, tuple)) else [reward]
    trainer = build_rl_trainer(recipe, dataset, reward_funcs, callbacks=callbacks)
    start = time.perf_counter()
    trainer.train()
    runtime = time.perf_counter() - start
    trainer.save_model(recipe.output_dir)
    trainer.processing_class.save_pretrained(recipe.output_dir)
    history = list(trainer.state.log_history)
    save_log_history(history, recipe.output_dir, stage=recipe.algorithm)
    rewards = _reward_series(history)
    return RLResult(
        output_dir=Path(recipe.output_dir), algorithm=recipe.algorithm, steps=int(trainer.state.global_step),
        n_prompts=len(dataset), runtime_s=runtime,
        first_reward=rewards[0] if rewards else None, last_reward=rewards[-1] if rewards else None,
    )
