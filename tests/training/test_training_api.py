"""The training and evaluation packages: every public name resolves, and importing them stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["exectune_rl.training", "exectune_rl.evaluation"])
def test_all_names_resolve(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr) is not None, f"{name}.{attr}"
    with pytest.raises(AttributeError):
        module.not_a_name  # noqa: B018


def test_importing_the_packages_and_their_configs_does_not_import_torch():
    code = (
        "import sys, exectune_rl.training, exectune_rl.evaluation\n"
        "from exectune_rl.training import SampleRecipe, RLRecipe, parse_recipe, DemoConfig\n"
        "from exectune_rl.evaluation import EvalRecipe, markdown_table\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
