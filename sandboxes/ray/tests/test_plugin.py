"""The Ray plugin without a cluster: the registry finds it, a missing Ray says what to install,
bad arguments are refused, and the scheduler picks actors by load."""

from __future__ import annotations

import sys
from importlib.util import find_spec

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
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("ray "))
    assert "exectune_sandbox_ray:RaySandbox" in line and "[available]" in line


def test_missing_ray_names_the_plugin(monkeypatch):
    from exectune_rl.sandboxes import get_sandbox

    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray sees
    with pytest.raises(MissingDependencyError, match="pip install exectune-sandbox-ray"):
        get_sandbox("ray")
    # ... and `exectune plugins` lists it as unavailable with the same reason.
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    assert "pip install exectune-sandbox-ray" in sandbox_registry.unavailable_reason("ray")


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


class _Ref:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error


class _FakeRay:
    """Just enough of ``ray`` for the batch loop: every call is ready at once."""

    @staticmethod
    def wait(refs, num_returns=1, timeout=None):
        return refs[:num_returns], refs[num_returns:]

    @staticmethod
    def get(ref):
        if ref.error is not None:
            raise ref.error
        return ref.value

    @staticmethod
    def nodes():
        return []  # the failed actors' node is gone: nothing replaces them

    @staticmethod
    def kill(actor, no_restart=True):
        pass


class _Actor:
    def __init__(self, dies: bool):
        from exectune_rl.sandboxes import ExecResult, ExecStatus

        run = lambda requests: _Ref(error=RuntimeError("actor died")) if dies else _Ref(  # noqa: E731
            [ExecResult(ExecStatus.OK, stdout=r.code) for r in requests])
        self.run = type("Method", (), {"remote": staticmethod(run)})


def test_a_chunk_that_fails_twice_is_infra_with_retried(caplog):
    from exectune_sandbox_ray._batch import _Batch

    from exectune_rl.sandboxes import ExecRequest, ExecStatus

    pool = _pool([(1, 0, 0), (1, 0, 0)])
    pool._ray, pool.retry_on_actor_death, pool._closed, pool.replacements = _FakeRay, True, False, 0
    for slot in pool._slots:
        slot.actor, slot.info = _Actor(dies=True), {"pid": 1}
    results = _Batch(pool, [ExecRequest(f"print({i})") for i in range(3)]).run()
    # Both actors died: each request was retried once and then reported as infrastructure.
    assert [r.status for r in results] == [ExecStatus.INFRA] * 3 and all(r.retried for r in results)

    pool = _pool([(1, 0, 0), (1, 0, 0)])
    pool._ray, pool.retry_on_actor_death, pool._closed, pool.replacements = _FakeRay, True, False, 0
    pool._slots[0].actor, pool._slots[1].actor = _Actor(dies=True), _Actor(dies=False)
    for slot in pool._slots:
        slot.info = {"pid": 1}
    results = _Batch(pool, [ExecRequest(f"print({i})") for i in range(6)]).run()
    # One actor died: its chunks ran on the other, in place, marked retried; the rest were not.
    assert [r.stdout for r in results] == [f"print({i})" for i in range(6)]
    assert any(r.retried for r in results) and not all(r.retried for r in results)
