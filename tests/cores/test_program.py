"""ProgramCore with a real LocalSandbox (real processes), and with sandboxes that fail."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from exectune_rl.cores import CoreFailureKind, CoreRequest, ProgramCore
from exectune_rl.cores.program import extract_program
from exectune_rl.errors import ConfigError
from exectune_rl.sandboxes.base import ExecRequest, ExecResult, ExecStatus, Sandbox
from exectune_rl.tasks import Task, core_request


@pytest.fixture(scope="module")
def sandbox():
    from exectune_rl.sandboxes.local import LocalSandbox

    with LocalSandbox(workers=2) as sb:
        yield sb


def ask(core: ProgramCore, *texts: str) -> list:
    return core.generate([CoreRequest.from_prompt(t) for t in texts])


def test_programs_run_and_print_in_order(sandbox):
    core = ProgramCore(sandbox, cpu_time_s=2.0)
    out = ask(
        core,
        "<strategy>\nprint(6 * 7)\n</strategy>",  # strategy block, raw code inside
        "Plan:\n```python\ntotal = sum(range(10))\nprint(total)\n```\nDone.",  # fenced code
        "print('raw')",  # raw text is the program
        "<strategy>Use a loop.\n```py\nfor i in range(3):\n    print(i)\n```</strategy>",  # fence in the block
    )
    assert [r.text for r in out] == ["42\n", "45\n", "raw\n", "0\n1\n2\n"]
    assert all(r.ok and r.metadata["exec_status"] == "ok" and r.finish_reason == "stop" for r in out)
    assert all(r.prompt_tokens == 0 and r.completion_tokens == 0 for r in out)


def test_a_failing_program_is_the_strategys_fault_not_an_error(sandbox):
    core = ProgramCore(sandbox, cpu_time_s=0.5)
    out = ask(core, "print('partial')\n1 / 0", "def broken(:", "while True:\n    pass", "")
    crash, syntax, loop, empty = out
    assert all(r.ok for r in out)  # the core ran the strategy; it is the strategy that failed
    assert crash.text == "partial\n" and crash.metadata["exec_status"] == "runtime_error"
    assert crash.metadata["exception"] == "ZeroDivisionError" and "ZeroDivisionError" in crash.metadata["stderr"]
    assert syntax.metadata["exec_status"] == "syntax_error" and syntax.text == ""
    assert loop.metadata["exec_status"] == "timeout" and loop.finish_reason == "timeout"
    assert empty.metadata["exec_status"] == "empty_program" and empty.text == ""


def test_extracts_the_strategy_from_a_full_core_prompt(sandbox):
    task = Task("arith/1", "math", "Tom has 3 boxes of 4 apples. How many apples?", answer="12")
    req = core_request(task, "boxes = 3\napples = 4\nprint(boxes * apples)")
    [resp] = ProgramCore(sandbox).generate([req])
    assert resp.text == "12\n"


def test_language_from_request_metadata(sandbox):
    req = CoreRequest.from_prompt("echo hello from bash", metadata={"language": "bash"})
    [resp] = ProgramCore(sandbox).generate([req])
    assert resp.text == "hello from bash\n"


def test_custom_extractor(sandbox):
    core = ProgramCore(sandbox, extract=lambda text: text.split("CODE:", 1)[1])
    assert ask(core, "ignore this CODE:print(2 ** 10)")[0].text == "1024\n"


class _InfraSandbox(Sandbox):
    """A sandbox whose every run fails on the infrastructure side."""

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return [ExecResult.infra("worker died") for _ in requests]


class _RaisingSandbox(Sandbox):
    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        raise RuntimeError("pool is gone")


class _ShortSandbox(Sandbox):
    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return [ExecResult(ExecStatus.OK, stdout="1\n")]


@pytest.mark.parametrize(
    ("sandbox_cls", "needle"),
    [(_InfraSandbox, "worker died"), (_RaisingSandbox, "pool is gone"), (_ShortSandbox, "1 results for 2")],
)
def test_sandbox_failures_are_typed_infra_failures(sandbox_cls, needle):
    out = ProgramCore(sandbox_cls()).generate([CoreRequest.from_prompt("print(1)"), CoreRequest.from_prompt("print(2)")])
    assert len(out) == 2
    for resp in out:
        assert resp.error.kind is CoreFailureKind.INTERNAL and resp.is_infra_failure
        assert needle in resp.error.message


def test_a_closed_local_sandbox_gives_infra_failures():
    from exectune_rl.sandboxes.local import LocalSandbox

    sb = LocalSandbox(workers=1)
    sb.close()
    [resp] = ProgramCore(sb).generate([CoreRequest.from_prompt("print(1)")])
    assert resp.is_infra_failure


async def test_agenerate_matches_generate(sandbox):
    core = ProgramCore(sandbox)
    reqs = [CoreRequest.from_prompt(f"print({i} * {i})") for i in range(6)]
    assert [r.text for r in await core.agenerate(reqs)] == [f"{i * i}\n" for i in range(6)]


def test_extract_program_modes():
    text = "Intro\n<strategy>\nsteps\n```python\nprint(1)\n```\n</strategy>\n```python\nprint(2)\n```"
    assert extract_program(text) == "print(1)\n"
    assert extract_program(text, "strategy") == "\nsteps\n```python\nprint(1)\n```\n"
    assert extract_program(text, "fence") == "print(1)\nprint(2)\n"
    assert extract_program(text, "raw") == text
    assert extract_program("no block", "strategy") == ""
    assert extract_program("<plan>print(3)</plan>", tag="plan") == "print(3)"
    with pytest.raises(ConfigError, match="nope"):
        extract_program("x", "nope")


def test_bad_arguments_are_clear():
    with pytest.raises(ConfigError, match="Sandbox"):
        ProgramCore("not a sandbox")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="extract"):
        ProgramCore(_InfraSandbox(), extract="sideways")
