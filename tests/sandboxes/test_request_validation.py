"""ExecRequest checks every field where it is built: a caller's mistake never reaches a worker.

Each bad value below used to be accepted, and then either mixed up results (a NaN budget made
the pool hand a reply to the wrong request), broke the pool (``cpu_time_s=1e7`` overflowed a
timeout: INFRA), or was blamed on the program (``env={'A': 1}`` became its RUNTIME_ERROR,
``stdin=5`` fed it five NUL bytes).
"""

from __future__ import annotations

import math

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes import ExecRequest, ExecStatus

NAN, INF = math.nan, math.inf

BAD = [
    # numbers: not finite, not positive, out of range, overflowing, of the wrong type
    ({"cpu_time_s": NAN}, "cpu_time_s"),
    ({"cpu_time_s": INF}, "cpu_time_s"),
    ({"cpu_time_s": -1}, "cpu_time_s"),
    ({"cpu_time_s": 0}, "cpu_time_s"),
    ({"cpu_time_s": 1e7}, "cpu_time_s"),  # overflowed poll()'s timeout in the worker
    ({"cpu_time_s": "1"}, "cpu_time_s"),
    ({"cpu_time_s": True}, "cpu_time_s"),
    ({"wall_time_s": NAN}, "wall_time_s"),
    ({"wall_time_s": -INF}, "wall_time_s"),
    ({"wall_time_s": 1e9}, "wall_time_s"),
    ({"memory_mb": 1 << 50}, "memory_mb"),  # overflowed RLIMIT_AS: the program's RUNTIME_ERROR before
    ({"memory_mb": NAN}, "memory_mb"),
    ({"memory_mb": 0.5}, "memory_mb"),
    ({"memory_mb": -64}, "memory_mb"),
    ({"output_limit_bytes": INF}, "output_limit_bytes"),
    ({"output_limit_bytes": 1 << 60}, "output_limit_bytes"),
    ({"max_processes": 0}, "max_processes"),
    ({"max_processes": 1 << 40}, "max_processes"),
    ({"max_open_files": 1 << 30}, "max_open_files"),  # above nr_open: setrlimit fails
    ({"max_open_files": False}, "max_open_files"),
    # data of the wrong type or not encodable
    ({"stdin": 5}, "stdin"),  # bytes(5): five NUL bytes on the program's stdin before
    ({"stdin": ["a"]}, "stdin"),
    ({"stdin": "\ud800"}, "stdin"),  # raised mid-run() and left the batch's earlier jobs queued
    ({"env": {"A": 1}}, r"env\['A'\]"),  # the program's RUNTIME_ERROR before
    ({"env": {"A=B": "1"}}, "env"),
    ({"env": {"A": "x\0y"}}, "NUL"),
    ({"env": [("A", "1")]}, "env"),
    ({"args": "abc"}, "args"),  # was split into ('a', 'b', 'c')
    ({"args": (1, 2)}, r"args\[0\]"),
    ({"args": ("a\0",)}, "NUL"),
    ({"files": {"a": 5}}, "files"),
    ({"files": {"/etc/passwd": "x"}}, "relative"),
    ({"files": {"a/../../b": "x"}}, "relative"),
    ({"files": {"dir/": "x"}}, "relative"),
    ({"files": {"./a": "x"}}, "relative"),
    ({"files": {"a": "\udc80"}}, "files"),
    ({"epilogue": 3}, "epilogue"),
    ({"epilogue_globals": {"not a name": "x"}}, "epilogue_globals"),
    ({"epilogue_globals": {"token": 3}}, "epilogue_globals"),
    ({"judge": b"assert True"}, "judge"),
]


@pytest.mark.parametrize(("kwargs", "needle"), BAD, ids=[repr(k) for k, _ in BAD])
def test_bad_fields_raise_config_errors_naming_them(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        ExecRequest("print(1)", **kwargs)


def test_good_values_are_kept_and_normalised():
    r = ExecRequest("print(1)", memory_mb=256.0, stdin=bytearray(b"ab"), args=["x"], files={"d/f.txt": b"\x00"},
                    env={"A": "1"}, cpu_time_s=0.25, wall_time_s=1)
    assert (r.memory_mb, type(r.memory_mb)) == (256, int)  # an integral float is a count
    assert r.stdin == b"ab" and r.args == ("x",) and r.cpu_time_s == 0.25
    assert hash(r) == hash(ExecRequest("print(1)", memory_mb=256, stdin=b"ab", args=("x",), files={"d/f.txt": b"\x00"},
                                       env={"A": "1"}, cpu_time_s=0.25, wall_time_s=1))
    # Surrogate escapes (how Python spells undecodable bytes of a path) are fine in args and env.
    assert ExecRequest("x", args=("\udc80",)).args == ("\udc80",)


def test_the_import_allowance_counts_only_for_a_judged_run():
    # load_cpu_time_s is the judged run's time to import the program; a plain run has no such
    # phase, so its budget (and the wall-clock limit drawn from it) is cpu_time_s alone.
    plain = ExecRequest("pass", cpu_time_s=1, load_cpu_time_s=2)
    judged = ExecRequest("pass", cpu_time_s=1, load_cpu_time_s=2, judge="assert True")
    assert (plain.total_cpu_time_s, plain.effective_wall_time_s) == (1.0, 3.0)
    assert (judged.total_cpu_time_s, judged.effective_wall_time_s) == (3.0, 9.0)
    assert isinstance(plain.total_cpu_time_s, float) and isinstance(judged.total_cpu_time_s, float)


def test_a_rejected_request_leaves_the_pool_in_step(pool):
    # With cpu_time_s=NaN accepted, the reply to it reached the next request: print('B') got 'A'.
    with pytest.raises(ConfigError):
        pool.run([ExecRequest("print('A')", cpu_time_s=NAN)])
    results = pool.run([ExecRequest(f"print({i})") for i in range(6)])
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
    assert all(r.status is ExecStatus.OK for r in results)
