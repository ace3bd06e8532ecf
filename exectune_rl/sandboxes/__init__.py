"""Sandboxes: isolated execution of untrusted programs.

Public contract: ``ExecRequest``, ``ExecResult``, ``ExecStatus``, ``Sandbox``,
``LocalSandbox``, ``RestrictedSandbox``, ``get_sandbox`` and the test runner
(``ProgramTests``, ``TestOutcome``, ``run_tests``).
"""

from __future__ import annotations

from typing import Any

from exectune_rl._lazy import lazy_exports
from exectune_rl.sandboxes.base import ExecRequest, ExecResult, ExecStatus, Sandbox

__all__ = [
    "ExecRequest",
    "ExecResult",
    "ExecStatus",
    "Sandbox",
    "LocalSandbox",
    "RestrictedSandbox",
    "get_sandbox",
    "ProgramTests",
    "TestOutcome",
    "run_tests",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {"LocalSandbox": "local", "RestrictedSandbox": "restricted", "ProgramTests": "runner",
     "TestOutcome": "runner", "run_tests": "runner"},
)


def get_sandbox(name: str = "local", **options: Any) -> Sandbox:
    """Create a sandbox by name through the registry.

    Built-ins (``local``, ``restricted``) first, then the ``exectune_rl.sandboxes`` entry
    points, then a ``pkg.mod:attr`` path.

    Example:
        >>> sb = get_sandbox("local", workers=2)   # doctest: +SKIP
    """
    from exectune_rl.errors import RegistryError
    from exectune_rl.registry import sandbox_registry

    sandbox = sandbox_registry.create(name, **options)
    if not isinstance(sandbox, Sandbox):
        raise RegistryError(f"{name!r} made a {type(sandbox).__name__}, not a Sandbox")
    return sandbox
