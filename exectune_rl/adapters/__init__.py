"""The ExecTune reward in other RL frameworks' contracts.

- :mod:`exectune_rl.adapters.verl`: ``compute_score`` / ``compute_score_async`` for verl's
  ``custom_reward_function``;
- :mod:`exectune_rl.adapters.openrlhf`: a ``reward_func`` file for OpenRLHF's ``--reward.remote_url``
  (the service, ``exectune serve``, speaks OpenRLHF's HTTP protocol itself);
- :mod:`exectune_rl.adapters.verifiers`: :class:`~exectune_rl.adapters.verifiers.ExecTuneRubric`,
  reward and metric hooks for a verifiers ``Task``.

Each scores in-process (a recipe, or ``exectune score``'s embedded default) or through a
running ``exectune serve`` (a URL), chosen by :func:`get_scorer`. Nothing here imports the
frameworks themselves.
"""

from __future__ import annotations

from exectune_rl._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Scorer": "_scoring",
    "get_scorer": "_scoring",
    "RewardUnavailableError": "_scoring",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
