"""Syntax checks with tree-sitter, one grammar wheel per language.

Nine languages are supported through their PyPI grammar wheels (``tree-sitter-python`` ...);
``tree-sitter-languages`` is not used (it is incompatible with py-tree-sitter >= 0.22).
Parsers are built once per thread and reused: creating a parser costs more than parsing a
typical function, and a parser must not be shared between threads.

tree-sitter parses valid code faster than ``ast.parse`` and reports every error region, not
only the first; on broken code its error recovery makes it slower than ``ast.parse``. Its
Python grammar also accepts some indentation errors that CPython rejects: the sandbox still
catches those (a syntax check here is a fast filter and a diagnostic, not the final word).

Example:
    >>> r = check_syntax("def f(:\\n    return 1\\n")
    >>> r.ok, r.errors[0].line
    (False, 1)
"""

from __future__ import annotations

import enum
import importlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.errors import ConfigError, GrammarNotInstalledError
from exectune_rl.languages import canonical
from exectune_rl.text import extract_code_blocks

__all__ = [
    "GrammarSpec",
    "GRAMMARS",
    "SyntaxStatus",
    "SyntaxErrorLocation",
    "SyntaxResult",
    "SyntaxChecker",
    "check_syntax",
    "normalize_language",
    "available_languages",
]


@dataclass(frozen=True)
class GrammarSpec:
    """Where a language's tree-sitter grammar comes from."""

    module: str
    function: str
    package: str
    wide_chars_safe: bool = True
    """False where the grammar's external scanner hands any code point to ``isalpha``-style
    ctype functions, which are undefined past 255 (tree-sitter-bash reads out of bounds and
    can crash the process). Such a grammar parses a copy in which every character above U+00FF
    is ASCII of the same UTF-8 length: byte offsets, lines and columns are unchanged."""


_WIDE_CHAR = re.compile("[^\x00-\xff]")


def _source_bytes(code: str, spec: GrammarSpec) -> tuple[bytes, bytes]:
    """The bytes to parse and the original bytes (error snippets are cut from the latter)."""
    data = code.encode("utf-8", "surrogatepass")
    if spec.wide_chars_safe or code.isascii():
        return data, data
    masked = _WIDE_CHAR.sub(lambda m: "x" * len(m.group().encode("utf-8", "surrogatepass")), code)
    return masked.encode("utf-8"), data


GRAMMARS: dict[str, GrammarSpec] = {
    "python": GrammarSpec("tree_sitter_python", "language", "tree-sitter-python"),
    "javascript": GrammarSpec("tree_sitter_javascript", "language", "tree-sitter-javascript"),
    "typescript": GrammarSpec("tree_sitter_typescript", "language_typescript", "tree-sitter-typescript"),
    "tsx": GrammarSpec("tree_sitter_typescript", "language_tsx", "tree-sitter-typescript"),
    "c": GrammarSpec("tree_sitter_c", "language", "tree-sitter-c"),
    "cpp": GrammarSpec("tree_sitter_cpp", "language", "tree-sitter-cpp"),
    "java": GrammarSpec("tree_sitter_java", "language", "tree-sitter-java"),
    "go": GrammarSpec("tree_sitter_go", "language", "tree-sitter-go"),
    "rust": GrammarSpec("tree_sitter_rust", "language", "tree-sitter-rust"),
    "bash": GrammarSpec("tree_sitter_bash", "language", "tree-sitter-bash", wide_chars_safe=False),
}

def normalize_language(name: str | None) -> str | None:
    """The canonical grammar name for a language name or alias, or None when unknown.

    Names resolve through the one registry, :mod:`exectune_rl.languages`.

    Example:
        >>> normalize_language("C++"), normalize_language("cobol")
        ('cpp', None)
    """
    key = canonical(name)
    return key if key in GRAMMARS else None


class SyntaxStatus(str, enum.Enum):
    OK = "ok"
    ERROR = "error"
    """The code has syntax errors (see ``SyntaxResult.errors``)."""
    EMPTY = "empty"
    """There was no code to check."""
    UNSUPPORTED = "unsupported"
    """The language has no grammar here (unknown name, or its wheel is not installed)."""


