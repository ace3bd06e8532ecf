"""The data-only wire between the judge (trusted) and the program's process (untrusted).

Every value that crosses is plain data, encoded as JSON with a few one-key tags: nothing is
ever unpickled, ``eval``-ed or ``marshal``-ed. Decoding builds exact builtin types only, so an
object with a forged ``__eq__`` (or a subclass of ``int``/``str``/``list``) cannot cross.

Plain data: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``,
``bytearray``, ``list``, ``tuple``, ``dict``, ``set``, ``frozenset``, nested.

The program's side converts a few well-known value types to data before sending (only their
exact types, never a subclass): numpy scalars to their Python value and numpy arrays to an
array rebuilt by the judge (or a nested list where numpy is missing there);
``collections.Counter``/``OrderedDict``/``defaultdict`` to ``dict`` (they compare equal to one);
``deque`` to ``deque``;
named tuples to ``tuple``; ``range`` to ``range``; ``fractions.Fraction``,
``decimal.Decimal`` and ``datetime`` values to the same type; dict views to the same kind of
view; generators and other iterators: their first items, and a tail the judge reads in chunks
(``DRAIN_FIRST``; an iterator the tests pass is drained, bounded). Functions, classes and (where allowed)
other objects of the program cross as *handles*: the judge can call them or read their
attributes, each a new call into the program, but a handle equals only itself. Objects of
the tests (instances of a class the tests define, and ``types.SimpleNamespace``) cross the
other way as *test objects*: the program's proxy reads and sets their public attributes and
uses their operators, each a call into the judge that only ever touches names without a
leading underscore (see ``_judge.Channel._run_test_op``).

Limits on what the judge accepts: a message is at most ``MAX_MESSAGE_BYTES``; nesting deeper
than ``MAX_DEPTH`` or more than ``MAX_ITEMS`` elements fails the call. A reply must carry the
id of the call it answers. Loaded by path in sandbox workers (stdlib only).
"""

from __future__ import annotations

import builtins
import json
import math
import os
import select
import struct
import sys
import time
from typing import Any

MAX_MESSAGE_BYTES = 16 << 20
MAX_DEPTH = 200
MAX_ITEMS = 1_000_000
MAX_MESSAGE_BYTES_TO_PROGRAM = 64 << 20
MAX_ITEMS_TO_PROGRAM = 4_000_000
"""The tests' own values going to the program (a stress test's list of a million numbers, a
1000 x 1000 grid) may be larger than what the judge accepts back: the program's process decodes
them, under its own memory limit."""
MAX_DRAIN = 100_000
"""How many items of an iterator one message carries (a dict view, a chunk of a generator)."""
DRAIN_FIRST = 64
DRAIN_CPU_S = 0.002
"""A generator (or other lazy iterator) the program returns is drained for at least
``DRAIN_FIRST`` items, then while ``DRAIN_CPU_S`` of CPU lasts; what it has not ended by then
crosses as a tail the tests' side reads in chunks (``chunk``), as far as the tests go, so an
endless generator (``while True: yield``) is read as in one process."""
CAPTURE_STDOUT, CAPTURE_STDERR, CAPTURE_WARNINGS = 1, 2, 4
"""The bits of an ``op``'s capture field: what the tests catch during that call (their stdout or
stderr redirected, their warnings caught or filtered). Under any of them, what the call prints
and warns goes back with its reply (or before a call back to the tests) as ``[stdout text,
stderr text, warnings]``, a warning ``[its category's class names, its text, its line]``."""
WARNINGS_MAX = 100
"""At most this many warnings of one call go back to tests that catch warnings."""
UNARY_OPS = ("neg", "pos", "invert", "abs", "float", "int", "complex", "index", "round", "floor", "ceil", "trunc")
"""Operators the tests may apply to one object of the program (``-x``, ``abs(x)``, ``float(x)``,
``round(x, n)``, ``math.floor(x)``...): the program's answer, as a call's result would be."""
BINARY_OPS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift", "rshift", "and", "or", "xor")
ORDER_OPS = ("lt", "le", "gt", "ge")
"""Operators between two objects of the program (``a + b``, ``a < b``, ``sorted`` of them),
answered by the program as its ``==`` between them is; never between one of them and a value
of the tests (which would let the program's object work out a check such as
``abs(f(x) - expected) < eps`` for itself)."""
_HEAD = struct.Struct("!I")
_DATA_TYPES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)
_BIG = 1 << 62
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)  # built once: json.dumps makes one a call
_DECODER = json.JSONDecoder()


