"""The exectune command at its edges: every user mistake is one clear line and exit status 2,
never a traceback; what cannot run here says so. Each test runs the console script as a
subprocess, as a user would, and checks the exit status and that stderr holds no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXECTUNE = shutil.which("exectune", path=os.path.dirname(sys.executable)) or "exectune"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXECTUNE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *needles: str, status: int = 2) -> str:
    """Exit ``status``, no traceback, and the message (its last line) mentions every needle."""
    err = proc.stderr
    assert proc.returncode == status, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    for needle in needles:
        assert needle in err, (needle, err[-2000:])
    return err


def test_plugins_shows_a_plugin_whose_runtime_dependency_is_missing_as_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("exectune_sandbox_bwrap")
    # PATH without bubblewrap, whether or not this machine has it: the bwrap plugin imports but cannot run.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {"PATH": str(bindir)}
    proc = subprocess.run([sys.executable, "-m", "exectune_rl.cli", "plugins"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [line] = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("bwrap ")]
    assert "unavailable: bubblewrap is not installed" in line
    assert "[available]" in next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("local "))
    rows = json.loads(subprocess.run([sys.executable, "-m", "exectune_rl.cli", "plugins", "--json"], capture_output=True,
                                     text=True, timeout=60, env={**os.environ, **env}).stdout)  # fmt: skip
    bwrap = next(r for r in rows if r["name"] == "bwrap")
    assert bwrap["available"] is False and "bubblewrap" in bwrap["reason"]


def test_a_plugin_that_does_not_import_is_unavailable_with_the_reason() -> None:
    from exectune_rl.registry import Registry

    reg = Registry("sandbox", "exectune_rl.no_such_group")
    reg.register("broken", "exectune_rl.no_such_module:Thing")
    reg.register("fine", "exectune_rl.sandboxes.local:LocalSandbox")
    assert "no_such_module" in reg.unavailable_reason("broken")
    assert reg.unavailable_reason("fine") is None
