"""Turning recipe sections into objects: tasks, cores, the response cache, the reward, prompts.

Every recipe (sample, sft, grpo, eval) builds its parts here, so one YAML vocabulary works
everywhere. Names of cores and sandboxes go through :mod:`exectune_rl.registry`.

Example:
    >>> tasks = load_tasks(TaskSourceConfig(source="synthetic", limit=3))
    >>> len(tasks), tasks[0].kind.value
    (3, 'math')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from exectune_rl.cores.base import Core
from exectune_rl.errors import ConfigError
from exectune_rl.tasks.base import Task
from exectune_rl.tasks.prompts import guide_prompt_fn
from exectune_rl.training.config import CacheConfig, CoreConfig, TaskSourceConfig

__all__ = [
    "load_tasks",
    "require_tasks",
    "synthetic_problems",
    "open_cache",
    "build_core",
    "build_reward",
    "guide_prompt_fn",
    "program_prompt_builder",
]

logger = logging.getLogger(__name__)


def synthetic_problems(cfg: TaskSourceConfig) -> list[Any]:
    """The synthetic problems a ``source: synthetic`` section describes (its slice of the stream)."""
    from exectune_rl.training.synthetic import make_arith_problems

    end = cfg.offset + (cfg.limit if cfg.limit is not None else 200)
    return make_arith_problems(end, seed=cfg.seed, prefix=f"arith-s{cfg.seed}")[cfg.offset : end]


def _slice(tasks: Sequence[Task], cfg: TaskSourceConfig) -> list[Task]:
    end = None if cfg.limit is None else cfg.offset + cfg.limit
    return list(tasks)[cfg.offset : end]


def load_tasks(cfg: TaskSourceConfig) -> list[Task]:
    """Load the tasks a recipe's ``tasks:`` section describes.

    Args:
        cfg: Source, path, split, offset/limit, seed.

    Returns:
        A list of tasks.

    Raises:
        ConfigError / DataError: Unknown source or unreadable data.
    """
    if cfg.source == "synthetic":
        return [p.to_task() for p in synthetic_problems(cfg)]
    from exectune_rl import tasks as task_loaders

    if cfg.source == "jsonl":
        loaded = task_loaders.load_jsonl(cfg.path)
    elif cfg.source == "humaneval":
        loaded = task_loaders.load_humaneval() if cfg.path is None else task_loaders.load_humaneval(cfg.path)
    elif cfg.source == "gsm8k":
        loaded = task_loaders.load_gsm8k(cfg.path, split=cfg.split)
    elif cfg.source == "kodcode":
        loaded = task_loaders.load_kodcode(cfg.path, split=cfg.split)
    else:  # TaskSourceConfig validated the name already
        raise ConfigError(f"unknown task source {cfg.source!r}")
    return _slice(list(loaded), cfg)


def require_tasks(tasks: list[Task], cfg: TaskSourceConfig) -> list[Task]:
    """``tasks`` unchanged, or a ConfigError saying which ``tasks:`` section selected none."""
    if not tasks:
        raise ConfigError(
            f"no tasks: tasks.source={cfg.source!r}, path={cfg.path!r}, offset={cfg.offset}, limit={cfg.limit} select none"
        )
    return tasks


def open_cache(cfg: CacheConfig):  # -> ResponseCache
    """The response cache a ``cache:`` section describes (a disabled one when turned off)."""
    from exectune_rl.runtime import ResponseCache

    if not cfg.enabled:
        return ResponseCache.disabled()
    return ResponseCache(cfg.path)


def build_core(
    cfg: CoreConfig,
    *,
    stack: ExitStack,
    cache: Any = None,
    problems: Sequence[Any] | None = None,
    namespace: str = "",
) -> Core:
    """Build the core (or teacher, or guide) a ``CoreConfig`` describes.

    Args:
        cfg: Registry name, options, sandbox (for ``program``), caching.
        stack: Receives everything that must be closed afterwards (cores, sandboxes).
        cache: A ``ResponseCache``; used when ``cfg.cached`` is true.
        problems: The synthetic problems, for ``name: scripted``.
        namespace: Cache namespace (tells apart cores reporting the same model name).

    Returns:
        A :class:`~exectune_rl.cores.base.Core`, wrapped in a ``CachedCore`` when caching.
    """
    from exectune_rl.registry import core_registry, sandbox_registry

    if cfg.name == "scripted":
        from exectune_rl.training.synthetic import ScriptedTeacher

        if not problems:
            raise ConfigError("the 'scripted' teacher only works with `tasks: {source: synthetic}`")
        core: Core = ScriptedTeacher(problems, **cfg.options)
    elif cfg.name == "program":
        sandbox = sandbox_registry.create(cfg.sandbox, **cfg.sandbox_options)
        stack.callback(sandbox.close)
        core = core_registry.create("program", sandbox=sandbox, **cfg.options)
    else:
        core = core_registry.create(cfg.name, **cfg.options)
    stack.callback(core.close)
    if cfg.cached and cache is not None and getattr(cache, "enabled", False):
        from exectune_rl.runtime import CachedCore

        core = CachedCore(core, cache, namespace=namespace or cfg.name)
    return core


def program_prompt_builder(task: Task, strategy: str | None) -> tuple[dict[str, str], ...]:
    """Core messages for a ``ProgramCore``: the strategy program alone, inside its tags.

    The default core prompt wraps the strategy in instructions for a language model, which an
    interpreter cannot run; the core-only baseline (``strategy=None``) is an empty program.
    """
    return ({"role": "user", "content": f"<strategy>\n{strategy or ''}\n</strategy>"},)


def build_reward(
    section: dict[str, Any], core: Core, *, program_core: bool = False, tokenizer: Any = None, prices: Any = None
):  # -> ExecTuneReward
    """The ``ExecTuneReward`` a ``reward:`` section describes.

    ``preset: math|code|advisor`` starts from :meth:`RewardConfig.preset`; the other keys are
    ``RewardConfig`` fields. With a program core the core prompt is the strategy program itself.

    Args:
        section: The recipe's ``reward:`` mapping.
        core: The target core.
        program_core: The core runs the strategy as a program.
        tokenizer: The guide's tokenizer (exact strategy tokens).
        prices: A price table for money in the reward and the report.

    Returns:
        The reward (close it when done).
    """
    from exectune_rl.rewards import ExecTuneReward, RewardConfig

    fields = dict(section)
    preset = fields.pop("preset", None)
    config = RewardConfig.preset(preset, **fields) if preset else RewardConfig.from_dict(fields)
    return ExecTuneReward(
        config, core=core, tokenizer=tokenizer, prices=prices,
        prompt_builder=program_prompt_builder if program_core else None,
    )
