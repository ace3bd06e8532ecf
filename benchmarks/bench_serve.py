"""Throughput and overhead of ``exectune serve`` against ``ExecTuneReward`` in-process, on the same rows.

The rows are the bundled HumanEval sample (``exectune score``'s default: real tasks, given core
outputs, code run in the sandbox). In-process, ``ExecTuneReward`` scores them in batches of
``--inprocess-batch`` (a trainer's batch). Through the service, ``exectune serve`` runs in its
own process (as deployed) and ``--concurrency`` clients send OpenRLHF-format requests of
``--rows-per-request`` completions (OpenRLHF sends one) until every row is scored once per level.

Both sides use the same RewardConfig (the embedded default, with the execution cache off so
every pass runs every program), the same sandbox worker count, and one warm-up pass (the
core-only baselines are then known on both sides). They run one after the other, never together.

In-process and the service take turns for ``--repeats`` rounds (the machine's load drifts); each
figure is the median over the rounds, and the ratio is the median of the rounds' ratios.
The load generator is a keep-alive HTTP/1.1 client on asyncio streams, one connection per client
(``client_cpu_ms_per_request`` says what it cost; ``--client httpx`` uses httpx instead).

JSON keys: ``service_completions_per_s`` (at the highest concurrency), ``inprocess_completions_per_s``,
``service_overhead_ms_p50`` (median request latency at concurrency 1 minus the median in-process
time of the same request), ``ratio_vs_inprocess`` (target >= 0.8 at concurrency 64), and
``levels`` with requests/s, completions/s and p50/p99 latency per concurrency.

Example:
    $ python benchmarks/bench_serve.py --json bench_serve.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ["reward.execution_cache_size=0"]


def _rows(limit: int | None) -> list[dict[str, Any]]:
    from exectune_rl.rewards.sample import iter_sample

    rows = list(iter_sample())
    return rows[:limit] if limit else rows


def _label(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "completion"}


def _inprocess(rows: list[dict[str, Any]], batch: int, workers: int, per_request: int) -> dict[str, Any]:
    from exectune_rl.serve.run import open_scoring_run

    with open_scoring_run(None, OVERRIDES, workers=workers) as run:
        run.score_rows(rows)  # warm-up: workers started, baselines known
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            run.score_rows(rows[i : i + batch])
        elapsed = time.perf_counter() - start
        singles = []
        for i in range(0, min(len(rows), 64 * per_request), per_request):
            t = time.perf_counter()
            run.score_rows(rows[i : i + per_request])
            singles.append(time.perf_counter() - t)
    return {"completions_per_s": len(rows) / elapsed, "elapsed_s": elapsed, "request_ms_p50": statistics.median(singles) * 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "EXECTUNE_SERVE_TOKEN"}
    cmd = [sys.executable, "-m", "exectune_rl.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    for item in OVERRIDES + ["server.max_queued=1024", "server.max_batch=4096"]:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exectune serve exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("exectune serve did not start within 60 s")


class _Connection:
    """One keep-alive HTTP/1.1 connection over asyncio streams: the load generator.

    httpx spent about 14 ms of CPU per request at 64 connections on a 2-core machine, which
    then measured the generator rather than the service (it shares the cores). This client
    costs a small fraction of that; ``--client httpx`` measures with httpx instead.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the service closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            data = b"".join(parts)
        else:
            data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None


class _HttpxConnection:
    """The same interface over an ``httpx.AsyncClient`` (``--client httpx``)."""

    def __init__(self, host: str, port: int) -> None:
        self.http = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=600)

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        r = await self.http.post(path, content=body, headers={"Content-Type": "application/json"})
        return r.status_code, dict(r.headers), r.content

    async def close(self) -> None:
        await self.http.aclose()


async def _level(host: str, port: int, rows: list[dict[str, Any]], concurrency: int, per_request: int, client: str = "raw") -> dict[str, Any]:
    bodies = []
    for i in range(0, len(rows), per_request):
        part = rows[i : i + per_request]
        body = {"query": [r["completion"] for r in part], "prompts": [""] * len(part), "labels": [_label(r) for r in part]}
        bodies.append(json.dumps(body).encode())  # encoded once: the generator's CPU is not the service's
    latencies: list[float] = []
    refused = 0
    scored = 0
    queue = list(reversed(bodies))

    async def worker(conn: Any) -> None:
        nonlocal refused, scored
        while queue:
            body = queue.pop()
            while True:
                t = time.perf_counter()
                status, headers, data = await conn.post("/get_reward", body)
                if status == 503:
                    refused += 1
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                    continue
                if status != 200:
                    raise RuntimeError(f"/get_reward answered {status}: {data[:500]!r}")
                latencies.append(time.perf_counter() - t)
                scored += sum(r is not None for r in json.loads(data)["rewards"])
                break

    # One connection per client, as each trainer worker holds its own.
    make = _Connection if client == "raw" else _HttpxConnection
    conns = [make(host, port) for _ in range(concurrency)]
    cpu0 = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu0
    for conn in conns:
        await conn.close()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "concurrency": concurrency,
        "requests": len(bodies),
        "requests_per_s": len(bodies) / elapsed,
        "completions_per_s": len(rows) / elapsed,
        "latency_ms_p50": q[49] * 1000,
        "latency_ms_p99": q[98] * 1000,
        "refused_503": refused,
        "scored_rewards": scored,
        "client_cpu_ms_per_request": client_cpu / len(bodies) * 1000,
    }