class WireError(Exception):
    """A message that is not valid data: too big, too deep, malformed, or of a wrong type."""


class WireLimit(WireError):
    """A value the judge cannot send on, of a kind the program may have produced: one over the
    wire's size limits (too deep, too many elements, too long an iterator) or an exception."""


class WireClosed(Exception):
    """The other side closed the channel (it exited or was killed)."""


class WireTimeout(Exception):
    """No complete message arrived before the deadline."""


# --------------------------------------------------------------------------- framing


def write_message(fd: int, obj: Any, deadline: float | None = None, limit: int = MAX_MESSAGE_BYTES) -> None:
    """Send one message (of at most ``limit`` bytes); with a deadline the fd must be
    non-blocking (the judge's side)."""
    data = _ENCODER.encode(obj).encode("ascii")
    if len(data) > limit:
        raise WireLimit(f"message of {len(data)} bytes is over the {limit}-byte limit")
    buf = memoryview(_HEAD.pack(len(data)) + data)
    while buf:
        try:
            n = os.write(fd, buf)
        except BlockingIOError:
            _wait(fd, select.POLLOUT, deadline)
            continue
        except BrokenPipeError as exc:
            raise WireClosed("the other side closed the channel") from exc
        buf = buf[n:]


def _wait(fd: int, event: int, deadline: float | None) -> None:
    poller = select.poll()
    poller.register(fd, event)
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise WireTimeout("deadline passed")
    if not poller.poll(None if left is None else left * 1000):
        raise WireTimeout("deadline passed")


class Reader:
    """Buffered reads of whole messages from one fd (one ``read`` per message when it fits)."""

    def __init__(self, fd: int, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.fd = fd
        self.limit = limit
        self.buf = bytearray()  # grown in place: a large message comes in many pipe-sized reads
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN)

    def _fill(self, need: int, deadline: float | None) -> None:
        while len(self.buf) < need:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not self.poller.poll(left * 1000):
                    raise WireTimeout("deadline passed")
            try:
                chunk = os.read(self.fd, min(max(need - len(self.buf), 65536), 1 << 20))
            except BlockingIOError:
                continue
            except OSError as exc:
                raise WireClosed(str(exc)) from exc
            if not chunk:
                raise WireClosed("the other side closed the channel")
            self.buf += chunk

    def read(self, deadline: float | None = None) -> Any:
        """Receive one message as parsed JSON (tags not yet decoded)."""
        self._fill(_HEAD.size, deadline)
        (size,) = _HEAD.unpack_from(self.buf)
        if size > self.limit:
            raise WireError(f"message of {size} bytes is over the {self.limit}-byte limit")
        end = _HEAD.size + size
        self._fill(end, deadline)
        body = bytes(self.buf[_HEAD.size:end])
        del self.buf[:end]
        try:
            return _DECODER.decode(body.decode("ascii"))  # the encoder writes ASCII only
        except (ValueError, RecursionError, MemoryError) as exc:
            raise WireError(f"malformed message: {type(exc).__name__}") from exc


# --------------------------------------------------------------------------- values


_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bytearray, bool, list, tuple, dict, set, frozenset, type(None))}
_TYPES.update({name: c for name, c in vars(builtins).items() if isinstance(c, type) and issubclass(c, BaseException)})
"""Builtin types that cross by name (a test may pass ``int`` for an ``isinstance`` check, or
``ValueError`` for the program to catch), both ways."""


