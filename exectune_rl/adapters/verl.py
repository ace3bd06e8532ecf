"""The ExecTune reward as verl's custom reward function.

verl loads ``custom_reward_function.name`` from ``custom_reward_function.path`` (a file, or
``pkg://`` a module; the section sits under ``reward:`` since verl 0.9), merges ``custom_reward_function.reward_kwargs`` into every call's keyword
arguments, and calls it once per response as ``compute_score(data_source=..., solution_str=...,
ground_truth=..., extra_info=...)``; a dict result must carry ``"score"``, and its other keys
are logged as ``reward_extra_info``. verl's reward loop awaits the function when it is a
coroutine function (``inspect.iscoroutinefunction``): use :func:`compute_score_async` there.

``ground_truth`` (the dataset's ``reward_model.ground_truth``) carries the task: a task id of
the loaded task table, the task as an object, or as JSON (:mod:`exectune_rl.serve.labels`).
``extra_info`` may add task columns (``problem``, ``kind``, ``tests``, ...; then a plain
``ground_truth`` such as ``"72"`` is the gold answer) and ``core_output``. ``solution_str`` is
the guide's response.

The answer: ``{"score": reward, "status": ..., "format": ..., "execution": ..., ...}`` with
the same keys for every response (verl stacks them into arrays); a component that was not
computed is NaN. verl has no missing reward: when the infrastructure fails (or the row is
unusable) this raises :class:`~exectune_rl.adapters.RewardUnavailableError` with the reason,
unless ``reward_kwargs`` sets ``missing_score`` to the value you accept in its place. It never
silently returns 0.

Keyword arguments (through ``reward_kwargs``): ``config`` (a serve recipe; default
``EXECTUNE_REWARD_RECIPE``, else ``exectune score``'s embedded default), ``url`` and ``token``
(score through ``exectune serve``), ``missing_score``.

Tested through verl 0.9.1's own ``get_custom_reward_fn`` in a separate environment
(``benchmarks/compat/run_verl.sh``: verl needs transformers < 5.11); the main test run checks the
same contract without verl.

Example (a verl 0.9 config)::

    reward:
      custom_reward_function:
        path: pkg://exectune_rl.adapters.verl    # or the file: python -c "import exectune_rl.adapters.verl as m; print(m.__file__)"
        name: compute_score                      # compute_score_async for the reward loop
        reward_kwargs:
          config: /path/to/serve.yaml            # or url: http://scorer:8000

    >>> compute_score("humaneval", "<strategy>...</strategy>", "HumanEval/0",
    ...               extra_info={"core_output": "def has_close_elements(...): ..."})   # doctest: +SKIP
    {'score': 0.35, 'status': 'scored', 'format': 1.0, 'execution': 0.6, ...}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from exectune_rl.adapters._scoring import COMPONENT_KEYS, RewardUnavailableError, get_scorer

__all__ = ["compute_score", "compute_score_async", "build_row"]

_ROW_COLUMNS = frozenset((
    "task_id", "kind", "problem", "question", "answer", "tests", "test", "test_format", "entry_point", "reference",
    "language", "core_output", "core_outputs", "core_only_output", "task",
))  # fmt: skip
_OPTIONS = ("config", "url", "token", "missing_score")


def build_row(solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None, scorer: Any) -> dict[str, Any]:
    """The ``exectune score`` row for one verl call."""
    extra = {k: v for k, v in dict(extra_info or {}).items() if k in _ROW_COLUMNS and v is not None}
    has_task = any(k in extra for k in ("problem", "question", "task"))
    plain = isinstance(ground_truth, (str, int, float)) and not isinstance(ground_truth, bool)
    if has_task and plain and not str(ground_truth).strip().startswith("{") and str(ground_truth) not in scorer.tasks:
        label: Any = {**extra, "answer": str(ground_truth)}  # verl's usual shape: the gold answer, the task in extra_info
        extra = {}
    else:
        label = ground_truth
    [row] = scorer.rows_for([label], [solution_str], [extra])
    return row


def _result(record: Mapping[str, Any], missing: Any) -> dict[str, Any]:
    reward = record.get("reward")
    if reward is None:
        if missing is None:
            raise RewardUnavailableError(record.get("reason") or "not scored", record.get("status") or "infra")
        reward = float(missing)
    out: dict[str, Any] = {"score": float(reward), "status": record.get("status", "")}
    for key in COMPONENT_KEYS:
        value = record.get(key)
        out[key] = math.nan if value is None else float(value)
    return out


def _split(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    opts = {k: kwargs.get(k) for k in _OPTIONS}
    return get_scorer(opts["config"], opts["url"], opts["token"]), opts["missing_score"]


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """verl's reward function: the ExecTune reward of one response.

    Args:
        data_source: The dataset's ``data_source`` (not used for scoring).
        solution_str: The guide's response.
        ground_truth: The task (id, object or JSON), or the gold answer when ``extra_info`` has the task.
        extra_info: More task columns, ``core_output``; verl's own keys are ignored.
        **kwargs: ``config``, ``url``, ``token``, ``missing_score`` (from ``reward_kwargs``); others ignored.

    Returns:
        ``{"score": ..., "status": ..., <component>: value or NaN}``.

    Raises:
        RewardUnavailableError: no reward (infrastructure, or an unusable row) and no ``missing_score``.
        LabelError: the task cannot be found (in-process; the service answers 422, raised as RemoteRewardError).
    """
    scorer, missing = _split(kwargs)
    row = build_row(solution_str, ground_truth, extra_info, scorer)
    [record] = scorer.score([row])
    return _result(record, missing)


async def compute_score_async(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """:func:`compute_score` for verl's reward loop, which awaits coroutine functions.

    Example:
        >>> await compute_score_async("humaneval", "<strategy>...</strategy>", "HumanEval/0", {"core_output": "..."})  # doctest: +SKIP
    """
    scorer, missing = _split(kwargs)
    row = build_row(solution_str, ground_truth, extra_info, scorer)
    [record] = await scorer.ascore([row])
    return _result(record, missing)
