"""CostLedger and MeteredCore: money per call, unknown prices, totals per task and run, export."""

from __future__ import annotations

import csv
import json
import threading

import pytest

from exectune_rl.cores import CallableCore, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import DataError
from exectune_rl.runtime import CostLedger, MeteredCore, ResponseCache, estimate_tokens, wrap_core

GPT4O_MINI_IN, GPT4O_MINI_OUT = 0.15, 0.60  # dollars per million tokens in genai-prices


def req(task: str | None = None, text: str = "q") -> CoreRequest:
    return CoreRequest.from_prompt(text, metadata={} if task is None else {"task_id": task})


def resp(model: str = "gpt-4o-mini", p: int | None = 1000, c: int | None = 500, **kw) -> CoreResponse:
    return CoreResponse(text="answer", prompt_tokens=p, completion_tokens=c, model=model, **kw)


def test_priced_call_and_totals():
    ledger = CostLedger(run_id="r1")
    entry = ledger.record(req("t1"), resp())
    expected = (1000 * GPT4O_MINI_IN + 500 * GPT4O_MINI_OUT) / 1e6
    assert entry.cost_usd == pytest.approx(expected) and entry.task_id == "t1" and entry.run_id == "r1"
    ledger.record(req("t1"), resp(p=2000, c=0))
    totals = ledger.totals()
    assert (totals.calls, totals.prompt_tokens, totals.completion_tokens) == (2, 3000, 500)
    assert totals.cost_usd == pytest.approx(expected + 2000 * GPT4O_MINI_IN / 1e6)


def test_unknown_model_is_unpriced_not_free():
    ledger = CostLedger()
    ledger.record(req("t"), resp())
    entry = ledger.record(req("t"), resp(model="my-private-model"))
    assert entry.cost_usd is None
    totals = ledger.totals()
    assert totals.cost_usd is None  # one unknown price makes the total unknown...
    assert totals.known_cost_usd == pytest.approx(0.00045)  # ...while the known part stays visible
    assert totals.unpriced_calls == 1 and totals.unpriced_models == ("my-private-model",)
    # a price table fixes it
    priced = CostLedger(prices={"my-private-model": (1.0, 2.0)})
    assert priced.record(req(), resp(model="my-private-model")).cost_usd == pytest.approx(0.002)


def test_per_task_and_per_run_and_merge():
    a, b = CostLedger(run_id="a"), CostLedger(run_id="b")
    for task in ("t1", "t2", "t1"):
        a.record(req(task), resp())
    b.record(req("t2"), resp())
    b.record(req(None), resp())
    a.merge(b)
    per_task = a.per_task()
    assert list(per_task) == ["t1", "t2", ""]  # first-seen order; untagged calls under ""
    assert per_task["t1"].calls == 2 and per_task["t2"].calls == 2 and per_task[""].calls == 1
    assert {k: v.calls for k, v in a.per_run().items()} == {"a": 3, "b": 2}
    assert a.per_model()["gpt-4o-mini"].calls == 5


def test_cache_hits_cost_nothing_and_report_savings():
    ledger = CostLedger()
    entry = ledger.record(req(), resp(cached=True))
    assert entry.cost_usd == 0.0 and entry.saved_usd == pytest.approx(0.00045)
    assert ledger.totals().cached_calls == 1 and ledger.totals().saved_usd == pytest.approx(0.00045)


def test_failed_calls_and_missing_usage():
    ledger = CostLedger()
    failed = ledger.record(req(), CoreResponse.failure(CoreFailureKind.RATE_LIMITED, "429", model="gpt-4o-mini"))
    assert (failed.ok, failed.failure, failed.cost_usd, failed.prompt_tokens) == (False, "rate_limited", 0.0, 0)
    text = "What is the sum of the first ten primes?"
    estimated = ledger.record(req(text=text), resp(p=None, c=None))
    assert estimated.tokens_estimated
    assert estimated.prompt_tokens == estimate_tokens(text) and estimated.completion_tokens == estimate_tokens("answer")
    assert ledger.totals().failed_calls == 1 and ledger.totals().estimated_calls == 1


def test_record_usage_for_guide_tokens():
    ledger = CostLedger(prices={"tiny-guide": 0})
    ledger.record_usage("tiny-guide", 50, 20, task_id="t", role="guide")
    ledger.record(req("t"), resp())
    assert ledger.totals(role="guide").cost_usd == 0.0 and ledger.totals(role="guide").total_tokens == 70
    assert set(ledger.per_role()) == {"guide", "core"}


def test_json_and_csv_export_round_trip(tmp_path):
    ledger = CostLedger(run_id="export")
    ledger.record(req("t1"), resp())
    ledger.record(req("t2"), resp(model="unknown-model"))
    path = ledger.to_json(tmp_path / "out" / "ledger.json")
    data = json.loads(path.read_text())
    assert data["run_id"] == "export" and data["totals"]["calls"] == 2 and data["totals"]["cost_usd"] is None
    assert set(data["per_task"]) == {"t1", "t2"} and len(data["entries"]) == 2
    again = CostLedger.from_json(path)
    assert again.entries == ledger.entries
    rows = list(csv.DictReader(ledger.to_csv(tmp_path / "ledger.csv").open()))
    assert [r["task_id"] for r in rows] == ["t1", "t2"]
    assert rows[1]["cost_usd"] == "" and float(rows[0]["cost_usd"]) == pytest.approx(0.00045)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(DataError, match="not a ledger"):
        CostLedger.from_json(bad)


def test_thread_safe_recording():
    ledger = CostLedger()
    threads = [threading.Thread(target=lambda: [ledger.record(req("t"), resp()) for _ in range(200)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger) == 1600 and ledger.totals().prompt_tokens == 1600 * 1000


def test_metered_cached_core_stack(tmp_path):
    calls = []

    def answer(r: CoreRequest) -> CoreResponse:
        calls.append(r)
        return CoreResponse(text="ok", prompt_tokens=100, completion_tokens=10, model="gpt-4o-mini")

    ledger = CostLedger()
    core = wrap_core(CallableCore(answer, model="gpt-4o-mini"), cache=ResponseCache(tmp_path / "c.sqlite"), ledger=ledger)
    assert isinstance(core, MeteredCore)
    reqs = [req("t1", "a"), req("t2", "b")]
    core.generate(reqs)
    core.generate(reqs)  # the rerun is answered from the cache
    assert len(calls) == 2 and len(ledger) == 4
    per_task = ledger.per_task()
    paid = (100 * GPT4O_MINI_IN + 10 * GPT4O_MINI_OUT) / 1e6
    assert per_task["t1"].cost_usd == pytest.approx(paid) and per_task["t1"].cached_calls == 1
    assert ledger.totals().saved_usd == pytest.approx(2 * paid)
