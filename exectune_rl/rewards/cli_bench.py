"""``exectune bench``: measure reward throughput on this machine (optionally on your own rows).

Prints per-component and composite completions per second, tree-sitter vs ``ast.parse``,
and, on the full default workload only, whether the targets are met (PASS/FAIL); ``--json`` writes the same numbers. Use it to choose worker
counts and sandboxes.

Example:
    $ exectune bench --workers 2
    $ exectune bench --input rows.jsonl --workers 8 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from exectune_rl.errors import ConfigError


__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser, command: str = "bench") -> None:
    """Register ``exectune bench``'s options."""
    parser.add_argument("--input", help="JSONL rows with 'core_output' (exectune score's format); default: HumanEval workload")
    parser.add_argument("-n", "--completions", type=int, default=1000,
                        help="completions in the workload (default 1000, the full workload the targets are judged on)")
    parser.add_argument("--quick", action="store_true", help="a small workload (200 completions, 100 math answers) for a fast look")
    parser.add_argument("--workers", type=int, default=2, help="sandbox and math-verify workers (default 2)")
    parser.add_argument("--sandbox", default="local", help="sandbox registry name (default local)")
    parser.add_argument("--batch-size", type=int, default=128, help="completions per reward call (default 128)")
    parser.add_argument("--math", type=int, default=500, help="answers for the math-verify measurement (0 skips)")
    parser.add_argument("--json", help="write the results as JSON here")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns 0, or raises ExecTuneError (exit status 2) on bad arguments or input."""
    from exectune_rl.registry import sandbox_registry
    from exectune_rl.rewards.bench import format_results, load_workload, run_benchmark

    if args.quick:
        args.completions, args.math = min(args.completions, 200), min(args.math, 100)
    for flag, value, low in (("--completions", args.completions, 1), ("--workers", args.workers, 1),
                             ("--batch-size", args.batch_size, 1), ("--math", args.math, 0)):  # fmt: skip
        if value < low:
            raise ConfigError(f"{flag} must be >= {low}, got {value}")
    reason = sandbox_registry.unavailable_reason(args.sandbox)
    if reason is not None:
        raise ConfigError(f"--sandbox {args.sandbox!r} cannot be used: {reason}")
    if args.json:
        if Path(args.json).is_dir():
            raise ConfigError(f"--json {args.json!r} is a directory; give a file path")
        try:  # before the long run, so a bad path fails now and not after it
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--json: cannot create the folder of {args.json!r}: {exc.strerror or exc}") from None
    items = load_workload(args.input, args.completions) if args.input else None
    result = run_benchmark(
        args.completions, workers=args.workers, sandbox_name=args.sandbox, batch_size=args.batch_size,
        items=items, math_n=args.math, progress=lambda msg: print(f"... {msg}", file=sys.stderr),
    )  # fmt: skip
    print(format_results(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0
