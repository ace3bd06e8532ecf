"""What the service scores with: recipes, the embedded default, and the ``exectune serve`` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from exectune_rl.cli import main
from exectune_rl.errors import ConfigError
from exectune_rl.rewards.cli_score import SAMPLE_PRICE_MODEL
from exectune_rl.rewards.sample import iter_sample
from exectune_rl.serve.cli import is_loopback
from exectune_rl.serve.run import load_serve_recipe, open_scoring_run

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_is_exectune_scores_default(tmp_path):
    # Same config, same task table, same rewards as `exectune score` with no arguments.
    recipe = load_serve_recipe(None)
    assert recipe.reward["given_output_model"] == SAMPLE_PRICE_MODEL and recipe.tasks.source == "humaneval"
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--limit", "6", "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    expected = [json.loads(line)["reward"] for line in out.read_text().splitlines()]
    with open_scoring_run(None, workers=1) as run:
        assert [r.reward for r in run.score_rows(list(iter_sample())[:6])] == expected
        assert "HumanEval/0" in run.tasks and not run.has_core


def test_a_file_of_reward_fields_and_a_recipe_with_a_task_table(tmp_path):
    bare = tmp_path / "reward.yaml"
    bare.write_text("preset: math\ncost_lambda: 0.01\n")
    assert load_serve_recipe(str(bare)).reward == {"preset": "math", "cost_lambda": 0.01}  # `exectune score --config` format
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"task_id": "t1", "kind": "math", "problem": "What is 6*7?", "answer": "42"}) + "\n")
    recipe = tmp_path / "serve.yaml"
    recipe.write_text(f"reward: {{preset: math, math_workers: 0, nondegradation_penalty: 0}}\n"
                      f"tasks: {{source: jsonl, path: {tasks}}}\nserver: {{max_batch: 8}}\n")  # fmt: skip
    with open_scoring_run(str(recipe), ["server.max_queued=3"]) as run:
        assert run.limits.max_batch == 8 and run.limits.max_queued == 3 and list(run.tasks) == ["t1"]
        [rec] = run.score_rows([{**run.tasks["t1"], "strategy": "Multiply.", "core_output": "6*7 = 42\n#### 42"}])
        assert rec.reward == 1.0


def test_a_bad_recipe_names_the_key(tmp_path):
    recipe = tmp_path / "serve.yaml"
    recipe.write_text("reward: {preset: math}\nserver: {max_batch: 0}\n")
    with pytest.raises(ConfigError, match="server.max_batch must be >= 1"):
        load_serve_recipe(str(recipe))
    recipe.write_text("reward: {preset: math}\nsevrer: {}\n")
    with pytest.raises(ConfigError, match="unknown key.*'sevrer'"):
        load_serve_recipe(str(recipe))


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("10.1.2.3", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(args):
    env = {k: v for k, v in os.environ.items() if k != "EXECTUNE_SERVE_TOKEN"}
    return subprocess.Popen([sys.executable, "-m", "exectune_rl.cli", "serve", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_health(url, proc):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            return httpx.get(url + "/health", timeout=1).json()
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("exectune serve did not come up")


def test_without_a_token_the_command_binds_loopback_only_and_says_so():
    # (The token itself is checked on the in-thread server: test_app.py.)
    port = _free_port()
    proc = _serve(["--host", "0.0.0.0", "--port", str(port), "--workers", "1"])
    try:
        health = _wait_health(f"http://127.0.0.1:{port}", proc)
        assert health["auth"] is False and health["tasks"] == 164
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
    assert "no EXECTUNE_SERVE_TOKEN is set, so it binds 127.0.0.1 only (not 0.0.0.0)" in proc.stderr.read()
