"""The program's side of a judged run: import the program as a module, then answer calls.

Runs in the sandboxed task child (after its limits, privilege drop and file view are in
place). The program is executed as the module ``solution`` (``__name__ == "solution"``, so a
``if __name__ == "__main__":`` block does not run), its top-level names are announced to the
judge, and then every message from the judge is one operation on one of its objects (during
which its stdin and ``input`` read the tests' where the tests patched theirs: ``_Stdin``). Nothing
here is trusted by the judge: the program can patch any of it, and all it can gain is to
answer with data, which it could have returned anyway.

Loaded by path in sandbox workers (stdlib only).
"""

from __future__ import annotations

import builtins
import copy as _copy
import io as _io
import math as _math
import operator as _ops
import os
import sys
import traceback
import types
from typing import Any

_wire = sys.modules.get("exectune_sandbox_wire")
if _wire is None:
    from exectune_rl.sandboxes import _wire

FROM_JUDGE = 4
TO_JUDGE = 5
MANIFEST_ITEM_BYTES = 256 << 10
MANIFEST_ITEMS = 20_000
"""A top-level value longer than this many bytes, or of more elements, crosses as a handle (its
items on demand), not as a copy: the encoder's own element count decides, no second encoding."""
PROGRAM_RECURSION_LIMIT = 4000
GROUP_MAX = 256
"""At most this many exceptions of an exception group (nested ones included) reach the tests."""
PRINTED_MAX_CHARS = 1 << 20
"""What a call prints while the tests capture stdout (or stderr) comes back up to this many
characters of each."""


