"""The judge: trusted test code run in its own process, calling into the program's process.

A sandbox worker forks the judge next to the program's process for every request that has
``judge`` code. The judge never shares memory with the program: the program is imported as
the module ``solution`` in its own (sandboxed, unprivileged) process, and every use of one of
its names by the tests is a message over a pipe (``_wire``): arguments go in, plain data or a
handle comes back. The tests, their expected values and the counts live only here, and the
verdict leaves through a channel the program's process never holds.

What the tests see: their own builtins; the program's top-level names (functions, classes and
other objects as proxies, data as copies, imported standard-library modules re-imported here)
except names that would shadow a builtin; ``import solution`` / ``from solution import ...``;
and ``__et_case(test, site=None)``, which counts one case: it passes when ``test()`` returns a
true value and raises nothing (an assert ``site`` is one case however often it runs). A call into a program that exited, died, hung past the deadline or broke
the protocol raises :class:`ProgramGone` (a ``BaseException``: tests cannot swallow it with
``except Exception``), and every later call does too.

Loaded by path in sandbox workers (stdlib only).
"""

from __future__ import annotations

import builtins
import copy
import json
import operator
import os
import random
import sys
import time
import types
import warnings
from typing import Any

_tally = sys.modules.get("exectune_sandbox_tally")
if _tally is None:
    from exectune_rl.sandboxes import _tally
_wire = sys.modules.get("exectune_sandbox_wire")
if _wire is None:
    from exectune_rl.sandboxes import _wire

MAX_FAILURES = 5
JUDGE_RECURSION_LIMIT = 8000
JUDGE_RECURSION_CAP = 50_000
JUDGE_STACK_BYTES = 96 << 20
"""Tests may raise the judge's recursion limit (``sys.setrecursionlimit(10**6)``, common in suites
for recursive code) up to ``JUDGE_RECURSION_CAP`` frames, on a C stack of ``JUDGE_STACK_BYTES``:
a recursion between them and the program then ends in a ``RecursionError``, never in the judge
running out of stack, which would lose the verdict (a program could choose the depth to dodge
its own failure)."""
_BUILTIN_NAMES = frozenset(dir(builtins))
_OWN_STDIN, _OWN_INPUT = sys.stdin, builtins.input  # the judge's own, until tests patch them


class ProgramGone(BaseException):
    """The program's process can no longer answer: exited, died, hung or broke the protocol."""


class ProgramAborted(BaseException):
    """The program raised a BaseException that is not an Exception (it aborts the tests)."""


class HarnessError(BaseException):
    """The tests asked for something that cannot cross to the program: not the program's fault."""


class Deadline(BaseException):
    """The task's wall-clock deadline passed while the tests themselves were running."""


class ProgramValueError(Exception):
    """The program answered with something that is not data (an object of a forbidden type)."""


_RUN_EXCEPTIONS: dict[str, type] = {}
"""The mirrored exception classes of the current run, by name (emptied when a run starts)."""


def _builtin_base(mro: Any) -> tuple[list[str], type]:
    """The names of an MRO the program sent, and the first known exception among them: a
    builtin, or a class of the standard library or a well-known package named with its module
    (``json.decoder.JSONDecodeError``), the judge's own (never a skip, which would take a case
    out of the count)."""
    given = [n for n in mro if type(n) is str][:32] if type(mro) is list else []
    names = [n.rsplit(".", 1)[-1][:100] for n in given]
    for full, n in zip(given, names):
        cand = getattr(builtins, n, None) if "." not in full else _library_exception(full)
        if isinstance(cand, type) and issubclass(cand, BaseException):
            return names, cand
    return names, Exception


def _library_exception(full: str) -> type | None:
    """The exception class ``module.Qual.Name`` names, from a module the judge may import."""
    parts = full.split(".")
    top = parts[0]
    if top.startswith("_") or top in _ACTING_MODULES or (top not in _wire.STDLIB_MODULES
                                                        and top not in _wire.WELL_KNOWN_PACKAGES):
        return None  # never the judge's own modules (or pytest's), whatever this process holds
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut])) or _judge_module(".".join(parts[:cut]))
        if module is None:
            continue
        obj: Any = module
        for attr in parts[cut:]:
            if attr.startswith("_"):
                return None
            obj = getattr(obj, attr, None)
        if isinstance(obj, type) and issubclass(obj, Exception) and not _is_skip(obj) and obj.__module__ != _wire.TESTS_MODULE:
            return obj
        return None
    return None


def mirror_exception(mro: Any) -> type:
    """The judge's class for an exception class of the program, from its MRO's names: the
    same class for the same name within a run, so ``except MyError`` in the tests catches
    what the program raises, and ``except BaseError`` a subclass of it (the program's classes
    between it and the first builtin exception of its MRO are mirrored too, the first one
    mirrored of each name kept). Its builtin base is the first builtin exception in the MRO."""
    names, base = _builtin_base(mro)
    if not issubclass(base, Exception):
        base = Exception
    own = names[:names.index(base.__name__)] if base.__name__ in names else names[:1]
    return _mirror_chain([n[:100] for n in own], base) if own else base


def _mirror_chain(own: list[str], base: type) -> type:
    cls = _RUN_EXCEPTIONS.get(own[0])
    if cls is None:
        parent = _mirror_chain(own[1:], base) if len(own) > 1 else base
        name = own[0] if own[0].isidentifier() else "ProgramException"
        body = {"__module__": "solution", "__str__": _program_text}
        try:
            cls = type(name, (parent,) if issubclass(parent, base) else (parent, base), body)
        except TypeError:  # bases that cannot be combined: the nearer one is kept
            cls = type(name, (parent,), body)
        _RUN_EXCEPTIONS[own[0]] = cls
    return cls


def _program_text(self: BaseException) -> str:
    """``str()`` of a mirrored exception: the program's own ``str()`` of it."""
    text = self.__dict__.get("_et_text")
    return text if type(text) is str else Exception.__str__(self)


