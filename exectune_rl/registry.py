"""One resolver for every name that YAML files and the CLI use.

A name resolves in this order:

1. a built-in registered with :meth:`Registry.register`;
2. an entry point in the registry's group (``exectune_rl.sandboxes``, ...), which is how
   plugins (the first-party ones under ``sandboxes/`` and ``rewards/`` included) extend
   the toolkit;
3. an import path ``package.module:attribute``.

An unknown name raises :class:`~exectune_rl.errors.UnknownNameError` listing what is known.

Example:
    >>> from exectune_rl.registry import sandbox_registry
    >>> sandbox_registry.resolve("local").__name__
    'LocalSandbox'
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from exectune_rl.errors import RegistryError, UnknownNameError

__all__ = ["Registry", "RegistryEntry", "sandbox_registry", "core_registry", "leakage_registry", "registries"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistryEntry:
    """What the registry knows about one name."""

    name: str
    source: str  # "builtin" or "entry-point"
    target: str  # "pkg.mod:attr"


class Registry:
    """Resolves names of one kind of plugin (sandboxes, cores, leakage detectors).

    Args:
        kind: Human name of the plugin kind, used in error messages.
        group: The entry-point group plugins register under.
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._builtins: dict[str, str] = {}

    def register(self, name: str, target: str) -> None:
        """Register a built-in as a lazy ``pkg.mod:attr`` path (nothing is imported now)."""
        if ":" not in target:
            raise RegistryError(f"target for {name!r} must look like 'pkg.mod:attr', got {target!r}")
        self._builtins[name] = target

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        try:
            eps = metadata.entry_points(group=self.group)
        except Exception:  # a broken distribution must not break the registry
            logger.warning("could not read entry points of group %s", self.group, exc_info=True)
            return {}
        return {ep.name: ep for ep in eps}

    def entries(self) -> list[RegistryEntry]:
        """Every name the registry can resolve without an import path, built-ins first."""
        out = [RegistryEntry(n, "builtin", t) for n, t in sorted(self._builtins.items())]
        for name, ep in sorted(self._entry_points().items()):
            if name not in self._builtins:
                out.append(RegistryEntry(name, "entry-point", ep.value))
        return out

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def resolve(self, name: str) -> Any:
        """Return the object a name stands for.

        Raises:
            UnknownNameError: the name is not known and is not an import path.
            RegistryError: the name is known but its target cannot be imported.
        """
        if not isinstance(name, str) or not name:
            raise UnknownNameError(self.kind, str(name), self.names())
        if name in self._builtins:
            return _load(self._builtins[name], name)
        eps = self._entry_points()
        if name in eps:
            try:
                return eps[name].load()
            except Exception as exc:
                raise RegistryError(f"{self.kind} plugin {name!r} ({eps[name].value}) failed to load: {exc}") from exc
        if ":" in name:
            return _load(name, name)
        raise UnknownNameError(self.kind, name, self.names())

    def unavailable_reason(self, name: str) -> str | None:
        """Why ``name`` cannot be used on this machine, or None when it can.

        A plugin is unavailable when its target does not import (a missing Python package) or
        when the object it names has an ``unavailable_reason()`` that returns a reason (a
        missing runtime dependency, such as the ``bwrap`` binary). Nothing is constructed.

        Example:
            >>> sandbox_registry.unavailable_reason("local") is None
            True
        """
        try:
            obj = self.resolve(name)
        except RegistryError as exc:
            return str(exc)
        check = getattr(obj, "unavailable_reason", None)
        if not callable(check):
            return None
        try:
            reason = check()
        except Exception as exc:  # a plugin's own check failing says it cannot be used
            return f"its availability check failed: {type(exc).__name__}: {exc}"
        return str(reason) if reason else None

    def create(self, name: str, **options: Any) -> Any:
        """Resolve ``name`` and call it with ``options`` (a class or a factory)."""
        factory: Callable[..., Any] = self.resolve(name)
        return factory(**options)


def _load(target: str, name: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"cannot import {module_name!r} for {name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise RegistryError(f"{module_name!r} has no attribute {attr!r} (for {name!r})") from exc
    return obj


sandbox_registry = Registry("sandbox", "exectune_rl.sandboxes")
sandbox_registry.register("local", "exectune_rl.sandboxes.local:LocalSandbox")
sandbox_registry.register("restricted", "exectune_rl.sandboxes.restricted:RestrictedSandbox")

core_registry = Registry("core", "exectune_rl.cores")
core_registry.register("openai", "exectune_rl.cores.openai:OpenAICompatibleCore")
core_registry.register("transformers", "exectune_rl.cores.transformers:TransformersCore")
core_registry.register("program", "exectune_rl.cores.program:ProgramCore")
core_registry.register("callable", "exectune_rl.cores.base:CallableCore")

leakage_registry = Registry("leakage detector", "exectune_rl.leakage_detectors")
for _name, _cls in (
    ("gold_answer", "GoldAnswerDetector"),
    ("entry_point_body", "EntryPointBodyDetector"),
    ("long_code_block", "LongCodeBlockDetector"),
    ("reference_overlap", "ReferenceOverlapDetector"),
    ("hack_instruction", "HackInstructionDetector"),
):
    leakage_registry.register(_name, f"exectune_rl.rewards.leakage:{_cls}")

registries: dict[str, Registry] = {
    "sandboxes": sandbox_registry,
    "cores": core_registry,
    "leakage detectors": leakage_registry,
}
