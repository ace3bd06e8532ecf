"""A soak of LocalSandbox: many mixed runs, abuses included, watching for leaks and mix-ups.

Runs ``--runs`` requests (default 20,000) in batches on one pool: ordinary programs, each
printing a token of its own, mixed with what has broken sandboxes before: CPU loops, memory
and output bombs, fork trees spinning past their CPU budget, grandchildren that escape their
session, directories 300 levels deep, files filling the work dir, programs forging their status
on fd 3, closing stdout, lone surrogates in bash source, judged runs (tests in the judge
process) with hacks among them, requests rejected where they are built, and now and then a
worker killed from outside mid-batch. Every ``--report-every`` runs it records the RSS and open
fds of this process and of the workers, the processes the tasks left behind, and the CPU time
per task tree, and prints a table.

A result is *wrong* when its status or output is not what its program must give; it is
*misdelivered* when it carries another request's token. The JSON (``--json``) has ``runs``,
``rss_growth_mb``, ``fd_growth``, ``leftover_processes``, ``wrong_results``,
``misdelivered_results`` (growth from the first checkpoint to the last; all should be ~0),
and the checkpoints themselves.

Usage:
    python benchmarks/soak_sandbox.py --runs 20000 --json soak_sandbox.json
    python benchmarks/soak_sandbox.py --runs 300        # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import psutil

from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes import ExecRequest, ExecStatus, LocalSandbox
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, run_tests

S = ExecStatus
TOKEN = re.compile(r"tok(\d+)x")


@dataclass(frozen=True)
class Kind:
    name: str
    weight: float
    make: Callable[[int], ExecRequest]
    statuses: frozenset
    token: bool = True  # the result's stdout must carry the request's own token (and no other)


def _py(code: str, **kw: Any) -> Callable[[int], ExecRequest]:
    kw.setdefault("cpu_time_s", 2.0)
    return lambda n: ExecRequest(code.replace("TOKEN", f"tok{n}x"), **kw)


def _lang(code: str, language: str, **kw: Any) -> Callable[[int], ExecRequest]:
    kw.setdefault("cpu_time_s", 5.0)
    return lambda n: ExecRequest(code.replace("TOKEN", f"tok{n}x"), language=language, **kw)


FORGE = "import os\nos.write(3, b'{\"kind\": \"syntax\", \"exc\": \"SyntaxError\", \"errno\": 27}\\n')\n"
KINDS = [
    Kind("ok", 60, _py("print('TOKEN')"), frozenset({S.OK})),
    Kind("stdin_args", 5, lambda n: ExecRequest("import sys\nprint(input(), sys.argv[1])", stdin=f"tok{n}x\n",
                                                args=("a",)), frozenset({S.OK})),
    Kind("exception", 5, _py("print('TOKEN')\nraise ValueError('boom')"), frozenset({S.RUNTIME_ERROR})),
    Kind("syntax", 3, _py("def f(:\n  pass"), frozenset({S.SYNTAX_ERROR}), token=False),
    Kind("cpu_loop", 0.6, _py("print('TOKEN', flush=True)\nwhile True:\n    pass", cpu_time_s=0.2), frozenset({S.TIMEOUT})),
    Kind("memory_bomb", 2, _py("print('TOKEN', flush=True)\nx = bytearray(2 ** 34)", memory_mb=128),
         frozenset({S.MEMORY_LIMIT})),
    Kind("output_flood", 2, _py("print('TOKEN')\nwhile True:\n    print('x' * 1000)", output_limit_bytes=20_000),
         frozenset({S.OUTPUT_LIMIT})),
    Kind("fork_tree", 0.4, _py("import os\nprint('TOKEN', flush=True)\nfor _ in range(3):\n    if os.fork() == 0:\n"
                               "        break\nwhile True:\n    pass", cpu_time_s=0.3), frozenset({S.TIMEOUT}), token=False),
    Kind("escaped_grandchild", 2, _py("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                                      "        time.sleep(60)\n    time.sleep(60)\nprint('TOKEN')"), frozenset({S.OK})),
    Kind("deep_dir", 1, _py("import os\nfor _ in range(300):\n    os.mkdir('d')\n    os.chdir('d')\nprint('TOKEN')"),
         frozenset({S.OK})),
    Kind("files_fill", 1, _py("n = 0\ntry:\n    while True:\n        open(f'f{n}', 'wb').write(b'x' * (1 << 20))\n"
                              "        n += 1\nexcept OSError:\n    pass\nassert n <= 16, n\nprint('TOKEN')", memory_mb=16),
         frozenset({S.OK})),
    Kind("forge_fd3", 2, _py(FORGE + "print('TOKEN')"), frozenset({S.OK})),
    Kind("forge_fd3_fail", 1, _py(FORGE + "print('TOKEN')\nraise SystemExit(1)"), frozenset({S.RUNTIME_ERROR, S.OUTPUT_LIMIT})),
    Kind("close_stdout", 1, _py("import os\nprint('lost')\nos.close(1)"), frozenset({S.RUNTIME_ERROR}), token=False),
    Kind("bash", 3, _lang("echo TOKEN", "bash"), frozenset({S.OK})),
    Kind("bash_forge_fd3", 1, _lang("echo TOKEN\necho '{\"kind\": \"syntax\"}' >&3\nexit 0", "bash"), frozenset({S.OK})),
    Kind("bash_surrogate", 0.5, _lang("echo '\udc80'", "bash"), frozenset({S.SYNTAX_ERROR}), token=False),
]
JUDGED_TESTS = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 2) == 4")
JUDGED = {  # program -> the verdict it must get
    "def add(a, b):\n    return a + b\n": TestStatus.PASSED,
    "def add(a, b):\n    return 0\n": TestStatus.FAILED,
    "import sys\ndef add(a, b):\n    return a + b\nsys.exit(0)\n": TestStatus.EARLY_EXIT,
    FORGE + "class E:\n    def __eq__(s, o): return True\ndef add(a, b):\n    return E()\n": TestStatus.FAILED,
    "import os\nfor _ in range(200):\n    os.mkdir('d')\n    os.chdir('d')\ndef add(a, b):\n    return a + b\n": TestStatus.PASSED,
}


def _check(kind: Kind, n: int, res: Any) -> tuple[bool, bool]:
    """(wrong, misdelivered) for request ``n`` of ``kind``."""
    tokens = {int(t) for t in TOKEN.findall(res.stdout)}
    misdelivered = bool(tokens - {n})
    wrong = res.status not in kind.statuses or (kind.token and n not in tokens)
    return wrong or misdelivered, misdelivered


def _tree_rss_fds(pids: list[int]) -> tuple[float, int]:
    rss, fds = 0.0, 0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            rss += p.memory_info().rss / 2**20
            fds += p.num_fds()
        except psutil.Error:
            pass
    return rss, fds


def _leftovers(sb: LocalSandbox) -> int:
    """Processes of the pool's tasks still alive: any of a task uid, or below a worker but not its judge."""
    uids = {p.uid for p in sb._procs if p is not None and p.uid is not None}
    count = 0
    if uids:
        for p in psutil.process_iter(["uids"]):
            if p.info["uids"] and p.info["uids"].real in uids:
                count += 1
        return count
    for pid in sb.worker_pids:
        try:
            for child in psutil.Process(pid).children():
                count += len(child.children(recursive=True))  # a judge has no children; a task's leftovers do
        except psutil.Error:
            pass
    return count