def _exception_for(mro: Any, message: Any, codec: Any = None, budget: list[int] | None = None) -> BaseException:
    """A judge-side exception mirroring the program's: its own type name, its first known
    base, and where they crossed as data its ``args`` and public attributes."""
    names, base = _builtin_base(mro)
    args: Any = None
    attrs: dict[str, Any] = {}
    group = getattr(builtins, "ExceptionGroup", None)
    if (type(message) is list and len(message) == 4 and codec is not None and group is not None
            and issubclass(base, group) and type(message[3]) is list):
        return _group_for(mro, message, codec, group, [256] if budget is None else budget)
    if type(message) is list and len(message) == 3 and codec is not None:
        message, raw_args, raw_attrs = message
        try:
            args = codec.decode(raw_args)
            if type(args) is not list or type(raw_attrs) is not dict:
                raise _wire.WireError("bad exception")
            for key, raw in list(raw_attrs.items())[:32]:
                if type(key) is str and key.isidentifier() and not key.startswith("_"):
                    attrs[key] = codec.decode(raw)
        except _wire.WireError:
            args, attrs = None, {}
    text = message[:1000] if type(message) is str else ""
    if not issubclass(base, Exception):
        return ProgramAborted(f"the program raised {names[0] if names else 'a BaseException'}: {text}")
    try:
        cls = mirror_exception(mro)
    except TypeError:  # a builtin base that cannot be subclassed
        cls = base
    exc = _instance(cls, tuple(args) if args is not None else (text,))
    if cls is not base:  # a mirrored class: its str() is the program's text
        exc.__dict__["_et_text"] = text
    for key, value in attrs.items():
        try:
            setattr(exc, key, value)
        except Exception:  # noqa: BLE001 - a read-only attribute of its class: left as it is
            pass
    return exc


def _group_for(mro: Any, message: list[Any], codec: Any, group: type, budget: list[int]) -> BaseException:
    """The judge's exception group for the program's: its message, and each of its exceptions
    mirrored as a raised one would be (``except*`` and ``pytest.raises(ExceptionGroup)`` see
    them); a group whose parts cannot be rebuilt crosses as an exception of its text."""
    text = message[0][:1000] if type(message[0]) is str else ""
    try:
        head = codec.decode(message[1])
        parts = [e for e in message[3][:max(0, budget[0])] if type(e) is list and len(e) == 2]
        budget[0] -= len(parts)  # 256 exceptions in all, however the groups nest
        subs = [_exception_for(m, p, codec, budget) for m, p in parts]
        if not (type(head) is list and len(head) == 1 and type(head[0]) is str and subs
                and all(isinstance(e, Exception) for e in subs)):
            raise _wire.WireError("bad exception group")
        cls = mirror_exception(mro)
        exc = cls(head[0], subs) if issubclass(cls, group) else group(head[0], subs)
    except (_wire.WireError, TypeError, ValueError):
        return Exception(text)
    if cls is not group:
        exc.__dict__["_et_text"] = text
    return exc


def _instance(cls: type, args: tuple[Any, ...]) -> BaseException:
    """``cls(*args)``; where its ``__init__`` wants other arguments (``JSONDecodeError``),
    one made without it, holding those ``args``."""
    try:
        return cls(*args)
    except Exception:  # noqa: BLE001
        try:
            exc = cls.__new__(cls)
            exc.args = args
            return exc
        except Exception:  # noqa: BLE001
            return Exception(*args)


