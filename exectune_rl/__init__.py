"""exectune-rl: rewards, sandboxes and recipes for training guide models (ExecTune).

Importing the package is cheap: subpackages are imported on first use and nothing here
imports torch, transformers or trl.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("sandboxes", "rewards", "cores", "tasks", "runtime", "training", "evaluation", "errors")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
