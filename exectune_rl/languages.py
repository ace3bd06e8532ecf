"""The one language registry: canonical language names and every spelling users write.

Tasks, sandbox requests, the test runner, the syntax checker, fence labels and the program
core all resolve names here, so ``"py"``, ``"Python3"`` and ``"python"`` mean the same thing
everywhere. Standard library only and free of package imports: a sandbox worker may load this
file by path before it drops privileges.

Example:
    >>> canonical("C++"), canonical("node"), canonical("cobol")
    ('cpp', 'javascript', None)
    >>> normalize(" COBOL ")
    'cobol'
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "ALIASES", "canonical", "normalize", "is_python"]

LANGUAGES: tuple[str, ...] = ("python", "javascript", "typescript", "tsx", "c", "cpp", "java", "go", "rust", "bash")
"""Canonical names (the sandbox, the runner and the tree-sitter grammars use these)."""

ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "py3": "python",
    "js": "javascript", "node": "javascript", "nodejs": "javascript", "jsx": "javascript", "mjs": "javascript",
    "ts": "typescript",
    "h": "c",
    "c++": "cpp", "cc": "cpp", "cxx": "cpp", "hpp": "cpp",
    "golang": "go",
    "rs": "rust",
    "sh": "bash", "shell": "bash", "zsh": "bash",
}  # fmt: skip
"""Other spellings (lower case) of the canonical names."""


def canonical(name: object) -> str | None:
    """The canonical name of a language or alias (any case, surrounding space ignored), or None.

    Example:
        >>> canonical("PY")
        'python'
    """
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in LANGUAGES else None


def normalize(name: str) -> str:
    """The canonical name when the language is known, else the name stripped and lower-cased.

    Unknown languages pass through (a plugin sandbox may run them), spelled one way.

    Example:
        >>> normalize("Node"), normalize("Zig")
        ('javascript', 'zig')
    """
    found = canonical(name)
    return found if found is not None else name.strip().lower()


def is_python(name: object) -> bool:
    """True for any spelling of Python.

    Example:
        >>> is_python("python3"), is_python("js")
        (True, False)
    """
    return canonical(name) == "python"
