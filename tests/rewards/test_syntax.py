"""tree-sitter syntax checks: nine languages, error locations, missing grammars, threads."""

from __future__ import annotations

import pickle
import threading

import pytest

from exectune_rl.errors import ConfigError, GrammarNotInstalledError
from exectune_rl.rewards import syntax as syntax_mod
from exectune_rl.rewards.syntax import GrammarSpec, SyntaxChecker, SyntaxStatus, check_syntax, normalize_language

VALID = {
    "python": "def f(x):\n    return x + 1\n",
    "javascript": "function f(x) { return x + 1; }",
    "typescript": "function f(x: number): number { return x + 1; }",
    "c": "int f(int x) { return x + 1; }",
    "cpp": "#include <vector>\nint f(std::vector<int> v) { return v.size(); }",
    "java": "class A { int f(int x) { return x + 1; } }",
    "go": "package main\nfunc f(x int) int { return x + 1 }",
    "rust": "fn f(x: i32) -> i32 { x + 1 }",
    "bash": "for i in 1 2; do echo $i; done",
}


@pytest.mark.parametrize("language", sorted(VALID))
def test_every_language_parses_and_catches_errors(language: str) -> None:
    checker = SyntaxChecker()
    assert checker.check(VALID[language], language).status is SyntaxStatus.OK
    broken = checker.check(VALID[language] + "\n ((( {", language)
    assert broken.status is SyntaxStatus.ERROR and broken.errors
    assert broken.value == 0.0


def test_error_location_of_a_missing_parenthesis() -> None:
    result = check_syntax("def f(:\n    return 1\n")
    assert result.status is SyntaxStatus.ERROR
    first = result.errors[0]
    # tree-sitter reports the ")" it had to invent right after "f(" on line 1.
    assert (first.line, first.column, first.kind, first.text) == (1, 6, "missing", ")")


def test_error_lines_are_shifted_to_the_surrounding_text() -> None:
    text = "Here is the code:\n\n```python\nx = 1\ny = (\n```\n"
    result = SyntaxChecker().check_text(text)
    assert result.status is SyntaxStatus.ERROR
    assert result.errors[0].line >= 5  # the broken line is line 5 of the text, not of the block


def test_mixed_blocks_each_in_its_own_language() -> None:
    text = "```js\nlet a = 1;\n```\n```python\ndef g():\n    return 2\n```"
    result = SyntaxChecker().check_text(text)
    assert result.status is SyntaxStatus.OK and result.blocks == 2


def test_code_in_an_unsupported_language_does_not_raise() -> None:
    # An awkward case: the core answers in COBOL. The lenient check reports it, never raises.
    result = SyntaxChecker().check_text("```cobol\nMOVE A TO B.\n```")
    assert result.status is SyntaxStatus.UNSUPPORTED and result.value is None
    assert "cobol" in result.detail
    # A supported block next to it is still checked.
    mixed = SyntaxChecker().check_text("```cobol\nMOVE.\n```\n```python\nx = (\n```")
    assert mixed.status is SyntaxStatus.ERROR


def test_strict_check_names_unknown_languages() -> None:
    with pytest.raises(ConfigError, match="cobol.*supported: .*python"):
        SyntaxChecker().check("x", "cobol")


def test_missing_grammar_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(syntax_mod.GRAMMARS, "go", GrammarSpec("tree_sitter_go_absent", "language", "tree-sitter-go"))
    monkeypatch.delitem(syntax_mod._languages, "go", raising=False)
    with pytest.raises(GrammarNotInstalledError, match="pip install tree-sitter-go"):
        SyntaxChecker().check("package main", "go")
    # The lenient path turns it into UNSUPPORTED with the same hint.
    result = SyntaxChecker().check_text("```go\npackage main\n```")
    assert result.status is SyntaxStatus.UNSUPPORTED and "tree-sitter-go" in result.detail
    assert "go" not in syntax_mod.available_languages()


def test_aliases() -> None:
    assert [normalize_language(x) for x in ("py", "C++", "ts", "sh", "golang", "rs", None, "cobol")] == [
        "python", "cpp", "typescript", "bash", "go", "rust", None, None,
    ]  # fmt: skip


def test_empty_code() -> None:
    assert check_syntax("   \n").status is SyntaxStatus.EMPTY
    assert SyntaxChecker().check_text("prose only", fenced_only=True).status is SyntaxStatus.EMPTY


def test_parsers_are_reused_per_thread_and_not_shared() -> None:
    checker = SyntaxChecker()
    mine = checker.parser("python")
    assert checker.parser("py") is mine  # reused: building a parser costs more than a parse
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(checker.parser("python")))
    t.start()
    t.join()
    assert other[0] is not mine


def test_concurrent_checks_stay_correct() -> None:
    checker = SyntaxChecker()
    failures: list[str] = []

    def work(k: int) -> None:
        for i in range(200):
            ok = (i + k) % 2 == 0
            code = "x = 1\n" if ok else "x = (\n"
            if checker.check(code).ok is not ok:
                failures.append(code)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_checker_pickles() -> None:
    checker = SyntaxChecker(max_errors=3)
    checker.check("x = 1")
    clone = pickle.loads(pickle.dumps(checker))
    assert clone.max_errors == 3 and clone.check("x = (").status is SyntaxStatus.ERROR


def test_bash_never_sees_code_points_past_latin1() -> None:
    # tree-sitter-bash's scanner calls isalpha() on any code point: past 255 that reads out of
    # bounds and crashed the process on input such as "{" followed by U+8EAEF.
    code = "echo é {\U0008eaef} \ud800 😀 $((1+ ; fi"
    parsed, original = syntax_mod._source_bytes(code, syntax_mod.GRAMMARS["bash"])
    assert len(parsed) == len(original) and parsed.count(b"\n") == original.count(b"\n")
    assert max(parsed.decode("utf-8")) <= "\xff" and "é".encode() in parsed
    python_bytes = syntax_mod._source_bytes(code, syntax_mod.GRAMMARS["python"])
    assert python_bytes[0] == python_bytes[1] == original  # other grammars parse the text as it is
    [error] = SyntaxChecker().check(code, "bash").errors
    assert (error.line, error.column, error.text) == (1, original.index(b"$((1+"), "$((1+")


def test_bash_wide_characters_do_not_crash_the_process() -> None:
    import subprocess
    import sys

    script = (
        "from exectune_rl.rewards.syntax import SyntaxChecker\n"
        "checker = SyntaxChecker()\n"
        "for cp in range(0x10000, 0x110000, 331):\n"
        "    for prefix in ('{', '${', '[ -'):\n"
        "        checker.check(prefix + chr(cp), 'bash')\n"
    )
    # The out-of-bounds read depends on the address layout: before the fix about half of such
    # processes crashed, so eight of them all passing is no accident.
    for _ in range(8):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-500:]
