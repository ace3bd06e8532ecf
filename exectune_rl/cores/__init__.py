"""Cores: the black-box models that execute a guide's strategy."""

from __future__ import annotations

import importlib
from typing import Any

from exectune_rl.cores.base import CallableCore, Core, CoreFailure, CoreFailureKind, CoreRequest, CoreResponse, Usage

__all__ = [
    "Core",
    "CoreRequest",
    "CoreResponse",
    "CoreFailure",
    "CoreFailureKind",
    "CallableCore",
    "Usage",
    "OpenAICompatibleCore",
    "TransformersCore",
    "ProgramCore",
]

_LAZY = {
    "OpenAICompatibleCore": "exectune_rl.cores.openai",
    "TransformersCore": "exectune_rl.cores.transformers",
    "ProgramCore": "exectune_rl.cores.program",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
