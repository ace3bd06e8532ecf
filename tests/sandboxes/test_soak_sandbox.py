"""soak_sandbox.py end to end on a few hundred runs: its JSON keeps its contract (not timed)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak_sandbox.py"


def test_small_soak_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    args = ["--runs", "300", "--report-every", "100", "--kill-every", "150", "--json", str(out)]
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    for key in ("runs", "rss_growth_mb", "fd_growth", "leftover_processes", "wrong_results", "misdelivered_results"):
        assert key in data, key
    assert data["runs"] == 300 and len(data["checkpoints"]) == 3
    # Correctness does not depend on timing: nothing wrong, nothing misdelivered, nothing left.
    assert data["wrong_results"] == 0 and data["misdelivered_results"] == 0, data["examples"]
    assert data["leftover_processes"] == 0
    assert data["worker_restarts"] >= 1  # the worker killed from outside was replaced
    assert "misdeliv." in proc.stdout
