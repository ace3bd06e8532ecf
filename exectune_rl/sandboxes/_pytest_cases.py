"""pytest-style tests without pytest's runner: each test expanded into its cases.

Trusted code, put as text before the tests' calls (by ``runner``), in the judge's code and in
the in-process harness; it is never imported, so it holds no ``__future__`` import and imports
only inside its functions. ``__et_collect`` finds the tests once the tests' code has run (see
there). For each test it:

- expands ``@pytest.mark.parametrize`` marks (stacked marks multiply, as in pytest;
  ``pytest.param`` values are honoured) and drops the test under ``skip``, a true ``skipif``
  or ``xfail`` (an expected failure is not judged), marks of the test, its class or the
  module's ``pytestmark``, pytest's own Mark objects only (never a name of the program);
- passes each other argument from a fixture the test module defines (``@pytest.fixture``;
  fixtures may take fixtures, a generator fixture is finished after its case, ``autouse`` and
  ``usefixtures`` work), built anew for each case; of pytest's own fixtures only ``capsys`` is
  provided (what the program prints during the tests' calls is forwarded to the tests'
  stdout and stderr; ``capfd`` is the same), ``monkeypatch`` (undone after each case) and ``request``
  (``param``, ``getfixturevalue``, ``addfinalizer``); a fixture's ``params`` and
  ``parametrize(..., indirect=...)`` give ``request.param``, and a ``pytest_generate_tests``
  hook of the tests parametrizes through ``metafunc.parametrize``; a test needing any other
  fixture (``tmp_path``) is a limit of the harness: ``INFRA`` in the judge, a failed case in
  the program's process;
- runs a coroutine test marked ``asyncio`` or ``anyio`` (the test, its class or the module) with
  ``asyncio.run``;
- drops a ``unittest`` test its ``skip``/``skipIf``/``skipUnless`` decorators skip (or its
  class's) and one marked ``expectedFailure``;
- runs a module's ``setup_function``/``teardown_function`` around each of its test functions;
- runs a class's ``setup_class``/``setUpClass`` once and its ``setup_method``/
  ``teardown_method`` (``setUp``/``tearDown`` of a ``unittest.TestCase``) around each test.

Only objects of the tests are inspected, never the program's.
"""

__et_classes_set_up = set()

def __et_pytest(get, ns):
    try:
        fn = get()
        return __et_pytest_cases(fn, ns)
    except Exception as exc:
        def fail(exc=exc):
            raise exc
        return [fail]

def __et_collect(ns, filename):
    """The tests to run, as pytest collects them, from what the tests' code bound once it ran
    (so tests made in loops, by factories, under ``if``/``try``, or set on a class are found):
    each ``test*`` function of the tests' own code (compiled from ``filename``: never a name of
    the program), and each ``test*`` method of the tests' own code (``runTest`` where a
    ``TestCase`` has no other) of every ``unittest.TestCase`` subclass and every other class
    named ``Test*`` (nested ones too), in the order they were defined. Each comes as a
    callable giving the test (a method on a fresh instance: ``TestCase(name)`` for unittest)."""
    import types

    module_async = __et_async_marked(ns.get("pytestmark", ()))

    def ours(f, awaited=False):
        outer = f
        for _ in range(16):  # through decorators' wrappers (functools.wraps: mock.patch, unittest.skip)
            if type(f) is not types.FunctionType:
                return False
            if f.__code__.co_filename == filename:
                # a coroutine never awaited is no pass: async tests run only where their class
                # awaits them (IsolatedAsyncioTestCase) or a pytest ``asyncio``/``anyio`` mark
                # (of the test, its class or the module) asks for it; async generators never
                flags = f.__code__.co_flags
                awaited = awaited or module_async or __et_async_marked(outer.__dict__.get("pytestmark", ()))
                return not flags & 0x200 and (awaited or not flags & 0x80)
            f = f.__dict__.get("__wrapped__")
        return False

    def unit(c):
        return any(b.__name__ == "TestCase" and b.__module__ == "unittest.case" for b in c.__mro__)

    def methods(c):
        names = []
        for k in reversed(c.__mro__):
            for name, value in list(k.__dict__.items()):
                if name.startswith("test") and name not in names:
                    names.append(name)
        awaited = __et_awaits(c) or __et_async_marked(c.__dict__.get("pytestmark", ()))
        found = [n for n in names if ours(getattr(c, n, None), awaited)]
        if not found and unit(c) and ours(getattr(c, "runTest", None)):
            found = ["runTest"]
        return found

    def is_test_class(c, name):
        if not isinstance(c, type) or c.__dict__.get("__test__", True) is False:
            return False
        return unit(c) or (name.startswith("Test") and "__init__" not in c.__dict__)

    out, seen = [], set()

    def add_class(c):
        if id(c) in seen:
            return
        seen.add(id(c))
        for name in methods(c):
            out.append((lambda c=c, name=name: getattr(c(name) if unit(c) else c(), name)))
        for name, inner in list(c.__dict__.items()):  # pytest collects nested test classes
            if is_test_class(inner, name):
                add_class(inner)

    for name, value in list(ns.items()):
        if name.startswith("test") and ours(value) and id(value) not in seen:
            seen.add(id(value))
            out.append(lambda value=value: value)
        elif is_test_class(value, name):  # only its methods of the tests' own code are taken
            add_class(value)
    return out