class Codec:
    """Encodes and decodes values for one side of the wire.

    Args:
        side: ``"judge"`` or ``"program"``.
        handle_of: (program side) called with an object that is not data; returns a handle
            id, or raises ``WireError``.
        resolve_handle: (program side) a handle id back to its object.
        make_handle: (judge side) builds the judge's proxy for ``(id, type name, callable)``.
        callback_of: (judge side) registers a callable of the tests, returns its id.
        make_callback: (program side) builds the program's stub for a callback id.
        test_object_of: (judge side) registers an object of the tests, returns ``(id, flags)``.
        resolve_test_object: (judge side) a test object id back to its object.
        make_test_object: (program side) builds the program's proxy for ``(id, type name, flags)``.
        make_lazy: (judge side) builds the iterator over a program iterator's first items and
            the handle of the rest.
        rebind_handle: (program side) points a handle id at another object (a program
            iterator back from the tests, with the items they read ahead in front).
    """

    def __init__(self, side: str, *, handle_of=None, resolve_handle=None, make_handle=None,
                 callback_of=None, make_callback=None, test_object_of=None, resolve_test_object=None,
                 make_test_object=None, make_lazy=None, rebind_handle=None) -> None:
        self.side = side
        self.make_lazy = make_lazy
        self.rebind_handle = rebind_handle
        self.handle_of = handle_of
        self.resolve_handle = resolve_handle
        self.make_handle = make_handle
        self.callback_of = callback_of
        self.make_callback = make_callback
        self.test_object_of = test_object_of
        self.resolve_test_object = resolve_test_object
        self.make_test_object = make_test_object
        self._items = 0
        self.max_items = MAX_ITEMS_TO_PROGRAM if side == "judge" else MAX_ITEMS
        self._limit = self.max_items
        # The mutable containers (list, dict, set, bytearray) of the value being encoded or
        # decoded, in the order both sides meet them: a second sight of one is a reference
        # to the first (``{"@": n}``), so aliasing survives the crossing.
        self._seen: dict[int, int] = {}
        self._keep: list[Any] = []  # what _seen names stays alive (no id is reused meanwhile)
        self._made: list[Any] = []
        self._args: dict[int, int] = {}
        self._args_in: list[Any] = []
        # the named tuple classes this side sent, by name and fields: one coming back is of the
        # sender's own class again (the tests' ``Point``), not one made for it
        self.named_tuples: dict[tuple[str, tuple[str, ...]], type] = {}

    # -- encoding ---------------------------------------------------------------------

    def encode(self, value: Any, allow_handle: bool = True, args: list[Any] | None = None,
               max_items: int | None = None) -> Any:
        """``value`` as wire data. ``args``: (program side) the containers of the call being
        answered (:attr:`containers` after decoding its arguments): one of them in ``value``
        crosses as a reference to the tests' own object (``{"a": n}``), so ``return xs`` gives
        the tests back the very list they passed. ``max_items``: this encoding's element limit
        (default: the side's, ``max_items``)."""
        self._items = 0
        self._limit = self.max_items if max_items is None else max_items
        self._seen, self._keep, self._made = {}, [], []
        self._args = {id(o): i for i, o in enumerate(args)} if args else {}
        try:
            return self._enc(value, 0, allow_handle)
        finally:
            self._seen, self._args = {}, {}

    @property
    def containers(self) -> list[Any]:
        """The mutable containers the last :meth:`encode` or :meth:`decode` met, in order."""
        return list(self._keep or self._made)

    def _mark(self, v: Any) -> Any:
        """A reference for a container met before (or passed by the tests), else None after noting it."""
        key = id(v)
        n = self._seen.get(key)
        if n is not None:
            return {"@": n}
        n = self._args.get(key)
        if n is not None:
            return {"a": n}
        self._seen[key] = len(self._keep)
        self._keep.append(v)
        return None

    @property
    def items(self) -> int:
        """How many elements the last :meth:`encode` wrote."""
        return self._items

    def _enc(self, v: Any, depth: int, allow_handle: bool) -> Any:
        if depth > MAX_DEPTH:
            raise WireLimit(f"value nested deeper than {MAX_DEPTH} levels")
        self._items += 1
        if self._items > self._limit:
            raise WireLimit(f"value has more than {self._limit} elements")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if -_BIG < v < _BIG else {"x": format(v, "x")}
        if t is float:
            return v if math.isfinite(v) else {"fl": repr(v)}
        d = depth + 1
        if t is list or t is dict or t is set or t is bytearray:
            ref = self._mark(v)
            if ref is not None:
                return ref
        if t is list:
            if _plain_scalars(v):  # the common case, without a call per element
                self._items += len(v)
                if self._items > self._limit:
                    raise WireLimit(f"value has more than {self._limit} elements")
                return list(v)
            return [self._enc(x, d, allow_handle) for x in v]
        if t is tuple:
            return {"t": [self._enc(x, d, allow_handle) for x in v]}
        if t is dict:
            return {"d": [[self._enc(k, d, allow_handle), self._enc(x, d, allow_handle)] for k, x in v.items()]}
        if t is set:
            return {"s": [self._enc(x, d, allow_handle) for x in v]}
        if t is frozenset:
            return {"f": [self._enc(x, d, allow_handle) for x in v]}
        if t is bytes:
            return {"b": v.decode("latin-1")}
        if t is bytearray:
            return {"y": v.decode("latin-1")}
        if t is complex:
            return {"c": [self._enc(v.real, d, False), self._enc(v.imag, d, False)]}
        if self.side == "judge":
            return self._enc_judge(v, d)
        return self._enc_program(v, d, allow_handle)

    def _enc_judge(self, v: Any, d: int) -> Any:
        if type(v) is type and _TYPES.get(v.__name__) is v:
            return {"ty": v.__name__}
        hid = getattr(type(v), "_et_handle_id", None)
        if hid is not None:  # one of the judge's proxies of a program object
            return {"h": object.__getattribute__(v, "_id")}
        if getattr(type(v), "_et_lazy", False):  # a program iterator the tests read part of: back as it is
            tail = v.tail
            head = [self._enc(x, d, False) for x in reversed(v.items)]
            if tail is None:  # all of it here: a copy of what is left, as for a drained iterator
                return {"i": head}
            # The items read ahead go back in front of the program's own iterator, which takes the
            # handle's place there: both sides then read one iterator, as in one process.
            v.items = []
            return {"ig": [head, {"h": object.__getattribute__(tail, "_id")}]}
        if callable(v) and self.callback_of is not None:
            return {"cb": self.callback_of(v)}
        known = _known_value(v, self, d)
        if known is not None:
            return known
        if isinstance(v, BaseException):  # often one the program raised, which the tests caught
            raise WireLimit(f"an exception ({type(v).__name__}) cannot cross to the program")
        if self.test_object_of is not None and is_test_object(v):
            oid, flags = self.test_object_of(v)
            return {"o": [oid, str(type(v).__name__)[:100], flags]}
        raise WireError(f"the tests pass an object of type {type(v).__name__}, which cannot cross to the program")

    def _enc_program(self, v: Any, d: int, allow_handle: bool) -> Any:
        if getattr(type(v), "_et_test_object", False):  # the program's proxy of a test object: back to it
            return {"o": object.__getattribute__(v, "_oid")}
        if type(v) is Awaited:
            return {"aw": self._enc(v.value, d, allow_handle)}
        if type(v) is type and _TYPES.get(v.__name__) is v:  # ``type(x)`` of a builtin: the builtin itself
            return {"ty": v.__name__}
        known = _known_value(v, self, d)
        if known is not None:
            return known
        base = next((b.__name__ for b in _DATA_TYPES if isinstance(v, b)), None)
        if base is not None:  # pretends to be data: never a handle
            raise WireError(f"returned an object of type {type(v).__name__} (a subclass of {base}): only plain data crosses")
        if self.handle_of is not None and (allow_handle or callable(v) or type(v).__module__ == "solution"):
            return {"h": self.handle_of(v), "k": str(type(v).__name__)[:100], "c": callable(v)}
        raise WireError(f"returned an object of type {type(v).__name__}: only plain data crosses")

    # -- decoding ---------------------------------------------------------------------

    def decode(self, raw: Any, args: list[Any] | None = None) -> Any:
        """``raw`` back to a value. ``args``: (judge side) the containers of the call's
        arguments as encoded (:attr:`containers`), which ``{"a": n}`` names."""
        self._made, self._keep, self._args_in = [], [], list(args or ())
        self.aliased = False  # whether the value met one of its own containers twice (a "@" reference)
        try:
            return self._dec(raw, 0)
        except WireError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError, MemoryError) as exc:
            raise WireError(f"malformed value: {type(exc).__name__}: {str(exc)[:200]}") from exc

    def _dec(self, v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireLimit(f"value nested deeper than {MAX_DEPTH} levels")
        t = type(v)
        if v is None or t is bool or t is str or t is int or t is float:
            return v
        d = depth + 1
        if t is list:
            out_list: list[Any] = []
            self._made.append(out_list)  # before its items: they may refer to it
            # the common case, without a call per element: items that are already what they mean
            out_list.extend(v if _plain_scalars(v) else [self._dec(x, d) for x in v])
            return out_list
        if t is not dict or len(v) < 1:
            raise WireError(f"unexpected {t.__name__} on the wire")
        if "h" in v:
            hid = v["h"]
            if type(hid) is not int:
                raise WireError("bad handle")
            if self.side == "program":
                return self.resolve_handle(hid)
            name, is_callable = v.get("k", "object"), v.get("c", False)
            if type(name) is not str or type(is_callable) is not bool or len(v) != 3:
                raise WireError("bad handle")
            return self.make_handle(hid, name[:100], is_callable)
        if len(v) != 1:
            raise WireError("a tag must have exactly one key")
        (tag, x), = v.items()
        if tag == "@" or tag == "a":
            pool = self._made if tag == "@" else self._args_in
            if type(x) is not int or not 0 <= x < len(pool):
                raise WireError("bad reference")
            self.aliased = self.aliased or tag == "@"
            return pool[x]
        if tag == "t":
            return tuple(self._dec_list(x, d))
        if tag == "d":
            if type(x) is not list:
                raise WireError("bad dict")
            out = {}
            self._made.append(out)
            for pair in x:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("bad dict entry")
                out[self._dec(pair[0], d)] = self._dec(pair[1], d)
            return out
        if tag == "s" or tag == "f":
            # One insertion at a time (not set(list) in C): a flood of colliding hashes stays
            # interruptible by the judge's deadline.
            out_set: set[Any] = set()
            if tag == "s":
                self._made.append(out_set)
            for item in self._dec_list(x, d):
                out_set.add(item)
            return out_set if tag == "s" else frozenset(out_set)
        if tag in ("b", "y"):
            if type(x) is not str:
                raise WireError("bad bytes")
            data = x.encode("latin-1")
            if tag == "b":
                return data
            self._made.append(bytearray(data))
            return self._made[-1]
        if tag == "x":
            if type(x) is not str or len(x) > 4_000_000:
                raise WireError("bad int")
            return int(x, 16)
        if tag == "fl":
            if x not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(x)
        if tag == "c":
            re_, im = self._dec_list(x, d)
            if type(re_) is not float or type(im) is not float:
                raise WireError("bad complex")
            return complex(re_, im)
        if tag == "cb" and self.side == "program" and type(x) is int:
            return self.make_callback(x)
        if tag == "o":
            if self.side == "judge" and type(x) is int and self.resolve_test_object is not None:
                return self.resolve_test_object(x)
            if (self.side == "program" and type(x) is list and len(x) == 3 and type(x[0]) is int
                    and type(x[1]) is str and type(x[2]) is int and self.make_test_object is not None):
                return self.make_test_object(x[0], x[1][:100], x[2])
            raise WireError("bad test object")
        if tag == "ty" and x in _TYPES:
            return _TYPES[x]
        if tag == "i":
            return iter(self._dec_list(x, d))
        if tag == "ig" and type(x) is list and len(x) == 2:
            head, tail = self._dec_list(x[0], d), self._dec(x[1], d)
            if self.side == "program":  # its own iterator, back from the tests: what they left of it
                import itertools

                if type(x[1]) is not dict or self.rebind_handle is None:
                    raise WireError("bad iterator tail")
                rest = itertools.chain(head, tail)
                self.rebind_handle(x[1].get("h"), rest)  # the tests' next chunk comes from it too
                return rest
            if self.make_lazy is None or not getattr(type(tail), "_et_handle_id", False):
                raise WireError("bad iterator tail")
            return self.make_lazy(head, tail)
        return _decode_known(tag, x, self, d)

    def _dec_list(self, x: Any, d: int) -> list[Any]:
        if type(x) is not list:
            raise WireError("expected a list")
        return [self._dec(i, d) for i in x]


STDLIB_MODULES = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)
"""Top-level names of the standard library's modules (the judge binds and imports only these
and ``WELL_KNOWN_PACKAGES`` by name, never a module name the program chose)."""
WELL_KNOWN_PACKAGES = frozenset({"numpy", "pandas", "scipy", "sympy", "networkx"})
TESTS_MODULE = "exectune_tests"
"""The judge runs the tests as this module: the classes it defines are the tests' own."""
TEST_OBJECT_BOOL, TEST_OBJECT_EQ, TEST_OBJECT_HASH = 1, 2, 4
"""Flags sent with a test object: its class defines a truth value (``__bool__``/``__len__``),
an ``__eq__``, a ``__hash__``; without them the program's proxy answers as ``object`` would."""


