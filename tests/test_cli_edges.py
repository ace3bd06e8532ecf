"""The exectune command at its edges: every user mistake is one clear line and exit status 2,
never a traceback; what cannot run here says so. Each test runs the console script as a
subprocess, as a user would, and checks the exit status and that stderr holds no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXECTUNE = shutil.which("exectune", path=os.path.dirname(sys.executable)) or "exectune"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXECTUNE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *needles: str, status: int = 2) -> str:
    """Exit ``status``, no traceback, and the message (its last line) mentions every needle."""
    err = proc.stderr
    assert proc.returncode == status, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    for needle in needles:
        assert needle in err, (needle, err[-2000:])
    return err


def test_plugins_shows_a_plugin_whose_runtime_dependency_is_missing_as_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("exectune_sandbox_bwrap")
    # PATH without bubblewrap, whether or not this machine has it: the bwrap plugin imports but cannot run.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {"PATH": str(bindir)}
    proc = subprocess.run([sys.executable, "-m", "exectune_rl.cli", "plugins"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [line] = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("bwrap ")]
    assert "unavailable: bubblewrap is not installed" in line
    assert "[available]" in next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("local "))
    rows = json.loads(subprocess.run([sys.executable, "-m", "exectune_rl.cli", "plugins", "--json"], capture_output=True,
                                     text=True, timeout=60, env={**os.environ, **env}).stdout)  # fmt: skip
    bwrap = next(r for r in rows if r["name"] == "bwrap")
    assert bwrap["available"] is False and "bubblewrap" in bwrap["reason"]


def test_a_plugin_that_does_not_import_is_unavailable_with_the_reason() -> None:
    from exectune_rl.registry import Registry

    reg = Registry("sandbox", "exectune_rl.no_such_group")
    reg.register("broken", "exectune_rl.no_such_module:Thing")
    reg.register("fine", "exectune_rl.sandboxes.local:LocalSandbox")
    assert "no_such_module" in reg.unavailable_reason("broken")
    assert reg.unavailable_reason("fine") is None


def test_bench_gives_pass_fail_only_on_the_full_workload() -> None:
    from exectune_rl.rewards.bench import FULL_WORKLOAD, format_results

    def result(full: bool) -> dict:
        return {"composite_per_s": 120.0, "syntax_vs_ast_ratio": 1.3, "n_completions": FULL_WORKLOAD if full else 48,
                "workers": 2, "sandbox": "local", "batch_size": 16, "cpu_count": 2, "full_workload": full,
                "targets": {"composite_per_s": {"target": 400.0, "value": 120.0, "met": False if full else None},
                            "syntax_vs_ast_ratio": {"target": 1.0, "value": 1.3, "met": True if full else None}}}  # fmt: skip

    small = format_results(result(False))
    assert "PASS" not in small and "FAIL" not in small and "no verdict" in small and "full workload only" in small
    full = format_results(result(True))
    assert "composite_per_s" in full and ">= 400 FAIL" in full and ">= 1 PASS" in full


def test_bench_has_one_name_per_option() -> None:
    proc = cli("bench", "--help")
    assert proc.returncode == 0 and "--runs" not in proc.stdout and "-n COMPLETIONS, --completions COMPLETIONS" in proc.stdout
    assert_clean_failure(cli("bench", "--runs", "5"), "--runs")


def test_summary_table_says_denominators_direction_units_and_alpha() -> None:
    from exectune_rl.rewards.summary import ScoreSummary, format_table

    for unit, shown in (("ktokens", "(guide + core tokens) / 1000 per strategy"), ("usd", "US dollars per strategy")):
        table = format_table(ScoreSummary(cost_unit=unit).result() | {"components": {"cost": 0.5, "leakage": 0.1, "format": 1.0},
                                                                       "counts": {"cost": 4, "leakage": 3, "format": 5}})
        assert f"(n=4 strategies the core ran: {shown}; lower is better)" in table
        assert "(n=3 strategies checked: share found leaking; lower is better)" in table
        assert "(n=5 completions: share with one well-formed strategy; higher is better)" in table


def _readme_rows(tmp_path: Path) -> Path:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("One complete row per kind", 1)[1].split("```json\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    path = tmp_path / "rows.jsonl"
    path.write_text(block, encoding="utf-8")
    return path


def test_the_readme_example_rows_score_as_documented(tmp_path: Path) -> None:
    rows = _readme_rows(tmp_path)
    out = tmp_path / "scored.jsonl"
    proc = cli("score", str(rows), "--out", str(out), "--no-progress", "--workers", "1")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    got = {r["task_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    kinds = {json.loads(line)["kind"] + "/" + json.loads(line).get("test_format", "check" if '"code"' in line else "-")
             for line in rows.read_text().splitlines()}  # fmt: skip
    assert kinds == {"math/-", "code/check", "code/asserts", "code/io"}  # one row per kind and test format
    assert {k: (r["status"], r["reward"]) for k, r in got.items()} == {
        "sum-1": ("scored", 1.0), "add-check": ("scored", 1.0), "add-asserts": ("scored", 0.6), "echo-io": ("scored", 1.0)}


def test_score_help_describes_the_row_format() -> None:
    proc = cli("score", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for needle in ("completion", "strategy", "core_output", "test_format", "asserts", "io", "README"):
        assert needle in text, needle


# --- exectune score: bad input and mistakes, each one line and exit status 2 ---------------------

MATH_ROW = {"kind": "math", "problem": "What is 2+3?", "answer": "5", "strategy": "Add.", "core_output": "#### 5"}


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(bytes(range(128, 256)) * 4)
    fake_gz = tmp_path / "rows.jsonl.gz"
    fake_gz.write_text(json.dumps(MATH_ROW) + "\n")  # named .gz, but plain text
    folder = tmp_path / "folder"
    folder.mkdir()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    return {"binary": binary, "fake_gz": fake_gz, "folder": folder, "empty": empty}


@pytest.mark.parametrize(("which", "needle"), [
    ("binary", "is not UTF-8 text"),
    ("fake_gz", "is not a valid gzip file"),
    ("folder", "is a directory"),
    ("empty", "is empty"),
])  # fmt: skip
def test_score_on_unreadable_or_empty_input_is_one_line_and_exit_2(bad_inputs, which, needle) -> None:
    # Before: UnicodeDecodeError / BadGzipFile / IsADirectoryError tracebacks (exit 1), and exit 0 for an empty file.
    err = assert_clean_failure(cli("score", str(bad_inputs[which]), "--no-progress"), needle, str(bad_inputs[which].name))
    assert len(err.strip().splitlines()) == 1 and err.startswith("exectune score: error: ")


def test_score_out_pointing_at_a_directory_fails_before_scoring(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(MATH_ROW) + "\n")
    err = assert_clean_failure(cli("score", str(rows), "--out", str(tmp_path), "--no-progress"), "--out", "is a directory")
    assert "scoring" not in err  # checked before the first row


@pytest.mark.parametrize(("args", "needles"), [
    (["--limit", "-1"], ["--limit must be >= 1, got -1"]),
    (["--batch-size", "0"], ["--batch-size must be >= 1"]),
    (["--workers", "0"], ["--workers must be >= 1"]),
    (["--sandbox", "nosuch"], ["--sandbox 'nosuch' cannot be used", "unknown sandbox 'nosuch'", "local"]),
    (["--set", "cost_lambda=-5"], ["--set cost_lambda=-5", "cost_lambda must be >= 0, got -5"]),
    (["--set", "nosuch=1"], ["unknown --set/--config field(s): nosuch"]),
    (["--core-option", "model=x"], ["--core-option needs --core"]),
])  # fmt: skip
def test_score_user_mistakes_exit_2_in_the_clis_words(args, needles) -> None:
    # Before: --limit -1 and --sandbox nosuch exited 0 (every code row 'infra'); cost_lambda said "in [0.0, None]".
    err = assert_clean_failure(cli("score", *args, "--no-progress"), *needles)
    assert "RewardConfig." not in err and "scoring" not in err


def test_score_with_a_sandbox_whose_binary_is_missing_fails_before_the_first_row(tmp_path: Path) -> None:
    pytest.importorskip("exectune_sandbox_bwrap")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = {"PATH": f"{bindir}{os.pathsep}{os.path.dirname(sys.executable)}"}  # the venv, but no bwrap
    err = assert_clean_failure(cli("score", "--sandbox", "bwrap", "--limit", "2", "--no-progress", env=env),
                               "--sandbox 'bwrap' cannot be used", "bubblewrap is not installed")  # fmt: skip
    assert "scoring" not in err


def test_score_rows_without_kind_or_core_name_the_column_and_the_flag(tmp_path: Path) -> None:
    no_kind = tmp_path / "no_kind.jsonl"
    no_kind.write_text(json.dumps({k: v for k, v in MATH_ROW.items() if k != "kind"}) + "\n")
    assert_clean_failure(cli("score", str(no_kind), "--no-progress"), "line 1", "'kind' column", "--preset math")
    no_core = tmp_path / "no_core.jsonl"
    no_core.write_text(json.dumps({k: v for k, v in MATH_ROW.items() if k != "core_output"}) + "\n")
    err = assert_clean_failure(cli("score", str(no_core), "--no-progress"), "'core_output'", "--core")
    assert "core=..." not in err and "RewardConfig" not in err


def test_a_missing_api_key_is_one_line(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({k: v for k, v in MATH_ROW.items() if k != "core_output"}) + "\n")
    env = {"EXECTUNE_TEST_NO_SUCH_KEY": ""}
    proc = cli("score", str(rows), "--core", "openai", "--core-option", "model=m", "--core-option",
               "api_key_env=EXECTUNE_TEST_NO_SUCH_KEY", "--no-progress", env=env)  # fmt: skip
    err = assert_clean_failure(proc, "EXECTUNE_TEST_NO_SUCH_KEY", "is not set")
    assert len(err.strip().splitlines()) == 1


def test_bench_mistakes_are_one_line_and_exit_2() -> None:
    assert_clean_failure(cli("bench", "--workers", "0"), "exectune bench: error: --workers must be >= 1")
    assert_clean_failure(cli("bench", "--sandbox", "nosuch"), "exectune bench: error: --sandbox 'nosuch' cannot be used")


# --- one command line: version, help, error prefix, spelling, missing extras ------------------------


def test_version_and_verbose_help() -> None:
    from exectune_rl import __version__

    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"exectune {__version__}"
    for command in ("score", "bench", "plugins", "eval", "demo"):
        text = " ".join(cli(command, "--help").stdout.split())
        assert "-v, --verbose more logging (-v info, -vv debug)" in text, command


def test_set_is_spelled_the_same_everywhere() -> None:
    from exectune_rl.cli import SUBCOMMANDS

    for command in SUBCOMMANDS:
        proc = cli(command, "--help")
        if "--set" in proc.stdout:
            assert "--set KEY=VALUE" in proc.stdout, command
    assert "--set KEY=VALUE" in cli("score", "--help").stdout


def test_every_subcommand_uses_one_error_prefix(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    for command, args in (("score", ["--limit", "-1"]), ("bench", ["--workers", "0"]), ("eval", ["--config", missing]),
                          ("sft", ["--config", missing]), ("demo", ["--set", "nosuch=1"])):  # fmt: skip
        err = assert_clean_failure(cli(command, *args))
        assert err.strip().splitlines()[-1].startswith(f"exectune {command}: error: "), (command, err)


def test_demo_without_the_train_extra_names_the_extra(tmp_path: Path) -> None:
    # Packages that fail to import as if absent, ahead of the installed ones on the path.
    for name in ("torch", "transformers", "trl", "datasets"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n")
    env = {"PYTHONPATH": str(tmp_path)}
    err = assert_clean_failure(cli("demo", "--quick", "--output-dir", str(tmp_path / "out"), env=env),
                               "is not installed", "pip install 'exectune-rl[train]'")  # fmt: skip
    assert len(err.strip().splitlines()) == 1 and "ModuleNotFoundError" not in err


# --- recipes: the trainer: block is checked before anything is loaded ---------------------------


def _recipe(tmp_path: Path, trainer: str, *, dataset: bool) -> Path:
    # The model and dataset do not exist: an error about them would mean they were touched first.
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"model: {tmp_path / 'no-model'}\n" + (f"dataset: {tmp_path / 'no-data.jsonl'}\n" if dataset else "")
                      + f"output_dir: {tmp_path / 'out'}\ntrainer:\n  {trainer}\n")  # fmt: skip
    return recipe


@pytest.mark.parametrize(("command", "trainer", "needle"), [
    ("sft", "learning_rate: fast", "trainer.learning_rate must be float, got 'fast'"),
    ("grpo", "nosuch_key: 1", "unknown GRPOConfig field(s) 'nosuch_key'"),
    ("grpo", "num_generations: many", "trainer.num_generations must be int, got 'many'"),
])  # fmt: skip
def test_trainer_block_is_checked_before_the_dataset_or_model_is_touched(tmp_path: Path, capsys, command, trainer, needle) -> None:
    pytest.importorskip("trl")
    from exectune_rl.cli import main

    # Before: a TypeError from torch's optimizer after the model and dataset had loaded. In-process
    # (cli.main, the console script's entry point) so TRL's slow import is paid once, not per case.
    recipe = _recipe(tmp_path, trainer, dataset=command == "sft")
    assert main([command, "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"exectune {command}: error: {err.strip().split(': error: ', 1)[1]}" and needle in err
    assert "no-model" not in err and "no-data" not in err and not (tmp_path / "out").exists()


def test_a_bad_reward_field_in_a_recipe_fails_before_the_model_or_tasks(tmp_path: Path, capsys) -> None:
    pytest.importorskip("trl")
    from exectune_rl.cli import main

    recipe = _recipe(tmp_path, "max_steps: 1", dataset=False)
    recipe.write_text(recipe.read_text() + "reward:\n  cost_lambda: -5\n")
    assert main(["grpo", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "exectune grpo: error: reward.cost_lambda must be >= 0, got -5" in err and "no-model" not in err


def test_trainer_values_are_converted_to_the_config_types() -> None:
    trl = pytest.importorskip("trl")
    from exectune_rl.errors import ConfigError
    from exectune_rl.training.trl_utils import check_trainer_fields

    assert check_trainer_fields(trl.SFTConfig, {"max_steps": "3", "learning_rate": 1e-5, "report_to": "none"}) == {
        "max_steps": 3, "learning_rate": 1e-5, "report_to": "none"}
    with pytest.raises(ConfigError, match="trainer.bf16 must be true or false"):
        check_trainer_fields(trl.SFTConfig, {"bf16": "maybe"})


def test_score_records_a_bad_line_in_its_place_and_scores_its_neighbours(tmp_path: Path) -> None:
    good = '{{"kind": "math", "problem": "{a}+{a}?", "answer": "{b}", "strategy": "add", "core_output": "\\\\boxed{{{b}}}"}}'
    lines = [good.format(a=1, b=2), "[1, 2]", "not json", "[" * 100000 + "]" * 100000, good.format(a=3, b=6)]
    src = tmp_path / "rows.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    proc = cli("score", str(src), "--preset", "math", "--set", "math_workers=1", "--out", str(out), "--no-progress")
    assert_clean_failure(proc, "line 2: expected a JSON object", "bad_task")
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(g["line"], g["status"]) for g in got] == [(1, "scored"), (2, "bad_task"), (3, "bad_task"), (4, "bad_task"),
                                                        (5, "scored")]
    assert got[0]["reward"] is not None and got[4]["reward"] is not None and got[3]["reason"].startswith("line 4")


def test_serve_refuses_a_port_out_of_range_or_in_use_before_it_says_listening() -> None:
    import socket

    assert "listening" not in assert_clean_failure(cli("serve", "--port", "99999"), "--port must be in 1..65535")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = assert_clean_failure(cli("serve", "--port", str(port)), f"--port {port}", "in use")
        assert "listening" not in err


def test_score_refuses_an_unwritable_summary_file_before_the_run() -> None:
    proc = cli("score", "--summary-json", "/proc/summary.json", "--no-progress")
    err = assert_clean_failure(proc, "--summary-json", "cannot write")
    assert "scoring" not in err  # refused before any row was scored
