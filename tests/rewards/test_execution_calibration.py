"""Calibrated time limits through the reward: RewardConfig reaches the executor and the runner."""

from __future__ import annotations

from exectune_rl.rewards import RewardConfig
from exectune_rl.rewards.composite import _calibration
from exectune_rl.rewards.execution import CodeExecutor
from exectune_rl.sandboxes.calibration import Calibration
from exectune_rl.tasks import Task


def _task() -> Task:
    return Task(id="t/add", kind="code", problem="Write add(a, b).", tests="assert add(1, 2) == 3\nassert add(2, 2) == 4\n",
                test_format="asserts", reference="def add(a, b):\n    return a + b\n", language="python")


def test_config_builds_the_calibration_it_describes():
    assert _calibration(RewardConfig()) is None
    cal = _calibration(RewardConfig(calibrate_time_limits=True, calibration_floor_s=0.1, calibration_recheck="progress"))
    assert isinstance(cal, Calibration) and cal.floor_s == 0.1 and cal.recheck == "progress"


def test_a_loop_costs_the_calibrated_limit_not_the_hard_one(tmp_path):
    cal = Calibration(path=tmp_path / "c.sqlite", floor_s=0.1, recheck="never")
    ex = CodeExecutor(workers=1, cpu_time_s=3.0, cache_size=0, calibration=cal)
    try:
        loop, ok = ex.run(["def add(a, b):\n    while True:\n        pass\n", "def add(a, b):\n    return a + b\n"],
                              [_task(), _task()])
    finally:
        ex.close()
    assert ok.success and not loop.success
    assert loop.status.value == "timeout"
    assert cal.stats["calibrated"] == 1
