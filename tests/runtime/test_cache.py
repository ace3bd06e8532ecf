"""ResponseCache and CachedCore: hits, misses, keys, concurrency, and broken databases."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading

import pytest

from exectune_rl.cores import CallableCore, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import CacheError
from exectune_rl.runtime import CachedCore, ResponseCache, request_key


class CountingCore(CallableCore):
    """An echo core that counts how many requests reached it."""

    def __init__(self, model: str = "count") -> None:
        self.calls: list[str] = []
        super().__init__(self._answer, model=model)

    def _answer(self, req: CoreRequest) -> CoreResponse:
        self.calls.append(req.prompt_text)
        if req.prompt_text.startswith("fail"):
            return CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "HTTP 500", model=self.model)
        return CoreResponse(text=f"A:{req.prompt_text}:{req.sample_index}", prompt_tokens=3, completion_tokens=2,
                            model=self.model, finish_reason="stop")  # fmt: skip


def test_put_get_and_stats(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    req = CoreRequest.from_prompt("2+2?")
    assert cache.get(req, "m") is None
    assert cache.put(req, CoreResponse(text="4", prompt_tokens=5, completion_tokens=1, model="m", metadata={"k": 1}))
    hit = cache.get(req, "m")
    assert (hit.text, hit.prompt_tokens, hit.completion_tokens, hit.cached, hit.metadata) == ("4", 5, 1, True, {"k": 1})
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes) == (1, 1, 1) and stats.hit_rate == 0.5
    assert len(cache) == 1


def test_raw_keys_work_too(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    key = request_key(CoreRequest.from_prompt("q"), "m")
    assert cache.put(key, CoreResponse(text="a", model="m"))
    assert cache.get(key).text == "a" and cache.get(CoreRequest.from_prompt("q"), "m").text == "a"


def test_failures_are_never_stored(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    req = CoreRequest.from_prompt("q")
    assert not cache.put(req, CoreResponse.failure(CoreFailureKind.TIMEOUT, "slow", model="m"))
    assert len(cache) == 0


def test_key_covers_model_sampling_messages_and_sample_index():
    base = CoreRequest.from_prompt("q", temperature=0.7)
    k = request_key(base, "m")
    variants = [
        request_key(base, "other-model"),
        request_key(base, "m", namespace="ns"),
        request_key(CoreRequest.from_prompt("q", temperature=0.8), "m"),
        request_key(CoreRequest.from_prompt("q", temperature=0.7, top_p=0.9), "m"),
        request_key(CoreRequest.from_prompt("q", temperature=0.7, max_tokens=7), "m"),
        request_key(CoreRequest.from_prompt("q", temperature=0.7, stop=("\n",)), "m"),
        request_key(CoreRequest.from_prompt("q", temperature=0.7, sample_index=1), "m"),
        request_key(CoreRequest.from_prompt("q2", temperature=0.7), "m"),
        request_key(CoreRequest(messages=({"role": "system", "content": "q"},), temperature=0.7), "m"),
    ]
    assert k not in variants and len(set(variants)) == len(variants)
    # metadata is not sent to the model, so it does not split the cache
    assert request_key(CoreRequest.from_prompt("q", temperature=0.7, metadata={"task_id": "t"}), "m") == k


def test_cached_core_never_pays_twice_and_survives_a_restart(tmp_path):
    path = tmp_path / "c.sqlite"
    inner = CountingCore()
    reqs = [CoreRequest.from_prompt(f"p{i}") for i in range(5)]
    first = CachedCore(inner, ResponseCache(path)).generate(reqs)
    assert len(inner.calls) == 5 and not any(r.cached for r in first)
    # a new process would open the file afresh: so does a new cache object
    again_cache = ResponseCache(path)
    again = CachedCore(inner, again_cache).generate(reqs + [CoreRequest.from_prompt("new")])
    assert len(inner.calls) == 6 and inner.calls[-1] == "new"
    assert [r.text for r in again[:5]] == [r.text for r in first]
    assert all(r.cached for r in again[:5]) and not again[5].cached
    assert again_cache.stats().hits == 5


def test_samples_are_cached_separately_and_duplicates_sent_once(tmp_path):
    inner = CountingCore()
    core = CachedCore(inner, ResponseCache(tmp_path / "c.sqlite"))
    reqs = [CoreRequest.from_prompt("q", temperature=1.0, sample_index=i % 2) for i in range(4)]
    out = core.generate(reqs)
    assert len(inner.calls) == 2  # two distinct samples, each asked once
    assert [r.text for r in out] == ["A:q:0", "A:q:1", "A:q:0", "A:q:1"]
    assert [r.cached for r in out] == [False, False, True, True]


def test_failed_calls_are_retried_on_the_next_run(tmp_path):
    inner = CountingCore()
    core = CachedCore(inner, ResponseCache(tmp_path / "c.sqlite"))
    core.generate([CoreRequest.from_prompt("fail-once")])
    core.generate([CoreRequest.from_prompt("fail-once")])
    assert inner.calls == ["fail-once", "fail-once"]


def test_disabled_cache_always_calls_the_core(tmp_path):
    inner = CountingCore()
    cache = ResponseCache.disabled()
    core = CachedCore(inner, cache)
    core.generate([CoreRequest.from_prompt("q")])
    core.generate([CoreRequest.from_prompt("q")])
    assert len(inner.calls) == 2
    assert cache.stats().hits == 0 and not cache.stats().enabled and len(cache) == 0


async def test_cached_core_async(tmp_path):
    inner = CountingCore()
    core = CachedCore(inner, ResponseCache(tmp_path / "c.sqlite"))
    a = await core.agenerate([CoreRequest.from_prompt("x")])
    b = await core.agenerate([CoreRequest.from_prompt("x")])
    assert a[0].text == b[0].text and b[0].cached and len(inner.calls) == 1


def test_concurrent_threads_share_one_cache(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(60):
                req = CoreRequest.from_prompt(f"q{i % 40}")  # overlapping keys across threads
                cache.put(req, CoreResponse(text=f"t{t}", model="m"))
                assert cache.get(req, "m") is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 40
    assert cache.stats().writes == 40  # the first writer of a key wins; later ones change nothing


def _process_writer(path: str, worker: int, barrier) -> None:
    cache = ResponseCache(path)
    barrier.wait()
    for i in range(100):
        key_owner = i % 50  # keys 0..49 written by every process, then 50 of its own
        req = CoreRequest.from_prompt(f"shared{key_owner}" if i < 50 else f"own{worker}-{i}")
        cache.put(req, CoreResponse(text=f"w{worker}", model="m"))
    cache.close()


def test_concurrent_processes_write_one_file(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ResponseCache(path).close()  # create the schema once
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_process_writer, args=(path, w, barrier)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = ResponseCache(path)
    assert len(cache) == 50 + 4 * 50
    shared = {cache.get(CoreRequest.from_prompt(f"shared{i}"), "m").text for i in range(50)}
    assert shared <= {"w0", "w1", "w2", "w3"}


def test_corrupted_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a sqlite database at all" * 200)
    with pytest.raises(CacheError, match="corrupted or not a SQLite database"):
        ResponseCache(path)


def test_locked_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path, timeout_s=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
    try:
        with pytest.raises(CacheError, match="locked"):
            cache.put(CoreRequest.from_prompt("q"), CoreResponse(text="a", model="m"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cache.put(CoreRequest.from_prompt("q"), CoreResponse(text="a", model="m"))  # usable again


def test_unusable_location_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="cannot create the folder"):
        ResponseCache(blocker / "sub" / "c.sqlite")


def test_use_after_close_is_an_error(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.close()
    with pytest.raises(CacheError, match="after close"):
        cache.get(CoreRequest.from_prompt("q"), "m")


def test_default_path_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EXECTUNE_CACHE_DIR", str(tmp_path / "state"))
    cache = ResponseCache()
    assert cache.path == tmp_path / "state" / "responses.sqlite" and cache.path.exists()


def _upper(req: CoreRequest) -> CoreResponse:
    return CoreResponse(text=req.prompt_text.upper(), prompt_tokens=2, completion_tokens=1, model="gpt-4o-mini")


def test_a_used_cache_and_ledger_pickle_and_keep_working(tmp_path):
    import pickle

    from exectune_rl.runtime import CostLedger, wrap_core

    cache, ledger = ResponseCache(tmp_path / "c.sqlite"), CostLedger(run_id="r")
    core = wrap_core(CallableCore(_upper, model="gpt-4o-mini"), cache=cache, ledger=ledger)
    assert core.generate([CoreRequest.from_prompt("a")])[0].text == "A"  # a connection is open now
    clone = pickle.loads(pickle.dumps(core))
    cache.close()
    out = clone.generate([CoreRequest.from_prompt("a"), CoreRequest.from_prompt("b")])
    assert [r.text for r in out] == ["A", "B"] and [r.cached for r in out] == [True, False]
    assert len(clone.ledger) == 3 and clone.ledger.run_id == "r"  # the entry made before pickling travelled
    clone.core.cache.close()
