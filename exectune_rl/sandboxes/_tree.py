"""A task's process tree and work dir, as a sandbox worker sees them.

- **CPU per tree.** Every process a task starts counts against its ``cpu_time_s``. Where the
  machine has a writable cgroup v1 ``cpuacct`` hierarchy (root), each worker lives in a cgroup
  of its own, its judge in another: the worker's cgroup then holds the worker and the current
  task's processes only, so its usage, less the worker's own CPU, is the task tree's CPU, read
  live while the task runs, and its member list names every process of the task, however it
  escaped (``setsid``, a double fork). An unprivileged task cannot leave a root-owned cgroup.
  Without one, the tree's CPU is sampled from ``/proc`` (processes of the task's session, or of
  its uid when it has one of its own). Either way the figure reported afterwards is exact: the
  worker is a child subreaper, so every process of the tree is reaped by it or by a reaped
  ancestor, and the worker's ``RUSAGE_CHILDREN`` grows by exactly the tree's CPU.
- **Memory per tree.** Where the machine has a writable cgroup v1 ``memory`` hierarchy (root),
  each worker's task processes (never the worker or its judge) share a cgroup limited to the
  current task's ``memory_mb`` and the runtimes' own pages; the kernel's OOM killer stops a
  process there at that limit and counts the kill, which makes the task's ``MEMORY_LIMIT``.
- **Work dir.** With a mount namespace, a worker's work dir is a tmpfs of its own, resized
  before each task to the task's memory budget (files count against ``memory_mb``), with an
  inode cap. It is emptied after each task by :func:`clear_dir`: iterative, fd-relative (no
  path ever grows past ``PATH_MAX``, a directory a million levels deep goes like any other)
  and bounded; a clean-up that fails retires the worker.

Loaded by path in sandbox workers (stdlib only), like ``_worker.py``.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import sys
import time

_isolation = sys.modules.get("exectune_sandbox_isolation")
if _isolation is None:
    from exectune_rl.sandboxes import _isolation

_TICK = os.sysconf("SC_CLK_TCK")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CGROUP_PREFIX = "exectune-"


# --------------------------------------------------------------------------- cgroups


def cpuacct_root() -> str | None:
    """The directory of this process's cgroup in a cgroup v1 hierarchy with ``cpuacct``."""
    return cgroup_root("cpuacct")


def cgroup_root(controller: str) -> str | None:
    """The directory of this process's cgroup in the cgroup v1 hierarchy with ``controller``."""
    try:
        with open("/proc/self/cgroup") as f:
            mine = {}
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(","):
                    mine[c] = path
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, rfields = left.split(), right.split()
                if len(rfields) >= 3 and rfields[0] == "cgroup" and controller in rfields[2].split(","):
                    root, mount = fields[3], fields[4]
                    path = mine.get(controller)
                    if path is None:
                        return None
                    rel = os.path.relpath(path, root) if root != "/" else path.lstrip("/")
                    return os.path.normpath(os.path.join(mount, rel))
    except (OSError, ValueError):
        pass
    return None


def _write_at(dir_fd: int, name: str, text: str) -> None:
    """Write ``text`` to the control file ``name`` of the cgroup folder open as ``dir_fd``."""
    fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _tasks_fd(dir_fd: int) -> int:
    """The cgroup's ``tasks`` file, open for writing (what ``Cgroup.join_self`` writes to)."""
    return os.open("tasks", os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)


class Cgroup:
    """One cgroup v1 ``cpuacct`` directory this worker made."""

    def __init__(self, path: str) -> None:
        os.mkdir(path, 0o755)
        self.path = path
        # Reached through fds only, so that the worker's sealed view need not hold the folder:
        # its counters (the CPU of every task before) and member pids are no task's business.
        self.dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.usage_fd = os.open("cpuacct.usage", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dir_fd)
        self.tasks_fd = _tasks_fd(self.dir_fd)

    def join(self, pid: int = 0) -> None:
        _write_at(self.dir_fd, "cgroup.procs", str(pid))

    def join_self(self) -> None:
        """Move the calling thread, the only one of its process (a spare child: forked, it has
        no other), in. A thread that moves itself through ``tasks`` is moved without the
        kernel's write lock on every thread group, whose first taking after a quiet spell
        waits for an RCU grace period (8-15 ms on these machines: the next task paid it after
        each time-out). One write to ``tasks``, open since the cgroup was made (a task child
        inherits it and closes it with every fd above its own before its program runs)."""
        os.write(self.tasks_fd, b"0")

    def usage(self) -> float:
        """CPU seconds used by every process that was ever in this cgroup."""
        return int(os.pread(self.usage_fd, 32, 0)) / 1e9

    def members(self) -> list[int]:
        # os.open/os.read, not open(): every object a worker allocates between forks is a
        # page written, and each costs a copy-on-write fault per task.
        fd = os.open("cgroup.procs", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dir_fd)
        try:
            data = chunk = os.read(fd, 65536)
            while len(chunk) == 65536:  # one read in the common case: the worker alone
                chunk = os.read(fd, 65536)
                data += chunk
        finally:
            os.close(fd)
        return [int(p) for p in data.split()]


