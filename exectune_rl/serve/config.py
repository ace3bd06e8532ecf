"""What ``exectune serve`` reads: the limits of the service and the recipe it scores with.

A serve recipe is the YAML the other commands use (``reward:``, ``core:``, ``tasks:``,
``cache:``) plus an optional ``server:`` mapping of :class:`ServeLimits`. A file that holds
only RewardConfig fields (what ``exectune score --config`` reads) is accepted too, as the
``reward:`` section of a recipe with no core and no task table.

Example:
    >>> ServeLimits(max_batch=64).max_batch
    64
    >>> ServeRecipe(reward={"preset": "math"}).core is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.training.config import CacheConfig, CoreConfig, TaskSourceConfig
from exectune_rl.training.recipe import check_fields

__all__ = ["ServeLimits", "ServeRecipe", "RECIPE_KEYS"]


@dataclass
class ServeLimits:
    """How much the service takes on at once (every bound is explicit: nothing queues without limit)."""

    max_body_bytes: int = field(default=8 * 1024 * 1024, metadata={"help": "largest request body (bytes); larger is 413"})
    max_batch: int = field(default=1024, metadata={"help": "most completions in one request; more is 413"})
    batch_rows: int = field(default=256, metadata={"help": "most completions scored together (requests are coalesced up to this)"})
    batch_window_ms: float = field(default=10.0, metadata={"help": "the longest a batch waits for requests due to join it (a lone client never waits)"})
    max_queued: int = field(default=256, metadata={"help": "requests waiting for a batch; one more is 503 with Retry-After"})
    deadline_s: float = field(default=300.0, metadata={"help": "a request not scored by then gets null rewards (reason: deadline)"})
    retry_after_s: int = field(default=1, metadata={"help": "Retry-After (seconds) sent with a 503"})
    shutdown_grace_s: float = field(default=60.0, metadata={"help": "how long shutdown waits for in-flight batches"})

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("max_body_bytes", "max_batch", "batch_rows", "max_queued", "retry_after_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"server.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("deadline_s", "shutdown_grace_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"server.{name} must be > 0, got {getattr(self, name)!r}")
        if self.batch_window_ms < 0:
            raise ConfigError(f"server.batch_window_ms must be >= 0, got {self.batch_window_ms!r}")


@dataclass
class ServeRecipe:
    """The recipe ``exectune serve --config`` reads.

    ``core`` None means every request carries the core's output (``core_output``), as with
    ``exectune score``'s bundled sample; ``tasks`` None means no task table (labels must carry
    the task itself, as JSON).
    """

    reward: dict[str, Any] = field(default_factory=dict, metadata={"help": "RewardConfig fields (preset: math/code)"})
    core: CoreConfig | None = field(default=None, metadata={"help": "the core to call for rows without core_output"})
    tasks: TaskSourceConfig | None = field(default=None, metadata={"help": "the task table labels may name by id"})
    cache: CacheConfig = field(default_factory=CacheConfig)
    guide_template: str | None = field(default=None, metadata={"help": "accepted for recipes shared with grpo/eval"})
    server: ServeLimits = field(default_factory=ServeLimits)

    def __post_init__(self) -> None:
        check_fields(self)


RECIPE_KEYS = frozenset(("reward", "core", "tasks", "cache", "guide_template", "server"))
"""Top-level keys of a serve recipe; a file with none of them is read as bare RewardConfig fields."""
