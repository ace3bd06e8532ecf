"""``exectune bench`` and the benchmark library on a small workload (real sandbox, real workers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exectune_rl.cli import main
from exectune_rl.rewards.bench import build_workload, load_workload

KEYS = (
    "composite_per_s", "composite_cached_per_s", "syntax_vs_ast_ratio", "syntax_per_s", "ast_parse_per_s",
    "format_per_s", "leakage_per_s", "cost_per_s", "nondegradation_per_s", "execution_per_s", "math_per_s",
)  # fmt: skip


def test_bench_writes_every_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "-n", "48", "--math", "16", "--batch-size", "16", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    for key in KEYS:
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["n_completions"] == 48 and result["workers"] == 2
    # Every completion got a verdict; the workload mixes scored, malformed and leaking ones.
    assert sum(result["composite_statuses"].values()) == 48 and {"scored", "format_failed", "leaked"} <= set(result["composite_statuses"])
    assert result["targets"]["composite_per_s"]["target"] == 400.0
    table = capsys.readouterr().out
    assert "composite_per_s" in table and "syntax_vs_ast_ratio" in table


def test_workload_mixes_variants() -> None:
    items = build_workload(328)
    outputs = " ".join(it.output for it in items)
    assert "return None" in outputs and "RuntimeError" in outputs and "return (\n" in outputs
    assert sum("<strategy>" in it.completion and "</strategy>" not in it.completion for it in items) == 328 // 20 + 1


def test_bench_on_user_rows(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"kind": "math", "problem": "2+3?", "answer": "5", "strategy": "Add.", "core_output": "#### 5"}) + "\n"
    )
    [item] = load_workload(str(rows))
    assert item.output == "#### 5" and item.task.kind.value == "math"
    out = tmp_path / "new" / "dir" / "b.json"  # parent folders are created
    assert main(["bench", "--input", str(rows), "--math", "0", "--json", str(out)]) == 0
    assert "format_per_s" in json.loads(out.read_text())


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--workers", "0"]) == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_an_unusable_json_path_fails_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["bench", "-n", "4", "--math", "0", "--json", str(blocker / "sub" / "b.json")]) == 2
    captured = capsys.readouterr()
    assert "cannot create the folder" in captured.err and "composite_per_s" not in captured.out


def test_bench_cores_creates_the_json_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    pytest.importorskip("fastapi")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cores.py"
    out = tmp_path / "a" / "b" / "cores.json"
    args = ["--calls", "8", "--concurrency", "4", "--latency", "0.01", "--repeats", "1", "--lookups", "20", "--json", str(out)]
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())["calls"] == 8
