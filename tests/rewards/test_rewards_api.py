"""The rewards package's public surface: __all__, lazy imports, no torch, and its doctests."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import exectune_rl.rewards as rewards

MODULES = [
    "text", "format_gate", "syntax", "execution", "mathcheck", "leakage", "nondegradation", "cost",
    "executability", "config", "records", "columns", "composite", "summary", "sample",
]  # fmt: skip


def test_all_names_resolve() -> None:
    assert {"ExecTuneReward", "RewardConfig", "AsyncExecTuneReward", "RewardModelAdapter"} <= set(rewards.__all__)
    for name in rewards.__all__:
        if name == "RewardModelAdapter":
            continue  # imports torch; covered by test_model.py
        assert getattr(rewards, name) is not None
    with pytest.raises(AttributeError):
        rewards.NoSuchThing  # noqa: B018


@pytest.mark.parametrize("module", MODULES)
def test_module_all_lists_real_names(module: str) -> None:
    mod = importlib.import_module(f"exectune_rl.rewards.{module}")
    assert mod.__all__ and all(hasattr(mod, n) for n in mod.__all__)


def test_importing_the_reward_does_not_import_torch() -> None:
    code = (
        "import sys; from exectune_rl.rewards import ExecTuneReward, RewardConfig; ExecTuneReward(RewardConfig.code());"
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'sympy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"  # sympy (math-verify) lives in the worker processes only


@pytest.mark.parametrize("module", ["text", "format_gate", "syntax", "leakage", "nondegradation", "cost", "executability", "config", "columns", "composite"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"exectune_rl.rewards.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
