"""The task child: what runs between the fork and the program, and the program itself.

Everything here runs in a child forked from a sandbox worker (``_worker.py``), except
:func:`compile_source`, which the worker calls before the fork. Like ``_worker.py`` it is
loaded by path in workers, without the package's ``__init__``.
"""

from __future__ import annotations

import fcntl
import json
import marshal
import math
import os
import resource
import signal
import sys
import traceback
from typing import Any

_isolation = sys.modules.get("exectune_sandbox_isolation")
if _isolation is None:
    from exectune_rl.sandboxes import _isolation
_served = sys.modules.get("exectune_sandbox_served")
if _served is None:
    from exectune_rl.sandboxes import _served


NODE_DATA_MB = 96
"""Writable memory node itself needs beyond a task's ``memory_mb`` (its heap and runtime at start)."""


def budget(req: dict[str, Any]) -> tuple[float, float]:
    """A request's CPU budget (``cpu_time_s``, plus ``load_cpu_time_s``) and its wall-clock
    limit (``wall_time_s``, else the larger of 3x that budget and it plus 2 s): the worker's
    side of ``ExecRequest.total_cpu_time_s`` and ``effective_wall_time_s``, for the request as
    the worker and the child hold it (a payload, whose ``load_cpu_time_s`` is None unless the
    run is judged)."""
    cpu = float(req["cpu_time_s"]) + float(req.get("load_cpu_time_s") or 0.0)
    return cpu, float(req.get("wall_time_s") or max(3 * cpu, cpu + 2))


def compile_source(source: str, filename: str) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings would land in the worker's stderr
        # dont_inherit: this module's own __future__ imports must not leak into programs
        return compile(source, filename, "exec", dont_inherit=True)


