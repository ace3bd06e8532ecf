"""The dataset columns ``ExecTuneReward`` reads, and turning them into tasks.

TRL passes every dataset column except the prompt to a reward function, as one list per
column. The task travels in these columns (the names of :meth:`exectune_rl.tasks.Task.to_dict`):

=================  =========================================================================
column             meaning
=================  =========================================================================
``problem``        the task text the core sees (required; ``question`` is accepted too)
``kind``           ``"math"`` or ``"code"`` (required unless ``RewardConfig.task_kind`` is set)
``answer``         gold final answer (math; GSM8K's ``"... #### 72"`` works)
``tests``          test code (code; ``test`` is accepted too)
``entry_point``    function under test (code with ``test_format="check"``)
``test_format``    ``"check"`` (default), ``"asserts"`` or ``"io"``
``language``       programming language (default ``"python"``)
``reference``      a reference solution, for the overlap leak check (optional)
``task_id``        stable id, keys the core-only baseline (default: a hash of the problem)
``core_output``    the core's output(s) for this strategy: skip calling the core (optional)
``core_only_output`` the core's output without a strategy, for non-degradation (optional)
=================  =========================================================================

Example:
    >>> tasks, errors = tasks_from_columns({"problem": ["1+1?"], "answer": ["2"]}, 1, "math")
    >>> tasks[0].kind.value, errors
    ('math', [None])
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from exectune_rl.errors import DataError, MissingColumnError
from exectune_rl.tasks.base import Task, TaskKind

__all__ = ["TASK_COLUMNS", "ALIASES", "tasks_from_columns", "column", "rows_to_columns"]

TASK_COLUMNS = ("task_id", "kind", "problem", "answer", "tests", "test_format", "entry_point", "reference", "language")
ALIASES = {"problem": ("question",), "tests": ("test",), "reference": ("canonical_solution", "solution")}


def _values(columns: Mapping[str, Any], key: str, n: int) -> list[Any]:
    values = columns[key]
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = [values] * n  # a scalar applies to the whole batch
    values = list(values)
    if len(values) != n:
        raise DataError(f"column {key!r} has {len(values)} values for {n} completions")
    return values


def column(columns: Mapping[str, Any], name: str, n: int) -> list[Any] | None:
    """The values of column ``name``, checked to have ``n`` entries, or None when it is absent.

    Where a dataset mixes spellings (``problem`` for some rows, ``question`` for others; rows
    built from different sources leave the other one None), each row takes the first of
    ``name`` and its aliases that has a value.

    Example:
        >>> column({"problem": ["a", None], "question": [None, "b"]}, "problem", 2)
        ['a', 'b']
    """
    found = [_values(columns, key, n) for key in (name, *ALIASES.get(name, ())) if columns.get(key) is not None]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    return [next((values[i] for values in found if values[i] is not None), None) for i in range(n)]


def _require(columns: Mapping[str, Any], name: str, n: int, why: str) -> list[Any]:
    values = column(columns, name, n)
    if values is None:
        names = " or ".join(repr(k) for k in (name, *ALIASES.get(name, ())))
        raise MissingColumnError(
            f"ExecTuneReward needs the dataset column {names} {why} (TRL passes every dataset column "
            f"except the prompt to the reward); columns present: {sorted(k for k in columns if not k.startswith('log_'))}"
        )
    return values


def _task_id(explicit: Any, problem: str) -> str:
    if explicit is not None and str(explicit):
        return str(explicit)
    return "sha1:" + hashlib.sha1(problem.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _answer(value: Any) -> str | None:
    # A blank gold answer is no answer: the row is bad data, not a verifier failure.
    if value is None or not str(value).strip():
        return None
    return str(value)


def tasks_from_columns(
    columns: Mapping[str, Any], n: int, task_kind: str | None = None
) -> tuple[list[Task | None], list[str | None]]:
    """Build one :class:`Task` per completion from the reward's keyword columns.

    Args:
        columns: TRL's keyword arguments (one list per dataset column).
        n: Number of completions.
        task_kind: ``"math"``/``"code"`` for every row, or None to read the ``kind`` column.

    Returns:
        (tasks, errors): a row whose values are unusable gets ``None`` and an error message
        instead of stopping the whole batch.

    Raises:
        MissingColumnError: a column the batch needs is absent (the message names it).
    """
    problems = _require(columns, "problem", n, "(the task text the core solves)")
    kinds = [task_kind] * n if task_kind else _require(columns, "kind", n, "('math' or 'code'; or set RewardConfig.task_kind)")
    values = {name: column(columns, name, n) for name in TASK_COLUMNS if name not in ("problem", "kind")}
    wanted = {str(k) for k in kinds}
    if TaskKind.MATH.value in wanted and values["answer"] is None:
        _require(columns, "answer", n, "(the gold answer of math tasks)")
    if TaskKind.CODE.value in wanted and values["tests"] is None:
        _require(columns, "tests", n, "(the tests of code tasks)")
    tasks: list[Task | None] = []
    errors: list[str | None] = []
    for i in range(n):
        row = {name: (vals[i] if vals is not None else None) for name, vals in values.items()}
        problem = problems[i] if isinstance(problems[i], str) else ("" if problems[i] is None else str(problems[i]))
        if not problem.strip():
            # An empty task would be scored against nothing and share one hash-of-empty id.
            tasks.append(None)
            errors.append(f"row {i}: no task text (column 'problem' or 'question' is empty or missing for this row)")
            continue
        try:
            task = Task(
                id=_task_id(row["task_id"], problem),
                kind=kinds[i],
                problem=problem,
                answer=_answer(row["answer"]),
                tests=row["tests"] if row["tests"] is None else str(row["tests"]),
                test_format=str(row["test_format"] or "check"),
                entry_point=row["entry_point"] or None,
                reference=row["reference"] or None,
                language=str(row["language"] or "python"),
            )
        except (DataError, ValueError, TypeError) as exc:
            tasks.append(None)
            errors.append(f"row {i}: {exc}")
            continue
        tasks.append(task)
        errors.append(None)
    return tasks, errors


def rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Turn row dicts (JSONL records) into TRL-style columns (missing keys become None).

    Example:
        >>> rows_to_columns([{"a": 1}, {"b": 2}])
        {'a': [1, None], 'b': [None, 2]}
    """
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    return {k: [row.get(k) for row in rows] for k in keys}
