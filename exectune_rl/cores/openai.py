"""``OpenAICompatibleCore``: chat completions against any OpenAI-compatible endpoint.

Works with OpenAI, Anthropic's OpenAI-compatible endpoint, vLLM, SGLang, Ollama and
llama.cpp's server. Calls go through the official ``openai`` SDK (its own retries off) with
bounded concurrency and our retries, with exponential backoff and full jitter, on 429, 5xx,
timeouts, dropped connections and malformed or empty payloads. The payload is parsed here,
not by the SDK, so a malformed body is a typed failure rather than an exception. A call that
still fails comes back as a ``CoreResponse`` with a typed error; nothing is raised into the
caller and no request is lost or answered twice.

The API key is read from the environment variable named by ``api_key_env`` and never logged
nor shown in ``repr``.

Example:
    >>> core = OpenAICompatibleCore("gpt-4o-mini", api_key_env="OPENAI_API_KEY")   # doctest: +SKIP
    >>> core.generate([CoreRequest.from_prompt("Say hi")])[0].text                  # doctest: +SKIP
    'Hi!'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from exectune_rl._pickling import TransientState
from exectune_rl.cores.base import Core, CoreFailure, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError, CoreError, MissingDependencyError

__all__ = ["OpenAICompatibleCore", "backoff_delay"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def backoff_delay(attempt: int, base_s: float, max_s: float, retry_after_s: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): exponential with full jitter.

    Full jitter (a uniform draw up to the exponential bound) spreads out clients that failed
    together, so they do not retry in lockstep. A server's ``Retry-After`` is a floor.

    Example:
        >>> 0 <= backoff_delay(3, 0.5, 20.0) <= 2.0
        True
        >>> backoff_delay(1, 0.5, 20.0, retry_after_s=3.0) >= 3.0
        True
    """
    bound = min(max_s, base_s * (2 ** (attempt - 1)))
    delay = random.uniform(0.0, bound)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_s))
    return delay


