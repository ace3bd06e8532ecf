"""The recipe steps as functions: what ``exectune sample`` and ``exectune grpo`` run.

Each takes a parsed recipe, builds its parts (tasks, cores, cache, reward), runs, writes its
outputs and closes what it opened, sandboxes and worker processes included.

Example:
    >>> outcome = run_sample(parse_recipe(SampleRecipe, "examples/synthetic_sample.yaml"))  # doctest: +SKIP
    >>> outcome.stats.acceptance_rate                                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exectune_rl.training.components import build_core, open_run, reward_config
from exectune_rl.training.config import RLRecipe, SampleRecipe
from exectune_rl.training.judge import RewardJudge
from exectune_rl.training.recipe import recipe_to_dict
from exectune_rl.training.rl import RLResult, run_rl
from exectune_rl.training.sampling import AcceptanceStats, acceptance_sample
from exectune_rl.training.sft_data import sft_rows, write_acceptance_outputs

__all__ = ["SampleOutcome", "run_sample", "run_grpo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleOutcome:
    """What ``exectune sample`` produced."""

    output_dir: Path
    stats: AcceptanceStats
    n_rows: int
    cache_hits: int
    cache_misses: int
    runtime_s: float


def _save_recipe(recipe: Any, output_dir: str | Path, name: str) -> None:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(json.dumps(recipe_to_dict(recipe), indent=2, default=str))


def run_sample(recipe: SampleRecipe) -> SampleOutcome:
    """Teacher-guided acceptance sampling as a recipe describes it; writes the SFT dataset.

    Args:
        recipe: Tasks, teacher, target core, reward, k, revision rounds, output folder.

    Returns:
        A :class:`SampleOutcome` (statistics, rows written, cache hits and misses).
    """
    start = time.perf_counter()
    with ExitStack() as stack:
        run = open_run(recipe, stack)
        teacher = build_core(recipe.teacher, stack=stack, cache=run.cache, problems=run.problems, namespace="teacher")
        result = acceptance_sample(
            run.tasks, teacher, RewardJudge(run.reward), guide_prompt=run.guide_prompt, k=recipe.k,
            revision_rounds=recipe.revision_rounds, temperature=recipe.teacher_temperature,
            max_tokens=recipe.teacher_max_tokens,
        )  # fmt: skip
        stats = run.cache.stats()
        tasks, guide_prompt, tag = run.tasks, run.guide_prompt, run.reward.config.strategy_tag
    rows = sft_rows(result, tasks, guide_prompt, keep_per_task=recipe.keep_per_task, tag=tag)
    runtime = time.perf_counter() - start
    extra = {"cache_hits": stats.hits, "cache_misses": stats.misses, "runtime_s": runtime}
    write_acceptance_outputs(result, rows, recipe.output_dir, extra_stats=extra)
    _save_recipe(recipe, recipe.output_dir, "recipe.json")
    return SampleOutcome(Path(recipe.output_dir), result.stats, len(rows), stats.hits, stats.misses, runtime)


def run_grpo(recipe: RLRecipe, *, callbacks: list[Any] | None = None) -> RLResult:
    """GRPO or RLOO as a recipe describes it (tasks, target core, reward, trainer fields).

    Args:
        recipe: The RL recipe.
        callbacks: Extra trainer callbacks.

    Returns:
        The :class:`~exectune_rl.training.rl.RLResult`.
    """
    from exectune_rl.training.trl_utils import check_trainer_fields, load_tokenizer, require_trl

    trl = require_trl()
    # The trainer: block first: a wrong key or type fails before any model, task or core is loaded.
    check_trainer_fields(trl.GRPOConfig if recipe.algorithm == "grpo" else trl.RLOOConfig, recipe.trainer)
    reward_config(recipe.reward)
    tokenizer = load_tokenizer(recipe.model)  # before the core: a bad path fails fast
    with ExitStack() as stack:
        run = open_run(recipe, stack, tokenizer=tokenizer)
        result = run_rl(recipe, tasks=run.tasks, reward=run.reward, guide_prompt=run.guide_prompt, callbacks=callbacks)
    _save_recipe(recipe, recipe.output_dir, "recipe.json")
    return result
