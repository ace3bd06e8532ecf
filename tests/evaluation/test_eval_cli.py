"""``exectune eval`` with scripted guides (fast, real execution) writes the report."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from exectune_rl.cli import main


def _recipe(tmp_path: Path) -> Path:
    recipe = {
        "output_dir": str(tmp_path / "report"),
        "tasks": {"source": "synthetic", "seed": 3, "limit": 20},
        "core": {"name": "program", "sandbox_options": {"workers": 2}},
        "reward": {"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 1},
        "k": 2,
        "guide_template": "{problem}",
        "cache": {"enabled": False},
        "methods": [
            {"name": "core alone"},
            {"name": "scripted 30%", "guide": {"name": "scripted", "options": {"p_correct": 0.3}}},
            {"name": "scripted 100%", "guide": {"name": "scripted", "options": {"p_correct": 1.0}}},
        ],
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_eval_writes_table_json_and_plots(tmp_path, capsys):
    assert main(["eval", "--config", str(_recipe(tmp_path))]) == 0
    printed = capsys.readouterr().out
    assert "| core alone | 0.0 [" in printed and "| scripted 100% | 100.0 [" in printed
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [r["name"] for r in results] == ["core alone", "scripted 30%", "scripted 100%"]
    assert results[1]["executability"]["value"] < results[2]["executability"]["value"] == 1.0
    assert (tmp_path / "report" / "accuracy_vs_cost.png").stat().st_size > 5000
    assert "| Method |" in (tmp_path / "report" / "report.md").read_text()


def test_eval_rejects_duplicate_method_names(tmp_path, capsys):
    path = _recipe(tmp_path)
    assert main(["eval", "--config", str(path), "--set", "k=0"]) == 2
    assert "k must be >= 1" in capsys.readouterr().err
