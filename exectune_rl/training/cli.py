"""``exectune sample | sft | grpo``: the training recipe steps from the command line.

They read a YAML recipe (``--config``, see ``examples/``); any field can be overridden with
``--set key.sub=value`` (repeatable). ``exectune demo`` lives with the evaluation
(:mod:`exectune_rl.evaluation.cli`): it ends in one.

Example:
    $ exectune sample --config examples/synthetic_sample.yaml
    $ exectune grpo --config examples/synthetic_grpo.yaml --set trainer.max_steps=10
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the arguments of ``command`` (sample, sft or grpo) to ``parser``."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe field, e.g. trainer.max_steps=10 (repeatable)")  # fmt: skip
    parser.add_argument("--output-dir", default=None, help="override the recipe's output_dir")
    parser.add_argument("--config", required=True, help="YAML recipe (see examples/)")
    if command == "grpo":
        parser.add_argument("--algorithm", choices=("grpo", "rloo"), default=None, help="override the recipe's algorithm")


def _overrides(args: argparse.Namespace) -> list[str]:
    extra = list(args.overrides)
    if args.output_dir:
        extra.append(f"output_dir={args.output_dir}")
    if getattr(args, "algorithm", None):
        extra.append(f"algorithm={args.algorithm}")
    return extra


def _sample(args: argparse.Namespace) -> int:
    from exectune_rl.training.config import SampleRecipe
    from exectune_rl.training.pipeline import run_sample
    from exectune_rl.training.recipe import parse_recipe

    out = run_sample(parse_recipe(SampleRecipe, args.config, _overrides(args)))
    s = out.stats
    print(f"accepted {s.n_accepted}/{s.n_candidates} strategies ({100 * s.acceptance_rate:.1f}%), "
          f"{s.tasks_with_accepted}/{s.n_tasks} tasks covered, per round {list(s.accepted_per_round)}, "
          f"rejections {s.rejections}; cache hits {out.cache_hits}, misses {out.cache_misses}; "
          f"{out.n_rows} rows -> {out.output_dir} ({out.runtime_s:.1f}s)")  # fmt: skip
    return 0


def _sft(args: argparse.Namespace) -> int:
    from exectune_rl.training.config import SFTRecipe
    from exectune_rl.training.recipe import parse_recipe
    from exectune_rl.training.sft import run_sft

    out = run_sft(parse_recipe(SFTRecipe, args.config, _overrides(args)))
    loss = "n/a" if out.train_loss is None else f"{out.train_loss:.4f}"
    print(f"SFT: {out.n_examples} examples, {out.steps} steps, train loss {loss}, "
          f"{out.runtime_s:.1f}s -> {out.output_dir}")  # fmt: skip
    return 0


def _grpo(args: argparse.Namespace) -> int:
    from exectune_rl.training.config import RLRecipe
    from exectune_rl.training.pipeline import run_grpo
    from exectune_rl.training.recipe import parse_recipe

    out = run_grpo(parse_recipe(RLRecipe, args.config, _overrides(args)))
    fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    print(f"{out.algorithm.upper()}: {out.steps} steps on {out.n_prompts} prompts, reward {fmt(out.first_reward)} -> "
          f"{fmt(out.last_reward)}, {out.runtime_s:.1f}s -> {out.output_dir}")  # fmt: skip
    return 0


_COMMANDS = {"sample": _sample, "sft": _sft, "grpo": _grpo}


def run(args: argparse.Namespace) -> int:
    """Run the subcommand in ``args.command`` (recipe errors: exit 2, through ``cli.main``)."""
    return _COMMANDS[args.command](args)
