"""LocalSandbox against real abuse: each limit is enforced, reported, and the pool survives."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from exectune_rl.errors import ConfigError, SandboxClosedError
from exectune_rl.sandboxes import ExecRequest, ExecStatus, LocalSandbox, get_sandbox

IS_ROOT = os.geteuid() == 0


def _then_ordinary(pool) -> None:
    """After each abuse the same pool must still run an ordinary task correctly."""
    [r] = pool.run([ExecRequest("print(sum(range(10)))")])
    assert r.status is ExecStatus.OK and r.stdout == "45\n", r


def run1(pool, code: str, **kw):
    kw.setdefault("cpu_time_s", 1.0)
    [r] = pool.run([ExecRequest(code, **kw)])
    return r


def test_ok_and_order(pool):
    results = pool.run([ExecRequest(f"print({i} * 2)") for i in range(20)])
    assert [r.stdout for r in results] == [f"{i * 2}\n" for i in range(20)]
    assert all(r.status is ExecStatus.OK and r.exit_code == 0 for r in results)


def test_exception_and_exit_codes(pool):
    r = run1(pool, "raise ValueError('boom')")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception == "ValueError" and "boom" in r.stderr
    r = run1(pool, "import sys; sys.exit(3)")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exit_code == 3
    r = run1(pool, "import sys; sys.exit(0)")
    assert r.status is ExecStatus.OK


def test_syntax_error(pool):
    r = run1(pool, "def f(:\n  pass")
    assert r.status is ExecStatus.SYNTAX_ERROR and "SyntaxError" in r.stderr


def test_cpu_loop_times_out_on_cpu_time(pool):
    r = run1(pool, "while True:\n    pass", cpu_time_s=0.5)
    assert r.status is ExecStatus.TIMEOUT
    assert 0.45 <= r.cpu_s < 1.5, r.cpu_s  # the CPU budget, not the wall backstop, ended it
    _then_ordinary(pool)


def test_sleep_hits_wall_backstop(pool):
    r = run1(pool, "import time; time.sleep(60)", cpu_time_s=0.2, wall_time_s=1.0)
    assert r.status is ExecStatus.TIMEOUT and "wall" in r.detail and r.wall_s < 5
    _then_ordinary(pool)


def test_memory_bomb(pool):
    r = run1(pool, "x = bytearray(2 ** 34)", memory_mb=256)
    assert r.status is ExecStatus.MEMORY_LIMIT
    r = run1(pool, "l = []\nwhile True:\n    l.append(bytearray(10 ** 6))", memory_mb=128, cpu_time_s=5)
    assert r.status is ExecStatus.MEMORY_LIMIT
    _then_ordinary(pool)


@pytest.mark.skipif(not IS_ROOT, reason="RLIMIT_NPROC holds per uid; only root can give tasks a uid of their own")
def test_fork_bomb_is_contained(pool, task_children):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    r = run1(pool, code, cpu_time_s=0.5, wall_time_s=2, max_processes=8)
    assert r.status in (ExecStatus.TIMEOUT, ExecStatus.RUNTIME_ERROR)
    # Nothing of it survives: the pool's workers have no children left.
    for pid in pool.worker_pids:
        assert task_children(pid) == []
    _then_ordinary(pool)


def test_escaped_grandchild_is_killed(pool, task_children):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(30)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    r = run1(pool, code)
    assert r.status is ExecStatus.OK
    for pid in pool.worker_pids:
        assert task_children(pid) == []


def test_output_flood(pool):
    r = run1(pool, "while True:\n    print('x' * 1000)", output_limit_bytes=100_000)
    assert r.status is ExecStatus.OUTPUT_LIMIT and r.stdout_truncated
    assert len(r.stdout) == 100_000
    _then_ordinary(pool)


def test_write_outside_workdir_fails(pool):
    for path in ("/etc/exectune_evil", "/tmp/exectune_evil", "/usr/exectune_evil"):
        r = run1(pool, f"open({path!r}, 'w').write('x')")
        if IS_ROOT or "mountns" in r.isolation:
            assert r.status is ExecStatus.RUNTIME_ERROR and r.exception in ("PermissionError", "OSError"), (path, r)
    assert not os.path.exists("/etc/exectune_evil")
    # Inside the work dir writing works, and the dir is gone afterwards.
    r = run1(pool, "import os\nopen('f.txt', 'w').write('hi')\nprint(os.getcwd())")
    assert r.status is ExecStatus.OK
    assert not os.path.exists(r.stdout.strip()) or r.stdout.strip().startswith("/tmp")
    _then_ordinary(pool)


def test_no_network(pool):
    code = "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=2)"
    r = run1(pool, code, cpu_time_s=2)
    assert "netns" in r.isolation, "this machine should allow a network namespace"
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception in ("OSError", "TimeoutError")
    r = run1(pool, "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)", cpu_time_s=2)
    assert r.status is ExecStatus.RUNTIME_ERROR
    _then_ordinary(pool)


def test_environment_is_scrubbed(pool, monkeypatch):
    monkeypatch.setenv("EXECTUNE_TEST_SECRET", "hunter2")
    with LocalSandbox(workers=1) as sb:  # started after the secret was set
        code = (
            "import os\nprint(dict(os.environ))\n"
            "try:\n    print(open('/proc/self/environ', 'rb').read())\nexcept OSError:\n    pass\n"
            "print(open(f'/proc/{os.getppid()}/environ', 'rb').read())"
        )
        r = sb.run([ExecRequest(code)])[0]
    # The worker's own environment was scrubbed when it started, and is unreadable anyway.
    assert "hunter2" not in r.stdout
    assert r.status is ExecStatus.OK or r.exception in ("PermissionError", "FileNotFoundError")
    r = run1(pool, "import os; print(os.environ.get('X'))", env={"X": "given"})
    assert r.stdout == "given\n"


@pytest.mark.skipif(not IS_ROOT, reason="a private /proc needs root")
def test_other_processes_are_invisible(pool):
    code = (
        "import os\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [os.getpid()])\n"
        "for pid in (1, os.getppid()):\n"
        "    print(os.path.exists(f'/proc/{pid}/cmdline'))\n"
        "print(os.path.exists('/proc/self/status'), os.cpu_count() >= 1)\n"
    )
    r = run1(pool, code)
    assert "hidepid" in r.isolation
    assert r.stdout.split() == ["True", "False", "False", "True", "True"]
    # The worker still sees its task children there: CPU-time supervision reads /proc/<pid>/stat.
    r = run1(pool, "while True:\n    pass", cpu_time_s=0.3, wall_time_s=5)
    assert r.status is ExecStatus.TIMEOUT and r.cpu_s < 1.5


@pytest.mark.skipif(not IS_ROOT, reason="hiding /root needs root")
def test_cannot_read_root(pool):
    r = run1(pool, "import os\nprint(sorted(os.listdir('/root')))\nprint(open('/root/.bashrc').read())")
    assert r.status is ExecStatus.RUNTIME_ERROR
    assert r.exception in ("PermissionError", "FileNotFoundError")


@pytest.mark.skipif(not IS_ROOT, reason="privilege drop needs root")
def test_cannot_signal_parent_or_worker(pool):
    me = os.getpid()
    r = run1(pool, f"import os, signal\nos.kill({me}, signal.SIGKILL)")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception == "PermissionError"
    r = run1(pool, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception == "PermissionError"
    r = run1(pool, "import os\nprint(os.getuid(), os.getgid())")
    uid, gid = map(int, r.stdout.split())
    assert uid != 0 and gid != 0 and "uid" in r.isolation
    _then_ordinary(pool)


def test_ctypes_segfault(pool):
    r = run1(pool, "import ctypes\nctypes.string_at(0)")
    assert r.status is ExecStatus.SIGNALED and r.signal == signal.SIGSEGV
    _then_ordinary(pool)


def test_deep_recursion(pool):
    r = run1(pool, "def f(n):\n    return f(n + 1)\nf(0)")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exception == "RecursionError"
    r = run1(pool, "import sys\nsys.setrecursionlimit(10 ** 8)\ndef f(n):\n    return f(n + 1)\nf(0)", cpu_time_s=2)
    assert r.status in (ExecStatus.SIGNALED, ExecStatus.TIMEOUT, ExecStatus.MEMORY_LIMIT, ExecStatus.RUNTIME_ERROR)
    assert r.status is not ExecStatus.INFRA
    _then_ordinary(pool)


def test_stdlib_import_after_privilege_drop(pool):
    # Modules not preloaded must still import: the interpreter here may live in a directory
    # only root can read (a pyenv under /root); the mount namespace binds it back.
    r = run1(pool, "import wave, sqlite3, xml.dom.minidom\nprint('ok')")
    assert r.status is ExecStatus.OK, r.stderr


def test_without_mount_namespace_the_result_says_so(caplog):
    # Where no mount namespace can be made, isolation must say that /tmp is not private,
    # and preloaded modules must still import even if the interpreter is unreadable.
    with LocalSandbox(workers=1, isolate_filesystem=False) as sb:
        [r] = sb.run([ExecRequest("import json, collections\nprint(json.dumps([1]))")])
    assert "mountns" not in r.isolation
    assert r.status is ExecStatus.OK and r.stdout == "[1]\n"


def test_stdin_files_args(pool):
    r = run1(pool, "import sys\nprint(input()[::-1], open('data/x.txt').read(), sys.argv[1:])",
             stdin="abc", files={"data/x.txt": "hello"}, args=("--flag",))
    assert r.stdout == "cba hello ['--flag']\n"


def test_worker_death_is_retried_then_infra():
    with LocalSandbox(workers=1) as sb:
        victim = sb.worker_pids[0]
        code = f"import os, signal\nos.kill({victim}, signal.SIGKILL)\nimport time\ntime.sleep(1)"
        if IS_ROOT:
            # Children cannot kill the worker; kill it from outside while the task runs.
            import threading
            import time

            threading.Timer(1.0, lambda: os.kill(victim, signal.SIGKILL)).start()
            code = "import time\ntime.sleep(2.5)\nprint('done')"
        [r] = sb.run([ExecRequest(code, cpu_time_s=3)])
        assert r.retried and r.status is ExecStatus.OK and r.stdout == "done\n" if IS_ROOT else r.retried
        assert sb.worker_pids[0] != victim
        [r2] = sb.run([ExecRequest("print(1)")])
        assert r2.status is ExecStatus.OK and not r2.retried
        if IS_ROOT:  # the orphaned task child died with its worker
            import time

            time.sleep(0.2)
            uid = sb._procs[0].uid
            assert [p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid] == []
    with LocalSandbox(workers=1, retry_on_worker_death=False) as sb:
        victim = sb.worker_pids[0]
        import threading

        threading.Timer(1.0, lambda: os.kill(victim, signal.SIGKILL)).start()
        [r] = sb.run([ExecRequest("import time\ntime.sleep(2.5)", cpu_time_s=3)])
        assert r.status is ExecStatus.INFRA and "worker" in r.detail


def test_other_languages(pool):
    r = run1(pool, "console.log([1,2,3].map(x => x * 2).join(','))", language="javascript", cpu_time_s=5)
    assert r.status is ExecStatus.OK and r.stdout == "2,4,6\n", r
    r = run1(pool, '#include <stdio.h>\nint main(){printf("%d\\n", 6*7); return 0;}', language="c", cpu_time_s=5)
    assert r.status is ExecStatus.OK and r.stdout == "42\n", r
    r = run1(pool, "int main( {", language="c", cpu_time_s=5)
    assert r.status is ExecStatus.SYNTAX_ERROR
    r = run1(pool, "echo hi", language="bash")
    assert r.stdout == "hi\n"
    r = run1(pool, "print(1)", language="cobol")
    assert r.status is ExecStatus.INFRA and "cobol" in r.detail


def test_bad_requests_raise_clear_errors(pool):
    with pytest.raises(ConfigError, match="cpu_time_s"):
        ExecRequest("x", cpu_time_s=0)
    with pytest.raises(ConfigError, match="relative"):
        ExecRequest("x", files={"/etc/passwd": "x"})
    with pytest.raises(TypeError, match=r"requests\[1\]"):
        pool.run([ExecRequest("x=1"), 2])
    for single in ("print(1)", ExecRequest("print(1)")):
        with pytest.raises(TypeError, match="single"):
            pool.run(single)
    assert pool.run([]) == []


def test_code_strings_and_iterables_are_requests(pool):
    results = pool.run(code for code in ["print('a')", ExecRequest("print('b')")])
    assert [(r.status, r.stdout) for r in results] == [(ExecStatus.OK, "a\n"), (ExecStatus.OK, "b\n")]


async def test_arun(pool):
    results = await pool.arun([ExecRequest("print('a')"), ExecRequest("print('b')")])
    assert [r.stdout for r in results] == ["a\n", "b\n"]


def test_registry_and_close():
    sb = get_sandbox("local", workers=1)
    assert isinstance(sb, LocalSandbox)
    pids = sb.worker_pids
    sb.close()
    sb.close()  # idempotent
    with pytest.raises(SandboxClosedError):
        sb.run([ExecRequest("x=1")])
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.skipif(not IS_ROOT, reason="uids are only assigned when running as root")
def test_each_worker_has_its_own_uid(pool):
    with LocalSandbox(workers=2) as other:
        uids = [p.uid for p in pool._procs] + [p.uid for p in other._procs]
        assert len(set(uids)) == 4 and 0 not in uids
        # a task of one pool cannot signal a task of the other
        r = other.run([ExecRequest("import os\nprint(os.getuid())")])[0]
        assert int(r.stdout) in uids[2:]


def test_no_leaked_fds_or_zombies(pool, task_children):
    pool.run([ExecRequest("print(1)") for _ in range(30)])
    before = {pid: psutil.Process(pid).num_fds() for pid in pool.worker_pids}
    pool.run([ExecRequest("import os\nos.pipe()\nopen('x','w')") for _ in range(30)])
    for pid, n in before.items():
        proc = psutil.Process(pid)
        assert proc.num_fds() == n
        assert task_children(pid) == []


def test_concurrent_callers_get_their_own_results_in_order(pool):
    # TRL awaits async rewards together; several threads may share one pool.
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    def batch(k: int) -> list[str]:
        return [r.stdout for r in pool.run([ExecRequest(f"print({k} * 1000 + {i})") for i in range(25)])]

    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(batch, range(4)))
    for k, out in enumerate(outs):
        assert out == [f"{k * 1000 + i}\n" for i in range(25)]

    async def gather():
        return await asyncio.gather(*(pool.arun([ExecRequest(f"print({k})")]) for k in range(8)))

    assert [r[0].stdout for r in asyncio.run(gather())] == [f"{k}\n" for k in range(8)]


def test_requests_pickle_and_accept_common_spellings():
    import pickle

    r = ExecRequest("print(1)", timeout=2, memory_limit_mb=128, files={"a.txt": "x"}, env={"A": "1"})
    assert (r.cpu_time_s, r.memory_mb) == (2, 128)
    assert pickle.loads(pickle.dumps(r)) == r  # requests cross process boundaries
    with pytest.raises(TypeError):
        r.files["b.txt"] = "y"
    with pytest.raises(ConfigError, match="alias"):
        ExecRequest("x", cpu_time_s=1, timeout=2)
    assert ExecStatus.TIME_LIMIT is ExecStatus.TIMEOUT and len(list(ExecStatus)) == 8


def test_pool_pickles_as_its_configuration():
    import pickle

    with LocalSandbox(workers=1, network=False) as sb:
        clone = pickle.loads(pickle.dumps(sb))
        try:
            assert clone.worker_pids and clone.worker_pids != sb.worker_pids  # a pool of its own
            assert clone.run([ExecRequest("print(2)")])[0].stdout == "2\n"
        finally:
            clone.close()


def test_script_folders_on_sys_path_stay_hidden(tmp_path, monkeypatch):
    # A folder on sys.path that is not part of the interpreter (a script's own directory
    # under /tmp) must not be bound into the sandbox.
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    monkeypatch.syspath_prepend(str(tmp_path))
    with LocalSandbox(workers=1) as sb:
        [r] = sb.run([ExecRequest(f"print(open({str(secret)!r}).read())")])
    if "mountns" in r.isolation and str(tmp_path).startswith("/tmp/"):
        assert r.status is ExecStatus.RUNTIME_ERROR and "hunter2" not in r.stdout


def test_multiprocessing_works_inside(pool):
    code = (
        "import multiprocessing as mp\n"
        "def sq(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('fork').Pool(2) as p:\n        print(sum(p.map(sq, range(10))))\n"
    )
    r = run1(pool, code, cpu_time_s=5)
    assert r.status is ExecStatus.OK and r.stdout == "285\n", r.stderr[-500:]


def test_get_sandbox_rejects_non_sandboxes():
    from exectune_rl.errors import RegistryError

    with pytest.raises(RegistryError, match="not a Sandbox"):
        get_sandbox("os:getcwd")


def test_the_worker_stays_lean_and_tasks_still_get_their_own_temp_dir(pool):
    """Every module a worker holds is copied by each fork and unmapped by each task child: the
    worker loads no shutil, tempfile or compression modules, and its own modules arrive
    compiled (their code objects name the real source files, so tracebacks read them)."""
    r = run1(pool, "import sys\nprint(sorted(sys.modules))")
    loaded = set(eval(r.stdout))  # noqa: S307 - our own task's output
    assert not loaded & {"shutil", "tempfile", "bz2", "lzma", "zlib"}, loaded
    assert {"exectune_sandbox_worker", "exectune_sandbox_task", "exectune_sandbox_judge"} <= loaded
    r = run1(pool, "import sys, os\nm = sys.modules['exectune_sandbox_task']\n"
                   "print(os.path.basename(m.__file__), os.path.basename(m.child.__code__.co_filename))")
    assert r.stdout.split() == ["_task.py", "_task.py"], r
    r = run1(pool, "import os, tempfile\nwith tempfile.NamedTemporaryFile() as f:\n"
                   "    print(os.path.dirname(f.name) == os.environ['TMPDIR'] == os.getcwd())")
    assert r.status is ExecStatus.OK and r.stdout == "True\n", r


# --------------------------------------------------------------------------- prefork: the spare child


def _spare_of(sb: LocalSandbox) -> psutil.Process:
    """The worker's spare child: the child of its zygote that has no task yet (still root)."""
    from exectune_rl.sandboxes._isolation import ZYGOTE_NAME

    worker = sb.worker_pids[0]
    for _ in range(200):
        zygotes = [c for c in psutil.Process(worker).children() if c.name() == ZYGOTE_NAME]
        spares = [c for z in zygotes for c in z.children() if c.uids().real == 0]
        if spares:
            return spares[0]
        time.sleep(0.01)
    raise AssertionError("no spare child")


