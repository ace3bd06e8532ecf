"""A math-verify worker process: JSON lines in, JSON lines out, checks on the main thread.

Started by :class:`exectune_rl.rewards.mathcheck.MathVerifier` as
``python -m exectune_rl.rewards._mathworker TIMEOUT``. Each request line is
``[[answer, gold], ...]``; each reply line is ``[[status, detail], ...]`` in the same order.
Running in its own interpreter (not a fork of the trainer) keeps math-verify's SIGALRM
timeouts working and keeps the trainer's threads and memory out of the worker.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    timeout_s = int(argv[0]) if argv else 5
    from exectune_rl.rewards.mathcheck import verify_inline

    verify_inline([("1", "1")], timeout_s)  # warm sympy and the parsers before the first request
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            pairs = [(str(a), str(g)) for a, g in json.loads(line)]
        except (ValueError, TypeError):
            reply: list = [["infra", "malformed request to the math worker"]]
        else:
            reply = [list(r) for r in verify_inline(pairs, timeout_s)]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
