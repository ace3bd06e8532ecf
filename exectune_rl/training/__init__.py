"""Training recipes: acceptance sampling, SFT warm start, GRPO/RLOO, and the offline synthetic demo.

Nothing heavy is imported until a name is used: ``import exectune_rl.training`` does not import
torch, transformers or trl (those come with the ``train`` extra).

Example:
    >>> from exectune_rl.training import SampleRecipe, parse_recipe
    >>> recipe = parse_recipe(SampleRecipe, "examples/synthetic_sample.yaml")   # doctest: +SKIP
    >>> run_sample(recipe).stats.acceptance_rate                              # doctest: +SKIP
"""

from __future__ import annotations

from exectune_rl._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "TaskSourceConfig": "config", "CoreConfig": "config", "CacheConfig": "config", "TinyModelConfig": "config",
    "SampleRecipe": "config", "SFTRecipe": "config", "RLRecipe": "config",
    "parse_recipe": "recipe", "parse_recipe_dict": "recipe", "apply_overrides": "recipe",
    "Verdict": "sampling", "StrategyJudge": "sampling", "Candidate": "sampling", "AcceptanceStats": "sampling",
    "AcceptanceResult": "sampling", "acceptance_sample": "sampling",
    "RewardJudge": "judge",
    "sft_rows": "sft_data", "write_acceptance_outputs": "sft_data", "load_sft_dataset": "sft_data",
    "SFTResult": "sft", "run_sft": "sft", "build_sft_trainer": "sft",
    "RLResult": "rl", "TrackedReward": "rl", "rl_dataset": "rl", "run_rl": "rl", "build_rl_trainer": "rl",
    "SampleOutcome": "pipeline", "run_sample": "pipeline", "run_grpo": "pipeline",
    "load_tasks": "components", "build_core": "components", "build_reward": "components",
    "guide_prompt_fn": "components", "program_prompt_builder": "components",
    "DemoConfig": "demo", "DemoOutcome": "demo", "run_demo": "demo",
    "build_tiny_guide": "tiny", "TinyGuideSpec": "tiny",
    "ScriptedTeacher": "synthetic", "make_arith_problems": "synthetic", "arith_tasks": "synthetic",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