def soak(runs: int, workers: int, batch: int, report_every: int, seed: int, kill_every: int) -> dict[str, Any]:
    rng = random.Random(seed)
    weights = [k.weight for k in KINDS]
    me = psutil.Process()
    counts: Counter[str] = Counter()
    wrong = misdelivered = rejected = judged_runs = 0
    examples: list[str] = []
    checkpoints: list[dict[str, Any]] = []
    tree_cpu: list[float] = []
    tree_budget_ratio: list[float] = []
    done = 0
    started = time.monotonic()
    window_start, window_runs = started, 0
    with LocalSandbox(workers=workers) as sb:
        # Warm-up: every worker has run a plain task and started its judge before the first checkpoint.
        sb.run([ExecRequest("pass")] * (2 * workers))
        run_tests(sb, list(JUDGED) * workers, JUDGED_TESTS, cpu_time_s=2.0)
        restarts_seen = set(sb.worker_pids)
        next_kill = kill_every
        while done < runs:
            size = min(batch, runs - done)
            if done and done % 500 < batch:
                # A caller's mistake is rejected where the request is built, and touches no worker.
                for bad in ({"cpu_time_s": math.nan}, {"stdin": 5}, {"env": {"A": 1}}, {"memory_mb": 1 << 50}):
                    try:
                        ExecRequest("print(1)", **bad)
                    except ConfigError:
                        rejected += 1
            if done and done % 250 < batch and size >= len(JUDGED):
                progs = list(JUDGED)
                outcomes = run_tests(sb, progs, JUDGED_TESTS, cpu_time_s=2.0)
                for prog, out in zip(progs, outcomes):
                    if out.status is not JUDGED[prog]:
                        wrong += 1
                        examples.append(f"judged: {JUDGED[prog].value} expected, got {out.status.value} ({out.detail})")
                judged_runs += len(progs)
                counts["judged"] += len(progs)
                done += len(progs)
                window_runs += len(progs)
                size -= len(progs)
            kinds = rng.choices(KINDS, weights=weights, k=size)
            ids = [done + i for i in range(size)]
            reqs = [k.make(n) for k, n in zip(kinds, ids)]
            if kill_every and done >= next_kill and sb.worker_pids:
                victim = rng.choice(sb.worker_pids)
                next_kill += kill_every
                # Mid-batch, from outside: its task is retried on a fresh worker.
                import threading

                threading.Timer(0.05, lambda: _kill_quietly(victim)).start()
            results = sb.run(reqs)
            for k, n, res in zip(kinds, ids, results):
                counts[k.name] += 1
                bad, mixed = _check(k, n, res)
                wrong += bad
                misdelivered += mixed
                if bad and len(examples) < 20:
                    examples.append(f"{k.name}#{n}: {res.status.value} {res.detail!r} stdout={res.stdout[:80]!r}")
                if k.name == "fork_tree" and res.status is S.TIMEOUT:
                    tree_cpu.append(res.cpu_s)
                    tree_budget_ratio.append(res.cpu_s / 0.3)
            done += size
            window_runs += size
            restarts_seen.update(sb.worker_pids)
            if done // report_every > len(checkpoints) or done >= runs:
                now = time.monotonic()
                own_rss = me.memory_info().rss / 2**20
                wrss, wfds = _tree_rss_fds(sb.worker_pids)
                checkpoints.append({
                    "runs": done, "parent_rss_mb": round(own_rss, 1), "parent_fds": me.num_fds(),
                    "workers_rss_mb": round(wrss, 1), "workers_fds": wfds, "leftover_processes": _leftovers(sb),
                    "fork_tree_cpu_s_max": round(max(tree_cpu), 3) if tree_cpu else None,
                    "runs_per_s": round(window_runs / max(now - window_start, 1e-9), 1),
                    "wrong": wrong, "misdelivered": misdelivered,
                })
                window_start, window_runs = now, 0
                _print_row(checkpoints[-1], first=len(checkpoints) == 1)
        time.sleep(0.2)
        leftover_end = _leftovers(sb)
        worker_restarts = len(restarts_seen) - workers
    first, last = checkpoints[0], checkpoints[-1]
    return {
        "runs": done,
        "workers": workers,
        "seconds": round(time.monotonic() - started, 1),
        "rss_growth_mb": round((last["parent_rss_mb"] + last["workers_rss_mb"]) - (first["parent_rss_mb"] + first["workers_rss_mb"]), 1),
        "parent_rss_growth_mb": round(last["parent_rss_mb"] - first["parent_rss_mb"], 1),
        "workers_rss_growth_mb": round(last["workers_rss_mb"] - first["workers_rss_mb"], 1),
        "fd_growth": (last["parent_fds"] + last["workers_fds"]) - (first["parent_fds"] + first["workers_fds"]),
        "leftover_processes": leftover_end,
        "leftover_processes_max": max(c["leftover_processes"] for c in checkpoints),
        "wrong_results": wrong,
        "misdelivered_results": misdelivered,
        "rejected_requests": rejected,
        "judged_runs": judged_runs,
        "worker_restarts": worker_restarts,
        "fork_tree_cpu_s": {"budget": 0.3, "max": max(tree_cpu, default=0.0),
                            "median": statistics.median(tree_cpu) if tree_cpu else 0.0,
                            "max_over_budget": max(tree_budget_ratio, default=0.0)},
        "by_kind": dict(counts),
        "examples": examples,
        "checkpoints": checkpoints,
    }


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


