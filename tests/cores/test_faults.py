"""Cores and the reward under faults, against a real HTTP server on 127.0.0.1 that misbehaves
on purpose: it drips its answer a byte at a time, answers 404/401/403, fails with 500 in the
middle of a batch and closes connections without answering. Infrastructure and configuration
failures are None with a reason, never a score; nothing waits longer than its deadline.

The server is the standard library's (no ASGI framework in between), so each fault is exactly
what goes over the socket. It stops itself at the end of the module, drippers included.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import re
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from exectune_rl.cores import CallableCore, CoreFailureKind, CoreRequest, OpenAICompatibleCore
from exectune_rl.errors import ConfigError
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from exectune_rl.rewards.records import RewardStatus

pytest.importorskip("openai")

_MODE = re.compile(r"MODE:(\w+)")
_ANSWER = re.compile(r"ANSWER:(-?\d+)")


class FaultState:
    """What the server does: by the ``MODE:<name>`` in the prompt, or for every request after
    ``fail_after`` answered ones (a server that goes down mid-batch)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.reset()

    def reset(self, *, fail_after: int | None = None, drip_interval_s: float = 0.2) -> None:
        with self.lock:
            self.fail_after = fail_after
            self.drip_interval_s = drip_interval_s
            self.served = 0
            self.attempts: Counter[str] = Counter()

    def decide(self, content: str) -> str:
        mode = (_MODE.search(content) or [None, "ok"])[1]
        with self.lock:
            self.attempts[content] += 1
            if self.fail_after is not None and self.served >= self.fail_after:
                return "500"
            if mode in ("closeonce", "500once"):  # the first attempt fails, the retry is answered
                mode = mode[:-4] if self.attempts[content] == 1 else "ok"
            if mode == "ok":
                self.served += 1
            return mode


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that vanishes mid-request frees its thread
    state: FaultState

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's spelling
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        payload = json.loads(raw)
        content = payload["messages"][-1]["content"]
        mode = self.state.decide(content)
        if mode == "close":  # read the request, then hang up without a word
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode in ("404", "401", "403", "500"):
            messages = {"404": f"The model `{payload['model']}` does not exist", "401": "invalid api key",
                        "403": "forbidden", "500": "internal error"}  # fmt: skip
            self._json(int(mode), {"error": {"message": messages[mode]}})
            return
        answer = (_ANSWER.search(content) or [None, "0"])[1]
        body = json.dumps({
            "id": "x", "object": "chat.completion", "model": payload["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"The sum.\n#### {answer}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }).encode()  # fmt: skip
        if mode != "drip":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # Headers at once, then one byte per interval: every read succeeds within the SDK's
        # read timeout, so only a deadline on the whole attempt stops the wait.
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for i in range(len(body)):
            if self.state.stopping.wait(self.state.drip_interval_s):
                return
            try:
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            except OSError:  # the client gave up: what the test wants
                return


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, FaultState]]:
    state = FaultState()
    handler = type("Handler", (_Handler,), {"state": state})
    srv = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1", state
    finally:
        state.stopping.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fault(server: tuple[str, FaultState]) -> Iterator[tuple[str, FaultState]]:
    server[1].reset()
    yield server
    server[1].reset()


def _core(base_url: str, **kwargs: Any) -> OpenAICompatibleCore:
    options = {"max_retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 2.0}
    options.update(kwargs)
    return OpenAICompatibleCore("fault-model", base_url=base_url, **options)


def _reward(core: Any, **overrides: Any) -> ExecTuneReward:
    # Math rows checked in-process: no worker start-up, the core is what is under test.
    config = RewardConfig.math(math_workers=0, nondegradation_penalty=0.0, **overrides)
    return ExecTuneReward(config, core=core)


def _math_rows(modes: list[str]) -> dict[str, Any]:
    n = len(modes)
    return {
        "completions": ["<strategy>\nAdd the two numbers.\n</strategy>"] * n,
        "problem": [f"MODE:{m} ANSWER:{i + 3} What is {i} + 3? (row {i})" for i, m in enumerate(modes)],
        "answer": [str(i + 3) for i in range(n)],
        "kind": ["math"] * n,
        "task_id": [f"row-{i}" for i in range(n)],
    }


def _score(reward: ExecTuneReward, rows: dict[str, Any]) -> list[Any]:
    columns = dict(rows)
    completions = columns.pop("completions")
    return reward.score(completions=completions, **columns)


# --- CallableCore: a function that hangs ------------------------------------------------------


def test_callable_core_that_hangs_times_out_as_a_typed_failure() -> None:
    release = threading.Event()

    def fn(request: CoreRequest) -> str:
        if "hang" in request.prompt_text:
            release.wait(30)  # a hung client library; released at the end so no thread lingers
        return "fine"

    core = CallableCore(fn, timeout_s=0.3, max_concurrency=4)
    try:
        start = time.perf_counter()
        out = core.generate([CoreRequest.from_prompt(p) for p in ("a", "hang", "b", "hang")])
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    # Before: generate never returned. Now the hung calls are TIMEOUT (infrastructure) values.
    assert elapsed < 2.0
    assert [r.text for r in out] == ["fine", "", "fine", ""]
    assert [r.error.kind if r.error else None for r in out] == [None, CoreFailureKind.TIMEOUT, None, CoreFailureKind.TIMEOUT]
    assert out[1].is_infra_failure and "timeout_s=0.3" in out[1].error.message


def test_callable_core_reuses_its_threads_and_a_hung_call_never_holds_the_exit(tmp_path) -> None:
    import subprocess
    import sys

    seen: set[threading.Thread] = set()

    def fn(r: CoreRequest) -> str:
        seen.add(threading.current_thread())
        return r.prompt_text.upper()

    core = CallableCore(fn, max_concurrency=8)
    requests = [CoreRequest.from_prompt(f"q{i}") for i in range(64)]
    idle_already = threading.active_count()  # the shared threads other cores left idle may serve too
    for _ in range(20):
        assert [r.text for r in core.generate(requests)] == [f"Q{i}" for i in range(64)]
    # No thread per call or per batch: 1,280 calls on a handful of threads.
    assert len(seen) <= idle_already + 8, len(seen)
    # The threads are daemons: a call hung forever and abandoned at its timeout lets the process exit.
    script = tmp_path / "hang.py"
    script.write_text(
        "import threading\n"
        "from exectune_rl.cores.base import CallableCore, CoreRequest\n"
        "core = CallableCore(lambda r: threading.Event().wait(), timeout_s=0.2)\n"
        "out = core.generate([CoreRequest.from_prompt('x'), CoreRequest.from_prompt('y')])\n"
        "print([r.error.kind.value for r in out])\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['timeout', 'timeout']"


def test_async_callable_core_that_hangs_times_out() -> None:
    async def fn(request: CoreRequest) -> str:
        if "hang" in request.prompt_text:
            await asyncio.sleep(30)
        return "fine"

    core = CallableCore(fn, timeout_s=0.3)
    start = time.perf_counter()
    out = core.generate([CoreRequest.from_prompt("hang"), CoreRequest.from_prompt("x")])
    assert time.perf_counter() - start < 2.0
    assert out[0].error.kind is CoreFailureKind.TIMEOUT and out[1].text == "fine"


def test_callable_core_timeout_has_a_default_and_is_checked() -> None:
    assert CallableCore(lambda r: "x").timeout_s == 60.0  # a hang costs a minute, not forever
    assert CallableCore(lambda r: "x", timeout_s=None).timeout_s is None
    for bad in (0, -1, float("inf"), "5", True):
        with pytest.raises(ConfigError, match="timeout_s"):
            CallableCore(lambda r: "x", timeout_s=bad)


def test_a_hung_callable_core_gives_the_reward_none_not_a_score() -> None:
    release = threading.Event()

    def fn(request: CoreRequest) -> str:
        if "MODE:hang" in request.prompt_text:
            release.wait(30)
        return "#### " + _ANSWER.search(request.prompt_text)[1]

    try:
        with _reward(CallableCore(fn, timeout_s=0.3)) as reward:
            records = _score(reward, _math_rows(["ok", "hang"]))
    finally:
        release.set()
    assert [r.reward for r in records] == [1.0, None]
    assert records[1].status is RewardStatus.INFRA and "timeout" in records[1].reason


# --- OpenAI-compatible: configuration failures ---------------------------------------------------


@pytest.mark.parametrize(("status", "kind"), [("404", CoreFailureKind.NOT_FOUND), ("401", CoreFailureKind.AUTH),
                                              ("403", CoreFailureKind.AUTH)])  # fmt: skip
def test_404_401_403_are_configuration_failures_with_one_log_line(fault, caplog, status, kind) -> None:
    base_url, state = fault
    caplog.set_level(logging.WARNING, logger="exectune_rl.cores.openai")
    with _core(base_url) as core:
        out = core.generate([CoreRequest.from_prompt(f"MODE:{status} q{i}") for i in range(6)])
    assert {r.error.kind for r in out} == {kind}
    assert all(r.error.is_infra and r.error.kind.is_config and r.attempts == 1 for r in out)  # never retried
    assert sum(state.attempts.values()) == 6
    lines = [rec for rec in caplog.records if rec.name == "exectune_rl.cores.openai"]
    assert len(lines) == 1 and f"HTTP {status}" in lines[0].getMessage() and "configuration" in lines[0].getMessage()
    if status == "404":
        assert "does not exist" in out[0].error.message and "fault-model" in out[0].error.message


def test_a_404_model_gives_every_row_none_with_the_reason_never_zero(fault) -> None:
    base_url, _ = fault
    # Before: a 404 was a BAD_REQUEST, the model's fault, and every row scored 0.0.
    with _reward(_core(base_url)) as reward:
        records = _score(reward, _math_rows(["404"] * 4))
    assert [r.reward for r in records] == [None] * 4
    assert {r.status for r in records} == {RewardStatus.INFRA}
    assert all("not_found" in r.reason and "HTTP 404" in r.reason for r in records)


# --- OpenAI-compatible: a server failing mid-batch, dripping, hanging up -----------------------


def test_a_500_mid_batch_scores_every_row_it_can_and_reports_the_rest(fault) -> None:
    base_url, state = fault
    state.reset(fail_after=3)  # three answers, then the server fails every request
    core = _core(base_url, max_concurrency=1, max_retries=1)
    with _reward(core) as reward:
        records = _score(reward, _math_rows(["ok"] * 6))
    assert [r.reward for r in records] == [1.0, 1.0, 1.0, None, None, None]
    for r in records[3:]:
        assert r.status is RewardStatus.INFRA and "server_error" in r.reason and "HTTP 500" in r.reason
    # each failed row was tried once more, then given up; none was answered twice
    assert sum(state.attempts.values()) == 3 + 3 * 2


def test_a_transient_500_is_retried_and_the_row_scored(fault) -> None:
    base_url, state = fault
    with _reward(_core(base_url, max_concurrency=2, max_retries=1)) as reward:
        records = _score(reward, _math_rows(["ok", "500once", "ok", "500once"]))
    assert [r.reward for r in records] == [1.0] * 4
    assert sorted(state.attempts.values()) == [1, 1, 2, 2]


def test_a_server_that_drips_its_answer_hits_the_deadline(fault) -> None:
    base_url, state = fault
    state.reset(drip_interval_s=0.1)  # a ~300-byte body at 10 bytes/s: 30 s, each read on time
    core = _core(base_url, timeout_s=0.6, max_retries=1)
    start = time.perf_counter()
    with _reward(core) as reward:
        records = _score(reward, _math_rows(["drip", "ok"]))
    elapsed = time.perf_counter() - start
    assert elapsed < 4.0  # two attempts of 0.6 s plus a backoff, not 30 s
    assert records[0].reward is None and "timeout" in records[0].reason
    assert records[1].reward == 1.0


def test_closed_connections_are_retried_then_reported(fault) -> None:
    base_url, state = fault
    with _core(base_url) as core:
        once, always = core.generate([CoreRequest.from_prompt("MODE:closeonce x"), CoreRequest.from_prompt("MODE:close y")])
    assert once.ok and once.attempts == 2 and once.text.endswith("#### 0")
    assert always.error.kind is CoreFailureKind.CONNECTION and always.attempts == 3
    with _reward(_core(base_url, max_retries=1)) as reward:
        records = _score(reward, _math_rows(["close", "closeonce"]))
    assert records[0].reward is None and "connection" in records[0].reason
    assert records[1].reward == 1.0


# --- the reward: a pathological core answer ----------------------------------------------------


def test_a_huge_core_answer_is_not_parsed_nor_executed() -> None:
    # 120 KB ending in 20,000 comment lines: tree-sitter's time grows with the square of a run
    # of comment lines, so parsing this took seconds per row before there was a cap.
    program = "def add(a, b):\n    return a + b\n"
    big = "```python\n" + program + "    # pad\n" * 20_000 + "```\n"
    assert len(big) > 120_000
    config = RewardConfig.code(task_kind=None, nondegradation_penalty=0.0, math_workers=0)
    rows = {
        "problem": ["def add(a, b):\n", "What is 2 + 3?"],
        "kind": ["code", "math"],
        "tests": ["assert add(1, 2) == 3", None],
        "test_format": ["asserts", None],
        "answer": [None, "5"],
        "task_id": ["add", "sum"],
        "core_output": [big, "#### 5"],
    }
    with ExecTuneReward(config) as reward:
        start = time.perf_counter()
        records = reward.score(completions=["<strategy>\nAdd them.\n</strategy>"] * 2, **rows)
        elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    run = records[0].runs[0].execution
    assert run.status.value == "output_limit" and "max_core_output_chars=65536" in run.detail
    assert records[0].reward == 0.0 and records[1].reward == 1.0


def test_core_output_limits_are_config_fields() -> None:
    config = RewardConfig(max_core_output_chars=100, max_core_output_lines=3)
    assert (config.max_core_output_chars, config.max_core_output_lines) == (100, 3)
    with pytest.raises(ConfigError, match="max_core_output_lines"):
        RewardConfig(max_core_output_lines=0)
    with ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0, max_core_output_lines=3)) as reward:
        records = reward.score(completions=["<strategy>\nAdd.\n</strategy>"] * 2, problem=["2+3?"] * 2, answer=["5"] * 2,
                               kind=["math"] * 2, task_id=["a", "b"], core_output=["a\nb\n#### 5", "a\nb\nc\n#### 5"])  # fmt: skip
    assert [r.reward for r in records] == [1.0, 0.0]
    assert "4 lines > max_core_output_lines=3" in records[1].runs[0].execution.detail
