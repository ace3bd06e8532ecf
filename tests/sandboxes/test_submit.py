"""Submitting work: a batch queued on the pool while the caller goes on, on real processes.

``Sandbox.submit`` (every sandbox), ``submit_tests`` and ``CodeExecutor.submit`` return a
future of what the matching ``run`` gives; LocalSandbox returns it before the work is done,
and the executor hands a queueing sandbox its batch in parts as the programs pass the precheck.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from exectune_rl.errors import SandboxClosedError
from exectune_rl.rewards.execution import CodeExecutor, ExecutionStatus
from exectune_rl.sandboxes import ExecRequest, ExecResult, ExecStatus, LocalSandbox, Sandbox
from exectune_rl.sandboxes.runner import ProgramTests, TestStatus, run_tests, submit_tests
from exectune_rl.tasks.base import Task

ADD = ProgramTests("asserts", code="assert add(1, 2) == 3\nassert add(2, 2) == 4")


class Echo(Sandbox):
    """A sandbox of its own: ``run`` only (so ``submit`` is the base class's)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        requests = self.requests_of(requests)
        self.calls.append(len(requests))
        return [ExecResult(ExecStatus.OK, stdout=r.code) for r in requests]


class CountingPool(LocalSandbox):
    """LocalSandbox that records the size of every submission."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.submitted: list[int] = []

    def submit(self, requests):
        self.submitted.append(len(requests))
        return super().submit(requests)


def test_the_default_submit_runs_at_once_and_raises_what_run_raises() -> None:
    sb = Echo()
    fut = sb.submit([ExecRequest("a"), ExecRequest("b")])
    assert fut.done() and [r.stdout for r in fut.result()] == ["a", "b"] and sb.calls == [2]
    assert not sb.queues_submissions
    with pytest.raises(TypeError):
        sb.submit(ExecRequest("a"))  # a single request, as run() refuses it


def test_local_submit_returns_before_the_work_is_done(pool) -> None:
    start = time.monotonic()
    fut = pool.submit([ExecRequest("import time\ntime.sleep(0.6)\nprint('slept')", cpu_time_s=2.0)])
    assert time.monotonic() - start < 0.5 and not fut.done()
    [res] = fut.result(timeout=30)
    assert res.status is ExecStatus.OK and res.stdout == "slept\n"
    assert pool.submit([]).result() == []


def test_cancelling_a_submission_drops_what_has_not_started() -> None:
    with LocalSandbox(workers=1) as sb:
        sleepy = [ExecRequest("import time\ntime.sleep(1.0)", cpu_time_s=2.0) for _ in range(4)]
        fut = sb.submit(sleepy)
        time.sleep(0.3)  # the first has started
        assert fut.cancel()
        start = time.monotonic()
        [res] = sb.run([ExecRequest("print(7)")])
        # behind at most the one that had started, never the three queued ones
        assert res.stdout == "7\n" and time.monotonic() - start < 2.5


def test_submit_on_a_closed_pool_raises() -> None:
    sb = LocalSandbox(workers=1)
    sb.close()
    with pytest.raises(SandboxClosedError):
        sb.submit([ExecRequest("print(1)")])


def test_close_fails_what_is_queued_as_infra_through_the_future() -> None:
    sb = LocalSandbox(workers=1)
    try:
        fut = sb.submit([ExecRequest("import time\ntime.sleep(1.0)", cpu_time_s=2.0) for _ in range(3)])
        time.sleep(0.3)
    finally:
        sb.close()
    results = fut.result(timeout=30)
    assert len(results) == 3 and all(r.status is ExecStatus.INFRA for r in results[1:])


def test_submit_tests_gives_what_run_tests_gives(pool) -> None:
    programs = ["def add(a, b):\n    return a + b\n", "def add(a, b):\n    return 3\n", "def add(a, b:\n"]
    fut = submit_tests(pool, programs, ADD, cpu_time_s=2.0)
    got = [(o.status, o.passed, o.passed_cases, o.total_cases) for o in fut.result(timeout=60)]
    want = [(o.status, o.passed, o.passed_cases, o.total_cases) for o in run_tests(pool, programs, ADD, cpu_time_s=2.0)]
    assert got == want
    assert [g[0] for g in got] == [TestStatus.PASSED, TestStatus.FAILED, TestStatus.SYNTAX_ERROR]


def _task(i: int, tests: str | None = "assert add(1, 2) == 3\nassert add(2, 2) == 4") -> Task:
    return Task(f"add-{i}", "code", "def add(a, b):\n", tests=tests, test_format="asserts", entry_point="add")


def test_the_executor_streams_a_batch_in_parts_with_the_same_results() -> None:
    # 40 distinct programs, a broken row and a duplicate among them
    outputs, tasks = [], []
    for i in range(40):
        body = "return a + b" if i % 3 else "return a - b"
        outputs.append(f"```python\ndef add(a, b):\n    # {i}\n    {body}\n```")
        tasks.append(_task(i))
    outputs.append(outputs[1])
    tasks.append(tasks[1])
    outputs.append("```python\ndef add(a, b):\n    return a + b\n```")
    bad = Task("bad", "code", "def add(a, b):\n", tests='[["1", "1"]]', test_format="io")
    object.__setattr__(bad, "tests", "[not json")  # tests that no longer load (validated tasks never get here)
    tasks.append(bad)
    with CountingPool(workers=2) as sb:
        ex = CodeExecutor(sb, cache_size=0)
        fut = ex.submit(outputs, tasks)
        streamed = fut.result(timeout=120)
        parts = list(sb.submitted)
    assert len(parts) > 1 and sum(parts) == 40, parts  # in parts; the duplicate runs once, the bad row not at all
    whole = CodeExecutor(_Whole(), cache_size=0).run(outputs, tasks)
    assert [(r.status, r.value) for r in streamed] == [(r.status, r.value) for r in whole]
    assert [r.status for r in streamed[:40]] == [ExecutionStatus.FAILED if i % 3 == 0 else ExecutionStatus.PASSED
                                                  for i in range(40)]
    assert streamed[40].status is ExecutionStatus.PASSED
    assert streamed[41].status is ExecutionStatus.INFRA and "bad tests" in streamed[41].detail


class _Whole(Sandbox):
    """A sandbox that does not queue: the executor hands it the batch in one run()."""

    supports_judge = True

    def __init__(self) -> None:
        self.pool = LocalSandbox(workers=2)
        self.calls = 0

    def run(self, requests):
        self.calls += 1
        try:
            return self.pool.run(requests)
        finally:
            if self.calls == 1:
                self.pool.close()


def test_a_sandbox_failing_a_part_is_infra_for_that_part_only(pool) -> None:
    class Flaky(LocalSandbox):
        n = 0

        def submit(self, requests):
            type(self).n += 1
            if type(self).n == 2:
                raise OSError("cannot fork")
            return super().submit(requests)

    with Flaky(workers=1) as sb:
        outputs = [f"```python\ndef add(a, b):\n    # {i}\n    return a + b\n```" for i in range(12)]
        results = CodeExecutor(sb, cache_size=0).run(outputs, [_task(i) for i in range(12)])
    statuses = [r.status for r in results]
    # parts of 4 then 8: the second part failed as infrastructure, the first passed
    assert statuses == [ExecutionStatus.PASSED] * 4 + [ExecutionStatus.INFRA] * 8, statuses
    assert "cannot fork" in results[4].detail
