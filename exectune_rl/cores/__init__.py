"""Cores: the black-box models that execute a guide's strategy."""

from __future__ import annotations

from exectune_rl._lazy import lazy_exports
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
    "OpenAICompatibleCore": "openai",
    "TransformersCore": "transformers",
    "ProgramCore": "program",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
