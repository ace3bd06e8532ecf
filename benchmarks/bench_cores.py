"""Benchmark the core runtime: concurrent calls to an OpenAI-compatible server, and cache hits.

A real uvicorn server runs on loopback in its own process and answers every chat completion
after a fixed latency (``--latency``), the way an API does. ``OpenAICompatibleCore`` sends
``--calls`` requests with at most ``--concurrency`` in flight. The ideal time is
``calls / concurrency * latency``; ``concurrency_efficiency`` is ideal / measured (1.0 is
perfect; the target is >= 1 / 1.3, i.e. within 1.3x of ideal).

Then the same requests go through a ``CachedCore`` (SQLite ``ResponseCache``) twice: the
second pass is all hits, and ``cache_hit_ms`` is the median time of one single-request
``generate`` call answered from the cache (target: under 1 ms).

Usage:
    python benchmarks/bench_cores.py [--calls 512] [--concurrency 64] [--latency 0.5]
                                     [--sweep 0.1,0.25] [--json out.json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from exectune_rl.cores import CallableCore, CoreRequest, CoreResponse, OpenAICompatibleCore
from exectune_rl.runtime import CachedCore, ResponseCache

TARGET_RATIO = 1.3
TARGET_HIT_MS = 1.0


def _serve(port_queue: Any, latency_s: float) -> None:
    """Child process: an echo core behind the loopback server, with a fixed latency per call."""
    from exectune_rl.cores.server import LoopbackServer, create_app

    async def echo(req: CoreRequest) -> CoreResponse:
        text = req.messages[-1]["content"]
        return CoreResponse(text=f"echo:{text}", prompt_tokens=len(text.split()), completion_tokens=2, model="bench")

    server = LoopbackServer(create_app(CallableCore(echo, model="bench", max_concurrency=4096), latency_s=latency_s))
    server.start()
    port_queue.put(server.port)
    while True:  # the parent terminates this process
        time.sleep(3600)


class ServerProcess:
    """Starts the loopback server in a separate process so it does not share the client's GIL."""

    def __init__(self, latency_s: float) -> None:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        self.proc = ctx.Process(target=_serve, args=(queue, latency_s), daemon=True)
        self.proc.start()
        self.port = queue.get(timeout=60)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


def requests_for(n: int, tag: str) -> list[CoreRequest]:
    return [CoreRequest.from_prompt(f"{tag} request number {i}", max_tokens=16) for i in range(n)]


def measure_concurrency(latency_s: float, calls: int, concurrency: int, repeats: int) -> dict[str, Any]:
    server = ServerProcess(latency_s)
    try:
        core = OpenAICompatibleCore("bench", base_url=server.base_url, max_concurrency=concurrency, max_retries=2)
        core.generate(requests_for(concurrency, "warmup"))  # connections open, code paths warm
        runs, all_ok = [], True
        for r in range(repeats):
            reqs = requests_for(calls, f"run{r}")
            start = time.perf_counter()
            out = core.generate(reqs)
            runs.append(time.perf_counter() - start)
            all_ok &= all(o.ok and o.text == f"echo:{q.prompt_text}" for o, q in zip(out, reqs)) and len(out) == calls
        core.close()
    finally:
        server.stop()
    ideal = calls / concurrency * latency_s
    measured = statistics.median(runs)
    return {
        "latency_s": latency_s,
        "ideal_s": ideal,
        "measured_s": measured,
        "runs_s": runs,
        "concurrency_efficiency": ideal / measured,
        "ratio_to_ideal": measured / ideal,
        "all_ok": all_ok,
    }


