"""Serve any ``Core`` as an OpenAI-compatible chat-completions endpoint (FastAPI + uvicorn).

Useful to put a local ``TransformersCore`` behind the same HTTP interface an API core has, to
test ``OpenAICompatibleCore`` against a real server, and to benchmark the client on loopback.
Needs the ``server`` extra (``fastapi``, ``uvicorn``).

Example:
    >>> from exectune_rl.cores import CallableCore, OpenAICompatibleCore, CoreRequest
    >>> core = CallableCore(lambda r: r.prompt_text[::-1], model="rev")
    >>> with LoopbackServer(create_app(core)) as server:
    ...     client = OpenAICompatibleCore("rev", base_url=server.base_url)
    ...     print(client.generate([CoreRequest.from_prompt("abc")])[0].text)
    ...     client.close()
    cba
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route annotations at run
# time, and the ``Request`` type is imported inside ``create_app``.
import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from exectune_rl.cores.base import Core, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError, ExecTuneError, MissingDependencyError

__all__ = ["create_app", "LoopbackServer", "request_from_body", "completion_body"]

logger = logging.getLogger(__name__)

_ERROR_STATUS = {
    CoreFailureKind.RATE_LIMITED: 429,
    CoreFailureKind.TIMEOUT: 504,
    CoreFailureKind.BAD_REQUEST: 400,
    CoreFailureKind.AUTH: 401,
    CoreFailureKind.NOT_FOUND: 404,
}


def request_from_body(body: Any) -> CoreRequest:
    """Turn a chat-completions request body into a ``CoreRequest``.

    Raises:
        ConfigError: the body is not a valid chat-completions request.

    Example:
        >>> request_from_body({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}).max_tokens
        8
    """
    if not isinstance(body, dict):
        raise ConfigError(f"request body must be a JSON object, got {type(body).__name__}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConfigError("'messages' must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
            raise ConfigError(f"each message needs a string 'role' and 'content', got {m!r}")
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens", 512))
    temperature, top_p = body.get("temperature"), body.get("top_p")  # JSON null: the default
    try:
        return CoreRequest(
            messages=tuple({"role": m["role"], "content": m["content"]} for m in messages),
            temperature=0.0 if temperature is None else float(temperature),
            top_p=1.0 if top_p is None else float(top_p),
            max_tokens=int(max_tokens),
            stop=tuple(str(s) for s in stop),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad sampling parameter: {exc}") from exc


def completion_body(response: CoreResponse, model: str) -> dict[str, Any]:
    """The chat-completions JSON for a successful ``CoreResponse``."""
    p_tok, c_tok = response.prompt_tokens or 0, response.completion_tokens or 0
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model or model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": response.text},
                "finish_reason": response.finish_reason or "stop",
            }
        ],
        "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok},
    }


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


class _MicroBatcher:
    """Collects requests for a short window and sends them to the core as one batch."""

    def __init__(self, core: Core, window_s: float, max_batch: int) -> None:
        self.core, self.window_s, self.max_batch = core, window_s, max_batch
        self._pending: list[tuple[CoreRequest, asyncio.Future[CoreResponse]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()  # strong references until done

    async def submit(self, request: CoreRequest) -> CoreResponse:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[CoreResponse] = loop.create_future()
        self._pending.append((request, fut))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.ensure_future(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[CoreRequest, asyncio.Future[CoreResponse]]]) -> None:
        try:
            responses = await self.core.agenerate([r for r, _ in batch])
        except Exception as exc:  # a core that raises still answers every waiting request
            responses = [CoreResponse.failure(CoreFailureKind.INTERNAL, f"{type(exc).__name__}: {exc}")] * len(batch)
        for (_, fut), resp in zip(batch, responses):
            if not fut.done():
                fut.set_result(resp)


def create_app(core: Core, *, latency_s: float = 0.0, batch_window_s: float = 0.0, max_batch: int = 64) -> Any:
    """A FastAPI app serving ``POST /v1/chat/completions`` (and ``GET /v1/models``) from ``core``.

    Args:
        core: The core that answers.
        latency_s: Extra seconds each call waits (asynchronously) before answering;
            benchmarks use it to model an API's latency.
        batch_window_s: When positive, requests arriving within this window go to the core
            as one batch (a ``TransformersCore`` then generates them together).
        max_batch: Largest batch the micro-batcher forms.

    Returns:
        The ``fastapi.FastAPI`` application.
    """
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "server", "serving a core over HTTP") from exc
    if latency_s < 0 or batch_window_s < 0 or max_batch < 1:
        raise ConfigError(f"bad server options: latency_s={latency_s!r}, batch_window_s={batch_window_s!r}, max_batch={max_batch!r}")
    app = FastAPI(title=f"exectune core server ({core.model})")
    batcher = _MicroBatcher(core, batch_window_s, max_batch) if batch_window_s > 0 else None

    @app.post("/v1/chat/completions")
    async def chat_completions(http_request: Request) -> Any:
        try:
            request = request_from_body(await http_request.json())
        except (ValueError, ExecTuneError) as exc:
            return JSONResponse(_error_body(str(exc), "invalid_request_error"), status_code=400)
        if latency_s:
            await asyncio.sleep(latency_s)
        if batcher is not None:
            response = await batcher.submit(request)
        else:
            [response] = await core.agenerate([request])
        if response.error is not None:
            status = _ERROR_STATUS.get(response.error.kind, 500)
            return JSONResponse(_error_body(response.error.message, response.error.kind.value), status_code=status)
        return JSONResponse(completion_body(response, core.model))

    @app.get("/v1/models")
    async def models() -> Any:
        return {"object": "list", "data": [{"id": core.model, "object": "model", "owned_by": "exectune"}]}

    return app


class LoopbackServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a background thread.

    Args:
        app: The ASGI application (for example from :func:`create_app`).
        port: The port; 0 picks a free one.
        host: The address to bind (loopback by default).
        startup_timeout_s: How long to wait for the server to accept connections.

    Example:
        >>> server = LoopbackServer(create_app(CallableCore(lambda r: "x"))).start()   # doctest: +SKIP
        >>> server.base_url                                                           # doctest: +SKIP
        'http://127.0.0.1:38211/v1'
        >>> server.stop()                                                             # doctest: +SKIP
    """

    def __init__(self, app: Any, *, port: int = 0, host: str = "127.0.0.1", startup_timeout_s: float = 20.0) -> None:
        try:
            import uvicorn
        except ImportError as exc:
            raise MissingDependencyError("uvicorn", "server", "serving a core over HTTP") from exc
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "LoopbackServer":
        self._thread = threading.Thread(target=self._server.run, name="exectune-loopback-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ExecTuneError(f"loopback server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        sockets: Sequence[Any] = [s for srv in self._server.servers for s in srv.sockets]
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread. Idempotent."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
