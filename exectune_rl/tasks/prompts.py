"""Prompt templates for the guide and the core, for math and code, with the strategy convention.

The guide writes its plan inside ``<strategy>...</strategy>`` (the tag is configurable); the
core receives the task and that strategy, inside the same tags, and solves the task. The
core-only prompt (no strategy) is the baseline the non-degradation check compares with.

Math answers end with ``#### <answer>`` (the GSM8K convention); code answers are one fenced
code block. Templates are ``str.format`` strings over ``{problem}``, ``{strategy}``,
``{language}``, ``{entry_point}``, ``{open_tag}`` and ``{close_tag}``; replace any of them in
:class:`PromptTemplates` (a dataclass, so YAML configs can set them).

Example:
    >>> from exectune_rl.tasks import Task
    >>> task = Task("t1", "math", "What is 2 + 3?", answer="5")
    >>> "<strategy>" in guide_prompt(task)
    True
    >>> req = core_request(task, "Add the two numbers.")
    >>> req.metadata["task_id"], "Add the two numbers." in req.prompt_text
    ('t1', True)
"""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from exectune_rl.cores.base import CoreRequest
from exectune_rl.errors import ConfigError
from exectune_rl.tasks.base import Task, TaskKind

__all__ = [
    "guide_prompt_fn",
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

_GUIDE_MATH = (
    "You are a planning assistant. Read the math problem and write a short, step-by-step strategy "
    "that another model will follow to solve it. Do not compute or state the final answer.\n"
    "Write the strategy inside {open_tag}...{close_tag}.\n\nProblem:\n{problem}"
)
_GUIDE_CODE = (
    "You are a planning assistant. Read the programming task and write a short, step-by-step "
    "strategy (approach, data structures, edge cases) that another model will follow to write the "
    "{language} code. Do not write the solution code.\n"
    "Write the strategy inside {open_tag}...{close_tag}.\n\nTask:\n{problem}"
)
_CORE_MATH = (
    "Solve the math problem by following the strategy. Show brief working, then give the final "
    "answer on the last line as '#### <answer>'.\n\nProblem:\n{problem}\n\n"
    "Strategy:\n{open_tag}\n{strategy}\n{close_tag}"
)
_CORE_CODE = (
    "Solve the programming task in {language} by following the strategy. Reply with the complete "
    "solution in a single fenced code block.\n\nTask:\n{problem}\n\n"
    "Strategy:\n{open_tag}\n{strategy}\n{close_tag}"
)
_CORE_ONLY_MATH = (
    "Solve the math problem. Show brief working, then give the final answer on the last line as "
    "'#### <answer>'.\n\nProblem:\n{problem}"
)
_CORE_ONLY_CODE = (
    "Solve the programming task in {language}. Reply with the complete solution in a single fenced "
    "code block.\n\nTask:\n{problem}"
)

_FIELDS = {"problem", "strategy", "language", "entry_point", "open_tag", "close_tag"}
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def _fields_of(template: str, name: str) -> set[str]:
    try:
        found = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"PromptTemplates.{name} is not a valid format string: {exc}") from exc
    unknown = found - _FIELDS
    if unknown:
        raise ConfigError(f"PromptTemplates.{name} uses unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    return found


@dataclass(frozen=True)
class PromptTemplates:
    """The prompts of the guide/core protocol; every field is configurable.

    Attributes:
        strategy_tag: The tag name around strategies (``strategy`` -> ``<strategy>...</strategy>``).
        guide_math / guide_code: What the guide sees.
        core_math / core_code: What the core sees with a strategy (must use ``{strategy}``).
        core_only_math / core_only_code: What the core sees alone (must not use ``{strategy}``).
        system: An optional system message put before every prompt.
    """

    strategy_tag: str = field(default="strategy", metadata={"help": "tag name delimiting the strategy"})
    guide_math: str = field(default=_GUIDE_MATH, metadata={"help": "guide prompt for math tasks"})
    guide_code: str = field(default=_GUIDE_CODE, metadata={"help": "guide prompt for code tasks"})
    core_math: str = field(default=_CORE_MATH, metadata={"help": "core prompt with a strategy, math"})
    core_code: str = field(default=_CORE_CODE, metadata={"help": "core prompt with a strategy, code"})
    core_only_math: str = field(default=_CORE_ONLY_MATH, metadata={"help": "core prompt without strategy, math"})
    core_only_code: str = field(default=_CORE_ONLY_CODE, metadata={"help": "core prompt without strategy, code"})
    system: str | None = field(default=None, metadata={"help": "optional system message"})

    def __post_init__(self) -> None:
        if not isinstance(self.strategy_tag, str) or not _TAG.match(self.strategy_tag):
            raise ConfigError(f"strategy_tag must be a plain tag name such as 'strategy', got {self.strategy_tag!r}")
        if self.system is not None and not isinstance(self.system, str):
            raise ConfigError(f"PromptTemplates.system must be a str or None, got {type(self.system).__name__}")
        for f in dataclasses.fields(self):
            if f.name in ("strategy_tag", "system"):
                continue
            value = getattr(self, f.name)
            if not isinstance(value, str):
                raise ConfigError(f"PromptTemplates.{f.name} must be a str, got {type(value).__name__}")
            used = _fields_of(value, f.name)
            if "problem" not in used:
                raise ConfigError(f"PromptTemplates.{f.name} must contain {{problem}}")
            if f.name.startswith("core_") and not f.name.startswith("core_only") and "strategy" not in used:
                raise ConfigError(f"PromptTemplates.{f.name} must contain {{strategy}}")
            if (f.name.startswith("core_only") or f.name.startswith("guide")) and "strategy" in used:
                raise ConfigError(f"PromptTemplates.{f.name} must not contain {{strategy}}")

    @property
    def open_tag(self) -> str:
        return f"<{self.strategy_tag}>"

    @property
    def close_tag(self) -> str:
        return f"</{self.strategy_tag}>"

    def render(self, name: str, task: Task, strategy: str | None = None) -> str:
        """Fill template ``name`` (``"guide_math"``...) for a task."""
        template = getattr(self, name)
        return template.format(
            problem=task.problem.strip("\n"),
            strategy=(strategy or "").strip(),
            language=_language_name(task.language),
            entry_point=task.entry_point or "",
            open_tag=self.open_tag,
            close_tag=self.close_tag,
        )


DEFAULT_TEMPLATES = PromptTemplates()

_LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "cpp": "C++", "c": "C",
                   "java": "Java", "go": "Go", "rust": "Rust", "bash": "Bash"}  # fmt: skip


