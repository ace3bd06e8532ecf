"""Tasks, loaders and prompt templates.

Example:
    >>> from exectune_rl.tasks import load_humaneval, guide_prompt
    >>> task = load_humaneval(limit=1)[0]
    >>> "<strategy>" in guide_prompt(task)
    True
"""

from __future__ import annotations

from exectune_rl.tasks.base import Task, TaskKind
from exectune_rl.tasks.loaders import (
    gsm8k_answer,
    humaneval_path,
    load_gsm8k,
    load_humaneval,
    load_jsonl,
    load_kodcode,
    save_jsonl,
)
from exectune_rl.tasks.prompts import (
    DEFAULT_TEMPLATES,
    PromptTemplates,
    core_messages,
    core_only_prompt,
    core_prompt,
    core_request,
    extract_strategy,
    guide_messages,
    guide_prompt,
    wrap_strategy,
)

__all__ = [
    "Task",
    "TaskKind",
    "load_humaneval",
    "load_gsm8k",
    "load_kodcode",
    "load_jsonl",
    "save_jsonl",
    "gsm8k_answer",
    "humaneval_path",
    "PromptTemplates",
    "DEFAULT_TEMPLATES",
    "guide_prompt",
    "core_prompt",
    "core_only_prompt",
    "guide_messages",
    "core_messages",
    "core_request",
    "extract_strategy",
    "wrap_strategy",
]