def __et_marks(marks):
    """pytest's own Mark objects among ``marks`` (one mark or a list): never a name of the program."""
    marks = list(marks) if type(marks) in (list, tuple) else [marks]
    return [getattr(m, "mark", m) for m in marks
            if type(m).__name__ in ("Mark", "MarkDecorator") and type(m).__module__.startswith("_pytest")]

def __et_async_marked(marks):
    """Whether ``marks`` hold pytest-asyncio's ``asyncio`` or anyio's ``anyio`` mark, which run a coroutine test."""
    return any(getattr(m, "name", None) in ("asyncio", "anyio") for m in __et_marks(marks))

def __et_module(ns):
    """The tests' module as ``setup_module(module)`` gets it: its names, read and set."""
    class TestsModule:
        __slots__ = ()

        def __getattr__(self, name):
            try:
                return ns[name]
            except KeyError:
                raise AttributeError(name) from None

        def __setattr__(self, name, value):
            ns[name] = value

        def __delattr__(self, name):
            ns.pop(name, None)

    return TestsModule()

def __et_awaits(cls):
    """Whether ``cls`` is a unittest ``IsolatedAsyncioTestCase``, which awaits its tests."""
    return any(b.__name__ == "IsolatedAsyncioTestCase" and b.__module__ == "unittest.async_case" for b in cls.__mro__)

def __et_capsys():
    import collections, io, sys
    result = collections.namedtuple("CaptureResult", "out err")

    class Capture:
        def __init__(self):
            self.saved = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = io.StringIO(), io.StringIO()

        def readouterr(self):
            out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
            sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
            return result(out, err)

    capture = Capture()
    try:
        yield capture
    finally:
        sys.stdout, sys.stderr = capture.saved

