"""What ``exectune demo`` reports: ``results.json``, the paired difference, the cost table, the plots.

``results.json`` (beside ``report.md``)::

    {"methods": {"untrained": {...}, "sft": {...}, "sft_sharpened": {...}, "grpo": {...}, "grpo_cost": {...}},
     "paired_diff": ..., "paired_ci_low": ..., "paired_ci_high": ...,   # grpo - sft, same tasks
     "paired": {"grpo - sft": {...}, "grpo - sft_sharpened": {...}, "grpo_cost - grpo": {...}}, ...}

each method with ``executability``, ``ci_low``, ``ci_high`` (guide-averaged executability at the
method's temperature, bootstrap interval over tasks), ``greedy_accuracy`` (one greedy strategy
per task), ``strategy_tokens`` (guide tokens of the greedy strategy), ``core_tokens`` and
``usd_per_task``.

Example:
    >>> paired_difference([1.0, 0.5, 1.0], [0.5, 0.5, 0.0])["diff"]
    0.5
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exectune_rl.evaluation.results import MethodResult, save_results

__all__ = ["task_rates", "paired_difference", "demo_results", "write_demo_report", "plot_grpo_runs"]


def task_rates(result: MethodResult) -> dict[str, float]:
    """Per-task executability (executed runs over the scored sampled runs) of one method."""
    out = {}
    for t in result.tasks:
        scored = (result.k - t.infra) * result.m
        if scored > 0:
            out[t.task_id] = t.executed / scored
    return out


def paired_difference(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95,
                      resamples: int = 2000, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """Mean of ``a[i] - b[i]`` over tasks with a paired bootstrap interval (tasks resampled together).

    Args:
        a / b: Per-task values of two methods on the same tasks, in the same order.
        confidence: Interval coverage.
        resamples: Bootstrap resamples.
        seed: Seed of the resampling (the interval is reproducible).

    Returns:
        ``{"diff", "ci_low", "ci_high", "n"}``.
    """
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    if n == 0:
        return {"diff": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    tail = (1.0 - confidence) / 2
    low, high = means[int(tail * (resamples - 1))], means[int((1 - tail) * (resamples - 1))]
    return {"diff": sum(diffs) / n, "ci_low": low, "ci_high": high, "n": n}


def _paired(results: Mapping[str, MethodResult], x: str, y: str) -> dict[str, float] | None:
    if x not in results or y not in results:
        return None
    ra, rb = task_rates(results[x]), task_rates(results[y])
    ids = [t for t in ra if t in rb]
    return paired_difference([ra[t] for t in ids], [rb[t] for t in ids])


def _method(r: MethodResult, temperature: float) -> dict[str, Any]:
    e, g = r.executability, r.accuracy
    return {
        "label": r.name, "temperature": temperature,
        "executability": None if e is None else e.value, "ci_low": None if e is None else e.low,
        "ci_high": None if e is None else e.high,
        "greedy_accuracy": None if g is None else g.value, "greedy_ci_low": None if g is None else g.low,
        "greedy_ci_high": None if g is None else g.high,
        "strategy_tokens": r.guide_tokens_per_task, "core_tokens": r.core_tokens_per_task,
        "usd_per_task": r.cost_usd_per_task, "format_rate": r.format_rate, "n_tasks": r.n_tasks, "k": r.k,
    }  # fmt: skip


def demo_results(results: Mapping[str, MethodResult], *, control_temperature: float,
                 temperature_scan: Mapping[str, Any], cfg: Any) -> dict[str, Any]:  # fmt: skip
    """The ``results.json`` mapping (see the module docstring) and the targets it meets."""
    temps = {k: (control_temperature if k == "sft_sharpened" else cfg.eval_temperature) for k in results}
    methods = {k: _method(r, temps[k]) for k, r in results.items()}
    paired = {f"{x} - {y}": _paired(results, x, y) for x, y in
              (("grpo", "sft"), ("grpo", "sft_sharpened"), ("grpo_cost", "grpo"), ("grpo_cost", "sft"))}  # fmt: skip
    main = paired["grpo - sft"] or {}
    out: dict[str, Any] = {
        "methods": methods, "paired_diff": main.get("diff"), "paired_ci_low": main.get("ci_low"),
        "paired_ci_high": main.get("ci_high"), "paired": {k: v for k, v in paired.items() if v is not None},
        "control_temperature": control_temperature, "control_temperature_scan": dict(temperature_scan),
    }  # fmt: skip
    out["targets"] = _targets(methods, paired)
    return out


def _targets(m: Mapping[str, Any], paired: Mapping[str, Any]) -> dict[str, Any]:
    t: dict[str, Any] = {}
    if "grpo" in m and "sft" in m:
        t["grpo_above_sft_disjoint_intervals"] = m["grpo"]["ci_low"] > m["sft"]["ci_high"]
        t["paired_interval_above_0"] = paired["grpo - sft"]["ci_low"] > 0
    if "sft_sharpened" in m and "grpo" in m:
        t["grpo_above_sharpened_control"] = paired["grpo - sft_sharpened"]["ci_low"] > 0
    if "grpo_cost" in m and "sft" in m and m["sft"]["strategy_tokens"]:
        cut = 1.0 - m["grpo_cost"]["strategy_tokens"] / m["sft"]["strategy_tokens"]
        t["cost_aware_token_cut_vs_sft"] = cut
        t["cost_aware_cut_at_least_20pct"] = cut >= 0.20
        gap = m["grpo"]["executability"] - m["grpo_cost"]["executability"]
        t["cost_aware_executability_gap_points"] = 100 * gap
        t["cost_aware_within_3_points"] = abs(gap) <= 0.03
    return t


def _series(history: Sequence[Mapping[str, Any]], suffix: str) -> list[tuple[float, float]]:
    points = []
    for entry in history:
        key = next((k for k in entry if k.endswith(suffix) and not k.endswith("/std")), None)
        if key is not None and entry.get("step") is not None and entry[key] == entry[key]:
            points.append((float(entry["step"]), float(entry[key])))
    return points


def _smooth(ys: Sequence[float], window: int = 15) -> list[float]:
    return [sum(ys[max(0, i - window + 1) : i + 1]) / len(ys[max(0, i - window + 1) : i + 1]) for i in range(len(ys))]


def plot_grpo_runs(logs: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path) -> Path | None:
    """Executability (left) and strategy tokens (right) over GRPO steps, one line per run."""
    from exectune_rl.evaluation.report import _pyplot, _save

    series = {label: (_series(h, "/executability"), _series(h, "completions/mean_length")) for label, h in logs.items()}
    if not any(e or n for e, n in series.values()):
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for label, pair in series.items():
        for ax, points in zip(axes, pair):
            if points:
                xs, ys = zip(*points)
                line = ax.plot(xs, ys, alpha=0.25, linewidth=1)[0]
                ax.plot(xs, _smooth(ys), color=line.get_color(), linewidth=2, label=f"{label} (15-step mean)")
    for ax, title in zip(axes, ("Executability over GRPO steps (training batches)", "Strategy tokens over GRPO steps")):
        ax.set_xlabel("step")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _usd(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.7f}"


def _table(summary: Mapping[str, Any]) -> list[str]:
    lines = ["| Method | T | Executability % [95% CI] | Greedy accuracy % [95% CI] | Strategy tok | Core tok/task | $/task |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, m in summary["methods"].items():
        lines.append(
            f"| {key}: {m['label']} | {m['temperature']:g} | {_pct(m['executability'])} [{_pct(m['ci_low'])}, "
            f"{_pct(m['ci_high'])}] | {_pct(m['greedy_accuracy'])} [{_pct(m['greedy_ci_low'])}, {_pct(m['greedy_ci_high'])}] "
            f"| {m['strategy_tokens']:.1f} | {m['core_tokens']:.1f} | {_usd(m['usd_per_task'])} |"
        )
    return lines


def _paired_lines(summary: Mapping[str, Any]) -> list[str]:
    lines = ["| Paired difference (same tasks) | points [95% CI] |", "|---|---|"]
    for name, p in summary["paired"].items():
        lines.append(f"| {name} | {100 * p['diff']:+.1f} [{100 * p['ci_low']:+.1f}, {100 * p['ci_high']:+.1f}] |")
    return lines


def _verdict(summary: Mapping[str, Any]) -> str:
    """The report's plain statement of what the gain is."""
    m, p = summary["methods"], summary["paired"]
    if "grpo" not in m or "sft" not in m:
        return ""
    parts = [f"GRPO at T={m['grpo']['temperature']:g} vs SFT at the same temperature: "
             f"{100 * p['grpo - sft']['diff']:+.1f} points of executability."]  # fmt: skip
    if "grpo - sft_sharpened" in p:
        d = p["grpo - sft_sharpened"]
        if d["ci_low"] > 0:
            what = "GRPO is above the sharpened control too: part of the gain is more than sharpening."
        elif d["ci_high"] < 0:
            what = "GRPO is below the sharpened control: the gain is sharpening, and a lower temperature gets more of it."
        else:
            what = "GRPO is level with the sharpened control: the gain is sharpening, which a lower temperature also gets."
        parts.append(f"Against SFT at its best temperature T={summary['control_temperature']:g} "
                     f"(chosen on a separate validation slice): {100 * d['diff']:+.1f} points "
                     f"[{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]. {what}")  # fmt: skip
    g_sft, g_rl = m["sft"]["greedy_accuracy"], m["grpo"]["greedy_accuracy"]
    if g_sft is not None and g_rl is not None:
        parts.append(f"Greedy accuracy: SFT {_pct(g_sft)}, GRPO {_pct(g_rl)}.")
    t = summary.get("targets", {})
    if "cost_aware_token_cut_vs_sft" in t:
        parts.append(f"The cost-aware guide writes {100 * t['cost_aware_token_cut_vs_sft']:.0f}% fewer strategy tokens "
                     f"than SFT; its executability is {t['cost_aware_executability_gap_points']:+.1f} points below "
                     "cost-free GRPO (negative: above).")  # fmt: skip
    return " ".join(parts)


