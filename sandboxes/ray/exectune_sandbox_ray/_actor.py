"""The Ray actor: one ``LocalSandbox`` pool (and, on demand, math-verify workers) on one node.

A plain class, made a Ray actor by :class:`~exectune_sandbox_ray.RaySandbox` with
``ray.remote(...)``, so importing this module needs no Ray. Ray runs it as a threaded actor:
several chunks of one or more batches are in the actor at once and feed the same worker pool,
so the pool never idles between chunks. Isolation is entirely ``LocalSandbox``'s: the actor
process holds Ray's environment and sockets, the task children see none of it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

from exectune_rl.sandboxes import ExecRequest, ExecResult, LocalSandbox

__all__ = ["SandboxActor"]


class SandboxActor:
    """Owns a ``LocalSandbox`` of ``workers`` workers on the node it was placed on.

    Args:
        workers: Worker interpreters of the pool.
        local_options: Further ``LocalSandbox`` keyword arguments.
    """

    def __init__(self, workers: int, local_options: dict[str, Any]) -> None:
        self.workers = workers
        self._sandbox = LocalSandbox(workers=workers, **local_options)
        self._math: Any = None
        self._math_lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        """Where the actor runs and what its pool holds (also the readiness probe)."""
        import ray

        own = os.times()  # this process only: the workers and the programs are children
        return {"pid": os.getpid(), "host": socket.gethostname(), "workers": self.workers,
                "cpu_s": own.user + own.system,
                "node_id": ray.get_runtime_context().get_node_id(),
                "isolation": self._sandbox.isolation, "worker_pids": self._sandbox.worker_pids}

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """One chunk of a batch, run on this node's pool; results in order."""
        return self._sandbox.run(requests)

    def verify_math(self, pairs: list[tuple[str, str]], workers: int, timeout_s: int) -> list[tuple[str, str]]:
        """(answer, gold) pairs checked by math-verify workers on this node."""
        with self._math_lock:
            if self._math is None:
                from exectune_rl.rewards.mathcheck import MathVerifier

                self._math = MathVerifier(workers=workers, timeout_s=timeout_s)
            math = self._math
        with math._lock:  # one chunk at a time owns the node's math workers
            return math._run_pool(pairs)

    def close(self) -> None:
        """Stop the pools (the caller then kills the actor)."""
        self._sandbox.close()
        if self._math is not None:
            self._math.close()
