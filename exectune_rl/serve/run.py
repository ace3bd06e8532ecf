"""The reward and the task table a service (or a framework adapter) scores with.

:func:`open_scoring_run` builds them from a serve recipe through the training room's one way
of building parts (:func:`exectune_rl.training.components.open_run` when the recipe has a core
and a task source, its pieces otherwise). With no recipe it builds exactly what ``exectune
score`` builds with no arguments: the RewardConfig of its defaults (``preset: auto``, given
core outputs priced as the paper's core) and, as the task table, the HumanEval tasks that
``exectune score`` resolves bare ``task_id`` rows against.

Example:
    >>> with open_scoring_run(None) as run:                       # doctest: +SKIP
    ...     records = run.score_rows([{"task_id": "HumanEval/0", "strategy": "...", "core_output": "..."}])
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.serve.config import RECIPE_KEYS, ServeLimits, ServeRecipe

__all__ = ["ScoringRun", "open_scoring_run", "load_serve_recipe", "default_recipe", "default_reward_config", "completions_of"]

logger = logging.getLogger(__name__)


def default_reward_config() -> Any:
    """The RewardConfig ``exectune score`` uses when given no options (built by its own code)."""
    from exectune_rl.rewards import cli_score

    parser = argparse.ArgumentParser(add_help=False)
    cli_score.add_arguments(parser)
    return cli_score.build_config(parser.parse_args([]))


def default_recipe() -> dict[str, Any]:
    """The embedded default as a recipe: ``exectune score``'s RewardConfig and the HumanEval task table."""
    return {"reward": default_reward_config().to_dict(), "tasks": {"source": "humaneval"}}


def load_serve_recipe(path: str | None, overrides: Sequence[str] = ()) -> ServeRecipe:
    """The recipe in ``path``, or the embedded default (:func:`default_recipe`), with overrides applied.

    Args:
        path: A serve recipe, or a file of bare RewardConfig fields (``exectune score --config``);
            None: the embedded default.
        overrides: ``key.sub=value`` strings (``reward.cost_lambda=0.01``, ``server.max_batch=64``).

    Raises:
        ConfigError: the file is unreadable, or a key or value is wrong (the message names it).
    """
    from exectune_rl.training.recipe import apply_overrides, load_yaml, parse_recipe_dict

    data: dict[str, Any] = load_yaml(path) if path is not None else default_recipe()
    if data and not (set(data) & RECIPE_KEYS):
        data = {"reward": data}  # an `exectune score --config` file: RewardConfig fields only
    return parse_recipe_dict(ServeRecipe, apply_overrides(data, overrides))


def completions_of(rows: Sequence[Mapping[str, Any]], gate: Any) -> list[Any]:
    """Each row's completion: ``completion`` as given, or ``strategy`` wrapped in the gate's tag."""
    return [r["completion"] if r.get("completion") is not None else gate.wrap(str(r.get("strategy") or "")) for r in rows]


_NOT_COLUMNS = ("completion", "strategy", "_line")


@dataclass
class ScoringRun:
    """A reward, the task table it resolves ids against and the limits it is served with.

    Attributes:
        reward: The ``ExecTuneReward``.
        tasks: Task id -> the task's row (``Task.to_dict``), possibly empty.
        limits: The service's limits.
        source: What the run was built from, in words (for logs and ``/health``).
    """

    reward: Any
    tasks: dict[str, dict[str, Any]]
    limits: ServeLimits = field(default_factory=ServeLimits)
    source: str = "the embedded default"
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def has_core(self) -> bool:
        return self.reward.core is not None

    def score_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Score ``exectune score`` rows (task columns plus ``completion`` or ``strategy``) as one batch.

        One batch at a time: the pipeline's caches and the sandbox pool are shared, so calls
        from several threads take turns.

        Returns:
            One :class:`~exectune_rl.rewards.RewardRecord` per row.
        """
        from exectune_rl.rewards.columns import rows_to_columns

        if not rows:
            return []
        columns = rows_to_columns([{k: v for k, v in r.items() if k not in _NOT_COLUMNS} for r in rows])
        completions = completions_of(rows, self.reward.format_gate)
        with self._lock:
            return self.reward.score(completions=completions, **columns)

    def close(self) -> None:
        """Close the reward, core, sandboxes and cache this run opened. Idempotent."""
        self._stack.close()

    def __enter__(self) -> "ScoringRun":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _table(tasks: Sequence[Any]) -> dict[str, dict[str, Any]]:
    return {t.id: t.to_dict(drop_none=True) for t in tasks}


def open_scoring_run(recipe: ServeRecipe | str | None = None, overrides: Sequence[str] = (), *, workers: int | None = None) -> ScoringRun:
    """Build the reward and task table of a serve recipe (None: ``exectune score``'s default).

    Args:
        recipe: A :class:`ServeRecipe`, a path to one, or None for the embedded default.
        overrides: ``key.sub=value`` strings applied to the recipe file.
        workers: Sandbox workers (overrides ``reward.sandbox_workers``).

    Returns:
        The :class:`ScoringRun` (close it when done).

    Raises:
        ConfigError / DataError: a bad recipe or unreadable task data.
    """
    from exectune_rl.training import components

    _check_workers(workers)
    if recipe is None or isinstance(recipe, str):
        source = f"recipe {recipe}" if recipe else "the embedded default (as `exectune score`)"
        recipe = load_serve_recipe(recipe, overrides)
    else:
        source = "a ServeRecipe"
    stack = ExitStack()
    try:
        section = dict(recipe.reward)
        if workers is not None:
            section["sandbox_workers"] = workers
        from exectune_rl.rewards.config import RewardConfig

        config = RewardConfig.from_section(section)  # validated before any core or sandbox starts
        if recipe.core is not None and recipe.tasks is not None:
            run = components.open_run(_RunRecipe(recipe, config), stack)
            return ScoringRun(run.reward, _table(run.tasks), recipe.server, source, stack)
        tasks = components.load_tasks(recipe.tasks) if recipe.tasks is not None else []
        core = None
        if recipe.core is not None:
            cache = components.open_cache(recipe.cache)
            stack.callback(cache.close)
            core = components.build_core(recipe.core, stack=stack, cache=cache, namespace="core")
        reward = components.build_reward(config, core)
        stack.callback(reward.close)
        return ScoringRun(reward, _table(tasks), recipe.server, source, stack)
    except BaseException:
        stack.close()
        raise


@dataclass
class _RunRecipe:
    """A serve recipe in the shape :func:`open_run` reads (its reward section already a config)."""

    recipe: ServeRecipe
    reward: Any

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.recipe, name)


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
