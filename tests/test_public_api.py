"""Public names: every __all__ entry exists, and the sandbox contract's names are there."""

import importlib

import pytest

PUBLIC = ["exectune_rl", "exectune_rl.sandboxes", "exectune_rl.errors", "exectune_rl.cores", "exectune_rl.tasks"]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_names_resolve(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_sandbox_contract():
    from exectune_rl.sandboxes import (  # noqa: F401
        ExecRequest, ExecResult, ExecStatus, LocalSandbox, RestrictedSandbox, Sandbox, get_sandbox,
    )

    statuses = {s.value for s in ExecStatus}
    assert {"ok", "runtime_error", "timeout", "memory_limit", "output_limit", "signaled", "infra"} <= statuses


def test_errors_form_one_tree():
    from exectune_rl import errors

    for attr in errors.__all__:
        assert issubclass(getattr(errors, attr), errors.ExecTuneError)
