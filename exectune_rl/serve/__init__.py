"""``exectune serve``: the composite reward as an HTTP service any RL loop can call.

:func:`create_app` (FastAPI, the ``server`` extra) serves a :class:`ScoringRun` built by
:func:`open_scoring_run` from a serve recipe or, with none, ``exectune score``'s embedded
default. The client is :mod:`exectune_rl.client`; the framework adapters are in
:mod:`exectune_rl.adapters`.

Example:
    >>> from exectune_rl.serve import open_scoring_run, create_app   # doctest: +SKIP
    >>> app = create_app(open_scoring_run("serve.yaml"), token="s3cret")   # doctest: +SKIP
"""

from __future__ import annotations

from exectune_rl._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "create_app": "app",
    "ServeLimits": "config",
    "ServeRecipe": "config",
    "ScoringRun": "run",
    "open_scoring_run": "run",
    "load_serve_recipe": "run",
    "default_reward_config": "run",
    "Batcher": "batcher",
    "Saturated": "batcher",
    "DeadlineExceeded": "batcher",
    "LabelError": "labels",
    "label_row": "labels",
    "label_rows": "labels",
    "ServeMetrics": "metrics",
    "openrlhf_answer": "protocol",
    "native_answer": "protocol",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
