"""Kernel-level isolation for sandbox workers: namespaces, mounts, privilege drop.

Everything here runs inside a worker process, once at start-up (namespaces, mounts) or in a
freshly forked task child (privileges). It uses ``ctypes`` for ``unshare(2)`` and ``mount(2)``
because Python 3.10/3.11 have no ``os.unshare``.

What each layer buys:

- ``netns``: the worker enters a new, empty network namespace (loopback down), so no task it
  forks can open a connection, to the outside or to loopback services.
- ``mountns``: the worker gets a private mount table in which ``/tmp``, ``/var/tmp``,
  ``/dev/shm``, ``/run/lock`` (world-writable places) and ``/root``, ``/home`` (secrets) are
  covered by empty root-owned tmpfs mounts. Paths the interpreter needs that lived under them
  (a pyenv prefix in ``/root``, a virtualenv in ``/tmp``) are bound back in read-only. This is
  also what lets a child that dropped privileges import the standard library when the
  interpreter lives in a directory only root can read.
- ``hidepid``: (root, with ``mountns``) the worker mounts its own ``/proc`` with
  ``hidepid=invisible``: a task sees its own processes there, not the trainer's, the worker's
  or other users' (their command lines, environments and open files).
- ``uid``: task children switch to an unprivileged uid/gid of their own (one per worker), so
  ``RLIMIT_NPROC`` holds, they cannot signal the worker or the trainer, and they cannot read
  files only root may read.
- ``keyrings``: every task child leaves the session keyring it inherited for a new, empty one,
  and empties the keyrings the kernel keeps per uid (user, user-session, persistent), which
  outlive any process: what one task stores there is gone before the next task's program starts.
- ``nonewns``: (root) the zygote, and so every task child, runs under a seccomp filter that
  refuses ``unshare``, ``setns`` and a ``clone`` that asks for a new namespace (``clone3``
  answers ENOSYS, and libc falls back to ``clone``). Without it a task could make a user
  namespace, be root there, and mount a tmpfs of its own whose pages no limit of the task
  counts: gigabytes of host memory held by a task with ``memory_mb=256``.
- ``mqueue``: (with ``ipcns``) the POSIX message queues of the worker's IPC namespace, which
  outlive the task that made them, are removed after every task.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

__all__ = ["setup_worker_isolation", "drop_privileges", "keep_paths", "claim_uid", "kill_uid", "world_readable", "COVERED_DIRS",
           "build_sealed_view", "enter_mount_namespace", "DEFAULT_ALLOWED_PACKAGES", "mount_tmpfs", "resize_tmpfs",
           "fresh_keyrings", "open_mqueues", "clear_mqueues", "no_new_namespaces_filter", "forbid_new_namespaces"]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
ZYGOTE_NAME = "exectune-zygote"
"""The process name (comm) of a worker's zygote, which forks its task children (``prefork``)."""
MNT_DETACH = 2

COVERED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/root", "/home")

_libc = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:  # not glibc: ask the (slower) lookup
            from ctypes.util import find_library

            _libc = ctypes.CDLL(find_library("c"), use_errno=True)
    return _libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_lib().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def mount_tmpfs(target: str, options: str) -> None:
    """A fresh tmpfs on ``target`` (no setuid files, no device nodes)."""
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)


def resize_tmpfs(target: str, options: str) -> None:
    """Change a tmpfs's ``size``/``nr_inodes`` in place (its superblock: every bind of it sees it)."""
    _mount(None, target, None, MS_REMOUNT | MS_NOSUID | MS_NODEV, options)


_plain_libc = None


def _plain_lib() -> ctypes.CDLL:
    """libc as the task children call it: no errno capture.

    What a forked child first does through ctypes costs it copy-on-write faults on every page
    that call touches: in a bare fork of a warm interpreter, a first ``prctl`` with argument
    types and errno capture costs the child about 34 faults, a plain one 17 (in a whole task
    child, about 4 fewer of its 275). So the calls on a task's path (``prctl``, ``keyctl``)
    take plain ints (a pointer as a ctypes buffer) and capture no errno.
    """
    global _plain_libc
    if _plain_libc is None:
        _plain_libc = ctypes.CDLL(_lib()._name)
    return _plain_libc


