"""The core contract: requests, responses with usage and typed errors, and ``Core``.

A failed call is a value (``CoreResponse.error``), never an exception thrown into a trainer.
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ConfigError

__all__ = ["Message", "CoreRequest", "CoreResponse", "CoreFailure", "CoreFailureKind", "Core", "CallableCore"]

Message = dict[str, str]


class CoreFailureKind(str, enum.Enum):
    """Why a core call failed. Every kind is an infrastructure failure except ``BAD_REQUEST``."""

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MALFORMED_RESPONSE = "malformed_response"
    EMPTY_RESPONSE = "empty_response"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    INTERNAL = "internal"


@dataclass(frozen=True)
class CoreFailure:
    """A typed failure of one core call."""

    kind: CoreFailureKind
    message: str
    status_code: int | None = None
    attempts: int = 1


@dataclass(frozen=True)
class CoreRequest:
    """One call to a core.

    Args:
        messages: Chat messages (``[{"role": "user", "content": ...}]``).
        temperature / top_p / max_tokens / stop: Sampling parameters.
        sample_index: Distinguishes repeated samples of the same request (part of the cache key).
        metadata: Free-form data carried through (task id...); not sent to the model.
    """

    messages: tuple[Message, ...]
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    sample_index: int = 0
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        msgs = self.messages
        if isinstance(msgs, str):
            msgs = ({"role": "user", "content": msgs},)
        msgs = tuple(dict(m) for m in msgs)
        for m in msgs:
            if "role" not in m or "content" not in m:
                raise ConfigError(f"each message needs 'role' and 'content', got {m!r}")
        object.__setattr__(self, "messages", msgs)
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_tokens <= 0:
            raise ConfigError(f"max_tokens must be positive, got {self.max_tokens!r}")

    @classmethod
    def from_prompt(cls, prompt: str, **kwargs: Any) -> "CoreRequest":
        return cls(messages=({"role": "user", "content": prompt},), **kwargs)

    @property
    def prompt_text(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


@dataclass(frozen=True)
class CoreResponse:
    """The outcome of one core call.

    ``prompt_tokens``/``completion_tokens`` are None when the core did not report usage
    (cost code then estimates them and says so). ``error`` is set when the call failed;
    ``text`` is then empty.
    """

    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    model: str = ""
    error: CoreFailure | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failure(cls, kind: CoreFailureKind, message: str, *, model: str = "", **kwargs: Any) -> "CoreResponse":
        return cls(error=CoreFailure(kind=kind, message=message, **kwargs), model=model)


class Core(abc.ABC):
    """A black-box model that executes strategies: text in, text out, token usage.

    Subclasses implement ``generate`` (or ``agenerate``); each returns one response per
    request, in order, and never raises for a failed call.
    """

    model: str = ""

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
    """Wraps a user function ``fn(request) -> str | CoreResponse``.

    Exceptions from ``fn`` become ``CoreFailureKind.INTERNAL`` responses.

    Example:
        >>> core = CallableCore(lambda req: "42", model="echo")
        >>> core.generate([CoreRequest.from_prompt("6*7?")])[0].text
        '42'
    """

    def __init__(self, fn: Callable[[CoreRequest], "str | CoreResponse"], model: str = "callable") -> None:
        if not callable(fn):
            raise ConfigError(f"CallableCore needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self.model = model

    def _one(self, request: CoreRequest) -> CoreResponse:
        import time

        start = time.perf_counter()
        try:
            out = self.fn(request)
        except Exception as exc:  # the user's function failing is an infrastructure failure
            return CoreResponse.failure(CoreFailureKind.INTERNAL, f"{type(exc).__name__}: {exc}", model=self.model)
        latency = time.perf_counter() - start
        if isinstance(out, CoreResponse):
            return out
        if not isinstance(out, str):
            return CoreResponse.failure(
                CoreFailureKind.MALFORMED_RESPONSE, f"callable returned {type(out).__name__}, not str", model=self.model
            )
        return CoreResponse(text=out, latency_s=latency, model=self.model)

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        return [self._one(r) for r in requests]