@dataclass(frozen=True)
class SyntaxErrorLocation:
    """Where tree-sitter found a syntax error.

    Lines are 1-based, columns 0-based byte offsets within the line.
    ``kind`` is ``"error"`` (text the grammar could not place) or ``"missing"``
    (a token the parser had to invent, e.g. a closing parenthesis).
    """

    line: int
    column: int
    end_line: int
    end_column: int
    kind: str
    text: str = ""


@dataclass(frozen=True)
class SyntaxResult:
    """The outcome of a syntax check.

    Attributes:
        status: OK, ERROR, EMPTY or UNSUPPORTED.
        language: Canonical language name (or the name given, when unsupported).
        errors: Error locations (at most the checker's ``max_errors``).
        blocks: How many code blocks were checked.
        detail: Why the check could not run (unsupported language), else "".
    """

    status: SyntaxStatus
    language: str
    errors: tuple[SyntaxErrorLocation, ...] = ()
    blocks: int = 1
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is SyntaxStatus.OK

    @property
    def value(self) -> float | None:
        """1.0 parses, 0.0 does not, None when there was nothing checkable."""
        if self.status is SyntaxStatus.OK:
            return 1.0
        if self.status is SyntaxStatus.ERROR:
            return 0.0
        return None


_languages: dict[str, Any] = {}
_languages_lock = threading.Lock()


def _language(name: str) -> Any:
    lang = _languages.get(name)
    if lang is not None:
        return lang
    spec = GRAMMARS[name]
    with _languages_lock:
        if name not in _languages:
            try:
                import tree_sitter
            except ImportError as exc:
                raise GrammarNotInstalledError(
                    "py-tree-sitter is not installed; install it with: pip install tree-sitter"
                ) from exc
            try:
                module = importlib.import_module(spec.module)
            except ImportError as exc:
                raise GrammarNotInstalledError(
                    f"the tree-sitter grammar for {name!r} is not installed; "
                    f"install it with: pip install {spec.package}"
                ) from exc
            _languages[name] = tree_sitter.Language(getattr(module, spec.function)())
    return _languages[name]


def available_languages() -> list[str]:
    """Languages whose grammar wheels are importable here.

    Example:
        >>> "python" in available_languages()
        True
    """
    out = []
    for name in GRAMMARS:
        try:
            _language(name)
        except GrammarNotInstalledError:
            continue
        out.append(name)
    return out


