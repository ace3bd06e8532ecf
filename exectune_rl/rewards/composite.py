"""``ExecTuneReward``: format, execution, leakage, non-degradation and cost in one TRL reward.

It is a picklable callable class with TRL's reward signature: it returns one float (or None)
per completion. For each well-formed strategy it calls the core with the task plus the
strategy (``core_runs`` times, all calls of a batch together), runs or verifies what the core
produced, compares with the core alone on the same task (computed once per task and kept),
and combines the components as :class:`~exectune_rl.rewards.RewardConfig` describes.

Infrastructure failures (sandbox INFRA, core API down, a judge unavailable) give None with the
reason logged, never 0: the model is not punished for the infrastructure.

Example:
    >>> from exectune_rl.cores import CallableCore
    >>> core = CallableCore(lambda req: "The answer is 5.\\n#### 5", model="scripted")
    >>> reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0), core=core)
    >>> reward(prompts=["2+3?"], completions=["<strategy>Add 2 and 3.</strategy>"],
    ...        problem=["What is 2+3?"], answer=["5"])
    [1.0]
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exectune_rl.rewards.config import RewardConfig
from exectune_rl.rewards.cost import CostModel, TokenCounter
from exectune_rl.rewards.execution import CodeExecutor, ExecutionResult, Grading
from exectune_rl.rewards.format_gate import FormatGate
from exectune_rl.rewards.leakage import LeakageDetector, get_leakage_detector
from exectune_rl.rewards.mathcheck import MathVerifier
from exectune_rl.rewards.metrics import batch_metrics, log_metrics
from exectune_rl.rewards.nondegradation import BaselineStore
from exectune_rl.rewards.pipeline import RewardPipeline
from exectune_rl.rewards.records import RewardRecord
from exectune_rl.rewards.syntax import SyntaxChecker
from exectune_rl.tasks.base import Task
from exectune_rl.tasks.prompts import core_messages

__all__ = ["ExecTuneReward", "AsyncExecTuneReward", "batch_means", "build_pipeline"]

logger = logging.getLogger(__name__)

_DETECTOR_OPTIONS = {
    "long_code_block": lambda cfg: {"max_lines": cfg.max_code_lines},
    "reference_overlap": lambda cfg: {"threshold": cfg.overlap_threshold},
}


def _detector(d: LeakageDetector | str, cfg: RewardConfig) -> LeakageDetector:
    if not isinstance(d, str):
        return d
    return get_leakage_detector(d, **_DETECTOR_OPTIONS.get(d, lambda cfg: {})(cfg))


def build_pipeline(
    config: RewardConfig,
    *,
    core: Any | None = None,
    sandbox: Any | None = None,
    detectors: Sequence[LeakageDetector | str] | None = None,
    tokenizer: Any | None = None,
    prices: Mapping[str, Any] | Any | None = None,
    baselines: BaselineStore | None = None,
    prompt_builder: Callable[[Task, str | None], Sequence[Mapping[str, str]]] | None = None,
    math_verifier: MathVerifier | None = None,
) -> RewardPipeline:
    """The :class:`RewardPipeline` a configuration describes (arguments as for :class:`ExecTuneReward`)."""
    cfg = config
    syntax = SyntaxChecker()
    executor = CodeExecutor(
        sandbox,
        sandbox_name=cfg.sandbox,
        workers=cfg.sandbox_workers,
        sandbox_options=cfg.sandbox_options,
        cpu_time_s=cfg.cpu_time_s,
        memory_mb=cfg.memory_mb,
        grading=Grading(cfg.graded_execution, cfg.parse_credit, cfg.run_credit),
        cache_size=cfg.execution_cache_size,
        syntax_precheck=cfg.syntax_precheck,
        syntax_checker=syntax,
        calibration=_calibration(cfg),
    )
    names = cfg.leakage_detectors if detectors is None else detectors
    # A core may say how it wants to be prompted (a program core runs the strategy itself).
    builder = prompt_builder or getattr(core, "prompt_builder", None) or core_messages
    return RewardPipeline(
        cfg,
        core=core,
        format_gate=FormatGate(cfg.strategy_tag, max_chars=cfg.max_strategy_chars),
        detectors=[] if cfg.leakage == "off" else [_detector(d, cfg) for d in names],
        executor=executor,
        math_verifier=math_verifier or MathVerifier(
            cfg.math_workers, timeout_s=cfg.math_timeout_s, grading=Grading(cfg.graded_execution, cfg.parse_credit, 0.0)
        ),
        syntax=syntax,
        guide_counter=TokenCounter(tokenizer),
        core_counter=TokenCounter(None),
        cost_model=CostModel(cfg.cost_unit, guide_model=cfg.guide_model, prices=prices),
        baselines=baselines if baselines is not None else BaselineStore(cfg.baseline_path),
        prompt_builder=builder,
    )


class ExecTuneReward:
    """The composite ExecTune reward for TRL trainers and custom RL loops.

    A thin adapter: the work is done by its :class:`~exectune_rl.rewards.pipeline.RewardPipeline`
    (``reward.pipeline``); this class speaks TRL's reward signature and logs every metric of
    :mod:`exectune_rl.rewards.metrics` (``<name>/executability`` among them) each batch.

    Args:
        config: The reward's configuration (default ``RewardConfig()``).
        core: The black-box core (any :class:`~exectune_rl.cores.Core`). May be None when
            every row carries a ``core_output`` column.
        sandbox: A sandbox for code tasks (not closed by the reward); None creates
            ``config.sandbox`` on first use.
        detectors: Leakage detectors (instances or names); default ``config.leakage_detectors``.
        tokenizer: The guide's tokenizer, for strategy tokens when TRL passes no ``completion_ids``.
        prices: A price table (model -> dollars per million tokens) for ``cost_unit="usd"``.
        baselines: A store of core-only outcomes to share or persist (default: from
            ``config.baseline_path``, else in memory).
        prompt_builder: ``(task, strategy | None) -> messages`` for core calls (default: the
            core's own ``prompt_builder`` when it has one, else
            :func:`exectune_rl.tasks.core_messages`; ``None`` asks for the core-only prompt).
        math_verifier: A math verifier to share (default: one with ``config.math_workers``).

    Dataset columns: see :mod:`exectune_rl.rewards.columns` (``problem``, ``kind``, ``answer``,
    ``tests``, ``entry_point``, ...). A missing column raises ``MissingColumnError`` naming it.

    Example:
        >>> reward = ExecTuneReward(RewardConfig.code(), core=my_core)    # doctest: +SKIP
        >>> trainer = GRPOTrainer(model, reward_funcs=reward, ...)        # doctest: +SKIP
    """

    def __init__(
        self,
        config: RewardConfig | None = None,
        *,
        core: Any | None = None,
        sandbox: Any | None = None,
        detectors: Sequence[LeakageDetector | str] | None = None,
        tokenizer: Any | None = None,
        prices: Mapping[str, Any] | Any | None = None,
        baselines: BaselineStore | None = None,
        prompt_builder: Callable[[Task, str | None], Sequence[Mapping[str, str]]] | None = None,
        math_verifier: MathVerifier | None = None,
        pipeline: RewardPipeline | None = None,
    ) -> None:
        if pipeline is None:
            cfg = config if config is not None else RewardConfig()
            if not isinstance(cfg, RewardConfig):
                raise TypeError(f"config must be a RewardConfig, got {type(cfg).__name__}")
            pipeline = build_pipeline(
                cfg, core=core, sandbox=sandbox, detectors=detectors, tokenizer=tokenizer, prices=prices,
                baselines=baselines, prompt_builder=prompt_builder, math_verifier=math_verifier,
            )  # fmt: skip
        self.pipeline = pipeline
        self.__name__ = pipeline.config.name

    # The collaborators, read through the pipeline (one object holds them).
    config = property(lambda self: self.pipeline.config)
    core = property(lambda self: self.pipeline.core)
    format_gate = property(lambda self: self.pipeline.format_gate)
    syntax = property(lambda self: self.pipeline.syntax)
    executor = property(lambda self: self.pipeline.executor)
    math_verifier = property(lambda self: self.pipeline.math_verifier)
    detectors = property(lambda self: self.pipeline.detectors)
    guide_counter = property(lambda self: self.pipeline.guide_counter)
    core_counter = property(lambda self: self.pipeline.core_counter)
    cost_model = property(lambda self: self.pipeline.cost_model)
    prompt_builder = property(lambda self: self.pipeline.prompt_builder)

    @property
    def baselines(self) -> BaselineStore:
        return self.pipeline.baselines

    @baselines.setter
    def baselines(self, store: BaselineStore) -> None:
        self.pipeline.baselines = store

    def execute(self, outputs: Sequence[str], tasks: Sequence[Task]) -> list[ExecutionResult]:
        """Grade each core output against its task (see :meth:`RewardPipeline.execute`)."""
        return self.pipeline.execute(outputs, tasks)

    def core_request(self, task: Task | None, strategy: str | None, sample_index: int = 0) -> Any:
        """The request this reward sends its core for ``task`` guided by ``strategy``
        (``None``: the core alone, as for the non-degradation baseline)."""
        return self.pipeline.core_request(task, strategy, sample_index)

    # --- entry points ---------------------------------------------------------------------------

    def score(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **columns: Any
    ) -> list[RewardRecord]:
        """Score a batch and return the full per-component breakdown.

        Args:
            prompts: The guide's prompts (not used for scoring; accepted for TRL's signature).
            completions: The guide's completions (strings or chat messages).
            completion_ids: Token ids of each completion (TRL passes them), for exact cost.
            **columns: Dataset columns, one list per column (see :mod:`~exectune_rl.rewards.columns`).

        Returns:
            One :class:`RewardRecord` per completion.

        Raises:
            MissingColumnError: a needed column is absent.
        """
        return self.pipeline.score(prompts, completions, completion_ids, columns)

    async def ascore(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **columns: Any
    ) -> list[RewardRecord]:
        """Async :meth:`score`: core calls are awaited together, CPU work runs off the loop."""
        return await self.pipeline.ascore(prompts, completions, completion_ids, columns)

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **kwargs: Any
    ) -> list[float | None]:
        """TRL's reward signature: one float (or None for an infrastructure failure) per completion."""
        log_metric, log_extra = _pop_trl_hooks(kwargs)
        records = self.score(prompts, completions, completion_ids, **kwargs)
        self.log(records, log_metric, log_extra)
        return [r.reward for r in records]

    def as_async(self) -> "AsyncExecTuneReward":
        """An async twin sharing this reward's pipeline (sandbox, core, caches and baselines).

        TRL awaits async reward functions together, so core calls overlap other rewards.
        """
        return AsyncExecTuneReward(pipeline=self.pipeline)

    # --- logging ---------------------------------------------------------------------------------

    def log(self, records: Sequence[RewardRecord], log_metric: Any = None, log_extra: Any = None) -> None:
        """Log a batch: unscored completions as a warning, every measured metric through
        ``log_metric`` (``<name>/<metric>``; a metric with nothing to average is not sent),
        statuses and execution values through ``log_extra``."""
        unscored = [r for r in records if r.reward is None]
        if unscored:
            reasons = Counter(r.reason.split(":")[0] for r in unscored).most_common(3)
            logger.warning(
                "%s: %d of %d completions unscored (reward None): %s; first: %s",
                self.__name__, len(unscored), len(records), reasons, unscored[0].reason,
            )  # fmt: skip
        if not self.config.log_components or not records:
            return
        log_metrics(self.__name__, records, log_metric, self.config.core_runs)
        if callable(log_extra):
            log_extra(f"{self.__name__}/status", [r.status.value for r in records])
            log_extra(f"{self.__name__}/execution", [r.execution for r in records])

    _log = log  # the name before it was public

    # --- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop worker processes and the sandbox this reward created. Idempotent."""
        self.pipeline.close()

    def __enter__(self) -> "ExecTuneReward":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r}, kind={self.config.task_kind!r}, core={getattr(self.core, 'model', None)!r})"


