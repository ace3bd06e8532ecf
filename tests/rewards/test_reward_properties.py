"""Property tests: no input string makes a reward component or the composite reward raise."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exectune_rl.cores.base import CallableCore, CoreRequest
from exectune_rl.rewards import ExecTuneReward, RewardConfig, RewardStatus
from exectune_rl.rewards.format_gate import FormatGate
from exectune_rl.rewards.leakage import DEFAULT_DETECTORS, detect_leakage, get_leakage_detector
from exectune_rl.rewards.syntax import GRAMMARS, SyntaxChecker
from exectune_rl.sandboxes.base import Sandbox
from exectune_rl.tasks.base import Task
from reward_testlib import strategy_of

# Text biased towards what breaks parsers: tags, fences, code punctuation, numbers, unicode.
PIECES = st.sampled_from(
    ["<strategy>", "</strategy>", "<strategy", "```", "```python\n", "~~~", "def add(a, b):", "\n    return a + b",
     "\\frac{1}{2}", "1/2", "#### 5", "$", "{", "}", "(", "\n", "\t", "é", "\u202e", "\x00", "9" * 30, "....."]
)  # fmt: skip
TEXT = st.lists(st.one_of(st.text(max_size=40), PIECES), max_size=12).map("".join)
COMPLETION = st.one_of(
    TEXT,
    st.lists(st.fixed_dictionaries({"role": st.sampled_from(["assistant", "user"]), "content": TEXT}), max_size=3),
    st.none(),
    st.integers(),
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TASK = Task("add", "code", "def add(a, b):\n", tests="assert add(1, 2) == 3", test_format="asserts", entry_point="add", reference="    return a + b\n")
MTASK = Task("m", "math", "What is 2 + 3?", answer="5")


@FAST
@given(COMPLETION)
def test_format_gate_never_raises(completion: object) -> None:
    result = FormatGate()(completion)
    assert result.passed == (result.status.value == "ok")


@FAST
@given(TEXT, st.sampled_from(sorted(GRAMMARS) + ["cobol", "", "C++"]))
def test_syntax_never_raises(text: str, language: str) -> None:
    SyntaxChecker().check_text(text, language)


@FAST
@given(TEXT)
def test_leakage_never_raises(strategy: str) -> None:
    detectors = [get_leakage_detector(n) for n in DEFAULT_DETECTORS]
    results = detect_leakage([strategy, strategy], [TASK, MTASK], detectors)
    assert all(r.leaked is not None for r in results)  # the built-ins always decide


def echo_core(request: CoreRequest) -> str:
    """A core that echoes the strategy: arbitrary text reaches the verifier and the sandbox."""
    return strategy_of(request) or request.messages[-1]["content"]


@pytest.fixture(scope="module")
def math_reward() -> ExecTuneReward:
    reward = ExecTuneReward(RewardConfig.math(math_workers=1, math_timeout_s=1), core=CallableCore(echo_core))
    yield reward
    reward.close()


@FAST
@given(st.lists(COMPLETION, min_size=1, max_size=4), TEXT)
def test_math_reward_never_raises(math_reward: ExecTuneReward, completions: list, core_text: str) -> None:
    n = len(completions)
    out = math_reward(prompts=["p"] * n, completions=completions, problem=[MTASK.problem] * n, answer=["5"] * n)
    assert len(out) == n
    for value in out:
        assert value is None or (isinstance(value, float) and math.isfinite(value))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=3), st.lists(TEXT, min_size=1, max_size=3))
def test_code_reward_never_raises(sandbox: Sandbox, strategies: list, core_outputs: list) -> None:
    # Arbitrary core outputs go through tree-sitter and, when they parse, the real sandbox.
    reward = ExecTuneReward(RewardConfig.code(cpu_time_s=1.0, execution_cache_size=0), sandbox=sandbox)
    n = len(strategies)
    outputs = (core_outputs * n)[:n]
    records = reward.score(
        completions=[f"<strategy>{s}</strategy>" for s in strategies],
        core_output=outputs,
        core_only_output=outputs,
        **{k: [v] * n for k, v in TASK.to_dict().items()},
    )
    for r in records:
        assert r.status is not RewardStatus.INFRA, r.reason
        assert r.reward is not None and math.isfinite(r.reward)
