"""Futures of sandbox work: what ``Sandbox.submit`` and the layers above it hand back.

A batch of programs can be queued on a sandbox's workers while the caller prepares the next
batch, costs the last one or checks its syntax: ``Sandbox.submit``, ``submit_tests`` and
``CodeExecutor.submit`` return a :class:`concurrent.futures.Future` of what the matching
``run`` would return. These helpers derive one future from others without a thread of their
own: the derived value is computed by whichever thread completes the last input.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

__all__ = ["Future", "done_future", "gather", "then"]

T = TypeVar("T")


def done_future(value: Any) -> Future:
    """A future that already holds ``value``."""
    fut: Future = Future()
    fut.set_result(value)
    return fut


def _settle(out: Future, fn: Callable[[], Any]) -> None:
    try:
        value = fn()
    except BaseException as exc:  # noqa: BLE001 - the derived future carries it to its reader
        try:
            out.set_exception(exc)
        except InvalidStateError:  # cancelled meanwhile
            pass
        return
    try:
        out.set_result(value)
    except InvalidStateError:
        pass


def then(fut: Future, fn: Callable[[Future], T]) -> Future:
    """A future of ``fn(fut)`` once ``fut`` is done; ``fn`` gets the done future (and may read
    its exception). What ``fn`` raises is the derived future's exception."""
    out: Future = Future()
    fut.add_done_callback(lambda f: _settle(out, lambda: fn(f)))
    return out


def gather(futures: Sequence[Future], fn: Callable[[list[Future]], T]) -> Future:
    """A future of ``fn(futures)`` once every one of ``futures`` is done (at once when there are none)."""
    futures = list(futures)
    out: Future = Future()
    if not futures:
        _settle(out, lambda: fn(futures))
        return out
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            _settle(out, lambda: fn(futures))

    for f in futures:
        f.add_done_callback(one_done)
    return out
