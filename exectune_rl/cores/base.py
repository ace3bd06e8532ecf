"""The core contract: requests, responses with usage and typed errors, and ``Core``.

A failed call is a value (``CoreResponse.error``), never an exception thrown into a trainer.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import dataclasses
import enum
import math
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from exectune_rl.errors import ConfigError

__all__ = [
    "Message",
    "CoreRequest",
    "CoreResponse",
    "CoreFailure",
    "CoreFailureKind",
    "Core",
    "CallableCore",
    "Usage",
    "run_sync",
]

T = TypeVar("T")

Message = dict[str, str]


class CoreFailureKind(str, enum.Enum):
    """Why a core call failed. Every kind is an infrastructure failure except ``BAD_REQUEST``.

    ``AUTH`` (HTTP 401/403) and ``NOT_FOUND`` (HTTP 404: no such model or endpoint) are
    configuration failures: every call fails the same way until the configuration is fixed.
    """

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MALFORMED_RESPONSE = "malformed_response"
    EMPTY_RESPONSE = "empty_response"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    INTERNAL = "internal"

    @property
    def is_infra(self) -> bool:
        """True for failures of the infrastructure (API, network, sandbox), not of the request."""
        return self is not CoreFailureKind.BAD_REQUEST

    @property
    def is_config(self) -> bool:
        """True for failures a retry cannot fix and the configuration can (key, model, URL)."""
        return self in (CoreFailureKind.AUTH, CoreFailureKind.NOT_FOUND)

    @property
    def retryable(self) -> bool:
        """True for transient failures a retry can fix (rate limits, 5xx, timeouts, bad payloads)."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        CoreFailureKind.RATE_LIMITED,
        CoreFailureKind.SERVER_ERROR,
        CoreFailureKind.TIMEOUT,
        CoreFailureKind.CONNECTION,
        CoreFailureKind.MALFORMED_RESPONSE,
        CoreFailureKind.EMPTY_RESPONSE,
    }
)


@dataclass(frozen=True)
class CoreFailure:
    """A typed failure of one core call.

    Attributes:
        kind: Why the call failed.
        message: A short human-readable reason (never contains credentials).
        status_code: The HTTP status, for HTTP cores.
        attempts: How many attempts were made before giving up.
    """

    kind: CoreFailureKind
    message: str
    status_code: int | None = None
    attempts: int = 1

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", CoreFailureKind(self.kind))
        except ValueError as exc:
            known = ", ".join(k.value for k in CoreFailureKind)
            raise ConfigError(f"unknown core failure kind {self.kind!r}; known: {known}") from exc

    @property
    def is_infra(self) -> bool:
        return self.kind.is_infra


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _check_messages(messages: Any) -> tuple[Message, ...]:
    """Chat messages as a tuple of dicts; a bare string is one user message."""
    if isinstance(messages, str):
        return ({"role": "user", "content": messages},)
    if isinstance(messages, Iterable) and not isinstance(messages, (Mapping, bytes)):
        messages = list(messages)
    if not isinstance(messages, list) or not messages:
        raise ConfigError(f"messages must be a non-empty sequence of {{'role', 'content'}} dicts or a str, got {messages!r}")
    out = []
    for m in messages:
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ConfigError(f"each message needs a str 'role' and a str 'content', got {m!r}")
        out.append(dict(m))
    return tuple(out)


