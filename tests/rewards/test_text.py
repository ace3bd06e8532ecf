"""Completion text and fenced code blocks."""

from __future__ import annotations

from exectune_rl.rewards.text import completion_text, extract_code_blocks, strip_code_fences


def test_plain_and_conversational_completions() -> None:
    assert completion_text("abc") == "abc"
    # TRL's conversational form: a list of assistant messages.
    assert completion_text([{"role": "assistant", "content": "x"}]) == "x"
    # Content given as typed parts (multimodal-style messages).
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert completion_text(parts) == "ab"
    # Only assistant turns count when other roles are present.
    assert completion_text([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]) == "a"


def test_unreadable_completions_give_empty_text() -> None:
    for bad in (None, 42, [1, 2], {"role": "assistant"}, object()):
        assert completion_text(bad) == ""


def test_code_blocks_with_languages_and_lines() -> None:
    text = "intro\n```python\nx = 1\ny = 2\n```\nmid\n~~~js\nlet z;\n~~~\n"
    blocks = extract_code_blocks(text)
    assert [(b.language, b.code, b.start_line) for b in blocks] == [("python", "x = 1\ny = 2", 3), ("js", "let z;", 8)]
    assert blocks[0].n_lines == 2


def test_unclosed_fence_keeps_the_rest() -> None:
    [block] = extract_code_blocks("```c\nint x;\nint y;")
    assert not block.closed and block.code == "int x;\nint y;"


def test_strip_fences_prefers_the_language() -> None:
    text = "```bash\nls\n```\n```python\nprint(1)\n```"
    assert strip_code_fences(text, prefer=("python",)) == "print(1)"
    assert strip_code_fences("no fences") == "no fences"
