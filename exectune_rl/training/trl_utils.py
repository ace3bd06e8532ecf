"""Small helpers shared by the SFT and RL steps: TRL config defaults and training logs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError, MissingDependencyError

__all__ = ["require_trl", "load_tokenizer", "trainer_args", "check_trainer_fields", "quiet_progress", "TRAINER_LOG", "save_log_history", "load_log_history", "LOG_FILE"]

logger = logging.getLogger(__name__)

LOG_FILE = "training_log.json"


def require_trl():  # -> module trl
    """Import trl, or raise MissingDependencyError naming the ``train`` extra."""
    try:
        import trl
    except ImportError as exc:
        raise MissingDependencyError("trl", "train", "training a guide") from exc
    return trl


def load_tokenizer(model: str) -> Any:
    """The guide's tokenizer (pad token set), or a ConfigError naming a model that cannot be loaded."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("transformers", "train", "training a guide") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load guide model {model!r}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _cuda() -> bool:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("torch", "train", "training a guide") from exc
    return bool(torch.cuda.is_available())


def trainer_args(config_cls: type, output_dir: str | os.PathLike[str], overrides: Mapping[str, Any]) -> Any:
    """Build a TRL config (``SFTConfig``, ``GRPOConfig``, ``RLOOConfig``) with safe defaults.

    Without CUDA the defaults are ``use_cpu=True`` and ``bf16=False`` (TRL's bf16 default fails
    on a CPU). ``report_to`` defaults to ``"none"``: set it in the recipe's ``trainer:`` block to
    send logs to TensorBoard, W&B or trackio, where TRL sends them. Anything in ``overrides``
    wins over the defaults.

    Args:
        config_cls: The TRL config class.
        output_dir: The trainer's output folder.
        overrides: The recipe's ``trainer:`` mapping.

    Returns:
        An instance of ``config_cls``.

    Raises:
        ConfigError: ``overrides`` names a field the config does not have, or TRL rejects a value.
    """
    checked = check_trainer_fields(config_cls, overrides)
    cuda = _cuda()
    defaults: dict[str, Any] = {"report_to": "none", "save_strategy": "no", "logging_steps": 1, "gradient_checkpointing": False}
    if not cuda:
        defaults.update(use_cpu=True, bf16=False, fp16=False)
    kwargs = {**defaults, **checked, "output_dir": str(output_dir)}
    try:
        return config_cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"trainer: {config_cls.__name__} rejected the recipe: {exc}") from exc


def check_trainer_fields(config_cls: type, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe's ``trainer:`` mapping checked against TRL's config dataclass, values converted.

    Unknown keys and values of the wrong type (``learning_rate: fast``) are a ConfigError
    naming ``trainer.<key>``, the way a recipe's own fields are checked: before any model or
    dataset is loaded, not as a TypeError deep inside the optimizer.

    Args:
        config_cls: The TRL config class (``SFTConfig``, ``GRPOConfig``, ``RLOOConfig``).
        overrides: The recipe's ``trainer:`` mapping.

    Returns:
        The mapping with values converted to the fields' types (``"3"`` for an int field is 3).

    Raises:
        ConfigError: an unknown key or a value that does not fit its field.

    Example:
        >>> import trl                                                          # doctest: +SKIP
        >>> check_trainer_fields(trl.SFTConfig, {"max_steps": "3"})             # doctest: +SKIP
        {'max_steps': 3}
    """
    import dataclasses
    import typing

    from exectune_rl.training.recipe import convert_value

    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}
    unknown = sorted(set(overrides) - set(fields), key=str)
    if unknown:
        raise ConfigError(f"trainer: unknown {config_cls.__name__} field(s) {', '.join(map(repr, unknown))} "
                          f"(see the fields of trl.{config_cls.__name__})")  # fmt: skip
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # an annotation that does not resolve: TRL's own checks still run when the config is built
        hints = {}
    return {key: convert_value(value, hints.get(key, Any), f"trainer.{key}") for key, value in overrides.items()}


TRAINER_LOG = "trainer_log.jsonl"


def quiet_progress(trainer: Any, output_dir: str | os.PathLike[str]) -> Any:
    """Keep a trainer's per-step log dicts out of stdout: a progress bar on stderr, the logs in the run folder.

    Transformers prints every ``{'loss': ...}`` dict to stdout (through its progress bar, or
    with ``print`` when the bar is off), burying a command's own output. This swaps those
    callbacks for one that shows a progress bar on stderr and appends each log dict as a JSON
    line to ``<output_dir>/trainer_log.jsonl``.

    Args:
        trainer: A transformers/TRL trainer.
        output_dir: The run folder.

    Returns:
        The same trainer.
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

    path = Path(output_dir) / TRAINER_LOG

    class _RunFolderProgress(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                import sys

                from tqdm import tqdm

                self.bar = tqdm(total=state.max_steps, unit="step", file=sys.stderr, dynamic_ncols=True,
                                disable=getattr(args, "disable_tqdm", False))  # fmt: skip

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and logs:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"step": state.global_step, **logs}, default=float) + "\n")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_RunFolderProgress())
    return trainer


def save_log_history(log_history: list[dict[str, Any]], output_dir: str | os.PathLike[str], *, stage: str) -> Path:
    """Write a trainer's ``state.log_history`` as JSON (what ``exectune eval`` plots)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOG_FILE
    path.write_text(json.dumps({"stage": stage, "log_history": log_history}, indent=1, default=float))
    return path


def load_log_history(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a log written by :func:`save_log_history` (a folder or the file itself)."""
    p = Path(path)
    if p.is_dir():
        p = p / LOG_FILE
    if not p.is_file():
        raise ConfigError(f"no training log at {str(p)!r}")
    data = json.loads(p.read_text())
    return list(data.get("log_history", data if isinstance(data, list) else []))
