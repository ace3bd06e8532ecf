"""``exectune eval`` (evaluate methods on held-out tasks, write the paper-style report) and
``exectune demo`` (the offline synthetic recipe end to end, ending in that report).

Example:
    $ exectune eval --config examples/synthetic_eval.yaml --set k=8
    $ exectune demo --output-dir outputs/demo
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser, command: str = "eval") -> None:
    """Add the arguments of ``exectune eval`` or ``exectune demo`` to ``parser``."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe field, e.g. k=8 (repeatable)")  # fmt: skip
    parser.add_argument("--output-dir", default=None, help="override the recipe's output_dir")
    if command == "demo":
        parser.add_argument("--quick", action="store_true", help="the shortened run the test suite uses (about a minute)")
        return
    parser.add_argument("--config", required=True, help="YAML evaluation recipe (see examples/)")


def run(args: argparse.Namespace) -> int:
    """Run the evaluation (or the demo); prints the markdown table (recipe errors: exit 2, through ``cli.main``)."""
    if getattr(args, "command", "eval") == "demo":
        return _demo(args)
    from exectune_rl.evaluation.config import EvalRecipe
    from exectune_rl.evaluation.report import markdown_table
    from exectune_rl.evaluation.run import run_eval
    from exectune_rl.training.recipe import parse_recipe

    overrides = list(args.overrides) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    outcome = run_eval(parse_recipe(EvalRecipe, args.config, overrides))
    print(markdown_table(outcome.results))
    print(f"report: {outcome.report_path} ({outcome.runtime_s:.1f}s)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from exectune_rl.evaluation.demo import QUICK, DemoConfig, run_demo
    from exectune_rl.training.recipe import apply_overrides, parse_recipe_dict

    base: dict[str, Any] = dict(QUICK) if args.quick else {}
    if args.output_dir:
        base["output_dir"] = args.output_dir
    cfg = parse_recipe_dict(DemoConfig, apply_overrides(base, args.overrides))
    out = run_demo(cfg)
    print(out.report_path.read_text())
    print(f"report: {out.report_path}; step timings (s): {out.timings_s}")
    return 0
