"""The paper-style markdown table and the matplotlib plots."""

from __future__ import annotations

from exectune_rl.evaluation.report import markdown_table, plot_training_curves, training_series, write_report
from exectune_rl.evaluation.results import Estimate, MethodResult, load_results, proportion, save_results


def _result(name: str, acc: float, exe: float | None, usd: float | None = None, k: int = 4) -> MethodResult:
    return MethodResult(
        name=name, accuracy=proportion(acc * 50, 50), executability=None if exe is None else Estimate(exe, exe - 0.1, exe + 0.05, 200),
        format_rate=None if exe is None else 0.9, leak_rate=None if exe is None else 0.02, guide_tokens_per_task=0.0 if exe is None else 30.0,
        core_tokens_per_task=250.0, cost_usd_per_task=usd, n_tasks=50, k=0 if exe is None else k, m=1,
    )  # fmt: skip


def test_table_has_one_row_per_method_in_order_with_intervals():
    table = markdown_table([_result("core alone", 0.7, None, 0.0002), _result("+ SFT guide", 0.8, 0.75, 0.00031)])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[1] == "|---|---|---|---|---|---|---|---|"
    assert lines[2].startswith("| core alone | 70.0 [") and "| n/a |" in lines[2] and "0.000200" in lines[2]
    assert lines[3].startswith("| + SFT guide | 80.0 [") and "| 75.0 [65.0, 80.0] |" in lines[3] and "| 90.0 | 2.0 | 30.0 | 250.0 |" in lines[3]


def test_training_series_picks_reward_and_executability_only():
    history = [
        {"step": 1, "reward": 0.5, "exectune/executability": 0.4, "loss": 1.0, "exectune/execution": 0.45},
        {"step": 2, "reward": 0.7, "exectune/executability": float("nan"), "exectune/execution/std": 0.1},
        {"train_runtime": 3.0},
    ]
    series = training_series(history)
    assert series == {"reward": [(1.0, 0.5), (2.0, 0.7)], "exectune/executability": [(1.0, 0.4)], "exectune/execution": [(1.0, 0.45)]}


def test_report_writes_markdown_and_real_pngs(tmp_path):
    results = [_result("core alone", 0.7, None), _result("+ GRPO guide", 0.9, 0.85)]
    logs = {"grpo": [{"step": s, "reward": s / 10, "exectune/executability": s / 12} for s in range(1, 6)]}
    path = write_report(results, tmp_path, logs=logs, notes=("SYNTHETIC.",))
    text = path.read_text()
    assert "| + GRPO guide | 90.0 [" in text and "SYNTHETIC." in text and "k = 4" in text
    for png in ("accuracy_vs_cost.png", "training_curves.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"]({png})" in text
    assert plot_training_curves({"sft": [{"step": 1, "loss": 2.0}]}, tmp_path / "none.png") is None


def test_results_round_trip_through_json(tmp_path):
    results = [_result("core alone", 0.7, None), _result("+ SFT guide", 0.8, 0.75, 0.001)]
    assert load_results(save_results(results, tmp_path / "r.json")) == results
