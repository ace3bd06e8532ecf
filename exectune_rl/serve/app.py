"""The FastAPI app of ``exectune serve``.

Endpoints:

- ``POST /get_reward``: OpenRLHF's remote reward protocol (see :mod:`exectune_rl.serve.protocol`).
- ``POST /score``: ``{"rows": [...exectune score rows...], "include_text": false}`` answered by
  every row's full breakdown (``RewardRecord.to_dict``: status, reason, components, core runs).
- ``GET /health``: liveness and what is loaded (no token needed).
- ``GET /metrics``: Prometheus metrics (no token needed; :mod:`exectune_rl.serve.metrics`).

Every scoring endpoint requires ``Authorization: Bearer <token>`` when a token is set (401
otherwise). Answers: 413 for a body over ``max_body_bytes`` or more than ``max_batch``
completions, 422 for a bad label or row (the message names it), 503 with ``Retry-After`` when
``max_queued`` requests already wait or the service is shutting down. A request not scored
within ``deadline_s``, or whose batch failed in the infrastructure, gets null rewards with the
reason, never 0.

Example:
    >>> from exectune_rl.serve.run import open_scoring_run           # doctest: +SKIP
    >>> app = create_app(open_scoring_run(None), token="s3cret")      # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from exectune_rl.errors import MissingDependencyError
from exectune_rl.serve.batcher import Batcher, DeadlineExceeded, Draining, Saturated
from exectune_rl.serve.labels import LabelError, check_rows, completion_from_query, label_rows, native_rows
from exectune_rl.serve.metrics import ServeMetrics
from exectune_rl.serve.protocol import native_answer, openrlhf_answer, unscored_answer

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("fastapi", "server", "exectune serve") from exc

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """An answer other than 200, with the detail the client reads."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _Refused(400, f"the body is not JSON: {exc}") from exc
    except RecursionError:
        raise _Refused(400, "the body's JSON is nested too deeply to read") from None


def _list_field(data: dict[str, Any], name: str, required: bool) -> list[Any] | None:
    value = data.get(name)
    if value is None:
        if required:
            raise _Refused(422, f"'{name}' is required: a list with one entry per completion")
        return None
    if not isinstance(value, list):
        raise _Refused(422, f"'{name}' must be a list, got {type(value).__name__}")
    return value


