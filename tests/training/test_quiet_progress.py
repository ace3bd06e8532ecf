"""Training keeps TRL's per-step log dicts out of stdout: a bar on stderr, the logs in the run folder
(``exectune demo``, ``sft`` and ``grpo`` print their own results on stdout, which the dicts buried)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from exectune_rl.training.config import SFTRecipe  # noqa: E402
from exectune_rl.training.sft import run_sft  # noqa: E402
from exectune_rl.training.sft_data import prompt_messages  # noqa: E402
from exectune_rl.training.synthetic import correct_strategy, make_arith_problems  # noqa: E402
from exectune_rl.training.trl_utils import TRAINER_LOG  # noqa: E402


def test_step_logs_go_to_the_run_folder_not_stdout(tiny_model_path, tmp_path, capfd):
    import datasets

    rows = [{"prompt": prompt_messages(p.text), "completion": [{"role": "assistant", "content": correct_strategy(p)}]}
            for p in make_arith_problems(8, seed=3)]  # fmt: skip
    out = tmp_path / "sft"
    recipe = SFTRecipe(model=str(tiny_model_path), dataset="unused", output_dir=str(out),
                       trainer={"max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1})  # fmt: skip
    capfd.readouterr()
    assert run_sft(recipe, train_dataset=datasets.Dataset.from_list(rows)).steps == 3
    captured = capfd.readouterr()
    # Before: "{'loss': ..., 'grad_norm': ..., 'epoch': ...}" once per step on stdout.
    assert "'loss'" not in captured.out and "{'train_runtime'" not in captured.out
    assert "3/3" in captured.err  # the progress bar, on stderr
    logged = [json.loads(line) for line in (out / TRAINER_LOG).read_text().splitlines()]
    assert [entry["step"] for entry in logged if "loss" in entry] == [1, 2, 3]
