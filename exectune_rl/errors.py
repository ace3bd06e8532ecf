"""The one exception tree of exectune-rl.

Everything the library raises on purpose derives from :class:`ExecTuneError`, so callers
can catch the whole family at once. Bad *model output* is never an exception: it is a
typed result (an ``ExecStatus``, a reward component). Exceptions are for bad arguments,
bad configuration and missing optional dependencies.
"""

from __future__ import annotations

__all__ = [
    "ExecTuneError",
    "ConfigError",
    "RegistryError",
    "UnknownNameError",
    "MissingDependencyError",
    "SandboxError",
    "SandboxClosedError",
    "CoreError",
    "CacheError",
    "DataError",
    "MissingColumnError",
    "GrammarNotInstalledError",
]


class ExecTuneError(Exception):
    """Base class of every error exectune-rl raises on purpose."""


class ConfigError(ExecTuneError, ValueError):
    """A configuration value is invalid; the message names the field and the value."""


class RegistryError(ExecTuneError):
    """A name could not be resolved to a plugin."""


class UnknownNameError(RegistryError, KeyError):
    """A name is not a built-in, an entry point, nor an importable ``pkg.mod:attr`` path."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"unknown {kind} {name!r}; known: {', '.join(self.known) or '(none)'}; "
            f"or give an import path such as 'package.module:attribute'"
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class MissingDependencyError(ExecTuneError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str | None = None, purpose: str = "") -> None:
        hint = f"pip install 'exectune-rl[{extra}]'" if extra else f"pip install {package}"
        what = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"{package} is not installed{what}; install it with: {hint}")
        self.package = package
        self.extra = extra


class SandboxError(ExecTuneError):
    """The sandbox itself cannot work (not the code it runs)."""


class SandboxClosedError(SandboxError):
    """The sandbox was used after ``close()``."""


class CoreError(ExecTuneError):
    """A core was misconfigured. Failed *calls* are values (``CoreResponse.error``), not this."""


class CacheError(ExecTuneError):
    """The response cache cannot be opened or used (corrupted, locked, unwritable)."""


class DataError(ExecTuneError, ValueError):
    """Input data (a task file, a JSONL row) is malformed."""


class MissingColumnError(DataError, KeyError):
    """A dataset lacks a column a reward needs."""

    def __str__(self) -> str:
        return str(self.args[0])


class GrammarNotInstalledError(ExecTuneError, ImportError):
    """The tree-sitter grammar wheel for a language is not installed."""
