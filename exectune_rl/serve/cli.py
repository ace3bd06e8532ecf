"""``exectune serve``: serve the reward over HTTP until SIGINT/SIGTERM, then finish in-flight batches.

Example:
    $ exectune serve                                   # exectune score's default, 127.0.0.1:8000
    $ EXECTUNE_SERVE_TOKEN=s3cret exectune serve --config serve.yaml --host 0.0.0.0 --port 5000
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys

from exectune_rl.errors import ConfigError, MissingDependencyError

__all__ = ["add_arguments", "run", "is_loopback"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser, command: str = "serve") -> None:
    """Register ``exectune serve``'s options."""
    parser.add_argument("--config", help="serve recipe (reward/core/tasks/cache/server sections) or bare RewardConfig fields; "
                        "default: the same embedded default as `exectune score`")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value (reward.cost_lambda=0.01, server.max_batch=64)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs EXECTUNE_SERVE_TOKEN)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: the sandbox's)")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    """A port in range that this host can listen on now, else a ConfigError naming why."""
    import socket

    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"--port {port}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``exectune serve``; returns the exit status."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "server", "exectune serve") from exc
    from exectune_rl.env import settings
    from exectune_rl.serve.app import create_app
    from exectune_rl.serve.run import open_scoring_run

    token = settings().serve_token
    host = args.host
    if token is None and not is_loopback(host):
        print(f"exectune serve: no EXECTUNE_SERVE_TOKEN is set, so it binds 127.0.0.1 only (not {host}); "
              "set a token to serve other machines", file=sys.stderr)  # fmt: skip
        host = "127.0.0.1"
    _check_port(host, args.port)  # before the reward is built, and before any "listening" line
    scoring = open_scoring_run(args.config, args.set, workers=args.workers)
    try:
        app = create_app(scoring, token=token)
        config = uvicorn.Config(app, host=host, port=args.port, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=int(scoring.limits.shutdown_grace_s) or 1, lifespan="on")  # fmt: skip
        server = uvicorn.Server(config)
        auth = "bearer token required" if token else "no token: loopback only"
        print(f"exectune serve: {scoring.source}; {len(scoring.tasks)} tasks in the table; "
              f"listening on http://{host}:{args.port} ({auth}); /get_reward /score /health /metrics", file=sys.stderr, flush=True)  # fmt: skip
        # uvicorn finishes in-flight requests on SIGTERM, then raises the signal again under the
        # handler that was installed before it: a quiet one lets the reward close and exit 0.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
        try:
            server.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        scoring.close()
    print("exectune serve: stopped after finishing in-flight batches", file=sys.stderr)
    return 0