class Channel:
    """The judge's end of the wire, with the per-call bookkeeping."""

    def __init__(self, to_program: int, from_program: int, deadline: float) -> None:
        os.set_blocking(to_program, False)
        os.set_blocking(from_program, False)
        self.to_program = to_program
        self.from_program = from_program
        self.reader = _wire.Reader(from_program)
        self.deadline = deadline
        self.gone: str | None = None
        self.closed = False  # the program's end of the wire closed: its process is ending
        self.timed_out = False
        self.callbacks: list[Any] = []
        self.calls = 0
        self.codec = _wire.Codec("judge", make_handle=self._make_handle, callback_of=self._callback_of,
                                 test_object_of=self._test_object_of, resolve_test_object=self._resolve_test_object,
                                 make_lazy=_LazyIterator)
        self._handles: dict[int, Handle] = {}
        self.test_objects: list[Any] = []
        self._test_object_ids: dict[int, int] = {}
        # the judge's own streams and warning filters: a call made while the tests redirect or
        # catch them is captured
        self.stdout, self.stderr = sys.stdout, sys.stderr
        self.filters = warnings.filters, len(warnings.filters), warnings.showwarning, warnings._showwarnmsg_impl  # type: ignore[attr-defined]
        self._stdin_cb: int | None = None

    def _make_handle(self, hid: int, type_name: str, is_callable: bool) -> "Handle":
        h = self._handles.get(hid)
        if h is None:
            h = _handle_class(type_name)(self, hid, type_name, is_callable)
            self._handles[hid] = h
        return h

    def _callback_of(self, fn: Any) -> int:
        self.callbacks.append(fn)
        return len(self.callbacks) - 1

    def _test_object_of(self, obj: Any) -> tuple[int, int]:
        oid = self._test_object_ids.get(id(obj))
        if oid is None:
            oid = len(self.test_objects)
            self.test_objects.append(obj)  # kept alive: its id() names it for the whole run
            self._test_object_ids[id(obj)] = oid
        return oid, _wire.test_object_flags(obj)

    def _resolve_test_object(self, oid: int) -> Any:
        if not 0 <= oid < len(self.test_objects):
            raise _wire.WireError("no such test object")
        return self.test_objects[oid]

    def fail(self, why: str) -> ProgramGone:
        if self.gone is None:
            self.gone = why
        return ProgramGone(self.gone)

    def _read(self) -> Any:
        try:
            msg = self.reader.read(self.deadline)
        except _wire.WireClosed:
            self.closed = True
            raise self.fail("the program's process ended during the tests") from None
        except _wire.WireTimeout:
            self.timed_out = True
            raise self.fail("the program did not answer before the deadline") from None
        except _wire.WireError as exc:
            raise self.fail(f"the program broke the protocol: {exc}") from None
        if type(msg) is not list or not msg or type(msg[0]) is not str:
            raise self.fail("the program broke the protocol: a message that is not a list")
        return msg

    def _send(self, msg: list[Any]) -> None:
        try:
            _wire.write_message(self.to_program, msg, self.deadline, _wire.MAX_MESSAGE_BYTES_TO_PROGRAM)
        except _wire.WireClosed:
            self.closed = True
            raise self.fail("the program's process ended during the tests") from None
        except _wire.WireTimeout:
            self.timed_out = True
            raise self.fail("the program did not read its calls before the deadline") from None

    def ready(self) -> dict[str, Any]:
        """The program's manifest once it was imported (raises what its import raised)."""
        msg = self._read()
        if msg[0] == "import_error" and len(msg) == 3:
            raise _exception_for(msg[1], msg[2])
        if msg[0] != "ready" or len(msg) != 2 or type(msg[1]) is not dict:
            raise self.fail("the program broke the protocol before the tests")
        return msg[1]

    def op(self, hid: int, name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        """One operation on a program object, answered only by the reply to this call."""
        if self.gone is not None:
            raise ProgramGone(self.gone)
        try:
            raw_args = self.codec.encode(list(args))
            passed = self.codec.containers  # what the program may give back as the very objects passed
            raw_kwargs = self.codec.encode(dict(kwargs or {}))
            passed += self.codec.containers
        except _wire.WireLimit as exc:
            # Over the size limits: the value may well be one the program returned (or grew
            # through a write-back) and the tests pass on, so it is this call's failure, never
            # INFRA the program could cause.
            raise ProgramValueError(f"an argument cannot cross: {exc}") from None
        except _wire.WireError as exc:
            raise HarnessError(str(exc)) from None
        call_id = random.getrandbits(62)
        self.calls += 1
        capture = self._capture()
        try:
            self._send(["op", call_id, hid, name, raw_args, raw_kwargs, capture, self._stdin_callback()])
        except _wire.WireLimit as exc:  # as an argument over the limits: this call's failure
            raise ProgramValueError(f"an argument cannot cross: {exc}") from None
        capture = capture != 0
        while True:
            msg = self._read()
            kind = msg[0]
            if kind in ("cb", "to") and len(msg) == (5 if kind == "cb" else 6) + capture:
                if capture:
                    self._write_printed(msg.pop())
                (self._run_callback if kind == "cb" else self._run_test_op)(msg)
                continue
            if len(msg) < 2 or msg[1] != call_id:
                raise self.fail("the program sent a reply that answers no pending call")
            if kind in ("ret", "err") and len(msg) == 5 and capture:
                self._write_printed(msg.pop())
            if kind == "ret" and len(msg) == 4:
                try:
                    value = self.codec.decode(msg[2], args=passed)
                    if msg[3] is not None:
                        self._write_back(args, kwargs or {}, msg[3])
                except _wire.WireError as exc:
                    raise ProgramValueError(f"the program answered with something that is not data: {exc}") from None
                return value
            if kind == "err" and len(msg) == 4:
                exc = _exception_for(msg[2], msg[3], self.codec)
                if isinstance(exc, (StopIteration, StopAsyncIteration)) and name != "next":
                    # Only the end of a program iterator may end the tests' loop: a StopIteration
                    # out of any other call would silently end a map() or generator of the tests
                    # (why PEP 479 turns it into a RuntimeError inside generators).
                    raise RuntimeError(f"the program raised {type(exc).__name__}: {exc}") from None
                raise exc
            if kind == "bad" and len(msg) == 3:
                raise ProgramValueError(msg[2][:500] if type(msg[2]) is str else "the program answered with a bad value")
            raise self.fail("the program broke the protocol: an unknown reply")

    def _stdin_callback(self) -> int | None:
        """Where the tests patched ``sys.stdin`` or ``builtins.input`` (``monkeypatch``,
        ``mock.patch``, an assignment), the callback through which the program's ``input()``
        and ``sys.stdin`` reads during this call are answered from them, as in its own process;
        None where they did not (the program reads its own stdin, which is empty)."""
        if sys.stdin is _OWN_STDIN and builtins.input is _OWN_INPUT:
            return None
        if self._stdin_cb is None:
            self._stdin_cb = self._callback_of(_tests_stdin)
        return self._stdin_cb

    def _capture(self) -> int:
        """What the tests catch now, as the bits of an ``op``'s capture field: their stdout or
        stderr redirected (``redirect_stdout``, ``capsys``), their warnings caught or filtered
        (``pytest.warns``, ``assertWarns``, ``catch_warnings``, ``simplefilter("error")``)."""
        filters, count, show, impl = self.filters
        caught = (warnings.filters is not filters or len(warnings.filters) != count or warnings.showwarning is not show
                  or warnings._showwarnmsg_impl is not impl)  # type: ignore[attr-defined]
        return ((sys.stdout is not self.stdout) * _wire.CAPTURE_STDOUT | (sys.stderr is not self.stderr) * _wire.CAPTURE_STDERR
                | caught * _wire.CAPTURE_WARNINGS)

    def _write_printed(self, printed: Any) -> None:
        """What the program printed and warned, where a program run in this process would have
        printed and warned it: the tests' redirected stdout and stderr (plain text, written by
        the judge), and a warning of the program's category (mirrored as its exceptions are)
        given here, where the tests' filters act on it (``"error"`` raises it from the call)."""
        if (type(printed) is not list or len(printed) != 3 or type(printed[0]) is not str
                or type(printed[1]) is not str or type(printed[2]) is not list):
            raise self.fail("the program broke the protocol: printed text that is not text")
        out, err, warned = printed
        if out:
            sys.stdout.write(out)
        if err:
            sys.stderr.write(err)
        for w in warned[:_wire.WARNINGS_MAX]:
            if type(w) is not list or len(w) != 3 or type(w[1]) is not str or type(w[2]) is not int:
                raise self.fail("the program broke the protocol: a warning that is not one")
            try:
                category = mirror_exception(w[0])
            except TypeError:
                category = UserWarning
            if not issubclass(category, Warning):
                category = UserWarning
            warnings.warn_explicit(w[1][:1000], category, "solution.py", max(0, min(w[2], 1 << 30)), module="solution")

    def _write_back(self, args: tuple[Any, ...], kwargs: dict[str, Any], raw: Any) -> None:
        """Mutations of list/dict/set/bytearray arguments, copied into the tests' objects."""
        if type(raw) is not list:
            raise _wire.WireError("bad write-back")
        for entry in raw:
            if type(entry) is not list or len(entry) != 2:
                raise _wire.WireError("bad write-back")
            key, value = entry
            if type(key) is int and 0 <= key < len(args):
                target = args[key]
            elif type(key) is str and key in kwargs:
                target = kwargs[key]
            else:
                raise _wire.WireError("bad write-back")
            new = self.codec.decode(value)
            if type(target) is not type(new):
                raise _wire.WireError("write-back changes an argument's type")
            aliased = self.codec.aliased
            merged: dict[int, Any] = {}
            _merge_into(target, new, merged)
            if aliased:  # the copy's containers, wherever it refers to them again, are the tests' own
                _rebind(target, merged)

    def _run_test_op(self, msg: list[Any]) -> None:
        """One operation the program asks for on an object of the tests it was given.

        Only public names (no leading underscore) are read, set or deleted, so the program
        never reaches a class, a function's globals, a frame or anything of the judge through
        them; what comes back crosses like any value of the tests (data, a callback for a
        callable, a test object for another object of the tests).
        """
        _, call, oid, op, raw_args, raw_kwargs = msg
        if type(oid) is not int or not 0 <= oid < len(self.test_objects) or type(op) is not str:
            raise self.fail("the program broke the protocol: bad test object operation")
        obj = self.test_objects[oid]
        self._answer(call, raw_args, raw_kwargs, lambda args, kwargs: _test_object_op(obj, op, args, kwargs))

    def _run_callback(self, msg: list[Any]) -> None:
        _, call, cb_id, raw_args, raw_kwargs = msg
        if type(cb_id) is not int or not 0 <= cb_id < len(self.callbacks):
            raise self.fail("the program called a callback that does not exist")
        fn = self.callbacks[cb_id]
        self._answer(call, raw_args, raw_kwargs, lambda args, kwargs: fn(*args, **kwargs))

    def _answer(self, call: Any, raw_args: Any, raw_kwargs: Any, action: Any) -> None:
        """Run what the program asked of the tests (a callback, a test object's operation) and reply.

        What the tests' code raises, or returns that cannot cross, is raised in the program:
        the program chose the call, so its failure is the program's, never ``INFRA``.
        """
        try:
            args = self.codec.decode(raw_args)
            kwargs = self.codec.decode(raw_kwargs)
            if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise _wire.WireError("bad arguments")
        except _wire.WireError as exc:
            raise self.fail(f"the program broke the protocol: {exc}") from None
        try:
            reply = ["cbret", call, True, self.codec.encode(action(args, kwargs))]
        except (ProgramGone, HarnessError):
            raise
        except _wire.WireError as exc:
            reply = ["cbret", call, False, ["TypeError", f"the tests' answer cannot cross: {exc}"[:500]]]
        except Exception as exc:
            reply = ["cbret", call, False, [type(exc).__name__, str(exc)[:500]]]
        self._send(reply)


def _tests_stdin(kind: Any, arg: Any = None) -> str:
    """A read of the program's stdin during a call, answered from what the tests put there:
    ``input`` (``arg``: the prompt), ``read`` or ``readline`` (``arg``: the size)."""
    if kind == "input":
        text = builtins.input() if arg is None else builtins.input(str(arg))
    elif kind in ("read", "readline") and (arg is None or type(arg) is int):
        stream = sys.stdin
        text = getattr(stream, kind)() if arg is None else getattr(stream, kind)(arg)
    else:
        raise ValueError(f"no such read of stdin: {str(kind)[:50]!r}")
    if type(text) is not str:
        raise TypeError(f"the tests' stdin gave {type(text).__name__}, not text")
    return text


_TEST_OBJECT_UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert,
                      "int": int, "float": float, "index": operator.index}
