"""Non-degradation: a strategy must not make the core fail where the core alone succeeds.

The core-only outcome of a task (the core given the task without any strategy) is computed
once per (core, task) and kept in a :class:`BaselineStore`; every strategy for that task is
then compared with it. The penalty is proportional to how much success the strategy lost.

Example:
    >>> store = BaselineStore()
    >>> store.put("gpt", "HumanEval/0", Baseline(success_rate=1.0, runs=1))
    >>> compare(store.get("gpt", "HumanEval/0"), guided_success=0.0).degradation
    1.0
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from exectune_rl._pickling import TransientState
from exectune_rl.errors import ConfigError

__all__ = ["Baseline", "BaselineStore", "NonDegradationResult", "compare"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Baseline:
    """The core-only outcome of one task.

    Attributes:
        success_rate: Share of core-only runs that succeeded.
        runs: How many core-only runs it rests on.
        value: Mean graded execution value of those runs.
    """

    success_rate: float
    runs: int = 1
    value: float | None = None


@dataclass(frozen=True)
class NonDegradationResult:
    """Guided vs core-only outcome for one strategy.

    ``degradation`` is ``max(0, baseline success - guided success)``: the success the strategy
    took away. It is 0 when the strategy helped or changed nothing.
    """

    baseline: float
    guided: float
    degradation: float

    @property
    def degraded(self) -> bool:
        return self.degradation > 0.0


def compare(baseline: Baseline, guided_success: float) -> NonDegradationResult:
    """Compare a strategy's success rate with the task's core-only baseline.

    Args:
        baseline: The core-only outcome.
        guided_success: Share of the guided core runs that succeeded.

    Returns:
        The :class:`NonDegradationResult`.

    Example:
        >>> compare(Baseline(0.5, runs=2), 1.0).degradation
        0.0
    """
    degradation = max(0.0, float(baseline.success_rate) - float(guided_success))
    return NonDegradationResult(float(baseline.success_rate), float(guided_success), degradation)


class BaselineStore(TransientState):
    """Thread-safe core-only outcomes keyed by (core model, task id), optionally on disk.

    Args:
        path: A JSONL file to load from and append to, so reruns and resumed training do not
            pay for the core-only calls again. None keeps the store in memory.

    Example:
        >>> BaselineStore().get("m", "t") is None
        True
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[tuple[str, str], Baseline] = {}
        self._init_transient()
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    self._data[(row["model"], row["task_id"])] = Baseline(
                        float(row["success_rate"]), int(row["runs"]), row.get("value")
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise ConfigError(f"{path}:{n}: not a baseline record ({exc})") from exc

    _transient = ("_lock",)

    def _init_transient(self) -> None:
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, model: str, task_id: str) -> Baseline | None:
        """The stored baseline, or None."""
        return self._data.get((model, task_id))

    def put(self, model: str, task_id: str, baseline: Baseline) -> None:
        """Store a baseline (and append it to the file, when there is one)."""
        with self._lock:
            self._data[(model, task_id)] = baseline
            if self.path is not None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with self.path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"model": model, "task_id": task_id, **asdict(baseline)}) + "\n")
                except OSError as exc:  # the in-memory copy still works; say so once per failure
                    logger.warning("could not append to baseline store %s: %s", self.path, exc)
