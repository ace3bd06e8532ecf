"""``BubblewrapSandbox``: every program in a fresh bubblewrap container (a plugin).

Each request starts ``bwrap`` with all namespaces unshared (user, pid, net, ipc, uts,
cgroup), a read-only ``/usr`` and interpreter prefix, an empty ``/tmp``, the work dir as the
only writable place, a cleared environment and uid/gid 65534, under the same rlimits as
:class:`~exectune_rl.sandboxes.LocalSandbox`. It trades speed (a fresh interpreter per task,
tens of milliseconds) for a stronger boundary (its own pid namespace, nothing of the host's
filesystem but what is bound in). Python only.

Installed, it registers as ``bwrap`` in the ``exectune_rl.sandboxes`` entry-point group:
``get_sandbox("bwrap", workers=4)``.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from exectune_rl.errors import ConfigError, SandboxError
from exectune_rl.sandboxes import ExecRequest, ExecResult, ExecStatus, Sandbox

__all__ = ["BubblewrapSandbox"]


class BubblewrapSandbox(Sandbox):
    """Runs each Python program in its own bubblewrap container.

    Args:
        workers: Containers running at once.
        bwrap: Path of the ``bwrap`` binary (default: found on ``PATH``).
        python: Interpreter run inside (default: this one).
    """

    name = "bwrap"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this sandbox cannot run here (no ``bwrap`` on ``PATH``), or None; ``exectune plugins`` shows it."""
        return None if shutil.which("bwrap") else "bubblewrap is not installed: apt-get install bubblewrap"

    def __init__(self, workers: int = 2, *, bwrap: str | None = None, python: str | None = None) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be a positive int, got {workers!r}")
        self.bwrap = bwrap or shutil.which("bwrap")
        if not self.bwrap:
            raise SandboxError("bubblewrap is not installed: apt-get install bubblewrap")
        self.python = os.path.realpath(python or sys.executable)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bwrap")
        self._closed = False

    def _argv(self, workdir: str) -> list[str]:
        argv = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session",
                "--uid", "65534", "--gid", "65534",
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for link in ("lib", "lib64", "bin", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        for prefix in {sys.base_prefix, os.path.dirname(os.path.dirname(self.python))}:
            if not prefix.startswith("/usr"):
                argv += ["--ro-bind", prefix, prefix]
        argv += ["--bind", workdir, "/work", "--chdir", "/work", "--clearenv",
                 "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/work", "--setenv", "LANG", "C.UTF-8",
                 self.python, "-I", "-S", "main.py"]
        return argv

    def _run_one(self, req: ExecRequest) -> ExecResult:
        if req.language.lower() not in ("python", "py", "python3"):
            return ExecResult.infra(f"BubblewrapSandbox runs Python only, not {req.language!r}")
        workdir = tempfile.mkdtemp(prefix="exectune-bwrap-")
        try:
            return self._run_in(req, workdir)
        except OSError as exc:
            return ExecResult.infra(f"bwrap failed: {exc}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_in(self, req: ExecRequest, workdir: str) -> ExecResult:
        with open(os.path.join(workdir, "main.py"), "w") as f:
            f.write(req.code)
        for rel, data in req.files.items():
            path = os.path.join(workdir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb" if isinstance(data, bytes) else "w") as f:
                f.write(data)
        os.chmod(workdir, 0o777)
        cap = req.output_limit_bytes
        cpu = max(1, math.ceil(req.cpu_time_s))

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (req.memory_mb << 20, req.memory_mb << 20))
            resource.setrlimit(resource.RLIMIT_FSIZE, (cap + 1, cap + 1))

        out_path, err_path = os.path.join(workdir, ".stdout"), os.path.join(workdir, ".stderr")
        stdin = req.stdin.encode() if isinstance(req.stdin, str) else (req.stdin or b"")
        start = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(self._argv(workdir), stdin=subprocess.PIPE, stdout=out, stderr=err,
                                    preexec_fn=limits, start_new_session=True)
            try:
                proc.communicate(stdin, timeout=req.effective_wall_time_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                timed_out = True
        wall = time.monotonic() - start
        stdout, out_cut = _read(out_path, cap)
        stderr, err_cut = _read(err_path, cap)
        rc = proc.returncode
        # bwrap reports a signal death of the program as 128 + signal number
        sig = -rc if rc < 0 else (rc - 128 if rc > 128 else None)
        if timed_out or sig in (signal.SIGXCPU, signal.SIGKILL):
            status = ExecStatus.TIMEOUT
        elif out_cut or err_cut or sig == signal.SIGXFSZ:
            status = ExecStatus.OUTPUT_LIMIT
        elif "MemoryError" in stderr[-500:]:
            status = ExecStatus.MEMORY_LIMIT
        elif "SyntaxError" in stderr[-500:] and rc == 1 and "Traceback" not in stderr:
            status = ExecStatus.SYNTAX_ERROR
        elif sig is not None:
            status = ExecStatus.SIGNALED
        elif rc == 0:
            status = ExecStatus.OK
        else:
            status = ExecStatus.RUNTIME_ERROR
        return ExecResult(status=status, exit_code=None if sig else rc, signal=sig, stdout=stdout, stderr=stderr,
                          stdout_truncated=out_cut, stderr_truncated=err_cut, wall_s=wall,
                          isolation=("bwrap", "userns", "pidns", "netns", "mountns", "rlimits", "env", "tmpdir"))

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        if self._closed:
            raise SandboxError("BubblewrapSandbox is closed")
        return list(self._pool.map(self._run_one, self.requests_of(requests)))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.shutdown(wait=True)


def _read(path: str, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap
