"""``exectune serve`` end to end: a real uvicorn server on 127.0.0.1, httpx requests in OpenRLHF's format."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time

import httpx
import pytest

from exectune_rl.client import AsyncRewardClient, RemoteRewardError, RewardClient
from exectune_rl.cores import CallableCore
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from exectune_rl.rewards.sample import iter_sample
from exectune_rl.serve.config import ServeLimits
from exectune_rl.serve.run import ScoringRun, default_reward_config, open_scoring_run

from serve_testlib import LiveServer, live_server

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROMPT = "<|user|>Write a strategy.<|assistant|>"


@pytest.fixture(scope="module")
def sample_rows():
    return list(iter_sample())[:24]


@pytest.fixture(scope="module")
def default_run():
    run = open_scoring_run(None, workers=2)
    yield run
    run.close()


@pytest.fixture(scope="module")
def live(default_run):
    with live_server(default_run, token=TOKEN) as server:
        yield server


def _openrlhf_body(rows):
    # Labels in all three documented formats: an object, the object as a JSON string, a task id plus outputs.
    labels = []
    for i, r in enumerate(rows):
        task = {k: v for k, v in r.items() if k != "completion"}
        if i % 3 == 0:
            labels.append(task)
        elif i % 3 == 1:
            labels.append(json.dumps(task))
        else:
            labels.append({"task_id": r["task_id"], "core_output": r["core_output"], "core_only_output": r["core_only_output"]})
    return {"query": [PROMPT + r["completion"] for r in rows], "prompts": [PROMPT] * len(rows), "labels": labels}


def _math_run(limits: ServeLimits, delay_s: float = 0.0, fail: bool = False) -> ScoringRun:
    def answer(request):
        if fail:
            raise ConnectionError("the core's API is down")
        time.sleep(delay_s)
        return "The answer is 5.\n#### 5"

    core = CallableCore(answer, model="scripted", max_concurrency=4)
    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=core)
    table = {"sum": {"task_id": "sum", "kind": "math", "problem": "What is 2+3?", "answer": "5"}}
    return ScoringRun(reward, table, limits, "a test run")


def _math_body(n: int = 1):
    return {"query": ["<strategy>Add the two numbers.</strategy>"] * n, "labels": ["sum"] * n}


def test_openrlhf_rewards_equal_the_in_process_reward(live, sample_rows):
    # The reason the service exists: the same numbers as ExecTuneReward on the same rows.
    answer = httpx.post(live.url + "/get_reward", json=_openrlhf_body(sample_rows), headers=AUTH, timeout=120).json()
    with ExecTuneReward(default_reward_config().replace(sandbox_workers=1)) as reward:
        records = reward.score(completions=[r["completion"] for r in sample_rows],
                               **{k: [r.get(k) for r in sample_rows] for k in sample_rows[0] if k != "completion"})  # fmt: skip
    assert answer["rewards"] == [r.reward for r in records]
    assert answer["statuses"] == [r.status.value for r in records]
    assert {"scored", "format_failed", "leaked"} <= set(answer["statuses"])
    assert all(s is None or 0.0 <= s <= 1.0 for s in answer["scores"])
    assert answer["extra_logs"]["exectune/format"] == pytest.approx(sum(r.format.passed for r in records) / len(records))
    assert all(isinstance(v, float) for v in answer["extra_logs"].values())  # OpenRLHF makes each a tensor


def test_native_endpoint_returns_the_full_breakdown(live, sample_rows):
    rows = [{"task_id": r["task_id"], "completion": r["completion"], "core_output": r["core_output"],
             "core_only_output": r["core_only_output"]} for r in sample_rows[:6]]  # fmt: skip
    with RewardClient(live.url, token=TOKEN) as client:
        records = client.score(rows)
        rewards = client(completions=[r["completion"] for r in rows], task_id=[r["task_id"] for r in rows],
                         core_output=[r["core_output"] for r in rows], core_only_output=[r["core_only_output"] for r in rows])  # fmt: skip
    assert [r["reward"] for r in records] == rewards
    scored = next(r for r in records if r["status"] == "scored")
    assert {"format", "leakage", "execution", "success", "syntax", "nondegradation", "cost", "runs"} <= set(scored)
    assert scored["runs"] and {"status", "value", "success"} <= set(scored["runs"][0])


def test_scoring_needs_the_token_and_health_does_not(live):
    assert httpx.post(live.url + "/get_reward", json=_math_body()).status_code == 401
    wrong = httpx.post(live.url + "/score", json={"rows": []}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(live.url + "/health").json()["auth"] is True
    with pytest.raises(RemoteRewardError) as err:
        RewardClient(live.url, token="nope", retries=0).get_reward(["x"], None, ["HumanEval/0"])
    assert err.value.status == 401


@pytest.mark.parametrize(
    "labels, needle",
    [
        (["HumanEval/99999"], "labels[0]: unknown task id 'HumanEval/99999'"),
        (["{not json"], "labels[0] looks like a JSON task but does not parse"),
        ([7], "labels[0] must be a task id (string) or a task object, got int"),
        ([{"kind": "code", "problem": "def f(): ...", "core_output": "x"}], "'tests'"),  # a code task without tests
        ([{"task_id": "HumanEval/0"}], "must carry 'core_output'"),  # no core on this service
    ],
)
def test_a_bad_label_is_a_422_naming_it(live, labels, needle):
    r = httpx.post(live.url + "/get_reward", json={"query": ["<strategy>s</strategy>"], "labels": labels}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_malformed_requests_are_4xx(live):
    assert httpx.post(live.url + "/get_reward", content=b"{", headers=AUTH).status_code == 400
    r = httpx.post(live.url + "/get_reward", json={"query": ["a", "b"], "labels": ["HumanEval/0"]}, headers=AUTH)
    assert r.status_code == 422 and "'labels' has 1 entries for 2 queries" in r.json()["detail"]
    r = httpx.post(live.url + "/get_reward", json={"query": ["a"]}, headers=AUTH)
    assert r.status_code == 422 and "'labels' is required" in r.json()["detail"]
    r = httpx.post(live.url + "/score", json={"rows": [{"task_id": "HumanEval/0"}]}, headers=AUTH)
    assert r.status_code == 422 and "rows[0] needs 'completion'" in r.json()["detail"]
    r = httpx.post(live.url + "/score", json={"rows": [{"task_id": "nope", "strategy": "s"}]}, headers=AUTH)
    assert r.status_code == 422 and "rows[0]: unknown task id 'nope'" in r.json()["detail"]


def test_oversized_batches_and_bodies_are_413():
    run = _math_run(ServeLimits(max_batch=4, max_body_bytes=2000))
    with live_server(run) as server:
        r = httpx.post(server.url + "/get_reward", json=_math_body(5))
        assert r.status_code == 413 and "server.max_batch" in r.json()["detail"]
        r = httpx.post(server.url + "/get_reward", json={"query": ["x" * 3000], "labels": ["sum"]})
        assert r.status_code == 413 and "server.max_body_bytes" in r.json()["detail"]
        r = httpx.post(server.url + "/get_reward", json=_math_body(4))
        assert r.status_code == 200 and r.json()["rewards"] == [1.0] * 4
    run.reward.close()


def test_saturation_is_503_with_retry_after_and_the_client_retries():
    # One batch of one row at a time and one request may wait: a burst of five gets designed 503s.
    run = _math_run(ServeLimits(batch_rows=1, max_queued=1, retry_after_s=1), delay_s=0.4)
    with live_server(run) as server:
        async def burst():
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                return await asyncio.gather(*(http.post("/get_reward", json=_math_body()) for _ in range(5)))

        answers = asyncio.run(burst())
        codes = sorted(a.status_code for a in answers)
        assert codes.count(200) >= 1 and codes.count(503) >= 2 and set(codes) == {200, 503}, codes
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.headers["retry-after"] == "1" and "saturated" in refused.json()["detail"]

        async def retried():
            async with AsyncRewardClient(server.url, retries=20, backoff_s=0.05, max_backoff_s=0.5) as client:
                return await asyncio.gather(*(client.get_reward(["<strategy>Add.</strategy>"], None, ["sum"]) for _ in range(4)))

        assert [a["rewards"] for a in asyncio.run(retried())] == [[1.0]] * 4
        metrics = httpx.get(server.url + "/metrics").text
        assert 'exectune_serve_requests_total{code="503",endpoint="/get_reward"}' in metrics
        assert 'exectune_serve_requests_total{code="200",endpoint="/get_reward"}' in metrics
        assert 'exectune_serve_completions_total{status="scored"}' in metrics  # per reward status
        assert 'exectune_serve_request_seconds_bucket{endpoint="/get_reward",le="0.5"}' in metrics
        for gauge in ("exectune_serve_in_flight", "exectune_serve_queued_requests", "exectune_serve_sandbox_queue_rows"):
            assert f"\n{gauge} " in metrics, gauge
    run.reward.close()


def test_infrastructure_failures_are_null_rewards_with_the_reason():
    run = _math_run(ServeLimits(), fail=True)
    with live_server(run) as server:
        answer = httpx.post(server.url + "/get_reward", json=_math_body(2)).json()
    assert answer["rewards"] == [None, None] and answer["scores"] == [None, None]
    assert answer["statuses"] == ["infra", "infra"] and "the core's API is down" in answer["reasons"][0]
    run.reward.close()


def test_a_missed_deadline_is_a_null_reward_with_the_reason():
    run = _math_run(ServeLimits(deadline_s=0.2), delay_s=0.8)
    with live_server(run) as server:
        answer = httpx.post(server.url + "/get_reward", json=_math_body(), timeout=10).json()
        assert answer["rewards"] == [None] and answer["reasons"][0].startswith("deadline:")
        time.sleep(0.8)  # the batch finishes; its result is discarded and the service goes on
        assert httpx.get(server.url + "/health").json()["status"] == "ok"
    run.reward.close()


def test_a_client_that_disconnects_mid_batch_leaves_the_server_healthy():
    run = _math_run(ServeLimits(), delay_s=0.6)
    with live_server(run) as server:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(server.url + "/get_reward", json=_math_body(3), timeout=0.15)
        assert httpx.get(server.url + "/health").json()["status"] == "ok"
        after = httpx.post(server.url + "/get_reward", json=_math_body(2), timeout=10)
        assert after.status_code == 200 and after.json()["rewards"] == [1.0, 1.0]
        deadline = time.monotonic() + 5
        while "exectune_serve_in_flight 0.0" not in httpx.get(server.url + "/metrics").text:
            assert time.monotonic() < deadline, "a request stayed in flight after its client left"
            time.sleep(0.05)
    run.reward.close()


def test_shutdown_finishes_the_batch_in_flight():
    run = _math_run(ServeLimits(), delay_s=0.5)
    server = LiveServer(run).start()
    results = []
    worker = threading.Thread(target=lambda: results.append(httpx.post(server.url + "/get_reward", json=_math_body(2), timeout=20)))
    worker.start()
    deadline = time.monotonic() + 5
    while server.app.state.batcher.stats.scoring_rows == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    server.stop()  # as on SIGTERM: stop taking connections, finish what is in flight
    worker.join(20)
    assert results and results[0].status_code == 200 and results[0].json()["rewards"] == [1.0, 1.0]
    run.reward.close()


def test_load_64_concurrent_clients(capsys):
    # 64 clients, 2 requests each: nothing but 200s and the designed 503s; latency printed.
    run = _math_run(ServeLimits(max_queued=48, batch_rows=64, retry_after_s=1))
    latencies: list[float] = []
    codes: list[int] = []
    with live_server(run) as server:
        httpx.post(server.url + "/get_reward", json=_math_body(), timeout=30)  # warm up: math-verify's first parse imports sympy

        async def client(http):
            for _ in range(2):
                start = time.perf_counter()
                r = await http.post("/get_reward", json=_math_body())
                codes.append(r.status_code)
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - start)
                    assert r.json()["rewards"] == [1.0]
                else:
                    await asyncio.sleep(0.02)

        async def load():  # one connection per client, as each trainer worker holds its own
            https = [httpx.AsyncClient(base_url=server.url, timeout=30) for _ in range(64)]
            await asyncio.gather(*(client(http) for http in https))
            for http in https:
                await http.aclose()

        asyncio.run(load())
    run.reward.close()
    assert set(codes) <= {200, 503} and len(codes) == 64 * 2
    assert len(latencies) >= 64 * 2 // 2
    q = statistics.quantiles(latencies, n=100)
    with capsys.disabled():
        print(f"\nload test: {len(codes)} requests from 64 clients, {codes.count(503)} designed 503s, "
              f"p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")  # fmt: skip