class _LoopThread:
    """A private event loop in a daemon thread: one HTTP client serves sync and async callers."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


# Connections per SDK client. The HTTP pool scans every connection it holds on each request,
# so one client with 64 connections spends more CPU per call than four clients with 16.
_CONNECTIONS_PER_CLIENT = 16
# Each client costs tens of milliseconds to build, so a huge max_concurrency shares a few.
_MAX_CLIENTS = 8


def _sdk_http_module() -> Any:
    """The HTTP library the installed ``openai`` SDK is built on (``httpx`` or ``httpx2``)."""
    import openai

    return sys.modules[openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]]


class _ClientPool:
    """SDK clients sharded by connection count, and a slot queue that bounds concurrency."""

    def __init__(self, make_client: Any, max_concurrency: int) -> None:
        n = min(_MAX_CLIENTS, max(1, -(-max_concurrency // _CONNECTIONS_PER_CLIENT)))
        per_client = -(-max_concurrency // n)
        self.clients = [make_client(per_client) for _ in range(n)]
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for i in range(max_concurrency):
            self._slots.put_nowait(i % n)

    async def acquire(self) -> int:
        return await self._slots.get()

    def release(self, slot: int) -> None:
        self._slots.put_nowait(slot)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.close()


class _Attempt:
    """The outcome of one HTTP attempt: a response, or a failure plus a Retry-After hint."""

    __slots__ = ("response", "failure", "retry_after_s")

    def __init__(self, response: CoreResponse | None = None, failure: CoreFailure | None = None, retry_after_s: float | None = None):
        self.response = response
        self.failure = failure
        self.retry_after_s = retry_after_s


def _status_kind(status: int) -> CoreFailureKind:
    if status == 429:
        return CoreFailureKind.RATE_LIMITED
    if status == 408:
        return CoreFailureKind.TIMEOUT
    if status in (401, 403):
        return CoreFailureKind.AUTH
    if status == 404:
        return CoreFailureKind.NOT_FOUND
    if status >= 500:
        return CoreFailureKind.SERVER_ERROR
    return CoreFailureKind.BAD_REQUEST


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:  # an HTTP date: rare from APIs, and a backoff is a fine substitute
        return None


def _token_count(value: Any) -> int | None:
    """A usage count as reported, or None when it is missing or not a count (never a made-up 0)."""
    if isinstance(value, float) and value.is_integer():  # some servers send 12.0
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class OpenAICompatibleCore(TransientState, Core):
    """A chat-completions core over HTTP, with bounded concurrency and retries.

    Args:
        model: The model name sent to the endpoint (and reported in responses).
        base_url: The API root, e.g. ``https://api.openai.com/v1``,
            ``https://api.anthropic.com/v1/``, ``http://localhost:8000/v1`` (vLLM).
        api_key_env: Name of the environment variable holding the API key; None for
            endpoints that need no key. The variable must be set when named.
        max_concurrency: Requests in flight at once.
        max_retries: Retries after the first attempt for transient failures.
        timeout_s: Seconds one attempt may take, from sending the request to the last byte of
            the answer (a server that drips its answer slowly hits it too).
        backoff_base_s / backoff_max_s: Exponential backoff with full jitter between retries.
        extra_body: Extra JSON fields for every request (``{"seed": 0}``, vendor options).
        headers: Extra HTTP headers (never logged).
        max_tokens_field: ``"max_tokens"`` or ``"max_completion_tokens"`` (newer OpenAI models).

    Raises:
        ConfigError: a bad argument. CoreError: ``api_key_env`` names an unset variable.

    Example:
        >>> core = OpenAICompatibleCore("llama3", base_url="http://localhost:11434/v1")  # Ollama
        >>> core.model
        'llama3'
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key_env: str | None = None,
        max_concurrency: int = 16,
        max_retries: int = 4,
        timeout_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        max_tokens_field: str = "max_tokens",
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"OpenAICompatibleCore model must be a non-empty str, got {model!r}")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        for name, value, low in (("max_concurrency", max_concurrency, 1), ("max_retries", max_retries, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
        for name, value in (("timeout_s", timeout_s), ("backoff_base_s", backoff_base_s), ("backoff_max_s", backoff_max_s)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0 or (
                name == "timeout_s" and value == 0
            ):
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        if max_tokens_field not in ("max_tokens", "max_completion_tokens"):
            raise ConfigError(f"max_tokens_field must be 'max_tokens' or 'max_completion_tokens', got {max_tokens_field!r}")
        self.model = model
        self.base_url = base_url.rstrip("/") + "/"
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout_s = float(timeout_s)
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self.extra_body = dict(extra_body or {})
        self.max_tokens_field = max_tokens_field
        self._headers = dict(headers or {})
        self._api_key: str | None = None
        if api_key_env is not None:
            key = os.environ.get(api_key_env)
            if not key:
                raise CoreError(f"environment variable {api_key_env!r} (api_key_env) is not set or empty")
            self._api_key = key
        self._runner: _LoopThread | None = None
        self._pool: _ClientPool | None = None
        self._runner_lock = threading.Lock()
        self._config_warned: set[int | None] = set()

    def __repr__(self) -> str:  # never shows the key or the headers
        return f"OpenAICompatibleCore(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    # -- pickling: the configuration travels; the loop, clients, lock and key do not ----
    _transient = ("_runner", "_pool", "_runner_lock", "_api_key", "_config_warned")

    def _init_transient(self) -> None:
        self._runner = None
        self._pool = None
        self._runner_lock = threading.Lock()
        self._config_warned = set()
        # The key is read again from the named variable, so it never sits in a pickle.
        self._api_key = os.environ.get(self.api_key_env) or None if self.api_key_env is not None else None

    # -- the private loop --------------------------------------------------------------
    def _loop_runner(self) -> _LoopThread:
        with self._runner_lock:
            if self._runner is None or self._runner.pid != os.getpid() or not self._runner.thread.is_alive():
                # Threads do not survive fork: a child process starts its own loop and client.
                self._runner = _LoopThread(f"exectune-openai-{self.model}")
                self._pool = None
            return self._runner

    def _make_client(self, connections: int) -> Any:
        import openai

        http_client = None
        try:
            limits = _sdk_http_module().Limits(max_connections=connections, max_keepalive_connections=connections)
            http_client = openai.DefaultAsyncHttpxClient(limits=limits)
        except Exception:  # an SDK whose HTTP layer looks different still works, unsharded
            logger.debug("could not size the SDK's connection pool; using its default", exc_info=True)
        return openai.AsyncOpenAI(
            # Keyless endpoints (vLLM, Ollama) ignore the header; the SDK insists on a value.
            api_key=self._api_key or "EMPTY",
            base_url=self.base_url,
            max_retries=0,  # retries are ours: typed, bounded, jittered, never lost
            timeout=self.timeout_s,
            default_headers=self._headers or None,
            http_client=http_client,
        )

    def _ensure_pool(self) -> _ClientPool:
        if self._pool is None:
            try:
                import openai  # noqa: F401
            except ImportError as exc:
                raise MissingDependencyError("openai", None, "OpenAICompatibleCore") from exc
            self._pool = _ClientPool(self._make_client, self.max_concurrency)
        return self._pool

    def _warn_config(self, failure: CoreFailure) -> None:
        # One line per core and status, not one per row: every later call fails the same way.
        if failure.status_code in self._config_warned:
            return
        self._config_warned.add(failure.status_code)
        logger.error("%s at %s: a configuration failure, not the model's: %s; calls fail (no reward) until it is fixed",
                     self.model, self.base_url, failure.message)  # fmt: skip

    # -- one call ----------------------------------------------------------------------
    def _payload(self, request: CoreRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "top_p": request.top_p,
            self.max_tokens_field: request.max_tokens,
        }
        if request.stop:
            payload["stop"] = list(request.stop)
        payload.update(self.extra_body)
        return payload

    def _parse(self, http: Any, latency: float) -> _Attempt:
        def fail(kind: CoreFailureKind, message: str) -> _Attempt:
            return _Attempt(failure=CoreFailure(kind, message, status_code=http.status_code))

        try:
            body = json.loads(http.content)
        except ValueError as exc:
            return fail(CoreFailureKind.MALFORMED_RESPONSE, f"response is not JSON ({exc}): {_snippet(http.text)}")
        if not isinstance(body, dict):
            return fail(CoreFailureKind.MALFORMED_RESPONSE, f"response JSON is a {type(body).__name__}, not an object")
        choices = body.get("choices")
        if not isinstance(choices, list):
            return fail(CoreFailureKind.MALFORMED_RESPONSE, f"response has no 'choices' list: {_snippet(http.text)}")
        if not choices:
            return fail(CoreFailureKind.EMPTY_RESPONSE, "response has an empty 'choices' list")
        first = choices[0]
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            return fail(CoreFailureKind.MALFORMED_RESPONSE, "choices[0] has no 'message' object")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            return fail(CoreFailureKind.MALFORMED_RESPONSE, f"choices[0].message.content is a {type(content).__name__}")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        finish = first.get("finish_reason")
        return _Attempt(
            response=CoreResponse(
                text=content or "",
                prompt_tokens=_token_count(usage.get("prompt_tokens")),
                completion_tokens=_token_count(usage.get("completion_tokens")),
                latency_s=latency,
                model=str(body.get("model") or self.model),
                finish_reason=finish if isinstance(finish, str) else None,
            )
        )

    async def _attempt(self, client: Any, payload: dict[str, Any], start: float) -> _Attempt:
        import openai

        try:
            # The SDK's documented raw ``post``: no typed transform of the body (a real cost
            # per call at high concurrency) and no parsing, so a bad payload stays our value.
            # The SDK's timeout bounds each read, so a server that drips its answer a byte at a
            # time never trips it: the attempt as a whole has a deadline of its own.
            http = await asyncio.wait_for(
                client.post("/chat/completions", body=payload, cast_to=_sdk_http_module().Response), self.timeout_s
            )
        except (openai.APITimeoutError, asyncio.TimeoutError) as exc:
            return _Attempt(failure=CoreFailure(CoreFailureKind.TIMEOUT, f"no answer within timeout_s={self.timeout_s:g}s ({type(exc).__name__})"))
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            return _Attempt(failure=CoreFailure(CoreFailureKind.CONNECTION, f"{type(cause).__name__}: {cause}"))
        except openai.APIStatusError as exc:
            http = exc.response
            kind = _status_kind(http.status_code)
            message = f"HTTP {http.status_code}: {_snippet(http.text)}"
            if kind is CoreFailureKind.AUTH and self.api_key_env is None:
                message += " (no API key configured: set api_key_env)"
            elif kind is CoreFailureKind.NOT_FOUND:
                message += f" (check the model name {self.model!r} and base_url {self.base_url!r})"
            failure = CoreFailure(kind, message, status_code=http.status_code)
            if kind.is_config:
                self._warn_config(failure)
            return _Attempt(failure=failure, retry_after_s=_retry_after(http.headers))
        except openai.OpenAIError as exc:  # anything else the SDK raises is still a typed value
            return _Attempt(failure=CoreFailure(CoreFailureKind.INTERNAL, f"{type(exc).__name__}: {exc}"))
        return self._parse(http, time.perf_counter() - start)

    async def _call(self, request: CoreRequest) -> CoreResponse:
        if self.api_key_env is not None and not self._api_key:
            # Only after unpickling in a process without the variable: the constructor checks it.
            message = f"environment variable {self.api_key_env!r} (api_key_env) is not set in this process"
            return CoreResponse.failure(CoreFailureKind.AUTH, message, model=self.model)
        pool = self._ensure_pool()
        payload = self._payload(request)
        start = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            slot = await pool.acquire()  # held for the HTTP call only, not for the backoff
            try:
                outcome = await self._attempt(pool.clients[slot], payload, start)
            finally:
                pool.release(slot)
            if outcome.response is not None:
                return dataclasses.replace(outcome.response, attempts=attempt, latency_s=time.perf_counter() - start)
            failure = outcome.failure
            assert failure is not None
            if not failure.kind.retryable or attempt > self.max_retries:
                return CoreResponse(
                    model=self.model,
                    latency_s=time.perf_counter() - start,
                    attempts=attempt,
                    error=dataclasses.replace(failure, attempts=attempt),
                )
            delay = backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s, outcome.retry_after_s)
            logger.debug("%s: attempt %d failed (%s); retrying in %.2fs", self.model, attempt, failure.kind.value, delay)
            await asyncio.sleep(delay)

    async def _run(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        tasks = [asyncio.ensure_future(self._call(r)) for r in requests]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for t in tasks:
                t.cancel()
            raise
        out: list[CoreResponse] = []
        for res in results:
            if isinstance(res, BaseException):  # a bug here must still answer every request
                logger.error("%s: unexpected error in a call", self.model, exc_info=res)
                out.append(CoreResponse.failure(CoreFailureKind.INTERNAL, f"{type(res).__name__}: {res}", model=self.model))
            else:
                out.append(res)
        return out

    # -- the Core interface -----------------------------------------------------------
    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Send every request (concurrently, up to ``max_concurrency``); responses in input order."""
        requests = list(requests)
        if not requests:
            return []
        return self._loop_runner().submit(self._run(requests)).result()

    async def agenerate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Async ``generate``: awaits the private loop without blocking the caller's loop."""
        requests = list(requests)
        if not requests:
            return []
        return await asyncio.wrap_future(self._loop_runner().submit(self._run(requests)))

    def close(self) -> None:
        """Close the clients and stop the private loop. Idempotent; a later call reopens."""
        with self._runner_lock:
            runner, pool = self._runner, self._pool
            self._runner, self._pool = None, None
        if runner is None or runner.pid != os.getpid():
            return
        if pool is not None and runner.thread.is_alive():
            try:
                runner.submit(pool.aclose()).result(timeout=5)
            except Exception:  # closing is best effort
                logger.debug("closing the SDK clients failed", exc_info=True)
        runner.stop()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
