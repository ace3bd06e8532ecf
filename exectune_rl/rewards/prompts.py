"""The messages the reward sends to the core: the task, with or without the guide's strategy.

Pass your own ``prompt_builder`` to :class:`~exectune_rl.rewards.ExecTuneReward` to change them;
it is called as ``prompt_builder(task, strategy)`` with ``strategy=None`` for the core-only
baseline and must return chat messages.

Example:
    >>> from exectune_rl.tasks import Task
    >>> msgs = core_messages(Task("t", "math", "What is 2+3?", answer="5"), "Add the numbers.")
    >>> msgs[0]["role"], "Add the numbers." in msgs[0]["content"]
    ('user', True)
"""

from __future__ import annotations

from exectune_rl.tasks.base import Task, TaskKind

__all__ = ["core_messages"]

_MATH = (
    "Solve the following math problem. Show brief working, then give the final answer on the "
    "last line as '#### <answer>'.\n\nProblem:\n{problem}"
)
_CODE = (
    "Solve the following programming task in {language}. Reply with the complete solution in a "
    "single fenced code block.\n\nTask:\n{problem}"
)
_STRATEGY = "\n\nFollow this strategy:\n{strategy}"


def core_messages(task: Task, strategy: str | None) -> tuple[dict[str, str], ...]:
    """The chat messages for one core call.

    Args:
        task: The task.
        strategy: The guide's strategy, or None for the core alone.

    Returns:
        A one-message conversation.
    """
    template = _MATH if task.kind is TaskKind.MATH else _CODE
    text = template.format(problem=task.problem, language=task.language)
    if strategy is not None:
        text += _STRATEGY.format(strategy=strategy)
    return ({"role": "user", "content": text},)
