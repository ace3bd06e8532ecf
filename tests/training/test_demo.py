"""The offline synthetic end-to-end recipe: the shortened run, and the full one (slow)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from exectune_rl.cli import main  # noqa: E402
from exectune_rl.errors import ConfigError  # noqa: E402
from exectune_rl.evaluation.demo import DemoConfig, run_demo  # noqa: E402


def _by_name(results):
    return {r["name"]: r for r in results}


def test_quick_demo_sft_guide_executes_far_more_than_the_untrained_one(tmp_path, capsys):
    # The whole recipe, shortened: sampling, tiny guide, SFT, 2 GRPO steps, held-out evaluation.
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| untrained guide |" in printed and "| + SFT guide |" in printed and "| + GRPO guide |" in printed
    summary = json.loads((tmp_path / "demo_summary.json").read_text())
    res = _by_name(summary["results"])
    untrained, sft = res["untrained guide"]["executability"], res["+ SFT guide"]["executability"]
    assert untrained["value"] <= 0.05
    assert sft["value"] >= 0.3 and sft["low"] > untrained["high"] + 0.15
    assert res["+ SFT guide"]["accuracy"]["value"] >= 0.5 and res["+ SFT guide"]["format_rate"] >= 0.9
    acc = summary["acceptance"]
    assert 0 < acc["n_accepted"] < acc["n_candidates"]  # the scripted teacher's flaws were rejected
    for rel in ("report/report.md", "report/accuracy_vs_cost.png", "report/training_curves.png",
                "sample/stats.json", "sft/training_log.json", "grpo/training_log.json", "grpo/recipe.json"):
        assert (tmp_path / rel).is_file(), rel


@pytest.mark.slow  # about two minutes; the quick demo test above is the fast version
def test_full_demo_rl_does_not_lose_what_sft_learned(tmp_path):
    out = run_demo(DemoConfig(output_dir=str(tmp_path)))
    res = {r.name: r for r in out.results}
    assert res["+ SFT guide"].executability.value >= 0.5
    assert res["+ GRPO guide"].executability.value >= res["+ SFT guide"].executability.value - 0.1
    assert res["untrained guide"].executability.value <= 0.05


def test_demo_config_is_validated():
    with pytest.raises(ConfigError, match="grpo_generations must be >= 2"):
        DemoConfig(grpo_generations=1)
    with pytest.raises(ConfigError, match="n_eval must be >= 1"):
        DemoConfig(n_eval=0)
