"""OpenAICompatibleCore against a real uvicorn server on loopback, with injected faults."""

from __future__ import annotations

import asyncio
import logging
import pickle
import random
import socket

import pytest

from exectune_rl.cores import CoreFailureKind, CoreRequest, OpenAICompatibleCore
from exectune_rl.cores.openai import backoff_delay
from exectune_rl.errors import ConfigError, CoreError

pytest.importorskip("fastapi")


def answer_for(content: str) -> str:
    return f"echo:{content}"  # what the loopback core in conftest.py answers


def make_core(base_url: str, **kwargs) -> OpenAICompatibleCore:
    # Tiny backoff keeps retry tests fast; the policy itself is tested on backoff_delay.
    options = {"max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}
    options.update(kwargs)
    return OpenAICompatibleCore("loopback-echo", base_url=base_url, **options)


def prompts(n: int, tag: str) -> list[CoreRequest]:
    return [CoreRequest.from_prompt(f"{tag}-{i}", max_tokens=16) for i in range(n)]


def test_answers_come_back_in_order_with_usage(faults):
    base_url, server = faults
    reqs = prompts(40, "order")
    with make_core(base_url, max_concurrency=8) as core:
        out = core.generate(reqs)
    assert [r.text for r in out] == [answer_for(r.prompt_text) for r in reqs]
    assert all(r.ok and r.attempts == 1 and r.finish_reason == "stop" for r in out)
    # usage is read from the response body, not estimated
    assert [r.prompt_tokens for r in out] == [len(r.prompt_text) for r in reqs]
    assert {r.completion_tokens for r in out} == {7}
    assert {r.model for r in out} == {"loopback-echo"}
    assert sum(server.attempts.values()) == 40


@pytest.mark.parametrize("fault", ["429", "500", "503", "malformed", "empty"])
def test_transient_fault_is_retried_then_succeeds(faults, fault):
    base_url, server = faults
    server.reset({"flaky": [fault, fault]})
    with make_core(base_url) as core:
        [resp] = core.generate([CoreRequest.from_prompt("flaky")])
    assert resp.ok, resp.error
    assert resp.text == answer_for("flaky")
    assert resp.attempts == 3
    assert server.attempts["flaky"] == 3
    assert server.delivered["flaky"] == 1


def test_timeout_is_retried(faults):
    base_url, server = faults
    server.reset({"slow": ["timeout"]}, timeout_sleep_s=1.0)
    with make_core(base_url, timeout_s=0.3) as core:
        [resp] = core.generate([CoreRequest.from_prompt("slow")])
    assert resp.ok and resp.attempts == 2
    assert resp.text == answer_for("slow")


def test_exhausted_retries_give_a_typed_failure(faults):
    base_url, server = faults
    server.reset({"down": ["500"] * 10})
    with make_core(base_url, max_retries=2) as core:
        [resp] = core.generate([CoreRequest.from_prompt("down")])
    assert not resp.ok and resp.text == ""
    assert resp.error.kind is CoreFailureKind.SERVER_ERROR
    assert resp.error.status_code == 500 and resp.error.attempts == 3
    assert resp.is_infra_failure
    assert server.attempts["down"] == 3  # 1 try + 2 retries, no more


@pytest.mark.parametrize(
    ("fault", "kind"), [("400", CoreFailureKind.BAD_REQUEST), ("401", CoreFailureKind.AUTH)]
)
def test_client_errors_are_not_retried(faults, fault, kind):
    base_url, server = faults
    server.reset({"bad": [fault] * 5})
    with make_core(base_url) as core:
        [resp] = core.generate([CoreRequest.from_prompt("bad")])
    assert resp.error.kind is kind and resp.error.attempts == 1
    assert server.attempts["bad"] == 1


def test_timeouts_that_persist_are_typed(faults):
    base_url, server = faults
    server.reset({"stuck": ["timeout"] * 5}, timeout_sleep_s=0.6)
    with make_core(base_url, timeout_s=0.2, max_retries=1) as core:
        [resp] = core.generate([CoreRequest.from_prompt("stuck")])
    assert resp.error.kind is CoreFailureKind.TIMEOUT and resp.error.attempts == 2


def test_mixed_faults_lose_and_duplicate_nothing(faults):
    base_url, server = faults
    rng = random.Random(7)
    reqs = prompts(60, "mixed")
    plan = {r.prompt_text: [rng.choice(["429", "500", "malformed", "empty"])] for r in reqs if rng.random() < 0.4}
    plan[reqs[0].prompt_text] = ["500"] * 10  # one request fails for good
    server.reset(plan)
    with make_core(base_url, max_concurrency=16, max_retries=2) as core:
        out = core.generate(reqs)
    assert len(out) == len(reqs)
    assert out[0].error is not None and out[0].error.kind is CoreFailureKind.SERVER_ERROR
    for req, resp in zip(reqs[1:], out[1:]):
        assert resp.ok, (req.prompt_text, resp.error)
        assert resp.text == answer_for(req.prompt_text)  # its own answer, not a neighbour's
        assert resp.attempts == (2 if req.prompt_text in plan else 1)
        assert server.delivered[req.prompt_text] == 1  # answered exactly once
    assert server.delivered[reqs[0].prompt_text] == 0


def test_concurrency_is_bounded(faults):
    base_url, server = faults
    server.reset(latency_s=0.05)
    with make_core(base_url, max_concurrency=4) as core:
        out = core.generate(prompts(24, "bound"))
    assert all(r.ok for r in out)
    assert 2 <= server.max_in_flight <= 4


def test_api_key_comes_from_env_and_is_never_shown(faults, monkeypatch, caplog):
    base_url, server = faults
    secret = "sk-test-" + "x7" * 10
    monkeypatch.setenv("EXECTUNE_TEST_API_KEY", secret)
    server.reset({"fails": ["500"] * 3})
    caplog.set_level(logging.DEBUG)
    with make_core(base_url, api_key_env="EXECTUNE_TEST_API_KEY", max_retries=2) as core:
        out = core.generate([CoreRequest.from_prompt("fine"), CoreRequest.from_prompt("fails")])
        shown = repr(core) + str(vars(core).get("api_key_env"))
    assert server.auth_headers and set(server.auth_headers) == {f"Bearer {secret}"}
    assert out[0].ok and not out[1].ok
    assert secret not in shown
    assert secret not in caplog.text
    assert secret not in out[1].error.message


def test_named_but_missing_key_variable_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("EXECTUNE_TEST_MISSING_KEY", raising=False)
    with pytest.raises(CoreError, match="EXECTUNE_TEST_MISSING_KEY"):
        OpenAICompatibleCore("m", base_url="http://127.0.0.1:1/v1", api_key_env="EXECTUNE_TEST_MISSING_KEY")


def test_connection_refused_is_a_typed_failure():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with make_core(f"http://127.0.0.1:{port}/v1", max_retries=1) as core:
        [resp] = core.generate([CoreRequest.from_prompt("anyone?")])
    assert resp.error.kind is CoreFailureKind.CONNECTION and resp.error.attempts == 2


def test_async_and_sync_calls_work_inside_a_running_loop(faults):
    base_url, _ = faults
    core = make_core(base_url)

    async def main():
        a = await core.agenerate(prompts(5, "async"))
        b = core.generate(prompts(3, "sync-in-loop"))  # sync call from async code must not deadlock
        return a, b

    try:
        a, b = asyncio.run(main())
    finally:
        core.close()
    assert [r.text for r in a] == [answer_for(f"async-{i}") for i in range(5)]
    assert [r.text for r in b] == [answer_for(f"sync-in-loop-{i}") for i in range(3)]


def test_close_is_idempotent_and_the_core_reopens(faults):
    base_url, _ = faults
    core = make_core(base_url)
    assert core.generate(prompts(1, "a"))[0].ok
    core.close()
    core.close()
    assert core.generate(prompts(1, "b"))[0].text == answer_for("b-0")
    core.close()


def test_a_used_core_pickles_without_its_key_and_works_after(faults, monkeypatch):
    base_url, server = faults
    secret = "sk-pickle-" + "q9" * 10
    monkeypatch.setenv("EXECTUNE_TEST_API_KEY", secret)
    core = make_core(base_url, api_key_env="EXECTUNE_TEST_API_KEY", max_concurrency=4)
    try:
        assert core.generate(prompts(2, "before"))[0].ok  # the loop thread, clients and lock exist now
        data = pickle.dumps(core)
    finally:
        core.close()
    assert secret.encode() not in data
    clone = pickle.loads(data)
    try:
        out = clone.generate(prompts(3, "after"))
        assert [r.text for r in out] == [answer_for(f"after-{i}") for i in range(3)]
        assert asyncio.run(clone.agenerate(prompts(1, "async-after")))[0].text == answer_for("async-after-0")
        assert clone.max_concurrency == 4 and clone.model == "loopback-echo"
    finally:
        clone.close()
    assert server.auth_headers[-1] == f"Bearer {secret}"  # the key was read again from the environment


def test_an_unpickled_core_without_its_key_variable_fails_typed(faults, monkeypatch):
    base_url, _ = faults
    monkeypatch.setenv("EXECTUNE_TEST_API_KEY", "sk-gone")
    data = pickle.dumps(make_core(base_url, api_key_env="EXECTUNE_TEST_API_KEY"))
    monkeypatch.delenv("EXECTUNE_TEST_API_KEY")
    clone = pickle.loads(data)
    [resp] = clone.generate(prompts(1, "nokey"))
    clone.close()
    assert resp.error.kind is CoreFailureKind.AUTH and "EXECTUNE_TEST_API_KEY" in resp.error.message


@pytest.mark.parametrize(
    "kwargs",
    [{"max_concurrency": 0}, {"max_retries": -1}, {"timeout_s": 0}, {"base_url": "ftp://x"}, {"max_tokens_field": "n"}],
)
def test_bad_configuration_names_the_value(kwargs):
    options = {"base_url": "http://127.0.0.1:1/v1", **kwargs}
    with pytest.raises(ConfigError, match=str(list(kwargs.values())[0])):
        OpenAICompatibleCore("m", **options)


def test_backoff_grows_with_jitter_and_honours_retry_after():
    random.seed(0)
    draws = [backoff_delay(4, 0.5, 20.0) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in draws)  # bound 0.5 * 2**3
    assert len({round(d, 6) for d in draws}) > 150  # jittered, not a fixed sleep
    assert max(backoff_delay(30, 0.5, 3.0) for _ in range(50)) <= 3.0  # capped
    assert backoff_delay(1, 0.01, 20.0, retry_after_s=2.5) >= 2.5