_TEST_OBJECT_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
                       "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "and": operator.and_,
                       "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift, "rshift": operator.rshift,
                       "matmul": operator.matmul}
_TEST_OBJECT_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
                        "ge": operator.ge}


def _public(name: Any) -> str:
    if type(name) is not str or not name.isidentifier() or name.startswith("_"):
        raise AttributeError(f"only public attributes of the tests' objects can be used, not {str(name)[:100]!r}")
    return name


def _test_object_op(obj: Any, op: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """What the program's proxy of ``obj`` asked for (see ``Channel._run_test_op``)."""
    if kwargs:
        raise TypeError("operations on an object of the tests take no keyword arguments")
    if op == "getattr" and len(args) == 1:
        return getattr(obj, _public(args[0]))
    if op in ("setattr", "delattr") and len(args) == (2 if op == "setattr" else 1):
        name = _public(args[0])
        if callable(getattr(obj, name, None)):  # a method or function the tests call must stay theirs
            raise AttributeError(f"{name!r} is a function of the tests' object: the program cannot replace it")
        if op == "setattr":
            setattr(obj, name, args[1])
        else:
            delattr(obj, name)
        return None
    if op == "copy" and not args:
        return copy.copy(obj)
    if op == "deepcopy" and not args:
        return copy.deepcopy(obj)
    if op == "next" and not args:
        return next(obj)
    if op in _TEST_OBJECT_UNARY and not args:
        return _TEST_OBJECT_UNARY[op](obj)
    if op in _TEST_OBJECT_BINARY and len(args) == 1:
        return _TEST_OBJECT_BINARY[op](obj, args[0])
    if op.startswith("r") and op[1:] in _TEST_OBJECT_BINARY and len(args) == 1:  # the reflected form
        return _TEST_OBJECT_BINARY[op[1:]](args[0], obj)
    if op == "bool" and not args:
        return bool(obj)
    if op == "len" and not args:
        return len(obj)
    if op == "hash" and not args:
        return hash(obj)
    if op == "str" and not args:
        return str(obj)
    if op == "repr" and not args:
        return repr(obj)
    if op == "iter" and not args:
        items = []
        for item in obj:
            items.append(item)
            if len(items) > _wire.MAX_DRAIN:
                raise ValueError(f"an object of the tests gave more than {_wire.MAX_DRAIN} items")
        return items
    if op == "getitem" and len(args) == 1:
        return obj[args[0]]
    if op == "setitem" and len(args) == 2:
        obj[args[0]] = args[1]
        return None
    if op == "contains" and len(args) == 1:
        return args[0] in obj
    if op in _TEST_OBJECT_COMPARE and len(args) == 1:
        return _TEST_OBJECT_COMPARE[op](obj, args[0])
    raise TypeError(f"unsupported operation on an object of the tests: {op[:50]!r}")


def _rebind(root: Any, merged: dict[int, Any]) -> None:
    """Where the tests' ``root`` now holds one of the write-back's own containers that was merged
    into a container of the tests (``merged``: its id to theirs), put theirs in its place: a list
    the program made hold itself holds the tests' list, not a copy."""
    stack, seen = [root], set()
    while stack:
        c = stack.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        items = list(c.items()) if type(c) is dict else list(enumerate(c)) if type(c) is list else []
        for key, v in items:
            mine = merged.get(id(v))
            if mine is not None and mine is not v:
                c[key] = mine
            elif type(v) in (list, dict):
                stack.append(v)


def _merge_into(target: Any, new: Any, merged: dict[int, Any] | None = None) -> None:
    """Make ``target`` (a list, dict, set or bytearray of the tests) equal ``new`` in place, keeping
    every nested list/dict/set/bytearray that is still there (same place, same type) the same
    object, so a reference the tests hold to an inner container sees the program's changes
    (``merged`` gathers which of ``new``'s containers went into which of the tests')."""
    if merged is not None:
        merged[id(new)] = target
    if type(target) is list:
        for i in range(min(len(target), len(new))):
            if type(target[i]) is type(new[i]) and _wire.changes_in_place(new[i]) and target[i] is not target:
                _merge_into(target[i], new[i], merged)
            else:
                target[i] = new[i]
        del target[len(new):]
        target.extend(new[len(target):])
    elif type(target) is dict:
        for key in [k for k in target if k not in new]:
            del target[key]
        for key, value in new.items():
            old = target.get(key)
            if type(old) is type(value) and _wire.changes_in_place(value) and old is not target:
                _merge_into(old, value, merged)
            else:
                target[key] = value
    elif type(target) is bytearray:
        target[:] = new
    elif type(target) is tuple:  # its own items cannot change, those inside them can
        for old, item in zip(target, new):
            if type(old) is type(item) and _wire.changes_in_place(item) and old is not item:
                _merge_into(old, item, merged)
    elif type(target).__name__ == "deque":
        target.clear()
        target.extend(new)
    elif type(target).__name__ == "ndarray":
        if target.shape == new.shape:  # written in place; a reshaped array is the program's own copy
            target[...] = new
    else:
        target.clear()
        target.update(new)


class Handle:
    """The tests' proxy of one object of the program: each use is a call into the program.

    A handle equals only itself, so an object of the program can never stand in for an
    expected value, and ``x in handle`` compares ``x`` with the elements the program's object
    gives when iterated. Its truth value, ``len`` and ``isinstance`` against it are the program's
    answers (checked to be a bool or an int), as they would be in the program's own process:
    questions about the program's objects, which the program could answer with data anyway.
    """

    _et_handle_id = True
    __slots__ = ("_channel", "_id", "_type", "_callable")

    def __init__(self, channel: Channel, hid: int, type_name: str, is_callable: bool) -> None:
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_callable", is_callable)

    def _op(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_channel").op(object.__getattribute__(self, "_id"), name, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._op("call", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in ("__name__", "__qualname__"):
            raise AttributeError(name)  # Python's own probes (``__length_hint__``...): no call for them
        return self._op("getattr", name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._op("setattr", name, value)

    def __delattr__(self, name: str) -> None:
        self._op("delattr", name)

    def __len__(self) -> int:
        n = self._op("len")
        if type(n) is not int:
            raise TypeError("len() of a program object did not return an int")
        return n

    def __getitem__(self, key: Any) -> Any:
        return self._op("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._op("setitem", key, value)

    def __delitem__(self, key: Any) -> None:
        self._op("delitem", key)

    def __contains__(self, item: Any) -> bool:
        # Worked out here, as Python does for an object with no ``__contains__``: the program's
        # elements, each compared with the tests' own ``==``. The program's ``__contains__``
        # would be its own word on the tests' question (one that always said yes passed every
        # ``x in f(...)``); the elements it must produce, and a wrong one is not equal.
        for element in self:
            if element is item or element == item:
                return True
        return False

    def __iter__(self) -> Any:
        it = self._op("iter")
        return it if not isinstance(it, Handle) else _RemoteIterator(it)

    def __next__(self) -> Any:
        return self._op("next")

    def __str__(self) -> str:
        text = self._op("str")
        return text if type(text) is str else f"<program object {object.__getattribute__(self, '_type')}>"

    def __repr__(self) -> str:
        text = self._op("repr")
        return text if type(text) is str else f"<program object {object.__getattribute__(self, '_type')}>"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Handle):
            return False  # never the program's say against a value of the tests
        if object.__getattribute__(other, "_id") == object.__getattribute__(self, "_id"):
            return True
        if object.__getattribute__(other, "_channel") is not object.__getattribute__(self, "_channel"):
            return False
        # Two objects of the program (``make(1, 2) == Point(1, 2)``): its own ``__eq__`` answers,
        # as in one process; it must give a bool.
        return self._checked_bool(self._op("eq", other), "==")

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        # the program's hash, so its equal objects meet in the tests' sets and dicts (where its
        # ``==`` between them decides); never equal to a value of the tests all the same
        value = self._op("hash")
        if type(value) is not int:
            raise TypeError("hash() of a program object did not give an int")
        return value

    def __bool__(self) -> bool:
        return self._checked_bool(self._op("bool"), "bool()")

    # One object's operators (``-x``, ``abs(x)``, ``float(x)``, ``round(x, 2)``, ``hash(x)``,
    # ``repr(x)``, copies, ``with x:``) are the program's answers, as a call's result is: each
    # gives data the program could have returned itself. Between two objects of the program
    # (``a + b``, ``a < b``, ``sorted``), the program's operators answer, as its ``==`` does
    # between them; an operator between one of them and a value of the tests is never the
    # program's (``NotImplemented``, so Python raises its TypeError): with it, an object could
    # work out a check such as ``abs(f(x) - expected) < eps`` for itself. The operators of
    # ``_wire.UNARY_OPS``, ``BINARY_OPS`` and ``ORDER_OPS`` are set on the class below
    # (``_handle_operator``), one method each.

    def _mine(self, other: Any) -> bool:
        return isinstance(other, Handle) and object.__getattribute__(other, "_channel") is object.__getattribute__(self, "_channel")

    def __format__(self, spec: str) -> str:
        text = self._op("format", spec)
        if type(text) is not str:
            raise TypeError("format() of a program object did not give a str")
        return text

    def __copy__(self) -> Any:
        return self._op("copy")

    def __deepcopy__(self, memo: Any) -> Any:
        return self._op("deepcopy")

    def __enter__(self) -> Any:
        return self._op("enter")

    def __exit__(self, *exc: Any) -> bool:
        self._op("exit")
        return False  # never the program's say on whether the tests' exception is swallowed

    def __instancecheck__(self, instance: Any) -> bool:
        try:
            return self._checked_bool(self._op("instancecheck", instance), "isinstance()")
        except HarnessError:
            return False  # an object of the tests that cannot cross is no instance of a program class

    def __subclasscheck__(self, subclass: Any) -> bool:
        try:
            return self._checked_bool(self._op("subclasscheck", subclass), "issubclass()")
        except HarnessError:
            return False

    def _checked_bool(self, value: Any, what: str) -> bool:
        if type(value) is not bool:
            raise TypeError(f"{what} on a program object did not give a bool")
        return value


_UNARY_TYPES = {"float": float, "int": int, "index": int, "complex": complex}
"""The unary operators whose answer Python requires to be of one type."""


def _handle_operator(kind: str, name: str) -> Any:
    """The Handle method for one of ``_wire``'s operators (see the note in :class:`Handle`)."""
    if kind == "unary":
        want = _UNARY_TYPES.get(name)

        def unary(self: Handle, *extra: Any) -> Any:  # extra: round()'s ndigits
            value = self._op("unary", name, *extra[:1])
            if want is not None and type(value) is not want:
                raise TypeError(f"{name}() of a program object did not give a {want.__name__}")
            return value

        return unary
    if kind == "binary":
        return lambda self, other: self._op("binop", name, other) if self._mine(other) else NotImplemented

    def order(self: Handle, other: Any) -> Any:
        if not self._mine(other):
            return NotImplemented
        return self._checked_bool(self._op("order", name, other), name)

    return order


for _kind, _names in (("unary", _wire.UNARY_OPS), ("binary", _wire.BINARY_OPS), ("order", _wire.ORDER_OPS)):
    for _name in _names:
        setattr(Handle, f"__{_name}__", _handle_operator(_kind, _name))


_HANDLE_CLASSES: dict[str, type] = {}


def _handle_class(type_name: str) -> type:
    """The class of the judge's proxies of the program's objects of one type: a subclass of
    :class:`Handle` of that name, so ``type(x).__name__`` and ``type(a) == type(b)`` read as in
    one process (never the name of a builtin type, which a program could borrow to pass a
    check of the type's name; ``type(x) is Point`` stays false: ``Point`` is a proxy too)."""
    cls = _HANDLE_CLASSES.get(type_name)
    if cls is None:
        if not type_name.isidentifier() or type_name in _BUILTIN_NAMES or len(_HANDLE_CLASSES) >= 1024:
            return Handle
        cls = _HANDLE_CLASSES[type_name] = type(type_name, (Handle,), {"__slots__": (), "__module__": "solution",
                                                                        "__qualname__": type_name})
    return cls


class _LazyIterator:
    """A program iterator the tests read: its first items, then the rest in growing chunks
    (``chunk``) as far as the tests go, the program's generator resumed only for them."""

    _et_lazy = True

    def __init__(self, head: list[Any], tail: Handle) -> None:
        self.items = head[::-1]
        self.tail: Handle | None = tail
        self.size = 256

    def __iter__(self) -> "_LazyIterator":
        return self

    def __next__(self) -> Any:
        if not self.items and self.tail is not None:
            got = self.tail._op("chunk", self.size)
            if type(got) is not list or len(got) != 2 or type(got[0]) is not list or type(got[1]) is not bool:
                raise ProgramValueError("the program's iterator gave no items")
            self.items = got[0][::-1]
            if got[1]:
                self.tail = None
            self.size = min(self.size * 4, 4096)  # a chunk of large items still fits a reply
        if not self.items:
            raise StopIteration
        return self.items.pop()


class _RemoteIterator:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def __iter__(self) -> "_RemoteIterator":
        return self

    def __next__(self) -> Any:
        return self.handle._op("next")


# --------------------------------------------------------------------------- one run


def _is_skip(cls: type) -> bool:
    """Whether the tests skipped a case: pytest's ``skip()`` (its ``Skipped`` says it is of
    ``builtins``; its base is of ``_pytest.outcomes``) or unittest's ``SkipTest`` (``skipTest``)."""
    mro = cls.__mro__
    return ((cls.__name__ == "Skipped" and any(c.__module__ == "_pytest.outcomes" for c in mro))
            or any(c.__name__ == "SkipTest" and c.__module__ == "unittest.case" for c in mro))


class Counts(_tally.CaseTally):
    """The cases the tests ran and passed, counted by the one rule of ``_tally.CaseTally``
    (which the in-process harness runs too), and the first failures, described."""

    def __init__(self, gone: Any = None) -> None:
        super().__init__()
        self.failures: list[str] = []
        self.gone = gone  # whether the program's process has ended (its channel says so)

    def case(self, test: Any, site: int | None = None) -> None:
        if site is None:
            self.depth += 1
        try:
            ok = bool(test())
            why = "" if ok else "the check was false"
        except (ProgramGone, ProgramAborted, HarnessError, Deadline):
            self.cut_short(site)
            raise
        except BaseException as exc:  # noqa: BLE001 - a failing case, whatever the tests raised
            if _is_skip(type(exc)):
                # pytest.skip() or self.skipTest() in the tests: not a case (the program's
                # exceptions are mirrored, of module "solution", never one of these)
                if site is None:
                    self.planned -= 1
                return
            ok, why = False, f"{type(exc).__name__}{': ' + str(exc)[:200] if isinstance(exc, ProgramValueError) else ''}"
        finally:
            if site is None:
                self.depth -= 1
        if self.gone is not None and self.gone():
            # the program ended during this case (the tests' own except may have caught that):
            # the case has not passed, and the tests stop here
            self.cut_short(site)
            raise ProgramGone("the program's process ended during the tests")
        number = self.record(site, ok)
        if number is not None:
            self._failure(f"case {number}: {why}")
        if not ok and site is not None and self.depth:
            raise AssertionError("a counted assert failed in this test")  # fails the test it runs in

    def _failure(self, text: str) -> None:
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(text)


# Standard-library modules whose import does something (runs a program, opens a browser or a
# window, prints): a program binding one under its name never makes the judge import it.
_ACTING_MODULES = frozenset({"antigravity", "this", "idlelib", "turtledemo", "turtle", "tkinter", "test", "ensurepip",
                             "venv", "lib2to3", "pydoc_data", "webbrowser"})


def _judge_module(name: str) -> types.ModuleType | None:
    parts = name.split(".")
    top = parts[0]
    if not all(part.isidentifier() for part in parts) or top.startswith("_") or "__main__" in parts or (
            top in _ACTING_MODULES) or (top not in _wire.STDLIB_MODULES and top not in _wire.WELL_KNOWN_PACKAGES):
        return None
    try:
        import importlib

        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - not installed here: the tests do without the name
        return None


def _bind_manifest(manifest: dict[str, Any], channel: Channel, ns: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType("solution")
    for name, entry in manifest.items():
        if type(name) is not str or not name.isidentifier() or name.startswith("__") or name.startswith("_et_"):
            continue
        if type(entry) is not list or len(entry) != 2:
            continue
        kind, raw = entry
        try:
            if kind == "m" and type(raw) is str:
                # The same module of this process, imported here if need be, for the standard
                # library and a few well-known packages only: any other name the program chose
                # is never imported (it could name a file the program wrote), and one this
                # process happened to import for earlier tests is not bound either, so the
                # verdict never depends on them.
                value = _judge_module(raw)
                if value is None:
                    continue
            elif kind == "e" and type(raw) is list:
                value = mirror_exception(raw)
            elif kind == "v":
                value = channel.codec.decode(raw)
            else:
                continue
        except (ImportError, AttributeError, _wire.WireError):
            continue
        setattr(module, name, value)
        if name not in _BUILTIN_NAMES:
            ns[name] = value
    return module


_CORE_MODULES = ("builtins", "sys", "os", "posixpath", "json", "marshal", "socket", "signal", "time", "io", "warnings")
"""Modules whose state is put back after every task, whether or not its tests hold them by name
(those the judge itself works with); any other, where the tests hold it by name."""


class _Pristine:
    """The judge's global state as it was before any tests ran, put back after each task's.

    The judge serves many tasks in one process, and the tests are plain code: a suite that
    patches a module for good (``math.sqrt = ...``, ``json.dumps = ...``), leaves ``sys.stdout``
    redirected, filters warnings to errors or lowers the recursion limit must not change the
    next task's verdict (nor break the judge's own writing of this one's). After each task, an
    attribute the tests replaced or deleted is put back in the modules they hold by name and in
    ``_CORE_MODULES`` (attributes they added stay: importing a submodule adds one); so are
    ``sys.modules`` entries, ``sys.path``, the warning filters, ``os.environ``, the recursion
    limit and the working directory. A module first imported by a task's tests is taken as
    that task left it. Comparing every module each time would cost the judge about a
    millisecond a task; these cost a few dozen microseconds.
    """

    def __init__(self) -> None:
        self.modules: dict[int, tuple[types.ModuleType, dict[str, Any]]] = {}
        self.names = dict(sys.modules)
        for m in self.names.values():
            if isinstance(m, types.ModuleType):
                self.modules[id(m)] = (m, dict(vars(m)))
        self.core = [m for m in (sys.modules.get(n) for n in _CORE_MODULES) if isinstance(m, types.ModuleType)]
        self.lists = [(lst, lst[:]) for lst in (sys.path, sys.meta_path, sys.path_hooks, warnings.filters)]
        self.environ = dict(_environ_data())
        self.recursion = sys.getrecursionlimit()
        self.cwd = os.getcwd()

    def restore(self, ns: dict[str, Any]) -> None:
        seen = {id(m): m for m in self.core}
        for value in list(ns.values()):
            if isinstance(value, types.ModuleType):
                seen[id(value)] = value
        for key, module in seen.items():
            known = self.modules.get(key)
            if known is None:
                self.modules[key] = (module, dict(vars(module)))
                continue
            d, snap = vars(module), known[1]
            if d != snap:
                for name, value in snap.items():
                    if d.get(name, _MISSING) is not value:
                        d[name] = value
        if not sys.modules.items() >= self.names.items():
            sys.modules.update(self.names)
        for lst, snap in self.lists:
            if lst != snap:
                lst[:] = snap
        warnings._filters_mutated()  # type: ignore[attr-defined]
        if _environ_data() != self.environ:
            for key in [k for k in _environ_data() if k not in self.environ]:
                os.environ.pop(os.fsdecode(key) if isinstance(key, bytes) else key, None)
            for key, value in self.environ.items():
                os.environ[os.fsdecode(key) if isinstance(key, bytes) else key] = (
                    os.fsdecode(value) if isinstance(value, bytes) else value)
        if sys.getrecursionlimit() != self.recursion:
            sys.setrecursionlimit(self.recursion)
        try:
            if os.getcwd() != self.cwd:
                os.chdir(self.cwd)
        except OSError:
            os.chdir(self.cwd)


def _environ_data() -> Any:
    """``os.environ``'s own mapping (``_data``: no decoding, so comparing it is cheap)."""
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else dict(os.environ)


_MISSING = object()
_PRISTINE: list[_Pristine] = []
"""The judge server's one record of its state before any task (made when it starts serving)."""


def run(payload: dict[str, Any], code: Any, channel: Channel, on_ready: Any = None) -> dict[str, Any]:
    """Import the program's manifest, run the tests, and return the verdict.

    ``on_ready`` is called once the program is imported (the worker then holds its calls to
    their own CPU budget).
    """
    _RUN_EXCEPTIONS.clear()
    ns: dict[str, Any] = {}
    counts = Counts(lambda: channel.gone is not None)
    verdict: dict[str, Any] = {"v": 1, "ready": False, "completed": False, "passed": 0, "seen": 0,
                               "program_gone": None, "harness_error": None, "error": None, "import_error": None}
    try:
        manifest = channel.ready()
        verdict["ready"] = True
        if on_ready is not None:
            on_ready()
        ns.update({"__name__": _wire.TESTS_MODULE, "__builtins__": builtins, "__et_case": counts.case,
                              "__et_plan": counts.plan, "__et_harness_error": HarnessError})
        sys.modules["solution"] = _bind_manifest(manifest, channel, ns)
        exec(code, ns)
        verdict["completed"] = channel.gone is None
    except ProgramGone as exc:
        verdict["program_gone"] = str(exc)
    except HarnessError as exc:
        verdict["harness_error"] = str(exc)
    except ProgramAborted as exc:
        verdict["error"] = str(exc)
    except Deadline:
        verdict["program_gone"] = "the tests ran past the deadline"
        channel.timed_out = True
    except BaseException as exc:  # noqa: BLE001 - the tests (or the import) raised outside a case
        key = "error" if verdict["ready"] else "import_error"
        verdict[key] = f"{type(exc).__name__}: {str(exc)[:300]}"
    if _PRISTINE:
        try:
            _PRISTINE[0].restore(ns)
        except BaseException as exc:  # noqa: BLE001 - the tests left the judge in a state it cannot mend
            verdict["harness_error"] = f"the judge could not put back what the tests changed: {type(exc).__name__}: {exc}"
    if channel.gone is not None and verdict["program_gone"] is None:
        verdict["program_gone"] = channel.gone
        verdict["completed"] = False
    verdict.update(passed=counts.passed, seen=counts.seen, planned=counts.planned, failures=counts.failures, calls=channel.calls,
                   timed_out=channel.timed_out, closed=channel.closed)
    return verdict


def _on_alarm(signum: int, frame: Any) -> None:
    raise Deadline("the tests ran past the deadline")


def run_one(payload_fd: int, to_program: int, from_program: int, deadline_s: float,
            on_ready: Any = None) -> dict[str, Any]:
    """One judged task: the tests from ``payload_fd`` against the program on the two pipes."""
    import marshal
    import signal

    deadline, cpu0 = time.monotonic() + deadline_s, time.process_time()
    try:
        blob = os.pread(payload_fd, os.fstat(payload_fd).st_size, 0)
        head, _, body = blob.partition(b"\n")
        payload = json.loads(head)
        code = marshal.loads(body)  # compiled by the trusted parent: never program data
    except Exception as exc:  # noqa: BLE001
        return {"v": 1, "harness_error": f"the judge could not read the tests: {type(exc).__name__}: {exc}"}
    channel = Channel(to_program, from_program, deadline)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(deadline_s + 0.05, 0.01))
    try:
        verdict = run(payload, code, channel, on_ready)
    except Deadline:
        verdict = {"v": 1, "ready": True, "completed": False, "passed": 0, "seen": 0, "timed_out": True,
                   "program_gone": "the tests ran past the deadline", "error": None, "harness_error": None}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.modules.pop("solution", None)
    # the judge's own CPU for this task (the tests' work, and reading what the program sent):
    # a cost of its own, never in the program's cpu_s, bounded by the task's deadline
    now = time.process_time()
    verdict["judge_cpu_s"] = round(now - cpu0, 6)
    verdict["judge_cpu_total"] = now  # for the worker only, which takes it out: what a stopped judge used is its total less this
    return verdict


def serve(sock_fd: int, verdict_fd: int, writable: tuple[str, ...] = ("/dev/shm",)) -> None:
    """The judge server's loop: one task per message from the worker; never returns.

    Each message carries three fds (the tests, the pipe to the program, the pipe from it)
    and a JSON header; the verdict goes to ``verdict_fd`` and a one-byte reply says it is
    there. The judge leaves only when the worker closes the socket (or kills it): if it left on
    its own right after a verdict, the program it served would see its pipes close and exit,
    and the worker would take that for the program leaving before the verdict.
    """
    import socket

    _harden_imports(writable)
    # Each level of recursion between the tests and the program (a callback of the tests that
    # calls the program again) takes several of the judge's frames where one process takes
    # one or two: the program's own limit, not the judge's, is the one such a recursion meets.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), JUDGE_RECURSION_LIMIT))
    _room_for_recursion()
    _PRISTINE.append(_Pristine())
    sock = socket.socket(fileno=sock_fd)
    held: list[int] = []
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 4096, 3)
        except OSError:
            break
        # The last task's pipes stay open until now: its program is killed by the worker
        # after the verdict, never told to leave (so it cannot leave before the verdict).
        _close_all(held)
        held = list(fds)
        if not data:
            break
        try:
            header = json.loads(data)
            if len(fds) != 3:
                raise ValueError("expected three fds")
            verdict = run_one(fds[0], fds[1], fds[2], float(header["deadline_s"]),
                              _mark_ready(sock) if header.get("ready_mark") else None)
        except BaseException as exc:  # noqa: BLE001 - report, never take the judge down
            verdict = {"v": 1, "harness_error": f"the judge failed: {type(exc).__name__}: {exc}"}
        try:
            text = json.dumps(verdict).encode()
        except (TypeError, ValueError) as exc:
            text = json.dumps({"v": 1, "harness_error": f"the verdict did not encode: {exc}"}).encode()
        os.ftruncate(verdict_fd, 0)
        os.pwrite(verdict_fd, text, 0)
        try:
            sock.sendall(b"d")
        except OSError:
            break
    os._exit(0)


def _room_for_recursion() -> None:
    """The judge's stack may grow to ``JUDGE_STACK_BYTES`` and its recursion limit never past
    ``JUDGE_RECURSION_CAP`` (``sys.setrecursionlimit`` caps what the tests ask for)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft != resource.RLIM_INFINITY and soft < JUDGE_STACK_BYTES:
        try:
            top = JUDGE_STACK_BYTES if hard == resource.RLIM_INFINITY else min(hard, JUDGE_STACK_BYTES)
            resource.setrlimit(resource.RLIMIT_STACK, (top, hard))
            soft = top
        except (ValueError, OSError):
            pass
    # what the stack holds, at about 2 KiB of C stack a frame at worst (a frame reached through a
    # slot such as a proxy's __call__), with room to spare
    cap = JUDGE_RECURSION_CAP if soft == resource.RLIM_INFINITY else max(JUDGE_RECURSION_LIMIT, min(JUDGE_RECURSION_CAP, soft // 2048))
    real = sys.setrecursionlimit

    def setrecursionlimit(limit: int) -> None:
        real(min(limit, cap) if type(limit) is int else limit)

    setrecursionlimit.__doc__ = real.__doc__
    sys.setrecursionlimit = setrecursionlimit  # type: ignore[assignment]


def _mark_ready(sock: Any) -> Any:
    """A callable telling the worker, once, that the program is imported (an ``r`` byte)."""
    def mark() -> None:
        try:
            sock.sendall(b"r")
        except OSError:
            pass  # the worker is gone: the verdict's own send fails next

    return mark


def _harden_imports(writable: tuple[str, ...]) -> None:
    """Imports in the judge never resolve to a folder a program can write: no current
    directory on ``sys.path`` (``python -c`` puts one there), no relative entries, nothing
    under ``writable`` (the worker's work root, ``/dev/shm``), and the judge works in ``/``.
    Other absolute entries stay (a virtualenv may well live under ``/tmp``: the worker's mount
    table binds it back read-only)."""
    os.chdir("/")
    tops = tuple(w.rstrip("/") for w in writable)
    sys.path[:] = [p for p in sys.path if p and os.path.isabs(p)
                   and not any(p == t or p.startswith(t + "/") for t in tops)]
    sys.path_importer_cache.clear()
    sys.dont_write_bytecode = True


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
