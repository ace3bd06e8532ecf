"""The one text module: completion text and fenced code blocks, for cores, rewards and evaluation.

Every function here accepts anything a trainer or a JSONL file might hand over (a string, a
list of chat messages, ``None``) and never raises on odd input: a reward must score bad model
output, not crash on it.

Example:
    >>> completion_text([{"role": "assistant", "content": "hi"}])
    'hi'
    >>> [b.language for b in extract_code_blocks("```py\\nx = 1\\n```")]
    ['py']
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["CodeBlock", "completion_text", "extract_code_blocks", "is_completion", "strip_code_fences"]

# A fence opens with three or more backticks (or tildes) and an optional info string.
_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block.

    Attributes:
        code: The block's text without the fences.
        language: The fence's info string, lower-cased (``"python"``, ``"py"``), or None.
        start_line: 1-based line of the first code line in the surrounding text.
        closed: False when the text ended before the closing fence.
    """

    code: str
    language: str | None
    start_line: int
    closed: bool = True

    @property
    def n_lines(self) -> int:
        return len([line for line in self.code.splitlines() if line.strip()])


@functools.lru_cache(maxsize=64)
def _closing_fence(char: str, length: int) -> re.Pattern[str]:
    return re.compile(r"^[ \t]{0,3}" + re.escape(char) + "{" + str(length) + r",}[ \t]*$", re.MULTILINE)


def _content_of(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        if part.get("type", "text") == "text" and isinstance(part.get("text"), str):
            return part["text"]
        content = part.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(_content_of(p) for p in content)
    return ""


def is_completion(completion: Any) -> bool:
    """Whether ``completion`` is a completion at all: a string, a message dict, or a list of
    messages (what :func:`completion_text` reads); None, numbers and lists of other things are not."""
    if isinstance(completion, (str, dict)):
        return True
    return isinstance(completion, (list, tuple)) and any(isinstance(m, dict) for m in completion)


def completion_text(completion: Any) -> str:
    """The text of a plain or conversational completion.

    TRL passes plain completions as strings and conversational ones as lists of
    ``{"role": "assistant", "content": ...}`` messages (content may be a string or a list
    of ``{"type": "text", "text": ...}`` parts). Assistant turns are joined; anything
    unreadable gives ``""``.

    Args:
        completion: A string, a list of messages, a single message dict, or anything else.

    Returns:
        The completion's text.

    Example:
        >>> completion_text("<strategy>x</strategy>")
        '<strategy>x</strategy>'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_of(completion)
    if isinstance(completion, (list, tuple)):
        messages = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
        return "\n".join(_content_of(m) for m in (assistant or messages))
    return ""


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """Fenced code blocks (```lang ... ```) in ``text``, in order.

    An unclosed final fence yields a block with ``closed=False`` holding the rest of the text.

    Args:
        text: Markdown-ish text.

    Returns:
        The blocks; empty when there are none.

    Example:
        >>> extract_code_blocks("see\\n```c\\nint x;\\n```")[0].code
        'int x;'
    """
    if not isinstance(text, str) or ("```" not in text and "~~~" not in text):
        return []
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if m is None:
            return blocks
        fence = m.group(1)
        lang = m.group(2).strip().lower() or None
        body_start = m.end() + 1
        close = _closing_fence(fence[0], len(fence))
        c = close.search(text, body_start) if body_start <= len(text) else None
        start_line = text.count("\n", 0, body_start) + 1
        if c is None:
            blocks.append(CodeBlock(text[body_start:].rstrip("\n"), lang, start_line, closed=False))
            return blocks
        blocks.append(CodeBlock(text[body_start : c.start()].rstrip("\n"), lang, start_line))
        pos = c.end()


def strip_code_fences(text: str, prefer: Iterable[str] = ()) -> str:
    """The code in ``text``: its fenced blocks joined, or the text itself when it has none.

    Args:
        text: A core's answer.
        prefer: Fence languages to keep when several blocks carry different ones
            (e.g. ``("python", "py")``); unlabelled blocks are always kept.

    Returns:
        Code to parse or run.

    Example:
        >>> strip_code_fences("Here:\\n```python\\nx = 1\\n```\\nDone.")
        'x = 1'
    """
    blocks = extract_code_blocks(text)
    if not blocks:
        return text if isinstance(text, str) else ""
    wanted = {p.lower() for p in prefer}
    if wanted:
        chosen = [b for b in blocks if b.language is None or b.language in wanted]
        blocks = chosen or blocks
    return "\n\n".join(b.code for b in blocks)
