"""One definition of each metric: score()'s summary, TRL logging, RL logging and exectune eval agree.

Real scripted cores and real math workers; the batch mixes what made the copies drift apart
before: a correct strategy, a wrong one, a format failure and a gated leak for each task.
"""

from __future__ import annotations

import pytest

from exectune_rl.cores.base import CallableCore, CoreRequest
from exectune_rl.evaluation.evaluate import evaluate_method
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from exectune_rl.rewards.metrics import DENOMINATORS, METRICS, MetricAccumulator, batch_metrics, strategy_outcomes
from exectune_rl.rewards.summary import ScoreSummary, format_table
from exectune_rl.tasks.base import Task
from exectune_rl.training.judge import task_columns
from exectune_rl.training.rl import executability_of

from reward_testlib import strategy_of

TASKS = [
    Task("add", "math", "Sam has 2 pens and buys 3 more. How many pens?", answer="5"),
    Task("mul", "math", "A box holds 4 rows of 3 eggs. How many eggs?", answer="12"),
]
ANSWERS = {"add": "5", "mul": "12"}
# Per task: executed, well-formed but wrong, failed format gate, gold answer handed over (gated leak).
STRATEGIES = ["<strategy>Work it out step by step.</strategy>", "<strategy>Guess low.</strategy>",
              "<strategy>unclosed", "<strategy>The answer is {answer}.</strategy>"]  # fmt: skip


def core_fn(request: CoreRequest) -> str:
    """Right alone and when told to work it out; wrong when told to guess."""
    task_id = request.metadata["task_id"]
    strategy = strategy_of(request) or ""
    return "#### 1" if "Guess" in strategy else f"#### {ANSWERS[task_id]}"


def guide_fn(request: CoreRequest) -> str:
    """The guide writes strategy number ``sample_index`` for its task."""
    task_id = request.metadata["task_id"]
    return STRATEGIES[request.sample_index].format(answer=ANSWERS[task_id])


@pytest.fixture
def reward(math_verifier):
    cfg = RewardConfig.math(core_runs=2)
    with ExecTuneReward(cfg, core=CallableCore(core_fn, model="scripted"), math_verifier=math_verifier) as rw:
        yield rw


def _batch():
    tasks = [t for t in TASKS for _ in STRATEGIES]
    completions = [s.format(answer=ANSWERS[t.id]) for t in TASKS for s in STRATEGIES]
    return tasks, completions


def test_every_path_reports_the_same_metrics(reward):
    tasks, completions = _batch()
    columns = task_columns(tasks)
    records = reward.score(completions=completions, **columns)
    assert [r.status.value for r in records[:4]] == ["scored", "scored", "format_failed", "leaked"]

    # exectune score's summary
    summary = ScoreSummary(core_runs=2)
    summary.add(records)
    result = summary.result()
    # TRL's call with log_metric (what GRPO/RLOO training logs every step)
    logged: dict[str, float] = {}
    reward(prompts=None, completions=completions, log_metric=logged.__setitem__, **columns)
    batch = batch_metrics(records, core_runs=2)

    # The paper's alpha: per task, 1 of 4 sampled strategies executed (the format failure and the
    # leak count as not executed). The summary used to skip them and say 1.0.
    assert result["executability"]["alpha"] == pytest.approx(0.25)
    assert logged["exectune/executability"] == pytest.approx(0.25)
    assert executability_of(records, core_runs=2) == pytest.approx(0.25)  # RL's helper
    for name in ("format", "execution", "success", "syntax", "cost", "strategy_tokens", "core_tokens", "nondegradation", "leakage"):
        value = result["components"][name]
        assert batch[name] == value, name
        if value is None:
            assert f"exectune/{name}" not in logged, name
        else:
            assert logged[f"exectune/{name}"] == pytest.approx(value), name
    assert logged["exectune/reward"] == pytest.approx(result["reward_mean"])
    assert result["components"]["execution"] == pytest.approx(0.25) and result["components"]["format"] == pytest.approx(0.75)
    assert result["counts"]["execution"] == 8 and result["counts"]["format"] == 8 and result["counts"]["cost"] == 4
    assert set(result["denominators"]) >= {"execution", "executability", "format"}
    table = format_table(result)
    assert "n=8 strategies, gated = 0" in table and "mean over tasks" in table

    # exectune eval's aggregation: the same strategies sampled by a guide (k = 4, m = 2)
    guide = CallableCore(guide_fn, model="guide")
    method = evaluate_method("guided", guide, TASKS, reward, guide_prompt=lambda t: t.problem, k=len(STRATEGIES))
    assert method.executability is not None and method.executability.value == pytest.approx(0.25)
    assert method.format_rate == pytest.approx(result["components"]["format"])
    assert method.leak_rate == pytest.approx(logged["exectune/leaked"])
    assert method.executability.n == result["executability"]["runs"] == 16  # k * m runs per task, gated included


def test_unknown_price_is_absent_from_the_logs_not_zero(math_verifier):
    # "scripted" has no price: score() says usd=None, and the trainer log must not say 0.0.
    core = CallableCore(core_fn, model="scripted-no-price")
    with ExecTuneReward(RewardConfig.math(), core=core, math_verifier=math_verifier) as rw:
        logged: dict[str, float] = {}
        columns = task_columns(TASKS[:1])
        recs = rw(prompts=None, completions=[STRATEGIES[0]], log_metric=logged.__setitem__, **columns)
        assert recs == [1.0]
        [record] = rw.score(completions=[STRATEGIES[0]], **columns)
    assert record.cost is not None and record.cost.usd is None
    assert "exectune/usd" not in logged and "exectune/cost" in logged
    assert batch_metrics([record])["usd"] is None


def test_infrastructure_failures_are_left_out_of_executability(math_verifier):
    def flaky(request: CoreRequest) -> str:
        if request.metadata["task_id"] == "mul":
            raise ConnectionError("core down")
        return core_fn(request)

    with ExecTuneReward(RewardConfig.math(nondegradation_penalty=0), core=CallableCore(flaky), math_verifier=math_verifier) as rw:
        records = rw.score(completions=[STRATEGIES[0], STRATEGIES[0]], **task_columns(TASKS))
    assert [r.status.value for r in records] == ["scored", "infra"]
    assert strategy_outcomes(records[1]) is None
    metrics = batch_metrics(records)
    assert metrics["executability"] == 1.0 and metrics["infra"] == 0.5  # the lost task is not a failure


def test_every_metric_states_its_denominator():
    assert set(DENOMINATORS) == set(METRICS)
    assert MetricAccumulator().means() == dict.fromkeys(METRICS, None)
