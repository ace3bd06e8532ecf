"""The Ray plugin without a cluster: the registry finds it, a missing Ray says what to install,
bad arguments are refused, and the scheduler picks actors by load."""

from __future__ import annotations

import sys

import pytest

from exectune_rl.errors import ConfigError, MissingDependencyError
from exectune_rl.registry import sandbox_registry


def test_entry_point_resolves_without_importing_ray():
    entry = {e.name: e for e in sandbox_registry.entries()}["ray"]
    assert entry.source == "entry-point" and entry.target == "exectune_sandbox_ray:RaySandbox"
    assert sandbox_registry.resolve("ray").__name__ == "RaySandbox"


def test_plugins_command_lists_it(capsys):
    from exectune_rl.cli import main

    assert main(["plugins"]) == 0
    assert "exectune_sandbox_ray:RaySandbox" in capsys.readouterr().out


def test_missing_ray_names_the_plugin(monkeypatch):
    from exectune_rl.sandboxes import get_sandbox

    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray sees
    with pytest.raises(MissingDependencyError, match="pip install exectune-sandbox-ray"):
        get_sandbox("ray")


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"max_in_flight": 0}, {"actors_per_node": 1.5},
                                    {"num_cpus": -1}, {"nodes": "abc"}, {"chunk_size": True}])
def test_bad_arguments(kwargs):
    from exectune_sandbox_ray import RaySandbox

    # Refused before any connection is made: a bad value never starts a cluster.
    with pytest.raises(ConfigError):
        RaySandbox(**kwargs)


def _pool(loads):
    from exectune_sandbox_ray.sandbox import RaySandbox, _Slot

    pool = RaySandbox.__new__(RaySandbox)
    import threading

    pool._lock, pool.max_in_flight, pool.chunk_size, pool._slots = threading.Lock(), 2, None, []
    for workers, load, chunks in loads:
        slot = _Slot("n", workers, workers, actor=None, ready=None)
        slot.state, slot.load, slot.chunks = "live", load, chunks
        pool._slots.append(slot)
    return pool


def test_pick_by_load_per_worker():
    # The 8-worker actor with 8 queued is less loaded (1 per worker) than the 2-worker one with 4.
    pool = _pool([(2, 4, 1), (8, 8, 1)])
    assert pool._pick() is pool._slots[1]
    # An actor at max_in_flight gets nothing; excluded actors get nothing; none left: None.
    pool = _pool([(2, 0, 2), (2, 6, 1)])
    assert pool._pick() is pool._slots[1] and pool._slots[1].chunks == 2
    assert pool._pick() is None


def test_chunks_scale_with_batch_and_workers():
    pool = _pool([(2, 0, 0), (8, 0, 0)])
    small, big = pool._slots
    assert pool._chunk(10, small) == 2 and pool._chunk(10, big) == 8  # one request per worker
    assert pool._chunk(100_000, small) == 32 and pool._chunk(100_000, big) == 128  # capped: 16 per worker


def test_recipe_reaches_the_ray_sandbox():
    from pathlib import Path

    from exectune_rl.cores.base import CallableCore
    from exectune_rl.rewards import ExecTuneReward, RewardConfig
    from exectune_rl.training.config import RLRecipe
    from exectune_rl.training.recipe import parse_recipe

    # The documented recipe parses, and its reward's code execution is made by the registry's "ray"
    # (the sandbox itself is created on first use, so nothing connects here).
    recipe = parse_recipe(RLRecipe, Path(__file__).parents[1] / "examples" / "humaneval_grpo_ray.yaml")
    reward = ExecTuneReward(RewardConfig.from_section(recipe.reward), core=CallableCore(lambda request: ""))
    assert reward.executor.sandbox_name == "ray" and sandbox_registry.resolve(reward.executor.sandbox_name).name == "ray"
    reward.close()
