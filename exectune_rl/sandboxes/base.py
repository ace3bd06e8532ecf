"""The sandbox contract: requests, typed results and the ``Sandbox`` interface.

A sandbox runs untrusted programs and reports what happened as an :class:`ExecResult`
with a typed :class:`ExecStatus`. Whatever the program does, ``run`` returns one result per
request, in order; when the sandbox itself fails the status is ``INFRA``, never a status that
blames the program.

Example:
    >>> from exectune_rl.sandboxes import LocalSandbox, ExecRequest
    >>> with LocalSandbox(workers=2) as sb:                         # doctest: +SKIP
    ...     [r] = sb.run([ExecRequest("print(6 * 7)")])
    ...     r.status, r.stdout
    (<ExecStatus.OK: 'ok'>, '42\\n')
"""

from __future__ import annotations

import abc
import enum
import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from exectune_rl.errors import ConfigError
from exectune_rl.languages import is_python, normalize

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["ExecStatus", "ExecRequest", "ExecResult", "Sandbox"]


class ExecStatus(str, enum.Enum):
    """How a program run ended."""

    OK = "ok"
    """Exited with status 0."""
    SYNTAX_ERROR = "syntax_error"
    """The program did not compile (Python ``SyntaxError``, a C compile error...)."""
    RUNTIME_ERROR = "runtime_error"
    """The code failed: an uncaught exception or a non-zero exit status."""
    TIMEOUT = "timeout"
    """CPU-time limit hit (or the wall-clock backstop, for code that sleeps or blocks)."""
    MEMORY_LIMIT = "memory_limit"
    """The address-space limit was hit (``MemoryError`` or an allocation failure)."""
    OUTPUT_LIMIT = "output_limit"
    """stdout/stderr or a written file grew past the output limit."""
    SIGNALED = "signaled"
    """Killed by a signal the sandbox did not send (a segfault, an abort)."""
    INFRA = "infra"
    """The sandbox failed, not the code: a worker died, a resource could not be made."""

    # Aliases (same members, other spellings): they do not show up when iterating.
    SUCCESS = "ok"
    ERROR = "runtime_error"
    FAILED = "runtime_error"
    TIME_LIMIT = "timeout"
    TIMED_OUT = "timeout"
    MEMORY_LIMIT_EXCEEDED = "memory_limit"
    OUTPUT_LIMIT_EXCEEDED = "output_limit"
    KILLED = "signaled"
    SIGNAL = "signaled"
    EXCEPTION = "runtime_error"
    TIME_LIMIT_EXCEEDED = "timeout"
    OOM = "memory_limit"

    @property
    def is_infra(self) -> bool:
        return self is ExecStatus.INFRA


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict that still pickles (a MappingProxyType does not)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("ExecRequest mappings are read-only; use dataclasses.replace")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _FrozenDict(mapping or {})


MAX_CPU_TIME_S = 86_400.0
"""The largest ``cpu_time_s`` a request may ask for (a day)."""
MAX_WALL_TIME_S = 3 * MAX_CPU_TIME_S
"""The largest ``wall_time_s`` (the default backstop of the largest CPU budget)."""
_COUNT_LIMITS = {
    "memory_mb": 1 << 24,  # 16 TiB: its size in bytes, plus the worker's, still fits an rlimit
    "output_limit_bytes": 1 << 40,
    "max_processes": 1 << 22,  # the kernel's largest pid_max
    "max_open_files": 1 << 20,  # the kernel's default nr_open; above it setrlimit fails
}


def _seconds(name: str, value: Any, top: float, owner: str = "ExecRequest") -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{owner}.{name} must be a number of seconds, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value <= 0 or value > top:
        raise ConfigError(f"{owner}.{name} must be a finite number of seconds in (0, {top:g}], got {value!r}")
    return value


