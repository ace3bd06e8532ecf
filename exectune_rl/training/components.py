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
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from exectune_rl.cores.base import Core
from exectune_rl.cores.program import program_prompt_builder
from exectune_rl.rewards.config import RewardConfig
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
    "reward_config",
    "Run",
    "open_run",
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
    if cfg.name == "scripted":  # the synthetic recipe's teacher: not a registry core, it needs the problems
        from exectune_rl.training.synthetic import ScriptedTeacher

        if not problems:
            raise ConfigError("the 'scripted' teacher only works with `tasks: {source: synthetic}`")
        core: Core = ScriptedTeacher(problems, **cfg.options)
    else:
        from exectune_rl.cores.factory import make_core

        core, sandbox = make_core(cfg.name, cfg.options, sandbox_name=cfg.sandbox, sandbox_options=cfg.sandbox_options)
        if sandbox is not None:
            stack.callback(sandbox.close)
    stack.callback(core.close)
    if cfg.cached and cache is not None and getattr(cache, "enabled", False):
        from exectune_rl.runtime import CachedCore

        core = CachedCore(core, cache, namespace=namespace or cfg.name)
    return core


def reward_config(section: dict[str, Any] | RewardConfig) -> RewardConfig:
    """The ``RewardConfig`` of a recipe's ``reward:`` section; errors name ``reward.<field>``.

    Raises:
        ConfigError: a field that does not exist or does not fit (``reward.cost_lambda: fast``).

    Example:
        >>> reward_config({"preset": "math", "cost_lambda": 0.01}).cost_lambda
        0.01
    """
    if isinstance(section, RewardConfig):
        return section
    try:
        return RewardConfig.from_section(section)
    except ConfigError as exc:
        message = str(exc).replace("RewardConfig.", "reward.")
        raise ConfigError(message if "reward." in message else f"reward: {message}") from None


def build_reward(
    section: dict[str, Any] | RewardConfig, core: Core, *, program_core: bool | None = None, tokenizer: Any = None, prices: Any = None
):  # -> ExecTuneReward
    """The ``ExecTuneReward`` a ``reward:`` section describes (:meth:`RewardConfig.from_section`).

    The core says how it is prompted (a program core runs the strategy itself: its
    ``prompt_builder``); nothing here branches on the core's name.

    Args:
        section: The recipe's ``reward:`` mapping (``preset:`` plus RewardConfig fields), or a config.
        core: The target core.
        program_core: Deprecated and ignored (the core's ``prompt_builder`` decides).
        tokenizer: The guide's tokenizer (exact strategy tokens).
        prices: A price table for money in the reward and the report.

    Returns:
        The reward (close it when done).
    """
    from exectune_rl.rewards import ExecTuneReward

    return ExecTuneReward(reward_config(section), core=core, tokenizer=tokenizer, prices=prices)


@dataclass
class Run:
    """What a recipe's ``tasks:``, ``core:``, ``cache:`` and ``reward:`` sections build.

    Attributes:
        tasks: The tasks (never empty).
        problems: The synthetic problems behind them (``source: synthetic``), else None.
        guide_prompt: The guide's prompt for a task.
        cache: The response cache (closed with the stack).
        core: The target core (cached when the recipe says so).
        reward: The ``ExecTuneReward`` over that core (closed with the stack).
    """

    tasks: list[Task]
    problems: list[Any] | None
    guide_prompt: Callable[[Task], str]
    cache: Any
    core: Core
    reward: Any


def open_run(recipe: Any, stack: ExitStack, *, tokenizer: Any = None, prices: Any = None) -> Run:
    """The one way ``sample``, ``grpo`` and ``eval`` build their parts from a recipe.

    Args:
        recipe: Any recipe with ``tasks``, ``core``, ``cache``, ``reward`` and ``guide_template``.
        stack: Receives everything to close (cache, cores, sandboxes, the reward).
        tokenizer: The guide's tokenizer (exact strategy tokens in the reward).
        prices: A price table for money in the reward.

    Returns:
        The :class:`Run`.

    Example:
        >>> with ExitStack() as stack:                                           # doctest: +SKIP
        ...     run = open_run(parse_recipe(RLRecipe, "examples/synthetic_grpo.yaml"), stack)
    """
    config = reward_config(recipe.reward)  # before any loading: a bad reward field fails first
    tasks = require_tasks(load_tasks(recipe.tasks), recipe.tasks)
    problems = synthetic_problems(recipe.tasks) if recipe.tasks.source == "synthetic" else None
    guide_prompt = guide_prompt_fn(recipe.guide_template)
    cache = open_cache(recipe.cache)
    stack.callback(cache.close)
    core = build_core(recipe.core, stack=stack, cache=cache, namespace="core")
    reward = build_reward(config, core, tokenizer=tokenizer, prices=prices)
    stack.callback(reward.close)
    return Run(tasks, problems, guide_prompt, cache, core, reward)
