"""Helpers for the long-lived helper processes the toolkit starts (sandbox and math workers)."""

from __future__ import annotations

import subprocess


def kill_and_reap(proc: subprocess.Popen, timeout_s: float) -> bool:  # type: ignore[type-arg]
    """SIGKILL ``proc``, close the pipes to it and wait for it; never raises.

    Returns:
        True when the process is gone (reaped), False when it did not exit within ``timeout_s``.
    """
    try:
        proc.kill()
    except OSError:
        pass
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return True