def _count(name: str, value: Any, top: int, owner: str = "ExecRequest") -> int:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{owner}.{name} must be a positive int, got {type(value).__name__} {value!r}")
    if not 0 < value <= top:
        raise ConfigError(f"{owner}.{name} must be in [1, {top}], got {value!r}")
    return value


def _text(name: str, text: str) -> None:
    """Text that crosses to the program as bytes (arguments, environment, paths) must encode."""
    if "\0" in text:
        raise ConfigError(f"ExecRequest.{name} must not contain NUL characters")
    try:
        text.encode("utf-8", "surrogateescape")  # what os.fsencode does with it
    except UnicodeEncodeError as exc:
        raise ConfigError(f"ExecRequest.{name} is not encodable text: {exc}") from None


def _data(name: str, value: Any, allow_none: bool = False) -> str | bytes | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(f"ExecRequest.{name} is not valid UTF-8 text (pass bytes for raw data): {exc}") from None
        return value
    raise ConfigError(f"ExecRequest.{name} must be str or bytes{' or None' if allow_none else ''}, "
                      f"got {type(value).__name__}")


def _mapping(name: str, value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"ExecRequest.{name} must be a mapping, got {type(value).__name__}")
    return dict(value)


@dataclass(frozen=True)
class ExecRequest:
    """One program to run.

    Args:
        code: The program text.
        language: ``"python"`` (default) or another language a sandbox supports
            (``LocalSandbox``: ``"javascript"``, ``"c"``, ``"cpp"``, ``"bash"``). Any spelling
            :mod:`exectune_rl.languages` knows (``"py"``, ``"node"``, ``"c++"``) is stored as
            its canonical name.
        cpu_time_s: CPU-seconds the program may use (children included).
        memory_mb: Address-space limit in MiB, per process. Runtimes that reserve large
            virtual areas (node, JVMs) get this as their heap limit instead. With the
            ``memcg`` layer the task's processes together, their files included, are held to
            it too (plus 128 MiB for the runtimes' own pages).
        stdin: Data fed to standard input.
        files: Extra files written into the working directory before the run
            (relative paths only).
        wall_time_s: Wall-clock backstop; default ``max(3 * cpu_time_s, cpu_time_s + 2)``,
            so a loaded machine does not turn correct code into timeouts.
        output_limit_bytes: Cap on stdout, on stderr and on any file written.
        max_processes: Processes the program may have at once (fork bombs stop here).
        max_open_files: Open-file-descriptor limit.
        args: Command-line arguments (``sys.argv[1:]``).
        env: Extra environment variables; the rest of the environment is scrubbed.
        epilogue: Trusted Python code (a test harness) run after ``code`` in the same
            namespace, only when ``code`` ran to its end. Sandboxes may compile it once and
            reuse it across requests, so many programs sharing one test suite pay for its
            compilation once. An epilogue that does not compile gives ``INFRA``.
        epilogue_globals: Names bound in the namespace just before the epilogue runs:
            values the program must not see while it runs, such as a completion token.
        judge: Trusted Python test code run in a separate judge process (sandboxes whose
            ``supports_judge`` is True; Python programs only). The program is then imported
            as the module ``solution`` (not run as ``__main__``) in its sandboxed process, and
            the judge's code sees the program's top-level names as proxies: each call crosses
            as plain data (see ``exectune_rl.sandboxes._wire``). ``__et_case(fn)`` counts one
            case there (``__et_case(fn, site)``: the assert at ``site``, counted once however
            often it runs, passed only if every run passed). The program's process never holds this code, its expected values or
            the verdict, which comes back as ``ExecResult.verdict``.
        load_cpu_time_s: Judged runs only: CPU-seconds the program may use until it is
            imported; ``cpu_time_s`` then counts from that moment, for the calls of the tests
            (how a calibrated limit is held: an honest program that imports numpy is never cut
            short by a limit measured on calls). None (default): ``cpu_time_s`` counts from
            the start. Other runs, and sandboxes that cannot tell when a program was imported,
            hold the whole run to ``cpu_time_s``.
    """

    code: str
    language: str = "python"
    cpu_time_s: float = 5.0
    memory_mb: int = 512
    stdin: str | bytes | None = None
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    wall_time_s: float | None = None
    output_limit_bytes: int = 1 << 20
    max_processes: int = 16
    max_open_files: int = 256
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    epilogue: str = ""
    epilogue_globals: Mapping[str, str] = field(default_factory=dict)
    judge: str = ""
    load_cpu_time_s: float | None = None

    def __post_init__(self) -> None:
        # Every field is checked here, where the request is built: a bad value is the
        # caller's mistake and must never reach a worker, where it would be blamed on the
        # program (a RUNTIME_ERROR) or break the pool (an overflow in a timeout).
        if not isinstance(self.code, str):
            raise ConfigError(f"ExecRequest.code must be a str, got {type(self.code).__name__}")
        if not isinstance(self.language, str) or not self.language:
            raise ConfigError(f"ExecRequest.language must be a non-empty str, got {self.language!r}")
        # One spelling per language (``"py"`` is ``"python"``), from the one registry.
        object.__setattr__(self, "language", normalize(self.language))
        object.__setattr__(self, "cpu_time_s", _seconds("cpu_time_s", self.cpu_time_s, MAX_CPU_TIME_S))
        if self.wall_time_s is not None:
            object.__setattr__(self, "wall_time_s", _seconds("wall_time_s", self.wall_time_s, MAX_WALL_TIME_S))
        if self.load_cpu_time_s is not None:
            object.__setattr__(self, "load_cpu_time_s", _seconds("load_cpu_time_s", self.load_cpu_time_s, MAX_CPU_TIME_S))
        for name, top in _COUNT_LIMITS.items():
            object.__setattr__(self, name, _count(name, getattr(self, name), top))
        object.__setattr__(self, "stdin", _data("stdin", self.stdin, allow_none=True))
        files = _mapping("files", self.files)
        for path, data in files.items():
            parts = path.split("/") if isinstance(path, str) else []
            if not parts or any(p in ("", ".", "..") for p in parts) or "\0" in path or len(path) > 1024:
                raise ConfigError(f"ExecRequest.files keys must be relative paths inside the work dir, got {path!r}")
            _text("files key", path)
            files[path] = _data(f"files[{path!r}]", data)
        object.__setattr__(self, "files", _freeze(files))
        env = _mapping("env", self.env)
        for key, value in env.items():
            if not isinstance(key, str) or not key or "=" in key:
                raise ConfigError(f"ExecRequest.env keys must be non-empty str without '=', got {key!r}")
            if not isinstance(value, str):
                raise ConfigError(f"ExecRequest.env[{key!r}] must be a str, got {type(value).__name__}")
            _text(f"env[{key!r}]", key + value)
        object.__setattr__(self, "env", _freeze(env))
        if isinstance(self.args, (str, bytes)) or not isinstance(self.args, (tuple, list)):
            raise ConfigError(f"ExecRequest.args must be a tuple or list of str, got {self.args!r}")
        for i, arg in enumerate(self.args):
            if not isinstance(arg, str):
                raise ConfigError(f"ExecRequest.args[{i}] must be a str, got {type(arg).__name__}")
            _text(f"args[{i}]", arg)
        object.__setattr__(self, "args", tuple(self.args))
        for name in ("epilogue", "judge"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"ExecRequest.{name} must be a str, got {type(getattr(self, name)).__name__}")
        glob = _mapping("epilogue_globals", self.epilogue_globals)
        for key, value in glob.items():
            if not isinstance(key, str) or not key.isidentifier() or not isinstance(value, str):
                raise ConfigError(f"ExecRequest.epilogue_globals must map identifiers to str, got {key!r}: {value!r}")
        object.__setattr__(self, "epilogue_globals", _freeze(glob))
        if self.epilogue and not is_python(self.language):
            raise ConfigError(f"ExecRequest.epilogue is Python code; language is {self.language!r}")
        if self.judge and (self.epilogue or not is_python(self.language)):
            raise ConfigError("ExecRequest.judge tests Python programs and excludes an epilogue")

    @property
    def total_cpu_time_s(self) -> float:
        """The most CPU time the run may take: ``cpu_time_s``, plus ``load_cpu_time_s`` for a judged run."""
        return float(self.cpu_time_s) + (float(self.load_cpu_time_s or 0.0) if self.judge else 0.0)

    @property
    def effective_wall_time_s(self) -> float:
        if self.wall_time_s is not None:
            return float(self.wall_time_s)
        return default_wall_time_s(self.total_cpu_time_s)


def default_wall_time_s(cpu_s: float) -> float:
    """The wall-clock backstop of a run that may use ``cpu_s`` of CPU and names no ``wall_time_s``:
    3x that, at least that plus 2 s, so a loaded machine does not turn a correct run into a timeout."""
    return max(3.0 * cpu_s, cpu_s + 2.0)


# Other spellings accepted as keyword arguments of ExecRequest.
_REQUEST_ALIASES = {
    "timeout": "cpu_time_s", "timeout_s": "cpu_time_s", "time_limit": "cpu_time_s", "time_limit_s": "cpu_time_s",
    "cpu_time": "cpu_time_s", "cpu_time_limit": "cpu_time_s", "cpu_limit_s": "cpu_time_s",
    "memory_limit_mb": "memory_mb", "memory_limit": "memory_mb", "mem_mb": "memory_mb",
    "wall_time": "wall_time_s", "wall_timeout_s": "wall_time_s", "output_limit": "output_limit_bytes",
    "max_output_bytes": "output_limit_bytes", "input": "stdin",
}
_generated_init = ExecRequest.__init__


def _request_init(self: ExecRequest, *args: Any, **kwargs: Any) -> None:
    for alias, name in _REQUEST_ALIASES.items():
        if alias in kwargs:
            if name in kwargs:
                raise ConfigError(f"ExecRequest got both {name!r} and its alias {alias!r}")
            kwargs[name] = kwargs.pop(alias)
    _generated_init(self, *args, **kwargs)


