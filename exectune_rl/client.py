"""A client for ``exectune serve``: call a remote scorer as if it were the local reward.

:class:`RewardClient` (sync) and :class:`AsyncRewardClient` (async) are siblings over one
I/O-free base that builds requests, decides retries and reads answers; only the call that
waits differs. Both retry a 503 (the service is saturated or restarting; its ``Retry-After``
is honoured), a 502/504 and a failed connection, with capped exponential backoff and jitter,
up to ``retries`` times; any other error status raises :class:`RemoteRewardError` with the
server's message (a 422 names the bad label).

Calling a client has TRL's reward signature, so it drops in where ``ExecTuneReward`` would:

Example:
    >>> with RewardClient("http://127.0.0.1:8000") as reward:          # doctest: +SKIP
    ...     reward(completions=["<strategy>...</strategy>"], task_id=["HumanEval/0"], core_output=["..."])
    [0.35]
    >>> async with AsyncRewardClient("http://127.0.0.1:8000") as reward:   # doctest: +SKIP
    ...     answer = await reward.get_reward(queries, prompts, labels)      # OpenRLHF's protocol
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from exectune_rl.errors import DataError, ExecTuneError

__all__ = ["RewardClient", "AsyncRewardClient", "RemoteRewardError", "rows_from_columns"]

_RETRY_STATUS = frozenset((502, 503, 504))
_JSON = {"Content-Type": "application/json"}
_TRL_HOOKS = ("log_metric", "log_extra", "trainer_state")


class RemoteRewardError(ExecTuneError):
    """The service refused a request or could not be reached after the retries.

    Attributes:
        status: The HTTP status (None when no answer came).
        detail: The server's message (or the transport error).
    """

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def rows_from_columns(completions: Sequence[Any], columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``exectune score`` rows from TRL-style arguments (one list per column; a scalar applies to all).

    Example:
        >>> rows_from_columns(["<strategy>a</strategy>"], {"task_id": ["HumanEval/0"], "log_metric": print})
        [{'completion': '<strategy>a</strategy>', 'task_id': 'HumanEval/0'}]
    """
    n = len(completions)
    rows: list[dict[str, Any]] = [{"completion": c} for c in completions]
    for key, values in columns.items():
        if key in _TRL_HOOKS or values is None:
            continue
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values] * n
        if len(values) != n:
            raise ExecTuneError(f"column {key!r} has {len(values)} values for {n} completions")
        for row, value in zip(rows, values):
            if value is not None:
                row[key] = value
    return rows


