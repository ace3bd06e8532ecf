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

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.cores.base import CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.rewards.config import RewardConfig
from exectune_rl.rewards.cost import CostModel, TokenCounter
from exectune_rl.rewards.execution import CodeExecutor, ExecutionResult, Grading
from exectune_rl.rewards.format_gate import FormatGate
from exectune_rl.rewards.leakage import LeakageDetector, get_leakage_detector
from exectune_rl.rewards.mathcheck import MathVerifier
from exectune_rl.rewards.nondegradation import BaselineStore
from exectune_rl.rewards.pipeline import build_requests, finish, prepare
from exectune_rl.rewards.records import COMPONENTS, RewardRecord, RewardStatus
from exectune_rl.rewards.syntax import SyntaxChecker
from exectune_rl.tasks.base import Task, TaskKind
from exectune_rl.tasks.prompts import core_messages

__all__ = ["ExecTuneReward", "AsyncExecTuneReward"]

logger = logging.getLogger(__name__)

_DETECTOR_OPTIONS = {
    "long_code_block": lambda cfg: {"max_lines": cfg.max_code_lines},
    "reference_overlap": lambda cfg: {"threshold": cfg.overlap_threshold},
}


class ExecTuneReward(TransientState):
    """The composite ExecTune reward for TRL trainers and custom RL loops.

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
        prompt_builder: ``(task, strategy | None) -> messages`` for core calls (default:
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
    ) -> None:
        cfg = config if config is not None else RewardConfig()
        if not isinstance(cfg, RewardConfig):
            raise TypeError(f"config must be a RewardConfig, got {type(cfg).__name__}")
        self.config = cfg
        self.__name__ = cfg.name
        self.core = core
        self.format_gate = FormatGate(cfg.strategy_tag, max_chars=cfg.max_strategy_chars)
        self.syntax = SyntaxChecker()
        grading = Grading(cfg.graded_execution, cfg.parse_credit, cfg.run_credit)
        self.executor = CodeExecutor(
            sandbox,
            sandbox_name=cfg.sandbox,
            workers=cfg.sandbox_workers,
            cpu_time_s=cfg.cpu_time_s,
            memory_mb=cfg.memory_mb,
            grading=grading,
            cache_size=cfg.execution_cache_size,
            syntax_precheck=cfg.syntax_precheck,
            syntax_checker=self.syntax,
        )
        self.math_verifier = math_verifier or MathVerifier(
            cfg.math_workers, timeout_s=cfg.math_timeout_s, grading=Grading(cfg.graded_execution, cfg.parse_credit, 0.0)
        )
        names = cfg.leakage_detectors if detectors is None else detectors
        self.detectors = [] if cfg.leakage == "off" else [self._detector(d) for d in names]
        self.guide_counter = TokenCounter(tokenizer)
        self.core_counter = TokenCounter(None)
        self.cost_model = CostModel(cfg.cost_unit, guide_model=cfg.guide_model, prices=prices)
        self.baselines = baselines if baselines is not None else BaselineStore(cfg.baseline_path)
        self.prompt_builder = prompt_builder or core_messages
        self._init_transient()

    _transient = ("_prompt_cache",)

    def _init_transient(self) -> None:
        self._prompt_cache: dict[str, int] = {}

    def _detector(self, d: LeakageDetector | str) -> LeakageDetector:
        if not isinstance(d, str):
            return d
        options = _DETECTOR_OPTIONS.get(d, lambda cfg: {})(self.config)
        return get_leakage_detector(d, **options)

    # --- components the pipeline calls ---------------------------------------------------------

    def run_code(self, outputs: Sequence[str], tasks: Sequence[Task]) -> list[ExecutionResult]:
        """Grade core programs against their tasks' tests (one sandbox batch)."""
        return self.executor.run(outputs, tasks)

    def run_math(self, outputs: Sequence[str], tasks: Sequence[Task]) -> list[ExecutionResult]:
        """Verify core answers against gold answers (math-verify in worker processes)."""
        return self.math_verifier.verify(outputs, [t.answer for t in tasks])

    def execute(self, outputs: Sequence[str], tasks: Sequence[Task]) -> list[ExecutionResult]:
        """Grade each core output against its task: code tasks in one sandbox batch, math tasks
        with math-verify. One result per output, in order."""
        results: list[ExecutionResult | None] = [None] * len(outputs)
        for kind, runner in ((TaskKind.CODE, self.run_code), (TaskKind.MATH, self.run_math)):
            idx = [k for k, t in enumerate(tasks) if t.kind is kind]
            if idx:
                for k, res in zip(idx, runner([outputs[k] for k in idx], [tasks[k] for k in idx])):
                    results[k] = res
        return [r if r is not None else ExecutionResult.infra("not executed") for r in results]

    def core_request(self, task: Task | None, strategy: str | None, sample_index: int = 0) -> CoreRequest:
        """The request this reward sends its core for ``task`` guided by ``strategy``
        (``None``: the core alone, as for the non-degradation baseline)."""
        return CoreRequest(
            messages=tuple(self.prompt_builder(task, strategy)),
            temperature=self.config.core_temperature,
            max_tokens=self.config.core_max_tokens,
            sample_index=sample_index,
            metadata={"task_id": task.id if task else ""},
        )

    def _prompt_tokens(self, task: Task, strategy: str) -> int:
        """Estimated core prompt tokens: the task's prompt (counted once per task) plus the strategy."""
        base = self._prompt_cache.get(task.id)
        if base is None:
            text = "\n".join(m.get("content", "") for m in self.prompt_builder(task, ""))
            base, _ = self.core_counter.count(text)
            if len(self._prompt_cache) > 100_000:
                self._prompt_cache.clear()
            self._prompt_cache[task.id] = base
        return base + self.core_counter.count(strategy)[0]

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
        batch = prepare(self, prompts, completions, completion_ids, columns)
        requests = build_requests(self, batch)
        try:
            responses = self.core.generate(requests) if requests else []
        except Exception as exc:  # a core must not raise; if one does, it is infrastructure
            responses = _failed(requests, exc)
        return finish(self, batch, responses)

    async def ascore(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **columns: Any
    ) -> list[RewardRecord]:
        """Async :meth:`score`: core calls are awaited together, CPU work runs off the loop."""
        batch = await asyncio.to_thread(prepare, self, prompts, completions, completion_ids, columns)
        requests = build_requests(self, batch)
        try:
            responses = await self.core.agenerate(requests) if requests else []
        except Exception as exc:  # a core must not raise; if one does, it is infrastructure
            responses = _failed(requests, exc)
        return await asyncio.to_thread(finish, self, batch, responses)

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **kwargs: Any
    ) -> list[float | None]:
        """TRL's reward signature: one float (or None for an infrastructure failure) per completion."""
        log_metric, log_extra = _pop_trl_hooks(kwargs)
        records = self.score(prompts, completions, completion_ids, **kwargs)
        self._log(records, log_metric, log_extra)
        return [r.reward for r in records]

    def as_async(self) -> "AsyncExecTuneReward":
        """An async twin sharing this reward's sandbox, core, caches and baselines.

        TRL awaits async reward functions together, so core calls overlap other rewards.
        """
        twin = AsyncExecTuneReward.__new__(AsyncExecTuneReward)
        twin.__dict__ = self.__dict__
        return twin

    # --- logging ---------------------------------------------------------------------------------

    def _log(self, records: list[RewardRecord], log_metric: Any, log_extra: Any) -> None:
        unscored = [r for r in records if r.reward is None]
        if unscored:
            reasons = Counter(r.reason.split(":")[0] for r in unscored).most_common(3)
            logger.warning(
                "%s: %d of %d completions unscored (reward None): %s; first: %s",
                self.__name__, len(unscored), len(records), reasons, unscored[0].reason,
            )  # fmt: skip
        if not self.config.log_components or not records:
            return
        if callable(log_metric):
            for name, value in batch_means(records).items():
                log_metric(f"{self.__name__}/{name}", value)
        if callable(log_extra):
            log_extra(f"{self.__name__}/status", [r.status.value for r in records])
            log_extra(f"{self.__name__}/execution", [r.execution for r in records])

    # --- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop worker processes and the sandbox this reward created. Idempotent."""
        self.executor.close()
        self.math_verifier.close()
        for d in self.detectors:
            try:
                d.close()
            except Exception:  # a plugin failing to close must not hide the others
                logger.debug("detector close failed", exc_info=True)

    def __enter__(self) -> "ExecTuneReward":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r}, kind={self.config.task_kind!r}, core={getattr(self.core, 'model', None)!r})"


