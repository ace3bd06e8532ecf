"""The layering in pyproject.toml holds: `lint-imports` runs in the test run, so a cycle fails CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    return found


def test_import_contracts_are_kept():
    proc = subprocess.run([_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "layers" not in proc.stderr


def test_a_reversed_layering_is_reported_broken(tmp_path):
    # The check must be able to fail: with sandboxes placed above rewards, the real imports break it.
    config = tmp_path / "reversed.ini"
    config.write_text(
        "[importlinter]\nroot_package = exectune_rl\n\n"
        "[importlinter:contract:reversed]\nname = reversed\ntype = layers\n"
        "layers =\n    exectune_rl.sandboxes\n    exectune_rl.rewards\n"
    )
    proc = subprocess.run([_lint_imports(), "--config", str(config), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "BROKEN" in proc.stdout
    assert "exectune_rl.rewards" in proc.stdout


def test_every_room_of_the_package_is_in_the_layering():
    # A new subpackage or top-level module left out of the contract would be unconstrained.
    import pkgutil
    import tomllib

    import exectune_rl

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [layers] = [c["layers"] for c in config if c["type"] == "layers"]
    listed = {name.strip().strip("()") for layer in layers for name in layer.replace(":", "|").split("|")}
    present = {f"exectune_rl.{m.name}" for m in pkgutil.iter_modules(exectune_rl.__path__)}
    assert present - listed == set(), sorted(present - listed)