@pytest.fixture
def prefork_solo():
    with LocalSandbox(workers=1, prefork=True) as sb:
        if not IS_ROOT:
            pytest.skip("a spare child is kept only where tasks get a uid of their own (root)")
        yield sb


def test_prefork_defaults_to_where_a_cpu_is_left_idle():
    ncpu = len(os.sched_getaffinity(0))
    with LocalSandbox(workers=ncpu) as sb:
        assert sb.prefork is False
    if ncpu > 1:
        with LocalSandbox(workers=ncpu - 1) as sb:
            assert sb.prefork is True
    with pytest.raises(ConfigError, match="prefork"):
        LocalSandbox(workers=1, prefork="yes")


def test_pin_cpus_defaults_to_a_worker_for_every_cpu_and_tasks_run_on_theirs():
    usable = sorted(os.sched_getaffinity(0))
    probe = ExecRequest("import os\nprint(sorted(os.sched_getaffinity(0)))")
    with LocalSandbox(workers=len(usable) + 1) as sb:
        assert sb.pin_cpus is True
        assert sb.cpus == tuple(usable[i % len(usable)] for i in range(len(usable) + 1))
        seen = {r.stdout.strip() for r in sb.run([probe] * 12)}
        assert seen <= {f"[{c}]" for c in usable}, seen
        for pid, cpu in zip(sb.worker_pids, sb.cpus):
            worker = psutil.Process(pid)
            for proc in [worker, *worker.children(recursive=True)]:  # its zygote and judge too
                assert proc.cpu_affinity() == [cpu]
    if len(usable) > 1:
        with LocalSandbox(workers=len(usable) - 1) as sb:
            assert sb.pin_cpus is False and set(sb.cpus) == {None}
            assert sb.run([probe])[0].stdout.strip() == str(usable)
    with LocalSandbox(workers=1, pin_cpus=False) as sb:
        assert sb.cpus == (None,) and sb.run([probe])[0].stdout.strip() == str(usable)
    with pytest.raises(ConfigError, match="pin_cpus"):
        LocalSandbox(workers=1, pin_cpus="yes")


