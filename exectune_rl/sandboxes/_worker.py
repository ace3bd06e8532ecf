"""The sandbox worker: a warm interpreter that forks one limited child per task.

Started by :class:`~exectune_rl.sandboxes.local.LocalSandbox` as a separate interpreter with a
scrubbed environment. It talks to its parent over two pipes (length-prefixed pickles; every
reply names the request it answers, and says when the worker must be replaced) and
never runs untrusted code itself: every task runs in a child forked from it, which sets up
limits, drops privileges and then runs the program. Python programs are ``exec``-ed in the
already-warm child (no interpreter start-up); other languages are ``execve``-d.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import marshal
import os
import pickle
import resource
import select
import signal
import struct
import sys
import termios
import time
import traceback
from typing import Any

# Workers load this file, _isolation.py and _task.py by path (see local.py), without the package
# __init__ and its imports: every page a worker maps makes each fork dearer.
_isolation = sys.modules.get("exectune_sandbox_isolation")
if _isolation is None:
    from exectune_rl.sandboxes import _isolation
_task = sys.modules.get("exectune_sandbox_task")
if _task is None:
    from exectune_rl.sandboxes import _task
_judge = sys.modules.get("exectune_sandbox_judge")
if _judge is None:
    from exectune_rl.sandboxes import _judge
_tree = sys.modules.get("exectune_sandbox_tree")
if _tree is None:
    from exectune_rl.sandboxes import _tree

_HEADER = struct.Struct("!I")
_PID = struct.Struct("!i")
_EXIT = struct.Struct("!iid")  # the zygote's word on a child it reaped: pid, wait status, CPU seconds
_CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
REAP_TIMEOUT_S = 5.0
GONE_GRACE_S = 0.1
"""How long a judged program whose wire closed may take to end on its own before the worker stops it."""

# Languages run by execve: (source file, compile argv or None, run argv). "{exe}" is the
# compiled binary. Compile steps get their own budget; only the run step counts as cpu_s.
LANGUAGES: dict[str, tuple[str, list[str] | None, list[str]]] = {
    "javascript": ("main.js", None, ["node", "main.js"]),
    "c": ("main.c", ["gcc", "-O1", "-std=gnu11", "-o", "main", "main.c", "-lm"], ["./main"]),
    "cpp": ("main.cpp", ["g++", "-O1", "-std=gnu++17", "-o", "main", "main.cpp"], ["./main"]),
    "bash": ("main.sh", None, ["bash", "main.sh"]),
}
COMPILE_CPU_S = 20.0
# Larger programs compile in the task child, under its limits, not in the worker.
COMPILE_IN_WORKER_MAX_CHARS = 256_000
COMPILE_MEMORY_MB = 2048
# What a task child reads of its request (the rest: files, stdin, the tests, are the worker's).
_CHILD_KEYS = ("code", "cpu_time_s", "load_cpu_time_s", "memory_mb", "output_limit_bytes", "max_open_files",
               "max_processes", "env", "args", "epilogue_globals")


# --------------------------------------------------------------------------- protocol


def frame(obj: Any) -> bytes:
    """One message as it travels: a length header, then the pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def send(fd: int, obj: Any) -> None:
    buf = memoryview(frame(obj))
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(fd: int) -> Any:
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(head)[0])
    return None if body is None else pickle.loads(body)


# --------------------------------------------------------------------------- the worker