class MemoryCgroup:
    """One cgroup v1 ``memory`` directory this worker made for its tasks (never for itself):
    the limit is the current task's, for all its processes together, and the kernel's OOM
    killer, stopping one of them at that limit, counts the kill (``memory.oom_control``)."""

    def __init__(self, path: str) -> None:
        os.mkdir(path, 0o755)
        self.path = path
        self.dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.oom_fd = os.open("memory.oom_control", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dir_fd)
        self.usage_fd = os.open("memory.usage_in_bytes", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dir_fd)
        self.tasks_fd = _tasks_fd(self.dir_fd)
        self.limit = -1
        self.kills = self.oom_kills()

    def start_task(self, limit: int) -> None:
        """A task begins: the limit becomes ``limit`` bytes where it can (a limit below what
        earlier tasks left charged that the kernel cannot reclaim leaves the last one), and a
        kill before now is none of its business."""
        if limit != self.limit:
            try:
                _write_at(self.dir_fd, "memory.limit_in_bytes", str(limit))
                self.limit = limit
            except OSError:
                pass  # EBUSY: the earlier limit holds; each process's RLIMIT_AS still does
        self.killed_since_last()

    def settle(self, allowed: int) -> int:
        """Once a task's processes are gone: 0 when what is still charged here is at most
        ``allowed`` bytes, after reclaiming what can be (page cache) and letting the kernel
        collect unix sockets whose only references are fds in flight on themselves (a task
        can park memfds so, charged to no process); else the bytes still charged."""
        used = self._usage()
        if used <= allowed:
            return 0
        deadline = time.monotonic() + 0.25
        while True:
            try:
                _write_at(self.dir_fd, "memory.force_empty", "0")
            except OSError:
                pass
            collect_unix_cycles()
            used = self._usage()
            if used <= allowed or time.monotonic() > deadline:
                return 0 if used <= allowed else used
            time.sleep(0.01)

    def _usage(self) -> int:
        try:
            return int(os.pread(self.usage_fd, 32, 0))
        except (OSError, ValueError):
            return 0

    join_self = Cgroup.join_self

    def oom_kills(self) -> int:
        """How many processes the OOM killer has stopped in this cgroup so far."""
        text = os.pread(self.oom_fd, 256, 0).decode("ascii", "replace")
        at = text.find("oom_kill ")
        return int(text[at + 9:].split(None, 1)[0]) if at >= 0 else 0

    def killed_since_last(self) -> bool:
        """Whether the OOM killer stopped a process here since the last call (or since made)."""
        try:
            kills = self.oom_kills()
        except (OSError, ValueError):
            return False
        killed, self.kills = kills > self.kills, kills
        return killed


def collect_unix_cycles() -> None:
    """Have the kernel collect unix sockets whose only references are fds in flight on
    themselves (a task can park memfds so, held by no process, after it ends): closing a unix
    socket runs its collector."""
    import socket

    try:
        for end in socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM):
            end.close()
    except OSError:
        pass


def make_memory_cgroup(pid: int) -> MemoryCgroup | None:
    """A memory cgroup for the tasks of worker ``pid``, or None where none can be made."""
    root = cgroup_root("memory")
    if root is None or not os.access(root, os.W_OK):
        return None
    sweep_cgroups(root)
    try:
        group = MemoryCgroup(os.path.join(root, f"{CGROUP_PREFIX}{pid}-tasks"))
    except (OSError, ValueError):
        return None
    return group


def make_cgroups(pid: int) -> tuple[Cgroup, Cgroup] | None:
    """A cgroup for the worker ``pid`` (it joins it) and one for its judge, or None where none can be made."""
    root = cpuacct_root()
    if root is None or not os.access(root, os.W_OK):
        return None
    sweep_cgroups(root)
    try:
        worker = Cgroup(os.path.join(root, f"{CGROUP_PREFIX}{pid}"))
        judge = Cgroup(os.path.join(root, f"{CGROUP_PREFIX}{pid}-judge"))
        worker.join(0)
    except (OSError, ValueError):
        return None
    return worker, judge


def sweep_cgroups(root: str) -> None:
    """Remove empty cgroups that dead workers left behind (a live worker's empty judge cgroup stays)."""
    try:
        names = [n for n in os.listdir(root) if n.startswith(CGROUP_PREFIX)]
    except OSError:
        return
    for name in names:
        owner = name[len(CGROUP_PREFIX):].split("-")[0]
        if not owner.isdigit() or os.path.exists(f"/proc/{owner}"):
            continue
        try:
            os.rmdir(os.path.join(root, name))  # fails (EBUSY) while a worker lives in it
        except OSError:
            pass