COLUMNS = ("runs", "runs_per_s", "parent_rss_mb", "workers_rss_mb", "parent_fds", "workers_fds", "leftover_processes",
           "fork_tree_cpu_s_max", "wrong", "misdelivered")


def _print_row(row: dict[str, Any], first: bool) -> None:
    if first:
        print(" ".join(f"{c:>12}" for c in ("runs", "runs/s", "rss MB", "workers MB", "fds", "worker fds", "leftover",
                                               "tree cpu max", "wrong", "misdeliv.")))
    print(" ".join(f"{'-' if row[c] is None else row[c]:>12}" for c in COLUMNS), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20_000, help="requests in all (default 20000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50, help="requests per run() call")
    ap.add_argument("--report-every", type=int, default=1000, help="runs between checkpoints")
    ap.add_argument("--kill-every", type=int, default=2000, help="runs between worker kills from outside (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    for name in ("runs", "workers", "batch", "report_every"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be positive")
    out = soak(args.runs, args.workers, args.batch, args.report_every, args.seed, args.kill_every)
    print(f"\n{out['runs']} runs in {out['seconds']} s: RSS growth {out['rss_growth_mb']} MB, fd growth "
          f"{out['fd_growth']}, leftover processes {out['leftover_processes']}, wrong {out['wrong_results']}, "
          f"misdelivered {out['misdelivered_results']}, worker restarts {out['worker_restarts']}, "
          f"fork-tree CPU max {out['fork_tree_cpu_s']['max']:.2f} s for a {out['fork_tree_cpu_s']['budget']} s budget")
    for line in out["examples"][:10]:
        print("  wrong:", line)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
