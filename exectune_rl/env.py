"""Environment variables read by exectune-rl: ``EXECTUNE_*`` only, parsed in this one module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "settings"]


def _int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Process-wide settings taken from the environment."""

    cache_dir: Path
    """Where the response cache and other state live (``EXECTUNE_CACHE_DIR``)."""
    sandbox_workers: int | None
    """Default worker count for ``LocalSandbox`` (``EXECTUNE_SANDBOX_WORKERS``); None: CPU count."""
    sandbox_uid: int
    """First unprivileged uid task children drop to when running as root (``EXECTUNE_SANDBOX_UID``)."""

    @classmethod
    def from_environ(cls) -> "Settings":
        cache = os.environ.get("EXECTUNE_CACHE_DIR") or str(Path.home() / ".cache" / "exectune")
        return cls(
            cache_dir=Path(cache),
            sandbox_workers=_int("EXECTUNE_SANDBOX_WORKERS", None),
            sandbox_uid=_int("EXECTUNE_SANDBOX_UID", 61000) or 61000,
        )


def settings() -> Settings:
    """Return the settings read from the current environment."""
    return Settings.from_environ()
