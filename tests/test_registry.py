"""The one name resolver: built-ins, entry points, import paths, and clear errors."""

import pytest

from exectune_rl.errors import RegistryError, UnknownNameError
from exectune_rl.registry import Registry, sandbox_registry
from exectune_rl.sandboxes import LocalSandbox, RestrictedSandbox, get_sandbox


def test_builtins_resolve():
    assert sandbox_registry.resolve("local") is LocalSandbox
    assert sandbox_registry.resolve("restricted") is RestrictedSandbox


def test_import_path_resolves():
    assert sandbox_registry.resolve("exectune_rl.sandboxes.local:LocalSandbox") is LocalSandbox


def test_unknown_name_lists_known():
    with pytest.raises(UnknownNameError) as info:
        get_sandbox("nope")
    msg = str(info.value)
    assert "'nope'" in msg and "local" in msg and "restricted" in msg
    assert isinstance(info.value, KeyError)  # catchable as a lookup failure too


def test_bad_import_path_is_a_registry_error():
    with pytest.raises(RegistryError, match="cannot import"):
        sandbox_registry.resolve("no_such_module_xyz:Thing")
    with pytest.raises(RegistryError, match="no attribute"):
        sandbox_registry.resolve("exectune_rl.sandboxes:Nope")


def test_entry_points_are_listed():
    # the first-party bwrap plugin, when installed, is found through its entry point
    names = {e.name: e.source for e in sandbox_registry.entries()}
    assert names["local"] == "builtin"
    try:
        import exectune_sandbox_bwrap  # noqa: F401
    except ImportError:
        pytest.skip("sandboxes/bwrap is not installed")
    assert names["bwrap"] == "entry-point"


def test_register_validates_target():
    reg = Registry("widget", "exectune_rl.widgets")
    with pytest.raises(RegistryError, match="pkg.mod:attr"):
        reg.register("x", "not-a-path")
    reg.register("dict", "builtins:dict")
    assert reg.create("dict", a=1) == {"a": 1}
