"""The ``exectune`` command line: one entry point, one subcommand per job.

Each subcommand lives in its own module exposing ``add_arguments(parser, command)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so
``exectune plugins`` never imports torch. An ``ExecTuneError`` a subcommand raises becomes a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from exectune_rl.errors import ExecTuneError

__all__ = ["main", "SUBCOMMANDS"]

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "score": ("exectune_rl.rewards.cli_score", "score strategies in a JSONL file (default: a bundled HumanEval sample)"),
    "bench": ("exectune_rl.rewards.cli_bench", "measure reward throughput on this machine"),
    "plugins": ("exectune_rl.cli_plugins", "list the sandboxes, cores and detectors the registry sees"),
    "sample": ("exectune_rl.training.cli", "teacher-guided acceptance sampling into an SFT dataset"),
    "sft": ("exectune_rl.training.cli", "SFT warm start of a guide"),
    "grpo": ("exectune_rl.training.cli", "GRPO/RLOO training of a guide with ExecTuneReward"),
    "eval": ("exectune_rl.evaluation.cli", "evaluate methods and write the paper-style report"),
    "demo": ("exectune_rl.evaluation.cli", "the offline end-to-end synthetic recipe (CPU, a few minutes)"),
    "serve": ("exectune_rl.serve.cli", "serve the reward over HTTP (OpenRLHF's remote reward protocol, native rows, metrics)"),
}
# Long jobs report their steps at INFO, which the default level would hide.
_PROGRESS_AT_INFO = {"sample", "sft", "grpo", "eval", "demo"}
# Optional packages by the extra that installs them: a subcommand that needs one that is
# missing says which extra to install instead of showing a ModuleNotFoundError traceback.
_EXTRAS = {
    "train": ("torch", "transformers", "trl", "datasets", "accelerate", "tokenizers", "matplotlib"),
    "server": ("fastapi", "uvicorn", "prometheus_client"),
}
_VERBOSE_HELP = "more logging (-v info, -vv debug)"


def _missing_extra(exc: ModuleNotFoundError) -> str | None:
    root = (exc.name or "").split(".")[0]
    return next((extra for extra, packages in _EXTRAS.items() if root in packages), None)


def _build_parser() -> argparse.ArgumentParser:
    from exectune_rl import __version__

    parser = argparse.ArgumentParser(prog="exectune", description="ExecTune rewards, sandboxes and recipes.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"exectune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in SUBCOMMANDS.items():
        # No -h here: the second pass, with the subcommand's own arguments, answers it.
        sp = sub.add_parser(name, help=help_, description=help_, add_help=False)
        sp.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    Example:
        >>> main(["plugins"])  # doctest: +SKIP
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    # Two passes: the first finds the subcommand, the second parses its own arguments
    # once its module (and only that module) is imported.
    known, _ = parser.parse_known_args(argv)
    if not getattr(known, "command", None):
        parser.print_help()
        return 2
    prefix = f"exectune {known.command}: error:"  # argparse's own spelling, for every error of every subcommand
    try:
        module = importlib.import_module(known._module)
    except ModuleNotFoundError as exc:
        return _report_missing(prefix, exc)
    sub_parser = argparse.ArgumentParser(prog=f"exectune {known.command}", description=SUBCOMMANDS[known.command][1])
    sub_parser.add_argument("-v", "--verbose", action="count", default=known.verbose, help=_VERBOSE_HELP)
    module.add_arguments(sub_parser, known.command)
    rest = argv[argv.index(known.command) + 1 :]
    args = sub_parser.parse_args(rest)
    args.command = known.command
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose and known.command in _PROGRESS_AT_INFO:
        logging.getLogger("exectune_rl").setLevel(logging.INFO)
    try:
        return int(module.run(args) or 0)
    except ExecTuneError as exc:  # bad input or configuration: one line, exit status 2
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        return _report_missing(prefix, exc)
    except KeyboardInterrupt:
        return 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _report_missing(prefix: str, exc: ModuleNotFoundError) -> int:
    extra = _missing_extra(exc)
    if extra is None:
        raise exc
    print(f"{prefix} {exc.name} is not installed; this needs the '{extra}' extra: pip install 'exectune-rl[{extra}]'",
          file=sys.stderr)  # fmt: skip
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
