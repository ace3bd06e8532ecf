"""Contract tests for the reward module, written from its issue text and used as a user would.

Public names only (``exectune_rl.rewards``, ``exectune_rl.cores``, ``exectune_rl.tasks``,
``exectune_rl.sandboxes``, ``exectune_rl.errors``, the ``exectune`` CLI). Real processes, a
real sandbox and real math-verify workers; no model download.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import math
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exectune_rl.cli import main as cli_main
from exectune_rl.cores import CallableCore, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError, DataError, ExecTuneError, GrammarNotInstalledError, MissingColumnError
from exectune_rl.rewards import (
    COMPONENTS,
    CostModel,
    EntryPointBodyDetector,
    ExecTuneReward,
    ExecutabilityEstimator,
    FormatGate,
    FormatStatus,
    GoldAnswerDetector,
    LeakageDetector,
    LeakageFinding,
    LongCodeBlockDetector,
    ReferenceOverlapDetector,
    RewardConfig,
    RewardRecord,
    RewardStatus,
    SyntaxChecker,
    SyntaxStatus,
    TokenSource,
    bootstrap_interval,
    check_format,
    check_syntax,
    estimate_executability,
    utility,
    wilson_interval,
)
from exectune_rl.tasks import Task, extract_strategy, load_humaneval

REPO = Path(__file__).resolve().parents[2]
MATH = {"problem": ["What is 2 + 3?"], "answer": ["5"]}


# --- scripted cores (module level, so rewards holding them pickle) ---------------------------


def right_core(request: CoreRequest) -> str:
    return "The sum is 5.\n#### 5"


def guided_wrong_core(request: CoreRequest) -> str:
    """Right alone, wrong with any strategy: the strategy degrades the core."""
    return "#### 5" if extract_strategy(request.messages[-1]["content"]) is None else "#### 4"


def usage_core(request: CoreRequest) -> CoreResponse:
    return CoreResponse(text="#### 5", prompt_tokens=1000, completion_tokens=500, model="priced")


def down_core(request: CoreRequest) -> CoreResponse:
    return CoreResponse.failure(CoreFailureKind.CONNECTION, "api down")


def raising_core(request: CoreRequest) -> str:
    raise ConnectionError("no route to host")


class CountingCore:
    """Counts core-only (no strategy) and guided calls; right in both cases."""

    def __init__(self) -> None:
        self.alone = 0
        self.guided = 0
        self.lock = threading.Lock()

    def __call__(self, request: CoreRequest) -> str:
        with self.lock:
            if extract_strategy(request.messages[-1]["content"]) is None:
                self.alone += 1
            else:
                self.guided += 1
        return "#### 5"


def math_reward(core: Any = right_core, **cfg: Any) -> ExecTuneReward:
    cfg.setdefault("math_workers", 0)
    return ExecTuneReward(RewardConfig.math(**cfg), core=CallableCore(core, model="scripted"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from exectune_rl.sandboxes import LocalSandbox

    sb = LocalSandbox(workers=2)
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def he() -> list[Task]:
    return load_humaneval(limit=3)


def _code_columns(tasks: list[Task]) -> dict[str, list[Any]]:
    rows = [t.to_dict() for t in tasks]
    return {k: [r.get(k) for r in rows] for k in rows[0]}


# --- public contract -------------------------------------------------------------------------


def test_public_names_and_no_torch_on_import() -> None:
    code = (
        "import sys, exectune_rl.rewards as r; r.ExecTuneReward; r.RewardConfig; "
        "assert {'ExecTuneReward', 'RewardConfig'} <= set(r.__all__); "
        "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_reward_config_is_a_validated_dataclass() -> None:
    cfg = RewardConfig()
    assert dataclasses.is_dataclass(cfg)
    names = {f.name for f in dataclasses.fields(RewardConfig)}
    # weights, gates, leakage mode, lambda, non-degradation penalty, m core runs
    assert {"execution_weight", "format_gate", "leakage", "cost_lambda", "nondegradation_penalty", "core_runs"} <= names
    for bad in ({"leakage": "sometimes"}, {"core_runs": 0}, {"cost_lambda": -1.0}, {"cost_lambda": float("nan")},
                {"task_kind": "poetry"}, {"core_runs": "2"}):  # fmt: skip
        field = next(iter(bad))
        with pytest.raises(ConfigError, match=field):
            RewardConfig(**bad)


def test_presets_math_code_advisor() -> None:
    assert RewardConfig.math().task_kind == "math" and RewardConfig.code().task_kind == "code"
    adv = RewardConfig.advisor()
    assert adv.leakage == "off" and adv.nondegradation_penalty == 0 and adv.cost_lambda == 0 and not adv.format_gate
    with pytest.raises(ConfigError, match="nope"):
        RewardConfig.preset("nope")


# --- format gate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "completion, status",
    [
        ("Plan: <strategy>sort, then scan</strategy>", FormatStatus.OK),
        ("<strategy>a</strategy> and <strategy>b</strategy>", FormatStatus.MULTIPLE),  # two blocks
        ("<strategy>sort, then scan", FormatStatus.UNCLOSED),
        ("<strategy>   \n </strategy>", FormatStatus.EMPTY),
        ("no tags at all", FormatStatus.MISSING),
        ("<strategy>" + "x" * 5000 + "</strategy>", FormatStatus.TOO_LONG),
        ([{"role": "assistant", "content": "<strategy>plan</strategy>"}], FormatStatus.OK),  # conversational
    ],
)
def test_format_gate_literal_cases(completion: Any, status: FormatStatus) -> None:
    assert check_format(completion).status is status


def test_format_tag_is_configurable_in_the_composite() -> None:
    assert FormatGate(tag="plan")("<plan>x</plan>").strategy == "x"
    reward = math_reward(strategy_tag="plan", nondegradation_penalty=0.0)
    assert reward(completions=["<plan>Add them.</plan>", "<strategy>Add them.</strategy>"], **{k: v * 2 for k, v in MATH.items()}) == [1.0, 0.0]


# --- syntax ----------------------------------------------------------------------------------

SNIPPETS = {
    "python": ("def f(x):\n    return x\n", "def f(x:\n    return x\n"),
    "javascript": ("function f(x) { return x; }", "function f(x { return x; }"),
    "typescript": ("function f(x: number): number { return x; }", "function f(x: number { return x; }"),
    "c": ("int f(int x) { return x; }", "int f(int x { return x; }"),
    "cpp": ("int f(int x) { return x; }", "int f(int x { return x; }"),
    "java": ("class A { int f(int x) { return x; } }", "class A { int f(int x { return x; } }"),
    "go": ("package main\nfunc f(x int) int { return x }\n", "package main\nfunc f(x int int { return x }\n"),
    "rust": ("fn f(x: i32) -> i32 { x }", "fn f(x: i32 -> i32 { x }"),
    "bash": ("if [ -n \"$x\" ]; then echo hi; fi\n", "if [ -n \"$x\" ]; then echo hi\n"),
}


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_syntax_nine_languages_with_error_locations(language: str) -> None:
    good, bad = SNIPPETS[language]
    assert check_syntax(good, language).status is SyntaxStatus.OK
    result = check_syntax(bad, language)
    assert result.status is SyntaxStatus.ERROR and result.errors
    assert all(e.line >= 1 for e in result.errors)


def test_syntax_in_fenced_text_and_unsupported_language() -> None:
    checker = SyntaxChecker()
    text = "Intro\n\n```python\nx = 1\n```\n\n```js\nlet y = ;\n```\n"
    result = checker.check_text(text)
    assert result.status is SyntaxStatus.ERROR and result.errors[0].line == 8  # located in the whole text
    unsupported = checker.check_text("```cobol\nDISPLAY 'HI'.\n```")
    assert unsupported.status is SyntaxStatus.UNSUPPORTED and "cobol" in unsupported.detail


def test_missing_grammar_names_the_package_to_install() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tree_sitter_rust': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from exectune_rl.rewards import check_syntax, SyntaxChecker\n"
        "print(SyntaxChecker().check_text('```rust\\nfn main() {}\\n```').detail)\n"
        "check_syntax('fn main() {}', 'rust')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode != 0
    assert "GrammarNotInstalledError" in out.stderr and "pip install tree-sitter-rust" in out.stderr
    assert "tree-sitter-rust" in out.stdout  # the never-raising path says the same
    assert issubclass(GrammarNotInstalledError, ExecTuneError)


# --- execution ------------------------------------------------------------------------------


def test_code_execution_is_graded(sandbox: Any, he: list[Task]) -> None:
    task = he[0]
    canonical = f"```python\n{task.problem}{task.reference}\n```"
    outputs = [canonical, task.problem + "    return None\n", task.problem + "    return (\n", "no code here"]
    reward = ExecTuneReward(
        RewardConfig.code(nondegradation_penalty=0.0, leakage="off"),
        core=CallableCore(right_core),
        sandbox=sandbox,
    )
    records = reward.score(completions=["<strategy>Scan pairs.</strategy>"] * 4, core_output=outputs, **{k: v * 4 for k, v in _code_columns([task]).items()})
    values = [r.execution for r in records]
    assert values[0] == 1.0 and records[0].success == 1.0  # all tests pass
    assert 0.0 < values[1] < 1.0  # parses and runs, fails tests: partial credit
    assert values[2] < values[1]  # does not parse: less
    assert values[3] == 0.0
    assert all(r.status is RewardStatus.SCORED for r in records)


def test_math_is_verified_in_worker_processes() -> None:
    reward = math_reward(math_workers=1, nondegradation_penalty=0.0)
    try:
        out = reward(
            completions=["<strategy>Add.</strategy>"] * 3,
            problem=["What is half of one?"] * 3,
            answer=["0.5", "#### 0.5", "\\frac{1}{2}"],
            core_output=["#### 1/2", "so it is $\\frac{1}{2}$", "0.7"],
        )
    finally:
        reward.close()
    assert out == [1.0, 1.0, 0.0]


def test_math_without_workers_is_right_off_the_main_thread() -> None:
    # math_workers=0 checks in-process; under the async reward that is a worker thread, where
    # math-verify's SIGALRM timeouts cannot work: the check must still be right, not "wrong".
    reward = math_reward(nondegradation_penalty=0.0)
    out = asyncio.run(reward.as_async()(completions=["<strategy>Add.</strategy>"], **MATH))
    assert out == [1.0]


# --- leakage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gold, strategy, leaked",
    [
        ("0.5", "Write the answer 1/2.", True),  # a gold written as a fraction in the strategy
        ("0.5", "answer is \\frac{1}{2}", True),
        ("\\frac{3}{4}", "it comes to 0.75", True),
        ("Natalia sold 48/2 = 24 clips.\n#### 72", "The total is 72.", True),  # GSM8K gold
        ("72", "72.0 is what you get", True),  # a decimal at the start of a line is not a list item
        ("1,000", "1000", True),
        ("72", "Add the two amounts, then double.", False),
        ("2", "1. Read the question.\n2. Add.\nStep 2: check", False),  # step numbers are not leaks
    ],
)
def test_gold_answer_detector(gold: str, strategy: str, leaked: bool) -> None:
    task = Task("m", "math", "Compute the value.", answer=gold)
    assert GoldAnswerDetector().detect(strategy, task).leaked is leaked


CODE_TASK = Task(
    "add", "code", "def add(a, b):\n", tests="assert add(1, 2) == 3", test_format="asserts", entry_point="add",
    reference="def add(a, b):\n    total = a\n    total = total + b\n    if total is None:\n        return 0\n    return total\n",
)  # fmt: skip


@pytest.mark.parametrize(
    "strategy, leaked",
    [
        ("```python\ndef add(a, b):\n    return a + b\n```", True),
        ("def add(a, b):\n    return a + b\n", True),  # raw code counts too
        ("```python\nadd = lambda a, b: a + b\n```", True),  # a function bound to the name
        ("```python\ndef add(a, b):\n    pass\n```", False),  # a signature sketch
        ("```python\ndef add(a, b):\n    \"\"\"Sum.\"\"\"\n    raise NotImplementedError\n```", False),
        ("Call add(a, b) on the inputs and return the sum.", False),
    ],
)
def test_entry_point_body_detector(strategy: str, leaked: bool) -> None:
    assert EntryPointBodyDetector().detect(strategy, CODE_TASK).leaked is leaked


def test_long_code_and_reference_overlap_detectors() -> None:
    long = "```\n" + "\n".join(f"x{i} = {i}" for i in range(5)) + "\n```"
    assert LongCodeBlockDetector(max_lines=4).detect(long, CODE_TASK).leaked is True
    assert LongCodeBlockDetector(max_lines=5).detect(long, CODE_TASK).leaked is False
    det = ReferenceOverlapDetector(n=3, threshold=0.5, min_ngrams=3)
    assert det.detect("total = a then total = total + b and if total is None : return 0 ; return total", CODE_TASK).leaked is True
    assert det.detect("Add the numbers and return the result.", CODE_TASK).leaked is False


class SaysLeak(LeakageDetector):
    name = "says_leak"

    def detect(self, strategy: str, task: Task) -> LeakageFinding:
        return LeakageFinding(self.name, "secret" in strategy, 1.0)


class JudgeDown(LeakageDetector):
    name = "judge_down"

    def detect_batch(self, strategies: Any, tasks: Any) -> list[LeakageFinding]:
        raise TimeoutError("judge unreachable")


def test_pluggable_detectors_gate_penalise_and_infra() -> None:
    cols = {k: v * 2 for k, v in MATH.items()}
    comps = ["<strategy>the secret plan</strategy>", "<strategy>add them</strategy>"]
    gate = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(right_core), detectors=[SaysLeak()])
    records = gate.score(completions=comps, **cols)
    assert [r.status for r in records] == [RewardStatus.LEAKED, RewardStatus.SCORED]
    assert [r.reward for r in records] == [0.0, 1.0] and records[0].leakage.detectors == ("says_leak",)
    penalty = ExecTuneReward(
        RewardConfig.math(math_workers=0, nondegradation_penalty=0.0, leakage="penalty", leakage_penalty=0.3),
        core=CallableCore(right_core), detectors=[SaysLeak()],
    )  # fmt: skip
    assert penalty(completions=comps, **cols) == [pytest.approx(0.7), 1.0]
    down = ExecTuneReward(RewardConfig.math(math_workers=0), core=CallableCore(right_core), detectors=[JudgeDown()])
    assert down(completions=comps, **cols) == [None, None]  # an unavailable judge is infrastructure


# --- non-degradation -------------------------------------------------------------------------


def test_nondegradation_baseline_once_per_task_and_penalty() -> None:
    counting = CountingCore()
    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.5), core=CallableCore(counting))
    cols = {k: v * 4 for k, v in MATH.items()}
    reward(completions=[f"<strategy>Add, way {w}.</strategy>" for w in "abcd"], **cols)
    reward(completions=["<strategy>Add again.</strategy>"], **MATH)
    assert counting.alone == 1 and counting.guided == 5  # the core-only outcome is cached
    twice = CountingCore()
    m2 = ExecTuneReward(RewardConfig.math(math_workers=0, core_runs=2, nondegradation_penalty=0.0), core=CallableCore(twice))
    [rec] = m2.score(completions=["<strategy>Add.</strategy>"], **MATH)
    assert twice.guided == 2 and len(rec.runs) == 2  # m core runs per strategy
    degrading = math_reward(guided_wrong_core, nondegradation_penalty=0.5)
    [rec] = degrading.score(completions=["<strategy>Add.</strategy>"], **MATH)
    assert rec.nondegradation.degradation == 1.0 and rec.reward == pytest.approx(-0.5)


# --- cost ------------------------------------------------------------------------------------


def test_cost_sources_prices_and_utility() -> None:
    reward = ExecTuneReward(
        RewardConfig.math(math_workers=0, nondegradation_penalty=0.0, cost_unit="usd", cost_lambda=100.0),
        core=CallableCore(usage_core), prices={"priced": (1.0, 2.0)},
    )  # fmt: skip
    [rec] = reward.score(completions=["<strategy>Add.</strategy>"], completion_ids=[[1, 2, 3, 4, 5, 6, 7]], **MATH)
    assert rec.cost.strategy_tokens == 7 and rec.cost.strategy_source is TokenSource.COMPLETION_IDS
    assert rec.cost.core_source is TokenSource.REPORTED
    assert (rec.cost.core_prompt_tokens, rec.cost.core_completion_tokens) == (1000, 500)
    assert rec.cost.usd == pytest.approx(0.002)  # 1000 * $1/M + 500 * $2/M
    assert rec.reward == pytest.approx(1.0 - 100.0 * 0.002)  # J = V - lambda * cost
    # Without completion_ids the guide's tokenizer counts the strategy.
    words = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(right_core), tokenizer=str.split)
    [rec] = words.score(completions=["<strategy>one two three</strategy>"], **MATH)
    assert rec.cost.strategy_source is TokenSource.TOKENIZER and rec.cost.strategy_tokens == 3
    assert rec.cost.core_source is not TokenSource.REPORTED and rec.cost.core_completion_tokens > 0  # offline estimate
    assert utility(1.0, 2.0, 0.25) == 0.5
    assert CostModel("usd").usd("no-such-model-xyz", 10, 10) is None  # unknown price: None, never 0


def test_unpriced_core_with_lambda_is_none_not_zero() -> None:
    reward = ExecTuneReward(
        RewardConfig.math(math_workers=0, nondegradation_penalty=0.0, cost_unit="usd", cost_lambda=1.0),
        core=CallableCore(right_core, model="no-such-model-xyz"),
    )
    [rec] = reward.score(completions=["<strategy>Add.</strategy>"], **MATH)
    assert rec.reward is None and rec.status is RewardStatus.INFRA


# --- executability ---------------------------------------------------------------------------


def test_executability_k_strategies_m_runs_with_intervals() -> None:
    est = estimate_executability({"a": [[1, 1], [1, 0]], "b": [[0, 0], [0, 0]]})
    assert est.overall == pytest.approx(0.375) and est.tasks == 2 and est.strategies == 4 and est.runs == 8
    assert [t.estimate for t in est.per_task] == [0.75, 0.0]
    assert 0.0 <= est.wilson.low <= 0.375 <= est.wilson.high <= 1.0
    assert est.bootstrap.low <= 0.375 <= est.bootstrap.high
    e = ExecutabilityEstimator()
    e.add("t", [True, False])
    assert e.result().overall == 0.5
    assert wilson_interval(10, 10).high == 1.0 and wilson_interval(0, 10).low == 0.0
    assert bootstrap_interval([1.0, 1.0]).low == 1.0


@pytest.mark.parametrize("successes, trials", [(5, 3), (-1, 3), (float("nan"), 3)])
def test_wilson_rejects_impossible_counts(successes: float, trials: int) -> None:
    with pytest.raises(ConfigError, match="successes"):
        wilson_interval(successes, trials)


def test_executability_rejects_bad_outcomes() -> None:
    with pytest.raises(ConfigError):
        ExecutabilityEstimator().add("t", [2.0])


# --- the composite ---------------------------------------------------------------------------


def test_trl_signature_one_float_per_completion() -> None:
    reward = math_reward(nondegradation_penalty=0.0)
    out = reward(
        prompts=["p"] * 3, completions=["<strategy>Add.</strategy>", "oops", [{"role": "assistant", "content": "<strategy>Sum.</strategy>"}]],
        completion_ids=[[1], [2], [3]], trainer_state=None, **{k: v * 3 for k, v in MATH.items()},
    )  # fmt: skip
    assert out == [1.0, 0.0, 1.0] and all(type(v) is float for v in out)
    assert reward.__name__ == "exectune"
    assert reward(prompts=[], completions=[], problem=[], answer=[]) == []


def test_missing_columns_are_named() -> None:
    reward = math_reward()
    with pytest.raises(MissingColumnError, match="'answer'"):
        reward(completions=["<strategy>x</strategy>"], problem=["q"])
    with pytest.raises(MissingColumnError, match="'problem'"):
        reward(completions=["<strategy>x</strategy>"], answer=["5"])
    code = ExecTuneReward(RewardConfig.code(), core=CallableCore(right_core))
    with pytest.raises(MissingColumnError, match="'tests'"):
        code(completions=["<strategy>x</strategy>"], problem=["def f():"])
    kindless = ExecTuneReward(RewardConfig(), core=CallableCore(right_core))
    with pytest.raises(MissingColumnError, match="'kind'"):
        kindless(completions=["<strategy>x</strategy>"], **MATH)


def test_columns_are_documented() -> None:
    from exectune_rl.rewards import columns

    for name in ("problem", "kind", "answer", "tests", "entry_point", "core_output"):
        assert f"``{name}``" in columns.__doc__
    assert "columns.py" in (REPO / "README.md").read_text(encoding="utf-8")


def test_a_lone_string_is_not_scored_per_character() -> None:
    with pytest.raises(DataError, match="completions must be a list"):
        math_reward()(completions="<strategy>Add.</strategy>", **MATH)


@pytest.mark.parametrize("core", [down_core, raising_core], ids=["api-down", "raises"])
def test_core_infrastructure_failure_is_none_not_zero(core: Any, caplog: pytest.LogCaptureFixture) -> None:
    reward = math_reward(core, nondegradation_penalty=0.0)
    with caplog.at_level("WARNING"):
        out = reward(completions=["<strategy>Add.</strategy>", "no tags"], **{k: v * 2 for k, v in MATH.items()})
    assert out == [None, 0.0]  # the format failure is still the model's fault
    assert "unscored" in caplog.text


class BrokenSandbox:
    """A sandbox whose runs all fail for infrastructure reasons."""

    def run(self, requests: Any) -> Any:
        from exectune_rl.sandboxes import ExecResult, ExecStatus

        return [ExecResult(ExecStatus.INFRA, stderr="sandbox died") for _ in requests]

    def close(self) -> None:
        pass


def test_sandbox_infra_is_none(he: list[Task]) -> None:
    task = he[0]
    reward = ExecTuneReward(RewardConfig.code(nondegradation_penalty=0.0, leakage="off"), core=CallableCore(right_core), sandbox=BrokenSandbox())
    cols = _code_columns([task])
    [rec] = reward.score(completions=["<strategy>Scan pairs.</strategy>"], core_output=[f"```python\n{task.problem}{task.reference}\n```"], **cols)
    assert rec.reward is None and rec.status is RewardStatus.INFRA


def test_bad_rows_do_not_sink_the_batch() -> None:
    reward = math_reward(nondegradation_penalty=0.0)
    out = reward(completions=["<strategy>Add.</strategy>"] * 3, problem=["What is 2 + 3?", None, "What is 2 + 3?"], answer=["5", "5", "  "])
    assert out == [1.0, None, None]
    records = reward.score(completions=["<strategy>Add.</strategy>"], problem=["q"], answer=[""])
    assert records[0].status is RewardStatus.BAD_TASK  # an empty gold is bad data, not infrastructure


def test_every_component_is_logged_through_trl_hooks() -> None:
    metrics: dict[str, float] = {}
    extras: dict[str, list] = {}
    reward = math_reward(nondegradation_penalty=0.5, cost_lambda=0.01)
    hooked = reward(
        completions=["<strategy>Add.</strategy>", "no tags"], log_metric=metrics.__setitem__, log_extra=extras.__setitem__,
        **{k: v * 2 for k, v in MATH.items()},
    )  # fmt: skip
    for name in COMPONENTS:
        # Each measured component is a float; one with nothing to average (no syntax check for
        # math, no price for the scripted core) is absent, never a made-up 0.
        if name in ("syntax", "usd"):
            assert f"exectune/{name}" not in metrics, name
        else:
            assert isinstance(metrics[f"exectune/{name}"], float), name
    assert isinstance(metrics["exectune/executability"], float)
    assert metrics["exectune/format"] == 0.5
    assert all(len(v) == 2 for v in extras.values()) and extras
    # Without the hooks it works the same.
    plain = reward(completions=["<strategy>Add.</strategy>", "no tags"], **{k: v * 2 for k, v in MATH.items()})
    # J = V - lambda * cost; the format failure scores the floor, -0.5 - 0.01 * max_cost.
    assert plain == hooked and 0.99 < plain[0] < 1.0 and plain[1] == reward.config.gated_floor == -0.58


def slow_core(request: CoreRequest) -> str:
    time.sleep(0.25)
    return "#### 5"


async def slow_async_core(request: CoreRequest) -> str:
    await asyncio.sleep(0.25)
    return "#### 5"


@pytest.mark.parametrize("fn", [slow_core, slow_async_core], ids=["sync-core", "async-core"])
def test_sync_and_async_with_concurrent_core_calls(fn: Any) -> None:
    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0, core_runs=2), core=CallableCore(fn))
    cols = {k: v * 6 for k, v in MATH.items()}
    comps = [f"<strategy>Add, way {w}.</strategy>" for w in "abcdef"]
    start = time.perf_counter()
    assert reward(completions=comps, **cols) == [1.0] * 6
    sync_s = time.perf_counter() - start
    twin = reward.as_async()
    start = time.perf_counter()
    assert asyncio.run(twin(completions=comps, **cols)) == [1.0] * 6
    async_s = time.perf_counter() - start
    assert sync_s < 1.5 and async_s < 1.5  # 12 calls of 0.25 s one by one would take 3 s


def test_score_returns_typed_records() -> None:
    reward = math_reward(nondegradation_penalty=0.5)
    records = reward.score(completions=["<strategy>Add.</strategy>", "<strategy>x"], **{k: v * 2 for k, v in MATH.items()})
    assert all(isinstance(r, RewardRecord) for r in records)
    ok, bad = records
    assert ok.status is RewardStatus.SCORED and ok.reward == 1.0 and ok.execution == 1.0 and ok.success == 1.0
    assert len(ok.runs) == 1 and ok.runs[0].execution.success and ok.format.status is FormatStatus.OK
    assert set(ok.components) == set(COMPONENTS) and ok.components["format"] == 1.0
    assert bad.status is RewardStatus.FORMAT_FAILED and bad.format.status is FormatStatus.UNCLOSED and bad.runs == ()
    json.dumps(ok.to_dict(include_text=True))  # JSON-ready


def test_pickles_and_scores_the_same() -> None:
    reward = math_reward(nondegradation_penalty=0.5)
    before = reward(completions=["<strategy>Add.</strategy>"], **MATH)
    copy = pickle.loads(pickle.dumps(reward))
    assert copy(completions=["<strategy>Add.</strategy>"], **MATH) == before == [1.0]
    assert copy.__name__ == reward.__name__ and copy.config == reward.config


# --- property-based --------------------------------------------------------------------------

PIECES = st.sampled_from(["<strategy>", "</strategy>", "```python\n", "```", "def add(a, b):", "\\frac{1}{2}", "#### 5", "\x00", "\ud800", "é🚀", "9" * 40])
TEXT = st.lists(st.one_of(st.text(max_size=30), PIECES), max_size=8).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(completion=TEXT, problem=TEXT, answer=TEXT, output=TEXT)
def test_no_input_string_makes_the_reward_raise(completion: str, problem: str, answer: str, output: str) -> None:
    reward = _PROPERTY_REWARD
    out = reward(completions=[completion], problem=[problem], answer=[answer], core_output=[output])
    assert len(out) == 1 and (out[0] is None or math.isfinite(out[0]))


_PROPERTY_REWARD = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0))


# --- the reward-model adapter ----------------------------------------------------------------


def test_reward_model_adapter_returns_batch_by_one_logits(tiny_model_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from exectune_rl.rewards import RewardModelAdapter

    tok = transformers.AutoTokenizer.from_pretrained(str(tiny_model_path))
    rows = [{"prompt": "Plan: what is 2+3?", **{k: v[0] for k, v in MATH.items()}}]
    adapter = RewardModelAdapter(math_reward(nondegradation_penalty=0.0), tok, rows=rows)
    assert isinstance(adapter, torch.nn.Module)
    texts = [rows[0]["prompt"] + " <strategy>Add them.</strategy>", rows[0]["prompt"] + " nothing", "unknown prompt"]
    enc = tok(text=texts, return_tensors="pt", padding=True, add_special_tokens=False)
    logits = adapter(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    assert tuple(logits.shape) == (3, 1)
    values = logits[:, 0].tolist()
    assert values[:2] == [1.0, 0.0] and math.isnan(values[2])


# --- exectune score / exectune bench ---------------------------------------------------------


def test_score_with_no_input_scores_the_bundled_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, summary = tmp_path / "deep" / "out.jsonl", tmp_path / "s.json"
    assert cli_main(["score", "--out", str(out), "--summary-json", str(summary), "--no-progress", "--limit", "30"]) == 0
    table = capsys.readouterr().out
    for label in ("reward", "format", "execution", "executability", "wilson", "tokens", "money"):
        assert label in table, label
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 30 and all(r["task_id"].startswith("HumanEval/") for r in rows)
    assert {"reward", "status", *COMPONENTS} <= set(rows[0])
    data = json.loads(summary.read_text())
    assert data["rows"] == 30 and data["executability"]["alpha"] is not None
    assert set(data["components"]) == set(COMPONENTS)


def test_score_a_user_file_streaming(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl.gz"
    rows = [
        {"kind": "math", "problem": "Qué es 2+3? 加", "answer": "5", "strategy": "Súmalos 🚀", "core_output": "#### 5"},
        {"kind": "math", "problem": "What is 2+3?", "answer": "5", "completion": "no tags", "core_output": "#### 5"},
        {"kind": "math", "problem": "What is 2+3?", "answer": "5", "strategy": "Add.", "core_output": ["#### 5", "#### 4"]},
    ]
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n\n")
    out = tmp_path / "out.jsonl"
    assert cli_main(["score", str(src), "--out", str(out), "--batch-size", "2", "--no-progress", "--preset", "math", "--set", "nondegradation_penalty=0"]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["reward"] for g in got] == [1.0, 0.0, 0.5] and [g["index"] for g in got] == [0, 1, 2]


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json\n", "line 1"),
        ('{"kind": "math", "problem": "q", "answer": "5", "core_output": "5"}\n', "strategy"),
        ('{"kind": "math", "problem": "q", "strategy": "s", "core_output": "5"}\n', "'answer'"),
        ('{"problem": "q", "answer": "5", "strategy": "s", "core_output": "5"}\n', "'kind'"),
    ],
)
def test_score_bad_input_exits_2_naming_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(content, encoding="utf-8")
    assert cli_main(["score", str(src), "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_score_an_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text("", encoding="utf-8")
    # An empty input is the user's mistake: one clear line and exit status 2, not a table of
    # dashes with status 0 (and nothing scored is never an unknown price).
    assert cli_main(["score", str(src), "--no-progress", "--out", str(tmp_path / "o.jsonl")]) == 2
    captured = capsys.readouterr()
    assert "empty" in captured.err and "unknown" not in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_bench_json_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b" / "bench.json"
    assert cli_main(["bench", "-n", "40", "--math", "8", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    for key in ("composite_per_s", "syntax_vs_ast_ratio", "format_per_s", "syntax_per_s", "leakage_per_s",
                "cost_per_s", "nondegradation_per_s", "execution_per_s", "math_per_s"):  # fmt: skip
        assert isinstance(data[key], float) and data[key] > 0, key
    assert "composite_per_s" in capsys.readouterr().out


def test_bench_on_user_math_rows_still_measures_the_composite(tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(
        "".join(json.dumps({"kind": "math", "problem": f"What is {i} + 3?", "answer": str(i + 3), "strategy": "Add.",
                            "core_output": f"#### {i + 3}"}) + "\n" for i in range(12)),  # fmt: skip
        encoding="utf-8",
    )
    out = tmp_path / "bench.json"
    assert cli_main(["bench", "--input", str(src), "--math", "0", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["composite_per_s"] > 0 and data["composite_statuses"] == {"scored": 12}
    assert "syntax_vs_ast_ratio" in data  # always a key (None: no Python snippets to parse)


def test_bench_script_is_the_same_benchmark() -> None:
    text = (REPO / "benchmarks" / "bench_rewards.py").read_text(encoding="utf-8")
    assert "composite_per_s" in text and "syntax_vs_ast_ratio" in text
    assert os.access(REPO / "benchmarks" / "bench_rewards.py", os.R_OK)