_request_init.__doc__ = _generated_init.__doc__
_request_init.__signature__ = inspect.signature(_generated_init)  # type: ignore[attr-defined]
ExecRequest.__init__ = _request_init  # type: ignore[method-assign]


@dataclass(frozen=True)
class ExecResult:
    """What happened when a program ran.

    Attributes:
        status: How the run ended.
        exit_code: The exit status, or None when a signal ended the process.
        signal: The signal number that ended the process, if any.
        stdout / stderr: Decoded output (UTF-8, invalid bytes replaced), cut at the limit.
        stdout_truncated / stderr_truncated: True when output was cut.
        cpu_s: CPU seconds used (user + system, children included).
        wall_s: Wall-clock seconds from start to reaping.
        exception: The Python exception type name when a Python program raised.
        detail: A short human-readable reason (what limit, what infrastructure failure).
        isolation: The isolation layers that held for this run, e.g.
            ``("rlimits", "session", "uid", "netns", "mountns", "tmpdir", "env")``;
            a layer missing here did not hold.
        retried: True when the task was re-run once after a worker died.
        verdict: For a request with ``judge`` code, what the judge counted (``passed``,
            ``seen``, ``completed``, ``ready``, ``program_gone``, ``harness_error``, ``error``,
            ``import_error``, ``failures``, ``calls``, ``timed_out``, ``planned`` (the tests'
            cases expanded before any ran), and ``judge_cpu_s``: the
            judge's own CPU seconds for the task, the tests' work and the reading of the
            program's replies, kept out of ``cpu_s``, bounded by the task's wall-clock limit);
            None otherwise or when no judge ran.
    """

    status: ExecStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    cpu_s: float = 0.0
    wall_s: float = 0.0
    exception: str | None = None
    detail: str = ""
    isolation: tuple[str, ...] = ()
    retried: bool = False
    verdict: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.OK

    @property
    def truncated(self) -> bool:
        """True when stdout or stderr was cut at the output limit."""
        return self.stdout_truncated or self.stderr_truncated

    @property
    def cpu_time_s(self) -> float:
        return self.cpu_s

    @property
    def wall_time_s(self) -> float:
        return self.wall_s

    cpu_time = cpu_seconds = cpu_time_s
    wall_time = wall_seconds = wall_time_s

    @property
    def returncode(self) -> int | None:
        return self.exit_code

    @classmethod
    def infra(cls, detail: str, **kwargs: Any) -> "ExecResult":
        """A result for a run the sandbox could not carry out."""
        return cls(status=ExecStatus.INFRA, detail=detail, **kwargs)