def write_demo_report(cfg: Any, results: Mapping[str, MethodResult], summary: dict[str, Any], sampled: Any, *,
                      prices: Mapping[str, Any]) -> Path:  # fmt: skip
    """Write ``report.md`` (the paper-style table, then the demo's tables), ``results.json`` and the plots."""
    from exectune_rl.evaluation.report import write_report
    from exectune_rl.training.trl_utils import load_log_history

    out = Path(cfg.output_dir) / "report"
    logs = {}
    for key in ("grpo", "grpo_cost"):
        try:
            logs[key] = load_log_history(Path(cfg.output_dir) / key)
        except Exception:  # a run that was skipped has no log
            continue
    s = sampled.stats
    notes = (
        "SYNTHETIC recipe: arithmetic word problems; the guide writes a Python program as its strategy. The core is "
        f"SCRIPTED: StepCalculatorCore carries out at most {cfg.core_max_ops} operation per line (a strong executor "
        "would accept `print(a + b - c)`; this one stops there). The teacher is SCRIPTED: correct strategies in three "
        f"styles (compact, stepwise, verbose; weights {1 - cfg.p_stepwise - cfg.p_verbose:.2f}/{cfg.p_stepwise}/"
        f"{cfg.p_verbose}) and deliberately flawed ones. Money: the core priced at an ASSUMED "
        f"${cfg.core_usd_per_mtok[0]}/${cfg.core_usd_per_mtok[1]} per 1M input/output tokens, the local guide at $0.",
        f"Acceptance sampling against this core: {s.n_accepted} of {s.n_candidates} teacher strategies accepted "
        f"({100 * s.acceptance_rate:.1f}%), rejections {s.rejections}; {sampled.n_rows} SFT rows.",
        f"Step timings (s): {summary.get('timings_s', {})}.",
    )
    report = write_report(list(results.values()), out, title="ExecTune synthetic end-to-end recipe (SYNTHETIC data, "
                          "scripted teacher, scripted core with limits, tiny guide)", logs=logs, notes=notes)  # fmt: skip
    extra = ["", "## Held-out comparison", "", *_table(summary), "", *_paired_lines(summary), "", _verdict(summary), ""]
    plot = plot_grpo_runs(logs, out / "grpo_runs.png")
    if plot is not None:
        extra.append(f"![executability and strategy tokens over GRPO steps]({plot.name})")
    report.write_text(report.read_text() + "\n".join(extra) + "\n")
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=str))
    save_results(list(results.values()), out / "method_results.json")
    return report


