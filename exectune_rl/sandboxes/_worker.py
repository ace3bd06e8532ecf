"""The sandbox worker: a warm interpreter that forks one limited child per task.

Started by :class:`~exectune_rl.sandboxes.local.LocalSandbox` as a separate interpreter with a
scrubbed environment. It talks to its parent over two pipes (length-prefixed pickles) and
never runs untrusted code itself: every task runs in a child forked from it, which sets up
limits, drops privileges and then runs the program. Python programs are ``exec``-ed in the
already-warm child (no interpreter start-up); other languages are ``execve``-d.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import resource
import select
import signal
import struct
import sys
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

_HEADER = struct.Struct("!I")
_CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
_TICK = os.sysconf("SC_CLK_TCK")

# Languages run by execve: (source file, compile argv or None, run argv). "{exe}" is the
# compiled binary. Compile steps get their own budget; only the run step counts as cpu_s.
LANGUAGES: dict[str, tuple[str, list[str] | None, list[str]]] = {
    "javascript": ("main.js", None, ["node", "main.js"]),
    "c": ("main.c", ["gcc", "-O1", "-std=gnu11", "-o", "main", "main.c", "-lm"], ["./main"]),
    "cpp": ("main.cpp", ["g++", "-O1", "-std=gnu++17", "-o", "main", "main.cpp"], ["./main"]),
    "bash": ("main.sh", None, ["bash", "main.sh"]),
}
ALIASES = {"js": "javascript", "node": "javascript", "c++": "cpp", "sh": "bash", "py": "python", "python3": "python"}
COMPILE_CPU_S = 20.0
# Larger programs compile in the task child, under its limits, not in the worker.
COMPILE_IN_WORKER_MAX_CHARS = 256_000
COMPILE_MEMORY_MB = 2048


# --------------------------------------------------------------------------- protocol


def send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    buf = memoryview(_HEADER.pack(len(data)) + data)
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
        self.children_file = f"/proc/self/task/{os.getpid()}/children"
        self.out_fd = os.memfd_create("stdout")
        self.err_fd = os.memfd_create("stderr")
        self.status_fd = os.memfd_create("status")
        self.verdict_fd = os.memfd_create("verdict")
        self.in_fd = os.memfd_create("stdin")
        self.sealed_ns_fd: int | None = None
        self.judge: _JudgeServer | None = None
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.exes = {name: _which(name) for name in ("node", "gcc", "g++", "bash")}
        layers, self.note = _isolation.setup_worker_isolation(
            network=cfg["network"], mounts=cfg["mounts"], tmp_size_mb=cfg["tmp_size_mb"]
        )
        self.layers += layers
        self.shm_private = "mountns" in layers and os.path.isdir("/dev/shm")
        if self.uid is not None and "mountns" not in layers and not _isolation.world_readable(sys.base_prefix):
            self.note = "; ".join(filter(None, [self.note, (
                f"the interpreter under {sys.base_prefix} is not readable by the sandbox uid and no mount "
                "namespace binds it in: tasks can import preloaded modules only")]))
        if self.uid is not None:
            self.layers.append("uid")
            _isolation.kill_uid(self.uid)  # leftovers of a predecessor that died (the uid is this worker's own)
        import tempfile

        # Private to this worker even where /tmp could not be covered.
        self.work_root = tempfile.mkdtemp(prefix="exectune-work-")
        os.chmod(self.work_root, 0o711)
        self.workdir = os.path.join(self.work_root, "task")
        if cfg.get("seal", True) and "mountns" in layers:
            try:
                self.sealed_ns_fd = _isolation.build_sealed_view([self.work_root], tuple(cfg.get("allowed_packages") or ()))
                self.layers.append("sealed")
            except OSError as exc:
                self.note = "; ".join(filter(None, [self.note, f"no sealed file view ({exc}): tasks see every installed package"]))
        self.child_env = {"PATH": _CHILD_PATH, "HOME": self.workdir, "TMPDIR": self.workdir,
                          "LANG": "C.UTF-8", "PWD": self.workdir}
        os.environ.clear()
        os.environ.update(self.child_env)
        self.prctl = _isolation.prctl_function()
        self.baseline_vm = _vm_size()
        self.isolation = tuple(self.layers)  # what every result reports

    # -- one task ---------------------------------------------------------------------

    def run_task(self, req: dict[str, Any], judge_fd: int | None = None) -> dict[str, Any]:
        start = time.monotonic()
        workdir = self._make_workdir(req["files"])
        try:
            lang = ALIASES.get(req["language"], req["language"])
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
            _rmtree(workdir)
            if self.shm_private:
                _empty_dir("/dev/shm")
        res["wall_s"] = time.monotonic() - start
        res["isolation"] = self.isolation
        return res

    def _make_workdir(self, files: dict[str, bytes]) -> str:
        # One path per worker (its work root is its own), so the child environment that
        # names it is set once in the worker and children inherit it untouched.
        path = self.workdir
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            _rmtree(path)
            os.mkdir(path, 0o700)
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)
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
        return path

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
        for fd in (self.out_fd, self.err_fd, self.status_fd, self.verdict_fd):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        cpu_limit = float(req["cpu_time_s"])
        wall_limit = req["wall_time_s"] or max(3 * cpu_limit, cpu_limit + 2)
        start = time.monotonic()
        to_prog_r, to_prog_w = os.pipe()
        to_judge_r, to_judge_w = os.pipe()
        prog_pid = None
        try:
            judge = self._judge_server()
            header = json.dumps({"deadline_s": max(0.05, wall_limit - 0.25)}).encode()
            socket_mod().send_fds(judge.sock, [header], [judge_fd, to_prog_w, to_judge_r])
            os.close(judge_fd)
            judge_fd = -1
            os.close(to_prog_w)
            os.close(to_judge_r)
            to_prog_w = to_judge_r = -1
            sys.stdout.flush()
            sys.stderr.flush()
            prog_pid = os.fork()
            if prog_pid == 0:  # pragma: no cover - runs in the task child
                _task.child(self, req, workdir, None, self.devnull, rpc=(to_prog_r, to_judge_w))
        except OSError as exc:
            self._stop_judge()
            return {"status": "infra", "detail": f"could not start the judged run: {exc}"}
        finally:
            for fd in (judge_fd, to_prog_r, to_prog_w, to_judge_r, to_judge_w):
                if fd >= 0:
                    os.close(fd)
        reason, judge_end, exited_first, killed_after = self._wait_judged(prog_pid, cpu_limit, wall_limit, start)
        _, status, usage = os.wait4(prog_pid, 0)
        if killed_after and not reason and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            status = 0  # stopped by the worker once the verdict was in: a normal end
        self._reap_group(prog_pid)
        res = self._classify(req, status, usage.ru_utime + usage.ru_stime, reason, True)
        res["verdict"] = _read_verdict(self.verdict_fd) if not judge_end else None
        if res["verdict"] is None and reason == "wall":
            # The judge's own deadline failed to stop it (something the program sent kept it
            # busy in C code): the program took too long, not the infrastructure's fault.
            res["verdict"] = {"v": 1, "ready": True, "completed": False, "passed": 0, "seen": 0, "timed_out": True,
                              "program_gone": f"the judge was stopped at the wall-clock limit ({judge_end})"}
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
            _judge.serve(3, 4)
        theirs.close()
        self.judge = _JudgeServer(pid, mine)
        return self.judge

    def _stop_judge(self) -> None:
        judge, self.judge = self.judge, None
        if judge is not None:
            judge.stop()

    def _wait_judged(self, prog: int, cpu_limit: float, wall_limit: float, start: float) -> tuple[str, str, bool, bool]:
        """Wait for the judge's verdict; hold the program to its CPU budget and both to the wall.

        Returns the program's kill reason (``"cpu"``, ``"wall"`` or ``""``), how the judge
        ended when it gave no verdict (``""`` when it gave one), and whether the program's
        process ended before the verdict, and whether it was stopped after the verdict.
        """
        judge = self.judge
        pfd = os.pidfd_open(prog)
        reason = judge_end = ""
        exited_first = killed_after = False
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
                    self._stop_judge()
                    break
                timeout = wall_left if prog_done else min(wall_left, cpu_limit - cpu_used + 0.01)
                events = dict(poller.poll(max(timeout, 0.001) * 1000))
                if judge.sock.fileno() in events:
                    if judge.sock.recv(1) != b"d":
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
                    cpu_used = _proc_cpu(prog)
                    if cpu_used >= cpu_limit:
                        reason = "cpu"
                        _kill(prog)
                if time.monotonic() - start > wall_limit and not prog_done:
                    reason = "wall"
                    _kill(prog)
            # The judge never tells the program to leave: a process that ended before the
            # verdict left on its own. One still there is stopped now that the verdict is in.
            exited_first = prog_done or bool(select.select([pfd], [], [], 0)[0])
            if not exited_first:
                _kill(prog)
                killed_after = not judge_end
        finally:
            os.close(pfd)
        return reason, judge_end, exited_first, killed_after

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
        path = os.path.join(workdir, source)
        with open(path, "w", encoding="utf-8") as f:
            f.write(req["code"])
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
        for fd in (self.out_fd, self.err_fd, self.status_fd, self.in_fd):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        stdin = req["stdin"]
        if stdin:
            os.write(self.in_fd, stdin)
            os.lseek(self.in_fd, 0, os.SEEK_SET)
        in_fd = self.in_fd if stdin else self.devnull
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            return {"status": "infra", "detail": f"fork failed: {exc}"}
        if pid == 0:  # pragma: no cover - runs in the task child
            _task.child(self, req, workdir, argv, in_fd)
        return self._supervise(pid, req, argv is None)

    def _supervise(self, pid: int, req: dict[str, Any], is_python: bool) -> dict[str, Any]:
        cpu_limit = float(req["cpu_time_s"])
        wall_limit = req["wall_time_s"] or max(3 * cpu_limit, cpu_limit + 2)
        reason = _wait_with_limits(pid, cpu_limit, wall_limit)
        _, status, usage = os.wait4(pid, 0)
        self._reap_group(pid)
        cpu = usage.ru_utime + usage.ru_stime
        return self._classify(req, status, cpu, reason, is_python)

    def _reap_group(self, pgid: int) -> None:
        """Kill and reap what the task left behind: its process group and any escapees.

        Dying members are reparented to this worker (a child subreaper) as their parents
        die, so loop until the group is empty and no child is left. Without grandchildren,
        one ``killpg`` that finds nobody ends it.
        """
        children_file = self.children_file
        deadline = time.monotonic() + 10
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
            judge = self.judge.pid if self.judge is not None else None
            pids = [p for p in pids if p != judge]
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while True:
                try:
                    reaped = os.waitpid(-1, os.WNOHANG)[0]
                except ChildProcessError:
                    break
                if reaped == 0:
                    break
                if reaped == judge:
                    self.judge.reaped = True  # type: ignore[union-attr]
            if (not group_alive and not pids) or time.monotonic() > deadline:
                return
            time.sleep(0.0005)

    def _classify(self, req: dict[str, Any], status: int, cpu: float, reason: str, is_python: bool) -> dict[str, Any]:
        cap = int(req["output_limit_bytes"])
        out, out_cut = _read_capped(self.out_fd, cap)
        err, err_cut = _read_capped(self.err_fd, cap)
        meta = _read_status(self.status_fd)
        exit_code = os.waitstatus_to_exitcode(status)
        sig = -exit_code if exit_code < 0 else None
        res: dict[str, Any] = {
            "exit_code": None if sig else exit_code, "signal": sig, "stdout": out, "stderr": err,
            "stdout_truncated": out_cut, "stderr_truncated": err_cut, "cpu_s": cpu,
            "exception": meta.get("exc"), "detail": "",
        }
        exc = meta.get("exc")
        if out_cut or err_cut or meta.get("errno") == 27 or sig == signal.SIGXFSZ:
            # first: a program that floods and then spins was stopped by the flood
            res.update(status="output_limit", detail=f"output or file size limit of {cap} bytes hit")
        elif reason == "wall":
            res.update(status="timeout", detail=f"wall-clock backstop ({req['wall_time_s'] or 'default'}) hit")
        elif reason == "cpu" or cpu >= float(req["cpu_time_s"]) or sig == signal.SIGXCPU:
            res.update(status="timeout", detail=f"CPU-time limit of {req['cpu_time_s']} s hit")
        elif meta.get("kind") == "syntax":
            res.update(status="syntax_error", detail=exc or "SyntaxError")
        elif exc == "MemoryError" or (not is_python and "out of memory" in err[-2000:]):
            res.update(status="memory_limit", detail=f"memory limit of {req['memory_mb']} MiB hit")
        elif sig is not None:
            res.update(status="signaled", detail=f"killed by {signal.Signals(sig).name}" if sig in _SIGNALS else f"signal {sig}")
        elif exit_code == 0:
            res.update(status="ok")
        else:
            res.update(status="runtime_error", detail=exc or f"exit status {exit_code}")
        return res


_SIGNALS = {s.value for s in signal.Signals}


def _which(name: str) -> str | None:
    for d in _CHILD_PATH.split(":"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def _empty_dir(path: str) -> None:
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            _rmtree(full)
        else:
            _unlink(full)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _rmtree(path: str) -> None:
    """Remove a work dir whatever the task did to its permissions (the worker is its owner or root)."""
    try:
        os.rmdir(path)  # the common case: the task left nothing behind
        return
    except OSError:
        pass
    try:
        for root, dirs, files in os.walk(path, topdown=False):
            for name in files:
                os.unlink(os.path.join(root, name))
            for name in dirs:
                full = os.path.join(root, name)
                if os.path.islink(full):
                    os.unlink(full)
                else:
                    os.rmdir(full)
        os.rmdir(path)
    except OSError:
        import shutil

        def unlock(func, p, exc):  # noqa: ARG001 - a task may have chmod-ed things to 000
            try:
                os.chmod(os.path.dirname(p), 0o700)
                os.chmod(p, 0o700)
                func(p)
            except OSError:
                pass

        shutil.rmtree(path, onerror=unlock)


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _wait_with_limits(pid: int, cpu_limit: float, wall_limit: float) -> str:
    """Wait for the child; kill it when it passes its CPU budget or the wall backstop.

    CPU time can never exceed wall time, so the child is only inspected when the wall time
    elapsed reaches the CPU budget left: a task that finishes in time costs a single poll.
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
            timeout = min(wall_left, cpu_limit - cpu_used + 0.01)
            if pidfd is None:
                time.sleep(min(timeout, 0.005))
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return ""
            elif poller.poll(timeout * 1000):
                return ""
            cpu_used = _proc_cpu(pid)
    finally:
        if pidfd is not None:
            os.close(pidfd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    return reason


def socket_mod() -> Any:
    import socket  # imported on first use: plain runs never pay for it

    return socket


class _JudgeServer:
    """The worker's handle on its judge process."""

    def __init__(self, pid: int, sock: Any) -> None:
        self.pid = pid
        self.sock = sock
        self.pidfd = os.pidfd_open(pid)
        self.reaped = False

    def alive(self) -> bool:
        return not select.select([self.pidfd], [], [], 0)[0]

    def stop(self) -> None:
        if not self.reaped:
            _kill(self.pid)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        self.sock.close()
        os.close(self.pidfd)


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


def main() -> None:
    cfg = json.loads(sys.argv[1])
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
    import gc

    gc.collect()
    gc.freeze()  # task children then never traverse (and so never copy) the worker's objects
    try:
        worker = Worker(cfg)
    except Exception as exc:
        send(proto_out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    send(proto_out, {"ready": True, "layers": worker.layers, "note": worker.note, "pid": os.getpid(), "uid": worker.uid})
    fd_socket = None
    if cfg.get("fd_socket") is not None:
        fd_socket = socket_mod().socket(fileno=cfg["fd_socket"])
    while True:
        req = recv(proto_in)
        if req is None:
            return
        judge_fd = None
        if req.get("judge"):
            judge_fd = _receive_fd(fd_socket)
            if judge_fd is None:
                send(proto_out, {"status": "infra", "detail": "the tests did not reach the worker"})
                continue
        try:
            res = worker.run_task(req, judge_fd)
        except Exception as exc:  # never let one task take the worker down
            res = {"status": "infra", "detail": f"worker error: {type(exc).__name__}: {exc}"}
        send(proto_out, res)


def _receive_fd(sock: Any) -> int | None:
    """The one fd the parent sent with a judged request (the tests, never read here)."""
    if sock is None:
        return None
    try:
        _, fds, _, _ = socket_mod().recv_fds(sock, 1, 1)
    except OSError:
        return None
    return fds[0] if fds else None