def is_test_object(v: Any) -> bool:
    """An instance of a class the tests define, or a ``SimpleNamespace``: what may cross as a test object."""
    t = type(v)
    if isinstance(v, type) or isinstance(v, BaseException):
        return False
    return t.__module__ == TESTS_MODULE or (t.__module__ == "types" and t.__name__ == "SimpleNamespace")


def test_object_flags(v: Any) -> int:
    t = type(v)
    flags = 0
    if getattr(t, "__bool__", None) is not None or getattr(t, "__len__", None) is not None:
        flags |= TEST_OBJECT_BOOL
    if t.__eq__ is not object.__eq__:
        flags |= TEST_OBJECT_EQ
    if t.__hash__ is not object.__hash__:
        flags |= TEST_OBJECT_HASH
    return flags


_IN_PLACE_KINDS = frozenset({("collections", "deque"), ("collections", "Counter"), ("collections", "OrderedDict"),
                             ("collections", "defaultdict"), ("numpy", "ndarray")})


def changes_in_place(value: Any) -> bool:
    """Whether a call may change ``value`` in place (a list, dict, set, bytearray, tuple holding
    one, deque, Counter, numpy array...): the program's side compares such an argument after
    the call, and the judge writes a change into the tests' own object, never replacing it."""
    t = type(value)
    return t in (list, dict, set, bytearray, tuple) or (t.__module__, t.__name__) in _IN_PLACE_KINDS


