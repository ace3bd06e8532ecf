"""``RestrictedSandbox``: RestrictedPython-compiled snippets in the limited worker processes.

RestrictedPython rewrites code at compile time: it rejects names and attributes that start
with ``_`` (so no ``__class__.__subclasses__()`` escapes), ``exec``/``eval``/``compile``,
``open``, ``globals``, frame access and ``str.format`` attribute tricks, and routes attribute,
item and iteration access through guards. It does **not** stop infinite loops or memory bombs,
so the code still runs in :class:`~exectune_rl.sandboxes.LocalSandbox`'s forked, rlimited,
unprivileged children: the two layers together.

What restricted code may use:

- builtins: RestrictedPython's ``safe_builtins`` (``abs``, ``bool``, ``int``, ``len``,
  ``range``, ``str``, the exception types, ...) plus ``all any bin dict enumerate filter
  frozenset iter list map max min next reversed set sorted sum tuple zip`` and ``print``;
- imports of the modules in ``allowed_modules`` only (default: ``math``, ``re``, ``string``,
  ``itertools``, ``functools``, ``collections``, ``heapq``, ``bisect``, ``fractions``,
  ``decimal``, ``statistics``, ``typing``, ``random``, ``operator``); any other import raises
  ``ImportError``;
- classes, comprehensions, augmented assignment, ``*args``/``**kwargs`` calls.

A compile error gives ``SYNTAX_ERROR``; a policy violation found at compile time gives
``RUNTIME_ERROR`` with ``exception="PolicyViolation"`` and the reasons in ``stderr``.

Through :func:`~exectune_rl.sandboxes.runner.run_tests`: the ``check``, module-level
``asserts`` and ``io`` formats work (the trusted harness calls the restricted program's
functions); tests that import the program as a module (``from solution import ...``) are
refused with a :class:`~exectune_rl.errors.ConfigError`, since importing it would run it
unrestricted.

Example:
    >>> from exectune_rl.sandboxes import RestrictedSandbox, ExecRequest
    >>> with RestrictedSandbox(workers=1) as sb:                             # doctest: +SKIP
    ...     sb.run([ExecRequest("print(sum(x * x for x in range(4)))")])[0].stdout
    '14\\n'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from exectune_rl.errors import ConfigError, SandboxClosedError
from exectune_rl.languages import is_python
from exectune_rl.sandboxes.base import ExecRequest, ExecResult, ExecStatus, Sandbox

__all__ = ["RestrictedSandbox", "DEFAULT_ALLOWED_MODULES"]

DEFAULT_ALLOWED_MODULES: tuple[str, ...] = (
    "math", "re", "string", "itertools", "functools", "collections", "heapq", "bisect",
    "fractions", "decimal", "statistics", "typing", "random", "operator",
)

# Runs inside the task child. Kept as text: the child executes it like any program.
_RUNTIME = '''
import operator as _op, sys as _sys
from RestrictedPython import compile_restricted_exec as _compile
from RestrictedPython.Guards import safe_builtins as _safe, safer_getattr as _getattr
from RestrictedPython.Guards import guarded_iter_unpack_sequence as _iter_unpack, guarded_unpack_sequence as _unpack

class PolicyViolation(Exception):
    pass

_SOURCE = {source!r}
_ALLOWED = frozenset({allowed!r})
_result = _compile(_SOURCE, filename="main.py")
if _result.errors:
    _text = "\\n".join(_result.errors)
    if "SyntaxError" in _text or _result.code is None and "invalid syntax" in _text:
        raise SyntaxError(_text)
    raise PolicyViolation(_text)

def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level != 0 or name.split(".")[0] not in _ALLOWED:
        raise ImportError("import of %r is not allowed in restricted code" % name)
    return __import__(name, globals, locals, fromlist, level)

class _Print:
    def __init__(self, _getattr_=None):
        pass
    def _call_print(self, *args, **kwargs):
        kwargs.pop("file", None)
        print(*args, **kwargs)
    def __call__(self):
        return ""

_INPLACE = {{"+=": _op.iadd, "-=": _op.isub, "*=": _op.imul, "/=": _op.itruediv, "//=": _op.ifloordiv,
            "%=": _op.imod, "**=": _op.ipow, "<<=": _op.ilshift, ">>=": _op.irshift, "&=": _op.iand,
            "^=": _op.ixor, "|=": _op.ior, "@=": _op.imatmul}}

_builtins = dict(_safe)
for _name in ("all", "any", "bin", "dict", "enumerate", "filter", "frozenset", "iter", "list", "map", "max", "min",
              "next", "reversed", "set", "sorted", "sum", "tuple", "zip", "print", "isinstance", "type"):
    _builtins[_name] = getattr(__builtins__, _name) if hasattr(__builtins__, _name) else __builtins__[_name]
_builtins.pop("type")
_builtins["__import__"] = _import
_globals = {{
    "__builtins__": _builtins, "__name__": "__main__", "__metaclass__": type,
    "_getattr_": _getattr, "_getitem_": lambda obj, key: obj[key], "_getiter_": iter,
    "_iter_unpack_sequence_": _iter_unpack, "_unpack_sequence_": _unpack, "_write_": lambda obj: obj,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y), "_print_": _Print,
    "_apply_": lambda f, *a, **k: f(*a, **k),
}}
exec(_result.code, _globals)
# A test harness (an epilogue: trusted code run after the program) calls the program's
# functions by name: hand it the program's public names. Those functions keep the restricted
# builtins and guards of ``_globals``; restricted code cannot define ``_`` names.
for _name, _value in list(_globals.items()):
    if not _name.startswith("_"):
        globals()[_name] = _value
'''


class RestrictedSandbox(Sandbox):
    """RestrictedPython inside a :class:`LocalSandbox` pool. Python only.

    Args:
        workers: Worker count for the pool it creates (ignored when ``sandbox`` is given).
        sandbox: Run on this existing ``LocalSandbox`` instead of a pool of its own
            (it is then not closed by ``close()``).
        allowed_modules: Modules restricted code may import.
        **local_options: Passed to the ``LocalSandbox`` it creates.
    """

    name = "restricted"

    def __init__(
        self,
        workers: int | None = None,
        *,
        sandbox: Sandbox | None = None,
        allowed_modules: Sequence[str] = DEFAULT_ALLOWED_MODULES,
        **local_options: Any,
    ) -> None:
        if isinstance(allowed_modules, str):
            raise ConfigError("allowed_modules must be a sequence of module names, not a string")
        self.allowed_modules = tuple(allowed_modules)
        self._owns = sandbox is None
        if sandbox is None:
            from exectune_rl.sandboxes.local import DEFAULT_PRELOAD, LocalSandbox

            preload = tuple(local_options.pop("preload", DEFAULT_PRELOAD))
            preload += ("RestrictedPython", "RestrictedPython.Guards", *self.allowed_modules)
            sandbox = LocalSandbox(workers, preload=preload, **local_options)
        self._sandbox = sandbox
        self._closed = False

    def _wrap(self, req: ExecRequest) -> ExecRequest:
        if not is_python(req.language):
            raise ConfigError(f"RestrictedSandbox runs Python only, got language {req.language!r}")
        modules = sorted(p for p in req.files if p.endswith(".py"))
        if modules:
            # Tests that import the program as a module (``from solution import f``) would run
            # it without the restrictions: refuse the combination instead.
            raise ConfigError(
                f"RestrictedSandbox cannot run a request whose files include Python modules ({', '.join(modules)}): "
                "tests that import the program (`from solution import ...`) bypass RestrictedPython; "
                "use test_format='check', module-level asserts or 'io' cases, or sandbox='local'"
            )
        code = _RUNTIME.format(source=req.code, allowed=sorted(self.allowed_modules))
        return dataclasses.replace(req, code=code)

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Compile each request with RestrictedPython and run it in the pool, in order."""
        if self._closed:
            raise SandboxClosedError("RestrictedSandbox is closed")
        wrapped = [self._wrap(r) for r in self.requests_of(requests)]
        results = self._sandbox.run(wrapped)
        return [self._relabel(r) for r in results]

    @staticmethod
    def _relabel(res: ExecResult) -> ExecResult:
        if res.status is ExecStatus.RUNTIME_ERROR and res.exception == "SyntaxError":
            return dataclasses.replace(res, status=ExecStatus.SYNTAX_ERROR, detail="SyntaxError")
        if res.status is ExecStatus.RUNTIME_ERROR and res.exception == "PolicyViolation":
            return dataclasses.replace(res, detail="rejected by RestrictedPython")
        return res

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._owns:
                self._sandbox.close()
