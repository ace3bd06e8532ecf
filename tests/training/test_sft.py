"""SFT warm start with TRL's SFTTrainer on the tiny local guide: loss on the strategy only."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from exectune_rl.errors import ConfigError  # noqa: E402
from exectune_rl.training.config import SFTRecipe, TinyModelConfig  # noqa: E402
from exectune_rl.training.sft import build_sft_trainer, run_sft  # noqa: E402
from exectune_rl.training.sft_data import prompt_messages  # noqa: E402
from exectune_rl.training.synthetic import correct_strategy, make_arith_problems  # noqa: E402


def _dataset(n: int = 24):
    import datasets

    rows = [
        {"prompt": prompt_messages(p.text), "completion": [{"role": "assistant", "content": correct_strategy(p)}], **p.to_task().to_dict()}
        for p in make_arith_problems(n, seed=9)
    ]
    return datasets.Dataset.from_list(rows)


def test_loss_covers_the_strategy_only(tiny_model_path, tmp_path):
    recipe = SFTRecipe(model=str(tiny_model_path), dataset="unused", output_dir=str(tmp_path / "sft"), trainer={"max_steps": 1})
    trainer = build_sft_trainer(recipe, train_dataset=_dataset(4))
    row = trainer.train_dataset[0]
    tok = trainer.processing_class
    trained = tok.decode([t for t in row["labels"] if t != -100])
    assert trained.startswith("<strategy>\n") and "</strategy>" in trained
    assert "How many" not in trained and "user" not in trained  # the prompt is masked out
    assert trainer.args.use_cpu and not trainer.args.bf16 and trainer.args.report_to in ([], ["none"], "none")


def test_run_sft_trains_saves_and_logs(tiny_model_path, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "sft"
    recipe = SFTRecipe(
        model=str(tiny_model_path), dataset="unused", output_dir=str(out),
        trainer={"max_steps": 6, "per_device_train_batch_size": 4, "learning_rate": 3e-3, "logging_steps": 1},
    )  # fmt: skip
    result = run_sft(recipe, train_dataset=_dataset())
    assert result.steps == 6 and result.train_loss is not None and result.n_examples == 24
    history = json.loads((out / "training_log.json").read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) == 6 and losses[-1] < losses[0]  # it learned something
    assert AutoModelForCausalLM.from_pretrained(out).num_parameters() > 0


def test_sft_builds_a_tiny_guide_when_asked(tmp_path):
    import datasets

    ds = _dataset(8)
    path = tmp_path / "sample"
    ds.save_to_disk(str(path / "dataset"))
    recipe = SFTRecipe(
        model=str(tmp_path / "tiny"), dataset=str(path), output_dir=str(tmp_path / "sft"), trainer={"max_steps": 1},
        tiny=TinyModelConfig(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=1),
    )  # fmt: skip
    assert run_sft(recipe).steps == 1
    assert (tmp_path / "tiny" / "config.json").is_file()
    assert isinstance(datasets.load_from_disk(str(path / "dataset")), datasets.Dataset)


def test_unknown_trainer_field_and_missing_model_are_clear(tiny_model_path, tmp_path):
    with pytest.raises(ConfigError, match="unknown SFTConfig field\\(s\\) 'max_stepz'"):
        build_sft_trainer(SFTRecipe(model=str(tiny_model_path), dataset="x", output_dir=str(tmp_path), trainer={"max_stepz": 1}),
                          train_dataset=_dataset(2))  # fmt: skip
    with pytest.raises(ConfigError, match="cannot load guide model"):
        build_sft_trainer(SFTRecipe(model=str(tmp_path / "none"), dataset="x", output_dir=str(tmp_path)), train_dataset=_dataset(2))
