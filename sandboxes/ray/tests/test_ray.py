"""RaySandbox on a real one-node Ray cluster (``ray.init(num_cpus=2)``): the Sandbox contract,
LocalSandbox's verdicts, its isolation against abuse, and the reward fanning out through it."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time

import pytest

from raytestlib import IS_ROOT, OBJECT_STORE_BYTES, PROGRAMS, humaneval_cases, needs_ray, outcome, verdict
from exectune_rl.errors import SandboxClosedError
from exectune_rl.sandboxes import ExecRequest, ExecStatus, LocalSandbox, run_tests

pytestmark = needs_ray


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
             logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def pool(cluster):
    from exectune_sandbox_ray import RaySandbox

    # Two actors of one worker each on the one node: batches must be split between them.
    with RaySandbox(actors_per_node=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def local():
    with LocalSandbox(workers=1) as sb:
        yield sb


def run1(pool, code: str, **kw):
    kw.setdefault("cpu_time_s", 1.0)
    [r] = pool.run([ExecRequest(code, **kw)])
    return r


def test_actors_reserve_the_node(pool, cluster):
    # Each actor reserves one CPU per worker: nothing is left for Ray to put on those cores.
    assert len(pool.actors) == 2 and pool.workers == 2
    assert cluster.available_resources().get("CPU", 0) == 0
    assert "uid" in pool.isolation and "netns" in pool.isolation


def test_verdicts_equal_local(pool, local):
    requests = [ExecRequest(code, **kw) for _, code, kw in PROGRAMS]
    through_ray, here = pool.run(requests), local.run(requests)
    for (name, _, _), a, b in zip(PROGRAMS, through_ray, here):
        assert verdict(a) == verdict(b), name
    by_name = {name: r.status for (name, _, _), r in zip(PROGRAMS, through_ray)}
    assert by_name["ok"] is ExecStatus.OK and by_name["cpu_loop"] is ExecStatus.TIMEOUT
    assert by_name["memory_bomb"] is ExecStatus.MEMORY_LIMIT and by_name["output_flood"] is ExecStatus.OUTPUT_LIMIT


def test_humaneval_check_suites_equal_local(pool, local):
    # The judged path (tests in a judge process of the actor's worker) gives LocalSandbox's outcomes.
    programs, suites = humaneval_cases(10)
    through_ray, here = run_tests(pool, programs, suites), run_tests(local, programs, suites)
    assert [outcome(o) for o in through_ray] == [outcome(o) for o in here]
    assert [o.passed for o in through_ray] == [True, False] * 10
    assert {o.harness_mode for o in through_ray} == {"out_of_process"}


def _worker_of(parent: int) -> int:
    """The worker a task ran on, from the task's parent: the worker, or the zygote it forks tasks from."""
    import psutil

    from exectune_rl.sandboxes._isolation import ZYGOTE_NAME

    proc = psutil.Process(parent)
    return proc.ppid() if proc.name() == ZYGOTE_NAME else parent


def test_order_kept_and_batch_split_over_actors(pool):
    # Each task prints its worker's pid: both actors' workers must have run part of the batch.
    results = pool.run([ExecRequest(f"import os\nprint({i}, os.getppid())") for i in range(60)])
    assert [r.stdout.split()[0] for r in results] == [str(i) for i in range(60)]
    workers = {_worker_of(int(r.stdout.split()[1])) for r in results}
    by_actor = [set(a["worker_pids"]) for a in pool.actors]
    assert all(workers & pids for pids in by_actor), (workers, by_actor)


def test_large_batch_streams_with_bounded_in_flight(pool, monkeypatch):
    from exectune_sandbox_ray import _batch as mod

    seen = {"chunks": 0, "largest": 0}
    send = mod._Batch._send

    def watch(self, slot, indices, attempt):
        seen["chunks"] = max(seen["chunks"], len(self.inflight) + 1)
        seen["largest"] = max(seen["largest"], len(indices))
        send(self, slot, indices, attempt)

    monkeypatch.setattr(mod._Batch, "_send", watch)
    results = pool.run([ExecRequest(f"print({i})") for i in range(1500)])
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(1500)]
    # Never more than max_in_flight chunks per actor, each at most 16 requests per worker.
    assert seen["chunks"] <= 2 * pool.max_in_flight and seen["largest"] <= 16