def test_a_worker_the_kernel_refuses_to_pin_floats_and_says_why():
    from exectune_rl.sandboxes._worker import _pin

    before = os.sched_getaffinity(0)
    assert _pin(None) == ""
    assert _pin(1 << 20).startswith("not pinned to CPU 1048576")  # no such CPU: refused, nothing changed
    assert os.sched_getaffinity(0) == before


def test_a_pinned_pool_judges_as_a_floating_one():
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    tests = ProgramTests("asserts", code="assert f(2) == 3\nassert f(5) == 6")
    programs = ["def f(x):\n    return x + 1", "def f(x):\n    return x", "def f(x):\n    while True: pass",
                "def f(x):\n    raise ValueError(x)"]
    verdicts = {}
    for pin in (True, False):
        with LocalSandbox(workers=2, pin_cpus=pin) as sb:
            verdicts[pin] = [(o.passed, o.status) for o in run_tests(sb, programs, tests, cpu_time_s=0.5)]
    assert verdicts[True] == verdicts[False]
    assert [p for p, _ in verdicts[True]] == [True, False, False, False]


def test_a_spare_runs_every_kind_of_task_as_a_fresh_child_would(prefork_solo):
    sb = prefork_solo
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    runs = [ExecRequest("import os, sys\nprint(os.getuid(), os.getsid(0) == os.getpid(), sys.stdin.read(), sys.argv[1:])",
                        stdin="in put", args=("a", "b")),
            ExecRequest("print('x' * 10)"), ExecRequest("raise ValueError('no')"), ExecRequest("def f(:"),
            ExecRequest("echo $((6 * 7))", language="bash"),
            ExecRequest("import os\nprint(os.environ['K'])", env={"K": "v"}),
            ExecRequest("while True:\n    pass", cpu_time_s=0.3)]
    for _ in range(2):
        r = sb.run(runs)
        uid, leader, *rest = r[0].stdout.split()
        assert int(uid) == sb._procs[0].uid and leader == "True" and " ".join(rest) == "in put ['a', 'b']", r[0]
        assert [x.status for x in r[1:]] == [ExecStatus.OK, ExecStatus.RUNTIME_ERROR, ExecStatus.SYNTAX_ERROR,
                                             ExecStatus.OK, ExecStatus.OK, ExecStatus.TIMEOUT], r
        assert r[4].stdout == "42\n" and r[5].stdout == "v\n"
        assert 0.25 <= r[6].cpu_s < 0.6, r[6]  # its CPU, not its spare's wait
    tests = ProgramTests("asserts", code="assert f(2) == 4\nassert f(3) == 9")
    outs = run_tests(sb, ["def f(x):\n    return x * x", "def f(x):\n    return x + 2", "import sys\nsys.exit(0)"], tests)
    assert [o.passed for o in outs] == [True, False, False], outs


