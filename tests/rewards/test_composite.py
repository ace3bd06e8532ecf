"""ExecTuneReward end to end with real cores (scripted), a real sandbox and real math workers."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import time
from collections import Counter

import pytest

from exectune_rl.cores.base import CallableCore, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import MissingColumnError
from exectune_rl.rewards import AsyncExecTuneReward, ExecTuneReward, RewardConfig, RewardStatus
from exectune_rl.rewards.mathcheck import MathVerifier
from exectune_rl.sandboxes.base import Sandbox
from exectune_rl.tasks.base import Task

from reward_testlib import strategy_of

MATH = dict(problem=["Sam has 2 pens and buys 3 more. How many pens?"] * 2, answer=["5"] * 2)


def math_core_fn(request: CoreRequest) -> str:
    """Core alone: right. Guided: right unless the strategy says 'subtract'."""
    strategy = strategy_of(request)
    if strategy is not None and "subtract" in strategy:
        return "2 - 3 = -1\n#### -1"
    return "2 + 3 = 5\n#### 5"


def code_core_fn(request: CoreRequest) -> str:
    """Writes add(); a strategy mentioning 'bug' makes it wrong, 'crash' makes it not parse."""
    strategy = strategy_of(request) or ""
    if "crash" in strategy:
        return "```python\ndef add(a, b):\n    return (a +\n```"
    body = "a - b" if "bug" in strategy else "a + b"
    return f"Here you go:\n```python\ndef add(a, b):\n    return {body}\n```"


ADD_COLS = dict(
    problem=['def add(a, b):\n    """Return a + b."""\n'],
    tests=["assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(2, 2) == 4"],
    test_format=["asserts"],
    entry_point=["add"],
)


def cols(base: dict, n: int) -> dict:
    return {k: v * n if len(v) == 1 else v for k, v in base.items()}


@pytest.fixture
def math_reward(math_verifier: MathVerifier) -> ExecTuneReward:
    return ExecTuneReward(RewardConfig.math(), core=CallableCore(math_core_fn, model="scripted"), math_verifier=math_verifier)


@pytest.fixture
def code_reward(sandbox: Sandbox) -> ExecTuneReward:
    return ExecTuneReward(RewardConfig.code(), core=CallableCore(code_core_fn, model="scripted"), sandbox=sandbox)


def test_math_components(math_reward: ExecTuneReward) -> None:
    records = math_reward.score(completions=["<strategy>Add the pens.</strategy>", "<strategy>subtract them</strategy>"], **MATH)
    good, bad = records
    assert good.status is RewardStatus.SCORED and good.reward == 1.0 and good.success == 1.0
    # The core alone gets it right; this strategy makes it fail: non-degradation penalty 0.5.
    assert bad.execution == 0.0 and bad.nondegradation is not None and bad.nondegradation.degradation == 1.0
    assert bad.reward == pytest.approx(-0.5)
    assert good.cost is not None and good.cost.strategy_tokens > 0 and good.cost.core_completion_tokens > 0


def test_code_components(code_reward: ExecTuneReward) -> None:
    strategies = ["Return the sum.", "Introduce a bug.", "Make it crash.", "```python\ndef add(a, b):\n    return a + b\n```"]
    completions = [f"<strategy>{s}</strategy>" for s in strategies]
    ok, wrong, crash, leak = code_reward.score(completions=completions, **cols(ADD_COLS, 4))
    assert ok.reward == 1.0 and ok.syntax == 1.0 and ok.runs[0].execution.status.value == "passed"
    # a - b passes add(0, 0) only: graded 0.1 + 0.1 + 0.8 / 3, minus 0.5 for losing the success.
    assert wrong.execution == pytest.approx(0.2 + 0.8 / 3) and wrong.reward == pytest.approx(0.2 + 0.8 / 3 - 0.5)
    assert crash.syntax == 0.0 and crash.execution == 0.0
    # A gated leak scores the floor (the worst a well-formed strategy can get: -0.5 here), never more.
    assert leak.status is RewardStatus.LEAKED and leak.reward == code_reward.config.gated_floor == -0.5 and leak.runs == ()


def test_format_failures_score_the_floor_without_core_calls(math_verifier: MathVerifier) -> None:
    calls = Counter()

    def counting(req: CoreRequest) -> str:
        calls["n"] += 1
        return "#### 5"

    reward = ExecTuneReward(RewardConfig.math(), core=CallableCore(counting), math_verifier=math_verifier)
    recs = reward.score(completions=["<strategy>a</strategy><strategy>b</strategy>", "<strategy>open"], **MATH)
    # -0.5: losing the core-only success costs a well-formed strategy at most 0.5, so a broken format scores that.
    assert [r.status for r in recs] == [RewardStatus.FORMAT_FAILED] * 2 and [r.reward for r in recs] == [-0.5, -0.5]
    assert calls["n"] == 0


def test_baseline_is_computed_once_per_task(math_verifier: MathVerifier) -> None:
    seen = Counter()

    def counting(req: CoreRequest) -> str:
        seen["guided" if strategy_of(req) is not None else "alone"] += 1
        return "#### 5"

    reward = ExecTuneReward(RewardConfig.math(), core=CallableCore(counting, model="c"), math_verifier=math_verifier)
    completions = [f"<strategy>Plan {i}.</strategy>" for i in range(4)]
    reward.score(completions=completions, problem=[MATH["problem"][0]] * 4, answer=["5"] * 4)
    reward.score(completions=completions, problem=[MATH["problem"][0]] * 4, answer=["5"] * 4)
    assert seen == {"guided": 8, "alone": 1}


def test_core_runs_are_averaged(math_verifier: MathVerifier) -> None:
    def by_sample(req: CoreRequest) -> str:
        return "#### 5" if req.sample_index < 2 or strategy_of(req) is None else "#### 4"

    cfg = RewardConfig.math(core_runs=3, nondegradation_penalty=0.0)
    reward = ExecTuneReward(cfg, core=CallableCore(by_sample), math_verifier=math_verifier)
    [rec] = reward.score(completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert len(rec.runs) == 3 and rec.success == pytest.approx(2 / 3) and rec.reward == pytest.approx(2 / 3)


def test_infrastructure_failures_give_none_and_are_logged(math_verifier: MathVerifier, caplog: pytest.LogCaptureFixture) -> None:
    def down(req: CoreRequest) -> CoreResponse:
        return CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "503 upstream", model="api")

    reward = ExecTuneReward(RewardConfig.math(), core=CallableCore(down), math_verifier=math_verifier)
    with caplog.at_level(logging.WARNING):
        out = reward(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert out == [None]
    assert "unscored" in caplog.text and "503" in caplog.text


def test_a_raising_core_function_is_infrastructure(math_verifier: MathVerifier) -> None:
    def boom(req: CoreRequest) -> str:
        raise ConnectionError("no route")

    reward = ExecTuneReward(RewardConfig.math(nondegradation_penalty=0), core=CallableCore(boom), math_verifier=math_verifier)
    [rec] = reward.score(completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert rec.reward is None and rec.status is RewardStatus.INFRA and "no route" in rec.reason


def test_sandbox_infra_gives_none() -> None:
    from test_execution import InfraSandbox

    reward = ExecTuneReward(RewardConfig.code(nondegradation_penalty=0), core=CallableCore(code_core_fn), sandbox=InfraSandbox())
    [rec] = reward.score(completions=["<strategy>Return the sum.</strategy>"], **ADD_COLS)
    assert rec.reward is None and rec.status is RewardStatus.INFRA and "worker died" in rec.reason


def test_bad_request_is_the_strategys_fault(math_verifier: MathVerifier) -> None:
    def too_long(req: CoreRequest) -> CoreResponse:
        if strategy_of(req) is None:
            return CoreResponse(text="#### 5")
        return CoreResponse.failure(CoreFailureKind.BAD_REQUEST, "context length exceeded")

    reward = ExecTuneReward(RewardConfig.math(), core=CallableCore(too_long), math_verifier=math_verifier)
    [rec] = reward.score(completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert rec.status is RewardStatus.SCORED and rec.execution == 0.0 and rec.reward == pytest.approx(-0.5)


def test_missing_columns_are_named(math_reward: ExecTuneReward, code_reward: ExecTuneReward) -> None:
    with pytest.raises(MissingColumnError, match="'answer'"):
        math_reward(prompts=["p"], completions=["<strategy>x</strategy>"], problem=["q"])
    with pytest.raises(MissingColumnError, match="'problem' or 'question'"):
        math_reward(prompts=["p"], completions=["<strategy>x</strategy>"], answer=["1"])
    with pytest.raises(MissingColumnError, match="'tests'"):
        code_reward(prompts=["p"], completions=["<strategy>x</strategy>"], problem=["q"])
    no_kind = ExecTuneReward(RewardConfig(), core=CallableCore(math_core_fn))
    with pytest.raises(MissingColumnError, match="'kind'"):
        no_kind(prompts=["p"], completions=["<strategy>x</strategy>"], problem=["q"], answer=["1"])


def test_a_bad_row_does_not_sink_the_batch(math_reward: ExecTuneReward) -> None:
    recs = math_reward.score(completions=["<strategy>Add.</strategy>"] * 2, problem=MATH["problem"], answer=["5", None])
    assert recs[0].reward == 1.0
    assert recs[1].reward is None and recs[1].status is RewardStatus.BAD_TASK and "no gold answer" in recs[1].reason


def test_mixed_kinds_in_one_batch(sandbox: Sandbox, math_verifier: MathVerifier) -> None:
    def core(req: CoreRequest) -> str:
        return code_core_fn(req) if "programming task" in req.messages[0]["content"] else math_core_fn(req)

    reward = ExecTuneReward(RewardConfig(), core=CallableCore(core), sandbox=sandbox, math_verifier=math_verifier)
    recs = reward.score(
        completions=["<strategy>Add.</strategy>"] * 2,
        kind=["math", "code"],
        problem=[MATH["problem"][0], ADD_COLS["problem"][0]],
        answer=["5", None],
        tests=[None, ADD_COLS["tests"][0]],
        test_format=[None, "asserts"],
        entry_point=[None, "add"],
    )
    assert [r.reward for r in recs] == [1.0, 1.0]


def test_given_core_outputs_need_no_core(math_verifier: MathVerifier) -> None:
    reward = ExecTuneReward(RewardConfig.math(), math_verifier=math_verifier)
    recs = reward.score(
        completions=["<strategy>Add.</strategy>"] * 2,
        core_output=[["#### 5", "#### 4"], "#### 5"],
        core_only_output=["#### 5", "#### 5"],
        **MATH,
    )
    assert recs[0].success == 0.5 and recs[0].nondegradation.degradation == 0.5  # type: ignore[union-attr]
    assert recs[1].reward == 1.0


def test_leakage_penalty_mode_still_runs_the_core(math_verifier: MathVerifier) -> None:
    cfg = RewardConfig.math(leakage="penalty", leakage_penalty=0.75)
    reward = ExecTuneReward(cfg, core=CallableCore(math_core_fn), math_verifier=math_verifier)
    [rec] = reward.score(completions=["<strategy>It is 5.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert rec.status is RewardStatus.LEAKED and rec.execution == 1.0 and rec.reward == pytest.approx(0.25)


def test_cost_lowers_the_reward(math_verifier: MathVerifier) -> None:
    cfg = RewardConfig.math(cost_lambda=0.5, nondegradation_penalty=0.0)
    reward = ExecTuneReward(cfg, core=CallableCore(math_core_fn), math_verifier=math_verifier)
    short, long = reward.score(
        completions=["<strategy>Add.</strategy>", "<strategy>" + "Add the pens carefully. " * 40 + "</strategy>"],
        completion_ids=[[1] * 10, [1] * 400],
        **MATH,
    )
    assert short.cost.strategy_tokens == 10 and long.cost.strategy_tokens == 400  # type: ignore[union-attr]
    assert short.cost.strategy_source.value == "completion_ids"  # type: ignore[union-attr]
    assert short.reward == pytest.approx(1.0 - 0.5 * short.cost.cost)  # type: ignore[union-attr]
    assert long.reward < short.reward  # type: ignore[operator]


def test_usd_cost_with_a_price_table_and_an_unknown_price(math_verifier: MathVerifier) -> None:
    def priced(req: CoreRequest) -> CoreResponse:
        return CoreResponse(text="#### 5", prompt_tokens=1000, completion_tokens=1000, model="core-x")

    cfg = RewardConfig.math(cost_unit="usd", cost_lambda=10.0, nondegradation_penalty=0.0)
    known = ExecTuneReward(cfg, core=CallableCore(priced), prices={"core-x": (1.0, 3.0)}, math_verifier=math_verifier)
    [rec] = known.score(completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert rec.cost.usd == pytest.approx(0.004) and rec.reward == pytest.approx(1.0 - 0.04)  # type: ignore[union-attr]
    unknown = ExecTuneReward(cfg, core=CallableCore(priced), math_verifier=math_verifier)
    [rec2] = unknown.score(completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert rec2.reward is None and "price" in rec2.reason


def test_components_are_logged_through_trl_hooks(math_reward: ExecTuneReward) -> None:
    metrics: dict[str, float] = {}
    extra: dict[str, list] = {}
    out = math_reward(
        prompts=["p", "p"],
        completions=["<strategy>Add.</strategy>", "no tags"],
        trainer_state=object(),
        log_metric=lambda k, v: metrics.__setitem__(k, v),
        log_extra=lambda k, v: extra.__setitem__(k, v),
        **MATH,
    )
    assert out == [1.0, -0.5]
    for name in ("format", "execution", "success", "nondegradation", "cost", "strategy_tokens", "core_tokens", "infra", "executability"):
        assert f"exectune/{name}" in metrics
    assert metrics["exectune/format"] == 0.5
    assert extra["exectune/status"] == ["scored", "format_failed"]


def test_every_component_is_logged_when_no_completion_passes_the_gate(math_reward: ExecTuneReward) -> None:
    from exectune_rl.rewards.records import COMPONENTS

    metrics: dict[str, float] = {}
    out = math_reward(
        prompts=["p"] * 3, completions=["garbage", "no tags at all", ""],
        log_metric=lambda k, v: metrics.__setitem__(k, v), problem=MATH["problem"][:1] * 3, answer=["5"] * 3,
    )  # fmt: skip
    assert out == [-0.5, -0.5, -0.5]
    for name in ("format", "execution", "success", "executability", "reward", "infra", "leaked"):
        assert f"exectune/{name}" in metrics, sorted(metrics)
    assert metrics["exectune/format"] == 0.0 and metrics["exectune/execution"] == 0.0 and metrics["exectune/executability"] == 0.0
    # Nothing reached the core: tokens, cost and money were not measured, so they are absent, never a made-up 0.
    for name in ("cost", "strategy_tokens", "core_tokens", "usd", "nondegradation", "leakage"):
        assert f"exectune/{name}" not in metrics
    assert set(COMPONENTS) <= {"format", "execution", "success", "syntax", "cost", "strategy_tokens", "core_tokens", "usd", "nondegradation", "leakage"}


def test_gated_completions_count_zero_in_value_components(math_reward: ExecTuneReward) -> None:
    metrics: dict[str, float] = {}
    math_reward(
        prompts=["p"] * 2, completions=["<strategy>Add.</strategy>", "no tags"],
        log_metric=lambda k, v: metrics.__setitem__(k, v), **MATH,
    )  # fmt: skip
    assert metrics["exectune/execution"] == 0.5 and metrics["exectune/success"] == 0.5
    assert metrics["exectune/strategy_tokens"] > 0  # measured on the scored completion only


def test_works_the_same_without_trl_hooks(math_reward: ExecTuneReward) -> None:
    assert math_reward(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"]) == [1.0]


async def slow_core(req: CoreRequest) -> str:
    await asyncio.sleep(0.3)
    return "#### 5"


def slow_sync_core(req: CoreRequest) -> str:
    time.sleep(0.3)
    return "#### 5"


@pytest.mark.parametrize("fn", [slow_core, slow_sync_core], ids=["async-fn", "sync-fn"])
@pytest.mark.parametrize("entry", ["call", "async-call"])
def test_core_calls_of_a_batch_run_concurrently(math_verifier: MathVerifier, fn, entry: str) -> None:
    cfg = RewardConfig.math(nondegradation_penalty=0.0)
    reward = ExecTuneReward(cfg, core=CallableCore(fn), math_verifier=math_verifier)
    n = 8
    kwargs = dict(prompts=["p"] * n, completions=[f"<strategy>Plan {c}.</strategy>" for c in "abcdefgh"[:n]], problem=MATH["problem"][:1] * n, answer=["5"] * n)
    math_verifier.verify(["5"], ["5"])  # workers started: only the core calls are timed
    start = time.perf_counter()
    out = reward(**kwargs) if entry == "call" else asyncio.run(reward.as_async()(**kwargs))
    assert out == [1.0] * n
    assert time.perf_counter() - start < 0.3 * n / 2  # one by one would take 2.4 s


def test_async_reward_has_its_own_constructor_and_pickles(math_verifier: MathVerifier) -> None:
    # Built directly, not by sharing another reward's __dict__; a copy scores the same.
    reward = AsyncExecTuneReward(RewardConfig.math(nondegradation_penalty=0.0), core=CallableCore(math_core_fn, model="scripted"),
                                 math_verifier=math_verifier)  # fmt: skip
    kwargs = dict(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert asyncio.run(reward(**kwargs)) == [1.0]
    clone = pickle.loads(pickle.dumps(reward))
    assert isinstance(clone, AsyncExecTuneReward) and clone.pipeline is not reward.pipeline
    assert asyncio.run(clone(**kwargs)) == [1.0]
    clone.close()


def test_async_variant(math_verifier: MathVerifier) -> None:
    from trl.trainer.utils import is_async_callable

    reward = ExecTuneReward(RewardConfig.math(nondegradation_penalty=0.0), core=CallableCore(slow_core), math_verifier=math_verifier)
    twin = reward.as_async()
    assert isinstance(twin, AsyncExecTuneReward) and is_async_callable(twin) and not is_async_callable(reward)
    assert twin.__name__ == "exectune" and twin.executor is reward.executor
    n = 6

    async def main() -> list:
        return await asyncio.gather(
            twin(prompts=["p"] * n, completions=["<strategy>A.</strategy>"] * n, problem=MATH["problem"][:1] * n, answer=["5"] * n),
            twin(prompts=["p"] * n, completions=["no"] * n, problem=MATH["problem"][:1] * n, answer=["5"] * n),
        )

    start = time.perf_counter()
    first, second = asyncio.run(main())
    assert first == [1.0] * n and second == [0.0] * n
    assert time.perf_counter() - start < 1.5
    assert inspect.iscoroutinefunction(type(twin).__call__)


def test_pickles_and_scores_the_same(code_reward: ExecTuneReward) -> None:
    completions = ["<strategy>Return the sum.</strategy>", "<strategy>Introduce a bug.</strategy>"]
    before = code_reward(prompts=["p"] * 2, completions=completions, **cols(ADD_COLS, 2))
    clone = pickle.loads(pickle.dumps(code_reward))
    try:
        assert clone.__name__ == "exectune" and clone.config == code_reward.config
        assert clone(prompts=["p"] * 2, completions=completions, **cols(ADD_COLS, 2)) == before
    finally:
        clone.close()


def test_pickles_with_an_openai_compatible_core_and_works_after(math_verifier: MathVerifier, monkeypatch) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from exectune_rl.cores import OpenAICompatibleCore
    from exectune_rl.cores.server import LoopbackServer, create_app

    monkeypatch.setenv("EXECTUNE_TEST_API_KEY", "sk-reward-pickle-secret")
    completions = ["<strategy>Add them.</strategy>", "<strategy>subtract them.</strategy>"]
    with LoopbackServer(create_app(CallableCore(math_core_fn, model="scripted"))) as server:
        core = OpenAICompatibleCore("scripted", base_url=server.base_url, api_key_env="EXECTUNE_TEST_API_KEY")
        reward = ExecTuneReward(RewardConfig.math(), core=core, math_verifier=math_verifier)
        try:
            before = reward(prompts=["p"] * 2, completions=completions, **MATH)  # the core's loop thread runs now
            data = pickle.dumps(reward)
        finally:
            core.close()
        assert b"sk-reward-pickle-secret" not in data
        clone = pickle.loads(data)
        try:
            assert before == [1.0, -0.5]  # the guided failure loses where the core alone succeeds
            assert clone(prompts=["p"] * 2, completions=completions, **MATH) == before
            assert asyncio.run(clone.as_async()(prompts=["p"] * 2, completions=completions, **MATH)) == before
        finally:
            clone.core.close()
            clone.close()


def test_pickles_with_a_user_sandbox_and_a_program_core(math_verifier: MathVerifier) -> None:
    from exectune_rl.cores import ProgramCore
    from exectune_rl.sandboxes import LocalSandbox

    completions = ["<strategy>print(2 + 3)</strategy>", "<strategy>print(2 - 3)</strategy>"]
    cfg = RewardConfig.math(nondegradation_penalty=0.0)
    with LocalSandbox(workers=1) as sb:
        reward = ExecTuneReward(cfg, core=ProgramCore(sb), sandbox=sb, math_verifier=math_verifier)
        before = reward(prompts=["p"] * 2, completions=completions, **MATH)
        clone = pickle.loads(pickle.dumps(reward))
    try:  # the user's pool is closed: the copy runs on a pool of its own
        assert before == [1.0, 0.0]
        assert clone(prompts=["p"] * 2, completions=completions, **MATH) == before
    finally:
        clone.core.sandbox.close()
        clone.close()


def test_named_reward(math_verifier: MathVerifier) -> None:
    reward = ExecTuneReward(RewardConfig.math(name="gsm8k_exec"), core=CallableCore(math_core_fn), math_verifier=math_verifier)
    metrics: dict[str, float] = {}
    reward(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"], log_metric=metrics.__setitem__)
    assert reward.__name__ == "gsm8k_exec" and "gsm8k_exec/execution" in metrics


def test_advisor_preset_uses_the_whole_completion(math_verifier: MathVerifier) -> None:
    reward = ExecTuneReward(RewardConfig.advisor(task_kind="math"), core=CallableCore(math_core_fn), math_verifier=math_verifier)
    recs = reward.score(completions=["just add them", "please subtract"], **MATH)
    assert [r.reward for r in recs] == [1.0, 0.0] and recs[0].strategy == "just add them"


def test_code_tasks_from_humaneval(sandbox: Sandbox, he_tasks: list[Task]) -> None:
    by_id = {t.id: t for t in he_tasks}

    def canonical(req: CoreRequest) -> str:
        task = by_id[req.metadata["task_id"]]  # the reward tags every core call with its task
        return "```python\n" + task.problem + (task.reference or "") + "\n```"

    reward = ExecTuneReward(RewardConfig.code(), core=CallableCore(canonical), sandbox=sandbox)
    columns = {k: [t.to_dict()[k] for t in he_tasks] for k in ("task_id", "problem", "tests", "entry_point", "reference")}
    out = reward(prompts=[""] * len(he_tasks), completions=["<strategy>Read the docstring; handle edge cases.</strategy>"] * len(he_tasks), **columns)
    assert out == [1.0] * len(he_tasks)


def test_a_row_without_output_and_no_core_is_bad_data(math_verifier: MathVerifier) -> None:
    reward = ExecTuneReward(RewardConfig.math(nondegradation_penalty=0.0), math_verifier=math_verifier)
    recs = reward.score(completions=["<strategy>Add.</strategy>"] * 2, core_output=["#### 5", None], **MATH)
    assert recs[0].reward == 1.0
    assert recs[1].reward is None and recs[1].status is RewardStatus.BAD_TASK and "core_output" in recs[1].reason


class RaisingCore(CallableCore):
    """A third-party core that breaks the contract and raises."""

    def generate(self, requests):  # type: ignore[no-untyped-def]
        raise RuntimeError("socket closed")

    async def agenerate(self, requests):  # type: ignore[no-untyped-def]
        raise RuntimeError("socket closed")


def test_a_raising_core_never_reaches_the_trainer(math_verifier: MathVerifier) -> None:
    reward = ExecTuneReward(RewardConfig.math(), core=RaisingCore(math_core_fn), math_verifier=math_verifier)
    kwargs = dict(prompts=["p"], completions=["<strategy>Add.</strategy>"], problem=MATH["problem"][:1], answer=["5"])
    assert reward(**kwargs) == [None]
    assert asyncio.run(reward.as_async()(**kwargs)) == [None]


def test_an_empty_batch_is_an_empty_list_whatever_its_columns() -> None:
    from exectune_rl.rewards import ExecTuneReward, RewardConfig

    with ExecTuneReward(RewardConfig.math(math_workers=1)) as reward:
        assert reward.score(completions=[]) == []
        assert reward(prompts=[], completions=[]) == []
        assert reward.score(completions=[], problem=[], answer=[]) == []


def test_data_that_is_not_the_models_is_a_bad_row_not_a_format_failure() -> None:
    # A null completion used to score as a format failure (the gated floor) and a core_output
    # of 7 as "no final answer": the row's data, not the model, was at fault.
    from exectune_rl.rewards import ExecTuneReward, RewardConfig

    with ExecTuneReward(RewardConfig.math(math_workers=1, nondegradation_penalty=0)) as reward:
        recs = reward.score(completions=["<strategy>add</strategy>", None, "<strategy>add</strategy>",
                                         "<strategy>add</strategy>", 5],
                            problem=["1+1?"] * 5, answer=["2"] * 5,
                            core_output=["\\boxed{2}", "\\boxed{2}", 7, ["2", None], "\\boxed{2}"])
    assert [r.status.value for r in recs] == ["scored", "bad_task", "bad_task", "bad_task", "bad_task"]
    assert recs[0].reward == 1.0 and all(r.reward is None for r in recs[1:])
    assert "completion" in recs[1].reason and "core_output" in recs[2].reason
