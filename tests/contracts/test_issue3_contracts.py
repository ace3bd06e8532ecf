"""Black-box contract tests for the GCoP runtime: cores, response cache, cost ledger, task
loaders, prompt templates and the ``bench_cores`` JSON keys.

Every server here is a real uvicorn server on 127.0.0.1; every model is built locally.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import multiprocessing as mp
import pickle
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exectune_rl.cores import (
    CallableCore,
    Core,
    CoreRequest,
    CoreResponse,
    OpenAICompatibleCore,
    ProgramCore,
    TransformersCore,
)
from exectune_rl.cores.base import CoreFailureKind
from exectune_rl.errors import CacheError, ConfigError, CoreError, DataError
from exectune_rl.runtime import CachedCore, CostLedger, MeteredCore, PriceTable, ResponseCache, estimate_cost_usd, request_key, wrap_core
from exectune_rl.tasks import (
    PromptTemplates,
    Task,
    TaskKind,
    core_only_prompt,
    core_prompt,
    core_request,
    extract_strategy,
    gsm8k_answer,
    guide_prompt,
    load_gsm8k,
    load_humaneval,
    load_jsonl,
    load_kodcode,
    save_jsonl,
)

ROOT = Path(__file__).resolve().parents[2]


def req(text: str, **kwargs: Any) -> CoreRequest:
    return CoreRequest.from_prompt(text, **kwargs)


# -- the public contract ---------------------------------------------------------------------
def test_public_names_import_and_are_listed() -> None:
    import exectune_rl.cores as cores

    for name in ("Core", "CoreRequest", "CoreResponse", "OpenAICompatibleCore", "TransformersCore", "ProgramCore", "CallableCore"):
        assert name in cores.__all__
        assert getattr(cores, name) is not None
    for cls in (OpenAICompatibleCore, TransformersCore, ProgramCore, CallableCore):
        assert issubclass(cls, Core)


def test_light_imports_do_not_pull_torch() -> None:
    code = (
        "import sys, exectune_rl.cores, exectune_rl.runtime, exectune_rl.tasks\n"
        "from exectune_rl.cores import OpenAICompatibleCore, ProgramCore\n"
        "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_response_carries_text_usage_latency_model_and_typed_error() -> None:
    ok = CoreResponse(text="4", prompt_tokens=10, completion_tokens=2, latency_s=0.25, model="m")
    assert (ok.text, ok.prompt_tokens, ok.completion_tokens, ok.model) == ("4", 10, 2, "m")
    assert ok.usage.prompt_tokens == 10 and ok.usage.completion_tokens == 2 and ok.usage.total_tokens == 12
    assert ok.usage["prompt_tokens"] == 10 and ok.latency_s == 0.25 and ok.latency == 0.25
    assert ok.error is None and ok.ok
    bad = CoreResponse.failure(CoreFailureKind.RATE_LIMITED, "slow down", model="m")
    assert not bad.ok and bad.error.kind is CoreFailureKind.RATE_LIMITED and bad.is_infra_failure
    assert bad.text == "" and bad.prompt_tokens is None  # unknown usage is None, never 0
    assert CoreResponse(text="x").usage.total_tokens is None
    for bad in ({"text": None}, {"prompt_tokens": -1}, {"completion_tokens": 1.5}, {"latency_s": -1.0}, {"error": "timeout"}):
        with pytest.raises(ConfigError):
            CoreResponse(**bad)


def test_a_function_returning_a_broken_response_is_a_typed_failure_through_the_cache(tmp_path: Path) -> None:
    core = CachedCore(CallableCore(lambda r: CoreResponse(text=None), model="m"), ResponseCache(tmp_path / "c.sqlite"))  # type: ignore[arg-type]
    [resp] = core.generate([req("x")])
    assert resp.error is not None and resp.error.kind is CoreFailureKind.INTERNAL
    assert len(core.cache) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": ()},
        {"messages": None},
        {"messages": ({"role": "user"},)},
        {"messages": ({"role": "user", "content": None},)},
        {"messages": ["not a message"]},
        {"messages": "hi", "max_tokens": 0},
        {"messages": "hi", "max_tokens": "5"},
        {"messages": "hi", "max_tokens": True},
        {"messages": "hi", "temperature": -0.1},
        {"messages": "hi", "temperature": "hot"},
        {"messages": "hi", "temperature": float("nan")},
        {"messages": "hi", "top_p": 1.5},
        {"messages": "hi", "sample_index": -1},
        {"messages": "hi", "stop": [1, 2]},
    ],
)
def test_bad_requests_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CoreRequest(**kwargs)


def test_request_accepts_plain_text_and_is_hashable() -> None:
    r = CoreRequest("héllo ☃ 😀", stop="\n")
    assert r.messages == ({"role": "user", "content": "héllo ☃ 😀"},) and r.stop == ("\n",)
    a, b = req("x", metadata={"task_id": "t"}), req("x")
    assert a == b and hash(a) == hash(b) and len({a, b, req("x", sample_index=1)}) == 2


# -- CallableCore ----------------------------------------------------------------------------
def test_callable_core_keeps_order_under_concurrency_and_failures_are_values() -> None:
    def fn(r: CoreRequest) -> str:
        i = int(r.prompt_text)
        time.sleep(0.002 * ((7 * i) % 5))  # finish out of order
        if i == 3:
            raise RuntimeError("boom")
        return f"answer {i}"

    core = CallableCore(fn, model="fn", max_concurrency=8)
    out = core.generate([req(str(i)) for i in range(20)])
    assert len(out) == 20
    assert [o.text for o in out if o.ok] == [f"answer {i}" for i in range(20) if i != 3]
    assert out[3].error.kind is CoreFailureKind.INTERNAL and "boom" in out[3].error.message
    assert all(o.model == "fn" for o in out)
    assert core.generate([]) == []


def test_callable_core_async_function_and_agenerate() -> None:
    async def fn(r: CoreRequest) -> str:
        await asyncio.sleep(0.01)
        return r.prompt_text.upper()

    core = CallableCore(fn, model="up")
    assert [o.text for o in core.generate([req("a"), req("b")])] == ["A", "B"]
    out = asyncio.run(core.agenerate([req(c) for c in "xyz"]))
    assert [o.text for o in out] == ["X", "Y", "Z"]
    assert CallableCore(lambda r: None).generate([req("q")])[0].error.kind is CoreFailureKind.MALFORMED_RESPONSE
    with pytest.raises(ConfigError):
        CallableCore("not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        CallableCore(lambda r: "x", max_concurrency=0)


# -- a real OpenAI-compatible server with fault injection ---------------------------------------
class FaultServer:
    """A raw ASGI chat-completions app: ``plan[content]`` lists faults for attempts 1, 2, ..."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self, plan: dict[str, list[str]] | None = None, latency_s: float = 0.0) -> None:
        with self.lock:
            self.plan = plan or {}
            self.latency_s = latency_s
            self.attempts: Counter[str] = Counter()
            self.delivered: Counter[str] = Counter()
            self.auth: list[str | None] = []
            self.in_flight = self.max_in_flight = 0

    async def _send(self, send: Any, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json")]
        if status == 429:
            headers.append((b"retry-after", b"0"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw, more = b"", True
        while more:
            msg = await receive()
            raw += msg.get("body", b"")
            more = msg.get("more_body", False)
        payload = json.loads(raw)
        content = payload["messages"][-1]["content"]
        with self.lock:
            self.attempts[content] += 1
            steps = self.plan.get(content, [])
            n = self.attempts[content]
            fault = steps[n - 1] if n <= len(steps) else "ok"
            self.auth.append(dict(scope["headers"]).get(b"authorization", b"").decode() or None)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if fault.isdigit():
                await self._send(send, int(fault), json.dumps({"error": {"message": f"injected {fault}"}}).encode())
            elif fault == "timeout":
                await asyncio.sleep(1.5)
                await self._send(send, 200, b'{"choices": []}')
            elif fault == "malformed":
                await self._send(send, 200, b'{"choices": [{"message": {"content": "trunc')
            elif fault == "empty":
                await self._send(send, 200, b'{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}')
            else:
                with self.lock:
                    self.delivered[content] += 1
                body = {
                    "id": "x", "object": "chat.completion", "model": payload["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"echo:{content}"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": len(content), "completion_tokens": 5, "total_tokens": len(content) + 5},
                }  # fmt: skip
                await self._send(send, 200, json.dumps(body).encode())
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, FaultServer]]:
    pytest.importorskip("uvicorn")
    from exectune_rl.cores.server import LoopbackServer

    app = FaultServer()
    with LoopbackServer(app) as srv:
        yield srv.base_url, app


@pytest.fixture
def fault(server: tuple[str, FaultServer]) -> Iterator[tuple[str, FaultServer]]:
    server[1].reset()
    yield server
    server[1].reset()


def client(base_url: str, **kwargs: Any) -> OpenAICompatibleCore:
    opts: dict[str, Any] = {"base_url": base_url, "max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}
    opts.update(kwargs)
    return OpenAICompatibleCore("served-model", **opts)


def test_openai_core_reads_text_usage_and_model_in_order(fault: tuple[str, FaultServer]) -> None:
    base_url, app = fault
    core = client(base_url, max_concurrency=8)
    try:
        prompts = [f"q{i} ünï 😀" for i in range(24)]
        out = core.generate([req(p) for p in prompts])
    finally:
        core.close()
    assert [o.text for o in out] == [f"echo:{p}" for p in prompts]
    assert [o.prompt_tokens for o in out] == [len(p) for p in prompts]
    assert all(o.ok and o.completion_tokens == 5 and o.model == "served-model" and o.latency_s > 0 for o in out)
    assert all(app.delivered[p] == 1 for p in prompts)


@pytest.mark.parametrize("first", ["429", "500", "502", "503", "malformed", "empty", "timeout"])
def test_transient_failures_are_retried(fault: tuple[str, FaultServer], first: str) -> None:
    base_url, app = fault
    app.reset({"flaky": [first, first]})
    core = client(base_url, timeout_s=0.5 if first == "timeout" else 5.0)
    try:
        [resp] = core.generate([req("flaky")])
    finally:
        core.close()
    assert resp.ok, resp.error
    assert resp.text == "echo:flaky" and resp.attempts == 3
    assert app.attempts["flaky"] == 3 and app.delivered["flaky"] == 1


@pytest.mark.parametrize(
    ("fault_name", "kind", "retried"),
    [
        ("429", CoreFailureKind.RATE_LIMITED, True),
        ("500", CoreFailureKind.SERVER_ERROR, True),
        ("malformed", CoreFailureKind.MALFORMED_RESPONSE, True),
        ("empty", CoreFailureKind.EMPTY_RESPONSE, True),
        ("timeout", CoreFailureKind.TIMEOUT, True),
        ("400", CoreFailureKind.BAD_REQUEST, False),
        ("401", CoreFailureKind.AUTH, False),
    ],
)
def test_what_still_fails_is_a_typed_value(fault: tuple[str, FaultServer], fault_name: str, kind: CoreFailureKind, retried: bool) -> None:
    base_url, app = fault
    app.reset({"doomed": [fault_name] * 10})
    core = client(base_url, max_retries=2, timeout_s=0.3 if fault_name == "timeout" else 5.0)
    try:
        out = core.generate([req("fine"), req("doomed"), req("also fine")])
    finally:
        core.close()
    assert [o.text for o in out] == ["echo:fine", "", "echo:also fine"]
    err = out[1].error
    assert err is not None and err.kind is kind
    assert err.is_infra == (kind is not CoreFailureKind.BAD_REQUEST)
    assert err.attempts == (3 if retried else 1) == app.attempts["doomed"]
    if fault_name.isdigit():
        assert err.status_code == int(fault_name)


def test_mixed_faults_lose_nothing_and_duplicate_nothing(fault: tuple[str, FaultServer]) -> None:
    base_url, app = fault
    prompts = [f"p{i}" for i in range(30)]
    faults = ["429", "500", "malformed", "empty", "503"]
    app.reset({p: [faults[i % len(faults)]] for i, p in enumerate(prompts) if i % 2 == 0})
    core = client(base_url, max_concurrency=6)
    try:
        out = asyncio.run(core.agenerate([req(p) for p in prompts]))
    finally:
        core.close()
    assert [o.text for o in out] == [f"echo:{p}" for p in prompts]
    assert all(app.delivered[p] == 1 for p in prompts)
    assert sum(app.attempts.values()) == 30 + 15


def test_concurrency_is_bounded(fault: tuple[str, FaultServer]) -> None:
    base_url, app = fault
    app.reset(latency_s=0.15)
    core = client(base_url, max_concurrency=3)
    try:
        start = time.perf_counter()
        out = core.generate([req(f"c{i}") for i in range(9)])
        took = time.perf_counter() - start
    finally:
        core.close()
    assert all(o.ok for o in out)
    assert app.max_in_flight == 3
    assert took >= 3 * 0.15 * 0.9  # three waves, not one


def test_huge_concurrency_limit_still_answers_quickly(fault: tuple[str, FaultServer]) -> None:
    base_url, _ = fault
    core = client(base_url, max_concurrency=100_000)
    try:
        start = time.perf_counter()
        out = core.generate([req(f"h{i}") for i in range(5)])
        took = time.perf_counter() - start
    finally:
        core.close()
    assert [o.text for o in out] == [f"echo:h{i}" for i in range(5)]
    assert took < 10


def test_connection_refused_is_a_typed_value() -> None:
    core = OpenAICompatibleCore("m", base_url="http://127.0.0.1:9/v1", max_retries=1, backoff_base_s=0.01)
    try:
        [resp] = core.generate([req("x")])
    finally:
        core.close()
    assert resp.error is not None and resp.error.kind is CoreFailureKind.CONNECTION and resp.error.attempts == 2


def test_api_key_comes_from_the_named_variable_and_is_never_shown(
    fault: tuple[str, FaultServer], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    base_url, app = fault
    secret = "sk-contract-test-0123456789"
    monkeypatch.setenv("CONTRACT_CORE_KEY", secret)
    caplog.set_level(logging.DEBUG)
    app.reset({"k": ["500", "401"]})
    core = client(base_url, api_key_env="CONTRACT_CORE_KEY")
    try:
        out = core.generate([req("ok"), req("k")])
        text = repr(core) + str(core) + repr(out)
        blob = pickle.dumps(core)
    finally:
        core.close()
    assert out[0].ok and out[1].error.kind is CoreFailureKind.AUTH
    assert app.auth and all(a == f"Bearer {secret}" for a in app.auth)
    assert secret not in text and secret.encode() not in blob
    assert secret not in caplog.text
    monkeypatch.delenv("CONTRACT_CORE_KEY")
    with pytest.raises(CoreError, match="CONTRACT_CORE_KEY"):
        client(base_url, api_key_env="CONTRACT_CORE_KEY")


@pytest.mark.parametrize(
    "kwargs",
    [{"base_url": "ftp://x"}, {"max_concurrency": 0}, {"max_retries": -1}, {"timeout_s": 0}, {"timeout_s": float("nan")}, {"timeout_s": "3"}],
)
def test_openai_core_bad_config_is_a_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        OpenAICompatibleCore("m", **kwargs)
    with pytest.raises(ConfigError):
        OpenAICompatibleCore("")


# -- TransformersCore ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """A tiny Llama built from a config, with a BPE tokenizer trained here on a few lines."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    corpus = [
        "count the apples and the pears in every basket",
        "write a program that prints the total number of books",
        "plan: first add then divide the coins among the boxes",
        "every car has four wheels; how many wheels are there",
    ] * 20
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tok.train_from_iterator(corpus, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.1,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("contract_lm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, torch


def test_transformers_core_batched_greedy_equals_one_by_one(tiny_lm: tuple[Path, Any]) -> None:
    path, torch = tiny_lm
    prompts = ["count", "write a program that prints the total number of books", "plan: first add", "x",
               "every car has four wheels; how many", "the coins among the boxes"]  # fmt: skip
    reqs = [req(p, max_tokens=12) for p in prompts]
    batched = TransformersCore(str(path), batch_size=6)
    single = TransformersCore(str(path), batch_size=1)
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert batched.device.startswith(expected_device)
    a, b = batched.generate(reqs), single.generate(reqs)
    assert all(o.ok for o in a + b)
    assert [o.text for o in a] == [o.text for o in b]
    assert [o.completion_tokens for o in a] == [o.completion_tokens for o in b]
    assert [o.prompt_tokens for o in a] == [o.prompt_tokens for o in b]
    assert len({o.text for o in a}) > 2  # varied outputs, so the comparison can fail
    assert all(o.model == batched.model and 1 <= o.completion_tokens <= 12 for o in a)
    assert batched.generate([]) == []
    too_long = batched.generate([req("count " * 300, max_tokens=8)])[0]
    assert too_long.error is not None and too_long.error.kind is CoreFailureKind.BAD_REQUEST


def test_transformers_core_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    with pytest.raises(ConfigError, match="does not exist"):
        TransformersCore(str(tmp_path / "no-model-here"))  # never looked up on the hub
    with pytest.raises(CoreError, match=str(tmp_path)):
        TransformersCore(tmp_path)  # a folder without a model
    with pytest.raises(ConfigError):
        TransformersCore(str(tmp_path), batch_size=0)


# -- ProgramCore ----------------------------------------------------------------------------------
def test_program_core_runs_the_strategy_in_a_sandbox() -> None:
    from exectune_rl.sandboxes import LocalSandbox

    sandbox = LocalSandbox(workers=2)
    try:
        core = ProgramCore(sandbox, cpu_time_s=2.0)
        out = core.generate([
            req("<strategy>print(6 * 7)</strategy>"),
            req("Plan:\n```python\nprint('ü' * 2)\n```"),
            req("<strategy>1/0</strategy>"),
        ])  # fmt: skip
        assert [o.text for o in out[:2]] == ["42\n", "üü\n"]
        assert out[2].ok and out[2].metadata["exec_status"] == "runtime_error"  # the strategy's fault, not infra
    finally:
        sandbox.close()
    [closed] = core.generate([req("print(1)")])
    assert closed.error is not None and closed.is_infra_failure
    with pytest.raises(ConfigError):
        ProgramCore(object())  # type: ignore[arg-type]


# -- response cache --------------------------------------------------------------------------------
def test_cache_key_covers_model_sampling_messages_and_sample_index() -> None:
    base = request_key(req("hi"), "m")
    others = [
        request_key(req("hi"), "m2"),
        request_key(req("hi", temperature=0.7), "m"),
        request_key(req("hi", top_p=0.9), "m"),
        request_key(req("hi", max_tokens=7), "m"),
        request_key(req("hi", stop=("\n",)), "m"),
        request_key(req("hi", sample_index=1), "m"),
        request_key(req("hi!"), "m"),
        request_key(CoreRequest(({"role": "system", "content": "hi"},)), "m"),
    ]
    assert len({base, *others}) == len(others) + 1
    assert base == request_key(req("hi", metadata={"task_id": "t"}), "m")  # metadata is not sent
    assert base == request_key(req("hi", temperature=0), "m") == request_key(req("hi", temperature=0.0), "m")
    assert request_key(req("\ud800 lone surrogate"), "m") != base


def test_cached_core_never_pays_twice_and_reports_hits(tmp_path: Path) -> None:
    calls: Counter[str] = Counter()

    def fn(r: CoreRequest) -> CoreResponse:
        calls[f"{r.prompt_text}/{r.sample_index}"] += 1
        if r.prompt_text == "fails":
            return CoreResponse.failure("server_error", "down", model="m")
        return CoreResponse(text=f"A:{r.prompt_text}", prompt_tokens=3, completion_tokens=2, model="m")

    path = tmp_path / "sub" / "cache.sqlite"
    cache = ResponseCache(path)
    core = CachedCore(CallableCore(fn, model="m"), cache)
    reqs = [req("a"), req("b"), req("a"), req("a", sample_index=1), req("fails"), req("ünï 😀")]
    first = core.generate(reqs)
    assert [o.text for o in first] == ["A:a", "A:b", "A:a", "A:a", "", "A:ünï 😀"]
    assert [o.cached for o in first] == [False, False, True, False, False, False]
    assert calls == Counter({"a/0": 1, "b/0": 1, "a/1": 1, "fails/0": 1, "ünï 😀/0": 1})
    second = core.generate(reqs)
    assert [o.text for o in second] == [o.text for o in first]
    assert [o.cached for o in second] == [True, True, True, True, False, True]
    assert calls["fails/0"] == 2 and sum(calls.values()) == 6  # only the failure was called again
    stats = cache.stats()
    assert stats.hits == 5 and stats.misses >= 6 and stats.enabled
    assert len(cache) == 4
    cache.close()
    # persistent: a new process-level object on the same file answers without calling
    reopened = ResponseCache(path)
    hit = reopened.get(req("b"), "m")
    assert hit is not None and hit.text == "A:b" and hit.cached and hit.prompt_tokens == 3
    assert reopened.get(req("b"), "other-model") is None
    assert reopened.stats().hits == 1 and reopened.stats().misses == 1
    reopened.close()


def test_cache_can_be_turned_off(tmp_path: Path) -> None:
    calls = []
    core = CachedCore(CallableCore(lambda r: calls.append(1) or "x", model="m"), ResponseCache.disabled())
    core.generate([req("a")])
    core.generate([req("a")])
    assert len(calls) == 2
    off = ResponseCache(tmp_path / "off.sqlite", enabled=False)
    assert off.put(req("a"), CoreResponse(text="x", model="m")) is False and off.get(req("a"), "m") is None
    assert not (tmp_path / "off.sqlite").exists() and off.stats().hits == 0


def _write_many(path: str, worker: int, n: int) -> int:
    cache = ResponseCache(path)
    wrote = 0
    for i in range(n):
        r = CoreRequest.from_prompt(f"shared {i}")
        wrote += cache.put(r, CoreResponse(text=f"w{worker}", model="m"))
        wrote += cache.put(CoreRequest.from_prompt(f"own {worker} {i}"), CoreResponse(text="x", model="m"))
    cache.close()
    return wrote


def test_cache_concurrent_writers_threads_and_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    shared = ResponseCache(path)
    threads = [threading.Thread(target=lambda k=k: [shared.put(req(f"t{k}-{i}"), CoreResponse(text=str(i), model="m")) for i in range(40)]) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(shared) == 240
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        wrote = pool.starmap(_write_many, [(path, w, 30) for w in range(3)])
    # each shared key is written exactly once, whoever won; each worker's own keys all land
    assert sum(wrote) == 30 + 3 * 30
    assert len(shared) == 240 + 30 + 90
    texts = {shared.get(req(f"shared {i}"), "m").text for i in range(30)}
    assert texts <= {"w0", "w1", "w2"}
    shared.close()


def test_corrupted_and_locked_cache_give_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"definitely not sqlite " * 200)
    with pytest.raises(CacheError, match="corrupt|not a SQLite") as info:
        ResponseCache(bad)
    assert str(bad) in str(info.value)
    locked_path = tmp_path / "locked.sqlite"
    cache = ResponseCache(locked_path, timeout_s=0.2)
    holder = sqlite3.connect(str(locked_path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CacheError, match="locked") as info:
            cache.put(req("x"), CoreResponse(text="y", model="m"))
        assert str(locked_path) in str(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cache.put(req("x"), CoreResponse(text="y", model="m")) is True
    cache.close()
    with pytest.raises(CacheError):
        cache.get(req("x"), "m")
    with pytest.raises(CacheError):
        ResponseCache(tmp_path)  # a folder is not a database file
    with pytest.raises(ConfigError):
        ResponseCache(tmp_path / "c.sqlite", timeout_s=0)


# -- cost ledger -----------------------------------------------------------------------------------
def test_ledger_prices_calls_and_unknown_models_say_so(tmp_path: Path) -> None:
    ledger = CostLedger(run_id="run-1", prices={"my-core": (1.0, 2.0)})
    tid = {"task_id": "t1"}
    e1 = ledger.record(req("a", metadata=tid), CoreResponse(text="x", prompt_tokens=1_000_000, completion_tokens=500_000, model="my-core"))
    assert e1.cost_usd == pytest.approx(2.0)
    e2 = ledger.record(req("b", metadata={"task_id": "t2"}), CoreResponse(text="x", prompt_tokens=10, completion_tokens=10, model="mystery-model-xyz"))
    assert e2.cost_usd is None  # unknown, never 0
    e3 = ledger.record(req("c", metadata=tid), CoreResponse(text="x", prompt_tokens=1_000_000, completion_tokens=0, model="gpt-4o-mini"))
    assert e3.cost_usd == pytest.approx(0.15)  # from genai-prices
    totals = ledger.totals()
    assert totals.calls == 3 and totals.cost_usd is None and totals.unpriced_models == ("mystery-model-xyz",)
    assert totals.known_cost_usd == pytest.approx(2.15)
    assert totals.prompt_tokens == 2_000_010 and totals.completion_tokens == 500_010
    per_task = ledger.per_task()
    assert per_task["t1"].cost_usd == pytest.approx(2.15) and per_task["t2"].cost_usd is None
    assert list(ledger.per_run()) == ["run-1"]
    assert estimate_cost_usd("mystery-model-xyz", 1, 1) is None
    assert estimate_cost_usd("mystery-model-xyz", 10**6, 0, table=PriceTable({"mystery-model-xyz": 3})) == pytest.approx(3.0)


def test_ledger_export_round_trips(tmp_path: Path) -> None:
    ledger = CostLedger(run_id="r", prices={"m": 1})
    ledger.record(req("a", metadata={"task_id": "t"}), CoreResponse(text="x", prompt_tokens=5, completion_tokens=5, model="m"))
    ledger.record(req("b"), CoreResponse(text="x", prompt_tokens=5, completion_tokens=5, model="unknown-zz"))
    data = json.loads(ledger.to_json(tmp_path / "out" / "ledger.json").read_text())
    assert data["totals"]["calls"] == 2 and data["totals"]["cost_usd"] is None
    assert {"per_run", "per_task", "entries"} <= set(data) and data["per_task"]["t"]["cost_usd"] == pytest.approx(1e-5)
    back = CostLedger.from_json(tmp_path / "out" / "ledger.json")
    assert back.entries == ledger.entries
    with (ledger.to_csv(tmp_path / "ledger.csv")).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["task_id"] for r in rows] == ["t", ""] and rows[1]["cost_usd"] == ""
    assert {"model", "prompt_tokens", "completion_tokens", "cost_usd", "run_id"} <= set(rows[0])
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(DataError):
        CostLedger.from_json(tmp_path / "junk.json")


def test_metered_cached_core_records_hits_as_free(tmp_path: Path) -> None:
    ledger = CostLedger(prices={"echo": (1.0, 1.0)})
    core = wrap_core(
        CallableCore(lambda r: CoreResponse(text="ok", prompt_tokens=500_000, completion_tokens=500_000), model="echo"),
        cache=ResponseCache(tmp_path / "c.sqlite"),
        ledger=ledger,
    )
    core.generate([req("q", metadata={"task_id": "t"})])
    core.generate([req("q", metadata={"task_id": "t"})])
    first, second = ledger.entries
    assert not first.cached and first.cost_usd == pytest.approx(1.0)
    assert second.cached and second.cost_usd == 0.0 and second.saved_usd == pytest.approx(1.0)
    assert ledger.totals().cost_usd == pytest.approx(1.0) and ledger.totals().saved_usd == pytest.approx(1.0)


def test_ledger_survives_bogus_usage_and_failed_calls() -> None:
    ledger = CostLedger(prices={"m": 1})
    bogus = CallableCore(lambda r: CoreResponse(text="abc", prompt_tokens=-3, completion_tokens=True, model="m"), model="m")
    [resp] = MeteredCore(bogus, ledger).generate([req("hello")])
    assert resp.error is not None and resp.error.kind is CoreFailureKind.INTERNAL and "prompt_tokens" in resp.error.message
    entry = ledger.entries[0]
    assert not entry.ok and entry.cost_usd == 0.0 and entry.prompt_tokens == 0
    failed = ledger.record(req("x"), CoreResponse.failure("timeout", "no answer", model="unknown-zz"))
    assert failed.cost_usd == 0.0 and not failed.ok and failed.failure == "timeout"
    with pytest.raises(ConfigError):
        ledger.record_usage("m", -1, 0)


@pytest.mark.parametrize("price", [("a", "b"), float("nan"), float("inf"), -1, {"input": "x", "output": 1}, "cheap"])
def test_bad_price_table_is_a_config_error_naming_the_model(price: Any) -> None:
    with pytest.raises(ConfigError, match="my-model"):
        PriceTable({"my-model": price})


# -- tasks ------------------------------------------------------------------------------------------
def test_humaneval_loads_offline() -> None:
    tasks = load_humaneval()
    assert len(tasks) == 164 and len({t.id for t in tasks}) == 164
    first = tasks[0]
    assert first.id == "HumanEval/0" and first.kind is TaskKind.CODE and first.language == "python"
    assert first.entry_point == "has_close_elements" and "def check(candidate)" in first.tests
    assert first.problem.lstrip().startswith("from typing import List")
    assert [t.id for t in load_humaneval(limit=3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert load_humaneval(limit=0) == []
    with pytest.raises(DataError):
        load_humaneval(limit=-1)


def test_gsm8k_from_a_local_file_of_the_hub_format(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    rows = [{"question": f"Tom has {i} apples. ünï?", "answer": f"He has {i} + 1000.\n#### {i + 1000:,}"} for i in range(4)]
    path = tmp_path / "gsm8k_test.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    tasks = load_gsm8k(str(path), "test", cache_dir=str(tmp_path / "hf"))
    assert [t.id for t in tasks] == [f"gsm8k/test/{i}" for i in range(4)]
    assert [t.answer for t in tasks] == ["1000", "1001", "1002", "1003"]
    assert tasks[1].kind is TaskKind.MATH and tasks[1].problem == "Tom has 1 apples. ünï?"
    assert len(load_gsm8k(path, "test", limit=2, cache_dir=str(tmp_path / "hf"))) == 2
    missing = tmp_path / "wrong.jsonl"
    missing.write_text(json.dumps({"q": "x", "answer": "#### 1"}) + "\n")
    with pytest.raises(DataError, match="question"):
        load_gsm8k(missing, cache_dir=str(tmp_path / "hf"))
    with pytest.raises(DataError):
        load_gsm8k(tmp_path / "nope.jsonl", cache_dir=str(tmp_path / "hf"))
    (tmp_path / "empty.jsonl").write_text("")
    assert load_gsm8k(tmp_path / "empty.jsonl", cache_dir=str(tmp_path / "hf")) == []
    null = tmp_path / "null.jsonl"
    null.write_text(json.dumps({"question": "ok?", "answer": "#### 1"}) + "\n" + json.dumps({"question": None, "answer": "#### 2"}) + "\n")
    with pytest.raises(DataError, match="row 1"):
        load_gsm8k(null, cache_dir=str(tmp_path / "hf"))


def test_gsm8k_answer() -> None:
    assert gsm8k_answer("3 + 4 = 7\n#### 7") == "7"
    assert gsm8k_answer("#### $1,200") == "1200"
    assert gsm8k_answer("a\n#### 3\nb\n#### -5\n") == "-5"
    for bad in ("no marker", "####   ", None, 7):
        with pytest.raises(DataError):
            gsm8k_answer(bad)  # type: ignore[arg-type]


def test_kodcode_from_a_local_parquet_file_of_the_hub_format(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [
        {"question_id": "Leetcode_1", "question": "Write add(a, b).", "solution": "def add(a, b):\n    return a + b\n",
         "test": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
         "test_info": [{"function_name": "add", "function_declaration": "def add(a, b):"}], "subset": "Leetcode"},
        {"question_id": "Apps_2", "question": "Uses fixtures.", "solution": "x = 1\n",
         "test": "import pytest\n\n@pytest.fixture\ndef v():\n    return 1\n\ndef test_v(v):\n    assert v == 1\n",
         "test_info": [{"function_name": "", "function_declaration": ""}], "subset": "Apps"},
    ]  # fmt: skip
    path = tmp_path / "kodcode.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    tasks = load_kodcode(path, cache_dir=str(tmp_path / "hf"))
    assert [t.id for t in tasks] == ["kodcode/Leetcode_1"]  # the fixture test cannot run in an assert harness
    t = tasks[0]
    assert t.kind is TaskKind.CODE and t.entry_point == "add" and "assert add(1, 2) == 3" in t.tests
    assert t.test_format == "asserts" and t.language == "python" and t.reference.startswith("def add")
    assert [x.id for x in load_kodcode(path, drop_fixture_tests=False, subsets=["Apps"], cache_dir=str(tmp_path / "hf"))] == ["kodcode/Apps_2"]
    no_test = tmp_path / "no_test.jsonl"
    no_test.write_text(json.dumps({"question_id": "X_9", "question": "q", "solution": "s", "test": None}) + "\n")
    with pytest.raises(DataError, match="X_9"):
        load_kodcode(no_test, cache_dir=str(tmp_path / "hf"))
    cols = tmp_path / "cols.jsonl"
    cols.write_text(json.dumps({"question": "q"}) + "\n")
    with pytest.raises(DataError, match="question_id"):
        load_kodcode(cols, cache_dir=str(tmp_path / "hf"))


def test_jsonl_round_trip_and_errors_name_the_line(tmp_path: Path) -> None:
    tasks = load_humaneval(limit=2) + [Task("m/1", "math", "Half of 3? ☃ {x}", answer="1.5", metadata={"src": "mine"})]
    path = save_jsonl(tasks, tmp_path / "deep" / "tasks.jsonl")
    back = load_jsonl(path)
    assert back == tasks and back[2].metadata == {"src": "mine"}
    assert load_jsonl(path, limit=1) == tasks[:1]
    (tmp_path / "empty.jsonl").write_text("\n\n")
    assert load_jsonl(tmp_path / "empty.jsonl") == []
    good = json.dumps({"task_id": "a", "kind": "math", "problem": "p", "answer": "1"})
    cases = {
        "notjson.jsonl": (good + "\n{oops\n").encode(),
        "array.jsonl": b"[1, 2]\n",
        "noanswer.jsonl": (good + "\n" + json.dumps({"task_id": "b", "kind": "math", "problem": "p"}) + "\n").encode(),
        "badkind.jsonl": json.dumps({"task_id": "c", "kind": "poetry", "problem": "p"}).encode(),
        "binary.jsonl": b"\xff\xfe\x00\x01garbage\n",
        "wrongtype.jsonl": json.dumps({"task_id": "d", "kind": "code", "problem": "p", "tests": 123}).encode(),
    }
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(DataError, match=name):
            load_jsonl(tmp_path / name)
    with pytest.raises(DataError):
        load_jsonl(tmp_path / "missing.jsonl")
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + good.encode())
    assert load_jsonl(bom)[0].id == "a"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": "t", "kind": "poetry", "problem": "p"},
        {"id": "t", "kind": "math", "problem": "p"},
        {"id": "t", "kind": "code", "problem": "p"},
        {"id": None, "kind": "math", "problem": "p", "answer": "1"},
        {"id": "t", "kind": "math", "problem": None, "answer": "1"},
        {"id": "t", "kind": "code", "problem": "p", "tests": ["assert 1"]},
        {"id": "t", "kind": "code", "problem": "p", "tests": "assert f()", "test_format": "nope"},
    ],
)
def test_bad_tasks_are_data_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(DataError):
        Task(**kwargs)


def test_task_fields_and_hashing() -> None:
    t = Task("c/1", "code", "def f():", tests="assert f() == 1", test_format="asserts", entry_point="f", language="python")
    assert t.kind is TaskKind.CODE and t.entry_point == "f" and t.language == "python" and t.answer is None
    assert Task("m", "math", "1+1?", answer=2).answer == "2"
    assert len({t, Task.from_dict(t.to_dict())}) == 1
    with pytest.raises(DataError):
        Task.from_dict(["not", "a", "row"])  # type: ignore[arg-type]


# -- prompts ----------------------------------------------------------------------------------------
def test_prompts_use_the_strategy_convention_and_are_configurable() -> None:
    math = Task("m", "math", "What is {2} + 3? ☃", answer="5")
    code = load_humaneval(limit=1)[0]
    for task in (math, code):
        g = guide_prompt(task)
        assert "<strategy>" in g and "</strategy>" in g and task.problem.strip() in g
        c = core_prompt(task, "Step 1: add.")
        assert "<strategy>\nStep 1: add.\n</strategy>" in c and task.problem.strip() in c
        assert extract_strategy(c) == "Step 1: add."
        assert "<strategy>" not in core_only_prompt(task)
    assert "Python" in core_prompt(code, "s") and "####" in core_prompt(math, "s")
    custom = PromptTemplates(strategy_tag="plan", guide_math="PLAN {problem} {open_tag}{close_tag}", system="You plan.")
    assert guide_prompt(math, custom) == "PLAN What is {2} + 3? ☃ <plan></plan>"
    assert "<plan>\nadd\n</plan>" in core_prompt(math, "add", custom)
    r = core_request(math, "add", templates=custom, temperature=0.5, sample_index=2, metadata=None)
    assert r.messages[0] == {"role": "system", "content": "You plan."} and r.metadata["task_id"] == "m"
    assert r.temperature == 0.5 and r.sample_index == 2
    assert extract_strategy("no block") is None and extract_strategy("<plan> p </plan>", tag="plan") == "p"
    for bad in ({"guide_math": "{problem} {nope}"}, {"guide_math": "no problem"}, {"core_math": "{problem}"},
                {"strategy_tag": "<x>"}, {"guide_math": "{problem"}, {"system": 3}):  # fmt: skip
        with pytest.raises(ConfigError):
            PromptTemplates(**bad)
    with pytest.raises(ConfigError):
        core_prompt(math, None)  # type: ignore[arg-type]


# -- bench_cores JSON keys ----------------------------------------------------------------------------
def test_bench_cores_writes_its_documented_keys(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    out = tmp_path / "cores.json"
    args = ["--calls", "16", "--concurrency", "8", "--latency", "0.02", "--repeats", "1", "--lookups", "30", "--json", str(out)]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_cores.py"), *args], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert 0 < data["concurrency_efficiency"] <= 1.5
    assert data["concurrency_efficiency"] == pytest.approx(data["ideal_s"] / data["measured_s"])
    assert data["ideal_s"] == pytest.approx(16 / 8 * 0.02)
    assert 0 < data["cache_hit_ms"] < 1000 and data["all_ok"] is True