def measure_cache(calls: int, lookups: int) -> dict[str, Any]:
    async def echo(req: CoreRequest) -> CoreResponse:
        return CoreResponse(text=f"echo:{req.prompt_text}", prompt_tokens=5, completion_tokens=2, model="bench")

    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(Path(tmp) / "responses.sqlite")
        core = CachedCore(CallableCore(echo, model="bench"), cache)
        reqs = requests_for(calls, "cache")
        start = time.perf_counter()
        cold = core.generate(reqs)
        fill_s = time.perf_counter() - start
        assert not any(r.cached for r in cold)
        times = []
        for i in range(lookups):
            req = reqs[i % calls]
            t0 = time.perf_counter()
            [hit] = core.generate([req])
            times.append((time.perf_counter() - t0) * 1000)
            assert hit.cached and hit.text == f"echo:{req.prompt_text}"
        start = time.perf_counter()
        batch = core.generate(reqs)
        batch_s = time.perf_counter() - start
        assert all(r.cached for r in batch)
        stats = cache.stats()
        cache.close()
    times.sort()
    return {
        "cache_hit_ms": statistics.median(times),
        "cache_hit_p99_ms": times[int(0.99 * (len(times) - 1))],
        "cache_hit_batch_ms_per_request": batch_s / calls * 1000,
        "cache_fill_ms_per_request": fill_s / calls * 1000,
        "cache_hits": stats.hits,
        "cache_misses": stats.misses,
    }


def print_table(conc: list[dict[str, Any]], cache: dict[str, Any], calls: int, concurrency: int) -> None:
    print(f"\nOpenAICompatibleCore -> loopback server: {calls} calls, concurrency {concurrency}")
    print(f"{'latency s':>10} {'ideal s':>9} {'median s':>9} {'x ideal':>8} {'efficiency':>11} {'all ok':>7}  runs")
    for row in conc:
        runs = ", ".join(f"{r:.3f}" for r in row["runs_s"])
        print(f"{row['latency_s']:>10.3f} {row['ideal_s']:>9.3f} {row['measured_s']:>9.3f} {row['ratio_to_ideal']:>8.3f} "
              f"{row['concurrency_efficiency']:>11.3f} {str(row['all_ok']):>7}  {runs}")  # fmt: skip
    print("\nResponseCache (SQLite, WAL) through CachedCore")
    print(f"  single-request hit, median   {cache['cache_hit_ms']:.4f} ms")
    print(f"  single-request hit, p99      {cache['cache_hit_p99_ms']:.4f} ms")
    print(f"  batch of {calls} hits         {cache['cache_hit_batch_ms_per_request']:.4f} ms/request")
    print(f"  cold fill (miss + write)     {cache['cache_fill_ms_per_request']:.4f} ms/request")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the server waits per call (default 0.5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per latency; the median is reported")
    parser.add_argument("--sweep", default="", help="extra latencies to report, comma-separated (e.g. 0.1,0.25)")
    parser.add_argument("--lookups", type=int, default=2000, help="single-request cache hits to time")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)  # before the long run, not after it

    main_row = measure_concurrency(args.latency, args.calls, args.concurrency, args.repeats)
    sweep = [measure_concurrency(float(x), args.calls, args.concurrency, args.repeats) for x in args.sweep.split(",") if x.strip()]
    cache = measure_cache(args.calls, args.lookups)
    print_table([main_row, *sweep], cache, args.calls, args.concurrency)

    meets = {
        "concurrency_within_1.3x": main_row["ratio_to_ideal"] <= TARGET_RATIO and main_row["all_ok"],
        "cache_hit_under_1ms": cache["cache_hit_ms"] < TARGET_HIT_MS,
    }
    print(f"\ntargets: within {TARGET_RATIO}x of ideal at latency {args.latency}s -> {meets['concurrency_within_1.3x']}; "
          f"cache hit < {TARGET_HIT_MS} ms -> {meets['cache_hit_under_1ms']}")  # fmt: skip
    result = {
        "concurrency_efficiency": main_row["concurrency_efficiency"],
        "cache_hit_ms": cache["cache_hit_ms"],
        "calls": args.calls,
        "concurrency": args.concurrency,
        **{k: v for k, v in main_row.items() if k != "concurrency_efficiency"},
        **{k: v for k, v in cache.items() if k != "cache_hit_ms"},
        "sweep": sweep,
        "meets_targets": meets,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg_1m": os.getloadavg()[0]},  # fmt: skip
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0 if (all(meets.values()) or not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
