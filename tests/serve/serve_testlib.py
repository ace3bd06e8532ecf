"""A real ``exectune serve`` app on a loopback port, run by uvicorn in a thread of the test process (shared by tests/serve and tests/adapters)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")
pytest.importorskip("prometheus_client", reason="the server extra is not installed")

import uvicorn  # noqa: E402

from exectune_rl.serve.app import create_app  # noqa: E402


class LiveServer:
    """A uvicorn server bound to 127.0.0.1 on a free port (port 0: the kernel picks it)."""

    def __init__(self, run: Any, token: str | None = None, grace_s: int = 10) -> None:
        self.app = create_app(run, token=token)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=grace_s)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="exectune-serve-test", daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self, timeout: float = 30) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the test server did not stop"


@contextmanager
def live_server(run: Any, token: str | None = None, grace_s: int = 10) -> Iterator[LiveServer]:
    server = LiveServer(run, token, grace_s).start()
    try:
        yield server
    finally:
        server.stop()
