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
    serve_token: str | None = None
    """Bearer token ``exectune serve`` requires and ``exectune_rl.client`` sends (``EXECTUNE_SERVE_TOKEN``)."""
    reward_recipe: str | None = None
    """Recipe the framework adapters load when given none (``EXECTUNE_REWARD_RECIPE``)."""
    reward_url: str | None = None
    """An ``exectune serve`` URL the framework adapters call instead of scoring in-process (``EXECTUNE_REWARD_URL``)."""

    @classmethod
    def from_environ(cls) -> "Settings":
        cache = os.environ.get("EXECTUNE_CACHE_DIR") or str(Path.home() / ".cache" / "exectune")
        return cls(
            cache_dir=Path(cache),
            sandbox_workers=_int("EXECTUNE_SANDBOX_WORKERS", None),
            sandbox_uid=_int("EXECTUNE_SANDBOX_UID", 61000) or 61000,
            serve_token=os.environ.get("EXECTUNE_SERVE_TOKEN") or None,
            reward_recipe=os.environ.get("EXECTUNE_REWARD_RECIPE") or None,
            reward_url=os.environ.get("EXECTUNE_REWARD_URL") or None,
        )


def settings() -> Settings:
    """Return the settings read from the current environment."""
    return Settings.from_environ()