def spare(worker: Any, cmd_fd: int, rpc: tuple[int, int], recv: Any) -> None:
    """A task child forked ahead of its task by the worker's zygote (``prefork``): wait for the
    task, then run it. Never returns.

    It waits as root, in a session of its own, for its task on ``cmd_fd`` (read with ``recv``,
    the worker pipe's reader; what ``Worker._go`` sends); EOF tells it to leave. ``rpc`` are
    the program's ends of a judged run's two pipes, made with it. Everything that depends on
    the task, the uid drop among it, is done by :func:`child` once the task is known.
    """
    try:
        os.setsid()
        # Until the uid drop in child(), which clears it: die with the zygote (which dies with the worker).
        worker.prctl(_isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        msg = recv(cmd_fd)
    except BaseException:  # noqa: BLE001 - no task yet: the worker finds it gone and forks one itself
        os._exit(125)
    if msg is None:
        os._exit(0)
    # Into the task's cgroups before anything of the task runs: moved by the worker instead, it
    # would wait for an RCU grace period after each quiet spell (Cgroup.join_self).
    _join_cgroups(worker, (worker.cgroup, worker.memcg))
    try:
        os.close(cmd_fd)
        req, code, epilogue, argv, in_fd, judged = msg
        if code is not None:
            req["_code"] = marshal.loads(code)
        elif judged:  # too deep for marshal: compiled here, as the worker compiled it
            req["_code"] = compile_source(req["code"], "solution.py")
        if epilogue is not None:
            req["_epilogue_code"] = marshal.loads(epilogue)
        elif "epilogue" in req:
            req["_epilogue_code"] = compile_source(req["epilogue"], "epilogue.py")
        del msg, code, epilogue
    except BaseException as exc:  # noqa: BLE001 - its task could not be read: the sandbox's fault
        _write_status({"kind": "setup", "exc": type(exc).__name__, "msg": str(exc)}, worker.status_fd)
        os._exit(125)
    child(worker, req, worker.workdir, argv, in_fd, rpc if judged else None, in_session=True)


def _join_cgroups(worker: Any, groups: tuple[Any, ...]) -> None:
    """Move this task child into ``groups`` (its worker's cgroups, None where there is none).
    Where that fails, the worker's cgroups are at fault, not the task: the child writes a
    trusted ``setup`` status marked ``cgroups`` (its worker retires, and the task, of which
    nothing ran, runs once on a fresh worker) and exits."""
    try:
        for group in groups:
            if group is not None:
                group.join_self()
    except BaseException as exc:  # noqa: BLE001
        _write_status({"kind": "setup", "exc": type(exc).__name__, "msg": f"joining the worker's cgroups: {exc}",
                       "cgroups": True}, worker.status_fd)
        os._exit(125)


def child(worker: Any, req: dict[str, Any], workdir: str, argv: list[str] | None, in_fd: int,
          rpc: tuple[int, int] | None = None, in_session: bool = False) -> None:
    """Runs in the forked task child; never returns.

    With ``rpc`` (a judged run: the judge's read and write ends) the program is imported as a
    module and answers the judge's calls on fds 4 and 5 instead of running as a script.

    fd 3 is the worker's ``status`` channel while the trusted set-up runs. An exec-ed program
    never holds it (close-on-exec) nor the ``claims`` channel; a Python program runs with
    ``claims`` on fd 3 instead (:func:`_switch_to_claims`), so what it may write there is a
    claim the worker weighs, never a status it trusts.
    """
    report = worker.status_fd  # where a set-up failure is written until fd 3 is the status channel
    try:
        if not in_session:  # a spare child made its session while it waited, and joined its cgroups
            os.setsid()  # the file view is the worker's own: it entered the sealed view once
            # forked by the worker, not the zygote: into the tasks' memory cgroup (the worker's
            # CPU cgroup it inherits), first: the fd it writes to may be one of the task's 0-6 below
            _join_cgroups(worker, (worker.memcg,))
        if rpc is not None:
            rpc = (fcntl.fcntl(rpc[0], fcntl.F_DUPFD, 64), fcntl.fcntl(rpc[1], fcntl.F_DUPFD, 64))
        claims = fcntl.fcntl(worker.claim_fd, fcntl.F_DUPFD, 64) if argv is None else -1
        os.dup2(in_fd, 0)
        os.dup2(worker.out_w, 1)  # write-only: the program never reads back what was printed before it
        os.dup2(worker.err_w, 2)
        os.dup2(worker.status_fd, 3)
        report = 3
        if rpc is not None:
            os.dup2(rpc[0], 4)
            os.dup2(rpc[1], 5)
            os.dup2(claims, 6)
            os.closerange(7, 1 << 16)
            claims = 6
        elif argv is None:
            os.dup2(claims, 4)
            os.closerange(5, 1 << 16)
            claims = 4
        else:
            os.closerange(4, 1 << 16)
        os.chdir(workdir)
        _set_limits(req, worker.baseline_vm if argv is None else None, argv)
        if worker.uid is not None:
            _isolation.drop_privileges(worker.uid)
        _isolation.fresh_keyrings(worker.keyctl, worker.uid is not None)  # as its uid: the keyrings are that uid's
        # After the uid change, which clears it: die with the worker, never outlive it.
        worker.prctl(_isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        env = worker.child_env  # already the environment: the worker set it on itself
        if req["env"]:
            env = {**env, **req["env"]}
            os.environ.update(req["env"])
        if argv is not None:
            # Python ignores SIGPIPE and SIGXFSZ; exec-ed programs get the defaults back.
            # Python tasks keep the interpreter's usual dispositions (EFBIG, not SIGXFSZ).
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_DFL)
    except BaseException as exc:  # the sandbox could not be set up: report, never run the code
        _write_status({"kind": "setup", "exc": type(exc).__name__, "msg": str(exc)}, report)
        os._exit(125)
    rc = 124
    try:
        if argv is not None:
            rc = 126
            fcntl.fcntl(3, fcntl.F_SETFD, fcntl.FD_CLOEXEC)  # open for an execve failure, closed in the program
            os.execve(argv[0], argv, env)
        if rpc is not None:
            _switch_to_claims(claims)
            rc = _served.serve(req["_code"])
        else:
            rc = _exec_python(req, claims)
    except BaseException as exc:
        _write_status({"kind": "setup", "exc": type(exc).__name__, "msg": str(exc)})
    finally:
        os._exit(rc)


def _set_limits(req: dict[str, Any], baseline_vm: int | None, argv: list[str] | None) -> None:
    cpu = max(1, math.ceil(budget(req)[0]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu + 1, cpu + 2))
    if argv is None or not argv[0].endswith("node"):
        limit = int(req["memory_mb"]) * (1 << 20) + (baseline_vm or 0)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    else:
        # V8 reserves far more address space than it uses, so node gets no RLIMIT_AS; its
        # writable memory (Buffers, the heap) is what RLIMIT_DATA counts, with room for node itself.
        limit = (int(req["memory_mb"]) + NODE_DATA_MB) * (1 << 20)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    cap = int(req["output_limit_bytes"]) + 1
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(req["max_open_files"]),) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (int(req["max_processes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _switch_to_claims(claims: int) -> None:
    """Put the ``claims`` channel on fd 3 in place of ``status``, which the program never holds."""
    os.dup2(claims, 3)
    os.close(claims)


def _write_status(obj: dict[str, Any], fd: int = 3) -> None:
    try:
        os.write(fd, json.dumps(obj).encode() + b"\n")
    except OSError:
        pass


def _exec_python(req: dict[str, Any], claims: int) -> int:
    import builtins

    # sys.stdin/stdout/stderr already wrap fds 0-2, now the task's; their buffers were
    # flushed (and stdin never read) in the worker before the fork.
    sys.argv = ["main.py", *req["args"]]
    try:
        code = req.get("_code") or compile_source(req["code"], "main.py")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        _write_status({"kind": "syntax", "exc": type(exc).__name__})  # still the trusted channel
        _flush()
        return 1
    _switch_to_claims(claims)
    # A real __main__ module, as for a script: pickle (multiprocessing) finds its functions.
    main = type(sys)("__main__")
    main.__file__ = "main.py"
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    namespace = main.__dict__
    # Taken before the program runs: it may patch the os module or replace sys.stdout.
    real_write = os.write
    real_out, real_err = sys.stdout, sys.stderr

    def real_flush() -> None:
        for stream in (real_out, real_err):
            try:
                stream.flush()
            except BaseException:
                pass

    rc = 0
    try:
        exec(code, namespace)
        epilogue = req.get("_epilogue_code")
        if epilogue is not None:
            # The epilogue (a test harness) sees the program's names, but its own names (the
            # completion token among them) live in a copy the program's functions, whose
            # globals are ``namespace``, do not see.
            harness = dict(namespace)
            harness.update(req["epilogue_globals"])
            harness["__et_write"] = real_write
            harness["__et_flush"] = real_flush
            exec(epilogue, harness)
    except SystemExit as exc:
        rc = _exit_code(exc.code)
    except BaseException as exc:
        try:
            traceback.print_exc()
        except BaseException:
            pass
        status: dict[str, Any] = {"kind": "exception", "exc": type(exc).__name__}
        if isinstance(exc, OSError) and exc.errno is not None:
            status["errno"] = exc.errno
        _write_status(status)
        rc = 1
    failure = _flush()
    if failure is not None and rc == 0:
        # What CPython does when stdout cannot be flushed at exit (a program closed it):
        # status 120, and the reason named, not an output limit.
        _write_status({"kind": "exception", "exc": type(failure).__name__, "errno": getattr(failure, "errno", None),
                       "msg": f"stdout or stderr could not be flushed at exit: {failure}"})
        rc = 120
    return rc


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def _flush() -> BaseException | None:
    """Flush stdout and stderr; the first failure, or None."""
    failure = None
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException as exc:
            failure = failure or exc
    return failure
