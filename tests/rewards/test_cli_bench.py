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
    assert main(["bench", "--input", str(rows), "--math", "0", "--json", str(tmp_path / "b.json")]) == 0
    assert "format_per_s" in json.loads((tmp_path / "b.json").read_text())


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--workers", "0"]) == 2
    assert "must be >= 1" in capsys.readouterr().err