def test_a_spare_is_out_of_reach_of_the_task_before_it(prefork_solo):
    sb = prefork_solo
    sb.run([ExecRequest("pass")])
    assert _spare_of(sb).uids().real == 0
    # The spare for the next task is forked while this one runs: the task waits for it, then
    # tries every pid on the machine. Only its own process answers.
    code = ("import os, time\ntime.sleep(0.3)\nme = os.getpid()\nfound = []\n"
            "for p in range(1, int(open('/proc/sys/kernel/pid_max').read())):\n"
            "    try:\n        os.kill(p, 0)\n    except OSError:\n        continue\n"
            "    if p != me:\n        found.append(p)\n"
            "print(found)")
    start = time.time()
    [r] = sb.run([ExecRequest(code, cpu_time_s=10)])
    spare = _spare_of(sb)
    assert spare.create_time() <= start + 0.3 + 0.05 or spare.create_time() < time.time(), spare
    assert r.status is ExecStatus.OK and r.stdout == "[]\n", r
    assert spare.status() != psutil.STATUS_STOPPED
    [r] = sb.run([ExecRequest("print(6 * 7)")])
    assert r.status is ExecStatus.OK and r.stdout == "42\n" and r.wall_s < 1.0, r


@pytest.mark.parametrize("prefork", [False, True], ids=["fork", "prefork"])
def test_a_task_finds_nothing_of_the_task_before_it(prefork):
    # A task child is a copy of its worker; with prefork, one forked while the task before
    # ran. That task's request (its code, stdin, arguments, environment) and its result must
    # not be among the live objects of the next.
    with LocalSandbox(workers=1, prefork=prefork) as sb:
        _finds_nothing_of_the_task_before(sb)


