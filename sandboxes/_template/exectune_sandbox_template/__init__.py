"""A minimal sandbox plugin: copy this folder to start a new one.

``TemplateSandbox`` shows the contract by delegating to ``LocalSandbox`` with stricter
defaults (one CPU second, 128 MiB) that it applies to requests asking for more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from exectune_rl.sandboxes import ExecRequest, ExecResult, LocalSandbox, Sandbox

__all__ = ["TemplateSandbox"]


class TemplateSandbox(Sandbox):
    """Runs requests on a ``LocalSandbox`` with capped limits.

    Args:
        workers: Worker processes.
        max_cpu_time_s: Upper bound on any request's CPU time.
        max_memory_mb: Upper bound on any request's memory.
    """

    name = "template"

    def __init__(self, workers: int = 1, *, max_cpu_time_s: float = 1.0, max_memory_mb: int = 128) -> None:
        self.max_cpu_time_s = max_cpu_time_s
        self.max_memory_mb = max_memory_mb
        self._inner = LocalSandbox(workers=workers)

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        capped = [
            dataclasses.replace(
                r, cpu_time_s=min(r.cpu_time_s, self.max_cpu_time_s), memory_mb=min(r.memory_mb, self.max_memory_mb)
            )
            for r in self.requests_of(requests)
        ]
        return self._inner.run(capped)

    def close(self) -> None:
        self._inner.close()
