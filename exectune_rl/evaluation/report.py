"""The paper-style report: a markdown table and matplotlib plots.

The table has one row per method, in the order given (core alone, + base guide, + SFT guide,
+ RL guide, ...), like the paper's GSM8K table, with accuracy, guide-averaged executability and
their intervals, tokens and money per task. Plots: accuracy against cost per method, and
executability and reward over training steps from the trainers' logs.

Example:
    >>> print(markdown_table([]).splitlines()[0])
    | Method | Accuracy % [95% CI] | Executability % [95% CI] | Format ok % | Leak % | Guide tok/task | Core tok/task | $/task |
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exectune_rl.errors import MissingDependencyError
from exectune_rl.evaluation.results import MethodResult

__all__ = ["markdown_table", "write_report", "plot_accuracy_vs_cost", "plot_training_curves", "training_series"]

logger = logging.getLogger(__name__)

_HEADER = (
    "| Method | Accuracy % [95% CI] | Executability % [95% CI] | Format ok % | Leak % "
    "| Guide tok/task | Core tok/task | $/task |"
)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _estimate(e: Any) -> str:
    return "n/a" if e is None else e.fmt()


def _cell(text: str) -> str:
    # A '|' would start a new column and a newline a new row.
    return " ".join(str(text).split()).replace("|", "\\|")


def _money(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.6f}" if x < 0.01 else f"{x:.4f}"


def _confidence(results: Sequence[MethodResult]) -> float | None:
    """The interval level of the first estimate in ``results`` (None when there is none)."""
    return next((e.confidence for r in results for e in (r.accuracy, r.executability) if e is not None), None)


def markdown_table(results: Sequence[MethodResult]) -> str:
    """The results as a markdown table (one row per method, in order).

    Args:
        results: Method results.

    Returns:
        The table as a string (header, separator, rows).
    """
    level = _confidence(results)
    header = _HEADER if level is None else _HEADER.replace("95%", f"{100 * level:g}%")
    lines = [header, "|" + "---|" * 8]
    for r in results:
        lines.append(
            f"| {_cell(r.name)} | {_estimate(r.accuracy)} | {_estimate(r.executability)} "
            f"| {_pct(r.format_rate)} | {_pct(r.leak_rate)} | {r.guide_tokens_per_task:.1f} "
            f"| {r.core_tokens_per_task:.1f} | {_money(r.cost_usd_per_task)} |"
        )
    return "\n".join(lines)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display on servers
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "train", "plotting the report") from exc
    return plt


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_accuracy_vs_cost(results: Sequence[MethodResult], path: str | Path) -> Path:
    """Scatter accuracy (with its interval) against cost per task, one point per method.

    Cost is money per task where every method has a price, else tokens per task
    (guide + core), and the axis says which.
    """
    plt = _pyplot()
    results = [r for r in results if r.accuracy is not None]  # nothing measured: nothing to place
    use_money = all(r.cost_usd_per_task is not None for r in results) and results
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        x = r.cost_usd_per_task if use_money else r.guide_tokens_per_task + r.core_tokens_per_task
        y = 100 * r.accuracy.value
        err = [[y - 100 * r.accuracy.low], [100 * r.accuracy.high - y]]
        ax.errorbar([x], [y], yerr=err, fmt="o", capsize=4, label=r.name)
        ax.annotate(r.name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("cost per task (USD)" if use_money else "tokens per task (guide + core)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs cost")
    ax.grid(alpha=0.3)
    if results:
        ax.legend(fontsize=8)
    return _save(plt, fig, path)


_EXEC_KEY = re.compile(r"execut", re.IGNORECASE)


def training_series(history: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Pick reward and executability series out of a trainer's log history.

    Returns:
        ``{metric name: [(step, value), ...]}`` for ``reward`` and every logged key that
        mentions execution (``executability``, a reward component such as ``.../executed``).
    """
    series: dict[str, list[tuple[float, float]]] = {}
    for entry in history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(float(value)):
                continue
            if key == "reward" or (_EXEC_KEY.search(key) and not key.endswith("/std")):
                series.setdefault(key, []).append((float(step), float(value)))
    return series