def _finds_nothing_of_the_task_before(sb: LocalSandbox) -> None:
    secret = "S3CRET-" + os.urandom(6).hex()
    probe = """
import gc, sys
needle = "".join(["S3C", "RET-"])  # built at run time: the probe's own code does not hold it
roots = list(gc.get_objects())
f = sys._getframe()
while f is not None:
    roots.append(dict(f.f_locals))
    f = f.f_back
hits, seen, todo = [], {id(roots), id(needle)}, list(roots)
while todo and len(seen) < 2_000_000:
    o = todo.pop()
    if id(o) in seen:
        continue
    seen.add(id(o))
    if isinstance(o, str):
        if needle in o:
            hits.append(o[:30])
    elif isinstance(o, (bytes, bytearray)):
        if needle.encode() in o:
            hits.append(repr(bytes(o[:30])))
    elif isinstance(o, dict):
        todo.extend(o.keys())
        todo.extend(o.values())
    elif isinstance(o, (list, tuple, set, frozenset)):
        todo.extend(o)
print(hits)
"""
    slow = f"# {secret}\nimport time\nx = {secret!r}\nprint(x)\ntime.sleep(0.05)\n"
    for _ in range(3):
        r = sb.run([ExecRequest(slow, stdin=secret, args=(secret,), env={"K": secret}), ExecRequest(probe)])
        assert r[0].status is ExecStatus.OK, r[0]
        assert r[1].status is ExecStatus.OK and r[1].stdout == "[]\n", r[1]


