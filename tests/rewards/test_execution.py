"""Execution success of code in a real LocalSandbox, graded levels, cache and infrastructure failures."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.execution import CodeExecutor, ExecutionStatus, Grading, extract_program, prompt_imports
from exectune_rl.sandboxes.base import ExecRequest, ExecResult, Sandbox
from exectune_rl.tasks.base import Task


class InfraSandbox(Sandbox):
    """A sandbox whose every run fails as infrastructure (what a dead worker pool reports)."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        self.calls += 1
        return [ExecResult.infra("worker died") for _ in requests]


class RaisingSandbox(Sandbox):
    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        raise OSError("cannot fork")


ADD = Task("add", "code", "def add(a, b):\n", tests="assert add(1, 2) == 3\nassert add(2, 2) == 4", test_format="asserts", entry_point="add")


def test_canonical_solutions_pass(sandbox: Sandbox, he_tasks: list[Task]) -> None:
    ex = CodeExecutor(sandbox, cache_size=0)
    results = ex.run([t.reference for t in he_tasks], he_tasks)  # type: ignore[misc]
    assert [r.status for r in results] == [ExecutionStatus.PASSED] * len(he_tasks)
    assert all(r.value == 1.0 and r.success and r.syntax is not None and r.syntax.ok for r in results)


def test_graded_levels(sandbox: Sandbox) -> None:
    ex = CodeExecutor(sandbox, cache_size=0)
    outputs = [
        "def add(a, b):\n    return a + b\n",  # all pass
        "def add(a, b):\n    return 3\n",  # first assert passes, second fails
        "def add(a, b):\n    raise ValueError('no')\n",  # runs, every test fails
        "def add(a, b):\n    return (a +\n",  # does not parse: never reaches the sandbox
        "I cannot solve this.",  # prose: no program
    ]
    r = ex.run(outputs, [ADD] * 5)
    assert [x.status for x in r] == [
        ExecutionStatus.PASSED, ExecutionStatus.FAILED, ExecutionStatus.FAILED,
        ExecutionStatus.SYNTAX_ERROR, ExecutionStatus.SYNTAX_ERROR,
    ]  # fmt: skip
    assert r[0].value == 1.0
    # Graded: 0.1 parses + 0.1 runs + 0.8 * fraction passed.
    assert r[1].fraction == pytest.approx(0.5) and r[1].value == pytest.approx(0.1 + 0.1 + 0.8 * 0.5)
    assert r[2].value == pytest.approx(0.2)
    assert r[3].value == 0.0 and "line" in r[3].detail


def test_binary_grading(sandbox: Sandbox) -> None:
    ex = CodeExecutor(sandbox, cache_size=0, grading=Grading(graded=False))
    [r] = ex.run(["def add(a, b):\n    return 3\n"], [ADD])
    assert r.status is ExecutionStatus.FAILED and r.value == 0.0


def test_exiting_before_the_tests_does_not_pass(sandbox: Sandbox) -> None:
    ex = CodeExecutor(sandbox, cache_size=0)
    [r] = ex.run(["import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n"], [ADD])
    assert not r.success and r.status is not ExecutionStatus.PASSED


def test_body_only_answers_get_the_prompt(sandbox: Sandbox, he_tasks: list[Task]) -> None:
    task = he_tasks[0]
    assert task.reference is not None and not task.reference.lstrip().startswith("def ")
    program = extract_program(task.reference, task)
    assert program.startswith(task.problem)
    [r] = CodeExecutor(sandbox, cache_size=0).run([task.reference], [task])
    assert r.success


def test_a_full_function_without_the_prompts_imports_gets_them(sandbox: Sandbox, he_tasks: list[Task]) -> None:
    task = he_tasks[0]  # HumanEval/0: `from typing import List`, then has_close_elements(numbers: List[float], ...)
    assert "from typing import List" in task.problem
    header = next(line for line in task.problem.splitlines() if line.startswith(f"def {task.entry_point}("))
    full = f"```python\n{header}\n{task.reference}```"
    program = extract_program(full, task)
    assert program.startswith("from typing import List\n") and program.count("from typing import List") == 1
    with_import = "```python\nfrom typing import List\n\n" + header + "\n" + task.reference + "```"
    assert extract_program(with_import, task).count("from typing import List") == 1  # not added twice
    [r] = CodeExecutor(sandbox, cache_size=0).run([full], [task])
    assert r.success, r.detail