def test_concurrent_callers_and_arun(pool):
    out: dict[int, list] = {}

    def call(k: int) -> None:
        out[k] = pool.run([ExecRequest(f"print({k} * 100 + {i})") for i in range(30)])

    threads = [threading.Thread(target=call, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, results in out.items():
        assert [r.stdout for r in results] == [f"{k * 100 + i}\n" for i in range(30)]
    results = asyncio.run(pool.arun([ExecRequest("print('a')"), "print('b')"]))
    assert [r.stdout for r in results] == ["a\n", "b\n"]


def test_a_pickled_copy_shares_the_actors(pool, cluster):
    import pickle

    # A reward shipped to another process (here a Ray task, reserving no CPU: the pool holds
    # them all) reaches the same actors instead of reserving a second set of CPUs.
    copy = pickle.loads(pickle.dumps(pool))
    assert copy.actor_pids == pool.actor_pids
    copy.close()  # a copy does not stop the actors it shares
    assert pool.run(["print('still here')"])[0].stdout == "still here\n"

    @cluster.remote(num_cpus=0)
    def elsewhere(sb):
        return [r.stdout for r in sb.run([f"print({i})" for i in range(4)])]

    assert cluster.get(elsewhere.remote(pool), timeout=60) == ["0\n", "1\n", "2\n", "3\n"]


# --------------------------------------------------------------------- abuse, through Ray


def test_no_ray_in_the_task_environment(pool):
    # The actor's process holds Ray's variables, sockets and modules; the task sees none of them.
    r = run1(pool, "import os\nprint(sorted(os.environ))")
    assert r.ok and "RAY" not in r.stdout, r.stdout
    r = run1(pool, "import ray")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception == "ModuleNotFoundError"


def test_cannot_reach_the_cluster(pool, cluster):
    host, port = cluster.get_runtime_context().gcs_address.rsplit(":", 1)
    r = run1(pool, f"import socket\nsocket.create_connection(({host!r}, {port}), timeout=2)\nprint('connected')")
    assert r.status is ExecStatus.RUNTIME_ERROR and "connected" not in r.stdout


@pytest.mark.skipif(not IS_ROOT, reason="a private /proc needs root")
def test_ray_processes_are_invisible(pool):
    r = run1(pool, "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n"
                   "        print(open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ')[:80])")
    assert r.ok and not re.search(r"raylet|gcs_server|SandboxActor|ray", r.stdout), r.stdout


@pytest.mark.skipif(not IS_ROOT, reason="privilege drop needs root")
def test_cannot_signal_the_actor(pool):
    pid = pool.actor_pids[0]
    r = run1(pool, f"import os, signal\nos.kill({pid}, signal.SIGKILL)")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception in ("PermissionError", "ProcessLookupError")
    assert pool.actor_pids[0] == pid and run1(pool, "print(1)").stdout == "1\n"


@pytest.mark.skipif(not IS_ROOT, reason="RLIMIT_NPROC holds per uid; only root can give tasks a uid of their own")
def test_fork_bomb_is_contained(pool):
    r = run1(pool, "import os\nwhile True:\n    os.fork()", max_processes=8, cpu_time_s=1.0, wall_time_s=3.0)
    assert r.status in (ExecStatus.RUNTIME_ERROR, ExecStatus.TIMEOUT)
    assert run1(pool, "print(2)").stdout == "2\n"


def test_files_outside_the_work_dir(pool):
    r = run1(pool, "open('/etc/exectune_probe', 'w').write('x')")
    assert r.status is ExecStatus.RUNTIME_ERROR
    r = run1(pool, "import os\nprint(os.path.exists('/work/main/exectune_rl'), os.path.exists('/tmp/ray'))")
    assert r.stdout == "False False\n"


# --------------------------------------------------------------------- the reward on Ray


def _code_core(request):
    text = request.messages[-1]["content"]
    body = "a - b" if "bug" in text else "a + b"
    return f"```python\ndef add(a, b):\n    return {body}\n```"


def test_reward_code_execution_fans_out(pool):
    from exectune_rl.cores.base import CallableCore
    from exectune_rl.rewards import ExecTuneReward, RewardConfig

    reward = ExecTuneReward(RewardConfig.code(nondegradation_penalty=0), core=CallableCore(_code_core), sandbox=pool)
    cols = dict(problem=['def add(a, b):\n    """Return a + b."""\n'] * 2,
                tests=["assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(2, 2) == 4"] * 2,
                test_format=["asserts"] * 2, entry_point=["add"] * 2)
    ok, bug = reward(prompts=["p", "p"], completions=["<strategy>Sum them.</strategy>", "<strategy>Add a bug.</strategy>"], **cols)
    assert ok == 1.0 and bug == pytest.approx(0.2 + 0.8 / 3)


def test_math_on_ray_workers(pool):
    from exectune_sandbox_ray import RayMathVerifier

    verifier = RayMathVerifier(pool, workers=1)
    results = verifier.verify(["the answer is $18$.", "so 7", "no idea"], ["#### 18", "8", "3"])
    assert [r.status.value for r in results] == ["correct", "wrong", "no_answer"]


def test_registry_score_cli_and_close(pool, cluster, tmp_path):
    # Last: frees the node's CPUs so the registry can make a RaySandbox of its own.
    from exectune_rl.cli import main
    from exectune_rl.rewards import RewardConfig
    from exectune_rl.rewards.execution import CodeExecutor

    pool.close()
    with pytest.raises(SandboxClosedError):
        pool.run(["print(1)"])
    cfg = RewardConfig.code(sandbox="ray", sandbox_workers=1, sandbox_options={"chunk_size": 3, "max_in_flight": 2})
    executor = CodeExecutor(sandbox_name=cfg.sandbox, workers=cfg.sandbox_workers, sandbox_options=cfg.sandbox_options)
    assert type(executor.sandbox).__name__ == "RaySandbox" and executor.sandbox.workers == 1
    assert executor.sandbox.chunk_size == 3 and executor.sandbox.max_in_flight == 2  # the recipe's options reach it
    executor.close()
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--sandbox", "ray", "--workers", "1", "--limit", "6", "--no-progress", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6
    # Every actor it made is gone (Ray reports freed CPUs a moment after the actors die).
    deadline = time.monotonic() + 20
    while cluster.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.available_resources().get("CPU", 0) == 2
