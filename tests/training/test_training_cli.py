"""``exectune sample | sft | grpo`` on the shipped synthetic recipes, shrunk with --set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exectune_rl.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "sample"
    cache = out.parent / "cache.sqlite"
    argv = ["sample", "--config", str(EXAMPLES / "synthetic_sample.yaml"), "--output-dir", str(out),
            "--set", "tasks.limit=30", "--set", f"cache.path={cache}"]  # fmt: skip
    return out, argv


def test_sample_writes_dataset_and_a_rerun_is_served_from_the_cache(sampled, capsys):
    out, argv = sampled
    assert main(argv) == 0
    first = json.loads((out / "stats.json").read_text())
    assert first["n_tasks"] == 30 and first["n_candidates"] >= 60 and 0 < first["n_accepted"] < first["n_candidates"]
    assert first["cache_misses"] > 0 and (out / "dataset").is_dir() and (out / "recipe.json").is_file()
    assert "accepted" in capsys.readouterr().out
    assert main(argv) == 0  # resume: every teacher and core call is a cache hit
    second = json.loads((out / "stats.json").read_text())
    assert second["cache_misses"] == 0 and second["n_accepted"] == first["n_accepted"]


def test_sft_then_grpo_from_the_command_line(sampled, tiny_model_path, tmp_path, capsys):
    out, argv = sampled
    if not (out / "stats.json").is_file():
        assert main(argv) == 0
    sft_out = tmp_path / "sft"
    assert main(["sft", "--config", str(EXAMPLES / "synthetic_sft.yaml"), "--set", f"model={tiny_model_path}",
                 "--set", f"dataset={out}", "--set", "tiny=null", "--set", "trainer.max_steps=2",
                 "--output-dir", str(sft_out)]) == 0  # fmt: skip
    assert "SFT:" in capsys.readouterr().out and (sft_out / "model.safetensors").is_file()
    rl_out = tmp_path / "rloo"
    assert main(["grpo", "--config", str(EXAMPLES / "synthetic_grpo.yaml"), "--algorithm", "rloo",
                 "--set", f"model={sft_out}", "--set", "tasks.limit=8", "--set", "trainer.max_steps=1",
                 "--set", "trainer.per_device_train_batch_size=4", "--set", "trainer.num_generations=4",
                 "--set", f"cache.path={tmp_path / 'c.sqlite'}", "--output-dir", str(rl_out)]) == 0  # fmt: skip
    assert "RLOO: 1 steps" in capsys.readouterr().out
    assert json.loads((rl_out / "recipe.json").read_text())["algorithm"] == "rloo"


def test_bad_recipes_exit_2_with_the_reason(tmp_path, capsys):
    assert main(["sample", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["grpo", "--config", str(EXAMPLES / "synthetic_grpo.yaml"), "--set", "tasks.sourse=x"]) == 2
    assert "unknown key(s) 'sourse'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sft"])  # --config is required
