"""One scorer per process for the framework adapters: in-process, or a remote ``exectune serve``.

Frameworks call a reward function per sample, many times, from worker threads or an event
loop; building the reward (sandbox pool, math workers) for each call would be ruinous. A
:class:`Scorer` is built once per (recipe, url) and kept for the process.

Which one: ``url=`` (or ``EXECTUNE_REWARD_URL``) scores through the service; otherwise
``config=`` (or ``EXECTUNE_REWARD_RECIPE``) is a serve recipe scored in-process; with neither,
``exectune score``'s embedded default.

Example:
    >>> scorer = get_scorer()                                                    # doctest: +SKIP
    >>> scorer.score([{"task_id": "HumanEval/0", "completion": "...", "core_output": "..."}])[0]["reward"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from exectune_rl.errors import ExecTuneError

__all__ = ["Scorer", "get_scorer", "RewardUnavailableError", "COMPONENT_KEYS"]

COMPONENT_KEYS: tuple[str, ...] = (
    "format", "leakage", "execution", "success", "syntax", "nondegradation", "cost", "strategy_tokens", "core_tokens", "usd",
)  # fmt: skip
"""The per-component values every adapter reports (the names of ``RewardRecord.components``)."""


class RewardUnavailableError(ExecTuneError):
    """No reward for a completion: the infrastructure failed or the row was unusable.

    Raised by adapters whose framework has no notion of a missing reward (where returning 0
    would punish the model for the infrastructure). ``reason`` says why.
    """

    def __init__(self, reason: str, status: str = "infra") -> None:
        super().__init__(f"no ExecTune reward ({status}): {reason}")
        self.reason = reason
        self.status = status


class Scorer:
    """Scores ``exectune score`` rows in-process (a :class:`ScoringRun`) or through a client.

    Args:
        run: A :class:`~exectune_rl.serve.run.ScoringRun` (in-process), or None.
        client: A :class:`~exectune_rl.client.RewardClient` (remote), or None.
    """

    def __init__(self, run: Any = None, client: Any = None) -> None:
        if (run is None) == (client is None):
            raise ExecTuneError("a Scorer needs exactly one of run= or client=")
        self.run = run
        self.client = client
        self._async_client: Any = None

    @property
    def tasks(self) -> Mapping[str, Any]:
        """The task table labels resolve against (the service resolves remote ids itself)."""
        return self.run.tasks if self.run is not None else {}

    def rows_for(self, labels: Sequence[Any], completions: Sequence[Any], extra: Sequence[Mapping[str, Any] | None] | None = None) -> list[dict[str, Any]]:
        """Rows from labels (task objects, JSON or ids) and completions, plus extra columns per row.

        In-process the labels are resolved and checked here (a bad one raises ``LabelError``
        naming it); remotely the service resolves them and answers 422 for a bad one.
        """
        from exectune_rl.serve.labels import check_rows, label_row

        if len(labels) != len(completions) or (extra is not None and len(extra) != len(completions)):
            from exectune_rl.errors import DataError

            raise DataError(f"got {len(labels)} labels for {len(completions)} completions"
                            + (f" and {len(extra)} extra entries" if extra is not None else "") + ": give one per completion")
        rows = []
        for i, (label, completion) in enumerate(zip(labels, completions)):
            more = dict(extra[i] or {}) if extra is not None else {}
            if self.run is not None:
                row = {**label_row(label, self.run.tasks, i), **more}
            else:
                row = _remote_row(label, more)
            row["completion"] = completion
            rows.append(row)
        if self.run is not None:
            check_rows(rows, self.run.reward.config, self.run.has_core, strict=True)
        return rows

    def score(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One record dict (``RewardRecord.to_dict``) per row."""
        if self.run is not None:
            return [r.to_dict() for r in self.run.score_rows(rows)]
        return self.client.score(rows)

    async def ascore(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`score` without blocking the event loop."""
        if self.run is not None:
            return await asyncio.to_thread(self.score, rows)
        if self._async_client is None:
            from exectune_rl.client import AsyncRewardClient

            c = self.client
            self._async_client = AsyncRewardClient(c.base_url, token=_token(c), timeout_s=c.timeout_s, retries=c.retries)
        return await self._async_client.score(rows)

    def close(self) -> None:
        if self.run is not None:
            self.run.close()
        if self.client is not None:
            self.client.close()


def _token(client: Any) -> str | None:
    auth = client.headers.get("Authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


def _remote_row(label: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """A row for the service: the label as an object (JSON parsed), a bare id as ``task_id``."""
    import json

    if isinstance(label, str) and label.strip().startswith("{"):
        try:
            label = json.loads(label)
        except ValueError:
            pass  # the service names the bad label
    if isinstance(label, Mapping):
        return {**label, **extra}
    return {"task_id": label, **extra}


_SCORERS: dict[tuple[str | None, str | None], Scorer] = {}
_LOCK = threading.Lock()


def get_scorer(config: str | None = None, url: str | None = None, token: str | None = None) -> Scorer:
    """The process's scorer for a recipe or a service URL (built on first use, then kept).

    Args:
        config: A serve recipe path (default ``EXECTUNE_REWARD_RECIPE``; neither: the embedded default).
        url: An ``exectune serve`` URL (default ``EXECTUNE_REWARD_URL``); wins over ``config``.
        token: The service's bearer token (default ``EXECTUNE_SERVE_TOKEN``).
    """
    from exectune_rl.env import settings

    env = settings()
    url = url or env.reward_url
    config = None if url else (config or env.reward_recipe)
    key = (config, url)
    with _LOCK:
        scorer = _SCORERS.get(key)
        if scorer is None:
            if url:
                from exectune_rl.client import RewardClient

                scorer = Scorer(client=RewardClient(url, token=token))
            else:
                from exectune_rl.serve.run import open_scoring_run

                scorer = Scorer(run=open_scoring_run(config))
            _SCORERS[key] = scorer
        return scorer


@atexit.register
def _close_all() -> None:
    with _LOCK:
        for scorer in _SCORERS.values():
            try:
                scorer.close()
            except Exception:  # closing at exit must not raise
                pass
        _SCORERS.clear()
