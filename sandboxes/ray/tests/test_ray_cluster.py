"""RaySandbox on a simulated two-node cluster (``ray.cluster_utils.Cluster``, one CPU a node):
placement across nodes, and actors and nodes that die mid-batch."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from raytestlib import OBJECT_STORE_BYTES, PROGRAMS, humaneval_cases, needs_ray, outcome, verdict
from exectune_rl.sandboxes import ExecRequest, ExecStatus, LocalSandbox, run_tests

pytestmark = needs_ray

NODE = {"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES}


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    c.add_node(**NODE)
    ray.init(address=c.address, logging_level="warning")
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def pool(cluster):
    from exectune_sandbox_ray import RaySandbox

    with RaySandbox(address=cluster.address) as sb:
        yield sb


def _sleepers(n: int, sleep_s: float = 0.05) -> list[ExecRequest]:
    # Sleeping costs no CPU: a batch that lasts long enough to kill something in its middle.
    return [ExecRequest(f"import time\ntime.sleep({sleep_s})\nprint({i})") for i in range(n)]


def _kill_later(pid: int, delay_s: float) -> threading.Timer:
    timer = threading.Timer(delay_s, os.kill, args=(pid, signal.SIGKILL))
    timer.start()
    return timer


def _gone(pids: list[int], within_s: float = 20.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_one_actor_per_node(pool, cluster):
    import ray

    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2 and {a["node_id"] for a in pool.actors} == nodes
    # Sized by the node's CPUs (one worker each), each reserving its node's CPU.
    assert [a["workers"] for a in pool.actors] == [1, 1]
    assert ray.available_resources().get("CPU", 0) == 0


def test_verdicts_and_humaneval_equal_local(pool):
    requests = [ExecRequest(code, **kw) for _, code, kw in PROGRAMS]
    programs, suites = humaneval_cases(6)
    with LocalSandbox(workers=1) as local:
        here, here_tests = local.run(requests), run_tests(local, programs, suites)
    assert [verdict(r) for r in pool.run(requests)] == [verdict(r) for r in here]
    assert [outcome(o) for o in run_tests(pool, programs, suites)] == [outcome(o) for o in here_tests]


def test_killed_actor_loses_no_result(pool):
    victim = pool.actors[0]
    timer = _kill_later(victim["pid"], 0.8)
    results = pool.run(_sleepers(80))
    timer.join()
    # Every request has its own result, in order; the dead actor's chunks ran again elsewhere.
    assert [r.status for r in results] == [ExecStatus.OK] * 80
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(80)]
    assert any(r.retried for r in results)
    # The pool replaced the actor on the same node, and the old one's workers did not linger.
    assert pool.replacements == 1 and victim["pid"] not in pool.actor_pids
    assert sorted(a["node_id"] for a in pool.actors) == sorted({a["node_id"] for a in pool.actors}) and len(pool.actors) == 2
    assert _gone([victim["pid"], *victim["worker_pids"]])
    assert [r.stdout for r in pool.run(["print('after')"] * 4)] == ["after\n"] * 4


def test_retry_off_gives_infra(cluster):
    from exectune_sandbox_ray import RaySandbox

    import ray

    # The module pool holds every CPU; this one reserves none, so it can start beside it.
    with RaySandbox(address=cluster.address, num_cpus=0, retry_on_actor_death=False, chunk_size=2) as sb:
        timer = _kill_later(sb.actor_pids[0], 0.8)
        results = sb.run(_sleepers(60))
        timer.join()
        infra = [r for r in results if r.status is ExecStatus.INFRA]
        assert infra and all(not r.retried and "Ray sandbox actor failed" in r.detail for r in infra)
        assert all(r.stdout == f"{i}\n" for i, r in enumerate(results) if r.status is ExecStatus.OK)
    assert ray.available_resources().get("CPU", 0) == 0


def test_node_death_mid_batch(pool, cluster):
    # Last: takes a node away. Its actor's chunks finish on the other node; nothing replaces it.
    worker_node = next(n for n in cluster.worker_nodes)
    threading.Timer(0.8, cluster.remove_node, args=(worker_node,)).start()
    results = pool.run(_sleepers(80))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(80)]
    assert all(r.status is ExecStatus.OK for r in results)
    assert len(pool.actors) == 1
