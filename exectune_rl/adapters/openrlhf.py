"""A ``reward_func`` file that OpenRLHF loads locally: ``--reward.remote_url`` set to this file's path.

OpenRLHF (0.10+, ``SingleTurnAgentExecutor``) loads a ``.py`` path given as
``--reward.remote_url`` with ``importlib.util.spec_from_file_location`` and calls its
``reward_func(queries, prompts, labels)`` from a thread, one response at a time; ``queries``
are prompt + response as its tokenizer decoded them, ``labels`` the dataset's
``--data.label_key`` field. It reads ``rewards``, ``scores`` and ``extra_logs`` from the dict.

Labels carry the task (:mod:`exectune_rl.serve.labels`): a task id of the loaded table, the
task as an object, or as a JSON string. Which reward: ``EXECTUNE_REWARD_URL`` (a running
``exectune serve``), else ``EXECTUNE_REWARD_RECIPE`` (a serve recipe), else ``exectune score``'s
embedded default; or build your own with :func:`make_reward_func`.

OpenRLHF has no missing reward: when a completion cannot be scored (the infrastructure
failed, the row is unusable) this raises :class:`~exectune_rl.adapters.RewardUnavailableError`
with the reason, which OpenRLHF's executor catches and logs, leaving that sample without a
reward; it never returns 0 in its place. (With the HTTP service instead, the answer carries a
null reward and the reason.)

Example:
    $ openrlhf ... --reward.remote_url "$(python -c 'import exectune_rl.adapters.openrlhf as m; print(m.__file__)')" \\
          --data.label_key task

    >>> reward_func(["<prompt><strategy>...</strategy>"], ["<prompt>"], ["HumanEval/0"])   # doctest: +SKIP
    {'rewards': [0.35], 'scores': [0.6], 'extra_logs': {'exectune/format': 1.0, ...}}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from exectune_rl.adapters._scoring import COMPONENT_KEYS, RewardUnavailableError, get_scorer
from exectune_rl.errors import DataError

__all__ = ["reward_func", "make_reward_func"]


def make_reward_func(config: str | None = None, url: str | None = None, token: str | None = None) -> Callable[..., dict[str, Any]]:
    """A ``reward_func`` over a recipe (in-process) or an ``exectune serve`` URL.

    Example (a file of your own, given to ``--reward.remote_url``)::

        from exectune_rl.adapters.openrlhf import make_reward_func
        reward_func = make_reward_func(config="/path/to/serve.yaml")
    """

    def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> dict[str, Any]:
        """OpenRLHF's contract: ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``, one entry per query."""
        from exectune_rl.serve.labels import completion_from_query

        if queries is None or labels is None:
            raise DataError(f"reward_func needs queries and labels, one per completion; got queries={type(queries).__name__}, "
                            f"labels={type(labels).__name__}")
        queries, labels = list(queries), list(labels)
        if prompts is None:
            prompts = [None] * len(queries)
        prompts = list(prompts)
        if not len(queries) == len(labels) == len(prompts):  # zip would drop the extra rewards silently
            raise DataError(f"reward_func got {len(queries)} queries, {len(prompts)} prompts and {len(labels)} labels: "
                            "give one of each per completion")
        scorer = get_scorer(config, url, token)
        completions = [completion_from_query(q, p) for q, p in zip(queries, prompts)]
        records = scorer.score(scorer.rows_for(list(labels), completions))
        unscored = [r for r in records if r.get("reward") is None]
        if unscored:
            raise RewardUnavailableError(unscored[0].get("reason") or "not scored", unscored[0].get("status") or "infra")
        logs: dict[str, float] = {}
        for key in COMPONENT_KEYS:
            values = [float(r[key]) for r in records if r.get(key) is not None]
            if values:
                logs[f"exectune/{key}"] = sum(values) / len(values)
        return {
            "rewards": [float(r["reward"]) for r in records],
            "scores": [min(1.0, max(0.0, float(r.get("execution") or 0.0))) for r in records],
            "extra_logs": logs,
        }

    return reward_func


reward_func = make_reward_func()
"""The ``reward_func`` OpenRLHF calls (reward chosen by ``EXECTUNE_REWARD_URL`` / ``EXECTUNE_REWARD_RECIPE``)."""