class AsyncExecTuneReward(ExecTuneReward):
    """``ExecTuneReward`` with an ``async`` ``__call__`` (TRL awaits these together).

    Built like :class:`ExecTuneReward` (same arguments), or by :meth:`ExecTuneReward.as_async`
    to share an existing reward's pipeline.
    """

    async def __call__(  # type: ignore[override]
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **kwargs: Any
    ) -> list[float | None]:
        log_metric, log_extra = _pop_trl_hooks(kwargs)
        records = await self.ascore(prompts, completions, completion_ids, **kwargs)
        self.log(records, log_metric, log_extra)
        return [r.reward for r in records]


def _pop_trl_hooks(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """TRL's ``log_metric`` and ``log_extra`` callbacks, taken out of the dataset columns
    (``trainer_state`` is dropped: it is no column)."""
    kwargs.pop("trainer_state", None)
    return kwargs.pop("log_metric", None), kwargs.pop("log_extra", None)


def batch_means(records: Sequence[RewardRecord], core_runs: int = 1) -> dict[str, float | None]:
    """Every metric's batch value (:func:`exectune_rl.rewards.metrics.batch_metrics`).

    Each metric averages over its stated denominator (``metrics.DENOMINATORS``); one with
    nothing to average (no priced model for ``usd``) is None, never 0.

    Example:
        >>> batch_means([])["executability"] is None
        True
    """
    return batch_metrics(records, core_runs)


def _calibration(cfg: RewardConfig) -> Any:
    """The calibrated time limits the configuration asks for, or None."""
    if not cfg.calibrate_time_limits:
        return None
    from exectune_rl.sandboxes.calibration import Calibration

    return Calibration(factor=cfg.calibration_factor, floor_s=cfg.calibration_floor_s, recheck=cfg.calibration_recheck)
