"""The bwrap plugin, found through the registry's entry points, on real containers."""

import shutil

import pytest

from exectune_rl.registry import sandbox_registry
from exectune_rl.sandboxes import ExecRequest, ExecStatus, get_sandbox

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def test_plugin_resolves_through_entry_point():
    entry = {e.name: e for e in sandbox_registry.entries()}["bwrap"]
    assert entry.source == "entry-point"


def test_runs_and_isolates():
    with get_sandbox("bwrap", workers=2) as sb:
        ok, net, loop, fs = sb.run([
            ExecRequest("print(6 * 7)"),
            ExecRequest("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)"),
            ExecRequest("while True:\n    pass", cpu_time_s=1),
            ExecRequest("import os\nprint(os.getuid(), sorted(os.listdir('/')))"),
        ])
    assert ok.status is ExecStatus.OK and ok.stdout == "42\n"
    assert net.status is ExecStatus.RUNTIME_ERROR
    assert loop.status is ExecStatus.TIMEOUT
    uid, listing = fs.stdout.split(" ", 1)
    assert uid == "65534" and "home" not in listing
