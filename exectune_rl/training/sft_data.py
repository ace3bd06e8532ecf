"""The SFT dataset written by acceptance sampling, and reading it back.

Rows are conversational prompt-completion pairs, the format TRL's ``SFTTrainer`` trains with
loss on the completion only: ``prompt`` is the guide's user turn, ``completion`` the accepted
strategy as the assistant turn. The task travels along in the task columns of
:meth:`exectune_rl.tasks.base.Task.to_dict` (``task_id``, ``kind``, ``problem``, ``answer``,
``tests``...), so the same rows can feed GRPO and evaluation.

Output folder layout::

    dataset/           datasets.Dataset.save_to_disk (accepted rows)
    accepted.jsonl     the same rows as JSON lines
    candidates.jsonl   every candidate with its verdict (accepted or not)
    stats.json         acceptance statistics
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from exectune_rl.errors import DataError, MissingDependencyError
from exectune_rl.tasks.base import Task
from exectune_rl.training.sampling import AcceptanceResult

__all__ = ["sft_rows", "write_acceptance_outputs", "load_sft_dataset", "prompt_messages"]


def prompt_messages(text: str) -> list[dict[str, str]]:
    """The conversational prompt a guide sees."""
    return [{"role": "user", "content": text}]


def sft_rows(
    result: AcceptanceResult,
    tasks: Sequence[Task],
    guide_prompt: Callable[[Task], str],
    *,
    keep_per_task: int = 0,
    tag: str = "strategy",
) -> list[dict[str, Any]]:
    """Accepted candidates as conversational prompt-completion rows.

    The completion is the strategy block alone, re-wrapped in its tags, so the guide learns
    the format the gate checks and nothing around it.

    Args:
        result: Output of :func:`~exectune_rl.training.sampling.acceptance_sample`.
        tasks: The tasks sampled (to find each candidate's task).
        guide_prompt: The guide's prompt for a task.
        keep_per_task: At most this many accepted strategies per task (0: all).
        tag: The strategy tag.

    Returns:
        A list of row dicts.
    """
    by_id = {t.id: t for t in tasks}
    kept: dict[str, int] = {}
    rows = []
    for cand in result.accepted:
        if keep_per_task and kept.get(cand.task_id, 0) >= keep_per_task:
            continue
        kept[cand.task_id] = kept.get(cand.task_id, 0) + 1
        task = by_id[cand.task_id]
        strategy = f"<{tag}>\n{cand.verdict.strategy}\n</{tag}>"
        rows.append(
            {
                "prompt": prompt_messages(guide_prompt(task)),
                "completion": [{"role": "assistant", "content": strategy}],
                **task.to_dict(),
                "sample_index": cand.sample_index,
                "round": cand.round,
                "teacher": cand.teacher_model,
            }
        )
    return rows


def write_acceptance_outputs(
    result: AcceptanceResult,
    rows: list[dict[str, Any]],
    output_dir: str | Path,
    *,
    extra_stats: dict[str, Any] | None = None,
) -> Path:
    """Write the dataset, the JSONL files and ``stats.json`` into ``output_dir``.

    Args:
        result: The sampling result (candidates and statistics).
        rows: Rows from :func:`sft_rows`.
        output_dir: Destination folder (created).
        extra_stats: More fields for ``stats.json`` (cache hits, runtime...).

    Returns:
        The folder.
    """
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError("datasets", "train", "writing the SFT dataset") from exc
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "accepted.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "candidates.jsonl").open("w", encoding="utf-8") as fh:
        for cand in result.candidates:
            fh.write(json.dumps(cand.to_dict(), ensure_ascii=False) + "\n")
    stats = {**result.stats.to_dict(), "n_rows": len(rows), **(extra_stats or {})}
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    if rows:
        datasets.Dataset.from_list(rows).save_to_disk(str(out / "dataset"))
    return out


def _jsonl_dataset(datasets: Any, path: Path):  # -> datasets.Dataset
    """Rows of a JSON-lines file (a ``.json`` file may also hold one list of rows)."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json" and text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"SFT dataset {str(path)!r} is not valid JSON lines: {exc}") from exc
    if not all(isinstance(r, dict) for r in rows):
        raise DataError(f"SFT dataset {str(path)!r}: every row must be a JSON object")
    if not rows:
        raise DataError(f"SFT dataset {str(path)!r} is empty: no strategy was accepted")
    try:
        return datasets.Dataset.from_list(rows)
    except Exception as exc:  # pyarrow cannot type the rows (mixed types in one column)
        raise DataError(f"SFT dataset {str(path)!r} cannot be loaded: {exc}") from exc


def load_sft_dataset(path: str | Path):  # -> datasets.Dataset
    """Load an SFT dataset: an ``exectune sample`` output folder, a saved dataset or a JSONL file.

    Raises:
        DataError: Nothing loadable at ``path``, or rows lack ``prompt``/``completion``.
    """
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError("datasets", "train", "loading the SFT dataset") from exc
    p = Path(path)
    if (p / "dataset").is_dir():
        ds = datasets.load_from_disk(str(p / "dataset"))
    elif (p / "dataset_info.json").is_file():
        ds = datasets.load_from_disk(str(p))
    elif p.is_file() and p.suffix in (".jsonl", ".json"):
        ds = _jsonl_dataset(datasets, p)
    elif (p / "accepted.jsonl").is_file():
        ds = _jsonl_dataset(datasets, p / "accepted.jsonl")
    else:
        raise DataError(f"no SFT dataset at {str(p)!r}: expected an `exectune sample` folder or a .jsonl file")
    missing = {"prompt", "completion"} - set(ds.column_names)
    if missing:
        raise DataError(f"SFT dataset {str(p)!r} lacks column(s) {sorted(missing)}; has {ds.column_names}")
    if len(ds) == 0:
        raise DataError(f"SFT dataset {str(p)!r} is empty: no strategy was accepted")
    return ds
