"""Teacher-guided acceptance sampling: the data step of the ExecTune recipe.

A teacher (any :class:`~exectune_rl.cores.base.Core`) writes ``k`` strategies per task. A
:class:`StrategyJudge` has the target core execute each one and says whether it passed the
format gate, did not leak the answer and executed successfully; only those are kept. A
rejected strategy can be revised: the teacher sees its own attempt and the failure as
feedback, for up to ``revision_rounds`` rounds. Infrastructure failures (teacher or core down,
sandbox INFRA) are counted apart and never revised or kept: they are nobody's mistake.

Resuming is free when teacher and core sit behind a :class:`~exectune_rl.runtime.CachedCore`:
a rerun sends the same requests and every answer comes from the cache.

Example:
    >>> result = acceptance_sample(tasks, teacher, judge, k=4, revision_rounds=1)   # doctest: +SKIP
    >>> result.stats.acceptance_rate                                                # doctest: +SKIP
    0.62
"""

from __future__ import annotations

import collections
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError
from exectune_rl.tasks.base import Task

__all__ = [
    "Verdict",
    "Rejection",
    "StrategyJudge",
    "Candidate",
    "AcceptanceStats",
    "AcceptanceResult",
    "acceptance_sample",
    "feedback_message",
]

logger = logging.getLogger(__name__)


class Rejection(str, enum.Enum):
    """Why a candidate was not kept (a ``str`` enum: its values are stable in JSON output)."""

    NONE = ""
    FORMAT = "format"
    LEAK = "leak"
    EXECUTION = "execution"
    INFRA = "infra"
    TEACHER_ERROR = "teacher_error"

    def __str__(self) -> str:
        return self.value


Rejection.ALL = (Rejection.FORMAT, Rejection.LEAK, Rejection.EXECUTION, Rejection.INFRA, Rejection.TEACHER_ERROR)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Verdict:
    """What the judge found for one (task, strategy).

    Attributes:
        format_ok: The completion holds exactly one well-formed strategy block.
        leaked: A leakage detector fired.
        executed: The core, given the strategy, solved the task.
        infra: The judgement could not be made (core or sandbox failure).
        strategy: The strategy block's inner text ("" when the format gate failed).
        feedback: A short description of the failure, shown to the teacher when revising.
        reward: The composite reward when the judge computes one.
        core_tokens: Core tokens spent on this strategy (prompt + completion), when known.
    """

    format_ok: bool
    leaked: bool
    executed: bool
    infra: bool = False
    strategy: str = ""
    feedback: str = ""
    reward: float | None = None
    core_tokens: int | None = None

    @property
    def accepted(self) -> bool:
        return self.format_ok and not self.leaked and self.executed and not self.infra

    @property
    def rejection(self) -> Rejection:
        if self.infra:
            return Rejection.INFRA
        if not self.format_ok:
            return Rejection.FORMAT
        if self.leaked:
            return Rejection.LEAK
        if not self.executed:
            return Rejection.EXECUTION
        return Rejection.NONE


class StrategyJudge(Protocol):
    """Decides, for each (task, completion) pair, whether the strategy is acceptable."""

    def judge(self, tasks: Sequence[Task], completions: Sequence[str]) -> list[Verdict]:
        """One verdict per pair, in order; never raises for bad completions."""
        ...


@dataclass(frozen=True)
class Candidate:
    """One teacher completion and its verdict."""

    task_id: str
    sample_index: int
    round: int
    completion: str
    verdict: Verdict
    teacher_model: str = ""
    teacher_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["accepted"] = self.verdict.accepted
        row["rejection"] = self.verdict.rejection
        return row