class _BaseClient:
    """What both clients share: requests, retry decisions and answers (no I/O)."""

    def __init__(
        self, base_url: str, *, token: str | None = None, timeout_s: float = 600.0, retries: int = 8,
        backoff_s: float = 0.25, max_backoff_s: float = 10.0,
    ) -> None:  # fmt: skip
        if token is None:
            from exectune_rl.env import settings

            token = settings().serve_token
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.__name__ = "exectune_remote"

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): the server's Retry-After, else backoff with jitter."""
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.replace(".", "", 1).isdigit():
                return min(float(after), self.max_backoff_s) * (1.0 + 0.25 * random.random())
        return min(self.max_backoff_s, self.backoff_s * 2**attempt) * (0.5 + random.random())

    def _retryable(self, attempt: int, response: httpx.Response | None) -> bool:
        return attempt < self.retries and (response is None or response.status_code in _RETRY_STATUS)

    @staticmethod
    def _answer(response: httpx.Response | None, error: Exception | None, path: str) -> dict[str, Any]:
        if response is None:
            raise RemoteRewardError(f"{path}: no answer from the service: {error}", None, str(error))
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:500]}
        if response.status_code != 200:
            detail = body.get("detail", "") if isinstance(body, dict) else str(body)
            raise RemoteRewardError(f"{path}: HTTP {response.status_code}: {detail}", response.status_code, detail)
        return body

    @staticmethod
    def _encode(path: str, body: dict[str, Any]) -> bytes:
        """The request body as strict JSON (what the service reads), or a clear error naming why not."""
        try:
            return json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (ValueError, TypeError, RecursionError) as exc:
            raise DataError(f"{path}: the request cannot be sent as JSON ({exc}); NaN, infinities and "
                            "objects that are not plain data have no JSON form") from None

    @staticmethod
    def _reward_body(queries: Sequence[Any], prompts: Sequence[Any] | None, labels: Sequence[Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"query": list(queries), "labels": list(labels)}
        if prompts is not None:
            body["prompts"] = list(prompts)
        return body

    @staticmethod
    def _trl_rows(completions: Sequence[Any] | None, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        if completions is None:
            raise ExecTuneError("completions are required")
        return rows_from_columns(list(completions), kwargs)


class RewardClient(_BaseClient):
    """The synchronous client (``httpx.Client``).

    Args:
        base_url: The service, e.g. ``http://127.0.0.1:8000``.
        token: Bearer token (default: ``EXECTUNE_SERVE_TOKEN``).
        timeout_s: Seconds one request may take.
        retries: Retries after a 503/502/504 or a failed connection.
        backoff_s / max_backoff_s: First and largest wait between retries.
        transport: An ``httpx`` transport (tests, proxies).
    """

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout_s, transport=transport)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        content = self._encode(path, body)
        attempt = 0
        while True:
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                response = self._http.post(path, content=content, headers=_JSON)
            except httpx.TransportError as exc:
                error = exc
            if not self._retryable(attempt, response) or (response is not None and response.status_code == 200):
                return self._answer(response, error, path)
            time.sleep(self._delay(attempt, response))
            attempt += 1

    def health(self) -> dict[str, Any]:
        """The service's ``/health`` answer."""
        return self._http.get("/health").json()

    def get_reward(self, queries: Sequence[Any], prompts: Sequence[Any] | None, labels: Sequence[Any]) -> dict[str, Any]:
        """OpenRLHF's remote reward call: ``{"rewards", "scores", "extra_logs", "statuses", "reasons"}``."""
        return self._post("/get_reward", self._reward_body(queries, prompts, labels))

    def score(self, rows: Sequence[Mapping[str, Any]], include_text: bool = False) -> list[dict[str, Any]]:
        """Score ``exectune score`` rows; one record dict (``RewardRecord.to_dict``) per row."""
        return self._post("/score", {"rows": list(rows), "include_text": include_text})["records"]

    def __call__(self, prompts: Any = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **kwargs: Any) -> list[float | None]:
        """TRL's reward signature: one reward (None: not scored) per completion."""
        return [r.get("reward") for r in self.score(self._trl_rows(completions, kwargs))]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RewardClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRewardClient(_BaseClient):
    """The asynchronous client (``httpx.AsyncClient``); arguments as for :class:`RewardClient`."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=self.timeout_s, transport=transport)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        content = self._encode(path, body)
        attempt = 0
        while True:
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                response = await self._http.post(path, content=content, headers=_JSON)
            except httpx.TransportError as exc:
                error = exc
            if not self._retryable(attempt, response) or (response is not None and response.status_code == 200):
                return self._answer(response, error, path)
            await asyncio.sleep(self._delay(attempt, response))
            attempt += 1

    async def health(self) -> dict[str, Any]:
        return (await self._http.get("/health")).json()

    async def get_reward(self, queries: Sequence[Any], prompts: Sequence[Any] | None, labels: Sequence[Any]) -> dict[str, Any]:
        return await self._post("/get_reward", self._reward_body(queries, prompts, labels))

    async def score(self, rows: Sequence[Mapping[str, Any]], include_text: bool = False) -> list[dict[str, Any]]:
        return (await self._post("/score", {"rows": list(rows), "include_text": include_text}))["records"]

    async def __call__(self, prompts: Any = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **kwargs: Any) -> list[float | None]:
        return [r.get("reward") for r in await self.score(self._trl_rows(completions, kwargs))]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncRewardClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
