"""``exectune eval``: evaluate methods on held-out tasks and write the paper-style report.

Example:
    $ exectune eval --config examples/synthetic_eval.yaml --set k=8
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser, command: str = "eval") -> None:
    """Add ``exectune eval``'s arguments to ``parser``."""
    parser.add_argument("--config", required=True, help="YAML evaluation recipe (see examples/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe field, e.g. k=8 (repeatable)")  # fmt: skip
    parser.add_argument("--output-dir", default=None, help="override the recipe's output_dir")


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; prints the markdown table (recipe errors: exit 2, through ``cli.main``)."""
    from exectune_rl.evaluation.config import EvalRecipe
    from exectune_rl.evaluation.report import markdown_table
    from exectune_rl.evaluation.run import run_eval
    from exectune_rl.training.recipe import parse_recipe

    overrides = list(args.overrides) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    outcome = run_eval(parse_recipe(EvalRecipe, args.config, overrides))
    print(markdown_table(outcome.results))
    print(f"report: {outcome.report_path} ({outcome.runtime_s:.1f}s)")
    return 0
