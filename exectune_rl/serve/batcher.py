"""Coalescing requests into scoring batches, with a bounded queue and per-request deadlines.

OpenRLHF sends one completion per request and verl one per call; the sandbox pool is fastest
on large batches. The :class:`Batcher` puts requests that arrive while a batch is being scored
into the next batch (up to ``batch_rows`` completions), so 64 clients sending one completion
each are scored about as fast as one in-process batch of 64.

Bounds: at most ``max_queued`` requests wait; one more raises :class:`Saturated` (the service
answers 503 with ``Retry-After``). Batches are scored one at a time on one thread (the reward's
caches and the sandbox pool are shared), so the CPU work in flight is at most one batch. A
request not answered by its deadline raises :class:`DeadlineExceeded`; if it was still waiting
it is dropped from the queue, otherwise its batch finishes and its result is discarded (Python
cannot stop a running scorer; the sandbox's own time limits bound it).

Example:
    >>> import asyncio
    >>> async def demo():
    ...     b = Batcher(lambda rows: [len(r) for r in rows], batch_rows=8, max_queued=4)
    ...     b.start()
    ...     out = await asyncio.gather(b.submit(["ab"], 5.0), b.submit(["c", "def"], 5.0))
    ...     await b.drain()
    ...     return out
    >>> asyncio.run(demo())
    [[2], [1, 3]]
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ExecTuneError

__all__ = ["Batcher", "Saturated", "DeadlineExceeded", "Draining", "BatchStats"]

logger = logging.getLogger(__name__)


class Saturated(ExecTuneError):
    """The queue is full: try again after a while."""


class Draining(Saturated):
    """The service is shutting down: it finishes what it holds and takes nothing new."""


class DeadlineExceeded(ExecTuneError):
    """The request was not scored by its deadline."""


@dataclass
class _Item:
    rows: Sequence[Any]
    future: asyncio.Future
    deadline: float
    enqueued: float = field(default_factory=time.perf_counter)
    abandoned: bool = False


@dataclass
class BatchStats:
    """What the batcher holds now (read by ``/health`` and the metrics)."""

    queued_requests: int = 0
    queued_rows: int = 0
    scoring_rows: int = 0
    batches: int = 0
    last_batch_rows: int = 0


class Batcher:
    """Scores submitted row lists in coalesced batches on one worker thread.

    Args:
        score: ``rows -> results`` (one result per row, in order); runs on the worker thread.
        batch_rows: Most rows per batch (a larger request is scored alone).
        window_s: The longest a batch that is not full waits for more requests to join it: those
            already arriving (announced with :meth:`arriving`, still being read), and, up to
            the most requests the service held at once in the last ``recent_s``, those its
            clients are about to send again (64 clients answered together come back together).
            A lone client never waits: it never had company.
        recent_s: How far back the service's recent concurrency is remembered.
        max_queued: Most requests waiting; one more raises :class:`Saturated`.
        on_batch: Called with ``(rows, seconds)`` after each batch (metrics).
    """

    def __init__(
        self,
        score: Callable[[list[Any]], Sequence[Any]],
        *,
        batch_rows: int = 256,
        window_s: float = 0.02,
        max_queued: int = 256,
        on_batch: Callable[[int, float], None] | None = None,
        recent_s: float = 1.0,
    ) -> None:
        self._score = score
        self.batch_rows = batch_rows
        self.window_s = window_s
        self.max_queued = max_queued
        self._on_batch = on_batch
        self._pending: collections.deque[_Item] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._arriving = 0
        self._scoring_requests = 0
        self.recent_s = recent_s
        self._peaks: collections.deque[tuple[float, int]] = collections.deque()  # (time, requests held), falling
        self.stats = BatchStats()

    def _held(self) -> int:
        """Requests the service holds now: queued, being scored and being read."""
        return len(self._pending) + self._scoring_requests + self._arriving

    def _note_load(self, now: float) -> None:
        held = self._held()
        while self._peaks and self._peaks[-1][1] <= held:
            self._peaks.pop()
        self._peaks.append((now, held))
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._peaks and now - self._peaks[0][0] > self.recent_s:
            self._peaks.popleft()

    def recent_concurrency(self, now: float | None = None) -> int:
        """The most requests held at once in the last ``recent_s`` seconds."""
        self._forget(time.monotonic() if now is None else now)
        return self._peaks[0][1] if self._peaks else 0

    @contextlib.contextmanager
    def arriving(self) -> Iterator[dict[str, bool]]:
        """Announce a request that is being read and will :meth:`submit` soon (pass the yielded
        token as ``arrival=``), so the batch being formed waits for it instead of leaving without it."""
        token = {"counted": True}
        self._arriving += 1
        self._note_load(time.monotonic())
        try:
            yield token
        finally:
            if token["counted"]:
                self._arriving -= 1
                if self._wakeup is not None:
                    self._wakeup.set()

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exectune-score")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="exectune-batcher")

    @property
    def closing(self) -> bool:
        return self._closing

    async def submit(self, rows: Sequence[Any], timeout_s: float, arrival: dict[str, bool] | None = None) -> list[Any]:
        """Score ``rows`` in the next batch with room; wait at most ``timeout_s``.

        Raises:
            Saturated: the queue is full (``Draining``: the service is shutting down).
            DeadlineExceeded: no result within ``timeout_s``.
        """
        if arrival is not None and arrival["counted"]:
            arrival["counted"] = False
            self._arriving -= 1
        if self._closing or self._wakeup is None:
            raise Draining("the service is shutting down")
        if len(self._pending) >= self.max_queued:
            raise Saturated(f"{len(self._pending)} requests are already waiting (server.max_queued={self.max_queued})")
        loop = asyncio.get_running_loop()
        item = _Item(list(rows), loop.create_future(), loop.time() + timeout_s)
        self._pending.append(item)
        self.stats.queued_requests += 1
        self.stats.queued_rows += len(item.rows)
        self._note_load(time.monotonic())
        self._wakeup.set()
        try:
            return await asyncio.wait_for(asyncio.shield(item.future), timeout_s)
        except asyncio.TimeoutError:
            item.abandoned = True
            raise DeadlineExceeded(f"not scored within {timeout_s:g} s") from None
        except asyncio.CancelledError:  # the client went away: nobody waits for this result
            item.abandoned = True
            raise

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        rows = 0
        while self._pending:
            nxt = self._pending[0]
            if batch and rows + len(nxt.rows) > self.batch_rows:
                break
            self._pending.popleft()
            self.stats.queued_requests -= 1
            self.stats.queued_rows -= len(nxt.rows)
            if nxt.abandoned or nxt.future.done():
                continue
            batch.append(nxt)
            rows += len(nxt.rows)
        return batch

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._gather_arrivals(loop)
            batch = self._take()
            now = loop.time()
            live = []
            for item in batch:
                if now > item.deadline:
                    item.future.set_exception(DeadlineExceeded("deadline passed while queued"))
                else:
                    live.append(item)
            if not live:
                continue
            rows = [r for item in live for r in item.rows]
            self.stats.scoring_rows = len(rows)
            self._scoring_requests = len(live)
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._score, rows)
                if len(results) != len(rows):
                    raise RuntimeError(f"the scorer returned {len(results)} results for {len(rows)} rows")
            except Exception as exc:  # the scorer failed: every request of the batch learns why
                logger.warning("scoring a batch of %d rows failed: %s: %s", len(rows), type(exc).__name__, exc)
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(exc)
            else:
                at = 0
                for item in live:
                    part = list(results[at : at + len(item.rows)])
                    at += len(item.rows)
                    if not item.future.done():
                        item.future.set_result(part)
            finally:
                elapsed = time.perf_counter() - start
                self.stats.scoring_rows = 0
                self._scoring_requests = 0
                self.stats.batches += 1
                self.stats.last_batch_rows = len(rows)
                if self._on_batch is not None:
                    self._on_batch(len(rows), elapsed)

    async def _gather_arrivals(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait (at most ``window_s``) while the batch has room and more requests are due: ones
        being read, or fewer queued than the service recently held at once."""
        assert self._wakeup is not None
        until = loop.time() + self.window_s
        while self.stats.queued_rows < self.batch_rows and not self._closing:
            due = self._arriving > 0 or len(self._pending) < self.recent_concurrency()
            remaining = until - loop.time()
            if not due or remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return

    async def drain(self) -> None:
        """Take nothing new, finish every queued and running batch, stop the worker. Idempotent."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