@dataclass(frozen=True)
class CoreRequest:
    """One call to a core.

    Args:
        messages: Chat messages (``[{"role": "user", "content": ...}]``).
        temperature / top_p / max_tokens / stop: Sampling parameters.
        sample_index: Distinguishes repeated samples of the same request (part of the cache key).
        metadata: Free-form data carried through (task id...); not sent to the model.

    Raises:
        ConfigError: empty messages, a message without a str role and content, or a
            sampling parameter out of range (the message names the field and the value).
    """

    messages: tuple[Message, ...]
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    sample_index: int = 0
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _check_messages(self.messages))
        stop: Any = self.stop if self.stop is not None else ()
        stop = (stop,) if isinstance(stop, str) else tuple(stop) if isinstance(stop, Iterable) else None
        if stop is None or not all(isinstance(s, str) for s in stop):
            raise ConfigError(f"stop must be a str or a sequence of strings, got {self.stop!r}")
        object.__setattr__(self, "stop", stop)
        for name, low, high in (("temperature", 0.0, None), ("top_p", 0.0, 1.0)):
            value = getattr(self, name)
            if not _is_number(value) or value < low or (high is not None and value > high) or math.isinf(value):
                bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
                raise ConfigError(f"{name} must be a finite number {bounds}, got {value!r}")
        for name, low in (("max_tokens", 1), ("sample_index", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})
        elif not isinstance(self.metadata, Mapping):
            raise ConfigError(f"metadata must be a mapping, got {type(self.metadata).__name__}")

    def __hash__(self) -> int:
        # Messages are dicts; hash what the model sees (the fields equality compares).
        messages = tuple(tuple(sorted(m.items())) for m in self.messages)
        return hash((messages, self.temperature, self.top_p, self.max_tokens, self.stop, self.sample_index))

    @classmethod
    def from_prompt(cls, prompt: str, **kwargs: Any) -> "CoreRequest":
        return cls(messages=({"role": "user", "content": prompt},), **kwargs)

    @property
    def prompt_text(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


@dataclass(frozen=True)
class Usage:
    """Token usage of one core call: the one usage record (responses, the reward's cost model).

    Counts are as the core reported them (None where it did not), unless ``estimated`` says
    they were counted offline. ``model`` names who was called, for pricing.

    Example:
        >>> CoreResponse(text="4", prompt_tokens=10, completion_tokens=2).usage.total_tokens
        12
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    model: str = ""
    estimated: bool = False

    def to_dict(self) -> dict[str, int | None]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "total_tokens": self.total_tokens}

    def __getitem__(self, key: str) -> int | None:
        """``usage["prompt_tokens"]``, the spelling of OpenAI's JSON usage object."""
        if key not in _USAGE_KEYS:
            raise KeyError(f"{key!r}; usage has {', '.join(_USAGE_KEYS)}")
        return getattr(self, key)


_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass(frozen=True)
class CoreResponse:
    """The outcome of one core call.

    ``prompt_tokens``/``completion_tokens`` are None when the core did not report usage
    (cost code then estimates them and says so). ``error`` is set when the call failed;
    ``text`` is then empty.

    Attributes:
        text: What the core answered.
        prompt_tokens / completion_tokens: Usage as the core reported it, or None.
        latency_s: Wall-clock seconds of the call (of the cache lookup, for a cache hit).
        model: The model that answered.
        error: The typed failure, or None when the call succeeded.
        cached: True when the response came from the response cache.
        finish_reason: Why generation stopped (``"stop"``, ``"length"``...), when known.
        attempts: How many attempts the call took (retries included).
        metadata: Core-specific details (a ``ProgramCore`` puts the program's exit status here).
    """

    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    model: str = ""
    error: CoreFailure | None = None
    cached: bool = False
    finish_reason: str | None = None
    attempts: int = 1
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # A response is the record the cache, the ledger and the rewards all trust: bad fields
        # fail here, where they are made (inside a CallableCore's function: a typed failure).
        if not isinstance(self.text, str) or not isinstance(self.model, str):
            raise ConfigError(f"CoreResponse text and model must be str, got {self.text!r} and {self.model!r}")
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ConfigError(f"CoreResponse.{name} must be a non-negative int or None (unreported), got {value!r}")
        if not _is_number(self.latency_s) or self.latency_s < 0:
            raise ConfigError(f"CoreResponse.latency_s must be a non-negative number, got {self.latency_s!r}")
        if self.error is not None and not isinstance(self.error, CoreFailure):
            raise ConfigError(f"CoreResponse.error must be a CoreFailure or None, got {type(self.error).__name__}")
        if self.finish_reason is not None and not isinstance(self.finish_reason, str):
            raise ConfigError(f"CoreResponse.finish_reason must be a str or None, got {self.finish_reason!r}")
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def is_infra_failure(self) -> bool:
        """True when the call failed for a reason that is not the request's fault."""
        return self.error is not None and self.error.is_infra

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens

    @property
    def usage(self) -> Usage:
        """Token usage as one record (the OpenAI spelling: prompt, completion and total tokens)."""
        return Usage(self.prompt_tokens, self.completion_tokens, self.total_tokens)

    @property
    def latency(self) -> float:
        """Alias of ``latency_s``: wall-clock seconds of the call."""
        return self.latency_s

    @classmethod
    def failure(
        cls, kind: CoreFailureKind | str, message: str, *, model: str = "", latency_s: float = 0.0, **kwargs: Any
    ) -> "CoreResponse":
        """A failed call. ``kwargs`` go to :class:`CoreFailure` (``status_code``, ``attempts``).

        Example:
            >>> CoreResponse.failure("timeout", "no answer in 60s").error.is_infra
            True
        """
        error = CoreFailure(kind=kind, message=message, **kwargs)  # type: ignore[arg-type]
        return cls(error=error, model=model, latency_s=latency_s, attempts=error.attempts)


class Core(abc.ABC):
    """A black-box model that executes strategies: text in, text out, token usage.

    Subclasses implement ``generate`` (or ``agenerate``); each returns one response per
    request, in order, and never raises for a failed call.
    """

    model: str = ""
    prompt_builder: Any = None
    """How a reward should prompt this core: ``(task, strategy | None) -> messages``, or None
    for the default chat prompt (:func:`exectune_rl.tasks.core_messages`). A core that runs the
    strategy itself (:class:`~exectune_rl.cores.program.ProgramCore`) sets its own; wrappers
    (cache, ledger) pass the wrapped core's on."""

    @abc.abstractmethod
    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Run every request; responses come back in input order."""

    async def agenerate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Async ``generate``; the default runs ``generate`` off the event loop."""
        return await asyncio.to_thread(self.generate, list(requests))

    def close(self) -> None:
        """Release resources. Idempotent."""

    def __enter__(self) -> "Core":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallableCore(Core):
    """Wraps a user function ``fn(request) -> str | CoreResponse`` (plain or ``async def``).

    Exceptions from ``fn`` become ``CoreFailureKind.INTERNAL`` responses. The calls of a batch
    run concurrently, up to ``max_concurrency`` at once, under ``generate`` and ``agenerate``
    alike: an ``async`` function is gathered on an event loop, a plain one runs in a bounded
    thread pool (so a function that waits on I/O, like most API clients, overlaps its calls).

    A call that has not answered within ``timeout_s`` is a ``CoreFailureKind.TIMEOUT`` response,
    so a function that hangs never holds the batch (or the trainer) for longer. Python cannot
    stop a running thread: a timed-out plain function is abandoned in a daemon thread and its
    late answer discarded; a timed-out coroutine is cancelled.

    Args:
        fn: The function that answers one request (it must be thread-safe when
            ``max_concurrency > 1``; pass ``max_concurrency=1`` for one call at a time).
        model: The model name reported in responses (and used by the cache and the ledger).
        max_concurrency: Calls in flight at once.
        timeout_s: Seconds one call may take (default 60); None waits forever.

    Example:
        >>> core = CallableCore(lambda req: "42", model="echo")
        >>> core.generate([CoreRequest.from_prompt("6*7?")])[0].text
        '42'
    """

    def __init__(
        self,
        fn: Callable[[CoreRequest], Any],
        model: str = "callable",
        *,
        max_concurrency: int = 16,
        timeout_s: float | None = 60.0,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"CallableCore needs a callable, got {type(fn).__name__}")
        if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        if timeout_s is not None and (not _is_number(timeout_s) or not 0 < timeout_s < math.inf):
            raise ConfigError(f"timeout_s must be a positive number of seconds or None, got {timeout_s!r}")
        self.fn = fn
        self.model = model
        self.max_concurrency = max_concurrency
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self._is_async = asyncio.iscoroutinefunction(fn) or asyncio.iscoroutinefunction(
            getattr(fn, "__call__", None)
        )

    def _wrap(self, out: Any, latency: float) -> CoreResponse:
        if isinstance(out, CoreResponse):
            if not out.model:
                return dataclasses.replace(out, model=self.model)
            return out
        if not isinstance(out, str):
            return CoreResponse.failure(
                CoreFailureKind.MALFORMED_RESPONSE, f"callable returned {type(out).__name__}, not str", model=self.model
            )
        return CoreResponse(text=out, latency_s=latency, model=self.model)

    def _error(self, exc: BaseException) -> CoreResponse:
        # The user's function failing is an infrastructure failure, not the request's fault.
        return CoreResponse.failure(CoreFailureKind.INTERNAL, f"{type(exc).__name__}: {exc}", model=self.model)

    def _timed_out(self, latency: float) -> CoreResponse:
        message = f"no answer within timeout_s={self.timeout_s:g}s; the call was abandoned"
        return CoreResponse.failure(CoreFailureKind.TIMEOUT, message, model=self.model, latency_s=latency)

    def _call(self, request: CoreRequest) -> CoreResponse:
        start = time.perf_counter()
        try:
            out = self.fn(request)
        except Exception as exc:
            return self._error(exc)
        return self._wrap(out, time.perf_counter() - start)

    def _run(self, requests: list[CoreRequest], workers: int) -> list[CoreResponse]:
        """The calls, ``workers`` at a time on the shared daemon threads, each held to ``timeout_s``
        from its start (a call past it is abandoned: its thread finishes it and its answer is dropped)."""
        if self.timeout_s is None and workers <= 1:
            return [self._call(r) for r in requests]
        out: list[CoreResponse | None] = [None] * len(requests)
        changed = threading.Event()
        start_next = 0
        running: list[tuple[int, _Call]] = []
        while start_next < len(requests) or running:
            while start_next < len(requests) and len(running) < workers:
                running.append((start_next, _CALLS.submit(self._call, requests[start_next], changed)))
                start_next += 1
            now = time.perf_counter()
            still = []
            for i, call in running:
                if call.done:
                    out[i] = call.result
                elif self.timeout_s is not None and call.started is not None and now - call.started > self.timeout_s:
                    out[i] = self._timed_out(now - call.started)
                else:
                    still.append((i, call))
            if len(still) == len(running):
                waits = [c.started + self.timeout_s - now for _, c in still if self.timeout_s is not None and c.started is not None]
                changed.wait(max(0.0, min(waits)) + 0.001 if waits else (0.05 if self.timeout_s is not None else None))
                changed.clear()
            running = still
        return out  # type: ignore[return-value]

    async def _aone(self, request: CoreRequest, sem: asyncio.Semaphore) -> CoreResponse:
        async with sem:
            start = time.perf_counter()
            try:
                out = await asyncio.wait_for(self.fn(request), self.timeout_s)
            except asyncio.TimeoutError:
                return self._timed_out(time.perf_counter() - start)
            except Exception as exc:
                return self._error(exc)
            return self._wrap(out, time.perf_counter() - start)

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        if self._is_async:
            return run_sync(self.agenerate(requests))
        requests = list(requests)
        return self._run(requests, min(self.max_concurrency, len(requests)))

    async def agenerate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        if not self._is_async:
            return await asyncio.to_thread(self.generate, list(requests))
        sem = asyncio.Semaphore(self.max_concurrency)
        return list(await asyncio.gather(*(self._aone(r, sem) for r in requests)))


class _Call:
    """One call handed to :data:`_CALLS`: ``done``, ``result`` and when it ``started``."""

    __slots__ = ("fn", "arg", "notify", "started", "done", "result")

    def __init__(self, fn: Callable[[Any], Any], arg: Any, notify: threading.Event) -> None:
        self.fn, self.arg, self.notify = fn, arg, notify
        self.started: float | None = None
        self.done = False
        self.result: Any = None


class _CallThreads:
    """Daemon threads shared by every :class:`CallableCore`, started on demand and kept while in use.

    Daemon threads, not a ``ThreadPoolExecutor``: a call abandoned at its timeout may never
    return, and must not hold the interpreter's exit. A thread with no work for ``IDLE_S``
    seconds ends. No thread is started per call (that cost ~0.1 ms a call), and there are
    never fewer threads than calls in flight, so a call starts as soon as it is submitted.
    """

    IDLE_S = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._idle = 0
        self._pid = os.getpid()

    def submit(self, fn: Callable[[Any], Any], arg: Any, notify: threading.Event) -> _Call:
        call = _Call(fn, arg, notify)
        with self._lock:
            if self._pid != os.getpid():  # a forked child has none of its parent's threads
                self._reset()
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # an idle thread is now promised this call
        self._queue.put(call)
        if spawn:
            threading.Thread(target=self._work, name="callable-core", daemon=True).start()
        return call

    def _work(self) -> None:
        while True:
            try:
                call = self._queue.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # no call is promised to an idle thread: this one may end
                        self._idle -= 1
                        return
                continue  # every idle thread is promised a call: one is on its way
            call.started = time.perf_counter()
            try:
                call.result = call.fn(call.arg)
            except BaseException as exc:  # noqa: BLE001 - _call catches Exception; never lose the thread
                call.result = CoreResponse.failure(CoreFailureKind.INTERNAL, f"{type(exc).__name__}: {exc}")
            call.done = True
            call.notify.set()
            del call
            with self._lock:
                self._idle += 1


_CALLS = _CallThreads()


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    Inside a running loop (a notebook, an async trainer calling sync code) ``asyncio.run``
    is not allowed, so the coroutine then runs on a fresh loop in a helper thread.

    Example:
        >>> async def f(): return 1
        >>> run_sync(f())
        1
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]