class _Server:
    def __init__(self, module: types.ModuleType, from_judge: int = FROM_JUDGE, to_judge: int = TO_JUDGE) -> None:
        self.module = module
        self.to_judge = to_judge
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}
        self.codec = _wire.Codec("program", handle_of=self.handle_of, resolve_handle=self.resolve,
                                 make_callback=self.make_callback, make_test_object=self.make_test_object,
                                 rebind_handle=self.rebind)
        self.test_objects: dict[int, ObjectOfTheTests] = {}
        self.capture: _Capture | None = None  # what the current call prints or warns, while the tests catch it
        self.next_cb_call = 1
        self.reader = _wire.Reader(from_judge, _wire.MAX_MESSAGE_BYTES_TO_PROGRAM)

    def handle_of(self, obj: Any) -> int:
        hid = self.ids.get(id(obj))
        if hid is None:
            hid = len(self.objects) + 1
            self.objects[hid] = obj
            self.ids[id(obj)] = hid
        return hid

    def rebind(self, hid: Any, obj: Any) -> None:
        if type(hid) is not int or hid not in self.objects:
            raise _wire.WireError(f"no program object {hid!r}")
        self.objects[hid] = obj
        self.ids[id(obj)] = hid

    def resolve(self, hid: int) -> Any:
        try:
            return self.objects[hid]
        except KeyError:
            raise _wire.WireError(f"no program object {hid}") from None

    def make_callback(self, cb_id: int) -> Any:
        server = self

        def callback(*args: Any, **kwargs: Any) -> Any:
            return server.call_back(cb_id, args, kwargs)

        callback.__name__ = callback.__qualname__ = f"test_callback_{cb_id}"
        return callback

    def make_test_object(self, oid: int, name: str, flags: int) -> "ObjectOfTheTests":
        proxy = self.test_objects.get(oid)
        if proxy is None:  # one proxy per object of the tests: identity holds on this side too
            proxy = self.test_objects[oid] = ObjectOfTheTests(self, oid, name, flags)
        return proxy

    # -- the judge's calls ------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in list(vars(self.module).items()):
            if name.startswith("__"):
                continue
            if isinstance(value, types.ModuleType):
                out[name] = ["m", value.__name__]
                continue
            try:
                if isinstance(value, type) and issubclass(value, BaseException):
                    out[name] = ["e", _class_names(value)]
                    continue
                entry = self.codec.encode(value, allow_handle=True)
                if self.codec.items > MANIFEST_ITEMS or (isinstance(value, (str, bytes, bytearray))
                                                         and len(value) > MANIFEST_ITEM_BYTES):
                    entry = {"h": self.handle_of(value), "k": type(value).__name__[:100], "c": callable(value)}
                out[name] = ["v", entry]
            except (_wire.WireError, RecursionError, Exception):
                continue
        return out

    def serve(self) -> None:
        while True:
            _flush()  # the worker stops this process once the verdict is in: keep its output
            msg = self.reader.read()
            if not self.handle(msg):
                return

    def handle(self, msg: Any) -> bool:
        """Answer one message; False when the judge said goodbye. Whatever goes wrong while
        answering a call (this server out of stack at the bottom of a deep recursion with the
        tests' callbacks) is that call's error, never a reply lost to a call further out."""
        try:
            return self._handle(msg)
        except BaseException as exc:  # noqa: BLE001
            if type(msg) is list and len(msg) == 8 and msg[0] == "op":
                try:
                    _wire.write_message(self.to_judge, ["err", msg[1], _mro(exc), _text(exc)])
                except BaseException:  # noqa: BLE001 - no reply can be made: the judge's deadline ends it
                    pass
            return True

    def _handle(self, msg: Any) -> bool:
        if type(msg) is not list or not msg:
            return False
        if msg[0] == "bye":
            return False
        if msg[0] != "op" or len(msg) != 8:
            return True
        _, call_id, hid, name, raw_args, raw_kwargs, capture, stdin_cb = msg
        try:
            target = self.resolve(hid)
            args = self.codec.decode(raw_args)
            passed = self.codec.containers  # the tests' lists, dicts, sets: returned, they go back as theirs
            kwargs = self.codec.decode(raw_kwargs)
            passed += self.codec.containers
        except _wire.WireError as exc:
            _wire.write_message(self.to_judge, ["bad", call_id, f"bad call: {exc}"])
            return True
        outer = self.capture
        outer_stdin = STDIN.callback
        STDIN.callback = (self, stdin_cb) if type(stdin_cb) is int else None
        # What the tests catch during this call (their stdout or stderr redirected, warnings
        # caught) the program's prints and warnings go back with the reply (or with a call back
        # to the tests, which comes first), to be written or warned where the tests now catch them.
        capture = self.capture = _Capture(capture) if type(capture) is int and 0 < capture < 2 * _wire.CAPTURE_WARNINGS else None
        try:
            value, any_handle = _perform(target, name, args, kwargs)
        except SystemExit as exc:
            _exit(exc.code)
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit, custom
            self.capture, STDIN.callback = outer, outer_stdin
            printed = _Capture.close(capture)
            _wire.write_message(self.to_judge, ["err", call_id, _mro(exc), _payload(exc, self.codec), *printed])
            return True
        self.capture, STDIN.callback = outer, outer_stdin
        printed = _Capture.close(capture)
        try:
            reply = ["ret", call_id, self.codec.encode(value, allow_handle=any_handle, args=passed),
                     self._write_back(raw_args, args, raw_kwargs, kwargs), *printed]
            _wire.write_message(self.to_judge, reply)
        except _wire.WireError as exc:
            _wire.write_message(self.to_judge, ["bad", call_id, str(exc)])
        return True

    def _write_back(self, raw_args: Any, args: list[Any], raw_kwargs: Any, kwargs: dict[str, Any]) -> Any:
        # the tests' own containers may be as large as what they can send: compared in full
        # (one the program changed must still fit in a reply)
        changes = []
        for i, a in enumerate(args):
            if _wire.changes_in_place(a):
                new = self.codec.encode(a, allow_handle=False, max_items=_wire.MAX_ITEMS_TO_PROGRAM)
                if new != raw_args[i]:
                    changes.append([i, new])
        for k, a in kwargs.items():
            if _wire.changes_in_place(a):
                new = self.codec.encode(a, allow_handle=False, max_items=_wire.MAX_ITEMS_TO_PROGRAM)
                if new != raw_kwargs["d"][[p[0] for p in raw_kwargs["d"]].index(k)][1]:
                    changes.append([k, new])
        return changes or None

    def call_back(self, cb_id: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call a function of the tests: a message to the judge, answered by its result."""
        return self._ask("cb", cb_id, args, kwargs)

    def test_op(self, oid: int, op: str, args: tuple[Any, ...]) -> Any:
        """One operation on an object of the tests, done by the judge."""
        return self._ask("to", oid, args, {}, op)

    def _ask(self, kind: str, target: int, args: tuple[Any, ...], kwargs: dict[str, Any], *op: str) -> Any:
        call = self.next_cb_call
        self.next_cb_call += 1
        printed: tuple[Any, ...] = ()
        if self.capture is not None:  # printed and warned so far in this call: the tests get it first
            printed = (self.capture.take(),)
        _wire.write_message(self.to_judge, [kind, call, target, *op, self.codec.encode(list(args)),
                                            self.codec.encode(dict(kwargs)), *printed])
        while True:
            msg = self.reader.read()
            if type(msg) is list and len(msg) == 4 and msg[0] == "cbret" and msg[1] != call:
                # the answer to a call back made further out: the judge gave up on this one
                # (its tests raised through it), so this call cannot be answered either
                raise RuntimeError("the tests' side of this call back ended before answering it")
            if type(msg) is list and len(msg) == 4 and msg[0] == "cbret" and msg[1] == call:
                if msg[2] is True:
                    return self.codec.decode(msg[3])
                name, text = msg[3]
                cls = getattr(builtins, name, None)
                if not (isinstance(cls, type) and issubclass(cls, Exception)):
                    cls = RuntimeError
                raise cls(text)
            if not self.handle(msg):
                _exit(0)


class ObjectOfTheTests:
    """The program's proxy of an object of the tests: each use is a call into the judge.

    Public attributes can be read and set, and operators used, as on the object itself. A
    class of the tests that defines no truth value, ``__eq__`` or ``__hash__`` gets the
    answers ``object`` gives (true, identity, identity) here, without a call.
    """

    _et_test_object = True
    __slots__ = ("_server", "_oid", "_name", "_flags", "_hash")

    def __init__(self, server: _Server, oid: int, name: str, flags: int) -> None:
        object.__setattr__(self, "_server", server)
        object.__setattr__(self, "_oid", oid)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_flags", flags)
        object.__setattr__(self, "_hash", None)

    def _op(self, op: str, *args: Any) -> Any:
        return object.__getattribute__(self, "_server").test_op(object.__getattribute__(self, "_oid"), op, args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"{object.__getattribute__(self, '_name')} object of the tests has no usable attribute {name!r}")
        return self._op("getattr", name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._op("setattr", name, value)

    def __delattr__(self, name: str) -> None:
        self._op("delattr", name)

    def __bool__(self) -> bool:
        return bool(self._op("bool")) if object.__getattribute__(self, "_flags") & _wire.TEST_OBJECT_BOOL else True

    def __len__(self) -> int:
        return self._op("len")

    def __iter__(self) -> Any:
        return iter(self._op("iter"))

    def __getitem__(self, key: Any) -> Any:
        return self._op("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._op("setitem", key, value)

    def __contains__(self, item: Any) -> bool:
        return bool(self._op("contains", item))

    def __eq__(self, other: Any) -> Any:
        if other is self:
            return True
        return self._op("eq", other) if object.__getattribute__(self, "_flags") & _wire.TEST_OBJECT_EQ else NotImplemented

    def __ne__(self, other: Any) -> Any:
        if other is self:
            return False
        return self._op("ne", other) if object.__getattribute__(self, "_flags") & _wire.TEST_OBJECT_EQ else NotImplemented

    def __lt__(self, other: Any) -> Any:
        return self._op("lt", other)

    def __le__(self, other: Any) -> Any:
        return self._op("le", other)

    def __gt__(self, other: Any) -> Any:
        return self._op("gt", other)

    def __ge__(self, other: Any) -> Any:
        return self._op("ge", other)

    def __hash__(self) -> int:
        if not object.__getattribute__(self, "_flags") & _wire.TEST_OBJECT_HASH:
            return hash(("test-object", object.__getattribute__(self, "_oid")))
        value = object.__getattribute__(self, "_hash")
        if value is None:
            value = self._op("hash")
            object.__setattr__(self, "_hash", value)
        return value

    def __str__(self) -> str:
        return self._op("str")

    def __repr__(self) -> str:
        return self._op("repr")

    def __copy__(self) -> Any:
        return self._op("copy")

    def __deepcopy__(self, memo: Any) -> Any:
        return self._op("deepcopy")

    def __next__(self) -> Any:
        return self._op("next")


def _operator(op: str) -> Any:
    def method(self: ObjectOfTheTests, *other: Any) -> Any:
        return self._op(op, *other)

    method.__name__ = f"__{op}__"
    return method


for _name in ("neg", "pos", "abs", "invert", "int", "float", "index", "add", "sub", "mul", "truediv", "floordiv", "mod",
              "pow", "and", "or", "xor", "lshift", "rshift", "matmul", "radd", "rsub", "rmul", "rtruediv", "rfloordiv",
              "rmod", "rpow", "rand", "ror", "rxor", "rlshift", "rrshift", "rmatmul"):
    setattr(ObjectOfTheTests, f"__{_name}__", _operator(_name))
del _name


class _Stdin(_io.TextIOBase):
    """The program's ``sys.stdin`` (and, through :func:`_input`, its ``input``): its own stdin,
    except during a call made while the tests have patched theirs (``callback`` set), when each
    read is answered by the tests' ``sys.stdin``/``input`` through the judge, as it would be
    with the program in the tests' process. Set before the program is imported, so a program
    that binds ``input = sys.stdin.readline`` at import reads the tests' input too."""

    def __init__(self, real: Any) -> None:
        super().__init__()
        self.real = real
        self.callback: tuple[Any, int] | None = None
        self.buffer = _StdinBytes(self)

    def _ask(self, kind: str, arg: Any) -> str:
        server, cb = self.callback  # type: ignore[misc]
        text = server.call_back(cb, (kind, arg), {})
        if type(text) is not str:
            raise TypeError("stdin gave something that is not text")
        return text

    def read(self, size: Any = -1) -> str:
        if self.callback is None:
            return self.real.read(size)
        return self._ask("read", None if size is None or size < 0 else int(size))

    def readline(self, size: Any = -1) -> str:
        if self.callback is None:
            return self.real.readline(size)
        return self._ask("readline", None if size is None or size < 0 else int(size))

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.real.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    @property
    def name(self) -> str:
        return "<stdin>"


class _StdinBytes:
    """``sys.stdin.buffer``: the same reads, as UTF-8 bytes."""

    def __init__(self, text: _Stdin) -> None:
        self.text = text

    def read(self, size: Any = -1) -> bytes:
        if self.text.callback is None:
            return self.text.real.buffer.read(size)
        return self.text.read(size).encode("utf-8", "surrogateescape")

    def readline(self, size: Any = -1) -> bytes:
        if self.text.callback is None:
            return self.text.real.buffer.readline(size)
        return self.text.readline(size).encode("utf-8", "surrogateescape")

    def readlines(self) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def fileno(self) -> int:
        return self.text.real.fileno()


STDIN = _Stdin(sys.stdin)
_REAL_INPUT = builtins.input


def _input(prompt: Any = "") -> str:
    """The program's ``input``: the tests' ``input`` during a call made while they patched
    ``sys.stdin`` or ``input``, else Python's own."""
    if STDIN.callback is None:
        return _REAL_INPUT(prompt)
    text = STDIN._ask("input", str(prompt) if prompt != "" else None)
    return text


class _Capture:
    """What one call prints to the streams the tests redirect, and the warnings it gives while
    the tests catch theirs (``mask``: the ``CAPTURE_*`` bits), from the call's start to its end."""

    def __init__(self, mask: int) -> None:
        self.saved = sys.stdout, sys.stderr
        self.out = _io.StringIO() if mask & _wire.CAPTURE_STDOUT else None
        self.err = _io.StringIO() if mask & _wire.CAPTURE_STDERR else None
        if self.out is not None:
            sys.stdout = self.out
        if self.err is not None:
            sys.stderr = self.err
        self.catcher: Any = None
        self.warned: list[Any] = []
        if mask & _wire.CAPTURE_WARNINGS:
            import warnings

            # Every warning, each time, as the tests' own catching (pytest.warns, assertWarns,
            # catch_warnings) would see it: their filters decide what becomes of it.
            self.catcher = warnings.catch_warnings(record=True)
            self.warned = self.catcher.__enter__()
            warnings.simplefilter("always")

    def take(self) -> list[Any]:
        """``[stdout text, stderr text, warnings]`` so far (capped), emptied for what comes next;
        a warning is ``[its category's class names, its text, its line]``."""
        warned, self.warned[:] = self.warned[:_wire.WARNINGS_MAX], []
        out = []
        for w in warned:
            try:
                line = w.lineno if type(w.lineno) is int else 0
                out.append([_class_names(w.category), _text(w.message), line])
            except BaseException:  # noqa: BLE001 - the program made it of something odd
                continue
        return [_take(self.out), _take(self.err), out]

    @staticmethod
    def close(capture: "_Capture | None") -> tuple[Any, ...]:
        """What the call printed and warned, with the streams and warning filters put back;
        () when the tests caught nothing."""
        if capture is None:
            return ()
        if capture.out is not None:  # only the streams it replaced: the program may set the others
            sys.stdout = capture.saved[0]
        if capture.err is not None:
            sys.stderr = capture.saved[1]
        printed = capture.take()
        if capture.catcher is not None:
            try:
                capture.catcher.__exit__(None, None, None)
            except BaseException:  # noqa: BLE001 - the program entered it again or broke it
                pass
        return (printed,)


def _take(buf: Any) -> str:
    """What ``buf`` holds (capped), emptied for what comes next ("" for no buffer)."""
    if buf is None:
        return ""
    try:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
    except BaseException:  # noqa: BLE001 - the program may have closed it
        text = ""
    return text[:PRINTED_MAX_CHARS] if type(text) is str else ""


def _perform(target: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """Do one operation; the flag says whether any object may come back as a handle."""
    if name == "call":
        value = target(*args, **kwargs)
        if type(value) is types.CoroutineType:  # an ``async def`` of the program: run here, to its end
            return _wire.Awaited(_run_coroutine(value)), False
        return value, isinstance(target, type)
    if name == "getattr":
        return getattr(target, args[0]), True
    if name == "setattr":
        setattr(target, args[0], args[1])
        return None, False
    if name == "delattr":
        delattr(target, args[0])
        return None, False
    if name == "len":
        return len(target), False
    if name == "getitem":
        return target[args[0]], False
    if name == "setitem":
        target[args[0]] = args[1]
        return None, False
    if name == "delitem":
        del target[args[0]]
        return None, False
    if name == "iter":
        return iter(target), True
    if name == "next":
        return next(target), False
    if name == "str":
        return str(target), False
    if name == "bool":
        return bool(target), False
    if name == "eq":  # two objects of the program compared by the tests: the program's own equality
        return target == args[0], False
    if name == "unary" and args and args[0] in _UNARY:
        return _UNARY[args[0]](target, *args[1:2]), True
    if name == "binop" and len(args) == 2 and args[0] in _BINARY:
        return _BINARY[args[0]](target, args[1]), True
    if name == "order" and len(args) == 2 and args[0] in _ORDER:
        return _ORDER[args[0]](target, args[1]), False
    if name == "chunk" and len(args) == 1 and type(args[0]) is int:  # the next items of a lazy iterator
        items = []
        for item in target:
            items.append(item)
            if len(items) >= max(1, min(args[0], _wire.MAX_DRAIN)):
                break
        return [items, len(items) < args[0]], False
    if name == "hash":
        return hash(target), False
    if name == "repr":
        return repr(target), False
    if name == "format" and len(args) == 1 and type(args[0]) is str:
        return format(target, args[0]), False
    if name == "copy":
        return _copy.copy(target), True
    if name == "deepcopy":
        return _copy.deepcopy(target), True
    if name == "enter":
        return type(target).__enter__(target), True
    if name == "exit":  # its answer never suppresses the tests' exception: see the judge's Handle
        type(target).__exit__(target, None, None, None)
        return None, False
    if name == "instancecheck":
        return isinstance(args[0], target), False
    if name == "subclasscheck":
        return issubclass(args[0], target), False
    raise TypeError(f"unsupported operation {name!r}")


_UNARY = dict(zip(_wire.UNARY_OPS, (_ops.neg, _ops.pos, _ops.invert, abs, float, int, complex, _ops.index,
                                     round, _math.floor, _math.ceil, _math.trunc)))
_BINARY = {name: getattr(_ops, name + "_" if name in ("and", "or") else name) for name in _wire.BINARY_OPS}
_ORDER = {name: getattr(_ops, name) for name in _wire.ORDER_OPS}


def _run_coroutine(coro: Any) -> Any:
    """What a coroutine of the program comes to, run on an event loop of its own (its exception
    raised from the call that made it)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()  # made inside the program's own running loop: that loop is the one to await it
    raise RuntimeError("a coroutine made while the program's event loop runs cannot be awaited by the tests")


def _mro(exc: BaseException) -> list[str]:
    return _class_names(type(exc))


def _class_names(cls: type) -> list[str]:
    """The names of an exception class's MRO; one of the standard library's (or numpy's,
    pandas's...) with its module (``json.decoder.JSONDecodeError``), so the tests' ``except``
    of that very class catches it."""
    try:
        out = []
        for c in cls.__mro__[:32]:
            mod = c.__module__ if type(c.__module__) is str else ""
            top = mod.split(".")[0]
            known = mod != "builtins" and (top in _wire.STDLIB_MODULES or top in _wire.WELL_KNOWN_PACKAGES)
            out.append(f"{mod}.{c.__qualname__}" if known else c.__name__)
        return out
    except BaseException:  # noqa: BLE001
        return ["Exception"]


def _payload(exc: BaseException, codec: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """What the tests get of an exception: its text, and where they are plain data its
    ``args`` and public attributes (``[text, args, attributes]``), else the text alone; an
    exception group also its exceptions (``[text, [message], {}, [[names, payload], ...]]``,
    ``GROUP_MAX`` of them in all, 4 groups deep at most)."""
    text = _text(exc)
    group = getattr(builtins, "BaseExceptionGroup", None)
    if group is not None and isinstance(exc, group):
        budget = [GROUP_MAX] if budget is None else budget
        try:
            if depth >= 4 or type(exc.message) is not str:
                return text
            parts = list(exc.exceptions)[:max(0, budget[0])]
            budget[0] -= len(parts)
            subs = [[_mro(e), _payload(e, codec, depth + 1, budget)] for e in parts]
            return [text, codec.encode([exc.message[:500]], allow_handle=False), {}, subs]
        except BaseException:  # noqa: BLE001 - not one that can cross: its text does
            return text
    try:
        args = codec.encode(list(exc.args), allow_handle=False)
        attrs = {}
        for name, value in list(getattr(exc, "__dict__", {}).items())[:32]:
            if type(name) is str and name.isidentifier() and not name.startswith("_"):
                try:
                    attrs[name] = codec.encode(value, allow_handle=False)
                except (_wire.WireError, RecursionError):
                    continue
        return [text, args, attrs]
    except BaseException:  # noqa: BLE001 - not data: the text is what crosses
        return text


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:500]
    except BaseException:  # noqa: BLE001
        return ""


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


def _exit(code: Any) -> None:
    _flush()
    os._exit(code & 0xFF if isinstance(code, int) and not isinstance(code, bool) else (0 if code is None else 1))


def warm_up(rounds: int = 64) -> None:
    """Run the serving path in the worker, on a pipe of its own, before it forks any task.

    CPython specialises (writes into) the bytecode of code it runs a few times; code that first
    runs in a task child does that work, and pays a copy-on-write fault for each page it
    writes, in every child anew. Run here, once, the children inherit it already done.
    """
    module = types.ModuleType("solution")
    exec("def f(x, y=None):\n    return [x, y, {'k': (1, 2.5)}]\nclass C:\n    v = 1\nN = 3\nS = 'text'\n", module.__dict__)
    from_judge, to_server = os.pipe()
    from_server, to_judge = os.pipe()
    try:
        server = _Server(module, from_judge, to_judge)
        replies = _wire.Reader(from_server)
        judge_codec = _wire.Codec("judge", make_handle=lambda hid, name, is_callable: hid)
        for i in range(rounds):
            _wire.write_message(to_judge, ["ready", server.manifest()])
            judge_codec.decode(replies.read()[1]["f"][1])
            hid = server.handle_of(module.f)
            args = judge_codec.encode([i, [1, 2, "x"], {"a": {1, 2}}, b"b", (None, True)])
            _wire.write_message(to_server, ["op", i, hid, "call", args, judge_codec.encode({}), i % 8, None])
            server.handle(server.reader.read())
            judge_codec.decode(replies.read()[2])
            _wire.write_message(to_server, ["op", i, hid, "nope", args, judge_codec.encode({}), False, None])
            server.handle(server.reader.read())
            replies.read()
    finally:
        for fd in (from_judge, to_server, from_server, to_judge):
            os.close(fd)


def serve(code: Any) -> int:
    """Import the program (a compiled code object) as ``solution`` and answer the judge."""
    module = types.ModuleType("solution")
    module.__file__ = os.path.join(os.getcwd(), "solution.py")
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["solution"] = module
    sys.stdin, builtins.input = STDIN, _input
    # Each level of a recursion between the program and the tests' callbacks takes this
    # server's frames as well as the program's: room for them, so such a recursion goes as
    # deep as in one process (a program's own recursion may go deeper than there).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), PROGRAM_RECURSION_LIMIT))
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        _exit(exc.code)
    except BaseException as exc:  # noqa: BLE001 - the import failed: tell the judge, then stop
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
        _flush()
        try:
            _wire.write_message(TO_JUDGE, ["import_error", _mro(exc), _text(exc)])
        except BaseException:  # noqa: BLE001
            pass
        return 1
    server = _Server(module)
    try:
        _wire.write_message(TO_JUDGE, ["ready", server.manifest()])
        server.serve()
    except (_wire.WireClosed, _wire.WireError, OSError):
        pass
    _flush()
    return 0
