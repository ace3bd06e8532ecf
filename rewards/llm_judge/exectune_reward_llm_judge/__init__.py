"""An LLM-judge leakage detector for exectune-rl (entry point ``llm_judge``).

Example:
    >>> from exectune_rl.cores import CallableCore
    >>> judge = LLMJudgeDetector(core=CallableCore(lambda req: "OK"))
    >>> from exectune_rl.tasks import Task
    >>> judge.detect("Add the numbers.", Task("t", "math", "2+3?", answer="5")).leaked
    False
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError
from exectune_rl.rewards.leakage import LeakageDetector, LeakageFinding
from exectune_rl.tasks.base import Task, TaskKind

__all__ = ["LLMJudgeDetector", "JUDGE_PROMPT", "parse_verdict"]

JUDGE_PROMPT = (
    "You check whether a plan written for another model gives the answer away.\n"
    "The plan may describe an approach, steps and edge cases. It LEAKS if it states the final "
    "answer (in any form: a number, a fraction, an expression) or contains code that already "
    "solves the task.\n\n"
    "Task:\n{problem}\n\n{gold_label}:\n{gold}\n\nPlan:\n{strategy}\n\n"
    "Reply with exactly one word: LEAK or OK."
)

_VERDICT = re.compile(r"\b(LEAK|LEAKS|LEAKED|OK|CLEAN|SAFE)\b", re.IGNORECASE)


def parse_verdict(text: str) -> bool | None:
    """True for LEAK, False for OK, None when the reply says neither (or both).

    Example:
        >>> parse_verdict("LEAK."), parse_verdict("ok"), parse_verdict("maybe")
        (True, False, None)
    """
    words = {m.group(1).upper() for m in _VERDICT.finditer(text or "")}
    leak = bool(words & {"LEAK", "LEAKS", "LEAKED"})
    clean = bool(words & {"OK", "CLEAN", "SAFE"})
    if leak == clean:
        return None
    return leak


class LLMJudgeDetector(LeakageDetector):
    """Asks a judge model whether each strategy gives the answer away.

    Args:
        core: The judge model (any ``Core``).
        core_name / core_options: Alternatively, a core registry name and its options
            (``"openai"``, ``{"model": "gpt-4o-mini"}``).
        prompt: The judge prompt; ``{problem}``, ``{gold_label}``, ``{gold}``, ``{strategy}``.
        max_reference_chars: Longest reference solution shown to the judge.
        max_tokens: Tokens the judge may answer with.

    Raises:
        ConfigError: no judge core was given.
    """

    name = "llm_judge"

    def __init__(
        self,
        core: Core | None = None,
        *,
        core_name: str | None = None,
        core_options: Mapping[str, Any] | None = None,
        prompt: str = JUDGE_PROMPT,
        max_reference_chars: int = 3000,
        max_tokens: int = 8,
    ) -> None:
        if core is None and core_name:
            from exectune_rl.registry import core_registry

            core = core_registry.create(core_name, **dict(core_options or {}))
        if core is None:
            raise ConfigError("llm_judge needs a judge: pass core=<a Core> or core_name='openai' with core_options")
        for field in ("{problem}", "{strategy}"):
            if field not in prompt:
                raise ConfigError(f"the judge prompt must contain {field}")
        self.core = core
        self.prompt = prompt
        self.max_reference_chars = max_reference_chars
        self.max_tokens = max_tokens

    def _request(self, strategy: str, task: Task) -> CoreRequest:
        if task.kind is TaskKind.MATH:
            label, gold = "Correct final answer", task.answer or "(unknown)"
        else:
            label, gold = "Reference solution", (task.reference or "(none given)")[: self.max_reference_chars]
        text = self.prompt.format(problem=task.problem, gold_label=label, gold=gold, strategy=strategy)
        return CoreRequest.from_prompt(text, temperature=0.0, max_tokens=self.max_tokens, metadata={"task_id": task.id, "judge": True})

    def _finding(self, response: CoreResponse) -> LeakageFinding:
        if not response.ok:
            why = response.error.message if response.error else "failed"
            return LeakageFinding(self.name, None, 0.0, f"judge call failed: {why}"[:200])
        verdict = parse_verdict(response.text)
        if verdict is None:
            return LeakageFinding(self.name, None, 0.0, f"judge reply is neither LEAK nor OK: {response.text[:60]!r}")
        return LeakageFinding(self.name, verdict, 1.0 if verdict else 0.0, "judge: LEAK" if verdict else "")

    def detect_batch(self, strategies: Sequence[str], tasks: Sequence[Task]) -> list[LeakageFinding]:
        """Judge every strategy with one batched ``generate`` call (the core runs them concurrently)."""
        if not strategies:
            return []
        responses = self.core.generate([self._request(s, t) for s, t in zip(strategies, tasks)])
        return [self._finding(r) for r in responses]

    def close(self) -> None:
        self.core.close()