def __et_pytest_cases(fn, ns):
    import types
    if getattr(type(fn), "_et_handle_id", False):
        raise TypeError("a test function of the tests was replaced by a name of the program")
    func = fn.__func__ if type(fn) is types.MethodType else fn
    if type(func) is not types.FunctionType:
        return [lambda: (fn(), True)[1]]
    owner = getattr(fn, "__self__", None)
    # unittest's skip decorators (``skip``, a true ``skipIf``, a false ``skipUnless``, of the
    # method or its class) and ``expectedFailure``: not judged, as a skip or an xfail mark
    if func.__dict__.get("__unittest_skip__") is True or func.__dict__.get("__unittest_expecting_failure__") is True:
        return []
    if owner is not None and any(c.__dict__.get("__unittest_skip__") is True for c in type(owner).__mro__
                                 if c.__module__ == type(owner).__module__):  # the tests' classes, never unittest's own
        return []
    # pytest's own marks only: a name the program binds (its own "pytestmark") is never one
    marks = __et_marks(func.__dict__.get("pytestmark", ()))
    if owner is not None:
        marks += __et_marks(type(owner).__dict__.get("pytestmark", ()))
    marks += __et_marks(ns.get("pytestmark", ()))
    fixtures, autouse, fixture_params = {}, [], {}
    # the module's fixtures, then those of the test's class (its own classes of the tests, the
    # nearest last), bound to the test's instance
    sources = [(v, None) for v in list(ns.values())]
    if owner is not None:
        for c in reversed(type(owner).__mro__):
            if c.__module__ == type(owner).__module__:
                sources += [(v, owner) for v in list(c.__dict__.values())]
    for value, bound in sources:
        kind = type(value)
        if kind.__name__ == "FixtureFunctionDefinition" and kind.__module__.startswith("_pytest"):
            f, marker = value._get_wrapped_function(), getattr(value, "_fixture_function_marker", None)
        elif kind is types.FunctionType and "_pytestfixturefunction" in value.__dict__:
            marker = value.__dict__["_pytestfixturefunction"]
            f = getattr(value.__dict__.get("__pytest_wrapped__"), "obj", value)
        else:
            continue
        name = getattr(marker, "name", None) or getattr(value, "name", None) or f.__name__
        fixtures[name] = f if bound is None else types.MethodType(f, bound)
        params = getattr(marker, "params", None)
        if params is not None:  # a parametrized fixture: each test using it runs once per param
            fixture_params[name] = list(params)
        else:
            fixture_params.pop(name, None)  # a nearer fixture of the name overrides one with params
        if getattr(marker, "autouse", False):
            autouse.append(name)
    for name, builtin in (("capsys", __et_capsys), ("capfd", __et_capsys), ("monkeypatch", __et_monkeypatch)):
        fixtures.setdefault(name, builtin)
    setup = teardown = None
    if owner is not None:
        unit = any(c.__name__ == "TestCase" and c.__module__.startswith("unittest") for c in type(owner).__mro__)
        cls = type(owner)
        if cls not in __et_classes_set_up:
            __et_classes_set_up.add(cls)
            once = getattr(cls, "setUpClass" if unit else "setup_class", None)
            if type(once) is types.FunctionType and once.__code__.co_argcount:
                once(cls)  # pytest's setup_class(cls) written without @classmethod
            elif once is not None:
                once()
        setup = getattr(owner, "setUp" if unit else "setup_method", None)
        teardown = getattr(owner, "tearDown" if unit else "teardown_method", None)
        if unit:  # the cleanups a unittest test added (addCleanup) run after its tearDown
            teardown = (lambda down=teardown, owner=owner: (down(), owner.doCleanups())) if teardown else owner.doCleanups
        if unit and __et_awaits(cls):
            def awaited(owner=owner, fn=fn):  # as unittest runs it: setUp, asyncSetUp, the test, their tear-downs
                import asyncio, inspect

                async def main():
                    owner.setUp()
                    await owner.asyncSetUp()
                    try:
                        result = fn()
                        if inspect.isawaitable(result):
                            await result
                    finally:
                        await owner.asyncTearDown()
                        owner.tearDown()
                try:
                    asyncio.run(main())
                finally:
                    owner.doCleanups()
                return True
            return [awaited]
    else:  # a module's setup_function/teardown_function, where the tests define them
        setup, teardown = (ns.get("__et_function_hooks") or (None, None, None))[:2]
    code = func.__code__
    if code.co_flags & 0x20:  # CO_GENERATOR: nose-style, each yielded (check, *args) is called
        def checks(fn=fn):
            for item in fn():
                if type(item) is tuple and item and callable(item[0]):
                    item[0](*item[1:])
                elif callable(item):
                    item()
            return True
        return [checks]
    wanted = code.co_argcount + code.co_kwonlyargcount - (1 if owner is not None else 0)
    coroutine = bool(code.co_flags & 0x80)  # collected only where a mark asks for it to be run
    generate = (ns.get("__et_function_hooks") or (None, None, None))[2:3]
    generate = generate[0] if generate and type(generate[0]) is types.FunctionType else None
    if not marks and not wanted and not autouse and setup is None and teardown is None and not coroutine \
            and generate is None:
        return [lambda: (fn(), True)[1]]
    import inspect, itertools
    grids, used, indirect = [], list(autouse), set()

    def param_values(value, width):
        """A row of a parametrization (``pytest.param`` unwrapped); None where its marks skip it."""
        if type(value).__name__ == "ParameterSet":
            if any(getattr(m, "name", None) in ("skip", "xfail") for m in value.marks):
                return None
            return tuple(value.values)
        return (value,) if width == 1 else tuple(value)

    def grid(names, values, how=False):
        # ``indirect`` names go to their fixture, as ``request.param`` (keys "\0name")
        names = [n.strip() for n in names.split(",") if n.strip()] if isinstance(names, str) else list(names)
        to_fixture = set(names) if how is True else set(how) if type(how) in (list, tuple) else set()
        indirect.update(to_fixture)
        keys = ["\0" + n if n in to_fixture else n for n in names]
        rows = []
        for value in values:
            value = param_values(value, len(names))
            if value is not None:
                rows.append(dict(zip(keys, value)))
        grids.append(rows)
    for mark in marks:
        name = getattr(mark, "name", None)
        if name in ("skipif", "xfail"):
            cond = mark.args[0] if mark.args else mark.kwargs.get("condition", name == "xfail")
            if type(cond) not in (bool, int):  # a string to evaluate, or an object (of the program?) deciding
                cond = False
        if name == "skip" or (name in ("skipif", "xfail") and cond):
            return []  # an expected failure is not judged either: pytest does not fail a suite on one
        if name == "usefixtures":
            used += [n for n in mark.args if isinstance(n, str)]
        if name != "parametrize":
            continue
        args, kwargs = tuple(mark.args), dict(mark.kwargs)
        grid(args[0] if args else kwargs.get("argnames"), args[1] if len(args) > 1 else kwargs.get("argvalues", ()),
             kwargs.get("indirect", False))

    def arguments(f, given):
        out = []
        for p in inspect.signature(f).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and (p.default is p.empty or p.name in given):
                out.append(p.name)
        return out

    # the arguments mock.patch decorators pass come first, as pytest leaves them
    patched = len(getattr(func, "patchings", None) or ())
    direct = {k for rows in grids for row in rows for k in row if not k.startswith("\0")}
    test_args = arguments(fn, direct)[patched:]

    def closure():
        """The fixtures the test needs, through the fixtures they take (names parametrized directly excluded)."""
        order, todo = [], list(used) + test_args
        while todo:
            name = todo.pop(0)
            if name in order or name in direct or name == "request":
                continue
            order.append(name)
            if name in fixtures:
                todo += arguments(fixtures[name], {})
        return order

    if generate is not None:
        class Metafunc:
            """What a ``pytest_generate_tests`` hook of the tests sees of the test it parametrizes."""
            __module__ = "_pytest.python"
            function, cls, module, config, definition = func, type(owner) if owner is not None else None, None, None, None
            fixturenames = closure() + sorted(direct)

            def parametrize(self, argnames, argvalues, indirect=False, ids=None, scope=None):
                grid(argnames, argvalues, indirect)
                for row in grids[-1][:1]:
                    direct.update(k for k in row if not k.startswith("\0"))

        generate(Metafunc())
    for name in closure():  # a parametrized fixture multiplies the cases of every test using it
        if name in fixture_params and name not in indirect:
            rows = [param_values(v, 1) for v in fixture_params[name]]
            grids.append([{"\0" + name: row[0]} for row in rows if row is not None])
    missing = ns.get("__et_harness_error") or LookupError

    def make(params):
        def case():
            values = {k: v for k, v in params.items() if not k.startswith("\0")}
            given = {k[1:]: v for k, v in params.items() if k.startswith("\0")}
            finish = []

            class Request:
                """pytest's ``request`` as a fixture (or the test) sees it: ``param``, ``getfixturevalue``,
                ``addfinalizer``. Of pytest's module, as pytest's own is: never an object of the tests
                that crosses to the program."""
                __module__ = "_pytest.fixtures"
                function, cls, instance, config = func, type(owner) if owner is not None else None, owner, None

                def __init__(self, fixturename):
                    self.fixturename = fixturename
                    self.node = self
                    self.name = func.__name__
                    if fixturename in given:
                        self.param = given[fixturename]

                def getfixturevalue(self, name):
                    return need(name, ())

                def addfinalizer(self, finalizer):
                    finish.append(finalizer)

            def need(name, chain):
                if name in values:
                    return values[name]
                if name not in fixtures or name in chain:
                    # which fixtures a test needs is the tests' choice alone: a limit of this
                    # harness (or a fault of the tests), never the program's failure
                    raise missing(f"fixture {name!r} not found (the tests' own fixtures, capsys, capfd, "
                                  f"monkeypatch and request only)")
                f = fixtures[name]
                value = f(**{p: Request(name) if p == "request" else need(p, chain + (name,)) for p in arguments(f, values)})
                if inspect.isgenerator(value):
                    finish.append(value)
                    value = next(value)
                values[name] = value
                return value

            try:
                for name in used:
                    need(name, ())
                if setup is not None:
                    setup(*([func] if arguments(setup, {}) else []))
                try:
                    result = fn(**{p: Request(None) if p == "request" else need(p, ()) for p in arguments(fn, values)[patched:]})
                    if coroutine and inspect.iscoroutine(result):
                        import asyncio
                        asyncio.run(result)
                finally:
                    if teardown is not None:
                        teardown(*([func] if arguments(teardown, {}) else []))
            finally:
                for end in reversed(finish):
                    if inspect.isgenerator(end):
                        try:
                            next(end)
                        except StopIteration:
                            pass
                    else:
                        end()
            return True
        return case

    combos = itertools.product(*grids) if grids else [()]
    return [make({k: v for part in combo for k, v in part.items()}) for combo in combos]

def __et_monkeypatch():
    """pytest's ``monkeypatch``, undone after its case (on the tests' side: what it patches
    in the tests' process never reaches the program's; an attribute of a program object it
    sets is a call the program answers)."""
    import pytest
    patch = pytest.MonkeyPatch()
    try:
        yield patch
    finally:
        patch.undo()