@dataclass(frozen=True)
class AcceptanceStats:
    """Acceptance statistics of one sampling run."""

    n_tasks: int
    k: int
    revision_rounds: int
    n_candidates: int
    n_accepted: int
    tasks_with_accepted: int
    accepted_per_round: tuple[int, ...]
    rejections: dict[str, int] = field(default_factory=dict)
    teacher_tokens: int = 0
    core_tokens: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Accepted candidates over judged candidates (infrastructure failures excluded)."""
        judged = self.n_candidates - self.rejections.get(Rejection.INFRA, 0) - self.rejections.get(Rejection.TEACHER_ERROR, 0)
        return self.n_accepted / judged if judged else 0.0

    @property
    def task_coverage(self) -> float:
        """Share of tasks with at least one accepted strategy."""
        return self.tasks_with_accepted / self.n_tasks if self.n_tasks else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["acceptance_rate"] = self.acceptance_rate
        out["task_coverage"] = self.task_coverage
        return out


@dataclass(frozen=True)
class AcceptanceResult:
    """Every candidate (accepted or not) and the statistics."""

    candidates: tuple[Candidate, ...]
    stats: AcceptanceStats

    @property
    def accepted(self) -> list[Candidate]:
        return [c for c in self.candidates if c.verdict.accepted]


def feedback_message(verdict: Verdict) -> str:
    """The user turn that asks the teacher to revise a rejected strategy."""
    reason = {
        Rejection.FORMAT: "The answer did not contain exactly one well-formed <strategy>...</strategy> block.",
        Rejection.LEAK: "The strategy gave away the final answer; describe how to solve, not the result.",
        Rejection.EXECUTION: "The executor followed the strategy and did not reach a correct result.",
    }.get(verdict.rejection, "The strategy was rejected.")
    detail = f"\nDetails: {verdict.feedback.strip()[:800]}" if verdict.feedback.strip() else ""
    return f"{reason}{detail}\nWrite a corrected strategy."


@dataclass
class _Slot:
    task: Task
    sample_index: int
    messages: list[dict[str, str]]


def _teacher_tokens(resp: CoreResponse) -> int | None:
    if resp.prompt_tokens is None and resp.completion_tokens is None:
        return None
    return (resp.prompt_tokens or 0) + (resp.completion_tokens or 0)


def _run_round(
    slots: list[_Slot], teacher: Core, judge: StrategyJudge, rnd: int, temperature: float, max_tokens: int
) -> list[Candidate]:
    requests = [
        CoreRequest(
            messages=tuple(s.messages), temperature=temperature, max_tokens=max_tokens,
            sample_index=s.sample_index, metadata={"task_id": s.task.id, "round": rnd},
        )
        for s in slots
    ]
    responses = teacher.generate(requests)
    if len(responses) != len(slots):
        raise ConfigError(f"teacher {teacher!r} returned {len(responses)} responses for {len(slots)} requests")
    judged_idx = [i for i, r in enumerate(responses) if r.ok]
    verdicts = judge.judge([slots[i].task for i in judged_idx], [responses[i].text for i in judged_idx]) if judged_idx else []
    by_idx = dict(zip(judged_idx, verdicts))
    out = []
    for i, (slot, resp) in enumerate(zip(slots, responses)):
        verdict = by_idx.get(i)
        if verdict is None:  # the teacher call itself failed: infrastructure, not a bad strategy
            verdict = Verdict(False, False, False, infra=True, feedback=resp.error.message if resp.error else "")
            text, model, tokens = "", teacher.model, None
        else:
            text, model, tokens = resp.text, resp.model or teacher.model, _teacher_tokens(resp)
        out.append(Candidate(slot.task.id, slot.sample_index, rnd, text, verdict, model, tokens))
    return out


def acceptance_sample(
    tasks: Sequence[Task],
    teacher: Core,
    judge: StrategyJudge,
    *,
    guide_prompt: Callable[[Task], str],
    k: int = 4,
    revision_rounds: int = 1,
    temperature: float = 0.8,
    max_tokens: int = 512,
) -> AcceptanceResult:
    """Run teacher-guided acceptance sampling over ``tasks``.

    Args:
        tasks: The tasks.
        teacher: Writes strategies; request ``sample_index`` runs from 0 to ``k - 1``.
        judge: Executes and checks each strategy on the target core.
        guide_prompt: The prompt a guide sees for a task (the teacher sees the same).
        k: Strategies per task.
        revision_rounds: Extra rounds in which rejected strategies are revised with feedback.
        temperature / max_tokens: Teacher sampling parameters.

    Returns:
        An :class:`AcceptanceResult` with every candidate and the statistics.

    Example:
        >>> res = acceptance_sample(tasks, ScriptedTeacher(problems), judge,      # doctest: +SKIP
        ...                         guide_prompt=lambda t: t.problem, k=2)
    """
    if k < 1 or revision_rounds < 0:
        raise ConfigError(f"k must be >= 1 and revision_rounds >= 0, got k={k}, revision_rounds={revision_rounds}")
    slots = [_Slot(t, i, [{"role": "user", "content": guide_prompt(t)}]) for t in tasks for i in range(k)]
    candidates: list[Candidate] = []
    for rnd in range(revision_rounds + 1):
        if not slots:
            break
        logger.info("acceptance sampling, round %d: %d strategies to write and execute", rnd, len(slots))
        results = _run_round(slots, teacher, judge, rnd, temperature, max_tokens)
        candidates.extend(results)
        slots = [
            _Slot(s.task, s.sample_index, [*s.messages, {"role": "assistant", "content": c.completion},
                                           {"role": "user", "content": feedback_message(c.verdict)}])
            for s, c in zip(slots, results)
            if not c.verdict.accepted and not c.verdict.infra  # nobody's mistake: nothing to revise
        ]
    return AcceptanceResult(tuple(candidates), _stats(tasks, candidates, k, revision_rounds))


def _stats(tasks: Sequence[Task], candidates: Sequence[Candidate], k: int, rounds: int) -> AcceptanceStats:
    rejections: collections.Counter[str] = collections.Counter()
    per_round = [0] * (rounds + 1)
    with_accept: set[str] = set()
    teacher_tokens = core_tokens = 0
    for c in candidates:
        if c.verdict.accepted:
            per_round[c.round] += 1
            with_accept.add(c.task_id)
        elif not c.completion and c.verdict.infra:
            rejections[Rejection.TEACHER_ERROR] += 1
        else:
            rejections[c.verdict.rejection] += 1
        teacher_tokens += c.teacher_tokens or 0
        core_tokens += c.verdict.core_tokens or 0
    return AcceptanceStats(
        n_tasks=len(tasks), k=k, revision_rounds=rounds, n_candidates=len(candidates),
        n_accepted=sum(per_round), tasks_with_accepted=len(with_accept), accepted_per_round=tuple(per_round),
        rejections=dict(sorted(rejections.items())), teacher_tokens=teacher_tokens, core_tokens=core_tokens,
    )
