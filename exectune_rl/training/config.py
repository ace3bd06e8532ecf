"""Recipe dataclasses: what ``exectune sample``, ``exectune sft`` and ``exectune grpo`` read.

Each recipe is a YAML file under ``examples/`` parsed by :func:`exectune_rl.training.recipe.parse_recipe`.
Fields carry ``metadata={"help": ...}`` like TRL's configs; ``trainer:`` mappings go unchanged
to TRL's ``SFTConfig`` / ``GRPOConfig`` / ``RLOOConfig``, and ``reward:`` mappings to
``exectune_rl.rewards.RewardConfig``.

Example:
    >>> RLRecipe(model="guide", algorithm="rloo").algorithm
    'rloo'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.tasks.prompts import guide_prompt_fn
from exectune_rl.training.recipe import check_fields

__all__ = [
    "TaskSourceConfig",
    "CoreConfig",
    "CacheConfig",
    "TinyModelConfig",
    "SampleRecipe",
    "SFTRecipe",
    "RLRecipe",
    "TASK_SOURCES",
]

TASK_SOURCES = ("synthetic", "jsonl", "humaneval", "gsm8k", "kodcode")


def check_guide_template(template: str | None) -> None:
    """Raise ConfigError for a ``guide_template`` that cannot format a guide prompt (None is the default prompt)."""
    if template is not None:  # fail at parse time, not after the first expensive step
        guide_prompt_fn(template)


def _require_text(obj: Any, *names: str) -> None:
    for name in names:
        if not getattr(obj, name).strip():
            raise ConfigError(f"{name} must not be empty, got {getattr(obj, name)!r}")


@dataclass
class TaskSourceConfig:
    """Where tasks come from.

    ``synthetic`` generates the arithmetic word problems of the offline recipe (``seed``
    fixes them; ``offset``/``limit`` cut disjoint train and held-out slices of one stream).
    """

    source: str = field(default="synthetic", metadata={"help": f"one of {', '.join(TASK_SOURCES)}"})
    path: str | None = field(default=None, metadata={"help": "file or dataset path (jsonl, gsm8k, kodcode)"})
    split: str = field(default="train", metadata={"help": "dataset split (gsm8k, kodcode)"})
    offset: int = field(default=0, metadata={"help": "skip this many tasks first"})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many tasks"})
    seed: int = field(default=0, metadata={"help": "seed of the synthetic generator"})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.source not in TASK_SOURCES:
            raise ConfigError(f"tasks.source must be one of {', '.join(TASK_SOURCES)}, got {self.source!r}")
        if self.source in ("jsonl", "gsm8k", "kodcode") and not self.path:
            raise ConfigError(f"tasks.source {self.source!r} needs tasks.path")
        if self.offset < 0 or (self.limit is not None and self.limit < 0):
            raise ConfigError(f"tasks.offset/limit must be >= 0, got {self.offset!r}/{self.limit!r}")


@dataclass
class CoreConfig:
    """A core (or a teacher/guide speaking the Core protocol) to build.

    ``name`` goes through the core registry (``program``, ``openai``, ``transformers``,
    ``callable``, an entry point or ``pkg.mod:attr``); ``scripted`` is the synthetic recipe's
    scripted teacher. ``options`` are the constructor's keyword arguments. ``program`` cores
    get a sandbox built from ``sandbox``/``sandbox_options``.
    """

    name: str = field(default="program", metadata={"help": "registry name of the core"})
    options: dict[str, Any] = field(default_factory=dict, metadata={"help": "constructor keyword arguments"})
    sandbox: str = field(default="local", metadata={"help": "sandbox for program cores"})
    sandbox_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "sandbox keyword arguments"})
    cached: bool = field(default=True, metadata={"help": "answer repeated calls from the response cache"})

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.name.strip():
            raise ConfigError("core name must not be empty")


@dataclass
class CacheConfig:
    """The persistent response cache (SQLite) that makes reruns and resumed runs free."""

    path: str | None = field(default=None, metadata={"help": "database file; default under EXECTUNE_CACHE_DIR"})
    enabled: bool = field(default=True, metadata={"help": "turn the cache off entirely"})

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class TinyModelConfig:
    """Build the tiny offline guide instead of loading one (synthetic recipe, tests)."""

    vocab_size: int = 1024
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class SampleRecipe:
    """Teacher-guided acceptance sampling (``exectune sample``)."""

    output_dir: str = field(metadata={"help": "where the dataset, JSONL and statistics go"})
    tasks: TaskSourceConfig = field(default_factory=TaskSourceConfig)
    teacher: CoreConfig = field(default_factory=lambda: CoreConfig(name="scripted"))
    core: CoreConfig = field(default_factory=CoreConfig)
    reward: dict[str, Any] = field(default_factory=dict, metadata={"help": "RewardConfig fields (preset: math/code)"})
    k: int = field(default=4, metadata={"help": "strategies the teacher writes per task"})
    revision_rounds: int = field(default=1, metadata={"help": "rounds of revision with failure feedback"})
    keep_per_task: int = field(default=0, metadata={"help": "accepted strategies kept per task (0: all)"})
    teacher_temperature: float = field(default=0.8)
    teacher_max_tokens: int = field(default=512)
    guide_template: str | None = field(default=None, metadata={"help": "guide prompt format with {problem}"})
    cache: CacheConfig = field(default_factory=CacheConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        _require_text(self, "output_dir")
        check_guide_template(self.guide_template)
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        if self.revision_rounds < 0 or self.keep_per_task < 0:
            raise ConfigError(
                f"revision_rounds and keep_per_task must be >= 0, got {self.revision_rounds}/{self.keep_per_task}"
            )
        if self.teacher_temperature < 0:
            raise ConfigError(f"teacher_temperature must be >= 0, got {self.teacher_temperature}")
        if self.teacher_max_tokens < 1:
            raise ConfigError(f"teacher_max_tokens must be >= 1, got {self.teacher_max_tokens}")


@dataclass
class SFTRecipe:
    """SFT warm start of a guide on accepted strategies (``exectune sft``)."""

    model: str = field(metadata={"help": "guide model folder or hub id; with `tiny:` a tiny guide is built there if absent"})
    dataset: str = field(metadata={"help": "output_dir of `exectune sample` or a JSONL file"})
    output_dir: str = field(metadata={"help": "where the trained guide goes"})
    trainer: dict[str, Any] = field(default_factory=dict, metadata={"help": "trl.SFTConfig fields"})
    tiny: TinyModelConfig | None = field(default=None, metadata={"help": "build a tiny guide at `model` first"})

    def __post_init__(self) -> None:
        check_fields(self)
        _require_text(self, "model", "dataset", "output_dir")


@dataclass
class RLRecipe:
    """GRPO or RLOO training of a guide with ExecTuneReward (``exectune grpo``)."""

    model: str = field(metadata={"help": "guide model path or name (usually the SFT output)"})
    output_dir: str = field(default="outputs/grpo", metadata={"help": "where the trained guide goes"})
    algorithm: str = field(default="grpo", metadata={"help": "grpo or rloo"})
    tasks: TaskSourceConfig = field(default_factory=TaskSourceConfig)
    core: CoreConfig = field(default_factory=CoreConfig)
    reward: dict[str, Any] = field(default_factory=dict, metadata={"help": "RewardConfig fields (preset: math/code)"})
    trainer: dict[str, Any] = field(default_factory=dict, metadata={"help": "trl.GRPOConfig / RLOOConfig fields"})
    guide_template: str | None = field(default=None, metadata={"help": "guide prompt format with {problem}"})
    cache: CacheConfig = field(default_factory=CacheConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        _require_text(self, "model", "output_dir")
        check_guide_template(self.guide_template)
        if self.algorithm not in ("grpo", "rloo"):
            raise ConfigError(f"algorithm must be 'grpo' or 'rloo', got {self.algorithm!r}")
