"""Tasks, loaders and prompt templates."""

from __future__ import annotations

from exectune_rl.tasks.base import Task, TaskKind

__all__ = ["Task", "TaskKind"]