def test_a_spare_that_died_is_replaced_without_harm(prefork_solo):
    sb = prefork_solo
    sb.run([ExecRequest("pass")])
    dead = _spare_of(sb)
    dead.kill()
    for _ in range(200):  # a kill takes effect when the killed process next runs
        if dead.status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.01)
    [r] = sb.run([ExecRequest("print(1)")])
    assert r.status is ExecStatus.OK and r.stdout == "1\n" and not r.retried, r
    spare = _spare_of(sb)
    spare.kill()
    time.sleep(0.1)  # dead (a zombie until the worker reaps it) before the judged run comes
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    [out] = run_tests(sb, ["def f():\n    return 1"], ProgramTests("asserts", code="assert f() == 1"))
    assert out.passed, out


@pytest.mark.parametrize("judged", [False, True], ids=["run", "judged"])
def test_a_spare_killed_as_it_is_handed_its_task_is_never_the_programs_fault(prefork_solo, judged):
    # Killed after the worker found it alive and before it read its task: nothing of the task
    # ran, so the task runs again (on a fresh worker), never a SIGKILL of the program's.
    import threading

    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    sb = prefork_solo
    sb.run([ExecRequest("pass")])
    spare = _spare_of(sb)
    spare.suspend()  # alive, and it reads nothing
    out = []
    if judged:
        job = threading.Thread(target=lambda: out.extend(run_tests(
            sb, ["def f():\n    return 1\n"], ProgramTests("asserts", code="assert f() == 1\n"), cpu_time_s=5)))
    else:
        job = threading.Thread(target=lambda: out.extend(sb.run([ExecRequest("print(1)", cpu_time_s=5)])))
    job.start()
    time.sleep(0.5)
    spare.kill()
    job.join(30)
    [r] = out
    if judged:
        assert r.passed, r
    else:
        assert r.status is ExecStatus.OK and r.stdout == "1\n" and r.retried, r


