"""``exectune score``: score a JSONL file of strategies, streaming, and print a summary table.

Each input row is one completion with its task (the columns of
:mod:`exectune_rl.rewards.columns`, or a nested ``task`` object, or just a HumanEval
``task_id``) and either ``completion`` (the guide's raw output, format gate applies) or
``strategy`` (a bare strategy, wrapped in the tag). The core's output comes
from ``core_output`` (a string or a list, one per core run) or from a core named with
``--core``. With no input, the bundled HumanEval sample is scored offline.

Rows are read, scored and written in batches, so memory stays flat however long the file is.

Example:
    $ exectune score                                 # the bundled HumanEval sample
    $ exectune score rows.jsonl --out scored.jsonl --preset code --workers 4
"""

from __future__ import annotations

import argparse
import codecs
import functools
import gzip
import io
import json
import logging
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from exectune_rl.errors import ConfigError, DataError, ExecTuneError, MissingColumnError

__all__ = ["add_arguments", "run", "read_rows", "normalize_row", "score_stream", "SAMPLE_PRICE_MODEL"]

SAMPLE_PRICE_MODEL = "claude-3-5-haiku-latest"

logger = logging.getLogger(__name__)


_ROW_FORMAT = """\
rows (one JSON object per line, .jsonl or .jsonl.gz):
  completion | strategy   the guide's raw output (format gate applies) | a bare strategy
  kind                    "math" or "code" (or --preset math/code)
  problem                 the task text the core sees (a HumanEval task_id alone fills it in)
  answer                  math: the gold final answer
  tests, test_format      code: the tests and their format: "check" (default; def
                          check(candidate), needs entry_point), "asserts" (assert lines
                          calling the function) or "io" (JSON list of [stdin, stdout] pairs)
  core_output             the core's answer (a string, or a list: one per core run);
                          without it the core named by --core is called
  core_only_output        optional: the core's answer without a strategy (non-degradation)

example (math):
  {"kind": "math", "problem": "What is 3 + 4?", "answer": "7",
   "completion": "<strategy>Add them.</strategy>", "core_output": "3 + 4 = 7\\n#### 7"}
One complete row per kind is in the README ("exectune score: the row format")."""


def add_arguments(parser: argparse.ArgumentParser, command: str = "score") -> None:
    """Register ``exectune score``'s options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _ROW_FORMAT
    parser.add_argument("input", nargs="?", help="JSONL(.gz) rows to score, '-' for stdin (default: the bundled HumanEval sample)")
    parser.add_argument("--out", "-o", help="write one scored JSON record per row here ('-' for stdout)")
    parser.add_argument("--preset", choices=["auto", "math", "code", "advisor", "advisor_math", "advisor_code"], default="auto",
                        help="reward preset; 'auto' reads each row's 'kind' column")  # fmt: skip
    parser.add_argument("--config", help="YAML/JSON file of RewardConfig fields (applied on top of the preset)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a reward config field, e.g. cost_lambda=0.01 (repeatable)")
    parser.add_argument("--core", help="core to call for rows without 'core_output' (registry name: openai, transformers, ...)")
    parser.add_argument("--core-option", action="append", default=[], metavar="KEY=VALUE", help="option for the core")
    parser.add_argument("--price-as", metavar="MODEL",
                        help="price 'core_output' given in the rows as this model's tokens (default for the bundled "
                        f"sample: {SAMPLE_PRICE_MODEL}, the paper's core)")  # fmt: skip
    parser.add_argument("--sandbox", default=None, help="sandbox registry name (default: the config's, 'local')")
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: the sandbox's)")
    parser.add_argument("--sandbox-option", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument of the sandbox, e.g. address=auto for ray (RewardConfig.sandbox_options; repeatable)")
    parser.add_argument("--calibrate", action="store_true",
                        help="time limits from each task's reference (RewardConfig.calibrate_time_limits; "
                             "cpu_time_s stays the hard limit)")
    parser.add_argument("--recheck", choices=("always", "progress", "never"), default=None,
                        help="with --calibrate: which programs out of a calibrated limit are re-run at the hard limit "
                             "(RewardConfig.calibration_recheck; 'always' keeps every verdict, 'progress' makes loops cheap)")
    parser.add_argument("--batch-size", type=int, default=256, help="rows scored together (default 256)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N rows")
    parser.add_argument("--include-text", action="store_true", help="write strategies and core outputs into --out")
    parser.add_argument("--summary-json", help="write the summary as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} must look like KEY=VALUE, got {item!r}")
        out[key.strip()] = _value(value)
    return out


# What reading a file that is not UTF-8 JSONL (or not gzip) raises, mid-iteration.
_UNREADABLE = (UnicodeDecodeError, EOFError, zlib.error, OSError)


def _open(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    p = Path(path)
    if not p.exists():
        raise DataError(f"input file {path!r} does not exist")
    if p.is_dir():
        raise DataError(f"input {path!r} is a directory, not a JSONL file")
    try:
        if p.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8")
        return p.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read input file {path!r}: {exc.strerror or exc}") from None


def check_input(path: str | None) -> None:
    """Fail now, before anything is scored, on an input that cannot be JSONL: a directory, an
    empty file, a ``.gz`` that is not gzip, bytes that are not UTF-8 at its start.

    Raises:
        DataError: naming the file and what is wrong with it.
    """
    if path is None or path == "-":
        return
    fh = _open(path)
    try:
        head = fh.buffer.read(65536) if hasattr(fh, "buffer") else b""
    except _UNREADABLE as exc:
        raise _unreadable(path, 1, exc) from None
    finally:
        fh.close()
    if not head.strip():
        raise DataError(f"input file {path!r} is empty: nothing to score")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a character cut at the chunk's end is fine
    except UnicodeDecodeError as exc:
        raise _unreadable(path, head.count(b"\n", 0, exc.start) + 1, exc) from None


def _unreadable(path: str, lineno: int, exc: BaseException) -> DataError:
    if isinstance(exc, UnicodeDecodeError):
        why = "is not UTF-8 text (a binary file?)"
    elif path.endswith(".gz"):
        why = f"is not a valid gzip file ({exc})"
    else:
        why = f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    return DataError(f"input file {path!r} {why}, near line {lineno}")


def read_rows(path: str | None, limit: int | None = None, *, need_kind: bool = False,
              keep_bad: bool = False) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL(.gz) file (or the bundled sample), one at a time.

    Args:
        path: The file, ``'-'`` for stdin, None for the bundled sample.
        limit: Read at most this many rows.
        need_kind: Every row must say its ``kind`` (no preset sets it).
        keep_bad: A line that is not a usable row is yielded as ``{"_line": n, "_bad": why}``
            (the reward records it as a bad row) instead of raising.

    Raises:
        DataError: the file cannot be read (binary, not gzip, a directory), or, without
            ``keep_bad``, a line is not a usable row (the message gives its number and the column).
    """
    from exectune_rl.rewards.sample import SAMPLE_PATH

    name = str(SAMPLE_PATH) if path is None else path
    fh = _open(name)
    lineno = 0
    try:
        n = 0
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if limit is not None and n >= limit:
                return
            try:
                row = _usable_row(line, lineno, need_kind)
            except DataError as exc:
                if not keep_bad:
                    raise
                row = {"_bad": str(exc)}
            row["_line"] = lineno
            n += 1
            yield row
    except _UNREADABLE as exc:
        raise _unreadable(name, lineno + 1, exc) from None
    finally:
        if fh is not sys.stdin:
            fh.close()


def _usable_row(line: str, lineno: int, need_kind: bool) -> dict[str, Any]:
    from exectune_rl.tasks.loaders import parse_json_object

    row = normalize_row(parse_json_object(line, f"line {lineno}"))
    if "completion" not in row and "strategy" not in row:
        raise DataError(f"line {lineno}: a row needs 'completion' (raw guide output) or 'strategy' (a bare strategy) column")
    if need_kind and not row.get("kind"):
        raise DataError(f"line {lineno}: the row has no 'kind' column ('math' or 'code'); add one, or pass --preset math or --preset code")
    return row


@functools.lru_cache(maxsize=1)
def _humaneval_by_id() -> dict[str, dict[str, Any]]:
    from exectune_rl.tasks.loaders import load_humaneval

    return {t.id: t.to_dict(drop_none=True) for t in load_humaneval()}


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """Accept the row shapes users write: a nested ``task`` object, a bare HumanEval ``task_id``.

    ``{"task": {...Task.to_dict()...}, "strategy": ...}`` is flattened; a row that names a
    HumanEval task (``"task_id": "HumanEval/3"``) but carries no problem gets the task's columns
    from the bundled HumanEval data. ``core_outputs`` is read as ``core_output``.

    Example:
        >>> normalize_row({"task": {"problem": "2+3?", "kind": "math"}, "strategy": "Add."})["problem"]
        '2+3?'
    """
    task = row.pop("task", None)
    if isinstance(task, dict):
        row = {**task, **row}
        if "id" in task and "task_id" not in row:
            row["task_id"] = task["id"]
    if "core_outputs" in row and "core_output" not in row:
        row["core_output"] = row.pop("core_outputs")
    tid = str(row.get("task_id", ""))
    if "problem" not in row and "question" not in row and tid.startswith("HumanEval/"):
        known = _humaneval_by_id().get(tid)
        if known is not None:
            row = {**known, **row}
    return row


def _count_rows(path: str | None, limit: int | None) -> int | None:
    """Rows in the input, for the progress bar (a cheap line count; None for stdin)."""
    from exectune_rl.rewards.sample import SAMPLE_PATH

    if path == "-":
        return limit
    try:
        with _open(str(SAMPLE_PATH) if path is None else path) as fh:
            total = sum(1 for line in fh if line.strip())
    except (*_UNREADABLE, ExecTuneError):  # read_rows reports it, with the line
        return limit
    return total if limit is None else min(total, limit)


def build_config(args: argparse.Namespace) -> Any:
    """The RewardConfig from ``--preset``, ``--config`` and ``--set`` (:meth:`RewardConfig.from_section`)."""
    from exectune_rl.rewards.config import RewardConfig

    fields: dict[str, Any] = {}
    if args.config:
        import yaml

        try:
            loaded = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read reward config {args.config!r}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"reward config {args.config!r} must be a mapping of RewardConfig fields")
        fields.update(loaded)
    # Where each field came from, so an error names the flag the user typed.
    origin = {name: f"in --config {args.config!r}" for name in fields}
    set_fields = _pairs(args.set, "--set")
    fields.update(set_fields)
    origin.update({name: f"--set {name}={value}" for name, value in zip(set_fields, (v.partition("=")[2] for v in args.set))})
    sandbox_options = _pairs(getattr(args, "sandbox_option", None) or [], "--sandbox-option")
    if sandbox_options:
        fields["sandbox_options"] = {**dict(fields.get("sandbox_options") or {}), **sandbox_options}
        origin["sandbox_options"] = "--sandbox-option"
    for flag, name, value in (("--sandbox", "sandbox", args.sandbox or None), ("--workers", "sandbox_workers", args.workers),
                              ("--calibrate", "calibrate_time_limits", True if getattr(args, "calibrate", False) else None),
                              ("--recheck", "calibration_recheck", getattr(args, "recheck", None))):  # fmt: skip
        if value is not None:
            fields[name] = value
            origin[name] = flag
    price_as = args.price_as or (SAMPLE_PRICE_MODEL if args.input is None else None)
    if price_as:
        fields.setdefault("given_output_model", price_as)
        origin.setdefault("given_output_model", "--price-as")
    if args.preset != "auto":
        fields["preset"] = args.preset
    try:
        config = RewardConfig.from_section(fields)
    except ConfigError as exc:
        message = str(exc).replace("unknown RewardConfig field", "unknown --set/--config field")
        for name, where in origin.items():
            if f"RewardConfig.{name}" in message or f"{name!r}" in message:
                raise ConfigError(f"{where}: {message.replace('RewardConfig.', '')}") from None
        raise ConfigError(message) from None
    if getattr(args, "recheck", None) is not None and not config.calibrate_time_limits:
        raise ConfigError("--recheck applies to calibrated time limits only: add --calibrate "
                          "(or calibrate_time_limits: true in --config / --set)")
    return config


