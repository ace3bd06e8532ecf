"""The offline synthetic end-to-end recipe: the shortened run, and the full one (slow)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from exectune_rl.cli import main  # noqa: E402
from exectune_rl.errors import ConfigError  # noqa: E402
from exectune_rl.evaluation.demo import DemoConfig, run_demo  # noqa: E402
from exectune_rl.evaluation.demo_results import paired_difference  # noqa: E402

_FIELDS = ("executability", "ci_low", "ci_high", "greedy_accuracy", "strategy_tokens", "core_tokens", "usd_per_task")


def _rewards(folder):
    from exectune_rl.training.trl_utils import load_log_history

    return [e["reward"] for e in load_log_history(folder) if "reward" in e and e["reward"] == e["reward"]]


def test_quick_demo_sft_far_above_untrained_and_grpo_reward_rises(tmp_path, capsys):
    # The whole recipe, shortened: sampling against the scripted core, tiny guide, SFT, two short
    # GRPO runs (cost-free and cost-aware), the temperature scan and the held-out evaluation.
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| untrained guide |" in printed and "| + SFT guide |" in printed and "| + GRPO guide |" in printed
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    methods = results["methods"]
    assert set(methods) == {"untrained", "sft", "sft_sharpened", "grpo", "grpo_cost"}
    for name, m in methods.items():
        assert all(m[f] is not None for f in _FIELDS), name
        assert m["ci_low"] <= m["executability"] <= m["ci_high"], name
    untrained, sft = methods["untrained"], methods["sft"]
    assert untrained["executability"] <= 0.05
    assert sft["executability"] >= 0.3 and sft["ci_low"] > untrained["ci_high"] + 0.15
    assert sft["greedy_accuracy"] >= 0.5 and sft["core_tokens"] > 0 and sft["usd_per_task"] > 0
    assert results["paired_ci_low"] <= results["paired_diff"] <= results["paired_ci_high"]
    assert results["control_temperature"] in results["config"]["control_temperatures"]
    # GRPO's training reward rises: the last third of the steps above the first third.
    rewards = _rewards(tmp_path / "grpo")
    third = len(rewards) // 3
    assert sum(rewards[-third:]) / third > sum(rewards[:third]) / third, rewards
    acc = results["acceptance"]
    assert 0 < acc["n_accepted"] < acc["n_candidates"]  # flawed and over-compact strategies were rejected
    assert acc["rejections"].get("execution", 0) > 0
    for rel in ("report/report.md", "report/grpo_runs.png", "report/accuracy_vs_cost.png", "report/method_results.json",
                "sample/stats.json", "sft/training_log.json", "grpo/training_log.json", "grpo_cost/recipe.json"):
        assert (tmp_path / rel).is_file(), rel


def test_paired_difference_pairs_tasks():
    # Same tasks, one method better on each: the interval excludes 0 though the spread is wide.
    a, b = [0.9, 0.5, 0.8, 0.2] * 25, [0.8, 0.4, 0.7, 0.1] * 25
    p = paired_difference(a, b)
    assert p["diff"] == pytest.approx(0.1) and p["ci_low"] == pytest.approx(0.1) and p["n"] == 100
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])


@pytest.mark.slow  # about ten minutes on 2 cores: the targets
def test_full_demo_grpo_beats_sft_and_cost_cuts_tokens(tmp_path):
    out = run_demo(DemoConfig(output_dir=str(tmp_path)))
    m, t = out.summary["methods"], out.summary["targets"]
    assert m["untrained"]["executability"] <= 0.05
    assert t["grpo_above_sft_disjoint_intervals"] and t["paired_interval_above_0"]
    assert t["cost_aware_cut_at_least_20pct"] and t["cost_aware_within_3_points"]


def test_demo_config_is_validated():
    with pytest.raises(ConfigError, match="grpo_generations must be >= 2"):
        DemoConfig(grpo_generations=1)
    with pytest.raises(ConfigError, match="n_eval must be >= 1"):
        DemoConfig(n_eval=0)
    with pytest.raises(ConfigError, match="control_temperatures"):
        DemoConfig(control_temperatures=[])


def test_cost_aware_reward_charges_cost_to_executed_strategies_only(tmp_path):
    from contextlib import ExitStack

    from exectune_rl.evaluation.demo import CostOnExecuted, _recipes
    from exectune_rl.training.components import open_run
    from exectune_rl.training.judge import task_columns
    from exectune_rl.training.synthetic import FlawKind, Style, correct_strategy, flawed_strategy, make_arith_problems

    cfg = DemoConfig(output_dir=str(tmp_path), n_train=5, n_rl=5)
    problem = make_arith_problems(6, seed=0, prefix="arith-s0")[5]
    completions = [correct_strategy(problem, Style.STEPWISE), correct_strategy(problem, Style.VERBOSE),
                   flawed_strategy(problem, FlawKind.WRONG_OP), flawed_strategy(problem, FlawKind.WRONG_OP, Style.VERBOSE), "no tag"]  # fmt: skip
    with ExitStack() as stack:
        run = open_run(_recipes(cfg).grpo_cost, stack)
        columns = task_columns(run.tasks[:1] * len(completions))
        plain, gated_cost = run.reward(completions=completions, **columns), CostOnExecuted(run.reward)(completions=completions, **columns)
    # Among executed strategies the shorter one wins, as with the plain cost term.
    assert gated_cost[0] == plain[0] > gated_cost[1] == plain[1] > 0
    # A wrong strategy is not paid for being short: both wrong ones earn 0, above the gated floor.
    assert plain[2] > plain[3] and gated_cost[2] == gated_cost[3] == 0.0
    assert gated_cost[4] == plain[4] < 0
