"""The service's and the adapters' public names resolve, and importing them needs no framework."""

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["exectune_rl.serve", "exectune_rl.adapters", "exectune_rl.client"])
def test_all_names_resolve(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_the_adapters_import_without_torch_or_the_frameworks():
    code = ("import sys, exectune_rl.adapters.verl, exectune_rl.adapters.openrlhf, exectune_rl.adapters.verifiers; "
            "print(sorted(m for m in ('torch', 'verl', 'openrlhf', 'verifiers', 'fastapi') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