class Worker:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.uid: int | None = None
        if os.geteuid() == 0:
            self.uid, self._uid_lock = _isolation.claim_uid(cfg["uid"])
        self.layers: list[str] = ["rlimits", "session", "tmpdir", "env"]
        self.note = ""
        self.epilogues: dict[str, Any] = {}
        self.shm_private = False
        self.ipc_private = False
        self.children_file = f"/proc/self/task/{os.getpid()}/children"
        self.out_fd = os.memfd_create("stdout")
        self.err_fd = os.memfd_create("stderr")
        # What a task child writes its output through: never a descriptor it can read back
        # (a harness's marks, printed before the program's calls, carry their nonce there)
        self.out_w, self.err_w = _write_only(self.out_fd), _write_only(self.err_fd)
        # Two channels from the task child: ``status`` carries only what the trusted code
        # writes before the program starts (a setup failure, a syntax error) and is closed
        # in the child before the program runs; ``claims`` carries what a Python child says
        # about the program's end (the exception's name), which the program can write too.
        self.status_fd = os.memfd_create("status")
        self.claim_fd = os.memfd_create("claims")
        self.verdict_fd = os.memfd_create("verdict")
        self.in_fd = os.memfd_create("stdin")
        self.sealed_ns_fd: int | None = None
        self.judge: _JudgeServer | None = None
        self.judge_cpu_stopped = 0.0  # what the judge used in the task it was stopped in at the wall
        self.spare: _Spare | None = None
        self.zygote: _Zygote | None = None
        self.names: tuple[Any, Any] = (None, None)  # C strings for PR_SET_NAME (prefork): the zygote's, the worker's own
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.exes = {name: _which(name) for name in ("node", "gcc", "g++", "bash")}
        layers, self.note = _isolation.setup_worker_isolation(
            network=cfg["network"], mounts=cfg["mounts"], tmp_size_mb=cfg["tmp_size_mb"]
        )
        self.layers += layers
        self.shm_private = "mountns" in layers and os.path.isdir("/dev/shm")
        if self.shm_private:  # world-writable: any task may touch its times
            st = os.stat("/dev/shm")
            self.shm_times = (st.st_atime_ns, st.st_mtime_ns)
        self.ipc_private = "ipcns" in layers
        # Outside the sealed view (its /tmp is the worker's private tmpfs, not kept there).
        self.mqueue_fd = _isolation.open_mqueues("/tmp") if self.ipc_private and "mountns" in layers else None
        if self.mqueue_fd is not None:
            self.layers.append("mqueue")
        if self.uid is not None and "mountns" not in layers and not _isolation.world_readable(sys.base_prefix):
            self.note = "; ".join(filter(None, [self.note, (
                f"the interpreter under {sys.base_prefix} is not readable by the sandbox uid and no mount "
                "namespace binds it in: tasks can import preloaded modules only")]))
        # Keyrings (set in each task child): a uid's own are emptied only where the uid is
        # this worker's alone (as root); elsewhere it is the user's, who may keep keys there.
        self.keyctl = _isolation.keyctl_function()
        if self.keyctl is not None:
            # The worker leaves the trainer's session keyring too: its children never start in it.
            _isolation.fresh_keyrings(self.keyctl, own_uid=False)
            self.layers.append("keyrings")
        if self.uid is not None:
            self.layers.append("uid")
            _isolation.kill_uid(self.uid)  # leftovers of a predecessor that died (the uid is this worker's own)
        self.cgroup = self.judge_cgroup = None
        if os.geteuid() == 0 and cfg.get("cgroups", True):
            groups = _tree.make_cgroups(os.getpid())
            if groups is not None:
                self.cgroup, self.judge_cgroup = groups
                self.layers.append("cgroup")
        self.memcg = None
        if os.geteuid() == 0 and cfg.get("cgroups", True) and cfg.get("memcg", True):
            self.memcg = _tree.make_memory_cgroup(os.getpid())
            if self.memcg is not None:
                self.layers.append("memcg")
        self.clock = _tree.TreeClock(self.cgroup, self.uid)
        # Private to this worker even where /tmp could not be covered.
        self.work_root = _make_private_dir("exectune-work-")
        os.chmod(self.work_root, 0o711)
        self.workdir = os.path.join(self.work_root, "task")
        max_entries = int(cfg.get("cleanup_max_entries", 1_000_000))
        try:
            # A tmpfs of its own for the work dir, where this worker may mount one: resized to
            # each task's memory budget, so files count against it.
            self.dirs = _tree.WorkDirs(self.workdir, self.uid, "mountns" in layers, cfg["tmp_size_mb"], max_entries)
            if self.dirs.mounts:
                self.layers.append("workfs")
        except OSError as exc:
            os.rmdir(self.workdir)
            self.dirs = _tree.WorkDirs(self.workdir, self.uid, False, cfg["tmp_size_mb"], max_entries)
            self.note = "; ".join(filter(None, [self.note, f"no tmpfs for the work dir ({exc}): its size is not bounded"]))
        self.retire = ""
        self.full_ns_fd: int | None = None
        if cfg.get("seal", True) and "mountns" in layers:
            try:
                # The worker's cgroup folders are not in it: it reaches them through fds.
                keep = [self.work_root]
                self.sealed_ns_fd = _isolation.build_sealed_view(keep, tuple(cfg.get("allowed_packages") or ()))
                self.layers.append("sealed")
            except OSError as exc:
                self.note = "; ".join(filter(None, [self.note, f"no sealed file view ({exc}): tasks see every installed package"]))
        self.child_env = {"PATH": _CHILD_PATH, "HOME": self.workdir, "TMPDIR": self.workdir,
                          "LANG": "C.UTF-8", "PWD": self.workdir}
        os.environ.clear()
        os.environ.update(self.child_env)
        self.prctl = _isolation.prctl_function()
        if self.uid is None:
            # Tasks run as this worker's own uid: none may open /proc/<worker>/fd/... (as
            # root, tasks have a uid of their own and cannot anyway).
            self.prctl(_isolation.PR_SET_DUMPABLE, 0, 0, 0, 0)
        self.baseline_vm = _vm_size()
        self.isolation = tuple(self.layers)  # what every result reports
        # As root, every task child comes from the zygote (start_zygote), which never holds a
        # task's data; ``prefork`` has it fork each one ahead of its task (a spare, waiting as
        # root: no task can signal it). Without a uid of their own, tasks could signal a waiting
        # child or the zygote, so then the worker forks task children itself.
        self.prefork = bool(cfg.get("prefork")) and self.uid is not None
        self.forks_from_zygote = False  # set once the zygote runs: from then on, no task child is forked here
        if self.sealed_ns_fd is not None:
            # The worker itself moves into the sealed view once, so that no task child pays
            # for a setns (about 0.3 ms each); its judge, started on the first judged task,
            # goes back to the whole view (test code may import what programs may not).
            self.full_ns_fd = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            _isolation.enter_mount_namespace(self.sealed_ns_fd)
            os.chdir("/")

    # -- one task ---------------------------------------------------------------------

    def run_task(self, req: dict[str, Any], judge_fd: int | None = None) -> dict[str, Any]:
        """Run one request; ``res["retire"]`` says why this worker must be replaced, if it must."""
        start = time.monotonic()
        self.retire = ""
        try:
            workdir = self.dirs.make(req["memory_mb"])
        except OSError as exc:
            if judge_fd is not None:
                os.close(judge_fd)
            return {"status": "infra", "detail": f"could not make the work dir: {exc}", "isolation": self.isolation,
                    "retire": "no work dir"}
        try:
            try:
                self._write_files(workdir, req["files"])
            except OSError as exc:
                res = {"status": "infra", "detail": f"the request's files could not be written to the work dir: {exc}"}
            else:
                lang = req["language"]  # already canonical: ExecRequest names it through exectune_rl.languages
                if judge_fd is not None:
                    res = self._run_judged(req, workdir, judge_fd)
                    judge_fd = None
                elif lang == "python":
                    res = self._run_python(req, workdir)
                elif lang in LANGUAGES:
                    res = self._run_program(req, workdir, lang)
                else:
                    known = ", ".join(["python", *LANGUAGES])
                    res = {"status": "infra", "detail": f"unsupported language {req['language']!r}; known: {known}"}
        finally:
            if judge_fd is not None:
                os.close(judge_fd)
            if not self.dirs.clear():
                self.retire = "its work dir could not be cleared"
            if self.shm_private and not (_tree.clear_dir("/dev/shm") and _tree.reset_dir("/dev/shm", self.shm_times)):
                self.retire = "its /dev/shm could not be cleared"
            if self.ipc_private and _tree.sysv_ipc_left():
                self.retire = "its task left System V IPC objects"  # a fresh worker has a fresh namespace
            if self.mqueue_fd is not None and not _isolation.clear_mqueues(self.mqueue_fd):
                self.retire = "its task's POSIX message queues could not be removed"
            if self.memcg is None:
                _tree.collect_unix_cycles()  # no cgroup counts what a task parked in flight: let the kernel free it
            else:
                left = self.memcg.settle(MEMCG_LEFT_MB << 20)
                if left:  # the next task would have that much less: a fresh worker has a fresh cgroup
                    self.retire = f"its task left {left >> 20} MiB charged to its memory cgroup that no process holds"
        res["wall_s"] = time.monotonic() - start
        res["isolation"] = self.isolation
        if self.retire:
            res["retire"] = self.retire
        return res

    def _write_files(self, path: str, files: dict[str, bytes]) -> None:
        # One path per worker (its work root is its own), so the child environment that
        # names it is set once in the worker and children inherit it untouched.
        for rel, data in files.items():
            full = os.path.join(path, rel)
            parent = os.path.dirname(full)
            if parent != path:
                os.makedirs(parent, exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        if files and self.uid is not None:
            for dirpath, _, filenames in os.walk(path):
                os.chown(dirpath, self.uid, self.uid)
                for name in filenames:
                    os.chown(os.path.join(dirpath, name), self.uid, self.uid)

    def _run_python(self, req: dict[str, Any], workdir: str) -> dict[str, Any]:
        code = req["code"]
        if len(code) <= COMPILE_IN_WORKER_MAX_CHARS:
            # Compiling here, before the fork, spares each child the copy-on-write faults of
            # a first compile, and a program that does not compile costs no fork at all.
            try:
                req["_code"] = _task.compile_source(code, "main.py")
            except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
                return {"status": "syntax_error", "exit_code": 1, "signal": None, "stdout": "",
                        "stderr": "".join(traceback.format_exception_only(type(exc), exc)),
                        "stdout_truncated": False, "stderr_truncated": False, "cpu_s": 0.0,
                        "exception": type(exc).__name__, "detail": type(exc).__name__}
        if req.get("epilogue"):
            try:
                req["_epilogue_code"] = self._compile_epilogue(req["epilogue"])
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                return {"status": "infra", "detail": f"the epilogue does not compile: {type(exc).__name__}: {exc}"}
        return self._run_step(req, workdir, argv=None)

    def _run_judged(self, req: dict[str, Any], workdir: str, judge_fd: int) -> dict[str, Any]:
        """The program imported as a module in the task child, its tests in the judge.

        The tests arrive as an fd this worker never reads and go on to the judge process;
        the worker closes its copy before forking the program, so neither the worker's
        memory nor the program's ever holds the tests, the expected values or the verdict.
        """
        try:
            req["_code"] = _task.compile_source(req["code"], "solution.py")
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
            os.close(judge_fd)
            return {"status": "syntax_error", "exit_code": 1, "signal": None, "stdout": "",
                    "stderr": "".join(traceback.format_exception_only(type(exc), exc)),
                    "stdout_truncated": False, "stderr_truncated": False, "cpu_s": 0.0,
                    "exception": type(exc).__name__, "detail": type(exc).__name__, "verdict": None}
        for fd in (self.out_fd, self.err_fd, self.status_fd, self.claim_fd, self.verdict_fd):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        cpu_limit = float(req["cpu_time_s"])
        # With a load allowance, the import may take up to ``load``; cpu_time_s counts from
        # the judge's word that the program is imported (see ExecRequest.load_cpu_time_s).
        load = req.get("load_cpu_time_s")
        wall_limit = _task.budget(req)[1]
        start = time.monotonic()
        prog_pid = spare = None
        to_prog_r = to_prog_w = to_judge_r = to_judge_w = -1
        try:
            spare = self._take_spare()
            if spare is not None and self._go(spare, req, None, self.devnull, True):
                prog_pid = spare.pid  # it holds the program's ends of the two pipes made with it
                to_prog_w, to_judge_r = spare.judge_ends
                spare.judge_ends = None
            elif self.forks_from_zygote:
                return self._no_child()  # the finally below closes the tests' fd
            else:
                spare = None
                to_prog_r, to_prog_w = os.pipe()
                to_judge_r, to_judge_w = os.pipe()
            judge = self._judge_server()
            header = json.dumps({"deadline_s": max(0.05, wall_limit - 0.25), "ready_mark": bool(load)}).encode()
            socket_mod().send_fds(judge.sock, [header], [judge_fd, to_prog_w, to_judge_r])
            os.close(judge_fd)
            judge_fd = -1
            os.close(to_prog_w)
            os.close(to_judge_r)
            to_prog_w = to_judge_r = -1
            if prog_pid is None:
                sys.stdout.flush()
                sys.stderr.flush()
                self._memcg_task(req)
                prog_pid = os.fork()
                if prog_pid == 0:  # pragma: no cover - runs in the task child
                    _task.child(self, req, workdir, None, self.devnull, rpc=(to_prog_r, to_judge_w))
                self.clock.start(prog_pid)
        except OSError as exc:
            self._stop_judge()
            if prog_pid is not None:  # started, with no judge to answer: stopped, never counted
                _kill(prog_pid)
                _, child_cpu = self._reap_child(prog_pid, spare is not None)
                self._reap_group(prog_pid, zombie_leader=child_cpu is None)
            if spare is not None:
                self._close_spare_fds(spare)
            return {"status": "infra", "detail": f"could not start the judged run: {exc}"}
        finally:
            for fd in (judge_fd, to_prog_r, to_prog_w, to_judge_r, to_judge_w):
                if fd >= 0:
                    os.close(fd)
        reason, judge_end, exited_first, killed_after, held_to, verdict = self._wait_judged(
            prog_pid, cpu_limit, wall_limit, start, load)
        status, child_cpu = self._reap_child(prog_pid, spare is not None, ended=exited_first)
        never_read = self._never_read(spare)
        if status is None:
            self._stop_judge()
            self._reap_group(prog_pid)
            return {"status": "infra", "detail": "the worker's zygote gave no exit status for the program"}
        if never_read:
            self._reap_group(prog_pid, zombie_leader=child_cpu is None)
            return self._unread_task()
        if killed_after and not reason and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            status = 0  # stopped by the worker once the verdict was in: a normal end
        elif killed_after and not reason:
            # It ended on its own before the worker's kill landed (a program's process never
            # leaves by itself while it serves the tests): it left during them, as far as it
            # could know, even where a process it forked answered the rest in time.
            exited_first = True
        # The judge's own deadline stopped the run (the program asleep, blocked, or too slow
        # between calls): the run hit its wall-clock limit, whatever ended its process after.
        deadline = not reason and bool((verdict or {}).get("timed_out"))
        self._reap_group(prog_pid, zombie_leader=child_cpu is None)
        res = self._classify(req, status, self.clock.final(child_cpu), "wall" if deadline else reason, True, held_to)
        if deadline and res["status"] == "timeout":
            res["detail"] = f"wall-clock limit hit ({verdict.get('program_gone') or 'no answer'})"  # type: ignore[union-attr]
        res["verdict"] = verdict
        if res["verdict"] is None and reason == "wall":
            # The judge's own deadline failed to stop it (something the program sent kept it
            # busy in C code): the program took too long, not the infrastructure's fault.
            res["verdict"] = {"v": 1, "ready": True, "completed": False, "passed": 0, "seen": 0, "timed_out": True,
                              "program_gone": f"the judge was stopped at the wall-clock limit ({judge_end})",
                              "judge_cpu_s": round(self.judge_cpu_stopped, 6)}
        elif res["verdict"] is None:
            res["verdict"] = {"v": 1, "harness_error": f"the judge gave no verdict ({judge_end or 'none written'})"}
        elif exited_first:
            # The program's process is stopped only after the verdict is in: this one ended
            # before, however the tests fared (a forked child may have answered the rest).
            res["verdict"]["program_gone"] = res["verdict"].get("program_gone") or "the program's process exited during the tests"
        return res

    def _judge_server(self) -> "_JudgeServer":
        """The worker's judge process, started on first use and after it exits."""
        judge = self.judge
        if judge is not None and judge.alive():
            return judge
        self._stop_judge()
        mine, theirs = socket_mod().socketpair(socket_mod().AF_UNIX, socket_mod().SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the judge
            try:
                mine.close()
                if self.full_ns_fd is not None:
                    _isolation.enter_mount_namespace(self.full_ns_fd)
                    os.chdir("/")
                os.setpgid(0, 0)
                self.prctl(_isolation.PR_SET_DUMPABLE, 0, 0, 0, 0)
                self.prctl(_isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                import fcntl

                sock_fd = fcntl.fcntl(theirs.fileno(), fcntl.F_DUPFD, 64)
                verdict_fd = fcntl.fcntl(self.verdict_fd, fcntl.F_DUPFD, 64)
                null = os.open(os.devnull, os.O_RDWR)
                for std in (0, 1, 2):
                    os.dup2(null, std)
                os.dup2(sock_fd, 3)
                os.dup2(verdict_fd, 4)
                os.closerange(5, 1 << 16)
                limit = max(4 << 30, 4 * self.baseline_vm)
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            except BaseException:  # noqa: BLE001
                os._exit(3)
            _judge.serve(3, 4, (self.work_root, "/dev/shm", "/var/tmp"))
        theirs.close()
        if self.judge_cgroup is not None:
            try:  # out of the worker's cgroup, which counts the task's CPU
                self.judge_cgroup.join(pid)
            except OSError:
                pass
        self.judge = _JudgeServer(pid, mine)
        return self.judge

    def _stop_judge(self) -> float:
        """Kill and reap the judge; returns the CPU seconds it used since its last verdict."""
        judge, self.judge = self.judge, None
        if judge is None:
            return 0.0
        cpu = judge.stop()
        self.clock.reaped_elsewhere += cpu
        return max(0.0, cpu - judge.cpu_seen)

    def _wait_judged(self, prog: int, cpu_limit: float, wall_limit: float, start: float,
                     load: float | None = None) -> tuple[str, str, bool, bool, float, dict[str, Any] | None]:
        """Wait for the judge's verdict; hold the program to its CPU budget and both to the wall.

        With ``load``, the program has that much CPU until the judge says it is imported (a
        ``r`` byte) and ``cpu_limit`` more from then on. Returns the program's kill reason
        (``"cpu"``, ``"wall"`` or ``""``), how the judge ended when it gave no verdict (``""``
        when it gave one), whether the program's process ended before the verdict, whether it
        was stopped after the verdict, the CPU limit its tree was last held to, and the verdict
        (None when the judge gave none).
        """
        judge = self.judge
        pfd = os.pidfd_open(prog)
        reason = judge_end = ""
        self.judge_cpu_stopped = 0.0
        exited_first = killed_after = False
        if load:
            cpu_limit, after_load = load, cpu_limit
        else:
            after_load = None
        try:
            poller = select.poll()
            poller.register(pfd, select.POLLIN)
            poller.register(judge.sock.fileno(), select.POLLIN)
            poller.register(judge.pidfd, select.POLLIN)
            prog_done = False
            cpu_used = 0.0
            while True:
                wall_left = wall_limit + 0.5 - (time.monotonic() - start)
                if wall_left <= 0:
                    # The judge's own deadline passed long ago: it is stuck in the tests.
                    reason = reason or "wall"
                    judge_end = "it was stopped at the wall-clock limit"
                    _kill(prog)
                    self.judge_cpu_stopped = self._stop_judge()
                    break
                timeout = wall_left if prog_done else min(wall_left, self.clock.poll_after(cpu_limit - cpu_used))
                events = dict(poller.poll(max(timeout, 0.001) * 1000))
                if judge.sock.fileno() in events:
                    byte = judge.sock.recv(1)
                    if byte == b"r" and after_load is not None:
                        # imported: the calls' budget counts from here, never past load + it,
                        # and the next poll is timed from what the tree has used by now
                        cpu_used = self.clock.used()
                        cpu_limit = min(cpu_used, cpu_limit) + after_load
                        after_load = None
                        if cpu_used < cpu_limit:
                            continue
                        reason = "cpu"
                        _kill(prog)
                        continue
                    if byte != b"d":
                        judge_end = "it exited"
                        self._stop_judge()
                    break
                if judge.pidfd in events:
                    judge_end = "it died"
                    self._stop_judge()
                    break
                if pfd in events and not prog_done:
                    prog_done = True
                    poller.unregister(pfd)
                if not prog_done:
                    cpu_used = self.clock.used()
                    if cpu_used >= cpu_limit:
                        reason = "cpu"
                        _kill(prog)
                if time.monotonic() - start > wall_limit and not prog_done:
                    reason = "wall"
                    _kill(prog)
            # The judge never tells the program to leave: a process that ended before the
            # verdict left on its own. One still there is stopped now that the verdict is in.
            exited_first = prog_done or bool(select.select([pfd], [], [], 0)[0])
            verdict = None if judge_end else _read_verdict(self.verdict_fd)  # read once, here
            if isinstance(verdict, dict):
                cpu_seen = verdict.pop("judge_cpu_total", None)
                if isinstance(cpu_seen, (int, float)):
                    judge.cpu_seen = float(cpu_seen)
            if not exited_first and (verdict or {}).get("closed"):
                # The judge saw the program's end of the wire close: its process is on its way
                # out. It gets a moment to end on its own, so that its own end (a signal it sent
                # itself, an exit) is what the result says, never the worker's kill.
                exited_first = bool(select.select([pfd], [], [], GONE_GRACE_S)[0])
            if not exited_first:
                _kill(prog)
                killed_after = not judge_end
        finally:
            os.close(pfd)
        return reason, judge_end, exited_first, killed_after, cpu_limit, verdict

    def _compile_epilogue(self, text: str) -> Any:
        """Compile trusted epilogue code once per worker; forked children inherit the result."""
        code = self.epilogues.pop(text, None)
        if code is None:
            code = _task.compile_source(text, "epilogue.py")
            if len(self.epilogues) >= 1024:
                self.epilogues.pop(next(iter(self.epilogues)))
        self.epilogues[text] = code  # most recently used last
        return code

    def _run_program(self, req: dict[str, Any], workdir: str, lang: str) -> dict[str, Any]:
        source, compile_argv, run_argv = LANGUAGES[lang]
        try:
            text = req["code"].encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: not text any compiler could read
            return {"status": "syntax_error", "exit_code": None, "signal": None, "stdout": "",
                    "stderr": f"the source is not valid UTF-8 text: {exc}\n", "stdout_truncated": False,
                    "stderr_truncated": False, "cpu_s": 0.0, "exception": None,
                    "detail": "the source is not valid UTF-8 text"}
        path = os.path.join(workdir, source)
        with open(path, "wb") as f:
            f.write(text)
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)
        for argv in filter(None, (compile_argv, run_argv)):
            if argv[0] in self.exes and not self.exes[argv[0]]:
                return {"status": "infra", "detail": f"{argv[0]} is not installed on this machine"}
        if compile_argv:
            creq = dict(req, cpu_time_s=max(COMPILE_CPU_S, req["cpu_time_s"]), memory_mb=COMPILE_MEMORY_MB,
                        wall_time_s=3 * COMPILE_CPU_S, stdin=b"", args=())
            cres = self._run_step(creq, workdir, argv=[self.exes[compile_argv[0]], *compile_argv[1:]])
            if cres["status"] != "ok":
                cres["status"] = "syntax_error" if cres["status"] == "runtime_error" else cres["status"]
                cres["detail"] = "compilation failed: " + cres.get("detail", "")
                return cres
        exe = self.exes.get(run_argv[0], run_argv[0])
        argv = [exe, *run_argv[1:], *req["args"]]
        if lang == "javascript":
            argv.insert(1, f"--max-old-space-size={int(req['memory_mb'])}")
        return self._run_step(req, workdir, argv=argv)

    def _run_step(self, req: dict[str, Any], workdir: str, argv: list[str] | None) -> dict[str, Any]:
        for fd in (self.out_fd, self.err_fd, self.status_fd, self.claim_fd, self.in_fd):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        stdin = req["stdin"]
        if stdin:
            os.write(self.in_fd, stdin)
            os.lseek(self.in_fd, 0, os.SEEK_SET)
        in_fd = self.in_fd if stdin else self.devnull
        spare = self._take_spare()
        if spare is not None and self._go(spare, req, argv, in_fd, False):
            pid = spare.pid
            self._close_judge_ends(spare)
        elif self.forks_from_zygote:
            return self._no_child()
        else:
            spare = None
            sys.stdout.flush()
            sys.stderr.flush()
            self._memcg_task(req)
            try:
                pid = os.fork()
            except OSError as exc:
                return {"status": "infra", "detail": f"fork failed: {exc}"}
            if pid == 0:  # pragma: no cover - runs in the task child
                _task.child(self, req, workdir, argv, in_fd)
            self.clock.start(pid)
        res = self._supervise(pid, req, argv is None, spare is not None)
        return self._unread_task() if self._never_read(spare) else res

    # -- prefork: the zygote and its spare child ----------------------------------------

    def start_zygote(self, close: tuple[int, ...]) -> None:
        """Fork the zygote (as root): a copy of this worker as it is now, before any task, that
        forks each task's child (ahead of its task with ``prefork``, else when asked) and reaps
        it when told.

        A task child is a copy of the process that forked it. The worker has held earlier
        tasks' requests and results, and freed memory keeps them; the zygote never held any, so
        no task can find another's source, input or output in its own memory (a program that
        read a passing neighbour's output there could pass io tests without solving anything).
        The worker then forks no task child itself: its pages stay its own, so what it writes
        costs no copy-on-write fault. The zygote and its waiting child live in the judge's
        cgroup; a child joins the worker's (which counts the task's CPU) with its task.
        ``close``: the worker's protocol fds, which the zygote must not hold.
        """
        if self.uid is None:
            return
        sock_mod = socket_mod()
        mine, theirs = sock_mod.socketpair(sock_mod.AF_UNIX, sock_mod.SOCK_SEQPACKET)
        with open("/proc/self/comm") as f:
            # what ps shows: the zygote's own name; its children (tasks) take the worker's back
            self.names = (ctypes_string(_isolation.ZYGOTE_NAME), ctypes_string(f.read().strip()))
        program = _isolation.no_new_namespaces_filter()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            mine.close()
            theirs.close()
            self._no_zygote(exc)
            return
        if pid == 0:  # pragma: no cover - runs in the zygote
            try:
                mine.close()
                for fd in close:
                    os.close(fd)
                self.prctl(_isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                self.prctl(_isolation.PR_SET_NAME, self.names[0], 0, 0, 0)
                sealed = program is not None and _isolation.forbid_new_namespaces(program)
                theirs.send(b"h1" if sealed else b"h0")  # hello: whether its children make no namespace
                self._zygote_loop(theirs)
            except BaseException:  # noqa: BLE001
                pass
            os._exit(0)
        theirs.close()
        self.zygote = _Zygote(pid, mine)
        try:
            hello = mine.recv(8) if select.select([mine], [], [], REAP_TIMEOUT_S)[0] else b""
        except OSError:
            hello = b""
        if hello == b"h1":
            self.layers.append("nonewns")
            self.isolation = tuple(self.layers)
        elif hello != b"h0":
            self._lose_zygote()
            self._no_zygote(OSError("it did not start"))
            return
        elif program is not None:
            self.note = "; ".join(filter(None, [self.note, "no seccomp filter: tasks may make namespaces of their own"]))
        if self.judge_cgroup is not None:
            try:
                self.judge_cgroup.join(pid)
            except OSError as exc:  # in the worker's cgroup, its forks would count as the task's CPU
                self._lose_zygote()
                self._no_zygote(exc)
                return
        self.forks_from_zygote = True
        if self.prefork:
            self._zygote_send(b"t")  # its first spare

    def _no_zygote(self, exc: OSError) -> None:
        self.prefork = False
        self.note = "; ".join(filter(None, [self.note, f"no zygote ({exc}): task children are forked by the worker"]))

    def _zygote_loop(self, sock: Any) -> None:  # pragma: no cover - runs in the zygote
        """The zygote: ``t`` forks a spare (announced as ``s`` with its fds, or ``f``), ``r``
        reaps a child (answered ``x`` with its wait status and CPU), ``q`` reaps one the worker
        already knows the end of (no answer). EOF: the worker is gone."""
        sock_mod = socket_mod()
        while True:
            msg = sock.recv(64)
            if not msg:
                return
            if msg[:1] == b"t":
                made = self._fork_spare(sock)
                if made is None:
                    sock.send(b"f")
                    continue
                pid, fds = made
                try:
                    sock_mod.send_fds(sock, [b"s" + _PID.pack(pid)], fds)
                finally:
                    for fd in fds:
                        os.close(fd)
            elif msg[:1] in (b"r", b"q"):
                answer = msg[:1] == b"r"
                (pid,) = _PID.unpack(msg[1:])
                try:
                    _, status, usage = os.wait4(pid, 0)
                except ChildProcessError:
                    if answer:
                        sock.send(b"n" + _PID.pack(pid))
                    continue
                if answer:
                    sock.send(b"x" + _EXIT.pack(pid, status, usage.ru_utime + usage.ru_stime))

    def _fork_spare(self, sock: Any) -> tuple[int, list[int]] | None:  # pragma: no cover - runs in the zygote
        """Fork a spare with its command pipe and a judged run's two pipes; the worker's ends back."""
        made: list[int] = []
        try:
            for _ in range(3):
                made += os.pipe()
            cmd_r, cmd_w, to_prog_r, to_prog_w, to_judge_r, to_judge_w = made
            pid = os.fork()
        except OSError:
            for fd in made:
                os.close(fd)
            return None
        if pid == 0:  # runs in the spare
            self.prctl(_isolation.PR_SET_NAME, self.names[1], 0, 0, 0)
            sock.close()
            for fd in (cmd_w, to_prog_w, to_judge_r):
                os.close(fd)
            _task.spare(self, cmd_r, (to_prog_r, to_judge_w), recv)
        for fd in (cmd_r, to_prog_r, to_judge_w):
            os.close(fd)
        return pid, [cmd_w, to_prog_w, to_judge_r]

    def _zygote_send(self, msg: bytes) -> bool:
        zygote = self.zygote
        if zygote is None:
            return False
        try:
            zygote.sock.send(msg)
            return True
        except OSError:
            self._lose_zygote()
            return False

    def _zygote_ask(self, msg: bytes, pid: int) -> tuple[int, float] | None:
        """Send ``msg`` (``r``: reap ``pid``) and wait for the zygote's answer about ``pid``."""
        if not self._zygote_send(msg):
            return None
        return self._zygote_read(want_exit=pid)

    def _zygote_read(self, want_exit: int | None = None) -> tuple[int, float] | None:
        """Read the zygote's messages until the one wanted: the exit of ``want_exit``, else a
        spare (or word that none could be made). A spare announced meanwhile is kept."""
        zygote = self.zygote
        sock_mod = socket_mod()
        deadline = time.monotonic() + REAP_TIMEOUT_S  # a fork, a reap: far less, even on a loaded machine
        while zygote is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([zygote.sock], [], [], left)[0]:
                self.retire = "its zygote stopped answering"
                self._lose_zygote()
                return None
            try:
                msg, fds, _, _ = sock_mod.recv_fds(zygote.sock, 64, 3)
            except OSError:
                msg, fds = b"", []
            kind = msg[:1]
            if kind == b"s" and len(fds) == 3:
                self.spare = _Spare(_PID.unpack(msg[1:])[0], fds[0], (fds[1], fds[2]))
                if want_exit is None:
                    return None
            elif kind == b"f":
                if want_exit is None:
                    return None
            elif kind == b"x":
                pid, status, cpu = _EXIT.unpack(msg[1:])
                if pid == want_exit:
                    return status, cpu
            elif kind == b"n":
                if _PID.unpack(msg[1:])[0] == want_exit:
                    return None
            else:  # EOF or garbage: it died
                for fd in fds:
                    os.close(fd)
                self.retire = "its zygote died"
                self._lose_zygote()
                return None
        return None

    def _lose_zygote(self, reaped: bool = False) -> None:
        """Stop and reap the zygote (``reaped``: it was, and its pid may be another's now); the
        worker then takes no task (``_no_child``) and is replaced. Reaped, the zygote brings the
        CPU of every child it reaped into RUSAGE_CHILDREN: none of it is the current task's."""
        zygote, self.zygote = self.zygote, None
        if zygote is not None:
            zygote.sock.close()
            if not reaped:
                _kill(zygote.pid)  # its spare dies with it (PR_SET_PDEATHSIG)
                try:
                    usage = os.wait4(zygote.pid, 0)[2]
                    self.clock.reaped_elsewhere += usage.ru_utime + usage.ru_stime
                except ChildProcessError:
                    pass
        if self.spare is not None:
            self._close_spare_fds(self.spare)
            self.spare = None

    def _take_spare(self) -> "_Spare | None":
        """A child of the zygote for a task: the one waiting (``prefork``) or one forked now;
        None when the zygote could give none."""
        if self.zygote is None:
            return None
        for _ in range(2):  # a waiting one found dead is replaced once
            if self.spare is None and (self.prefork or self._zygote_send(b"t")):
                self._zygote_read()
            spare, self.spare = self.spare, None
            if spare is None:
                if self.prefork:
                    self._zygote_send(b"t")  # none could be made: try again for the next task
                return None
            if not self.prefork or not _exited(spare.pid):  # one forked just now needs no look
                return spare
            self._drop_spare(spare)  # killed while it waited
            if self.prefork:
                self._zygote_send(b"t")
        return None

    def _memcg_task(self, req: dict[str, Any]) -> None:
        """The tasks' memory cgroup (where there is one) takes ``req``'s limit. A child the
        zygote forks is in it from birth; one forked here joins it itself, before its task."""
        if self.memcg is not None:
            self.memcg.start_task((int(req["memory_mb"]) + MEMCG_SLACK_MB) << 20)

    def _no_child(self) -> dict[str, Any]:
        """The result of a task the zygote gave no child for: never forked here instead, where
        the child would hold this worker's memory of earlier tasks. The worker is replaced."""
        self.retire = "its zygote could not fork a task child"
        return {"status": "infra", "detail": "the worker's zygote could not fork a task child", "unrun": True}

    def _go(self, spare: "_Spare", req: dict[str, Any], argv: list[str] | None, in_fd: int, judged: bool) -> bool:
        """Give ``spare`` its task; False (and the spare dropped) when it could not take it.
        With ``prefork``, the zygote is asked for the next spare, forked while this task runs."""
        task = {k: req[k] for k in _CHILD_KEYS if k in req}
        code = epilogue = None
        try:
            code = marshal.dumps(req["_code"]) if "_code" in req else None
        except ValueError:  # deeper than marshal goes (it still compiled): the child compiles it
            pass
        if code is not None:
            del task["code"]
        try:
            epilogue = marshal.dumps(req["_epilogue_code"]) if "_epilogue_code" in req else None
        except ValueError:
            task["epilogue"] = req["epilogue"]
        try:
            # Before it joins the cgroups, which it does itself once it has read its task
            # (_task.spare): all its CPU from there is the task's. Only a task's own processes
            # are ever in the memory cgroup (never the zygote or a waiting child): whatever the
            # OOM killer stops there is the task's.
            self.clock.start(spare.pid)
            self._memcg_task(req)
            send(spare.cmd_fd, (task, code, epilogue, argv, in_fd, judged))
        except OSError:  # gone before its task (EPIPE)
            self._drop_spare(spare)
            return False
        finally:
            if self.prefork:
                self._zygote_send(b"t")
        return True  # its command pipe stays open until its end: see _never_read

    def _never_read(self, spare: "_Spare | None") -> bool:
        """Whether ``spare``, ended, had left its task unread in its command pipe (killed from
        outside as it was handed the task): then nothing of the task ran. Closes the pipe."""
        if spare is None or spare.cmd_fd < 0:
            return False
        try:
            unread = struct.unpack("i", fcntl.ioctl(spare.cmd_fd, termios.FIONREAD, b"\0\0\0\0"))[0] > 0
        except OSError:
            unread = False
        os.close(spare.cmd_fd)
        spare.cmd_fd = -1
        return unread

    def _unread_task(self) -> dict[str, Any]:
        self.retire = "a task child ended before it read its task"
        return {"status": "infra", "detail": "the task child ended before it read its task", "unrun": True}

    def _close_spare_fds(self, spare: "_Spare") -> None:
        if spare.cmd_fd >= 0:
            os.close(spare.cmd_fd)
            spare.cmd_fd = -1
        self._close_judge_ends(spare)

    def _close_judge_ends(self, spare: "_Spare") -> None:
        if spare.judge_ends is not None:
            for fd in spare.judge_ends:
                os.close(fd)
            spare.judge_ends = None

    def _drop_spare(self, spare: "_Spare") -> None:
        """Stop a spare that will run no task, and have the zygote reap it; its CPU is no task's."""
        self._close_spare_fds(spare)
        _kill(spare.pid)
        self._zygote_ask(b"r" + _PID.pack(spare.pid), spare.pid)

    def _supervise(self, pid: int, req: dict[str, Any], is_python: bool, from_zygote: bool = False) -> dict[str, Any]:
        cpu_limit, wall_limit = _task.budget(req)
        reason = self._wait_with_limits(pid, cpu_limit, wall_limit)
        status, child_cpu = self._reap_child(pid, from_zygote, ended=not reason)
        self._reap_group(pid, zombie_leader=child_cpu is None)
        if status is None:
            return {"status": "infra", "detail": "the worker's zygote gave no exit status for the task"}
        return self._classify(req, status, self.clock.final(child_cpu), reason, is_python)

    def _reap_child(self, pid: int, from_zygote: bool, ended: bool = False) -> tuple[int | None, float | None]:
        """Reap the task child ``pid``, ended or killed: its wait status and the CPU it used
        where the worker's RUSAGE_CHILDREN does not count it (a child of the zygote); None for
        the CPU: the worker's cgroup counts it. ``ended``: the worker saw it end (no need to wait).

        A zygote's child is reaped by the zygote. With a cgroup, the worker reads the wait
        status off the zombie and lets the zygote reap it meanwhile, unanswered; otherwise it
        waits for the zygote's answer, which carries the child's CPU.
        """
        if not from_zygote:
            return os.waitpid(pid, 0)[1], 0.0
        if self.cgroup is not None:
            if not ended:
                _wait_exit(pid)  # killed by the caller: a zombie in a moment
            status = _tree.zombie_status(pid)
            if status is not None and self._zygote_send(b"q" + _PID.pack(pid)):
                return status, None
        reply = self._zygote_ask(b"r" + _PID.pack(pid), pid)
        if reply is None:
            _kill(pid)
            self.retire = "its zygote gave no exit status for a task"
            return None, 0.0
        return reply

    def _wait_with_limits(self, pid: int, cpu_limit: float, wall_limit: float) -> str:
        """Wait for the child; kill its tree when the tree passes its CPU budget or the wall backstop.

        The tree is only inspected when it could have used the CPU budget left with all its
        processes on every CPU, so a task that finishes in time costs a single poll.
        """
        start = time.monotonic()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
        try:
            poller = select.poll()
            if pidfd is not None:
                poller.register(pidfd, select.POLLIN)
            cpu_used = 0.0
            while True:
                wall_left = wall_limit - (time.monotonic() - start)
                if wall_left <= 0:
                    reason = "wall"
                    break
                if cpu_used >= cpu_limit:
                    reason = "cpu"
                    break
                timeout = min(wall_left, self.clock.poll_after(cpu_limit - cpu_used))
                if pidfd is None:
                    time.sleep(min(timeout, 0.005))
                    if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                        return ""
                elif poller.poll(timeout * 1000):
                    return ""
                cpu_used = self.clock.used()
        finally:
            if pidfd is not None:
                os.close(pidfd)
        _kill(pid)
        return reason

    def _reap_group(self, pgid: int, zombie_leader: bool = False) -> None:
        """Kill and reap what the task left behind: its process group and any escapees.

        Escapees are found as the worker's children (it is a child subreaper: orphans of the
        task come to it) and, where it has one, as members of its cgroup, which a process of
        the task cannot leave. Loop until the group is empty and none is left. Without
        grandchildren, one ``killpg`` that finds nobody ends it. A tree that will not die
        within ``REAP_TIMEOUT_S`` retires the worker.

        ``zombie_leader`` (only with a cgroup): the group's leader has ended and its zygote reaps
        it meanwhile; until then ``killpg`` still finds it. A live member of the group is one of
        the cgroup's (a zombie is not), so the group is done when none is left there.
        """
        children_file = self.children_file
        me = os.getpid()
        deadline = time.monotonic() + REAP_TIMEOUT_S
        while True:
            try:
                os.killpg(pgid, signal.SIGKILL)
                group_alive = True
            except (ProcessLookupError, PermissionError):
                group_alive = False
            # os.open/os.read, not open(): every object the worker allocates between forks
            # is a page written, and each such page costs a copy-on-write fault per task.
            try:
                fd = os.open(children_file, os.O_RDONLY)
                try:
                    pids = [int(p) for p in os.read(fd, 65536).split()]
                finally:
                    os.close(fd)
            except OSError:
                pids = []
            if self.cgroup is not None:
                try:
                    pids += [p for p in self.cgroup.members() if p != me]
                except (OSError, ValueError):
                    pass
            judge = self.judge.pid if self.judge is not None else None
            zygote = self.zygote.pid if self.zygote is not None else None
            pids = [p for p in pids if p != judge and p != zygote]
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while True:
                try:
                    reaped, _, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if reaped == 0:
                    break
                if reaped == judge:
                    self.judge.reaped = True  # type: ignore[union-attr]
                    self.clock.reaped_elsewhere += usage.ru_utime + usage.ru_stime
                elif reaped == zygote:  # it died
                    self.clock.reaped_elsewhere += usage.ru_utime + usage.ru_stime
                    self.retire = "its zygote died"
                    self._lose_zygote(reaped=True)
            if (not group_alive or zombie_leader) and not pids:
                return
            if time.monotonic() > deadline:
                self.retire = f"processes of a task did not die within {REAP_TIMEOUT_S} s"
                return
            time.sleep(0.0005)

    def _classify(self, req: dict[str, Any], status: int, cpu: float, reason: str, is_python: bool,
                  held_to: float | None = None) -> dict[str, Any]:
        """The result from what the worker saw, and from what the child claimed only where it may.

        Trusted: the exit status or signal, the tree's CPU, the kill reason, the output sizes,
        the work dir's fill, and the ``status`` channel (written before the program starts,
        closed before it runs). The ``claims`` channel (a Python child's exception name) is
        writable by the program, so it is read only when the program failed anyway, and only
        names the exception or refines the failure into a status the program could reach
        honestly by the same means (MemoryError, a file past the size limit).
        """
        cap = int(req["output_limit_bytes"])
        out, out_cut = _read_capped(self.out_fd, cap)
        err, err_cut = _read_capped(self.err_fd, cap)
        trusted = _read_status(self.status_fd)
        oom = self.memcg is not None and self.memcg.killed_since_last()
        exit_code = os.waitstatus_to_exitcode(status)
        sig = -exit_code if exit_code < 0 else None
        failed = sig is None and exit_code != 0
        claim = _read_status(self.claim_fd) if failed else {}
        exc = claim.get("exc") if isinstance(claim.get("exc"), str) else None
        exc = exc[:100] if exc else None
        res: dict[str, Any] = {
            "exit_code": None if sig else exit_code, "signal": sig, "stdout": out, "stderr": err,
            "stdout_truncated": out_cut, "stderr_truncated": err_cut, "cpu_s": cpu,
            "exception": exc, "detail": "",
        }
        if trusted.get("kind") == "setup":
            res.update(status="infra", exception=None,
                       detail=f"the task could not be set up: {trusted.get('exc')}: {str(trusted.get('msg'))[:300]}")
            if trusted.get("cgroups"):
                # Nothing of the task ran; a fresh worker has fresh cgroups (the task goes there once).
                self.retire = "its task child could not join its cgroups"
                res["unrun"] = True
        elif out_cut or err_cut or sig == signal.SIGXFSZ or claim.get("errno") == 27:
            # first: a program that floods and then spins was stopped by the flood
            res.update(status="output_limit", detail=f"output or file size limit of {cap} bytes hit")
        elif reason == "wall":
            res.update(status="timeout", detail=f"wall-clock backstop ({req['wall_time_s'] or 'default'}) hit")
        elif reason == "cpu" or cpu >= (held_to if held_to is not None else float(req["cpu_time_s"])) or sig == signal.SIGXCPU:
            load = req.get("load_cpu_time_s")
            if load and held_to == load:
                detail = (f"CPU-time limit hit while the program was imported (the whole process tree): the import "
                          f"may use {load:g} s, the hard limit less the {req['cpu_time_s']:g} s its calls have")
            else:
                detail = f"CPU-time limit of {req['cpu_time_s']} s hit (the whole process tree" + (
                    ", counted from the program's import)" if load else ")")
            res.update(status="timeout", detail=detail)
        elif trusted.get("kind") == "syntax":
            res.update(status="syntax_error", detail=str(trusted.get("exc") or "SyntaxError"))
        elif failed and (exc == "MemoryError" or (not is_python and any(m in err[-2000:] for m in _OUT_OF_MEMORY))):
            res.update(status="memory_limit", detail=f"memory limit of {req['memory_mb']} MiB hit")
        elif (failed or sig is not None) and oom:
            res.update(status="memory_limit", detail=(
                f"memory limit of {req['memory_mb']} MiB hit by the task's processes together (with "
                f"{MEMCG_SLACK_MB} MiB for the runtimes): the kernel stopped one at its memory cgroup's limit"))
        elif (failed or sig is not None) and self.dirs.filled():
            res.update(status="memory_limit", detail=(
                f"the work dir is full: its files reached {self.dirs.size_mb} MiB, counted against memory_mb"))
        elif sig is not None:
            res.update(status="signaled", detail=f"killed by {signal.Signals(sig).name}" if sig in _SIGNALS else f"signal {sig}")
        elif exit_code == 0:
            res.update(status="ok")
        else:
            msg = claim.get("msg") if isinstance(claim.get("msg"), str) else ""
            res.update(status="runtime_error", detail=(f"{exc}: {msg[:300]}" if msg else exc) or f"exit status {exit_code}")
        return res


_SIGNALS = {s.value for s in signal.Signals}

MEMCG_LEFT_MB = 32
"""What a task may leave charged to the tasks' memory cgroup once its processes are gone and
what can be reclaimed is (page cache of files it read): more, and the worker is replaced."""

MEMCG_SLACK_MB = 128
"""What a task's processes together may hold beyond its ``memory_mb`` under the ``memcg``
layer: the runtimes' own pages (an interpreter's copied pages, node's heap at start, page
tables and the kernel's memory for them)."""


# What a compiled or node program prints when an allocation fails at its memory limit: glibc
# and V8's heap ("out of memory"), C++'s new, node's Buffers and typed arrays.
_OUT_OF_MEMORY = ("out of memory", "std::bad_alloc", "Array buffer allocation failed", "Reached heap limit")


def _write_only(fd: int) -> int:
    """A write-only, appending descriptor of the memfd ``fd`` (its own offset follows each
    truncation), the file itself made unreadable through any other path: a task child holding
    it can neither read what is already there nor reopen it for reading (``/proc/self/fd``), so
    a nonce a harness printed before the program's calls stays out of the program's reach.
    Where ``/proc`` is not there to reopen it, ``fd`` itself (readable)."""
    try:
        w = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except OSError:
        return fd
    os.fchmod(fd, 0o200)  # root, the owner, needs no permission; a child of the same uid gets none to read
    return w


def _which(name: str) -> str | None:
    for d in _CHILD_PATH.split(":"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def _make_private_dir(prefix: str) -> str:
    """A new folder only this process's uid may enter, under $TMPDIR or /tmp.

    What ``tempfile.mkdtemp`` does, without importing ``tempfile``: it pulls in ``shutil`` and
    the compression modules, whose libraries every fork of the worker would copy and unmap.
    """
    base = os.environ.get("TMPDIR") or "/tmp"
    for _ in range(100):
        path = os.path.join(base, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return os.path.abspath(path)
    raise FileExistsError(f"no free folder name under {base}")


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def ctypes_string(text: str) -> Any:
    """``text`` as a C string buffer that lives as long as this process (passed to ``prctl`` as is)."""
    import ctypes  # loaded already: _isolation uses it

    buf = ctypes.create_string_buffer(text.encode())
    _KEPT.append(buf)
    return buf


_KEPT: list[Any] = []


def socket_mod() -> Any:
    import socket  # imported on first use: plain runs never pay for it

    return socket


class _Spare:
    """The worker's handle on a spare child: its pid, its command pipe, a judged run's judge ends."""

    def __init__(self, pid: int, cmd_fd: int, judge_ends: tuple[int, int]) -> None:
        self.pid = pid
        self.cmd_fd = cmd_fd
        self.judge_ends: tuple[int, int] | None = judge_ends


class _Zygote:
    """The worker's handle on its zygote: its pid and the socket it is told and answers on."""

    def __init__(self, pid: int, sock: Any) -> None:
        self.pid = pid
        self.sock = sock


def _wait_exit(pid: int, timeout_s: float = REAP_TIMEOUT_S) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        select.select([fd], [], [], timeout_s)
    finally:
        os.close(fd)


def _exited(pid: int) -> bool:
    """Whether ``pid`` (a process no one has reaped yet) has ended."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        return bool(select.select([fd], [], [], 0)[0])
    finally:
        os.close(fd)


class _JudgeServer:
    """The worker's handle on its judge process."""

    def __init__(self, pid: int, sock: Any) -> None:
        self.pid = pid
        self.sock = sock
        self.pidfd = os.pidfd_open(pid)
        self.reaped = False
        self.cpu_seen = 0.0  # its CPU seconds in all, as of its last verdict

    def alive(self) -> bool:
        return not select.select([self.pidfd], [], [], 0)[0]

    def stop(self) -> float:
        """Kill and reap the judge; returns the CPU seconds its reaping added to the worker's children."""
        cpu = 0.0
        if not self.reaped:
            _kill(self.pid)
            try:
                usage = os.wait4(self.pid, 0)[2]
                cpu = usage.ru_utime + usage.ru_stime
            except ChildProcessError:
                pass
        self.sock.close()
        os.close(self.pidfd)
        return cpu


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _read_verdict(fd: int) -> dict[str, Any] | None:
    size = os.fstat(fd).st_size
    if not size:
        return None
    try:
        verdict = json.loads(os.pread(fd, min(size, 1 << 20), 0))
    except ValueError:
        return None
    return verdict if isinstance(verdict, dict) else None


def _read_capped(fd: int, cap: int) -> tuple[str, bool]:
    size = os.fstat(fd).st_size
    data = os.pread(fd, min(size, cap), 0) if size else b""
    return data.decode("utf-8", "replace"), size > cap


def _read_status(fd: int) -> dict[str, Any]:
    size = os.fstat(fd).st_size
    if not size:
        return {}
    try:
        return json.loads(os.pread(fd, min(size, 4096), 0).splitlines()[0])
    except (ValueError, IndexError):
        return {}


# --------------------------------------------------------------------------- entry


def _pin(cpu: Any) -> str:
    """Keep this worker, and all it forks (zygote, judge, task children), on CPU ``cpu``; what
    went wrong, if anything (a CPU outside this process's set: the worker then floats)."""
    if cpu is None:
        return ""
    try:
        os.sched_setaffinity(0, {int(cpu)})
    except (OSError, ValueError, TypeError) as exc:
        return f"not pinned to CPU {cpu} ({exc})"
    return ""


def main() -> None:
    cfg = json.loads(sys.argv[1])
    unpinned = _pin(cfg.get("cpu"))  # first: every process forked from here inherits it
    proto_in, proto_out = os.dup(0), os.dup(1)
    os.set_inheritable(proto_in, False)
    os.set_inheritable(proto_out, False)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    for name in cfg["preload"]:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # a missing optional module must not stop the worker
    try:
        _task._served.warm_up()  # specialised here once, not in every judged task child
    except Exception:
        pass  # only a cost: the children then specialise the code themselves
    import gc

    gc.collect()
    gc.freeze()  # task children then never traverse (and so never copy) the worker's objects
    try:
        worker = Worker(cfg)
    except Exception as exc:
        send(proto_out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    if unpinned:
        worker.note = "; ".join(filter(None, [worker.note, unpinned]))
    worker.start_zygote((proto_in, proto_out, *([cfg["fd_socket"]] if cfg.get("fd_socket") is not None else [])))
    cgroups = [g.path for g in (worker.cgroup, worker.judge_cgroup, worker.memcg) if g is not None]
    send(proto_out, {"ready": True, "layers": worker.layers, "note": worker.note, "pid": os.getpid(), "uid": worker.uid,
                     "cgroups": cgroups})
    fd_socket = None
    if cfg.get("fd_socket") is not None:
        fd_socket = socket_mod().socket(fileno=cfg["fd_socket"])
    while True:
        req = recv(proto_in)
        if req is None:
            return
        # Every reply names the request it answers: the parent drops any other.
        rid = req.get("id")
        judge_fd = None
        if req.get("judge"):
            judge_fd = _receive_fd(fd_socket, rid)
            if judge_fd is None:
                send(proto_out, {"id": rid, "status": "infra", "detail": "the tests did not reach the worker",
                                 "retire": "the fd channel is out of step"})
                continue
        try:
            res = worker.run_task(req, judge_fd)
        except Exception as exc:  # never let one task take the worker down
            res = {"status": "infra", "detail": f"worker error: {type(exc).__name__}: {exc}",
                   "retire": f"worker error: {type(exc).__name__}"}
        res["id"] = rid
        send(proto_out, res)
        # Nothing of a task outlives its reply: the next task's child, a copy of this worker,
        # must find neither this request nor its result among its objects.
        del req, res


def _receive_fd(sock: Any, rid: Any) -> int | None:
    """The one fd the parent sent with judged request ``rid`` (the tests, never read here)."""
    if sock is None:
        return None
    try:
        tag, fds, _, _ = socket_mod().recv_fds(sock, 64, 1)
    except OSError:
        return None
    if tag != f"j{rid}".encode():
        for fd in fds:
            os.close(fd)
        return None
    return fds[0] if fds else None
