"""exectune-sandbox-ray: ``LocalSandbox`` pools on the nodes of a Ray cluster.

``RaySandbox`` places one Ray actor per node, each owning a ``LocalSandbox`` sized by the
node's CPUs, and spreads batches over them by load; ``RayMathVerifier`` checks math answers
on the same actors. Ray itself is imported only when a sandbox is made, so the entry point
(``get_sandbox("ray")``, ``exectune plugins``) resolves without it and a missing Ray is a
:class:`RayNotInstalledError` that names ``pip install exectune-sandbox-ray``.

Example:
    >>> from exectune_rl.sandboxes import get_sandbox
    >>> with get_sandbox("ray", address="auto") as sb:        # doctest: +SKIP
    ...     print(sb.run(["print('hi')"])[0].stdout)
"""

from typing import Any

from exectune_sandbox_ray.sandbox import RayNotInstalledError, RaySandbox

__all__ = ["RaySandbox", "RayMathVerifier", "RayNotInstalledError"]


def __getattr__(name: str) -> Any:
    # The math verifier imports the reward room; the sandbox alone does not need it.
    if name == "RayMathVerifier":
        from exectune_sandbox_ray.math import RayMathVerifier

        return RayMathVerifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