def test_a_zygote_that_died_harms_no_task(prefork_solo):
    from exectune_rl.sandboxes._isolation import ZYGOTE_NAME

    sb = prefork_solo
    sb.run([ExecRequest("x = sum(i * i for i in range(300000))")] * 20)  # CPU its zygote reaped
    [zygote] = [c for c in psutil.Process(sb.worker_pids[0]).children() if c.name() == ZYGOTE_NAME]
    zygote.kill()
    time.sleep(0.1)
    results = sb.run([ExecRequest("print(6 * 7)") for _ in range(6)])
    assert all(r.status is ExecStatus.OK and r.stdout == "42\n" for r in results), results
    assert max(r.cpu_s for r in results) < 0.2, [r.cpu_s for r in results]  # none is charged the zygote's children


_MEMORY_SCAN = r'''
import re, ctypes
found = set()
pat = re.compile(rb"(CODE|STDIN|ARG|ENV|OUT|ERR)M" rb"ARK[0-9a-f]{12}")
for line in open("/proc/self/maps").read().splitlines():
    parts = line.split()
    if "r" not in parts[1] or any(s in line for s in ("[vsyscall]", "[vvar", "[vdso]")):
        continue
    lo, hi = (int(x, 16) for x in parts[0].split("-"))
    found.update(m.group(1).decode() for m in pat.finditer(ctypes.string_at(lo, hi - lo)))
print(sorted(found))
'''
# Compiles, but its code is too deep for marshal: it once made the worker fork the task itself.
_TOO_DEEP_FOR_MARSHAL = "_f = " + "lambda: " * 1000 + "0\n"


@pytest.mark.skipif(not IS_ROOT, reason="as root only, task children come from a zygote that never held a task's data")
@pytest.mark.parametrize("prefork", [False, True], ids=["fork", "prefork"])
def test_no_task_finds_the_task_before_it_in_its_raw_memory(prefork):
    tok = os.urandom(6).hex()
    victim = f"import sys\nsecret = 'CODEMARK{tok}'\nsys.stdin.read()\nprint('OUTMARK{tok}')\nprint('ERRMARK{tok}', file=sys.stderr)\n"
    with LocalSandbox(workers=1, prefork=prefork) as sb:
        for scan in (_MEMORY_SCAN, _MEMORY_SCAN + _TOO_DEEP_FOR_MARSHAL):
            v, r = sb.run([ExecRequest(victim, stdin="STDINMARK" + tok, args=("ARGMARK" + tok,), env={"XV": "ENVMARK" + tok}),
                           ExecRequest(scan, cpu_time_s=5)])
            assert v.status is ExecStatus.OK and tok in v.stdout, v
            assert r.status is ExecStatus.OK and r.stdout == "[]\n", r


@pytest.mark.skipif(not IS_ROOT, reason="as root only, task children come from a zygote that never held a task's data")
@pytest.mark.parametrize("prefork", [False, True], ids=["fork", "prefork"])
def test_a_program_cannot_pass_io_tests_with_a_neighbours_output(prefork):
    # The cheater solves nothing: it prints the stdout of the correct program that ran before it
    # on the same worker, found in its own memory (where a copy of the worker kept it).
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    correct = "n = int(input())\nprint(sum(int(d) for d in str(n ** n)))\n"
    cheat = r'''
import re, ctypes, sys
n = int(input())
outs = []
for line in open("/proc/self/maps").read().splitlines():
    parts = line.split()
    if "r" not in parts[1] or any(s in line for s in ("[vsyscall]", "[vvar", "[vdso]")):
        continue
    lo, hi = (int(x, 16) for x in parts[0].split("-"))
    outs += re.findall(rb"\x8c\x06stdout\x94\x8c.(\d+\n)", ctypes.string_at(lo, hi - lo), re.S)
print(outs[0].decode().strip() if outs else "?")
''' + _TOO_DEEP_FOR_MARSHAL
    tests = ProgramTests("io", cases=(("13\n", "%d\n" % sum(int(d) for d in str(13 ** 13))),))
    with LocalSandbox(workers=1, prefork=prefork) as sb:
        for _ in range(2):
            good, bad = run_tests(sb, [correct, cheat], tests)
            assert good.passed and not bad.passed, (good, bad)