def remove_cgroup(path: str, timeout_s: float = 5.0) -> bool:
    """Kill whatever is left in a cgroup and remove it (the parent, after its worker died)."""
    procs = os.path.join(path, "cgroup.procs")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with open(procs) as f:
                pids = [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return True
        except (OSError, ValueError):
            pids = []
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if not pids:
            try:
                os.rmdir(path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def kill_uid_from_parent(uid: int, timeout_s: float = 5.0) -> bool:
    """SIGKILL every process of ``uid``, found in ``/proc``, until none is left (root only).

    Used by the pool after it killed a worker: the worker's tasks run as a uid of its own,
    so nothing else on the machine is hit.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
                os.kill(int(name), signal.SIGKILL)
                found = True
            except OSError:
                pass
        if not found:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


# --------------------------------------------------------------------------- CPU per tree


def _stat_fields(pid: str) -> list[bytes] | None:
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, 1024)
        finally:
            os.close(fd)
    except OSError:
        return None
    return data.rsplit(b")", 1)[1].split()


def zombie_status(pid: int) -> int | None:
    """The wait status of ``pid``, ended and not yet reaped (``/proc/<pid>/stat`` field 52), or None."""
    fields = _stat_fields(str(pid))
    if fields is None or len(fields) < 50 or fields[0] not in (b"Z", b"X"):
        return None
    return int(fields[49])


def proc_tree_cpu(sid: int, uid: int | None, skip: tuple[int, ...]) -> float:
    """CPU seconds of the live processes of session ``sid`` (or of ``uid``), reaped children included."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        fields = _stat_fields(name)
        if fields is None or len(fields) < 15:
            continue
        if int(fields[3]) != sid:
            if uid is None:
                continue
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
            except OSError:
                continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / _TICK


class TreeClock:
    """The CPU time of the current task's whole process tree."""

    def __init__(self, cgroup: Cgroup | None, uid: int | None) -> None:
        self.cgroup = cgroup
        self.uid = uid
        self.ncpu = max(1, len(os.sched_getaffinity(0)))
        self.reaped_elsewhere = 0.0  # CPU of reaped children that are not the task's (the judge)
        self._base = (0.0, 0.0)
        self._children0 = 0.0
        self._elsewhere0 = 0.0
        self.sid = 0

    def start(self, sid: int) -> None:
        """Called right after forking the task child ``sid`` (its session leader)."""
        self.sid = sid
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._children0 = ru.ru_utime + ru.ru_stime
        self._elsewhere0 = self.reaped_elsewhere
        if self.cgroup is not None:
            self._base = (self.cgroup.usage(), time.process_time())

    def used(self) -> float:
        """CPU seconds the tree has used so far, while it runs."""
        if self.cgroup is not None:
            usage, own = self._base
            return (self.cgroup.usage() - usage) - (time.process_time() - own)
        return proc_tree_cpu(self.sid, self.uid, (os.getpid(),))

    def final(self, reaped_by_zygote: float | None = 0.0) -> float:
        """CPU seconds the tree used, once every process of it has ended: the worker's children
        (escapees come to it), and ``reaped_by_zygote``, the CPU of a task child its zygote reaped;
        None: that child is not reaped yet, and the cgroup's count (every process of the tree,
        ended ones included) is the answer."""
        if reaped_by_zygote is None and self.cgroup is not None:
            return max(0.0, self.used())
        reaped_by_zygote = reaped_by_zygote or 0.0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = ru.ru_utime + ru.ru_stime - self._children0 - (self.reaped_elsewhere - self._elsewhere0)
        return max(0.0, own + reaped_by_zygote)

    def poll_after(self, cpu_left: float) -> float:
        """Seconds before the tree could have used ``cpu_left`` (all its processes on every CPU)."""
        step = cpu_left / self.ncpu
        # The cgroup's count is exact at any time: a tree out of its budget overruns it by
        # this much at most (a pinned worker's task has one CPU: the first poll is the last).
        return step + (0.002 if self.cgroup is not None else 0.02)


# --------------------------------------------------------------------------- work dirs


class WorkDirs:
    """The one work dir path of a worker: made once, resized and emptied per task."""

    def __init__(self, path: str, uid: int | None, mounts: bool, max_mb: int, max_entries: int = 1_000_000) -> None:
        self.path = path
        self.max_entries = max_entries
        self.uid = uid
        self.mounts = mounts
        self.max_mb = max(1, int(max_mb))
        self.size_mb = 0
        os.mkdir(path, 0o700)
        if uid is not None:
            os.chown(path, uid, uid)
        if mounts:
            owner = f",uid={uid},gid={uid}" if uid is not None else ""
            _isolation.mount_tmpfs(path, f"mode=0700{owner},{self._limits(self.max_mb)}")
            self.size_mb = self.max_mb
        st = os.stat(path)
        self.times = (st.st_atime_ns, st.st_mtime_ns)  # what every task finds: none sees another's

    @staticmethod
    def _limits(size_mb: int) -> str:
        # Inodes cost memory the size does not count: cap them too (a million empty files).
        return f"size={size_mb}m,nr_inodes={max(4096, size_mb * 64)}"

    def make(self, memory_mb: int) -> str:
        """The work dir, empty, sized for a task of ``memory_mb`` (files count against it)."""
        if self.mounts:
            size = max(1, min(int(memory_mb), self.max_mb))
            if size != self.size_mb:  # a remount only when the budget changes: ~10 us
                _isolation.resize_tmpfs(self.path, self._limits(size))
                self.size_mb = size
        return self.path

    def clear(self) -> bool:
        """Empty the work dir; False when that failed (the worker must then be replaced)."""
        try:
            os.chmod(self.path, 0o700)  # the task owns it and may have changed its mode
        except OSError:
            return False
        return clear_dir(self.path, self.max_entries) and reset_dir(self.path, self.times)

    def filled(self) -> bool:
        """Whether the task filled its work dir (space or inodes)."""
        if not self.mounts:
            return False
        try:
            st = os.statvfs(self.path)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < 64 * 1024 or st.f_favail == 0


def sysv_ipc_left() -> bool:
    """Whether any System V shared memory segment, semaphore set or message queue exists in
    this process's IPC namespace (each ``/proc/sysvipc`` table is a header line, then one line
    per object)."""
    for table in ("shm", "sem", "msg"):
        try:
            fd = os.open("/proc/sysvipc/" + table, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            head = os.read(fd, 4096)
        finally:
            os.close(fd)
        if head.count(b"\n") > 1:
            return True
    return False


def reset_dir(path: str, times: tuple[int, int]) -> bool:
    """Give an emptied directory back as it was made: no extended attributes and the access
    and modification times ``times`` (ns). A task that owns the directory (its work dir) can
    set both, and both outlive its files: written by one task, read by the next, they would
    carry its answers. False if that failed."""
    try:
        names = os.listxattr(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        names = []  # a file system with no xattrs: nothing there to carry anything
    try:
        for name in names:
            os.removexattr(path, name)
        os.utime(path, ns=times)
    except OSError:
        return False
    return True


def clear_dir(path: str, max_entries: int = 1_000_000, max_s: float = 5.0) -> bool:
    """Remove everything inside ``path``; False if that failed or went past its bounds.

    No recursion and no long paths: it walks with one directory fd at a time (down by name,
    up by ``..``), so a tree deeper than ``PATH_MAX`` or Python's recursion limit goes like
    any other. Each directory is listed once (its files removed, its subdirectories kept by
    name for the way down), so the time is linear in the entries, however many siblings a
    task made. Directories the task locked (mode 000) are opened up first. Runs only when
    nothing of the task is alive, so nothing moves under it.
    """
    try:
        cur = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    deadline = time.monotonic() + max_s
    left = max_entries
    fix = os.geteuid() != 0  # root passes any mode; an owner must open up what its task locked

    def listed(fd: int) -> list[str] | None:
        """Unlink the files of the directory at ``fd``; its subdirectories' names (None: past the bounds)."""
        nonlocal left
        subs = []
        with os.scandir(fd) as entries:
            for entry in entries:
                left -= 1
                if left < 0 or time.monotonic() > deadline:
                    return None
                if entry.is_dir(follow_symlinks=False):
                    subs.append(entry.name)
                else:
                    os.unlink(entry.name, dir_fd=fd)
        return subs

    # One (name entered, its parent's subdirectories still to empty) per level below the top.
    stack: list[tuple[str, list[str]]] = []
    try:
        subs = listed(cur)
        while True:
            if subs is None:
                return False
            if subs:
                sub = subs.pop()
                if fix:
                    os.chmod(sub, 0o700, dir_fd=cur)
                nxt = os.open(sub, _DIR_FLAGS, dir_fd=cur)
                os.close(cur)
                cur = nxt
                stack.append((sub, subs))
                subs = listed(cur)
                continue
            if not stack:
                return True
            up = os.open("..", _DIR_FLAGS, dir_fd=cur)
            os.close(cur)
            cur = up
            name, subs = stack.pop()
            os.rmdir(name, dir_fd=cur)
            if time.monotonic() > deadline:
                return False
    except OSError:
        return False
    finally:
        os.close(cur)