def make_core(name: str, options: dict[str, Any], config: Any) -> tuple[Any, Any]:
    """The core named by ``--core`` (and the sandbox made for it, or None).

    Built by :func:`exectune_rl.cores.factory.make_core`: ``program`` gets a sandbox
    (``config.sandbox`` with ``config.sandbox_kwargs``, or the sandbox registry name given as
    ``--core-option sandbox=NAME``), shared with the reward's code execution; ``transformers``
    accepts ``model=`` for ``model_or_path=``.

    Raises:
        ConfigError: unknown or missing options, or a core that cannot be made from them.
    """
    from exectune_rl.cores.factory import make_core as build

    return build(name, options, sandbox_name=config.sandbox, sandbox_options=config.sandbox_kwargs)


def _close(obj: Any) -> None:
    if obj is not None:
        obj.close()


def _wrap(rows: list[dict[str, Any]], gate: Any) -> list[Any]:
    return [r["completion"] if "completion" in r else gate.wrap(r["strategy"]) for r in rows]


def score_stream(reward: Any, rows: Iterator[dict[str, Any]], batch_size: int, out: TextIO | None, summary: Any,
                 progress: Any = None, include_text: bool = False, bad_lines: list[str] | None = None) -> int:  # fmt: skip
    """Score rows batch by batch, writing records and folding them into ``summary``; returns the row count.

    A line that is no usable row (``read_rows(..., keep_bad=True)``) is a ``bad_task`` record in
    its place, its reason appended to ``bad_lines``; its neighbours are scored as usual.
    """
    from exectune_rl.rewards.columns import rows_to_columns

    n = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal n
        columns = rows_to_columns([{k: v for k, v in r.items() if k not in ("completion", "strategy", "_line")} for r in batch])
        records = reward.score(completions=_wrap(batch, reward.format_gate), **columns)
        summary.add(records)
        if out is not None:
            for row, rec in zip(batch, records):
                record = rec.to_dict(include_text)
                record["index"] = n + record["index"]
                record["line"] = row["_line"]
                out.write(json.dumps(record) + "\n")
        n += len(batch)
        if progress is not None:
            progress.update(len(batch))
        batch.clear()

    def bad(row: dict[str, Any]) -> None:
        # A line that is no usable row is recorded as one, in its place; its neighbours are scored.
        nonlocal n
        if bad_lines is not None:
            bad_lines.append(row["_bad"])
        if batch:
            flush()
        from exectune_rl.rewards.records import RewardRecord, RewardStatus

        record = RewardRecord(index=0, task_id=f"line-{row['_line']}", reward=None, status=RewardStatus.BAD_TASK,
                              reason=row["_bad"], format=reward.format_gate(""))
        summary.add([record])
        if out is not None:
            out.write(json.dumps({**record.to_dict(include_text), "index": n, "line": row["_line"]}) + "\n")
        n += 1
        if progress is not None:
            progress.update(1)

    try:
        for row in rows:
            if "_bad" in row:
                bad(row)
                continue
            batch.append(row)
            if len(batch) >= batch_size:
                flush()
    except DataError:
        if batch:  # the file broke off (a truncated gzip): what was read before is scored and kept
            flush()
        raise
    if batch:
        flush()
    return n


def _make_folders(**paths: str | None) -> None:
    """Check output paths and create their folders before the long run, not after it."""
    for flag, path in paths.items():
        if path and path != "-":
            if Path(path).is_dir():
                raise ConfigError(f"{flag} {path!r} is a directory; give a file path such as {str(Path(path) / 'out.jsonl')!r}")
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"{flag}: cannot create the folder of {path!r}: {exc.strerror or exc}") from None
            existed = Path(path).exists()
            try:  # a file that cannot be written (under /proc, read-only) fails now, not after the run
                with open(path, "a", encoding="utf-8"):
                    pass
            except OSError as exc:
                raise ConfigError(f"{flag}: cannot write {path!r}: {exc.strerror or exc}") from None
            if not existed:
                Path(path).unlink(missing_ok=True)


