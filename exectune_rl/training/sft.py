"""SFT warm start: train the guide on accepted strategies with TRL's ``SFTTrainer``.

The dataset is conversational prompt-completion (see :mod:`exectune_rl.training.sft_data`);
``SFTTrainer`` then puts the loss on the completion, i.e. on the strategy only. The trained
guide, its tokenizer and the training log (``training_log.json``) go to the output folder.

Example:
    >>> result = run_sft(SFTRecipe(model="outputs/tiny", dataset="outputs/sample",   # doctest: +SKIP
    ...                            output_dir="outputs/sft", trainer={"num_train_epochs": 3}))
    >>> result.train_loss                                                           # doctest: +SKIP
    0.21
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.training.config import SFTRecipe, TinyModelConfig
from exectune_rl.training.sft_data import load_sft_dataset
from exectune_rl.training.trl_utils import check_trainer_fields, load_tokenizer, quiet_progress, require_trl, save_log_history, trainer_args

__all__ = ["SFTResult", "run_sft", "build_sft_trainer", "ensure_tiny_model"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTResult:
    """What an SFT run produced."""

    output_dir: Path
    n_examples: int
    steps: int
    train_loss: float | None
    runtime_s: float


def ensure_tiny_model(path: str | Path, tiny: TinyModelConfig, corpus: list[str] | None = None) -> Path:
    """Build the tiny offline guide at ``path`` unless a model is already there."""
    from exectune_rl.training.tiny import TinyGuideSpec, build_tiny_guide

    p = Path(path)
    if (p / "config.json").is_file():
        return p
    spec = TinyGuideSpec(
        hidden_size=tiny.hidden_size, intermediate_size=tiny.intermediate_size,
        num_hidden_layers=tiny.num_hidden_layers, num_attention_heads=tiny.num_attention_heads,
        num_key_value_heads=tiny.num_key_value_heads,
    )
    return build_tiny_guide(p, vocab_size=tiny.vocab_size, seed=tiny.seed, corpus=corpus, spec=spec)


def _corpus_from(dataset: Any) -> list[str]:
    lines = []
    for row in dataset:
        lines.extend(m["content"] for m in row["prompt"])
        lines.extend(m["content"] for m in row["completion"])
    return lines


def build_sft_trainer(recipe: SFTRecipe, *, train_dataset: Any = None, callbacks: list[Any] | None = None) -> Any:
    """A ready ``trl.SFTTrainer`` for ``recipe`` (dataset tokenised, not yet trained).

    Args:
        recipe: Model, dataset, output folder and ``SFTConfig`` fields.
        train_dataset: A ``datasets.Dataset`` to use instead of loading ``recipe.dataset``.
        callbacks: Extra ``transformers.TrainerCallback`` objects.

    Returns:
        The trainer.
    """
    trl = require_trl()
    from transformers import AutoModelForCausalLM

    # The trainer: block first: a wrong key or type fails before the dataset or the model is loaded.
    check_trainer_fields(trl.SFTConfig, recipe.trainer)
    dataset = train_dataset if train_dataset is not None else load_sft_dataset(recipe.dataset)
    if recipe.tiny is not None:
        ensure_tiny_model(recipe.model, recipe.tiny, _corpus_from(dataset))
    tokenizer = load_tokenizer(recipe.model)
    try:
        model = AutoModelForCausalLM.from_pretrained(recipe.model)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load guide model {recipe.model!r}: {exc}") from exc
    args = trainer_args(trl.SFTConfig, recipe.output_dir, recipe.trainer)
    if args.completion_only_loss is False:
        logger.warning("completion_only_loss=False: the loss also covers the prompt, not only the strategy")
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks or None)
    return quiet_progress(trainer, recipe.output_dir)


def run_sft(recipe: SFTRecipe, *, train_dataset: Any = None, callbacks: list[Any] | None = None) -> SFTResult:
    """Run the SFT warm start described by ``recipe``.

    Args:
        recipe: Model, dataset, output folder and ``SFTConfig`` fields.
        train_dataset: A ``datasets.Dataset`` to use instead of loading ``recipe.dataset``.
        callbacks: Extra ``transformers.TrainerCallback`` objects.

    Returns:
        An :class:`SFTResult`; the model, tokenizer and ``training_log.json`` are saved in
        ``recipe.output_dir``.

    Raises:
        ConfigError / DataError: Bad recipe or dataset.
        MissingDependencyError: trl/torch are not installed.
    """
    trainer = build_sft_trainer(recipe, train_dataset=train_dataset, callbacks=callbacks)
    start = time.perf_counter()
    output = trainer.train()
    runtime = time.perf_counter() - start
    trainer.save_model(recipe.output_dir)
    trainer.processing_class.save_pretrained(recipe.output_dir)
    save_log_history(trainer.state.log_history, recipe.output_dir, stage="sft")
    return SFTResult(
        output_dir=Path(recipe.output_dir),
        n_examples=len(trainer.train_dataset),
        steps=int(trainer.state.global_step),
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        runtime_s=runtime,
    )
