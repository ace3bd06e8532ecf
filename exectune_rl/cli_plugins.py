"""``exectune plugins``: what the registry sees, and whether each plugin can be used here.

A plugin that cannot be used on this machine (its package does not import, or a runtime
dependency such as the ``bwrap`` binary is missing) is listed as unavailable, with the reason.
"""

from __future__ import annotations

import argparse
import json

from exectune_rl.registry import registries


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    rows = []
    for kind, reg in registries.items():
        for e in reg.entries():
            reason = reg.unavailable_reason(e.name)
            rows.append({"kind": kind, "name": e.name, "source": e.source, "target": e.target,
                         "available": reason is None, "reason": reason})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for kind, reg in registries.items():
        print(f"{kind} (entry-point group {reg.group}):")
        for r in (r for r in rows if r["kind"] == kind):
            state = "available" if r["available"] else f"unavailable: {r['reason']}"
            print(f"  {r['name']:<{width}}  {r['source']:<11}  {r['target']}  [{state}]")
    return 0
