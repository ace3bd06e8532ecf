"""``exectune_rl.client`` against scripted transports: what is retried, what is raised, what is sent."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from exectune_rl.client import AsyncRewardClient, RemoteRewardError, RewardClient


def _scripted(answers, seen):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body, headers = answers.pop(0)
        if status is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, json=body, headers=headers)

    return handler


OK = (200, {"rewards": [1.0], "scores": [1.0], "extra_logs": {}}, {})
BUSY = (503, {"detail": "saturated"}, {"Retry-After": "0"})


def test_503s_and_refused_connections_are_retried_then_answered():
    seen = []
    client = RewardClient("http://scorer", token="t", transport=httpx.MockTransport(_scripted([BUSY, (None, None, None), BUSY, OK], seen)),
                          backoff_s=0.001)  # fmt: skip
    assert client.get_reward(["q"], ["p"], ["HumanEval/0"])["rewards"] == [1.0]
    assert len(seen) == 4
    assert seen[0].headers["authorization"] == "Bearer t"
    assert json.loads(seen[0].content) == {"query": ["q"], "labels": ["HumanEval/0"], "prompts": ["p"]}  # OpenRLHF's field names


def test_a_422_is_raised_at_once_with_the_servers_message():
    seen = []
    bad = (422, {"detail": "labels[0]: unknown task id 'x'"}, {})
    client = RewardClient("http://scorer", transport=httpx.MockTransport(_scripted([bad], seen)))
    with pytest.raises(RemoteRewardError, match="unknown task id 'x'") as err:
        client.get_reward(["q"], None, ["x"])
    assert err.value.status == 422 and len(seen) == 1


def test_retries_are_bounded():
    seen = []
    client = RewardClient("http://scorer", transport=httpx.MockTransport(_scripted([BUSY] * 3, seen)), retries=2, backoff_s=0.001)
    with pytest.raises(RemoteRewardError) as err:
        client.score([{"strategy": "s", "task_id": "HumanEval/0"}])
    assert err.value.status == 503 and len(seen) == 3


def test_the_async_client_and_trls_signature():
    seen = []
    record = {"index": 0, "reward": 0.5, "status": "scored"}
    transport = httpx.MockTransport(_scripted([BUSY, (200, {"records": [record], "rewards": [0.5]}, {})], seen))

    async def call():
        async with AsyncRewardClient("http://scorer", transport=transport, backoff_s=0.001) as client:
            return await client(prompts=["p"], completions=["<strategy>s</strategy>"], task_id=["HumanEval/0"], log_metric=print)

    assert asyncio.run(call()) == [0.5]
    rows = json.loads(seen[-1].content)["rows"]
    assert rows == [{"completion": "<strategy>s</strategy>", "task_id": "HumanEval/0"}]  # TRL's hooks are not columns


def test_a_body_with_no_json_form_is_a_clear_data_error_before_any_request():
    from exectune_rl.errors import DataError

    seen = []
    client = RewardClient("http://scorer", transport=httpx.MockTransport(_scripted([OK], seen)))
    with pytest.raises(DataError, match="cannot be sent as JSON"):
        client.score([{"strategy": "s", "task_id": "HumanEval/0", "cost": float("nan")}])
    with pytest.raises(DataError, match="cannot be sent as JSON"):
        client.get_reward(["q"], None, [object()])
    aclient = AsyncRewardClient("http://scorer", transport=httpx.MockTransport(_scripted([OK], seen)))
    with pytest.raises(DataError, match="cannot be sent as JSON"):
        asyncio.run(aclient.score([{"strategy": "s", "x": float("inf")}]))
    assert seen == []  # nothing went out
    # plain data still goes, as JSON the service reads
    assert client.get_reward(["q"], None, ["HumanEval/0"])["rewards"] == [1.0]
    assert seen[0].headers["content-type"] == "application/json"
