"""Non-degradation: comparison with the core alone, and the baseline store."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.nondegradation import Baseline, BaselineStore, compare


def test_compare() -> None:
    assert compare(Baseline(1.0), 0.0).degradation == 1.0  # turned a success into a failure
    assert compare(Baseline(1.0), 1.0).degradation == 0.0
    assert compare(Baseline(0.0), 1.0).degradation == 0.0  # helping is never penalised
    partial = compare(Baseline(0.75, runs=4), 0.25)
    assert partial.degradation == pytest.approx(0.5) and partial.degraded


def test_store_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "base" / "baselines.jsonl"
    store = BaselineStore(path)
    store.put("core-a", "t1", Baseline(1.0, 2, 0.9))
    store.put("core-b", "t1", Baseline(0.0, 1, 0.0))
    again = BaselineStore(path)
    assert again.get("core-a", "t1") == Baseline(1.0, 2, 0.9)
    assert again.get("core-b", "t1") == Baseline(0.0, 1, 0.0)
    assert again.get("core-a", "t2") is None and len(again) == 2


def test_corrupted_store_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"model": "m", "task_id": "t", "success_rate": 1, "runs": 1}\nnot json\n')
    with pytest.raises(ConfigError, match=r"b.jsonl:2"):
        BaselineStore(path)


def test_store_pickles_with_its_data() -> None:
    store = BaselineStore()
    store.put("m", "t", Baseline(0.5))
    clone = pickle.loads(pickle.dumps(store))
    assert clone.get("m", "t") == Baseline(0.5)