def _language_name(language: str) -> str:
    return _LANGUAGE_NAMES.get(language.lower(), language)


def _kind(task: Task) -> str:
    return "math" if task.kind is TaskKind.MATH else "code"


def guide_prompt(task: Task, templates: PromptTemplates | None = None) -> str:
    """The guide's prompt for a task.

    Args:
        task: The task.
        templates: Templates to use (default :data:`DEFAULT_TEMPLATES`).

    Returns:
        The prompt text.
    """
    return (templates or DEFAULT_TEMPLATES).render(f"guide_{_kind(task)}", task)


def core_prompt(task: Task, strategy: str, templates: PromptTemplates | None = None) -> str:
    """The core's prompt for a task and a guide's strategy (put inside the strategy tags).

    Args:
        task: The task.
        strategy: The strategy text (the inside of the guide's block, or the guide's whole output).
        templates: Templates to use.

    Returns:
        The prompt text.
    """
    if not isinstance(strategy, str):
        raise ConfigError(f"strategy must be a str, got {type(strategy).__name__}")
    return (templates or DEFAULT_TEMPLATES).render(f"core_{_kind(task)}", task, strategy)


def core_only_prompt(task: Task, templates: PromptTemplates | None = None) -> str:
    """The core's prompt for a task with no strategy (the core-alone baseline)."""
    return (templates or DEFAULT_TEMPLATES).render(f"core_only_{_kind(task)}", task)


