"""Reward throughput on a HumanEval-based workload: per component, composite, tree-sitter vs ast.parse.

Core outputs are HumanEval's canonical solutions and broken variants (wrong result, exception,
syntax error); no model is called. Targets with 2 workers: composite >= 400 completions/s and
tree-sitter syntax at least as fast as ``ast.parse`` (``syntax_vs_ast_ratio >= 1.0``).

Usage:
    python benchmarks/bench_rewards.py --workers 2 --json bench_rewards.json

``composite_per_s`` runs every program (execution cache off; core-only baselines included);
``composite_cached_per_s`` is the same with the default execution cache. ``syntax_vs_ast_ratio``
compares tree-sitter with ``ast.parse`` on the workload's valid Python snippets; on the broken
ones (``syntax_vs_ast_ratio_broken``) tree-sitter is slower, because it recovers and reports
every error region where ``ast.parse`` stops at the first error; ``syntax_vs_ast_ratio_all``
mixes both as the workload does.

The JSON holds ``composite_per_s``, ``composite_cached_per_s``, ``syntax_vs_ast_ratio``,
``syntax_per_s``, ``ast_parse_per_s``, ``format_per_s``, ``leakage_per_s``, ``cost_per_s``,
``nondegradation_per_s``, ``execution_per_s``, ``math_per_s`` and the workload description.
The same benchmark runs as ``exectune bench``.
"""

from __future__ import annotations

import sys

from exectune_rl.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