def _plain_scalars(items: list[Any]) -> bool:
    """Whether every item is a str, a bool, None, an int that needs no tag or a finite float
    (each of the exact type: a subclass goes through ``_enc`` and is refused there)."""
    for x in items:
        t = type(x)
        if t is str or t is bool or x is None:
            continue
        if t is int:
            if -_BIG < x < _BIG:
                continue
            return False
        if t is float and x - x == 0.0:  # finite (inf - inf and nan - nan are nan)
            continue
        return False
    return True


# --------------------------------------------------------------------------- well-known types


def _known_value(v: Any, codec: Codec, d: int) -> Any:
    """Data for an exact well-known value type, or None."""
    t = type(v)
    mod = t.__module__
    if mod == "numpy":
        return _numpy_value(v, codec, d)
    if mod == "collections":
        name = t.__name__
        if name in ("Counter", "OrderedDict", "defaultdict") and t is getattr(sys.modules["collections"], name):
            # the same kind on the other side, so its own behaviour holds there: a Counter's
            # zero for a missing key and most_common, an OrderedDict's order in == (its own
            # order: move_to_end changes it, not the dict's), a defaultdict's default (a
            # builtin factory by name, another as a handle or callback)
            items = v.items() if name == "OrderedDict" else dict.items(v)
            pairs = [[codec._enc(k, d, False), codec._enc(x, d, False)] for k, x in items]
            if name == "defaultdict":
                factory = v.default_factory
                named = next((n for n, f in _FACTORIES.items() if f is factory), None)
                return {"dd": [named if named is not None else codec._enc(factory, d, True), pairs]}
            return {_COLLECTION_TAGS[name]: pairs}
        if name == "deque":
            return {"dq": [[codec._enc(x, d, False) for x in v], v.maxlen]}
    if t is range:
        return {"r": [v.start, v.stop, v.step]}
    if mod == "fractions" and t.__name__ == "Fraction":
        return {"q": [codec._enc(v.numerator, d, False), codec._enc(v.denominator, d, False)]}
    if mod == "decimal" and t.__name__ == "Decimal":
        return {"dec": str(v)}
    if mod == "datetime" and t.__name__ in ("datetime", "date", "time", "timedelta"):
        if t.__name__ == "timedelta":
            return {"td": [v.days, v.seconds, v.microseconds]}
        return {"dt": [t.__name__, v.isoformat()]}
    if t.__bases__ == (tuple,) and hasattr(t, "_fields") and hasattr(t, "_make"):
        fields = t._fields
        if type(fields) is tuple and all(type(f) is str for f in fields) and len(fields) == len(v):
            # a named tuple: rebuilt as one of that name and fields (its ``.x``, ``_asdict``)
            if len(codec.named_tuples) < 1024:
                codec.named_tuples.setdefault((t.__name__, fields), t)
            return {"nt": [str(t.__name__)[:100], list(fields), [codec._enc(x, d, False) for x in tuple.__iter__(v)]]}
        return {"t": [codec._enc(x, d, False) for x in tuple.__iter__(v)]}
    if mod == "builtins" and t.__name__ in _DICT_VIEWS:  # rebuilt as the same kind of view, in order
        if len(v) > MAX_DRAIN:
            raise WireLimit(f"a dict view of more than {MAX_DRAIN} items")
        return {_DICT_VIEWS[t.__name__]: [codec._enc(x, d, False) for x in v]}
    if mod == "builtins" and t.__name__ in _ITERATOR_TYPES:
        if codec.side == "program" and codec.handle_of is not None:
            # the program's: what comes at once, then a tail read as the tests go on
            items, start = [], time.process_time()
            for item in v:
                items.append(codec._enc(item, d, False))
                if len(items) >= MAX_DRAIN or (len(items) >= DRAIN_FIRST and time.process_time() - start > DRAIN_CPU_S):
                    return {"ig": [items, {"h": codec.handle_of(v), "k": t.__name__, "c": False}]}
            return {"i": items}
        items = []  # the tests': drained (bounded)
        for item in v:
            items.append(codec._enc(item, d, False))
            if len(items) > MAX_DRAIN:
                raise WireLimit(f"an iterator of more than {MAX_DRAIN} items")
        return {"i": items}
    return None