class Sandbox(abc.ABC):
    """Runs programs in isolation. Subclass it to write a new sandbox.

    Subclasses implement :meth:`run` (and :meth:`close` when they hold resources);
    ``arun``, ``run_one`` and the context manager come for free. ``run`` must return one
    result per request, in input order, and must not raise for anything a program does.
    """

    name: str = "sandbox"
    supports_judge: bool = False
    """Whether ``run`` carries out ``ExecRequest.judge`` (tests in a separate trusted process)."""
    queues_submissions: bool = False
    """Whether :meth:`submit` returns before the work is done (the requests queued on the
    sandbox's own workers). Callers stream a batch in parts only to such a sandbox; to any
    other they hand the whole batch at once, as to :meth:`run`."""

    @abc.abstractmethod
    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Run every request and return their results in input order."""

    def submit(self, requests: Sequence[ExecRequest]) -> "Future[list[ExecResult]]":
        """Start running ``requests``; a future of what :meth:`run` would return.

        The caller can prepare more work while these run. The default runs them in the
        calling thread, so the future is done on return; a sandbox whose ``run`` queues work
        on workers of its own overrides this to return at once (and sets
        ``queues_submissions``). Raises what ``run`` raises for bad input or a closed sandbox.
        """
        from exectune_rl.sandboxes.futures import done_future

        return done_future(self.run(requests))

    async def arun(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Async ``run``: the work happens off the event loop."""
        import asyncio  # kept out of module scope: sandbox workers import this module

        return await asyncio.to_thread(self.run, self.requests_of(requests))

    @staticmethod
    def requests_of(requests: Iterable[ExecRequest | str]) -> list[ExecRequest]:
        r"""The requests of a ``run`` call as a list: code strings become default ``ExecRequest``\ s.

        Sandboxes call this first in ``run``, so every sandbox takes the same inputs.

        Raises:
            TypeError: ``requests`` is a single request or string rather than a sequence, or an
                item is neither an ``ExecRequest`` nor a ``str``.
        """
        if isinstance(requests, (ExecRequest, str, bytes)):
            raise TypeError(f"run() takes a sequence of ExecRequest, got a single {type(requests).__name__}; "
                            "wrap it in a list or call run_one()")
        out = []
        for i, r in enumerate(requests):
            if isinstance(r, str):
                r = ExecRequest(r)
            elif not isinstance(r, ExecRequest):
                raise TypeError(f"requests[{i}] must be an ExecRequest or a code string, got {type(r).__name__}")
            out.append(r)
        return out

    def run_one(self, request: ExecRequest | str, **kwargs: Any) -> ExecResult:
        """Run a single request (or a code string plus ``ExecRequest`` keyword arguments)."""
        if isinstance(request, str):
            request = ExecRequest(request, **kwargs)
        return self.run([request])[0]

    def close(self) -> None:
        """Release the sandbox's resources. Idempotent."""

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
