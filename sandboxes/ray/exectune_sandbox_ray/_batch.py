"""One ``RaySandbox.run`` call: chunks out to the actors, results back in place, failures retried."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from exectune_rl.sandboxes import ExecRequest, ExecResult

if TYPE_CHECKING:
    from exectune_sandbox_ray.sandbox import RaySandbox, _Slot

__all__ = ["_Batch"]


class _Batch:
    """One ``run`` call: chunks out to the actors, results back in place, failures retried."""

    def __init__(self, pool: RaySandbox, requests: list[ExecRequest]) -> None:
        self.pool = pool
        self.ray = pool._ray
        self.requests = requests
        self.results: list[ExecResult | None] = [None] * len(requests)
        self.next = 0
        self.retries: deque[tuple[list[int], _Slot]] = deque()
        self.inflight: dict[Any, tuple[list[int], _Slot, int]] = {}

    def run(self) -> list[ExecResult]:
        while self.next < len(self.requests) or self.retries or self.inflight:
            self._fill()
            if not self.inflight:
                if not self._await_actor():
                    self._give_up("no Ray sandbox actor is left")
                    break
                continue
            done, _ = self.ray.wait(list(self.inflight) + self.pool._starting_refs(), num_returns=1, timeout=1.0)
            self.pool._poll_starting()
            for ref in done:
                if ref in self.inflight:
                    self._collect(ref)
        return [r if r is not None else ExecResult.infra("result lost") for r in self.results]

    def _fill(self) -> None:
        while self.retries or self.next < len(self.requests):
            if self.retries:
                indices, failed = self.retries[0]
                slot = self.pool._pick(exclude=failed)
                if slot is None:
                    if not self.pool._has_actor(exclude=failed):
                        self.retries.popleft()
                        self._infra(indices, "its Ray sandbox actor died and no other actor is left", retried=True)
                        continue
                    return
                self.retries.popleft()
                attempt = 1
            else:
                slot = self.pool._pick()
                if slot is None:
                    return
                size = self.pool._chunk(len(self.requests) - self.next, slot)
                indices = list(range(self.next, min(self.next + size, len(self.requests))))
                self.next += len(indices)
                attempt = 0
            self._send(slot, indices, attempt)

    def _send(self, slot: _Slot, indices: list[int], attempt: int) -> None:
        with self.pool._lock:
            slot.load += len(indices)
        try:
            ref = slot.actor.run.remote([self.requests[i] for i in indices])
        except Exception as exc:  # the handle itself is unusable
            self.pool._release(slot, len(indices))
            self._failed(indices, slot, attempt, f"{type(exc).__name__}: {exc}")
            return
        self.inflight[ref] = (indices, slot, attempt)

    def _collect(self, ref: Any) -> None:
        indices, slot, attempt = self.inflight.pop(ref)
        self.pool._release(slot, len(indices))
        try:
            out = self.ray.get(ref)
        except Exception as exc:  # RayActorError (actor or node died), RayTaskError, ObjectLostError
            self._failed(indices, slot, attempt, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            return
        if not isinstance(out, list) or len(out) != len(indices):
            self._failed(indices, slot, attempt, "the actor returned a malformed reply")
            return
        for i, result in zip(indices, out):
            self.results[i] = dataclasses.replace(result, retried=True) if attempt else result

    def _failed(self, indices: list[int], slot: _Slot, attempt: int, reason: str) -> None:
        self.pool._replace(slot, reason)
        if attempt == 0 and self.pool.retry_on_actor_death:
            self.retries.append((indices, slot))
        else:
            self._infra(indices, f"Ray sandbox actor failed ({reason})", retried=attempt > 0)

    def _infra(self, indices: list[int], detail: str, retried: bool) -> None:
        for i in indices:
            self.results[i] = ExecResult.infra(detail, retried=retried)

    def _await_actor(self) -> bool:
        """Nothing in flight and nothing sendable: wait for room or a starting actor, if any."""
        while True:
            if self.pool._pick_possible():
                return True
            if self.pool._has_live():  # full with other callers' chunks: room comes soon
                time.sleep(0.005)
                continue
            refs = self.pool._starting_refs()
            if not refs:
                return False
            self.ray.wait(refs, num_returns=1, timeout=1.0)
            self.pool._poll_starting()  # gives up on an actor past start_timeout_s

    def _give_up(self, detail: str) -> None:
        while self.retries:
            self._infra(self.retries.popleft()[0], detail, retried=True)
        self._infra(list(range(self.next, len(self.requests))), detail, retried=False)
        self.next = len(self.requests)