class SyntaxChecker(TransientState):
    """Checks code with tree-sitter, reusing one parser per language per thread.

    Args:
        max_errors: Most error locations to report per check.

    Example:
        >>> SyntaxChecker().check("int main() { return 0; }", "c").ok
        True
    """

    def __init__(self, max_errors: int = 10) -> None:
        if not isinstance(max_errors, int) or max_errors < 1:
            raise ConfigError(f"max_errors must be a positive int, got {max_errors!r}")
        self.max_errors = max_errors
        self._init_transient()

    _transient = ("_local",)

    def _init_transient(self) -> None:
        self._local = threading.local()

    def parser(self, language: str) -> Any:
        """This thread's parser for ``language`` (a canonical name or an alias).

        Raises:
            ConfigError: the language is unknown.
            GrammarNotInstalledError: its grammar wheel is missing (the message names it).
        """
        canon = normalize_language(language)
        if canon is None:
            raise ConfigError(f"unsupported language {language!r}; supported: {', '.join(sorted(GRAMMARS))}")
        parsers = getattr(self._local, "parsers", None)
        if parsers is None:
            parsers = self._local.parsers = {}
        parser = parsers.get(canon)
        if parser is None:
            import tree_sitter

            parser = parsers[canon] = tree_sitter.Parser(_language(canon))
        return parser

    def parse(self, code: str, language: str = "python") -> Any:
        """The tree-sitter tree of ``code`` (for detectors that inspect structure)."""
        parser = self.parser(language)
        return parser.parse(_source_bytes(code, GRAMMARS[normalize_language(language)])[0])

    def check(self, code: str, language: str = "python") -> SyntaxResult:
        """Check one piece of code.

        Args:
            code: Source text.
            language: Language name or alias.

        Returns:
            A :class:`SyntaxResult` (EMPTY for blank code).

        Raises:
            ConfigError: the language is unknown.
            GrammarNotInstalledError: the grammar wheel is missing.
        """
        canon = normalize_language(language)
        parser = self.parser(language)
        if not isinstance(code, str) or not code.strip():
            return SyntaxResult(SyntaxStatus.EMPTY, canon or str(language), blocks=0)
        parsed, data = _source_bytes(code, GRAMMARS[canon])
        root = parser.parse(parsed).root_node
        if not root.has_error:
            return SyntaxResult(SyntaxStatus.OK, canon or language)
        return SyntaxResult(SyntaxStatus.ERROR, canon or language, tuple(self._errors(root, data)))

    def _errors(self, root: Any, data: bytes) -> list[SyntaxErrorLocation]:
        out: list[SyntaxErrorLocation] = []
        stack = [root]
        while stack and len(out) < self.max_errors:
            node = stack.pop()
            if node.is_error or node.is_missing:
                (r0, c0), (r1, c1) = node.start_point, node.end_point
                kind = "missing" if node.is_missing else "error"
                text = node.type if node.is_missing else data[node.start_byte : node.end_byte][:80].decode("utf-8", "replace")
                out.append(SyntaxErrorLocation(r0 + 1, c0, r1 + 1, c1, kind, text))
                continue  # the outermost error region is the location; its inside is recovery noise
            # Only subtrees that contain an error are worth walking; reversed keeps source order.
            stack.extend(c for c in reversed(node.children) if c.has_error or c.is_missing)
        out.sort(key=lambda e: (e.line, e.column))
        return out

    def check_text(self, text: str, language: str | None = "python", *, fenced_only: bool = False) -> SyntaxResult:
        """Check the code in free text: each fenced block in its own language, else the raw text.

        Never raises: unknown languages and missing grammars give UNSUPPORTED.

        Args:
            text: A core's answer or a strategy.
            language: Language of unlabelled blocks and of raw text.
            fenced_only: When True, text without fenced blocks gives EMPTY instead of being
                checked as code (strategies are prose unless they fence code).

        Returns:
            The combined :class:`SyntaxResult`: ERROR if any block fails.

        Example:
            >>> SyntaxChecker().check_text("```js\\nlet x = ;\\n```").status
            <SyntaxStatus.ERROR: 'error'>
        """
        if not isinstance(text, str):
            return SyntaxResult(SyntaxStatus.EMPTY, str(language), blocks=0)
        blocks = extract_code_blocks(text)
        if not blocks:
            if fenced_only:
                return SyntaxResult(SyntaxStatus.EMPTY, str(language), blocks=0)
            return self._safe_check(text, language, 1)
        return self._combine([(b.code, b.language or language, b.start_line) for b in blocks], language)

    def _safe_check(self, code: str, language: str | None, line_offset: int) -> SyntaxResult:
        try:
            result = self.check(code, language or "")
        except (ConfigError, GrammarNotInstalledError) as exc:
            return SyntaxResult(SyntaxStatus.UNSUPPORTED, str(language), detail=str(exc))
        if line_offset > 1 and result.errors:
            shifted = tuple(
                SyntaxErrorLocation(e.line + line_offset - 1, e.column, e.end_line + line_offset - 1, e.end_column, e.kind, e.text)
                for e in result.errors
            )
            result = SyntaxResult(result.status, result.language, shifted)
        return result

    def _combine(self, parts: Iterable[tuple[str, str | None, int]], default: str | None) -> SyntaxResult:
        results = [self._safe_check(code, lang, start_line) for code, lang, start_line in parts]
        checked = [r for r in results if r.status in (SyntaxStatus.OK, SyntaxStatus.ERROR)]
        n = len(results)
        if not checked:
            unsupported = [r for r in results if r.status is SyntaxStatus.UNSUPPORTED]
            if unsupported:
                return SyntaxResult(SyntaxStatus.UNSUPPORTED, unsupported[0].language, blocks=n, detail=unsupported[0].detail)
            return SyntaxResult(SyntaxStatus.EMPTY, str(default), blocks=n)
        errors = tuple(e for r in checked for e in r.errors)[: self.max_errors]
        status = SyntaxStatus.ERROR if any(r.status is SyntaxStatus.ERROR for r in checked) else SyntaxStatus.OK
        return SyntaxResult(status, checked[0].language, errors, blocks=n)


_default_checker = SyntaxChecker()


def check_syntax(code: str, language: str = "python") -> SyntaxResult:
    """Check ``code`` with the shared default checker (see :meth:`SyntaxChecker.check`).

    Example:
        >>> check_syntax("fn main() {}", "rust").ok
        True
    """
    return _default_checker.check(code, language)
