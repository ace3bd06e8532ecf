"""The exectune command line: subcommands, exit codes, nothing heavy imported."""

import json
import subprocess
import sys

from exectune_rl.cli import SUBCOMMANDS, main


def test_plugins_lists_registry(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "local" in out and "restricted" in out and "exectune_rl.sandboxes" in out


def test_plugins_json(capsys):
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"kind": "sandboxes", "name": "local", "source": "builtin", "target": "exectune_rl.sandboxes.local:LocalSandbox",
            "available": True, "reason": None} in rows


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "exectune_rl.cli", "plugins"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "local" in proc.stdout


def test_import_is_light():
    code = ("import sys, exectune_rl, exectune_rl.sandboxes, exectune_rl.cli, exectune_rl.registry\n"
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules]\n"
            "print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr
