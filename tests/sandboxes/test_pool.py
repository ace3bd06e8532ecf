"""The pool survives anything a task or a caller does: no poisoning, no mixed-up results.

Each test here is a case that once broke LocalSandbox, run on real processes: a task that
poisoned its worker, forged its own status, used more CPU or memory than its budget through
children or files, or left processes behind; a caller whose failed call stayed queued, who
raced close(), or whose request went to a worker that had stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import psutil
import pytest

from exectune_rl.errors import SandboxClosedError
from exectune_rl.sandboxes import ExecRequest, ExecStatus, LocalSandbox
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, run_tests

IS_ROOT = os.geteuid() == 0
ADD = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 2) == 4")


def run1(pool, code: str, **kw):
    kw.setdefault("cpu_time_s", 2.0)
    [r] = pool.run([ExecRequest(code, **kw)])
    return r


def _ordinary(pool, n: int = 4) -> None:
    results = pool.run([ExecRequest(f"print({i} * 3)") for i in range(n)])
    assert [(r.status, r.stdout) for r in results] == [(ExecStatus.OK, f"{i * 3}\n") for i in range(n)], results


def _task_processes(sb: LocalSandbox, uids: list[int]) -> list[int]:
    """Processes of the pool's task uids, or (without uids) descendants of its workers."""
    if uids:
        return [p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids]
    return [c.pid for pid in sb.worker_pids for c in psutil.Process(pid).children(recursive=True)]


@pytest.fixture
def solo():
    """A one-worker pool, so every run lands on the same worker."""
    with LocalSandbox(workers=1) as sb:
        yield sb


# --------------------------------------------------------------------------- a task vs the pool


DEEP = "import os\nfor i in range({n}):\n    os.mkdir({name!r})\n    os.chdir({name!r})\nprint('deep', {n})\n"


@pytest.mark.parametrize("name", ["d", "x" * 200], ids=["1000-levels", "past-PATH_MAX"])
def test_deep_work_dir_neither_poisons_the_worker_nor_changes_the_programs_status(solo, name):
    # The clean-up used to recurse: RecursionError, INFRA, and INFRA for every later run there.
    r = run1(solo, DEEP.format(n=1000, name=name))
    assert r.status is ExecStatus.OK and r.stdout == "deep 1000\n", r
    pid = solo.worker_pids[0]
    _ordinary(solo, 10)
    assert solo.worker_pids == [pid]  # cleared, not replaced
    # Judged runs clear the same way.
    [out] = run_tests(solo, [DEEP.format(n=1000, name=name) + "def add(a, b):\n    return a + b\n"], ADD)
    assert out.status is TestStatus.PASSED, out
    _ordinary(solo)


FLOOD = """import os, time
# tens of thousands of empty directories in the work dir and /dev/shm, then past the wall limit
for base, n in (('.', 40000), ('/dev/shm', 300000)):
    d = os.open(base, os.O_RDONLY)
    try:
        for i in range(n):
            os.mkdir(str(i), dir_fd=d)
    except OSError:
        pass
print('wrong', flush=True)
time.sleep(100)
"""


def test_a_flood_of_empty_directories_is_the_programs_timeout_not_infra():
    # The clean-up rescanned each directory after every subdirectory it removed (quadratic),
    # and /dev/shm had no inode cap: the worker missed its reply deadline, was replaced, the
    # task retried, and the program's own failure came back as INFRA.
    with LocalSandbox(workers=2) as sb:
        io = ProgramTests("io", cases=(("abc\n", "ABC\n"),))
        outs = run_tests(sb, [FLOOD, "print(input().upper())", FLOOD + "def add(a, b):\n    return a + b\n",
                              "def add(a, b):\n    return a + b\n"], [io, io, ADD, ADD], cpu_time_s=2.0)
        assert [o.status for o in outs] == [TestStatus.TIMEOUT, TestStatus.PASSED, TestStatus.TIMEOUT, TestStatus.PASSED], outs
        _ordinary(sb)


def test_a_failed_clean_up_replaces_the_worker_at_once():
    with LocalSandbox(workers=1) as sb:
        sb._cfgs[0]["cleanup_max_entries"] = 50  # a bound a task can pass cheaply
        sb._procs[0].kill()
        sb._procs[0] = None
        sb.run([ExecRequest("pass")])
        before = sb.worker_pids
        r = run1(sb, "for i in range(200):\n    open(f'f{i}', 'w').close()\nprint('made')")
        assert r.status is ExecStatus.OK and r.stdout == "made\n"  # the program's own status
        assert before[0] not in sb.worker_pids  # gone before the next task came
        _ordinary(sb)


FORGED = ['{"kind": "syntax", "exc": "SyntaxError"}', '{"kind": "setup", "exc": "OSError", "msg": "x"}',
          '{"kind": "exception", "exc": "MemoryError"}', '{"kind": "exception", "exc": "OSError", "errno": 27}']


@pytest.mark.parametrize("record", FORGED)
def test_python_cannot_turn_its_status_into_another_through_fd_3(pool, record):
    # A clean exit stays OK whatever the program wrote (an errno-27 record made it output_limit).
    write = f"import os\nos.write(3, {record!r}.encode() + b'\\n')\n"
    r = run1(pool, write + "print('done')")
    assert r.status is ExecStatus.OK and r.stdout == "done\n" and r.exception is None, r
    # A failure stays a failure: never a syntax error or an infrastructure failure.
    r = run1(pool, write + "raise SystemExit(1)")
    assert r.status not in (ExecStatus.OK, ExecStatus.SYNTAX_ERROR, ExecStatus.INFRA), r
    [out] = run_tests(pool, [write + "def add(a, b):\n    return a + b\n"], ADD)
    assert out.status is TestStatus.PASSED, out


def test_exec_ed_programs_do_not_hold_the_channel(pool):
    # bash could forge SYNTAX_ERROR by writing to fd 3.
    r = run1(pool, """echo '{"kind": "syntax", "exc": "SyntaxError"}' >&3; echo "rc=$?"; exit 1""", language="bash")
    assert r.status is ExecStatus.RUNTIME_ERROR and "rc=1" in r.stdout and "Bad file descriptor" in r.stderr, r
    r = run1(pool, "ls /proc/self/fd", language="bash")
    assert r.status is ExecStatus.OK and sorted(r.stdout.split()) == ["0", "1", "2", "3"], r  # 3: ls's own dir fd
    c = '#include <unistd.h>\n#include <stdio.h>\nint main(){printf("%d\\n", (int)write(3, "x", 1)); return 0;}'
    r = run1(pool, c, language="c", cpu_time_s=5)
    assert r.status is ExecStatus.OK and r.stdout == "-1\n", r


def test_cpu_budget_holds_for_the_whole_process_tree(pool):
    # 1 s of CPU through four forked spinners used to burn 3.6-6 CPU-seconds, ended by the wall.
    spin = "import os\nfor _ in range(4):\n    if os.fork() == 0:\n        break\nwhile True:\n    pass\n"
    start = time.monotonic()
    r = run1(pool, spin, cpu_time_s=1.0, wall_time_s=20)
    took = time.monotonic() - start
    assert r.status is ExecStatus.TIMEOUT and "CPU" in r.detail, r
    assert 1.0 <= r.cpu_s < 1.8, r.cpu_s  # the tree's CPU, all of it counted
    assert took < 10, took
    # A child that left the session and kept spinning after its parent went idle is counted too.
    escape = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        pass\n"
              "time.sleep(5)\nprint('parent done')\n")
    r = run1(pool, escape, cpu_time_s=1.0, wall_time_s=20)
    assert r.status is ExecStatus.TIMEOUT and r.cpu_s >= 1.0, r
    # Judged runs too: the program spins in children it forked on import.
    judged = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        while True:\n            pass\n"
              "def add(a, b):\n    time.sleep(3)\n    return a + b\n")
    start = time.monotonic()
    [out] = run_tests(pool, [judged], ADD, cpu_time_s=1.0, wall_time_s=15)
    res = out.results[0]
    assert out.status is TestStatus.TIMEOUT and "CPU" in res.detail and 1.0 <= res.cpu_s < 1.8, (out, res)
    assert time.monotonic() - start < 5  # the spinners' CPU ended it, not the sleeping tests
    _ordinary(pool)


def test_cpu_budget_holds_per_tree_without_a_cgroup_too():
    # Where no cgroup can be made, the tree's CPU is sampled from /proc (its session, its uid).
    with LocalSandbox(workers=1) as sb:
        sb._cfgs[0]["cgroups"] = False
        sb._procs[0].kill()
        sb._procs[0] = None
        spin = "import os\nfor _ in range(4):\n    if os.fork() == 0:\n        break\nwhile True:\n    pass\n"
        r = run1(sb, spin, cpu_time_s=1.0, wall_time_s=20)
        assert "cgroup" not in r.isolation
        assert r.status is ExecStatus.TIMEOUT and "CPU" in r.detail and 1.0 <= r.cpu_s < 2.0, r
        if IS_ROOT:  # a child that left the session still runs as the task's uid
            escape = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        pass\ntime.sleep(5)\n"
            r = run1(sb, escape, cpu_time_s=1.0, wall_time_s=20)
            assert r.status is ExecStatus.TIMEOUT and r.cpu_s >= 1.0, r
        _ordinary(sb)


def test_the_judges_cpu_is_not_the_programs(pool):
    # The judge lives outside the task's tree (a cgroup of its own): heavy tests never time the program out.
    heavy = ProgramTests("asserts", code="n = sum(i * i for i in range(4 * 10 ** 6))\nassert add(1, 2) == 3\n"
                                          "n = sum(i * i for i in range(4 * 10 ** 6))\nassert add(2, 2) == 4")
    [out] = run_tests(pool, ["def add(a, b):\n    return a + b\n"], heavy, cpu_time_s=0.3, wall_time_s=30)
    assert out.status is TestStatus.PASSED and out.results[0].cpu_s < 0.3, (out, out.results)


def test_cpu_of_a_finished_tree_is_reported(pool):
    code = ("import os\npids = []\nfor _ in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
            "        x = 0\n        for i in range(3 * 10 ** 6):\n            x += i\n        os._exit(0)\n"
            "    pids.append(pid)\nfor p in pids:\n    os.waitpid(p, 0)\n")
    r = run1(pool, code, cpu_time_s=10)
    assert r.status is ExecStatus.OK and r.cpu_s > 0.3, r  # three children's loops, not the idle parent's


def test_files_in_the_work_dir_count_against_the_memory_budget(pool):
    # memory_mb=64 pinned 702 MB of host memory with files before.
    fill = ("n = 0\ntry:\n    while True:\n        open(f'f{n}', 'wb').write(b'x' * (1 << 20))\n        n += 1\n"
            "except OSError as e:\n    print(n, e.errno)\n")
    r = run1(pool, fill, memory_mb=64)
    assert "workfs" in r.isolation
    n, errno = map(int, r.stdout.split())
    assert r.status is ExecStatus.OK and n <= 64 and errno == 28, r  # ENOSPC at the budget
    r = run1(pool, fill.replace("except OSError as e:\n    print(n, e.errno)\n", "finally:\n    pass\n"), memory_mb=64)
    assert r.status is ExecStatus.MEMORY_LIMIT and "work dir" in r.detail, r
    r = run1(pool, "for i in range(100000):\n    open(f'{i}', 'w').close()", memory_mb=64)  # inodes are capped too
    assert r.status is ExecStatus.MEMORY_LIMIT, r
    r = run1(pool, "import os\nprint(len(os.listdir('.')))", memory_mb=64)
    assert r.stdout == "0\n"  # emptied for the next task
    _ordinary(pool)


def test_no_process_of_a_killed_attempt_outlives_its_result():
    # Grandchildren of a task whose worker was killed were still running 5 s later.
    code = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
            "        if os.fork() == 0:\n            time.sleep(60)\n        time.sleep(60)\n"
            "print('forked', flush=True)\ntime.sleep(60)\n")
    with LocalSandbox(workers=1, retry_on_worker_death=False) as sb:
        uids = [p.uid for p in sb._procs if p.uid is not None]
        victim = sb.worker_pids[0]
        threading.Timer(1.5, lambda: os.kill(victim, signal.SIGKILL)).start()
        [r] = sb.run([ExecRequest(code, cpu_time_s=10, wall_time_s=60)])
        assert r.status is ExecStatus.INFRA and "worker" in r.detail, r
        if IS_ROOT:
            assert _task_processes(sb, uids) == []  # at once, not after a while
        _ordinary(sb)


def test_escaped_descendants_end_with_their_task(solo, task_children):
    # Processes that left the task's session (setsid, a double fork) are found, killed and
    # reaped when the task ends, not when they please.
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    os.fork()\n    time.sleep(60)\nprint('left')\n"
    r = run1(solo, code)
    assert r.status is ExecStatus.OK and r.stdout == "left\n"
    assert task_children(solo.worker_pids[0]) == []
    if IS_ROOT:
        assert _task_processes(solo, [solo._procs[0].uid]) == []


# --------------------------------------------------------------------------- odd programs


@pytest.mark.parametrize("language", ["bash", "c", "javascript", "python"])
def test_a_lone_surrogate_in_the_source_is_a_syntax_error(pool, language):
    # UnicodeEncodeError in the worker: INFRA before.
    code = {"bash": "echo '\udc80'", "c": "int main(){ /* \ud800 */ return 0; }", "javascript": "console.log('\udfff')",
            "python": "print('\ud800')"}[language]
    r = run1(pool, code, language=language, cpu_time_s=5)
    assert r.status is ExecStatus.SYNTAX_ERROR and r.detail, r
    _ordinary(pool)


def test_closing_stdout_is_reported_as_what_happened(pool):
    r = run1(pool, "import os\nprint('lost')\nos.close(1)")
    assert r.status is ExecStatus.RUNTIME_ERROR and r.exit_code == 120 and "flushed" in r.detail, r  # was output_limit
    r = run1(pool, "import os\nos.close(1)")  # nothing left to write: a clean exit
    assert r.status is ExecStatus.OK, r
    r = run1(pool, "exec 1>&-\necho hi", language="bash")
    assert r.status is ExecStatus.RUNTIME_ERROR, r


# --------------------------------------------------------------------------- the caller and the pool's life


def test_a_result_only_reaches_the_request_it_answers(solo):
    # A reply the pool gave up on (here: a request sent by hand, never read) must not be
    # taken for the next request's.
    proc = solo._procs[0]
    stray = {"code": "print('A')", "language": "python", "cpu_time_s": 1.0, "memory_mb": 512, "stdin": b"", "files": {},
             "wall_time_s": None, "output_limit_bytes": 1 << 20, "max_processes": 16, "max_open_files": 256, "args": [],
             "env": {}, "epilogue": "", "epilogue_globals": {}, "judge": False}
    proc.send(stray, None, time.monotonic() + 5)
    assert [r.stdout for r in solo.run([ExecRequest("print('B')"), ExecRequest("print('C')")])] == ["B\n", "C\n"]


def test_close_fails_pending_runs_promptly_and_later_runs_raise():
    sb = LocalSandbox(workers=2)
    out: list = []
    caller = threading.Thread(target=lambda: out.extend(
        sb.run([ExecRequest("import time; time.sleep(30)", cpu_time_s=1, wall_time_s=50)] * 6)))
    caller.start()
    time.sleep(1.0)
    start = time.monotonic()
    sb.close()
    caller.join(timeout=15)
    assert not caller.is_alive() and time.monotonic() - start < 15  # it blocked 60 s before
    assert len(out) == 6 and all(r.status is ExecStatus.INFRA and "closed" in r.detail for r in out), out
    with pytest.raises(SandboxClosedError):
        sb.run([ExecRequest("print(1)")])


def test_close_racing_run_from_many_threads():
    sb = LocalSandbox(workers=2)
    outcomes: list = []

    def caller():
        try:
            outcomes.append(sb.run([ExecRequest("import time; time.sleep(0.2)")] * 3))
        except SandboxClosedError:
            outcomes.append("closed")

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    sb.close()
    for t in threads:
        t.join(timeout=15)
    assert not any(t.is_alive() for t in threads) and len(outcomes) == 6
    for o in outcomes:
        assert o == "closed" or all(r.status in (ExecStatus.OK, ExecStatus.INFRA) for r in o)


def test_a_stopped_worker_with_a_large_request_does_not_hold_the_caller(solo):
    # 200 KB of request to a SIGSTOPped worker blocked the caller for over 60 s.
    victim = solo.worker_pids[0]
    os.kill(victim, signal.SIGSTOP)
    try:
        out: list = []
        big = "x = 1\n" + "# " + "y" * 200_000 + "\nprint('big')\n"
        caller = threading.Thread(target=lambda: out.extend(solo.run([ExecRequest(big, cpu_time_s=0.5, wall_time_s=1)])))
        start = time.monotonic()
        caller.start()
        caller.join(timeout=30)
        took = time.monotonic() - start
        assert not caller.is_alive(), "run() still blocked on a stopped worker"
    finally:
        try:
            os.kill(victim, signal.SIGCONT)
        except ProcessLookupError:
            pass
    [r] = out
    assert took < 20, took
    assert (r.status is ExecStatus.OK and r.retried and r.stdout == "big\n") or r.status is ExecStatus.INFRA, r
    assert victim not in solo.worker_pids
    _ordinary(solo)


def test_nothing_of_a_failed_run_stays_queued(solo):
    # After a run() that raised, the next 1-request run waited for the rest of its batch.
    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            solo.run([ExecRequest("import time; time.sleep(1)", cpu_time_s=1, wall_time_s=5)] * 8)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    start = time.monotonic()
    [r] = solo.run([ExecRequest("print('next')")])
    assert r.stdout == "next\n" and time.monotonic() - start < 3, time.monotonic() - start  # 7 s queued before


def test_a_call_that_raised_while_building_queues_nothing(solo):
    with pytest.raises(ValueError):  # ConfigError now, in the ExecRequest; UnicodeEncodeError mid-run() before
        solo.run([ExecRequest("import time; time.sleep(1)", cpu_time_s=1)] * 4 + [ExecRequest("x", stdin="\ud800")])
    start = time.monotonic()
    assert solo.run([ExecRequest("print(1)")])[0].stdout == "1\n"
    assert time.monotonic() - start < 2


IPC_MAKE = "import ctypes\nlibc = ctypes.CDLL(None)\nprint(libc.shmget(ctypes.c_int(0x5EE1C0DE), 64, 0o1644))"
IPC_LOOK = "print(sum(1 for line in open('/proc/sysvipc/shm')) - 1)"


def test_system_v_ipc_a_task_leaves_is_never_seen_by_a_later_task_nor_the_host(solo):
    host_before = sum(1 for _ in open("/proc/sysvipc/shm"))
    [made] = solo.run([ExecRequest(IPC_MAKE)])
    assert made.status is ExecStatus.OK and int(made.stdout) >= 0, made  # the segment exists, in the worker's namespace
    assert "ipcns" in made.isolation
    assert sum(1 for _ in open("/proc/sysvipc/shm")) == host_before  # never the host's
    for _ in range(2):  # the worker it ran on was replaced: a fresh worker, a fresh namespace
        [later] = solo.run([ExecRequest(IPC_LOOK)])
        assert later.status is ExecStatus.OK and later.stdout == "0\n", later


# keyctl(2) and add_key(2) through syscall(2) (x86_64 numbers; the tests skip elsewhere).
KEYS = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
RINGS = {"session": -3, "user": -4, "user_session": -5}
def persistent():
    return libc.syscall(250, 22, -1, -3)  # KEYCTL_GET_PERSISTENT, linked into the session keyring
def add(ring, name):
    return libc.syscall(248, b"user", name.encode(), b"LEFT-" + name.encode(), 5 + len(name), ring)
def find(ring, name):
    kid = libc.syscall(250, 10, ring, b"user", name.encode(), 0)  # KEYCTL_SEARCH
    if kid < 0:
        return None
    buf = ctypes.create_string_buffer(64)
    n = libc.syscall(250, 11, kid, buf, 64)  # KEYCTL_READ
    return buf.raw[:max(n, 0)].decode()
rings = dict(RINGS, persistent=persistent())
for ring in (-4, -5):  # KEYCTL_LINK into the session keyring: possessed, so their keys are readable
    libc.syscall(250, 8, ring, -3)
if sys.argv[1] == "write":
    print(sorted(name for name, ring in rings.items() if add(ring, name) > 0))
else:
    print(sorted(name for name, ring in rings.items() if find(ring, name)))
"""


def _x86_64_root():
    if os.uname().machine != "x86_64" or os.geteuid() != 0:
        pytest.skip("the probes use x86_64 syscall numbers; uid keyrings are emptied as root only")


def test_no_keyring_carries_what_a_task_stored_to_a_later_task(solo):
    # The user, user-session and persistent keyrings belong to the uid, not to a process: the
    # sandbox uid is the worker's for good, so a key a task left there was the next task's.
    _x86_64_root()
    for _ in range(2):
        [wrote] = solo.run([ExecRequest(KEYS, args=("write",))])
        assert wrote.status is ExecStatus.OK and wrote.stdout == "['persistent', 'session', 'user', 'user_session']\n", wrote
        [read] = solo.run([ExecRequest(KEYS, args=("read",))])
        assert read.status is ExecStatus.OK and read.stdout == "[]\n", read
        assert "keyrings" in read.isolation


def test_a_program_keeps_its_own_keys_while_it_runs(solo):
    _x86_64_root()
    both = KEYS.replace('if sys.argv[1] == "write":', 'if [add(r, n) for n, r in rings.items()] and False:')
    [r] = solo.run([ExecRequest(both, args=("read",))])
    assert r.status is ExecStatus.OK and r.stdout == "['persistent', 'session', 'user', 'user_session']\n", r


_TRAINER = """
import ctypes, sys
from exectune_rl.sandboxes import ExecRequest, LocalSandbox
libc = ctypes.CDLL(None, use_errno=True)
assert libc.syscall(250, 1, b"trainer", 0, 0) > 0  # KEYCTL_JOIN_SESSION_KEYRING: the trainer's own
assert libc.syscall(248, b"user", b"session", b"TRAINER-SECRET", 14, -3) > 0
with LocalSandbox(workers=1, prefork=sys.argv[1] == "1") as sb:
    [r] = sb.run([ExecRequest(sys.argv[2], args=("read",))])
    [w] = sb.run([ExecRequest(sys.argv[2], args=("write",))])
print(r.status.value, r.stdout.strip(), w.status.value, w.stdout.strip())
planted = libc.syscall(250, 10, -3, b"user", b"user", 0)  # what a task added to the session keyring it had
print("planted" if planted > 0 else "clean")
"""


@pytest.mark.parametrize("prefork", [False, True], ids=["fork", "prefork"])
def test_a_task_neither_reads_nor_writes_the_trainers_session_keyring(prefork):
    # A forked child shares its parent's session keyring and possesses it, whatever its uid:
    # tasks read the trainer's keys there (a login session's credentials) and planted their own.
    _x86_64_root()
    import subprocess

    out = subprocess.run([sys.executable, "-c", _TRAINER, str(int(prefork)), KEYS], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert out == ["ok [] ok ['persistent', 'session', 'user', 'user_session']", "clean"], out


MQUEUE = r"""
import ctypes, os, sys
rt = ctypes.CDLL("librt.so.1", use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]
buf = ctypes.create_string_buffer(64)
if sys.argv[1] in ("write", "both"):
    q = rt.mq_open(b"/left", os.O_CREAT | os.O_WRONLY, 0o666, ctypes.byref(Attr(0, 4, 64, 0)))
    assert q >= 0 and rt.mq_send(q, b"LEFT-BEHIND", 11, 0) == 0, ctypes.get_errno()
if sys.argv[1] in ("read", "both"):
    q = rt.mq_open(b"/left", os.O_RDONLY | os.O_NONBLOCK, 0, None)
    n = rt.mq_receive(q, buf, 64, None) if q >= 0 else -1
    print(buf.raw[:n].decode() if n > 0 else "none")
else:
    print("sent")
"""


def test_a_posix_message_queue_a_task_leaves_is_never_seen_by_a_later_task(solo):
    # A queue lives in the IPC namespace, which all of a worker's tasks share.
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/librt.so.1") and not os.path.exists("/lib/x86_64-linux-gnu/librt.so.1"):
        pytest.skip("no librt.so.1 here")
    host_before = sorted(os.listdir("/dev/mqueue")) if os.path.isdir("/dev/mqueue") else None
    for _ in range(2):
        [wrote] = solo.run([ExecRequest(MQUEUE, args=("write",))])
        assert wrote.status is ExecStatus.OK and wrote.stdout == "sent\n", wrote
        if "mountns" not in wrote.isolation:
            pytest.skip("no mount namespace here to list the worker's queues in")
        [read] = solo.run([ExecRequest(MQUEUE, args=("read",))])
        assert read.status is ExecStatus.OK and read.stdout == "none\n", read
        assert "mqueue" in read.isolation
    if host_before is not None:
        assert sorted(os.listdir("/dev/mqueue")) == host_before  # never the host's
    [own] = solo.run([ExecRequest(MQUEUE, args=("both",))])  # a program's own queue works while it runs
    assert own.status is ExecStatus.OK and own.stdout == "LEFT-BEHIND\n", own


DIR_META = r"""
import os, sys
if sys.argv[1] == "write":
    os.setxattr(".", "user.answer", b"42")
    os.utime(".", ns=(111_111_111, 4_242_424_242))
    os.utime("/dev/shm", None)  # world-writable: anyone may set it to now
    print("ok")
else:
    st, shm = os.stat("."), os.stat("/dev/shm")
    print(os.listxattr("."), st.st_atime_ns, st.st_mtime_ns, shm.st_mtime_ns)
"""


def test_the_work_dirs_xattrs_and_times_carry_nothing_to_a_later_task(solo):
    # The work dir is the task's own (it may set xattrs and times on it) and outlives its
    # files: a correct program could leave its answer there for a wrong one to print.
    [first] = solo.run([ExecRequest(DIR_META, args=("read",))])
    assert first.status is ExecStatus.OK, first
    if "workfs" not in first.isolation:
        pytest.skip("no tmpfs work dir here (user xattrs need one)")
    for _ in range(2):
        [wrote] = solo.run([ExecRequest(DIR_META, args=("write",))])
        assert wrote.status is ExecStatus.OK and wrote.stdout == "ok\n", wrote
        [read] = solo.run([ExecRequest(DIR_META, args=("read",))])
        assert read.status is ExecStatus.OK and read.stdout == first.stdout, (read, first)


def test_io_tests_cannot_pass_on_an_answer_an_earlier_program_left_in_an_xattr(solo):
    honest = ("import os\nn = int(input())\nprint(n * n)\n"
              "os.setxattr('.', 'user.a%d' % n, str(n * n).encode())\n")
    replay = "import os\nn = int(input())\ntry:\n    print(os.getxattr('.', 'user.a%d' % n).decode())\nexcept OSError:\n    print(0)\n"
    suite = ProgramTests("io", cases=(("7\n", "49\n"),))
    [ok] = run_tests(solo, [honest], [suite], cpu_time_s=2)
    [hack] = run_tests(solo, [replay], [suite], cpu_time_s=2)
    assert ok.passed and not hack.passed, (ok, hack)


NEW_NS = r"""
import ctypes, os, signal, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
out = []
for flags in (0x10000000, 0x10000000 | 0x00020000, 0x20000000, 0x40000000):  # NEWUSER, +NEWNS, NEWPID, NEWNET
    out.append((libc.unshare(flags), ctypes.get_errno()))
    # clone(2) itself, flags in its first argument, as a fork asking for a new user namespace
    pid = libc.syscall(56 if os.uname().machine == "x86_64" else 220, flags | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    out.append((pid if pid < 0 else "child", ctypes.get_errno()))
fd = os.open("/proc/1/ns/user", os.O_RDONLY) if os.path.exists("/proc/1/ns/user") else os.open("/proc/self/ns/user", os.O_RDONLY)
out.append((libc.setns(fd, 0), ctypes.get_errno()))
t = threading.Thread(target=out.append, args=("thread",)); t.start(); t.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
out.append(os.waitpid(pid, 0)[1] >> 8)
out.append(subprocess.run(["/bin/sh", "-c", "echo sh"], capture_output=True, text=True).stdout)
print(out)
"""


def test_a_task_can_make_no_namespace_of_its_own(solo):
    # In a user namespace of its own a task is root: it mounted a tmpfs there and filled it
    # with gigabytes no limit of the task counted. Threads, forks and programs still work.
    [r] = solo.run([ExecRequest(NEW_NS, cpu_time_s=5)])
    assert r.status is ExecStatus.OK, r
    if "uid" not in r.isolation or os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip("the filter is set as root, on machines whose syscall numbers it knows")
    assert "nonewns" in r.isolation
    assert r.stdout == str([(-1, 1)] * 9 + ["thread", 7, "sh\n"]) + "\n", r


def test_a_task_reads_no_counter_of_its_workers_cgroup(solo):
    # cpuacct.usage counts every task the worker ran: a task that burnt a chosen amount of CPU
    # left a number the next task read. The cgroup folders are no longer in the tasks' view.
    from exectune_rl.sandboxes import _tree

    root = _tree.cpuacct_root()
    probe = ("import sys\nname = [l.split(':', 2)[2] for l in open('/proc/self/cgroup').read().split() if 'cpuacct' in l]\n"
             "found = []\nfor base in sys.argv[1:]:\n    for leaf in ('cpuacct.usage', 'cgroup.procs', 'tasks'):\n"
             "        try:\n            open(base + name[0] + '/' + leaf).read()\n            found.append(leaf)\n"
             "        except (OSError, IndexError):\n            pass\n        try:\n"
             "            open(base + name[0] + '-judge/' + leaf).read()\n            found.append('judge ' + leaf)\n"
             "        except (OSError, IndexError):\n            pass\nprint(found)\n")
    [r] = solo.run([ExecRequest(probe, args=(root or "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup"))])
    if "cgroup" not in r.isolation:
        pytest.skip("no cgroup here")
    assert r.status is ExecStatus.OK and r.stdout == "[]\n", r
    [burn] = solo.run([ExecRequest("x = sum(i * i for i in range(200000))")])
    assert burn.status is ExecStatus.OK and burn.cpu_s > 0.005, burn  # still counted, through the worker's fds


FORK_HOG = """
import os, time
kids = []
for _ in range(12):
    pid = os.fork()
    if pid == 0:
        b = bytearray(40 << 20)
        for j in range(0, len(b), 4096):
            b[j] = 1
        time.sleep(1)
        os._exit(0)
    kids.append(pid)
raise SystemExit(sum(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) != 0 for k in kids))
"""
MEMFD_HOG = """
import os
if os.fork() == 0:
    os.fork()
fds = []
for _ in range(250):  # unmapped files: no process's address space holds them
    fd = os.memfd_create("x")
    os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
print("kept", len(fds))
"""


def test_memory_mb_holds_for_the_task_tree_together(pool):
    # memory_mb bounded each process's address space, and a task may start 16 of them, each
    # also holding unmapped memfds: a task could hold many times its budget. With the memcg
    # layer the task's processes share one limit, memory_mb and the runtimes' own pages.
    three_procs = ("import os\nkids = []\nfor _ in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
                   "        b = bytearray(30 << 20)\n        for j in range(0, len(b), 4096):\n            b[j] = 1\n"
                   "        os._exit(0)\n    kids.append(pid)\n"
                   "print(sum(os.waitpid(k, 0)[1] for k in kids))\n")
    fork_hog, memfd_hog, honest, alone = pool.run([
        ExecRequest(FORK_HOG, memory_mb=128, cpu_time_s=5, wall_time_s=8),
        ExecRequest(MEMFD_HOG, memory_mb=64, cpu_time_s=5, max_open_files=512, output_limit_bytes=2 << 20),
        ExecRequest(three_procs, memory_mb=256, cpu_time_s=5),
        ExecRequest("b = bytearray(200 << 20)\nb[::4096] = b'x' * len(b[::4096])\nprint(len(b))", memory_mb=256),
    ])
    if "memcg" not in fork_hog.isolation:
        pytest.skip("no memory cgroup here (as a non-root user): memory_mb holds per process only")
    for hog in (fork_hog, memfd_hog):
        assert hog.status is ExecStatus.MEMORY_LIMIT and "memory cgroup" in hog.detail, hog
        assert "kept 250" not in hog.stdout
    assert (honest.status, honest.stdout) == (ExecStatus.OK, "0\n"), honest
    assert (alone.status, alone.stdout) == (ExecStatus.OK, f"{200 << 20}\n"), alone
    # the tasks' memory cgroup is no task's to read or change
    probe = ("import glob\nfound = []\nfor path in glob.glob('/sys/fs/cgroup/memory/**/memory.limit_in_bytes', recursive=True):\n"
             "    try:\n        open(path, 'a').close()\n        found.append(path)\n    except OSError:\n        pass\n"
             "print(found)\n")
    [r] = pool.run([ExecRequest(probe)])
    assert (r.status, r.stdout) == (ExecStatus.OK, "[]\n"), r
    _ordinary(pool)


# Memory no process holds when the task ends: its processes fill memfds, exec tiny holders and
# lower their OOM score, so that what the OOM killer weighs (resident memory) points elsewhere.
ZYGOTE_BAIT = r"""
import os, ctypes, resource
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self is the task's own
try:
    open("/proc/self/oom_score_adj", "w").write("0")
except OSError:
    pass
park = 64 + 128 + 12
while park > 0:
    n = min(park, 100)
    park -= n
    if os.fork() == 0:
        fds = [os.memfd_create("p", 0) for _ in range(n)]
        for fd in fds:
            os.write(fd, b"\1" * (1 << 20))
        os.execv("/bin/sleep", ["sleep", "30"])
import time
time.sleep(1.5)
"""
# A unix socket cycle with memfds in flight on it: no process holds it once the task ends,
# and the kernel collects it only when some unix socket is closed.
IN_FLIGHT = r"""
import os, socket, array
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
fds = []
for _ in range(170):
    fd = os.memfd_create("p", 0)
    os.write(fd, b"\1" * 1000000)
    fds.append(fd)
for i in range(0, len(fds), 100):
    a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds[i:i + 100]))])
a.sendmsg([b"y"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a.fileno(), b.fileno()]))])
for fd in fds:
    os.close(fd)
a.close()
b.close()
print("parked")
"""


def test_memory_parked_in_flight_is_freed_after_its_task_without_a_memory_cgroup_too():
    # no cgroup counts it: the worker has the kernel collect the task's socket cycle itself
    def shmem_mb() -> int:
        with open("/proc/meminfo") as f:
            return int(next(line.split()[1] for line in f if line.startswith("Shmem:"))) >> 10

    with LocalSandbox(workers=1) as sb:
        sb._cfgs[0]["memcg"] = False
        sb._procs[0].kill()
        sb._procs[0] = None
        [warm] = sb.run([ExecRequest("pass")])
        assert "memcg" not in warm.isolation
        before = shmem_mb()
        [parked] = sb.run([ExecRequest(IN_FLIGHT, memory_mb=256, max_open_files=256)])
        assert (parked.status, parked.stdout) == (ExecStatus.OK, "parked\n"), parked
        deadline = time.monotonic() + 5
        while shmem_mb() > before + 80 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shmem_mb() < before + 80, (before, shmem_mb())  # 170 MB were parked


def test_memory_no_process_holds_never_harms_the_zygote_or_the_next_task():
    honest = ExecRequest("b = bytearray(40 << 20)\nb[::4096] = b'x' * len(b[::4096])\nprint(len(b))", memory_mb=64)
    with LocalSandbox(workers=1) as sb:
        bait, after_bait, parked, *after = sb.run([
            ExecRequest(ZYGOTE_BAIT, memory_mb=64, cpu_time_s=5, wall_time_s=8, max_open_files=256),
            honest, ExecRequest(IN_FLIGHT, memory_mb=256, max_open_files=256), honest, honest, honest])
        if "memcg" not in bait.isolation:
            pytest.skip("no memory cgroup here")
        # only the task's own processes are in its memory cgroup: the OOM killer stops one of
        # them, never the zygote (which made this the program's INFRA)
        assert bait.status is ExecStatus.MEMORY_LIMIT, bait
        assert (parked.status, parked.stdout) == (ExecStatus.OK, "parked\n"), parked
        for r in (after_bait, *after):
            assert (r.status, r.stdout) == (ExecStatus.OK, f"{40 << 20}\n"), r


def test_the_tasks_memory_cgroup_goes_with_its_worker():
    with LocalSandbox(workers=1) as sb:
        [r] = sb.run([ExecRequest("print(1)")])
        paths = [p for p in sb._procs[0].cgroups if p.endswith("-tasks")]
    if "memcg" not in r.isolation:
        pytest.skip("no memory cgroup here")
    assert len(paths) == 1 and not os.path.exists(paths[0])


def test_a_worker_whose_tasks_cgroup_is_gone_is_replaced_and_its_task_runs_on_a_fresh_one():
    # The task child joins the tasks' memory cgroup itself, once it has its task: where that
    # fails, nothing of the task ran and the worker's cgroups are at fault, not the program.
    with LocalSandbox(workers=1) as sb:
        [first] = sb.run([ExecRequest("print(1)")])
        if "memcg" not in first.isolation:
            pytest.skip("no memory cgroup here")
        worker = sb.worker_pids[0]
        [path] = [p for p in sb._procs[0].cgroups if p.endswith("-tasks")]
        os.rmdir(path)
        gone, after = sb.run([ExecRequest("print(2)"), ExecRequest("print(3)")])
        assert (gone.status, gone.stdout, gone.retried) == (ExecStatus.OK, "2\n", True), gone
        assert (after.status, after.stdout, after.retried) == (ExecStatus.OK, "3\n", False), after
        assert sb.worker_pids[0] != worker
        # the same for a judged run: the tests go again with the program, to the fresh worker
        worker = sb.worker_pids[0]
        [path] = [p for p in sb._procs[0].cgroups if p.endswith("-tasks")]
        os.rmdir(path)
        [judged] = run_tests(sb, ["def f():\n    return 1\n"], ProgramTests("asserts", code="assert f() == 1"))
        assert judged.passed and judged.results[0].retried, judged
        assert sb.worker_pids[0] != worker


def test_memory_mb_holds_for_node_programs(pool):
    # node got no RLIMIT_AS (V8 reserves far more than it uses) and --max-old-space-size bounds
    # only V8's heap: 2 GB of Buffers under memory_mb=256 used to pass.
    big = ("const keep = [];\nfor (let i = 0; i < 16; i++) keep.push(Buffer.alloc(128 * 1024 * 1024, 1));\n"
           "console.log(require('fs').readFileSync(0, 'utf8').trim().toUpperCase());")
    small = "const keep = Buffer.alloc(64 * 1024 * 1024, 1);\nconsole.log(require('fs').readFileSync(0, 'utf8').trim().toUpperCase());"
    over, under = pool.run([ExecRequest(code, language="javascript", memory_mb=256, stdin="abc\n", cpu_time_s=5)
                            for code in (big, small)])
    assert over.status is ExecStatus.MEMORY_LIMIT and "ABC" not in over.stdout, over
    assert under.status is ExecStatus.OK and under.stdout == "ABC\n", under


def test_a_request_sent_ahead_to_a_worker_that_is_lost_runs_once_as_a_first_try():
    # While a worker runs a task, the next job of the queue is already in its pipe. The worker
    # dies during the first: that one is re-run (retried), the one sent ahead never ran and
    # goes to the fresh worker as a first try.
    import threading

    with LocalSandbox(workers=1) as sb:
        sb.run([ExecRequest("pass")])
        killer = threading.Timer(0.5, lambda: os.kill(sb.worker_pids[0], signal.SIGKILL))
        killer.start()
        try:
            slow, *rest = sb.run([ExecRequest("import time\ntime.sleep(1.5)\nprint('slept')")] +
                                 [ExecRequest(f"print({i})") for i in range(4)])
        finally:
            killer.cancel()
        assert slow.status is ExecStatus.OK and slow.retried and slow.stdout == "slept\n"
        assert [(r.status, r.stdout, r.retried) for r in rest] == [(ExecStatus.OK, f"{i}\n", False) for i in range(4)]
        _ordinary(sb)


def test_a_retiring_worker_hands_back_the_request_sent_ahead():
    # A task leaves what its worker cannot clear: the worker retires with its reply, and the
    # request already sent ahead to it runs on its successor.
    with LocalSandbox(workers=1) as sb:
        sb._cfgs[0]["cleanup_max_entries"] = 50
        sb._procs[0].kill()
        sb._procs[0] = None
        sb.run([ExecRequest("pass")])
        before = sb.worker_pids
        made, *rest = sb.run([ExecRequest("for i in range(200):\n    open(f'f{i}', 'w').close()\nprint('made')")] +
                             [ExecRequest(f"print({i})") for i in range(3)])
        assert made.status is ExecStatus.OK and made.stdout == "made\n"
        assert [(r.status, r.stdout, r.retried) for r in rest] == [(ExecStatus.OK, f"{i}\n", False) for i in range(3)]
        assert before[0] not in sb.worker_pids
