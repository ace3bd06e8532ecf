"""Run an :class:`~exectune_rl.evaluation.config.EvalRecipe`: every method, then the report.

Example:
    >>> outcome = run_eval(parse_recipe(EvalRecipe, "examples/synthetic_eval.yaml"))   # doctest: +SKIP
    >>> print(outcome.report_path.read_text())                                       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.evaluation.config import EvalRecipe, MethodConfig
from exectune_rl.evaluation.evaluate import evaluate_core_alone, evaluate_method
from exectune_rl.evaluation.report import write_report
from exectune_rl.evaluation.results import MethodResult, save_results

__all__ = ["EvalOutcome", "run_eval", "check_guides"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalOutcome:
    """What ``exectune eval`` produced."""

    results: tuple[MethodResult, ...]
    report_path: Path
    results_path: Path
    runtime_s: float


def _guide(method: MethodConfig, recipe: EvalRecipe, stack: ExitStack, cache: Any, problems: Any) -> Any:
    from exectune_rl.training.components import build_core

    if method.model is not None:
        from exectune_rl.cores.transformers import TransformersCore

        # Not cached: a checkpoint folder is often retrained in place, and the cache key
        # (model name + request) cannot see that the weights changed.
        try:
            core = TransformersCore(method.model, batch_size=recipe.batch_size, model_name=f"guide:{method.model}")
        except (OSError, ValueError) as exc:
            raise ConfigError(f"method {method.name!r}: cannot load guide model {method.model!r}: {exc}") from exc
        stack.callback(core.close)
        return core
    assert method.guide is not None
    return build_core(method.guide, stack=stack, cache=cache, problems=problems, namespace=f"guide:{method.name}")


def _looks_local(model: str) -> bool:
    # A hub id is "name" or "org/name"; anything else is a folder on this machine.
    return Path(model).is_absolute() or model.startswith((".", "~")) or model.count("/") > 1 or "\\" in model


def check_guides(recipe: EvalRecipe) -> None:
    """Fail before any work when a method names a local checkpoint folder that is not there.

    Raises:
        ConfigError: Naming the method and the missing folder.
    """
    for method in recipe.methods:
        if method.model is not None and _looks_local(method.model):
            folder = Path(method.model).expanduser()
            if not (folder / "config.json").is_file():
                raise ConfigError(f"method {method.name!r}: no guide checkpoint at {method.model!r} (no config.json there)")


def _logs(recipe: EvalRecipe) -> dict[str, list[dict[str, Any]]]:
    from exectune_rl.training.trl_utils import load_log_history

    logs = {}
    for method in recipe.methods:
        if method.training_log:
            try:
                logs[method.name] = load_log_history(method.training_log)
            except Exception as exc:  # a missing log must not lose the evaluation
                logger.warning("method %r: cannot read training log %s: %s", method.name, method.training_log, exc)
    return logs


def run_eval(recipe: EvalRecipe, *, notes: tuple[str, ...] = ()) -> EvalOutcome:
    """Evaluate every method of ``recipe`` and write ``report.md``, ``results.json`` and the plots.

    Args:
        recipe: The evaluation recipe.
        notes: Extra lines for the report.

    Returns:
        An :class:`EvalOutcome`.
    """
    from exectune_rl.training.components import open_run

    start = time.perf_counter()
    check_guides(recipe)
    results: list[MethodResult] = []
    out = Path(recipe.output_dir)
    with ExitStack() as stack:
        prices = dict(recipe.prices) or None
        run = open_run(recipe, stack, prices=prices)
        tasks, reward, guide_prompt = run.tasks, run.reward, run.guide_prompt
        for method in recipe.methods:
            t0 = time.perf_counter()
            try:
                if method.model is None and method.guide is None:
                    result = evaluate_core_alone(method.name, tasks, reward, confidence=recipe.confidence, prices=prices)
                else:
                    guide = _guide(method, recipe, stack, run.cache, run.problems)
                    result = evaluate_method(
                        method.name, guide, tasks, reward, guide_prompt=guide_prompt, k=recipe.k,
                        temperature=recipe.temperature, max_tokens=recipe.max_new_tokens,
                        confidence=recipe.confidence, prices=prices,
                    )  # fmt: skip
            except Exception:
                if results:  # what was measured before the failure is kept
                    path = save_results(results, out / "results.json")
                    logger.warning("method %r failed; results of the methods before it are in %s", method.name, path)
                raise
            accuracy = result.accuracy.fmt() if result.accuracy else "n/a"
            logger.info("evaluated %s in %.1fs: accuracy %s", method.name, time.perf_counter() - t0, accuracy)
            results.append(result)
    results_path = save_results(results, out / "results.json")
    report = write_report(results, out, title=recipe.title, logs=_logs(recipe), notes=notes)
    return EvalOutcome(tuple(results), report, results_path, time.perf_counter() - start)