def _median_level(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One concurrency level over the rounds: the median of each figure (503s summed)."""
    out = dict(runs[0])
    for key in ("requests_per_s", "completions_per_s", "latency_ms_p50", "latency_ms_p99", "client_cpu_ms_per_request"):
        out[key] = statistics.median(r[key] for r in runs)
    out["refused_503"] = sum(r["refused_503"] for r in runs)
    out["scored_rewards"] = min(r["scored_rewards"] for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--rows-per-request", type=int, default=1, help="completions per request (OpenRLHF sends 1)")
    ap.add_argument("--inprocess-batch", type=int, default=64, help="in-process batch size (a trainer's batch)")
    ap.add_argument("--workers", type=int, default=2, help="sandbox workers on both sides")
    ap.add_argument("--limit", type=int, default=None, help="use the first N rows of the sample (default: all 492)")
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw",
                    help="load generator: keep-alive HTTP/1.1 on asyncio streams (default) or httpx")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved in-process/service rounds (medians reported)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    rows = _rows(args.limit)
    port = _free_port()
    proc = _start_server(port, args.workers)
    rounds = []
    try:
        asyncio.run(_level("127.0.0.1", port, rows, max(args.concurrency), args.rows_per_request, args.client))  # warm-up
        # In-process and service take turns, ``--repeats`` times: on a shared machine the load
        # drifts, and a ratio of medians over interleaved rounds is not biased towards either.
        for _ in range(args.repeats):
            inproc = _inprocess(rows, args.inprocess_batch, args.workers, args.rows_per_request)
            levels = [asyncio.run(_level("127.0.0.1", port, rows, c, args.rows_per_request, args.client)) for c in args.concurrency]
            rounds.append((inproc, levels))
    finally:
        proc.terminate()
        proc.wait(60)
    inproc_runs = [r[0]["completions_per_s"] for r in rounds]
    top_c = max(args.concurrency)
    one_c = min(args.concurrency)
    ratios = [next(lv for lv in lvs if lv["concurrency"] == top_c)["completions_per_s"] / ip["completions_per_s"] for ip, lvs in rounds]
    levels = [_median_level([next(lv for lv in lvs if lv["concurrency"] == c) for _, lvs in rounds]) for c in args.concurrency]
    top = next(lv for lv in levels if lv["concurrency"] == top_c)
    one = next(lv for lv in levels if lv["concurrency"] == one_c)
    request_ms = statistics.median(r[0]["request_ms_p50"] for r in rounds)
    result = {
        "rows": len(rows),
        "rows_per_request": args.rows_per_request,
        "inprocess_batch": args.inprocess_batch,
        "workers": args.workers,
        "client": args.client,
        "repeats": args.repeats,
        "inprocess_completions_per_s": statistics.median(inproc_runs),
        "service_completions_per_s": top["completions_per_s"],
        "ratio_vs_inprocess": statistics.median(ratios),
        "ratio_vs_inprocess_rounds": ratios,
        "service_overhead_ms_p50": one["latency_ms_p50"] - request_ms,
        "inprocess_request_ms_p50": request_ms,
        "inprocess_runs_completions_per_s": inproc_runs,
        "levels": levels,
    }
    inproc = {"completions_per_s": result["inprocess_completions_per_s"]}
    print(f"in-process: {inproc['completions_per_s']:.0f} completions/s (batches of {args.inprocess_batch})")
    print(f"{'concurrency':>11} {'req/s':>8} {'compl/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'503s':>5} {'client cpu ms/req':>17}")
    for lv in levels:
        print(f"{lv['concurrency']:>11} {lv['requests_per_s']:>8.0f} {lv['completions_per_s']:>8.0f} "
              f"{lv['latency_ms_p50']:>8.1f} {lv['latency_ms_p99']:>8.1f} {lv['refused_503']:>5} {lv['client_cpu_ms_per_request']:>17.2f}")  # fmt: skip
    print(f"service / in-process at concurrency {top['concurrency']}: {result['ratio_vs_inprocess']:.2f} (median of {args.repeats} rounds; target 0.8); "
          f"overhead p50 {result['service_overhead_ms_p50']:.1f} ms")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
