"""The format gate: a completion earns reward only with exactly one well-formed strategy block.

The guide writes its plan inside ``<strategy>...</strategy>`` (the tag is configurable).
The gate passes when there is exactly one opening and one closing tag, in that order, the
block is not empty and it fits the length budget. Everything else is a typed failure.

Example:
    >>> gate = FormatGate()
    >>> gate("Plan: <strategy>sort, then scan</strategy>").strategy
    'sort, then scan'
    >>> gate("<strategy>a</strategy><strategy>b</strategy>").status
    <FormatStatus.MULTIPLE: 'multiple'>
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.text import completion_text

__all__ = ["FormatStatus", "FormatResult", "FormatGate", "check_format"]

_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class FormatStatus(str, enum.Enum):
    """Why a completion passed or failed the format gate."""

    OK = "ok"
    MISSING = "missing"
    """No strategy tag at all."""
    UNCLOSED = "unclosed"
    """An opening tag without a closing one."""
    UNOPENED = "unopened"
    """A closing tag without (or before) the opening one."""
    MULTIPLE = "multiple"
    """More than one opening or closing tag (two blocks, or nested blocks)."""
    EMPTY = "empty"
    """The block holds only whitespace (or fewer characters than the minimum)."""
    TOO_LONG = "too_long"
    """The block is longer than the length budget."""
    EXTRA_TEXT = "extra_text"
    """Text outside the block where the gate was told to allow none."""


@dataclass(frozen=True)
class FormatResult:
    """The outcome of the format gate for one completion.

    Attributes:
        status: Why it passed or failed.
        strategy: The block's inner text, stripped ("" unless the tags were well formed).
        n_chars: Length of ``strategy``.
        span: (start, end) character offsets of the whole block in the completion text,
            or None when no block was found.
    """

    status: FormatStatus
    strategy: str = ""
    n_chars: int = 0
    span: tuple[int, int] | None = None

    @property
    def passed(self) -> bool:
        return self.status is FormatStatus.OK


class FormatGate:
    """Checks completions for exactly one well-formed strategy block.

    Args:
        tag: The tag name (``"strategy"`` gives ``<strategy>...</strategy>``).
        max_chars: Longest allowed block (characters, after stripping).
        min_chars: Shortest allowed block.
        allow_outside_text: When False, any non-whitespace outside the block fails the gate.

    Example:
        >>> FormatGate(tag="plan")("<plan>x</plan>").passed
        True
    """

    def __init__(
        self, tag: str = "strategy", *, max_chars: int = 4000, min_chars: int = 1, allow_outside_text: bool = True
    ) -> None:
        if not isinstance(tag, str) or not _TAG_NAME.match(tag):
            raise ConfigError(f"format tag must be a plain XML-style name such as 'strategy', got {tag!r}")
        if not isinstance(max_chars, int) or max_chars <= 0:
            raise ConfigError(f"max_chars must be a positive int, got {max_chars!r}")
        if not isinstance(min_chars, int) or min_chars < 1 or min_chars > max_chars:
            raise ConfigError(f"min_chars must be an int in [1, max_chars], got {min_chars!r}")
        self.tag = tag
        self.max_chars = max_chars
        self.min_chars = min_chars
        self.allow_outside_text = allow_outside_text
        # Tags are matched case-insensitively and may carry attributes (<strategy id="1">).
        self._open = re.compile(rf"<{re.escape(tag)}(?:\s[^<>]*)?>", re.IGNORECASE)
        self._close = re.compile(rf"</{re.escape(tag)}\s*>", re.IGNORECASE)

    def __call__(self, completion: Any) -> FormatResult:
        """Check one completion (a string or a list of chat messages).

        Args:
            completion: The guide's completion.

        Returns:
            A :class:`FormatResult`; never raises.
        """
        text = completion_text(completion)
        opens = list(self._open.finditer(text))
        closes = list(self._close.finditer(text))
        if not opens and not closes:
            return FormatResult(FormatStatus.MISSING)
        if len(opens) > 1 or len(closes) > 1:
            return FormatResult(FormatStatus.MULTIPLE)
        if not closes:
            return FormatResult(FormatStatus.UNCLOSED, span=(opens[0].start(), len(text)))
        if not opens or closes[0].start() < opens[0].end():
            return FormatResult(FormatStatus.UNOPENED)
        start, end = opens[0].start(), closes[0].end()
        inner = text[opens[0].end() : closes[0].start()].strip()
        span = (start, end)
        if len(inner) < self.min_chars:
            return FormatResult(FormatStatus.EMPTY, inner, len(inner), span)
        if len(inner) > self.max_chars:
            return FormatResult(FormatStatus.TOO_LONG, inner, len(inner), span)
        if not self.allow_outside_text and (text[:start].strip() or text[end:].strip()):
            return FormatResult(FormatStatus.EXTRA_TEXT, inner, len(inner), span)
        return FormatResult(FormatStatus.OK, inner, len(inner), span)

    def wrap(self, strategy: str) -> str:
        """Put a bare strategy inside this gate's tags."""
        return f"<{self.tag}>\n{strategy}\n</{self.tag}>"

    def __repr__(self) -> str:
        return f"FormatGate(tag={self.tag!r}, max_chars={self.max_chars}, min_chars={self.min_chars})"


def check_format(completion: Any, tag: str = "strategy", max_chars: int = 4000) -> FormatResult:
    """Run the format gate once (see :class:`FormatGate`).

    Args:
        completion: A string or a list of chat messages.
        tag: The strategy tag name.
        max_chars: The length budget.

    Returns:
        The gate's :class:`FormatResult`.

    Example:
        >>> check_format("<strategy>unclosed").status
        <FormatStatus.UNCLOSED: 'unclosed'>
    """
    return FormatGate(tag, max_chars=max_chars)(completion)