def _preferred(series: dict[str, list[tuple[float, float]]]) -> dict[str, list[tuple[float, float]]]:
    """Keep ``reward`` and, when logged, the executability series only (else every execution key)."""
    exact = {k: v for k, v in series.items() if k.endswith("executability")}
    rest = exact or {k: v for k, v in series.items() if k != "reward"}
    return {**({"reward": series["reward"]} if "reward" in series else {}), **rest}


def _moving_average(values: Sequence[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_training_curves(logs: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path) -> Path | None:
    """Plot executability (left) and reward (right) over training steps, one line per run.

    Args:
        logs: ``{run label: trainer log history}``.
        path: PNG file to write.

    Returns:
        The file, or None when no log holds a reward or executability series.
    """
    per_run = {label: _preferred(training_series(h)) for label, h in logs.items()}
    if not any(per_run.values()):
        return None
    plt = _pyplot()
    fig, (ax_exec, ax_rew) = plt.subplots(1, 2, figsize=(10, 4))
    for label, series in per_run.items():
        for key, points in series.items():
            xs, ys = zip(*points)
            target = ax_rew if key == "reward" else ax_exec
            name = label if key == "reward" else f"{label}: {key}"
            # Per-step values of small batches are noisy: raw points faint, a moving average on top.
            line = target.plot(xs, ys, alpha=0.3, linewidth=1)[0]
            target.plot(xs, _moving_average(ys, 10), color=line.get_color(), linewidth=2, label=f"{name} (10-step mean)")
    for ax, title in ((ax_exec, "Executability over training"), (ax_rew, "Reward over training")):
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return _save(plt, fig, path)


def write_report(
    results: Sequence[MethodResult],
    output_dir: str | Path,
    *,
    title: str = "ExecTune evaluation",
    logs: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write ``report.md`` plus ``accuracy_vs_cost.png`` and ``training_curves.png``.

    Args:
        results: Method results, in table order.
        output_dir: Destination folder.
        title: Report heading.
        logs: Training log histories to plot, by run label.
        notes: Extra lines under the table (what is synthetic, sizes, runtimes).

    Returns:
        The path of ``report.md``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = [f"# {title}", "", markdown_table(results), ""]
    guided = [r for r in results if r.k > 0]
    if results:
        r0 = guided[0] if guided else results[0]
        level = _confidence(results)
        confidence = 0.95 if level is None else level
        parts.append(
            f"{r0.n_tasks} held-out tasks. Accuracy: one greedy strategy per task, m = {r0.m} core run(s) each, "
            f"Wilson interval. Executability: k = {r0.k} sampled strategies per task x m core runs, the reward "
            f"module's definition (exectune_rl.rewards.metrics, the number `exectune score` and the trainer logs "
            f"report): the mean over tasks of the mean over their sampled strategies, a strategy that fails the "
            f"format gate or leaks counting as not executed, runs lost to the infrastructure left out; bootstrap "
            f"interval over tasks. Format ok % and Leak % are over the sampled strategies that were scored. Intervals are "
            f"{int(100 * confidence)}%. Tokens and money: per task for one strategy and one core run; "
            "n/a where a model has no price."
        )
    parts.append("")
    for note in notes:  # separate paragraphs in markdown
        parts.extend([note, ""])
    plot = plot_accuracy_vs_cost(results, out / "accuracy_vs_cost.png")
    parts.append(f"![accuracy vs cost]({plot.name})")
    curves = plot_training_curves(logs or {}, out / "training_curves.png")
    if curves is not None:
        parts.append(f"![executability and reward over training]({curves.name})")
    path = out / "report.md"
    path.write_text("\n".join(parts) + "\n")
    return path
