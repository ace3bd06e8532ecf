"""Fixtures for the reward tests: real HumanEval tasks, a real LocalSandbox, scripted cores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exectune_rl.rewards.mathcheck import MathVerifier
from exectune_rl.tasks.base import Task
from reward_testlib import humaneval_tasks


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
