"""Building a core from a registry name and options: the one way the CLI and recipes do it.

A core whose constructor takes a ``sandbox`` (``program``) gets one made from the sandbox
registry unless the options carry one; options the constructor does not take are a one-line
:class:`~exectune_rl.errors.ConfigError` naming those it does.

Example:
    >>> core, sandbox = make_core("callable", {"fn": lambda req: "42"})
    >>> core.generate([CoreRequest.from_prompt("6*7?")])[0].text, sandbox
    ('42', None)
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from exectune_rl.cores.base import Core, CoreRequest  # noqa: F401 - CoreRequest for the example
from exectune_rl.errors import ConfigError, ExecTuneError

__all__ = ["make_core"]

# Spellings users reach for first, mapped to the constructor's parameter names.
_OPTION_ALIASES = {"TransformersCore": {"model": "model_or_path", "path": "model_or_path"}}


def _accepted(signature: inspect.Signature | None) -> list[str]:
    if signature is None:
        return []
    params = signature.parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]


def _close(obj: Any) -> None:
    if obj is not None:
        obj.close()


def make_core(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    sandbox_name: str = "local",
    sandbox_options: Mapping[str, Any] | None = None,
) -> tuple[Core, Any]:
    """The core registered as ``name``, built with ``options``, and the sandbox made for it.

    Args:
        name: A core registry name (built-in, entry point or ``pkg.mod:attr``).
        options: Constructor keyword arguments; a ``sandbox`` option may be an object or a
            sandbox registry name.
        sandbox_name / sandbox_options: The sandbox made for a core that takes one.

    Returns:
        ``(core, sandbox)``: ``sandbox`` is the one made here (the caller closes it), else None.

    Raises:
        ConfigError: unknown or missing options, or a core that cannot be made from them.
    """
    from exectune_rl.registry import core_registry

    factory = core_registry.resolve(name)
    options = dict(options or {})
    for alias, real in _OPTION_ALIASES.get(getattr(factory, "__name__", ""), {}).items():
        if alias in options and real not in options:
            options[real] = options.pop(alias)
    try:
        signature: inspect.Signature | None = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to check (a C callable): the call below decides
        signature = None
    accepted = _accepted(signature)
    sandbox = None
    if "sandbox" in accepted and not hasattr(options.get("sandbox"), "run"):
        from exectune_rl.sandboxes import get_sandbox

        sandbox = options["sandbox"] = get_sandbox(str(options.pop("sandbox", None) or sandbox_name), **dict(sandbox_options or {}))
    if signature is not None:
        takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        unknown = [k for k in options if k not in accepted and not takes_any]
        try:
            problem = f"unknown option(s) {', '.join(map(repr, unknown))}" if unknown else None
            signature.bind(**options)
        except TypeError as exc:
            problem = problem or str(exc)
        if problem:
            _close(sandbox)
            raise ConfigError(f"core {name!r}: {problem}; accepted --core-option keys: {', '.join(accepted) or 'none'}")
    try:
        return factory(**options), sandbox
    except ExecTuneError:
        _close(sandbox)
        raise
    except (TypeError, ValueError, OSError) as exc:
        _close(sandbox)
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(f"cannot create core {name!r} from {sorted(options)}: {type(exc).__name__}: {reason}") from None
