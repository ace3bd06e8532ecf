"""Evaluation: accuracy, guide-averaged executability, tokens and money per method, and the report.

Example:
    >>> from exectune_rl.evaluation import EvalRecipe, run_eval           # doctest: +SKIP
    >>> outcome = run_eval(parse_recipe(EvalRecipe, "examples/synthetic_eval.yaml"))   # doctest: +SKIP
"""

from __future__ import annotations

from exectune_rl._lazy import lazy_exports

_EXPORTS = {
    "EvalRecipe": "config", "MethodConfig": "config",
    "evaluate_method": "evaluate", "evaluate_core_alone": "evaluate", "generate_strategies": "evaluate",
    "Estimate": "results", "TaskResult": "results", "MethodResult": "results", "proportion": "results",
    "save_results": "results", "load_results": "results",
    "markdown_table": "report", "write_report": "report", "plot_accuracy_vs_cost": "report",
    "plot_training_curves": "report", "training_series": "report",
    "EvalOutcome": "run", "run_eval": "run",
    "DemoConfig": "demo", "DemoOutcome": "demo", "run_demo": "demo",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
