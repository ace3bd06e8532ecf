"""``exectune plugins``: what the registry sees."""

from __future__ import annotations

import argparse
import json

from exectune_rl.registry import registries


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    rows = [
        {"kind": kind, "name": e.name, "source": e.source, "target": e.target}
        for kind, reg in registries.items()
        for e in reg.entries()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for kind, reg in registries.items():
        print(f"{kind} (entry-point group {reg.group}):")
        for r in (r for r in rows if r["kind"] == kind):
            print(f"  {r['name']:<{width}}  {r['source']:<11}  {r['target']}")
    return 0
