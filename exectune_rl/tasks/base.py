"""Tasks: what a guide plans for and a core solves."""

from __future__ import annotations

import ast
import enum
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import DataError
from exectune_rl.languages import is_python, normalize
from exectune_rl.sandboxes.runner import TEST_FORMATS

__all__ = ["TaskKind", "Task"]


_DEFINES_CHECK = re.compile(r"^\s*(?:async\s+)?def\s+check\s*\(", re.MULTILINE)


@functools.lru_cache(maxsize=4096)
def _python_syntax_error(code: str) -> str | None:
    """Why ``code`` does not compile as Python (its first error and line), or None (cached: a
    GRPO group shares one task)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "tests", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except SyntaxError as exc:
        return f"{exc.msg}, line {exc.lineno}"
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return type(exc).__name__
    return None


def _io_cases(task_id: str, tests: str | None) -> list[Any]:
    """The ``(stdin, expected)`` pairs of an ``io`` task's tests (a JSON list), or a DataError."""
    try:
        cases = json.loads(tests or "")
    except ValueError as exc:
        raise DataError(f"code task {task_id!r}: column 'tests' must be a JSON list of [stdin, expected] pairs for test_format 'io' ({exc})") from None
    if not isinstance(cases, list) or not cases or not all(isinstance(c, (list, tuple)) and len(c) == 2 for c in cases):
        raise DataError(f"code task {task_id!r}: column 'tests' must be a non-empty JSON list of [stdin, expected] pairs for test_format 'io'")
    return cases


class TaskKind(str, enum.Enum):
    MATH = "math"
    CODE = "code"


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    Attributes:
        id: Stable identifier (``"HumanEval/0"``, ``"gsm8k/train/12"``).
        kind: ``math`` or ``code``.
        problem: The problem text shown to guide and core (for HumanEval: the prompt).
        answer: Gold final answer (math).
        tests: Test code (code tasks): a HumanEval ``check(candidate)`` suite or asserts.
        test_format: ``"check"`` (``check(entry_point)``), ``"asserts"`` or ``"io"``.
        entry_point: Function under test (code tasks).
        reference: A reference solution, when the dataset has one (leakage checks use it).
        language: Programming language of a code task.
        metadata: Anything else the dataset carried.

    Raises:
        DataError: an unknown kind, a math task without an answer, a code task without tests,
            or a field of the wrong type (a numeric ``answer`` is kept as its text).
    """

    id: str
    kind: TaskKind
    problem: str
    answer: str | None = None
    tests: str | None = None
    test_format: str = "check"
    entry_point: str | None = None
    reference: str | None = None
    language: str = "python"
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise DataError(f"task id must be a non-empty str, got {self.id!r}")
        try:
            object.__setattr__(self, "kind", TaskKind(self.kind))
        except ValueError as exc:
            raise DataError(f"task {self.id!r}: kind must be 'math' or 'code', got {self.kind!r}") from exc
        if isinstance(self.answer, (int, float)) and not isinstance(self.answer, bool):
            object.__setattr__(self, "answer", str(self.answer))  # a numeric gold answer, as its text
        for name in ("problem", "language"):
            if not isinstance(getattr(self, name), str):
                raise DataError(f"task {self.id!r}: {name} must be a str, got {getattr(self, name)!r}")
        for name in ("answer", "tests", "entry_point", "reference"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise DataError(f"task {self.id!r}: {name} must be a str or None, got {type(value).__name__} {value!r}")
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})
        elif not isinstance(self.metadata, Mapping):
            raise DataError(f"task {self.id!r}: metadata must be a mapping, got {type(self.metadata).__name__}")
        if self.kind is TaskKind.MATH and self.answer is None:
            raise DataError(f"math task {self.id!r} has no gold answer")
        if self.kind is TaskKind.CODE and not self.tests:
            raise DataError(f"code task {self.id!r} has no tests")
        object.__setattr__(self, "language", normalize(self.language) or "python")
        if self.kind is TaskKind.CODE:
            self._check_tests()

    def _check_tests(self) -> None:
        """A code task whose tests cannot run as declared is bad data, named by its column."""
        where = f"code task {self.id!r}"
        if self.test_format not in TEST_FORMATS:
            raise DataError(f"{where}: column 'test_format' must be one of {', '.join(TEST_FORMATS)}, got {self.test_format!r}")
        if self.test_format == "check":
            if not self.entry_point:
                raise DataError(f"{where}: column 'entry_point' is empty, and test_format 'check' calls check(entry_point)")
            if is_python(self.language) and not _DEFINES_CHECK.search(self.tests or ""):
                raise DataError(
                    f"{where}: column 'tests' defines no check(candidate) function, but test_format is 'check' "
                    "(the default when column 'test_format' is empty); assert-style tests need test_format='asserts'"
                )
        elif self.test_format == "io":
            _io_cases(self.id, self.tests)
        if self.test_format != "io" and is_python(self.language):
            why = _python_syntax_error(self.tests or "")
            if why is not None:  # every program would get the same INFRA: the row's tests are at fault
                raise DataError(f"{where}: column 'tests' is not valid Python ({why})")

    def to_dict(self, *, drop_none: bool = False) -> dict[str, Any]:
        """The task as a row (the JSONL and dataset-column names); ``drop_none`` leaves out unset fields."""
        row = {
            "task_id": self.id,
            "kind": self.kind.value,
            "problem": self.problem,
            "answer": self.answer,
            "tests": self.tests,
            "test_format": self.test_format,
            "entry_point": self.entry_point,
            "reference": self.reference,
            "language": self.language,
        }
        return {k: v for k, v in row.items() if v is not None} if drop_none else row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Task":
        """A task from a :meth:`to_dict` row (``task_id``, ``kind``, ``problem``...).

        Raises:
            DataError: the row is not a mapping, lacks a required key or is not a valid task.
        """
        if not isinstance(row, Mapping):
            raise DataError(f"a task row must be a mapping, got {type(row).__name__}")
        missing = [k for k in ("task_id", "kind", "problem") if row.get(k) is None]
        if missing:
            raise DataError(f"task row lacks {', '.join(missing)}: {sorted(row)}")
        return cls(
            id=str(row["task_id"]),
            kind=row["kind"],
            problem=str(row["problem"]),
            answer=None if row.get("answer") is None else str(row["answer"]),
            tests=row.get("tests"),
            test_format=row.get("test_format") or "check",
            entry_point=row.get("entry_point"),
            reference=row.get("reference"),
            language=row.get("language") or "python",
            metadata=dict(row["metadata"]) if isinstance(row.get("metadata"), Mapping) else {},
        )