def prctl_function() -> Any:
    """libc's ``prctl`` for task children: int arguments (a C string as a ctypes buffer)."""
    return _plain_lib()["prctl"]


def prctl(option: int, arg: int) -> bool:
    return _lib().prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0


def keep_paths(extra: tuple[str, ...] = ()) -> list[str]:
    """Directories task children must still see: the interpreter, its standard library and
    site-packages. Other ``sys.path`` entries (a script's own folder, a checkout) are left
    out: binding them back would expose whatever else they hold."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    cands = {*prefixes, os.path.dirname(os.path.realpath(sys.executable)), *extra}
    real_prefixes = [os.path.realpath(p) for p in prefixes]
    for p in sys.path:
        rp = os.path.realpath(p) if p else ""
        if rp and ("site-packages" in rp or "dist-packages" in rp or any(_under(rp, q) for q in real_prefixes)):
            cands.add(rp)
    real = {os.path.realpath(p) for p in cands if os.path.isdir(p)}
    # Keep only the outermost paths: binding a parent already binds its children.
    out: list[str] = []
    for p in sorted(real, key=len):
        if not any(_under(p, q) for q in out):
            out.append(p)
    return out


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def _setup_mounts(keep: list[str], tmp_size_mb: int) -> list[str]:
    """Cover world-writable and secret directories; bind needed paths back read-only.

    Returns the covered directories.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    covered = []
    for top in COVERED_DIRS:
        if not os.path.isdir(top) or os.path.islink(top):
            continue
        # Paths strictly inside are bound back; the dir itself (a script's folder that
        # landed on sys.path, say) is not worth leaving world-writable for.
        inner = [k for k in keep if k.startswith(top + "/")]
        fds = [os.open(k, os.O_PATH | os.O_DIRECTORY) for k in inner]
        try:
            size = tmp_size_mb if top == "/tmp" else 16
            # /dev/shm stays writable (multiprocessing's semaphores live there) but private
            # to this worker, small, and emptied after every task. Inodes are capped too: a
            # task's million empty files would otherwise cost the clean-up after it.
            mode = "1777" if top == "/dev/shm" else "0755"
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size={size}m,nr_inodes={max(4096, size * 64)}")
            for k, fd in zip(inner, fds):
                os.makedirs(k, mode=0o755, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC)
                try:
                    _mount(None, k, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
                except OSError:
                    pass  # read-only is defence in depth; the bind itself is what matters
        finally:
            for fd in fds:
                os.close(fd)
        covered.append(top)
    return covered


def _mount_private_proc() -> bool:
    """A /proc of this mount table's own in which unprivileged tasks see only their processes."""
    for options in ("hidepid=invisible", "hidepid=2"):  # the name, then the number older kernels know
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
            return True
        except OSError:
            continue
    return False


def _enter_userns() -> None:
    uid, gid = os.getuid(), os.getgid()
    _check(_lib().unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC), "unshare(user)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def setup_worker_isolation(*, network: bool, mounts: bool, tmp_size_mb: int = 256) -> tuple[list[str], str]:
    """Put the calling (single-threaded) worker into its namespaces.

    Args:
        network: Keep the network (True skips the network namespace).
        mounts: Build the private mount table described in the module docstring.
        tmp_size_mb: Size of the private ``/tmp`` tmpfs that holds the tasks' work dirs.

    Returns:
        The isolation layers that hold, and a note on what could not be set up ('' if none).
    """
    layers: list[str] = []
    notes: list[str] = []
    # Its own System V IPC namespace too: shared memory, semaphores and message queues a task
    # makes are never the host's nor another worker's (and the worker checks after each task
    # that none is left for the next).
    flags = (0 if network else CLONE_NEWNET) | (CLONE_NEWNS if mounts else 0) | CLONE_NEWIPC
    is_root = os.geteuid() == 0
    if flags:
        try:
            if is_root:
                _check(_lib().unshare(flags), "unshare")
            else:
                _enter_userns()
            layers.append("ipcns")
            if not network:
                layers.append("netns")
            if mounts:
                _setup_mounts(keep_paths(), tmp_size_mb)
                layers.append("mountns")
                if is_root and _mount_private_proc():
                    layers.append("hidepid")
        except OSError as exc:
            notes.append(f"namespaces unavailable ({exc}); network and filesystem are not isolated")
    if prctl(PR_SET_CHILD_SUBREAPER, 1):
        layers.append("subreaper")
    return layers, "; ".join(notes)


def drop_privileges(uid: int) -> None:
    """Switch a task child to ``uid``/``uid`` with no supplementary groups (root only)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


# keyctl(2): its syscall number where the libc has no wrapper, and the operations used here.
_KEYCTL = {"x86_64": 250, "aarch64": 219, "arm64": 219, "ppc64le": 271, "s390x": 280, "riscv64": 219}
_KEYCTL_JOIN_SESSION_KEYRING = 1
_KEYCTL_CLEAR = 7
_KEYCTL_LINK = 8
_KEYCTL_GET_PERSISTENT = 22
_KEY_SPEC_SESSION_KEYRING = -3
_KEY_SPEC_USER_KEYRING = -4
_KEY_SPEC_USER_SESSION_KEYRING = -5


def keyctl_function() -> Any:
    """``keyctl(op, a, b)`` through ``syscall(2)`` (None where the machine's number is unknown)."""
    nr = _KEYCTL.get(os.uname().machine)
    if nr is None:
        return None
    fn = _plain_lib()["syscall"]  # ints in, an int (a key serial or -1) out
    return lambda op, a=0, b=0: fn(nr, op, a, b)


def fresh_keyrings(keyctl: Any, own_uid: bool) -> None:
    """Cut a task child off every kernel keyring an earlier task could have written to.

    A forked child shares its parent's session keyring (and possesses it, whatever its uid):
    it joins a new anonymous one instead. With ``own_uid`` (the child runs as the sandbox uid,
    which only this worker's tasks use) it also empties that uid's user, user-session and
    persistent keyrings, which live on after every process of the uid is gone.
    Keyrings the kernel does not offer (no ``CONFIG_KEYS``, a refusing policy) are skipped:
    then there is nothing there to leak through either.
    """
    if keyctl is None:
        return
    keyctl(_KEYCTL_JOIN_SESSION_KEYRING, 0)
    if not own_uid:
        return
    keyctl(_KEYCTL_CLEAR, _KEY_SPEC_USER_KEYRING)
    keyctl(_KEYCTL_CLEAR, _KEY_SPEC_USER_SESSION_KEYRING)
    # As a login session has it (pam_keyinit): the user keyring linked in, so its keys are
    # the program's own to read.
    keyctl(_KEYCTL_LINK, _KEY_SPEC_USER_KEYRING, _KEY_SPEC_SESSION_KEYRING)
    persistent = keyctl(_KEYCTL_GET_PERSISTENT, -1, _KEY_SPEC_SESSION_KEYRING)
    if persistent > 0:
        keyctl(_KEYCTL_CLEAR, persistent)


# seccomp: per architecture, its audit number and the numbers of unshare, setns, clone, clone3.
_SECCOMP_ARCH = {
    "x86_64": (0xC000003E, 272, 308, 56, 435),
    "aarch64": (0xC00000B7, 97, 268, 220, 435),
}
_CLONE_NEW_ANY = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000


def no_new_namespaces_filter() -> bytes | None:
    """The classic-BPF program of :func:`forbid_new_namespaces` for this machine (None: an
    architecture it does not know)."""
    import errno
    import struct

    spec = _SECCOMP_ARCH.get(os.uname().machine)
    if spec is None:
        return None
    arch, unshare, setns, clone, clone3 = spec
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    deny, nosys, allow = "deny", "nosys", "allow"
    prog: list[tuple[int, Any, Any, int]] = [
        (ld, 0, 0, 4),  # seccomp_data.arch
        (jeq, 0, deny, arch),  # another ABI (i386's int 0x80): nothing honest uses it here
        (ld, 0, 0, 0),  # seccomp_data.nr
        (jge, deny, 0, 0x40000000),  # x32
        (jeq, deny, 0, unshare),
        (jeq, deny, 0, setns),
        (jeq, nosys, 0, clone3),  # its flags are behind a pointer: libc then uses clone
        (jeq, 0, allow, clone),
        (ld, 0, 0, 16),  # clone's flags: the low half of args[0]
        (jset, deny, allow, _CLONE_NEW_ANY),
    ]
    ends = {allow: (ret, 0, 0, _RET_ALLOW), deny: (ret, 0, 0, _RET_ERRNO | errno.EPERM),
            nosys: (ret, 0, 0, _RET_ERRNO | errno.ENOSYS)}
    at = {name: len(prog) + i for i, name in enumerate(ends)}
    prog += list(ends.values())
    out = b""
    for i, (code, jt, jf, k) in enumerate(prog):
        jt = at[jt] - i - 1 if isinstance(jt, str) else jt
        jf = at[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("=HBBI", code, jt, jf, k)
    return out


def forbid_new_namespaces(program: bytes) -> bool:
    """Put the calling process, and every process it will fork, under the seccomp ``program``
    (:func:`no_new_namespaces_filter`); needs root (or no_new_privs). False if refused."""
    buf = ctypes.create_string_buffer(program)

    class _Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _Fprog(len(program) // 8, ctypes.addressof(buf))
    return _lib().prctl(_PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0) == 0


def open_mqueues(parent: str) -> int | None:
    """Mount this worker's POSIX message queues in a new root-only folder under ``parent``.

    Returns an fd of that folder (None where mqueue cannot be mounted). A queue lives in the
    IPC namespace, not in a process, so one task's queue would be there for the next; the
    worker lists and removes them through this fd after every task (:func:`clear_mqueues`).
    """
    path = os.path.join(parent, ".mqueue")
    try:
        os.mkdir(path, 0o700)
        _mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def clear_mqueues(fd: int) -> bool:
    """Remove every POSIX message queue in the namespace ``fd`` shows; False if one stays."""
    try:
        names = os.listdir(fd)
        for name in names:
            os.unlink(name, dir_fd=fd)
    except OSError:
        return False
    return True


def claim_uid(base: int, span: int = 4096) -> tuple[int, int]:
    """Claim an unprivileged uid no other live worker on this machine uses.

    A uid shared by two workers (of two pools) would let their tasks signal each other and
    share one RLIMIT_NPROC count. Each uid is held by an flock that dies with its worker.
    """
    import fcntl

    lock_dir = "/run/exectune-uids" if os.access("/run", os.W_OK) else "/tmp/.exectune-uids"
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    for uid in range(base, base + span):
        fd = os.open(os.path.join(lock_dir, str(uid)), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError(f"no free sandbox uid in [{base}, {base + span})")


def kill_uid(uid: int) -> None:
    """Kill every process running as ``uid``: kill(-1) from a child that became ``uid``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            drop_privileges(uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def world_readable(path: str) -> bool:
    """Whether any uid can reach ``path``: every ancestor directory must be o+x."""
    path = os.path.realpath(path)
    while True:
        try:
            if not os.stat(path).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def enter_mount_namespace(fd: int) -> None:
    """Switch the calling (single-threaded) task child into the mount namespace ``fd`` names."""
    _check(_lib().setns(fd, CLONE_NEWNS), "setns(mount)")


# --------------------------------------------------------------------------- the sealed view

DEFAULT_ALLOWED_PACKAGES: tuple[str, ...] = (
    "numpy", "scipy", "sympy", "mpmath", "pandas", "dateutil", "pytz", "tzdata", "six", "networkx",
    "sortedcontainers", "more_itertools", "regex",
)
"""Third-party packages a task child may import (each only where installed)."""

_TOP_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}


def package_dirs() -> list[str]:
    """Every directory third-party Python packages are installed in, as real paths."""
    import glob
    import site

    cands = [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    try:
        cands += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:  # a virtualenv's old site module
        pass
    for pattern in ("/usr/lib/python3*/dist-packages", "/usr/lib/python3*/site-packages",
                    "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                    "/usr/lib/python3/dist-packages"):
        cands += glob.glob(pattern)
    out: list[str] = []
    for p in sorted({os.path.realpath(c) for c in cands if os.path.isdir(c)}, key=len):
        if not any(_under(p, q) for q in out):
            out.append(p)
    return out


def allowed_paths(names: tuple[str, ...], hidden: list[str]) -> list[str]:
    """The files and folders of the allowed packages that lie in a hidden directory."""
    import glob
    import importlib.util

    out: set[str] = set()
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        locations = list(spec.submodule_search_locations or ()) or ([spec.origin] if spec.origin else [])
        for loc in locations:
            loc = os.path.realpath(loc)
            top = next((h for h in hidden if _under(loc, h)), None)
            if top is None:
                continue
            rel = os.path.relpath(loc, top).split(os.sep)[0]
            base = os.path.join(top, rel)
            out.add(base)
            stem = rel.split(".")[0] if not os.path.isdir(base) else rel
            norm = stem.replace("-", "_").lower()
            for extra in glob.glob(os.path.join(top, "*")):
                leaf = os.path.basename(extra)
                head = leaf.split("-")[0].replace("-", "_").lower()
                if leaf == f"{stem}.libs" or (leaf.endswith((".dist-info", ".egg-info")) and head == norm):
                    out.add(os.path.realpath(extra))
    return sorted(out)


def _bind(src: str, dst: str, readonly: bool) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            with open(dst, "w"):
                pass
    _mount(src, dst, None, MS_BIND | MS_REC)
    if readonly:
        try:
            _mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)
        except OSError:
            pass


def _build_sealed_root(root: str, writable: list[str], allowed: tuple[str, ...]) -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    for top in _TOP_DIRS:
        if os.path.islink(top):
            os.symlink(os.readlink(top), root + top)
        elif os.path.isdir(top):
            _bind(top, root + top, readonly=True)
    for d in keep_paths():  # the interpreter, wherever it lives (a pyenv under /root, a venv)
        if not any(_under(d, t) for t in _TOP_DIRS if not os.path.islink(t)):
            _bind(d, root + d, readonly=True)
    for d in ("/dev", "/proc"):
        _bind(d, root + d, readonly=False)
    for d in writable:
        _bind(d, root + d, readonly=False)
    for d in ("/tmp", "/var/tmp", "/run"):
        os.makedirs(root + d, exist_ok=True)
    hidden = package_dirs()
    keep = allowed_paths(allowed, hidden)
    for h in hidden:
        target = root + h
        if not os.path.isdir(target):
            continue
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for p in keep:
            if _under(p, h):
                _bind(p, root + p, readonly=True)
        _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    old = root + "/.old"
    os.makedirs(old, exist_ok=True)
    number = _PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(0, f"pivot_root: unknown syscall number on {os.uname().machine}")
    _check(_lib().syscall(number, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    _check(_lib().umount2(b"/.old", MNT_DETACH), "umount /.old")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=4m")


def build_sealed_view(writable: list[str], allowed: tuple[str, ...]) -> int:
    """A mount namespace that shows the system, the interpreter and its standard library,
    the allowed packages and ``writable`` (the work dirs), and hides every other installed
    package, the project's files and anything outside the usual system folders.

    Built once by a short-lived child of the (single-threaded) worker; returns an fd for the
    namespace, which task children enter with :func:`enter_mount_namespace`.

    Raises:
        OSError: the kernel refused a step (no mount namespaces, no pivot_root).
    """
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the builder child
        os.close(ready_r)
        os.close(hold_w)
        try:
            _check(_lib().unshare(CLONE_NEWNS), "unshare(mount)")
            _build_sealed_root("/tmp/.exectune-sealed-root", writable, allowed)
            os.write(ready_w, b"ok")
            os.read(hold_r, 1)  # held until the worker has opened the namespace
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001
            try:
                os.write(ready_w, f"{type(exc).__name__}: {exc}".encode()[:1000])
            finally:
                os._exit(1)
    os.close(ready_w)
    os.close(hold_r)
    try:
        answer = os.read(ready_r, 1000)
        if answer != b"ok":
            raise OSError(0, answer.decode("utf-8", "replace") or "the builder died")
        fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(hold_w)
        os.waitpid(pid, 0)
    return fd
