"""Fixtures for core tests: a real OpenAI-compatible server on loopback with fault injection,
and a tiny local causal LM whose greedy outputs are varied enough to compare token by token."""

from __future__ import annotations

import asyncio
import collections
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exectune_rl.cores import CallableCore, CoreRequest, CoreResponse


def answer_for(content: str) -> str:
    """What the loopback core answers: derived from the prompt, so mix-ups are visible."""
    return f"echo:{content}"


class FaultInjector:
    """ASGI middleware in front of the core server that fails chosen attempts on purpose.

    ``plan[content]`` lists what attempts 1, 2, ... of the request whose last message is
    ``content`` get: ``"429"``, ``"500"``, ``"503"``, ``"400"``, ``"401"``, ``"timeout"``
    (answer after the client gave up), ``"malformed"`` (200 with broken JSON), ``"empty"``
    (200 with no choices) or ``"ok"``. Attempts past the list are ``"ok"``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.reset()

    def reset(self, plan: dict[str, list[str]] | None = None, *, timeout_sleep_s: float = 1.0, latency_s: float = 0.0) -> None:
        with self.lock:
            self.plan = dict(plan or {})
            self.timeout_sleep_s = timeout_sleep_s
            self.latency_s = latency_s
            self.attempts: collections.Counter[str] = collections.Counter()
            self.delivered: collections.Counter[str] = collections.Counter()
            self.auth_headers: list[str | None] = []
            self.in_flight = 0
            self.max_in_flight = 0

    async def _send_json(self, send: Any, status: int, payload: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *headers]})  # fmt: skip
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        content = json.loads(body)["messages"][-1]["content"]
        auth = dict(scope["headers"]).get(b"authorization")
        with self.lock:
            self.attempts[content] += 1
            attempt = self.attempts[content]
            steps = self.plan.get(content, [])
            fault = steps[attempt - 1] if attempt <= len(steps) else "ok"
            self.auth_headers.append(auth.decode() if auth else None)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            await self._respond(fault, content, body, scope, send)
        finally:
            with self.lock:
                self.in_flight -= 1

    async def _respond(self, fault: str, content: str, body: bytes, scope: dict[str, Any], send: Any) -> None:
        if fault in ("429", "500", "503", "400", "401"):
            headers = [(b"retry-after", b"0")] if fault == "429" else []
            await self._send_json(send, int(fault), json.dumps({"error": {"message": f"injected {fault}"}}).encode(), headers)
        elif fault == "malformed":
            await self._send_json(send, 200, b'{"choices": [{"message": {"content": "trunc')
        elif fault == "empty":
            await self._send_json(send, 200, json.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0}}).encode())
        elif fault == "timeout":
            await asyncio.sleep(self.timeout_sleep_s)  # the client has given up by now
            await self._send_json(send, 200, json.dumps({"choices": []}).encode())
        else:
            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def count_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start" and message["status"] == 200:
                    with self.lock:
                        self.delivered[content] += 1
                await send(message)

            await self.app(scope, replay, count_send)


def _echo(request: CoreRequest) -> CoreResponse:
    content = request.messages[-1]["content"]
    return CoreResponse(text=answer_for(content), prompt_tokens=len(content), completion_tokens=7, model="loopback-echo")


@pytest.fixture(scope="module")
def fault_server() -> Iterator[tuple[str, FaultInjector]]:
    """A real uvicorn server on 127.0.0.1 serving an echo core behind a :class:`FaultInjector`."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from exectune_rl.cores.server import LoopbackServer, create_app

    injector = FaultInjector(create_app(CallableCore(_echo, model="loopback-echo")))
    with LoopbackServer(injector) as server:
        yield server.base_url, injector


@pytest.fixture
def faults(fault_server: tuple[str, FaultInjector]) -> Iterator[tuple[str, FaultInjector]]:
    """The module's server with a fresh, empty fault plan."""
    base_url, injector = fault_server
    injector.reset()
    yield base_url, injector
    injector.reset()


@pytest.fixture(scope="session")
def varied_model_path(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared tiny guide's tokenizer with weights re-drawn at a larger scale.

    A freshly initialised model at the usual scale (std 0.02) repeats one token forever, so
    batched and one-by-one decoding would agree trivially. Larger weights give varied greedy
    continuations, which makes the equality test able to fail.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_model_path)
    config.initializer_range = 0.1
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    out = tmp_path_factory.mktemp("varied_model")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_path).save_pretrained(out)
    return out
