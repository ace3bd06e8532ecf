"""The ``exectune eval`` recipe: which methods to compare, on which tasks, with which core.

Example:
    >>> EvalRecipe(output_dir="out", methods=[MethodConfig(name="core alone")]).k
    4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.training.config import CacheConfig, CoreConfig, TaskSourceConfig, check_guide_template
from exectune_rl.training.recipe import check_fields

__all__ = ["MethodConfig", "EvalRecipe"]


@dataclass
class MethodConfig:
    """One row of the report.

    Give ``model`` (a local guide checkpoint, run with ``TransformersCore``) or ``guide`` (any
    core speaking as the guide: an API model, the scripted teacher); neither means the core alone.
    """

    name: str = field(metadata={"help": "label in the table, e.g. '+ SFT guide'"})
    model: str | None = field(default=None, metadata={"help": "guide checkpoint folder"})
    guide: CoreConfig | None = field(default=None, metadata={"help": "a core used as the guide"})
    training_log: str | None = field(default=None, metadata={"help": "folder with training_log.json to plot"})

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.name.strip():
            raise ConfigError(f"method name must not be empty, got {self.name!r}")
        if self.model is not None and not self.model.strip():
            raise ConfigError(f"method {self.name!r}: model must not be empty")
        if self.model is not None and self.guide is not None:
            raise ConfigError(f"method {self.name!r}: give `model` or `guide`, not both")


@dataclass
class EvalRecipe:
    """Evaluate methods on held-out tasks and write the paper-style report."""

    output_dir: str = field(metadata={"help": "where report.md, results.json and the plots go"})
    methods: list[MethodConfig] = field(default_factory=list)
    tasks: TaskSourceConfig = field(default_factory=TaskSourceConfig)
    core: CoreConfig = field(default_factory=CoreConfig)
    reward: dict[str, Any] = field(default_factory=lambda: {"preset": "math"}, metadata={"help": "RewardConfig fields"})
    k: int = field(default=4, metadata={"help": "sampled strategies per task for executability"})
    temperature: float = field(default=0.7, metadata={"help": "guide sampling temperature for executability"})
    max_new_tokens: int = field(default=256, metadata={"help": "longest strategy the guide may write"})
    batch_size: int = field(default=32, metadata={"help": "guide generation batch size (local checkpoints)"})
    guide_template: str | None = field(default=None, metadata={"help": "guide prompt format with {problem}"})
    confidence: float = field(default=0.95)
    prices: dict[str, Any] = field(default_factory=dict, metadata={"help": "model -> [input, output] $ per 1M tokens"})
    cache: CacheConfig = field(default_factory=CacheConfig)
    title: str = "ExecTune evaluation"

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.output_dir.strip():
            raise ConfigError("output_dir must not be empty")
        check_guide_template(self.guide_template)
        if not self.methods:
            raise ConfigError("eval recipe needs at least one entry under `methods`")
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ConfigError(f"method names must be unique, got {names}")
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        for name in ("max_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