def _report(args: argparse.Namespace, config: Any, summary: Any, n: int, elapsed: float, calibration: Any = None) -> None:
    from exectune_rl.rewards.summary import format_table

    result = summary.result()
    result["elapsed_s"] = elapsed
    result["rows_per_s"] = n / elapsed if elapsed > 0 else None
    extra: dict[str, Any] = {}
    if config.given_output_model:
        extra["given outputs priced as"] = config.given_output_model
    if calibration is not None:
        stats = dict(calibration.stats)
        result["calibration"] = {"recheck": calibration.recheck, "calibration_s": calibration.calibration_s,
                                 "recheck_rate": calibration.recheck_rate(), **stats}
        extra.update({"calibration (s)": calibration.calibration_s, "suites calibrated": stats["calibrated"],
                      "runs under a calibrated limit": stats["limited"], "re-check rate": calibration.recheck_rate()})
    extra.update({"elapsed (s)": elapsed, "rows per second": result["rows_per_s"]})
    print(format_table(result, extra), file=sys.stderr if args.out == "-" else sys.stdout)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(result, indent=2), encoding="utf-8")


def _check_args(args: argparse.Namespace) -> None:
    for flag, value, low in (("--batch-size", args.batch_size, 1), ("--limit", args.limit, 1), ("--workers", args.workers, 1)):
        if value is not None and value < low:
            raise ConfigError(f"{flag} must be >= {low}, got {value}")
    if args.core_option and not args.core:
        raise ConfigError("--core-option needs --core")


def _check_sandbox(name: str) -> None:
    """An unknown sandbox, or one that cannot run here, fails before the first row."""
    from exectune_rl.registry import sandbox_registry

    reason = sandbox_registry.unavailable_reason(name)
    if reason is not None:
        raise ConfigError(f"--sandbox {name!r} cannot be used: {reason}")


def _open_out(path: str | None) -> TextIO | None:
    if not path:
        return None
    if path == "-":
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {path!r}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``exectune score``; returns 0, or raises ExecTuneError (exit status 2) for bad input or configuration."""
    from exectune_rl.rewards.composite import ExecTuneReward
    from exectune_rl.rewards.summary import ScoreSummary

    _check_args(args)
    check_input(args.input)
    _make_folders(**{"--out": args.out, "--summary-json": args.summary_json})
    config = build_config(args)
    _check_sandbox(config.sandbox)
    core = core_sandbox = reward = None
    try:
        if args.core:
            core, core_sandbox = make_core(args.core, _pairs(args.core_option, "--core-option"), config)
        reward = ExecTuneReward(config, core=core, sandbox=core_sandbox)
    except BaseException:
        _close(core)
        _close(core_sandbox)
        raise
    print(f"scoring {args.input or 'the bundled HumanEval sample (offline)'}", file=sys.stderr)
    out: TextIO | None = None
    progress = None
    summary = ScoreSummary(core_runs=config.core_runs, cost_unit=config.cost_unit)
    bad_lines: list[str] = []
    start = time.perf_counter()
    try:
        out = _open_out(args.out)
        if not args.no_progress:
            from tqdm import tqdm

            progress = tqdm(total=_count_rows(args.input, args.limit), unit="row", file=sys.stderr, dynamic_ncols=True)
        rows = read_rows(args.input, args.limit, need_kind=config.task_kind is None, keep_bad=True)
        try:
            n = score_stream(reward, rows, args.batch_size, out, summary, progress, args.include_text, bad_lines)
        except ExecTuneError as exc:
            if bad_lines:  # a bad line read before the failure is what to mend first
                raise DataError(bad_lines[0]) from exc
            if not isinstance(exc, MissingColumnError):
                raise
            if core is None and "has no core" in str(exc):  # the library's words are core=...; the CLI's are flags
                raise DataError("the rows have no 'core_output' column and no core was named: add the core's answer "
                                "to each row as 'core_output', or name a core to call with --core") from None  # fmt: skip
            raise
    finally:
        if progress is not None:
            progress.close()
        if out is not None and out is not sys.stdout:
            out.close()
        reward.close()
        _close(core)
        _close(core_sandbox)
    if n == 0:
        raise DataError(f"{args.input!r} holds no rows (an empty file?): nothing to score")
    _report(args, config, summary, n, time.perf_counter() - start, getattr(reward.executor, "calibration", None))
    if bad_lines:
        # Every other row was scored and written; the run still says its input was not clean.
        more = f" (and {len(bad_lines) - 1} more)" if len(bad_lines) > 1 else ""
        raise DataError(f"{bad_lines[0]}{more}: recorded as bad_task, the other rows scored")
    return 0
