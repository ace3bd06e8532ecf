"""LocalSandbox vs RaySandbox on the bench_sandbox workload (HumanEval, tests in a judge process).

The programs are bench_sandbox's (its ``build_workload``, imported, without infinite loops so
the timings measure the path, not the time limit): canonical solutions, wrong results,
exceptions, syntax errors and slower correct ones, cut to ``--batch`` programs, each run
against its problem's ``check`` suite through ``run_tests``. Backends, one after another in
this process:

- ``local``: ``LocalSandbox(workers=W)`` in this process;
- ``ray_1node``: ``RaySandbox`` on a local one-node cluster of W CPUs (one actor, W workers):
  against ``local``, the Ray path's overhead per task (``ray_overhead_ms_per_task``);
- ``ray_1of2``: one simulated node of W/2 CPUs (``ray.cluster_utils.Cluster``);
- ``ray_2nodes``: the same cluster with a second such node: ``scaling_efficiency`` is its
  throughput / (2 x ``ray_1of2``). Caveat: both simulated nodes share this machine's cores
  (and the driver, the judges and Ray's own processes run on them too), so this measures
  the sandbox's scheduling across nodes, not what a second machine adds.

Each backend runs ``--rounds`` times; the best round counts (other load on a shared machine
only ever slows a round down). ``driver_cpu_ms_per_task`` is this process's CPU time per task
on the Ray path (dispatch, (de)serialisation, Ray's client threads): the driver is the one
serial part, so it bounds the cluster's throughput; ``projection`` puts the measured costs
together for 10 and 100 nodes of ``--cores-per-node`` cores.

Usage:
    python benchmarks/bench_ray.py --workers 2 --batch 1000 --json bench_ray.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from bench_sandbox import _suite, build_workload  # noqa: E402  (the same workload, by import)

OBJECT_STORE_BYTES = 200 * 2**20


def _time(sandbox, programs, suites, timeout: float, rounds: int) -> tuple[list[tuple], float, float]:
    """(outcomes, best seconds, driver CPU seconds of the best round); an outcome is
    (status, passed cases, cases, detail), the first three compared across backends."""
    from exectune_rl.sandboxes.runner import run_tests

    run_tests(sandbox, programs[:20], suites[:20], cpu_time_s=timeout)  # warm-up
    best, best_cpu, outcomes = float("inf"), 0.0, []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        out = run_tests(sandbox, programs, suites, cpu_time_s=timeout)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best:
            best, best_cpu = wall, cpu
        outcomes = [(o.status.value, o.passed_cases, o.total_cases, o.detail[:120]) for o in out]
    return outcomes, best, best_cpu


def _ray_backends(programs, suites, args) -> dict[str, tuple[list[tuple], float, float]]:
    import ray
    from ray.cluster_utils import Cluster

    from exectune_sandbox_ray import RaySandbox

    out = {}
    ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
             object_store_memory=OBJECT_STORE_BYTES, logging_level="warning")
    try:
        with RaySandbox() as sb:
            out["ray_1node"] = _time(sb, programs, suites, args.timeout, args.rounds)
    finally:
        ray.shutdown()
    half = max(1, args.workers // 2)
    node = {"num_cpus": half, "object_store_memory": OBJECT_STORE_BYTES}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        ray.init(address=cluster.address, logging_level="warning")
        with RaySandbox() as sb:
            out["ray_1of2"] = _time(sb, programs, suites, args.timeout, args.rounds)
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        with RaySandbox() as sb:
            assert len(sb.actors) == 2, sb.actors
            out["ray_2nodes"] = _time(sb, programs, suites, args.timeout, args.rounds)
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


def _projection(worker_s_per_task: float, driver_ms: float, overhead_ms: float, cores: int) -> dict:
    """Throughput on N nodes of ``cores`` workers: the workers' rate, capped by the driver's."""
    driver_cap = 1000.0 / driver_ms if driver_ms > 0 else float("inf")
    out = {}
    for nodes in (10, 100):
        workers_rate = nodes * cores / (worker_s_per_task + overhead_ms / 1000.0 / cores)
        out[f"{nodes}_nodes"] = {"workers": nodes * cores, "throughput_per_s": round(min(workers_rate, driver_cap), 1),
                                 "bound": "driver" if driver_cap < workers_rate else "workers",
                                 "in_flight_requests_max": nodes * 3 * 16 * cores}
    out["driver_cap_per_s"] = round(driver_cap, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers (CPUs of the one-node cluster)")
    parser.add_argument("--batch", type=int, default=1000, help="programs per run_tests call")
    parser.add_argument("--repeat-canonical", type=int, default=3)
    parser.add_argument("--problems", type=int, default=None, help="first N HumanEval problems only")
    parser.add_argument("--timeout", type=float, default=3.0, help="CPU seconds per program")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cores-per-node", type=int, default=32, help="node size for the projection")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    from exectune_rl.sandboxes import LocalSandbox

    problems, runs = build_workload(args.repeat_canonical, loop_every=0,
                                    variants=("canonical", "wrong_result", "exception", "syntax_error", "slow_correct"),
                                    problems_limit=args.problems)
    runs = (runs * (args.batch // len(runs) + 1))[: args.batch]
    programs = [problems[r.task_id]["prompt"] + r.completion for r in runs]
    suites = [_suite(problems[r.task_id]) for r in runs]
    n = len(runs)

    with LocalSandbox(workers=args.workers) as sb:
        timed = {"local": _time(sb, programs, suites, args.timeout, args.rounds)}
    timed.update(_ray_backends(programs, suites, args))

    reference = timed["local"][0]
    tput = {b: n / t for b, (_, t, _) in timed.items()}
    agree = {b: sum(a[:3] == r[:3] for a, r in zip(out, reference)) / n for b, (out, _, _) in timed.items()}
    disagreements = [f"{b}: {r.task_id} {r.variant}: {ref} vs {got}" for b, (out, _, _) in timed.items()
                     for r, ref, got in zip(runs, reference, out) if ref[:3] != got[:3]]
    overhead_ms = (timed["ray_1node"][1] - timed["local"][1]) / n * 1000
    driver_ms = timed["ray_1node"][2] / n * 1000
    worker_s = timed["local"][1] * args.workers / n
    result = {
        "runs": n,
        "workers": args.workers,
        "timeout_s": args.timeout,
        "rounds": args.rounds,
        "throughput_per_s": {b: round(v, 1) for b, v in tput.items()},
        "seconds": {b: round(t, 3) for b, (_, t, _) in timed.items()},
        "ray_overhead_ms_per_task": round(overhead_ms, 3),
        "driver_cpu_ms_per_task": {b: round(c / n * 1000, 3) for b, (_, _, c) in timed.items()},
        "worker_ms_per_task": round(worker_s * 1000, 3),
        "scaling_efficiency": round(tput["ray_2nodes"] / (2 * tput["ray_1of2"]), 3),
        "scaling_caveat": f"the two simulated nodes share this machine's {os.cpu_count()} cores",
        "verdict_agreement": {b: round(v, 4) for b, v in agree.items()},
        "disagreements": disagreements[:20],
        "projection": _projection(worker_s, driver_ms, max(overhead_ms, 0.0), args.cores_per_node),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    print(f"\nRay sandbox benchmark: {n} HumanEval programs, {args.workers} workers, best of {args.rounds}")
    print(f"{'backend':<12} {'runs/s':>9} {'seconds':>9} {'driver CPU ms/task':>19} {'agreement':>10}")
    for b in timed:
        print(f"{b:<12} {tput[b]:>9.1f} {result['seconds'][b]:>9.2f} {result['driver_cpu_ms_per_task'][b]:>19.3f} {agree[b]:>10.4f}")
    for line in disagreements[:20]:
        print("disagreement:", line)
    print(f"Ray overhead {overhead_ms:.3f} ms/task; scaling efficiency (2 simulated nodes) {result['scaling_efficiency']}")
    print(f"projection ({args.cores_per_node} cores/node): {json.dumps(result['projection'])}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if all(v == 1.0 for v in agree.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