def _messages(text: str, templates: PromptTemplates | None) -> tuple[dict[str, str], ...]:
    system = (templates or DEFAULT_TEMPLATES).system
    user = {"role": "user", "content": text}
    return ({"role": "system", "content": system}, user) if system else (user,)


def guide_messages(task: Task, templates: PromptTemplates | None = None) -> tuple[dict[str, str], ...]:
    """The guide's prompt as chat messages (with the system message, if any)."""
    return _messages(guide_prompt(task, templates), templates)


def core_messages(task: Task, strategy: str | None, templates: PromptTemplates | None = None) -> tuple[dict[str, str], ...]:
    """The core's prompt as chat messages; ``strategy=None`` gives the core-only prompt."""
    text = core_only_prompt(task, templates) if strategy is None else core_prompt(task, strategy, templates)
    return _messages(text, templates)


def core_request(task: Task, strategy: str | None, *, templates: PromptTemplates | None = None, **sampling: Any) -> CoreRequest:
    """A ``CoreRequest`` for a task (and strategy), tagged with ``metadata["task_id"]`` for the ledger.

    Args:
        task: The task.
        strategy: The strategy, or None for the core alone.
        templates: Templates to use.
        **sampling: ``CoreRequest`` fields (``temperature``, ``max_tokens``, ``sample_index``...).
    """
    metadata = {"task_id": task.id, "guided": strategy is not None, **(sampling.pop("metadata", None) or {})}
    return CoreRequest(messages=core_messages(task, strategy, templates), metadata=metadata, **sampling)


def wrap_strategy(strategy: str, tag: str = "strategy") -> str:
    """``<tag>\\n...\\n</tag>`` around a strategy.

    Example:
        >>> wrap_strategy("Add.")
        '<strategy>\\nAdd.\\n</strategy>'
    """
    return f"<{tag}>\n{strategy.strip()}\n</{tag}>"


def extract_strategy(text: str | None, tag: str = "strategy") -> str | None:
    """The inside of the first complete ``<tag>...</tag>`` block, stripped; None when there is none (or no text).

    This is the lenient reading a core prompt needs; the reward's format gate is stricter
    (exactly one block).

    Example:
        >>> extract_strategy("thinking... <strategy> Add 2 and 3. </strategy>")
        'Add 2 and 3.'
        >>> extract_strategy("<strategy>unclosed") is None
        True
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise ConfigError(f"extract_strategy reads a str, got {type(text).__name__}")
    m = re.search(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", text, re.S)
    return m.group(1).strip() if m else None


def guide_prompt_fn(template: str | None) -> Callable[[Task], str]:
    """The guide's prompt for a task.

    Args:
        template: A ``str.format`` string over ``{problem}``, ``{language}``, ``{entry_point}``
            and ``{task_id}``; None uses :func:`exectune_rl.tasks.guide_prompt` (math or code
            template by task kind).

    Returns:
        A function ``task -> prompt text``.

    Example:
        >>> guide_prompt_fn("Plan: {problem}")(Task("t", "math", "1+1?", answer="2"))
        'Plan: 1+1?'
    """
    if template is None:
        return guide_prompt
    hint = f"guide_template must use {{problem}} and may use {{language}}, {{entry_point}}, {{task_id}}; got {template!r}"
    try:
        template.format(problem="", language="", entry_point="", task_id="")
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ConfigError(hint) from exc
    if "problem" not in used:  # the guide would never see the task
        raise ConfigError(hint)

    def prompt(task: Task) -> str:
        return template.format(problem=task.problem, language=task.language, entry_point=task.entry_point or "", task_id=task.id)

    return prompt
