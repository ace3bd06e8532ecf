"""Fixtures of the training tests: a real sandbox, program core and reward, shared per module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def program_reward():
    """An ``ExecTuneReward`` (math preset) whose core is a ``ProgramCore`` on a real LocalSandbox."""
    from exectune_rl.cores.program import ProgramCore
    from exectune_rl.sandboxes import LocalSandbox
    from exectune_rl.training.components import build_reward

    sandbox = LocalSandbox(workers=2)
    reward = build_reward({"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 1}, ProgramCore(sandbox), program_core=True)
    yield reward
    reward.close()
    sandbox.close()
