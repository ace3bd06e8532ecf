"""Deprecated location of the text helpers: use :mod:`exectune_rl.text` (one text/fence module
for cores, rewards and evaluation alike)."""

from __future__ import annotations

from exectune_rl.text import CodeBlock, completion_text, extract_code_blocks, strip_code_fences

__all__ = ["CodeBlock", "completion_text", "extract_code_blocks", "strip_code_fences"]