def test_prompt_imports_keep_future_imports_first() -> None:
    prompt = "from __future__ import annotations\nfrom typing import (\n    List,\n    Tuple,\n)\nimport math\n\ndef f(x: List[int]) -> int:\n    import os\n"
    assert prompt_imports(prompt) == ["from __future__ import annotations", "from typing import (\n    List,\n    Tuple,\n)", "import math"]
    task = Task("f", "code", prompt, tests="assert f([1]) == 1", test_format="asserts", entry_point="f")
    program = extract_program("from __future__ import division\ndef f(x: List[int]) -> int:\n    return math.floor(len(x))\n", task)
    assert program.splitlines()[:3] == ["from __future__ import annotations", "from __future__ import division", "from typing import ("]
    compile(program, "<program>", "exec")  # __future__ imports still come first
    assert "    import os" not in program  # only top-level imports are taken


def test_program_extraction_prefers_the_block_defining_the_entry_point() -> None:
    out = "Run it:\n```bash\npython x.py\n```\n```python\ndef helper():\n    pass\n```\n```python\ndef add(a, b):\n    return a + b\n```"
    assert extract_program(out, ADD) == "def add(a, b):\n    return a + b"
    assert extract_program("   ", ADD) == ""


def test_unparsable_programs_never_start_a_sandbox() -> None:
    ex = CodeExecutor(sandbox_name="local", cache_size=0)
    r = ex.run(["def add(a, b:\n  return 1\n", ""], [ADD, ADD])
    assert [x.status for x in r] == [ExecutionStatus.SYNTAX_ERROR, ExecutionStatus.NO_CODE]
    assert ex._sandbox is None  # nothing needed running, so no pool was created


def test_identical_runs_hit_the_cache(sandbox: Sandbox) -> None:
    ex = CodeExecutor(sandbox, cache_size=8)
    prog = "def add(a, b):\n    return a + b\n"
    first = ex.run([prog, prog], [ADD, ADD])  # duplicates inside one batch run once
    assert ex.misses == 1 and not first[0].cached
    [again] = ex.run([prog], [ADD])
    assert again.cached and again.success and ex.hits == 1


def test_infra_results_are_reported_and_not_cached() -> None:
    infra = InfraSandbox()
    ex = CodeExecutor(infra, cache_size=8)
    prog = "def add(a, b):\n    return a + b\n"
    [r] = ex.run([prog], [ADD])
    assert r.is_infra and r.status is ExecutionStatus.INFRA
    ex.run([prog], [ADD])
    assert infra.calls == 2  # an infrastructure failure must be retried, not remembered


def test_a_raising_sandbox_becomes_infra() -> None:
    [r] = CodeExecutor(RaisingSandbox(), cache_size=0).run(["def add(a, b):\n    return a + b\n"], [ADD])
    assert r.is_infra and "cannot fork" in r.detail


def test_executor_pickles_without_its_pool(sandbox: Sandbox) -> None:
    ex = CodeExecutor(sandbox, cache_size=4)
    clone = pickle.loads(pickle.dumps(ex))
    assert clone._sandbox is None and clone.cache_size == 4
    [r] = clone.run(["def add(a, b):\n    return (\n"], [ADD])
    assert r.status is ExecutionStatus.SYNTAX_ERROR


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="cache_size"):
        CodeExecutor(cache_size=-1)
    with pytest.raises(ConfigError, match="parse_credit"):
        Grading(parse_credit=0.7, run_credit=0.7)
    with pytest.raises(ConfigError, match="differ in length"):
        CodeExecutor(InfraSandbox()).run(["x"], [])