_ITERATOR_TYPES = frozenset({
    "generator", "map", "filter", "zip", "enumerate", "reversed", "list_iterator", "tuple_iterator",
    "range_iterator", "set_iterator", "str_iterator", "dict_keyiterator", "dict_valueiterator",
    "dict_itemiterator",
})
_DICT_VIEWS = {"dict_keys": "dk", "dict_values": "dv", "dict_items": "di"}


def _numpy_value(v: Any, codec: Codec, d: int) -> Any:
    import numpy as np  # only reached when the value is a numpy object

    t = type(v)
    if t is np.ndarray:
        if v.dtype.kind not in "biufcUS":
            return None
        return {"n": [v.dtype.str, list(v.shape), [codec._enc(x, d, False) for x in v.ravel().tolist()]]}
    if isinstance(v, np.generic) and t.__module__ == "numpy" and v.dtype.kind in "biufcUS":
        return codec._enc(v.item(), d, False)
    return None


_FACTORIES: dict[str, Any] = {f.__name__: f for f in (int, float, str, list, dict, set, tuple, frozenset, bool, bytes, complex)}
_FACTORIES["None"] = None
_COLLECTION_TAGS = {"Counter": "ct", "OrderedDict": "od"}
# the named tuple classes made for values that crossed, by name and fields (bounded: the
# judge lives across tasks)
_NAMED_TUPLES: dict[tuple[str, tuple[str, ...]], type] = {}


