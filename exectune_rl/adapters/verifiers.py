"""The ExecTune components as a verifiers rubric: reward and metric hooks for a verifiers ``Task``.

verifiers 0.4 (``verifiers.v1``) has no ``Rubric`` class any more: a task scores itself with
its ``@vf.reward`` methods (weighted, summed into the rollout's reward) and ``@vf.metric``
methods (recorded, not summed), each called with the arguments it names (``task``: the task's
``TaskData``; ``trace``: the rollout) and awaited together. :class:`ExecTuneRubric` makes those
hooks from the ExecTune components:

- ``rubric.reward`` (a ``@vf.reward`` hook, weight ``weight``): the composite reward (format
  gate, execution, leakage, non-degradation, cost), not a sum of parts, since the gates are not
  additive;
- ``rubric.metrics`` (a ``@vf.metric`` hook): every component (``exectune/format``,
  ``exectune/execution``, ``exectune/leakage``, ``exectune/cost``, ...), so they show in the logs.

The completion is the rollout's last reply (``trace.last_reply``). The task comes from the
``TaskData``: a field named ``exectune`` (or ``label``) holding the task as an object, JSON or
a task id; else the data's own task columns (``problem``, ``kind``, ``tests``, ``answer``, ...);
else its ``id`` as a task id of the loaded table. verifiers records a reward with ``float()``:
a completion that cannot be scored (infrastructure, an unusable row) raises
:class:`~exectune_rl.adapters.RewardUnavailableError` with the reason, which verifiers
records as a scoring error of that rollout, never as 0.

Tested through verifiers' own ``Task.score`` in a separate environment
(``benchmarks/compat/run_verifiers.sh``: verifiers 0.4 needs ``openai<3``); the main test run
checks the hooks against the contract read from verifiers' code.

Example:
    >>> import verifiers.v1 as vf                                      # doctest: +SKIP
    >>> from exectune_rl.adapters.verifiers import ExecTuneRubric     # doctest: +SKIP
    >>> rubric = ExecTuneRubric(config="serve.yaml")                  # doctest: +SKIP
    >>> class CodeData(vf.TaskData):                                   # doctest: +SKIP
    ...     exectune: dict | str                                      # the task, or its id
    >>> class CodeTask(vf.Task[CodeData, vf.State, vf.TaskConfig]):   # doctest: +SKIP
    ...     exectune = rubric.reward
    ...     exectune_components = rubric.metrics
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Mapping
from typing import Any

from exectune_rl.adapters._scoring import COMPONENT_KEYS, RewardUnavailableError, get_scorer

__all__ = ["ExecTuneRubric", "task_label", "exectune_reward", "exectune_metrics"]

_LABEL_FIELDS = ("exectune", "label")
_TASK_FIELDS = ("problem", "question", "task")
_RECENT = 1024


def _data(task: Any) -> dict[str, Any]:
    if isinstance(task, Mapping):
        return dict(task)
    dump = getattr(task, "model_dump", None)
    return dict(dump()) if callable(dump) else dict(vars(task))


def task_label(task: Any) -> Any:
    """The label a verifiers ``TaskData`` carries (see the module docstring)."""
    data = _data(task)
    for name in _LABEL_FIELDS:
        if data.get(name) is not None:
            return data[name]
    if any(data.get(k) not in (None, "") for k in _TASK_FIELDS):
        return {k: v for k, v in data.items() if v is not None and k not in ("prompt", "system_prompt", "idx")}
    return data.get("id")


class _Hook:
    """A verifiers scoring hook: an ``async (task, trace)`` callable carrying verifiers' tags.

    Not a function, so a ``Task`` class attribute holding it is not bound to the task (verifiers
    reads the hook's signature to inject arguments by name).
    """

    def __init__(self, rubric: "ExecTuneRubric", kind: str, name: str, weight: float) -> None:
        self._rubric = rubric
        self._kind = kind
        self.__name__ = name
        setattr(self, kind, True)  # what verifiers' @vf.reward / @vf.metric set
        setattr(self, f"{kind}_priority", 0)
        if kind == "reward":
            self._vf_weight = weight

    async def __call__(self, task: Any, trace: Any) -> Any:
        record = await self._rubric.ascore(task, trace.last_reply)
        return self._rubric.reward_of(record) if self._kind == "reward" else self._rubric.metrics_of(record)

    def __repr__(self) -> str:
        return f"<ExecTune {self._kind} hook {self.__name__}>"


class ExecTuneRubric:
    """ExecTune's reward and components as verifiers scoring hooks.

    Args:
        config: A serve recipe (default ``EXECTUNE_REWARD_RECIPE``, else ``exectune score``'s default).
        url / token: Score through ``exectune serve`` instead.
        weight: The reward hook's weight in the rollout's reward.
        name: The hooks' names (``<name>`` reward, ``<name>/<component>`` metrics).
    """

    def __init__(self, config: str | None = None, *, url: str | None = None, token: str | None = None,
                 weight: float = 1.0, name: str = "exectune") -> None:  # fmt: skip
        self.config, self.url, self.token, self.name = config, url, token, name
        # verifiers awaits the metric hooks, then the reward hooks, on the same rollout: score it once.
        self._recent: collections.OrderedDict[str, asyncio.Future] = collections.OrderedDict()
        self.reward = _Hook(self, "reward", name, weight)
        self.metrics = _Hook(self, "metric", f"{name}_components", weight)

    @property
    def scorer(self) -> Any:
        return get_scorer(self.config, self.url, self.token)

    async def ascore(self, task: Any, completion: str) -> dict[str, Any]:
        """The record of one completion for one verifiers task (scored once for both hooks)."""
        label = task_label(task)
        key = json.dumps([id(asyncio.get_running_loop()), label, completion], sort_keys=True, default=str)
        pending = self._recent.get(key)
        if pending is None or (pending.done() and pending.exception() is not None):
            pending = asyncio.ensure_future(self._score(label, completion))
            self._recent[key] = pending
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return await asyncio.shield(pending)

    async def _score(self, label: Any, completion: str) -> dict[str, Any]:
        scorer = self.scorer
        [row] = scorer.rows_for([label], [completion])
        [record] = await scorer.ascore([row])
        return record

    def reward_of(self, record: Mapping[str, Any]) -> float:
        if record.get("reward") is None:
            raise RewardUnavailableError(record.get("reason") or "not scored", record.get("status") or "infra")
        return float(record["reward"])

    def metrics_of(self, record: Mapping[str, Any]) -> dict[str, float]:
        """The components that were computed (verifiers records numbers only)."""
        return {f"{self.name}/{k}": float(record[k]) for k in COMPONENT_KEYS if record.get(k) is not None}


_DEFAULT: ExecTuneRubric | None = None


def _default() -> ExecTuneRubric:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ExecTuneRubric()
    return _DEFAULT


async def exectune_reward(task: Any, trace: Any) -> float:
    """A reward function to plug by path (``fn: exectune_rl.adapters.verifiers:exectune_reward``)."""
    rubric = _default()
    return rubric.reward_of(await rubric.ascore(task, trace.last_reply))


async def exectune_metrics(task: Any, trace: Any) -> dict[str, float]:
    """A metric function to plug by path: every component of the ExecTune reward."""
    rubric = _default()
    return rubric.metrics_of(await rubric.ascore(task, trace.last_reply))