def create_app(run: Any, *, token: str | None = None) -> Any:
    """The service's ASGI app over a :class:`~exectune_rl.serve.run.ScoringRun`.

    The app does not close ``run``: whoever opened it closes it after the server stops. On
    shutdown the app stops taking requests (503) and finishes every queued and running batch.

    Args:
        run: The reward, task table and limits.
        token: The bearer token scoring endpoints require (None: no auth; bind loopback only).

    Returns:
        A FastAPI app.
    """
    limits = run.limits
    reward = run.reward
    name = reward.config.name
    core_runs = reward.config.core_runs
    batcher = Batcher(run.score_rows, batch_rows=limits.batch_rows, window_s=limits.batch_window_ms / 1000.0, max_queued=limits.max_queued)
    metrics = ServeMetrics(
        queued=lambda: batcher.stats.queued_requests,
        sandbox_rows=lambda: batcher.stats.queued_rows + batcher.stats.scoring_rows,
    )
    batcher._on_batch = metrics.observe_batch
    expected = f"Bearer {token}".encode() if token else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        batcher.start()
        logger.info("exectune serve: scoring with %s (%d tasks in the table)", run.source, len(run.tasks))
        try:
            yield
        finally:
            await batcher.drain()

    app = FastAPI(title="exectune serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.run = run
    app.state.batcher = batcher
    app.state.metrics = metrics

    def check_auth(request: Request) -> None:
        if expected is None:
            return
        got = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(got, expected):
            raise _Refused(401, "missing or wrong bearer token (Authorization: Bearer $EXECTUNE_SERVE_TOKEN)", {"WWW-Authenticate": "Bearer"})

    async def read_json(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise _Refused(413, f"the body has {declared} bytes; the limit is {limits.max_body_bytes} (server.max_body_bytes)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise _Refused(413, f"the body is over {limits.max_body_bytes} bytes (server.max_body_bytes)")
            chunks.append(chunk)
        data = _json_or_none(b"".join(chunks))
        if not isinstance(data, dict):
            raise _Refused(422, f"the body must be a JSON object, got {type(data).__name__}")
        return data

    def check_batch(n: int) -> None:
        if n > limits.max_batch:
            raise _Refused(413, f"{n} completions in one request; the limit is {limits.max_batch} (server.max_batch): split the batch")

    async def score(rows: list[dict[str, Any]], arrival: dict[str, bool]) -> list[Any] | str:
        """The records, or the reason no row was scored (deadline, a failed batch)."""
        try:
            records = await batcher.submit(rows, limits.deadline_s, arrival)
        except Draining as exc:
            raise _Refused(503, str(exc), {"Retry-After": str(limits.retry_after_s)}) from exc
        except Saturated as exc:
            raise _Refused(503, f"saturated: {exc}; retry later", {"Retry-After": str(limits.retry_after_s)}) from exc
        except DeadlineExceeded as exc:
            return f"deadline: {exc} (server.deadline_s={limits.deadline_s:g})"
        except LabelError as exc:
            raise _Refused(422, str(exc)) from exc
        except Exception as exc:  # the infrastructure failed: null rewards with the reason, never 0
            return f"scoring failed: {type(exc).__name__}: {exc}"
        metrics.count_records(records)
        return records

    def endpoint(path: str, handler: Callable[[Request, dict[str, bool]], Any]) -> None:
        async def wrapped(request: Request) -> Any:
            start = time.perf_counter()
            metrics.in_flight.inc()
            code = 500
            try:
                check_auth(request)
                with batcher.arriving() as arrival:  # the batch being formed waits for this request
                    answer = await handler(request, arrival)
                code = 200
                return JSONResponse(answer)
            except _Refused as exc:
                code = exc.status
                return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)
            finally:
                metrics.in_flight.dec()
                metrics.requests.labels(endpoint=path, code=str(code)).inc()
                metrics.latency.labels(endpoint=path).observe(time.perf_counter() - start)

        app.add_api_route(path, wrapped, methods=["POST"], include_in_schema=False)

    async def get_reward(request: Request, arrival: dict[str, bool]) -> dict[str, Any]:
        data = await read_json(request)
        queries = _list_field(data, "query", True)
        assert queries is not None
        check_batch(len(queries))
        prompts = _list_field(data, "prompts", False)
        labels = _list_field(data, "labels", True)
        assert labels is not None
        for field_name, values in (("prompts", prompts), ("labels", labels)):
            if values is not None and len(values) != len(queries):
                raise _Refused(422, f"'{field_name}' has {len(values)} entries for {len(queries)} queries")
        try:
            rows = label_rows(labels, run.tasks)
            for i, row in enumerate(rows):
                row["completion"] = completion_from_query(queries[i], prompts[i] if prompts is not None else None)
            check_rows(rows, reward.config, run.has_core, where="labels")
        except LabelError as exc:
            raise _Refused(422, str(exc)) from exc
        result = await score(rows, arrival)
        if isinstance(result, str):
            return unscored_answer(len(rows), result)
        return openrlhf_answer(result, name, core_runs)

    async def score_rows(request: Request, arrival: dict[str, bool]) -> dict[str, Any]:
        data = await read_json(request)
        raw = _list_field(data, "rows", True)
        assert raw is not None
        check_batch(len(raw))
        try:
            rows = native_rows(raw, run.tasks)
            check_rows(rows, reward.config, run.has_core, where="rows", strict=False)
        except LabelError as exc:
            raise _Refused(422, str(exc)) from exc
        result = await score(rows, arrival)
        if isinstance(result, str):
            out = unscored_answer(len(rows), result)
            return {"records": [{"index": i, "reward": None, "status": "infra", "reason": result} for i in range(len(rows))],
                    "rewards": out["rewards"], "metrics": {}, "name": name}  # fmt: skip
        return native_answer(result, name, core_runs, bool(data.get("include_text")))

    endpoint("/get_reward", get_reward)
    endpoint("/score", score_rows)

    @app.get("/health", include_in_schema=False)
    async def health() -> Any:
        body = {
            "status": "draining" if batcher.closing else "ok",
            "reward": name,
            "task_kind": reward.config.task_kind,
            "core": getattr(reward.core, "model", None) if run.has_core else None,
            "tasks": len(run.tasks),
            "source": run.source,
            "auth": expected is not None,
            "queued_requests": batcher.stats.queued_requests,
            "scoring_rows": batcher.stats.scoring_rows,
            "batches": batcher.stats.batches,
        }
        return JSONResponse(body, status_code=503 if batcher.closing else 200)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Any:
        text, content_type = metrics.render()
        return Response(text, media_type=content_type)

    return app
