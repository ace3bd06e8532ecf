"""The core contract: typed failures, CallableCore (sync and async), the public names."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

import exectune_rl.cores as cores
from exectune_rl.cores import CallableCore, CoreFailure, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.cores.base import Usage, run_sync
from exectune_rl.errors import ConfigError


def test_public_contract_names_import():
    from exectune_rl.cores import (  # noqa: F401
        CallableCore,
        Core,
        CoreRequest,
        CoreResponse,
        OpenAICompatibleCore,
        ProgramCore,
        TransformersCore,
    )

    for name in cores.__all__:
        assert getattr(cores, name) is not None, name


def test_importing_cores_runtime_and_tasks_stays_light():
    # torch/transformers/datasets/openai load only when a core that needs them is made.
    code = (
        "import sys, exectune_rl.cores, exectune_rl.runtime, exectune_rl.tasks;"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'openai', 'fastapi') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_failure_kinds_say_what_is_infrastructure():
    assert not CoreFailureKind.BAD_REQUEST.is_infra
    assert all(k.is_infra for k in CoreFailureKind if k is not CoreFailureKind.BAD_REQUEST)
    assert CoreFailureKind.RATE_LIMITED.retryable and not CoreFailureKind.AUTH.retryable
    # kinds given as strings are checked and coerced
    assert CoreResponse.failure("timeout", "slow").error.kind is CoreFailureKind.TIMEOUT
    with pytest.raises(ConfigError, match="exploded"):
        CoreFailure("exploded", "?")  # type: ignore[arg-type]


def test_response_helpers():
    ok = CoreResponse(text="4", prompt_tokens=10, completion_tokens=2)
    assert ok.ok and ok.total_tokens == 12 and not ok.is_infra_failure
    assert CoreResponse(text="4").total_tokens is None
    bad = CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "HTTP 500", status_code=500, attempts=3)
    assert not bad.ok and bad.is_infra_failure and bad.attempts == 3 and bad.error.status_code == 500


def test_callable_core_sync_wraps_errors_and_types():
    def fn(req: CoreRequest):
        text = req.prompt_text
        if text == "boom":
            raise RuntimeError("kaput")
        if text == "int":
            return 5
        return text.upper()

    out = CallableCore(fn, model="upper").generate([CoreRequest.from_prompt(t) for t in ("ab", "boom", "int")])
    assert out[0].text == "AB" and out[0].model == "upper"
    assert out[1].error.kind is CoreFailureKind.INTERNAL and "kaput" in out[1].error.message
    assert out[2].error.kind is CoreFailureKind.MALFORMED_RESPONSE


def test_callable_core_async_runs_concurrently_and_in_order():
    async def slow_echo(req: CoreRequest) -> str:
        await asyncio.sleep(0.1)
        return req.prompt_text

    core = CallableCore(slow_echo, model="echo", max_concurrency=20)
    reqs = [CoreRequest.from_prompt(str(i)) for i in range(20)]
    start = time.perf_counter()
    out = core.generate(reqs)
    elapsed = time.perf_counter() - start
    assert [r.text for r in out] == [str(i) for i in range(20)]
    assert elapsed < 1.0  # 20 x 0.1 s one after another would take 2 s


class _Sleeper:
    """A plain function that sleeps 0.2 s and records how many calls overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inflight = 0
        self.peak = 0

    def __call__(self, req: CoreRequest) -> str:
        with self.lock:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
        time.sleep(0.2)
        with self.lock:
            self.inflight -= 1
        return req.prompt_text


@pytest.mark.parametrize("mode", ["generate", "agenerate"])
def test_callable_core_runs_a_sync_function_concurrently(mode: str):
    fn = _Sleeper()
    core = CallableCore(fn, model="sleepy")
    reqs = [CoreRequest.from_prompt(str(i)) for i in range(8)]
    start = time.perf_counter()
    out = core.generate(reqs) if mode == "generate" else asyncio.run(core.agenerate(reqs))
    elapsed = time.perf_counter() - start
    assert [r.text for r in out] == [str(i) for i in range(8)]  # input order kept
    assert fn.peak > 1 and elapsed < 0.8, (fn.peak, elapsed)  # one by one would take 1.6 s


def test_callable_core_bounds_sync_concurrency():
    fn = _Sleeper()
    assert CallableCore(fn).max_concurrency == 16
    out = CallableCore(fn, max_concurrency=2).generate([CoreRequest.from_prompt("q")] * 4)
    assert len(out) == 4 and all(r.ok for r in out) and fn.peak == 2
    serial = _Sleeper()
    CallableCore(serial, max_concurrency=1).generate([CoreRequest.from_prompt("q")] * 2)
    assert serial.peak == 1


def test_response_usage_and_latency_aliases():
    resp = CoreResponse(text="4", prompt_tokens=10, completion_tokens=2, latency_s=0.25)
    assert resp.usage == Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    assert resp.usage.to_dict() == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    assert resp.latency == 0.25
    assert resp.usage["completion_tokens"] == 2 and resp.usage["total_tokens"] == 12
    with pytest.raises(KeyError, match="usage has prompt_tokens"):
        resp.usage["tokens"]
    unreported = CoreResponse(text="4").usage
    assert unreported.prompt_tokens is None and unreported.total_tokens is None
    with pytest.raises(AttributeError):
        resp.latency = 1.0  # type: ignore[misc]


def test_callable_core_fills_the_model_of_returned_responses():
    core = CallableCore(lambda r: CoreResponse(text="x", prompt_tokens=1, completion_tokens=1), model="named")
    assert core.generate([CoreRequest.from_prompt("q")])[0].model == "named"


def test_run_sync_inside_a_running_loop():
    async def inner():
        return 7

    async def outer():
        return run_sync(inner())

    assert run_sync(inner()) == 7
    assert asyncio.run(outer()) == 7


def test_request_validation():
    with pytest.raises(ConfigError, match="max_tokens"):
        CoreRequest.from_prompt("x", max_tokens=0)
    with pytest.raises(ConfigError, match="role"):
        CoreRequest(messages=({"content": "no role"},))