class AsyncExecTuneReward(ExecTuneReward):
    """``ExecTuneReward`` with an ``async`` ``__call__`` (TRL awaits these together)."""

    async def __call__(  # type: ignore[override]
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, completion_ids: Any = None, **kwargs: Any
    ) -> list[float | None]:
        log_metric, log_extra = _pop_trl_hooks(kwargs)
        records = await self.ascore(prompts, completions, completion_ids, **kwargs)
        self._log(records, log_metric, log_extra)
        return [r.reward for r in records]


def _pop_trl_hooks(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """TRL's ``log_metric`` and ``log_extra`` callbacks, taken out of the dataset columns
    (``trainer_state`` is dropped: it is no column)."""
    kwargs.pop("trainer_state", None)
    return kwargs.pop("log_metric", None), kwargs.pop("log_extra", None)


def _failed(requests: Sequence[Any], exc: Exception) -> list[CoreResponse]:
    logger.warning("the core raised instead of returning failed responses: %s: %s", type(exc).__name__, exc)
    return [CoreResponse.failure(CoreFailureKind.INTERNAL, f"core raised {type(exc).__name__}: {exc}") for _ in requests]


# Components measured in tokens or money: averaged over the completions that have them.
_MEASURED = frozenset({"cost", "strategy_tokens", "core_tokens", "usd"})


def batch_means(records: Sequence[RewardRecord]) -> dict[str, float]:
    """Every component's batch mean, plus the reward's mean and status shares.

    Every key of :data:`COMPONENTS` is present for a non-empty batch, so trainer logs show each
    component at every step. Value components (format, execution, leakage...) average over the
    scored completions, a completion stopped before the core (format gate, gated leak) counting
    0; unscored completions (reward None) count only where they carry a value. Token and money
    components average over the completions where they were measured, 0.0 when none was.

    Example:
        >>> batch_means([])
        {}
    """
    out: dict[str, float] = {}
    if not records:
        return out
    comps = [(r.reward is not None, r.components) for r in records]
    for name in COMPONENTS:
        if name in _MEASURED:
            got = [c[name] for _, c in comps if c[name] is not None]
        else:
            got = [c[name] or 0.0 for scored, c in comps if scored or c[name] is not None]
        out[name] = float(sum(got) / len(got)) if got else 0.0  # type: ignore[arg-type]
    scored = [r.reward for r in records if r.reward is not None]
    out["reward"] = sum(scored) / len(scored) if scored else 0.0
    out["infra"] = sum(r.status in (RewardStatus.INFRA, RewardStatus.BAD_TASK) for r in records) / len(records)
    out["leaked"] = sum(r.status is RewardStatus.LEAKED for r in records) / len(records)
    return out
