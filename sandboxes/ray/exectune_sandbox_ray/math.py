"""``RayMathVerifier``: math-verify checks on the actors of a ``RaySandbox``.

A :class:`~exectune_rl.rewards.mathcheck.MathVerifier` whose worker pool is the cluster: each
chunk of (answer, gold) pairs goes to the least loaded actor, which checks it in math-verify
worker processes of its node (started on first use, on their main threads, so math-verify's
timeouts hold). Grading, gold normalisation and the result type are the parent class's.

Example:
    >>> from exectune_rl.rewards import ExecTuneReward, RewardConfig
    >>> sb = RaySandbox(address="auto")                                    # doctest: +SKIP
    >>> reward = ExecTuneReward(RewardConfig.math(), core=core, sandbox=sb,
    ...                         math_verifier=RayMathVerifier(sb))         # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

from exectune_rl.rewards.execution import Grading
from exectune_rl.rewards.mathcheck import MathVerifier

from exectune_sandbox_ray.sandbox import RaySandbox

__all__ = ["RayMathVerifier"]


class RayMathVerifier(MathVerifier):
    """Checks final answers against gold answers on a ``RaySandbox``'s actors.

    Args:
        sandbox: The Ray sandbox whose actors do the checks (not closed by this verifier).
        workers: math-verify processes per actor (node).
        timeout_s: math-verify's own timeout (whole seconds).
        chunk_size: Pairs sent to an actor at once.
        grading: Credit for an answer that is found but wrong.
    """

    def __init__(self, sandbox: RaySandbox, workers: int = 2, *, timeout_s: int = 5, chunk_size: int = 64,
                 grading: Grading | None = None) -> None:
        super().__init__(workers=max(1, workers), timeout_s=timeout_s, chunk_size=chunk_size, grading=grading)
        self.sandbox = sandbox

    def close(self) -> None:
        """Nothing of its own to stop: the math workers live in the sandbox's actors."""

    def _run_pool(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        ray = self.sandbox._ray
        out: list[tuple[str, str] | None] = [None] * len(pairs)
        chunks = [(list(range(i, min(i + self.chunk_size, len(pairs)))), 0, None)
                  for i in range(0, len(pairs), self.chunk_size)]
        inflight: dict[Any, tuple[list[int], Any, int]] = {}
        while chunks or inflight:
            while chunks:
                indices, attempt, failed = chunks[0]
                slot = self.sandbox._pick(exclude=failed)
                if slot is None:
                    if not inflight and not self.sandbox._has_actor(exclude=failed):
                        chunks.pop(0)
                        out[indices[0]:indices[-1] + 1] = [("infra", "no Ray sandbox actor is left")] * len(indices)
                        continue
                    break
                chunks.pop(0)
                ref = slot.actor.verify_math.remote([pairs[i] for i in indices], self.workers, self.timeout_s)
                inflight[ref] = (indices, slot, attempt)
            if not inflight:  # actors full with other callers' chunks, or still starting
                refs = self.sandbox._starting_refs()
                if refs:
                    ray.wait(refs, num_returns=1, timeout=1.0)
                    self.sandbox._poll_starting()
                else:
                    time.sleep(0.005)
                continue
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for ref in done:
                indices, slot, attempt = inflight.pop(ref)
                self.sandbox._release(slot, 0)
                try:
                    results = ray.get(ref)
                except Exception as exc:
                    self.sandbox._replace(slot, f"{type(exc).__name__} in verify_math")
                    if attempt == 0:
                        chunks.append((indices, 1, slot))
                    else:
                        out[indices[0]:indices[-1] + 1] = [("infra", f"Ray actor failed twice: {type(exc).__name__}")] * len(indices)
                    continue
                for i, res in zip(indices, results):
                    out[i] = tuple(res)  # type: ignore[assignment]
        return [r if r is not None else ("infra", "result lost") for r in out]
