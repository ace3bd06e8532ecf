"""Rows from what the frameworks send: labels that carry the task, and ``exectune score`` rows.

A **label** (OpenRLHF's ``labels[i]``, verl's ``ground_truth``, a verifiers task's field) is
one of:

- a task object: ``{"problem": ..., "kind": "code", "tests": ..., "entry_point": ...}`` (the
  columns of :mod:`exectune_rl.rewards.columns`, or a nested ``{"task": {...}}``), optionally
  with ``core_output`` / ``core_only_output``;
- the same object as a JSON string (a dataset column of strings);
- a task id (``"HumanEval/3"``), or an object with only ``task_id`` (plus ``core_output``...),
  resolved against the task table the service loaded.

Anything else is a :class:`LabelError` naming the label's index and the problem, which the
service answers with 422.

Example:
    >>> table = {"t1": {"task_id": "t1", "kind": "math", "problem": "2+3?", "answer": "5"}}
    >>> label_row("t1", table, 0)["answer"]
    '5'
    >>> label_row({"task_id": "t9"}, table, 2)
    Traceback (most recent call last):
    ...
    exectune_rl.serve.labels.LabelError: labels[2]: unknown task id 't9'; the task table has 1 task (t1)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from exectune_rl.errors import DataError, MissingColumnError

__all__ = ["LabelError", "label_row", "label_rows", "native_rows", "check_rows", "completion_from_query"]


class LabelError(DataError):
    """A label or row that names no usable task; the message says which one and why."""


def _known(table: Mapping[str, Any]) -> str:
    ids = list(table)
    shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    return f"the task table has {len(ids)} task{'s' if len(ids) != 1 else ''} ({shown})" if ids else "no task table is loaded (give the task as JSON)"


def _has_task_text(row: Mapping[str, Any]) -> bool:
    return any(row.get(k) not in (None, "") for k in ("problem", "question", "task"))


def _from_table(row: dict[str, Any], table: Mapping[str, Any], where: str) -> dict[str, Any]:
    tid = row.get("task_id", row.get("id"))
    if tid is None:
        raise LabelError(f"{where}: a task object needs 'problem' (with its kind, tests or answer) or a 'task_id' of the task table")
    known = table.get(str(tid))
    if known is None:
        raise LabelError(f"{where}: unknown task id {str(tid)!r}; {_known(table)}")
    return {**known, **{k: v for k, v in row.items() if k != "id"}}


def label_row(label: Any, table: Mapping[str, Mapping[str, Any]], index: int, where: str = "labels") -> dict[str, Any]:
    """The task row a label stands for (see the module docstring for the formats).

    Args:
        label: The label.
        table: Task id -> task row.
        index: The label's position, for the message.
        where: The field's name, for the message.

    Raises:
        LabelError: the label is not a task object, a JSON task or a known id.
    """
    from exectune_rl.rewards.cli_score import normalize_row

    at = f"{where}[{index}]"
    if isinstance(label, str):
        text = label.strip()
        if text.startswith("{"):
            try:
                label = json.loads(text)
            except ValueError as exc:
                raise LabelError(f"{at} looks like a JSON task but does not parse: {exc}") from exc
        elif not text:
            raise LabelError(f"{at} is empty: give a task id of the task table or the task as JSON")
        else:
            return _from_table({"task_id": text}, table, at)
    if not isinstance(label, Mapping):
        raise LabelError(f"{at} must be a task id (string) or a task object, got {type(label).__name__}")
    row = dict(label)
    if not _has_task_text(row):
        row = _from_table(row, table, at)
    if isinstance(row.get("task"), str):
        raise LabelError(f"{at}: 'task' must be an object with the task's columns, got a string")
    return normalize_row(row)


def label_rows(labels: Sequence[Any], table: Mapping[str, Mapping[str, Any]], where: str = "labels") -> list[dict[str, Any]]:
    """:func:`label_row` for each label."""
    return [label_row(label, table, i, where) for i, label in enumerate(labels)]


def native_rows(rows: Sequence[Any], table: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``exectune score`` rows as the scorer takes them: a nested ``task`` flattened, a bare
    ``task_id`` resolved against the table, ``completion`` or ``strategy`` required.

    Raises:
        LabelError: a row is not an object, has neither completion nor strategy, or names an unknown task.
    """
    from exectune_rl.rewards.cli_score import normalize_row

    out = []
    for i, row in enumerate(rows):
        at = f"rows[{i}]"
        if not isinstance(row, Mapping):
            raise LabelError(f"{at} must be an object, got {type(row).__name__}")
        row = dict(row)
        if row.get("completion") is None and row.get("strategy") is None:
            raise LabelError(f"{at} needs 'completion' (the guide's raw output) or 'strategy'")
        if not _has_task_text(row) and row.get("task_id") is not None and str(row["task_id"]) in table:
            row = _from_table(row, table, at)
        row = normalize_row(row)  # a nested task, or a HumanEval id (as `exectune score` reads them)
        if not _has_task_text(row) and row.get("task_id") is not None:
            raise LabelError(f"{at}: unknown task id {str(row['task_id'])!r}; {_known(table)}")
        out.append(row)
    return out


def check_rows(rows: Sequence[Mapping[str, Any]], config: Any, has_core: bool, *, where: str = "labels", strict: bool = True) -> None:
    """Check that the rows make tasks the reward can score, before they join a batch.

    Args:
        rows: Task rows (from :func:`label_rows` or :func:`native_rows`).
        config: The reward's RewardConfig (``task_kind``).
        has_core: Whether the reward has a core (else each row must carry ``core_output``).
        where: The field's name, for messages.
        strict: Also refuse a row whose task is unusable (otherwise it is scored as ``bad_task``).

    Raises:
        LabelError: a column the batch needs is missing, or (strict) a row's task is unusable.
    """
    from exectune_rl.rewards.columns import rows_to_columns, tasks_from_columns

    columns = rows_to_columns([{k: v for k, v in r.items() if k not in ("completion", "strategy")} for r in rows])
    try:
        _tasks, errors = tasks_from_columns(columns, len(rows), config.task_kind)
    except MissingColumnError as exc:
        raise LabelError(f"{where}: {exc}") from exc
    if strict:
        bad = [(i, e) for i, e in enumerate(errors) if e is not None]
        if bad:
            i, err = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise LabelError(f"{where}[{i}]: not a usable task: {err.split(': ', 1)[-1]}{more}")
    if not has_core:
        missing = [i for i, r in enumerate(rows) if r.get("core_output") is None]
        if missing:
            raise LabelError(
                f"{where}[{missing[0]}]: this service has no core, so each task must carry 'core_output' "
                "(the core's output to grade); or serve a recipe with a core"
            )


def completion_from_query(query: Any, prompt: Any) -> Any:
    """The guide's response in an OpenRLHF ``query`` (prompt + response, as its tokenizer decoded it).

    The text after the prompt; a query that does not contain its prompt (decoding added special
    tokens in front, say) is taken whole.

    Example:
        >>> completion_from_query("<s>Plan it.<strategy>A</strategy>", "Plan it.")
        '<strategy>A</strategy>'
    """
    if isinstance(query, str) and isinstance(prompt, str) and prompt:
        if query.startswith(prompt):
            return query[len(prompt) :]
        at = query.find(prompt)
        if at >= 0:
            return query[at + len(prompt) :]
    return query