def _named_tuple(name: Any, fields: Any) -> type:
    import keyword
    from collections import namedtuple

    if (type(name) is not str or not name.isidentifier() or keyword.iskeyword(name) or type(fields) is not list
            or len(fields) > 255 or len(set(fields)) != len(fields)
            or not all(type(f) is str and f.isidentifier() and not keyword.iskeyword(f) and not f.startswith("_")
                       and len(f) <= 100 for f in fields)):
        raise WireError("bad named tuple")
    key = (name, tuple(fields))
    cls = _NAMED_TUPLES.get(key)
    if cls is None:
        if len(_NAMED_TUPLES) >= 1024:
            _NAMED_TUPLES.clear()
        cls = _NAMED_TUPLES[key] = namedtuple(name, fields, module="solution")
    return cls


def _pairs(x: Any, codec: Codec, d: int) -> list[tuple[Any, Any]]:
    if type(x) is not list or not all(type(p) is list and len(p) == 2 for p in x):
        raise WireError("bad mapping")
    return [(codec._dec(k, d), codec._dec(v, d)) for k, v in x]


class Awaited:
    """(program side) What a coroutine the program returned came to, run to its end in the
    program's process when it was returned; it crosses as ``{"aw": value}``, a coroutine on the
    tests' side that gives the value when awaited (``asyncio.run(f(x))``, ``await f(x)``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


async def _awaited(value: Any) -> Any:
    return value


def _decode_known(tag: str, x: Any, codec: Codec, d: int) -> Any:
    if tag == "aw" and codec.side == "judge":
        return _awaited(codec._dec(x, d))
    if tag in ("ct", "od", "dd"):
        import collections

        if tag == "dd":
            if type(x) is not list or len(x) != 2:
                raise WireError("bad defaultdict")
            if type(x[0]) is str and x[0] not in _FACTORIES:
                raise WireError("bad defaultdict factory")
            factory = _FACTORIES[x[0]] if type(x[0]) is str else codec._dec(x[0], d)
            if factory is not None and not callable(factory):
                raise WireError("bad defaultdict factory")
            out = collections.defaultdict(factory)
            x = x[1]
        else:
            out = collections.Counter() if tag == "ct" else collections.OrderedDict()
        for k, v in _pairs(x, codec, d):
            out[k] = v
        return out
    if tag == "nt":
        if type(x) is not list or len(x) != 3:
            raise WireError("bad named tuple")
        name, fields, items = x
        cls = codec.named_tuples.get((name, tuple(fields))) if type(name) is str and type(fields) is list \
            and all(type(f) is str for f in fields) else None
        cls = cls or _named_tuple(name, fields)
        values = codec._dec_list(items, d)
        if len(values) != len(fields):
            raise WireError("bad named tuple")
        return cls(*values)
    if tag in ("dk", "dv", "di"):
        items = codec._dec_list(x, d)
        if tag == "dk":
            return dict.fromkeys(items).keys()
        if tag == "dv":
            return dict(enumerate(items)).values()
        if not all(type(p) is tuple and len(p) == 2 for p in items):
            raise WireError("bad dict items")
        return dict(items).items()
    if tag == "dq":
        from collections import deque

        items, maxlen = x
        if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
            raise WireError("bad deque")
        return deque(codec._dec_list(items, d), maxlen)
    if tag == "r":
        start, stop, step = x
        if not all(type(i) is int for i in (start, stop, step)):
            raise WireError("bad range")
        return range(start, stop, step)
    if tag == "q":
        from fractions import Fraction

        num, den = (codec._dec(i, d) for i in x)
        if type(num) is not int or type(den) is not int:
            raise WireError("bad fraction")
        return Fraction(num, den)
    if tag == "dec":
        from decimal import Decimal

        if type(x) is not str or len(x) > 10_000:
            raise WireError("bad decimal")
        return Decimal(x)
    if tag == "td":
        import datetime

        if not all(type(i) is int for i in x):
            raise WireError("bad timedelta")
        return datetime.timedelta(*x)
    if tag == "dt":
        import datetime

        name, text = x
        if name not in ("datetime", "date", "time") or type(text) is not str or len(text) > 64:
            raise WireError("bad datetime")
        return getattr(datetime, name).fromisoformat(text)
    if tag == "n":
        dtype, shape, flat = x
        if type(dtype) is not str or len(dtype) > 16 or type(shape) is not list or not all(type(i) is int and i >= 0 for i in shape):
            raise WireError("bad array")
        items = codec._dec_list(flat, d)
        if math.prod(shape) != len(items):
            raise WireError("bad array shape")
        try:
            import numpy as np
        except ImportError:
            return _nest(items, shape)
        try:
            dt = np.dtype(dtype)
        except (TypeError, ValueError) as exc:
            raise WireError("bad array dtype") from exc
        if dt.kind not in "biufcUS" or len(shape) > 32:
            raise WireError("bad array dtype")
        if dt.itemsize * max(1, len(items)) > MAX_MESSAGE_BYTES:
            # the dtype's width is the sender's word (``|S2000000000`` is one 2 GB string): the
            # array must be no bigger than a message could carry
            raise WireLimit(f"an array of {len(items)} x {dt.itemsize} bytes is over the wire's {MAX_MESSAGE_BYTES} bytes")
        try:
            return np.array(items, dtype=dt).reshape(shape)
        except (TypeError, ValueError, OverflowError) as exc:
            raise WireError(f"bad array: {exc}") from exc
    raise WireError(f"unknown tag {tag!r}")


def _nest(items: list[Any], shape: list[int]) -> Any:
    if len(shape) <= 1:
        return items
    step = len(items) // shape[0] if shape[0] else 0
    return [_nest(items[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]
