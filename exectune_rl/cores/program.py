"""``ProgramCore``: the interpreter as the core (program-of-thought set-ups).

The guide writes a program as its strategy; this core runs it in a :class:`Sandbox` and answers
with what the program printed. The program comes from the last user message: the inside of its
last ``<strategy>...</strategy>`` block when there is one, then the code of its fenced blocks
(```` ```python ```` first, plain fences otherwise) when there are any, else the raw text.

A program that crashes, loops or prints nothing is the strategy's fault: the response succeeds
with whatever the program printed, and ``metadata["exec_status"]`` says how the run ended.
A sandbox that fails (``ExecStatus.INFRA``, a closed pool) is not: the response then carries a
typed infrastructure failure.

Example:
    >>> from exectune_rl.sandboxes import LocalSandbox                      # doctest: +SKIP
    >>> with LocalSandbox(workers=1) as sb:                                 # doctest: +SKIP
    ...     core = ProgramCore(sb)
    ...     core.generate([CoreRequest.from_prompt("<strategy>print(6 * 7)</strategy>")])[0].text
    '42\\n'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from exectune_rl.cores.base import Core, CoreFailure, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError
from exectune_rl.languages import canonical
from exectune_rl.sandboxes.base import ExecRequest, ExecResult, ExecStatus, Sandbox
from exectune_rl.text import extract_code_blocks

__all__ = ["ProgramCore", "extract_program", "program_prompt_builder", "EXTRACT_MODES"]

EXTRACT_MODES = ("auto", "strategy", "fence", "raw")

_STDERR_KEEP = 2000


def _strategy_block(text: str, tag: str) -> str | None:
    """The inside of the last complete ``<tag>...</tag>`` block, or None."""
    close = text.rfind(f"</{tag}>")
    if close < 0:
        return None
    open_ = text.rfind(f"<{tag}>", 0, close)
    if open_ < 0:
        return None
    return text[open_ + len(tag) + 2 : close]


def _fenced_code(text: str, language: str) -> str | None:
    """The code of the fenced blocks: those labelled with the language, else unlabelled ones."""
    blocks = [b for b in extract_code_blocks(text) if b.closed]
    if not blocks:
        return None
    wanted = canonical(language) or language.strip().lower()
    chosen = [b.code for b in blocks if b.language is not None and (canonical(b.language) or b.language) == wanted]
    chosen = chosen or [b.code for b in blocks if b.language is None]
    return "\n".join(c.rstrip("\n") for c in chosen) + "\n" if chosen else None


def extract_program(text: str, mode: str = "auto", *, tag: str = "strategy", language: str = "python") -> str:
    """Pull the program out of a message.

    Args:
        text: The message (a strategy, or a whole prompt that contains one).
        mode: ``"auto"`` (strategy block, then fences, then raw text), ``"strategy"`` (the
            strategy block's inside, empty when there is none), ``"fence"`` (fenced code only,
            empty when there is none) or ``"raw"`` (the text as is).
        tag: The strategy tag name.
        language: Which fence labels count as code (``python`` takes ``python``/``py``).

    Returns:
        The program text (possibly empty).

    Example:
        >>> extract_program("Plan:\\n```python\\nprint(1)\\n```")
        'print(1)\\n'
        >>> extract_program("<strategy>x = 2\\nprint(x)</strategy>")
        'x = 2\\nprint(x)'
    """
    if mode not in EXTRACT_MODES:
        raise ConfigError(f"extract mode must be one of {', '.join(EXTRACT_MODES)}, got {mode!r}")
    if mode == "raw":
        return text
    if mode == "fence":
        return _fenced_code(text, language) or ""
    block = _strategy_block(text, tag)
    if mode == "strategy":
        return block or ""
    inner = block if block is not None else text
    code = _fenced_code(inner, language)
    return code if code is not None else inner


def program_prompt_builder(task: Any, strategy: str | None) -> tuple[dict[str, str], ...]:
    """Core messages for a :class:`ProgramCore`: the strategy program alone, inside its tags.

    The default core prompt wraps the strategy in instructions for a language model, which an
    interpreter cannot run; the core-only baseline (``strategy=None``) is an empty program.

    Example:
        >>> program_prompt_builder(None, "print(1)")[0]["content"]
        '<strategy>\nprint(1)\n</strategy>'
    """
    return ({"role": "user", "content": f"<strategy>\n{strategy or ''}\n</strategy>"},)


class ProgramCore(Core):
    """Runs the strategy as a program in a sandbox and answers with its standard output.

    Args:
        sandbox: Where programs run (``LocalSandbox``, ``RestrictedSandbox``, a plugin).
        cpu_time_s: CPU-seconds each program may use.
        memory_mb: Memory limit of each program.
        extract: An extraction mode (see :func:`extract_program`) or a function
            ``fn(text) -> str`` that returns the program.
        language: The language programs are written in (a request may override it with
            ``metadata["language"]``).
        strategy_tag: The tag that delimits the strategy.
        model: The name reported in responses.

    A reward prompts it with :func:`program_prompt_builder` (its ``prompt_builder``): the
    strategy program itself, not a chat prompt around it.

    Example:
        >>> from exectune_rl.sandboxes import LocalSandbox                  # doctest: +SKIP
        >>> core = ProgramCore(LocalSandbox(workers=2), cpu_time_s=2.0)      # doctest: +SKIP
    """

    prompt_builder = staticmethod(program_prompt_builder)

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        cpu_time_s: float = 5.0,
        memory_mb: int = 512,
        extract: str | Callable[[str], str] = "auto",
        language: str = "python",
        strategy_tag: str = "strategy",
        model: str = "program",
    ) -> None:
        if not isinstance(sandbox, Sandbox):
            raise ConfigError(f"ProgramCore needs a Sandbox, got {type(sandbox).__name__}")
        if not callable(extract) and extract not in EXTRACT_MODES:
            raise ConfigError(f"extract must be one of {', '.join(EXTRACT_MODES)} or a function, got {extract!r}")
        if not isinstance(cpu_time_s, (int, float)) or cpu_time_s <= 0:
            raise ConfigError(f"cpu_time_s must be positive, got {cpu_time_s!r}")
        if not isinstance(memory_mb, int) or memory_mb <= 0:
            raise ConfigError(f"memory_mb must be a positive int, got {memory_mb!r}")
        self.sandbox = sandbox
        self.cpu_time_s = float(cpu_time_s)
        self.memory_mb = memory_mb
        self.extract = extract
        self.language = language
        self.strategy_tag = strategy_tag
        self.model = model

    def program_of(self, request: CoreRequest) -> str:
        """The program a request carries (from its last user message)."""
        users = [m["content"] for m in request.messages if m.get("role") == "user"]
        text = users[-1] if users else request.messages[-1]["content"]
        if callable(self.extract):
            return str(self.extract(text))
        language = str(request.metadata.get("language", self.language))
        return extract_program(text, self.extract, tag=self.strategy_tag, language=language)

    def _plan(self, requests: Sequence[CoreRequest]) -> tuple[list[CoreResponse | None], list[tuple[int, ExecRequest]]]:
        """Responses decided without running anything, and the programs to run."""
        done: list[CoreResponse | None] = []
        to_run: list[tuple[int, ExecRequest]] = []
        for i, req in enumerate(requests):
            try:
                program = self.program_of(req)
                language = str(req.metadata.get("language", self.language))
                exec_req = ExecRequest(program, language=language, cpu_time_s=self.cpu_time_s, memory_mb=self.memory_mb)
            except Exception as exc:  # a broken extractor is infrastructure, not the strategy
                done.append(CoreResponse.failure(CoreFailureKind.INTERNAL, f"program extraction failed: {exc}", model=self.model))
                continue
            if not program.strip():
                done.append(self._empty())
            else:
                done.append(None)
                to_run.append((i, exec_req))
        return done, to_run

    def _empty(self) -> CoreResponse:
        return CoreResponse(
            text="", prompt_tokens=0, completion_tokens=0, model=self.model,
            finish_reason="empty_program", metadata={"exec_status": "empty_program"},
        )  # fmt: skip

    def _response(self, result: ExecResult) -> CoreResponse:
        meta: dict[str, Any] = {
            "exec_status": result.status.value,
            "exit_code": result.exit_code,
            "exception": result.exception,
            "stderr": result.stderr[-_STDERR_KEEP:],
            "stdout_truncated": result.stdout_truncated,
            "cpu_s": result.cpu_s,
            "detail": result.detail,
        }
        if result.status is ExecStatus.INFRA:
            return CoreResponse(
                model=self.model,
                latency_s=result.wall_s,
                metadata=meta,
                error=_infra_failure(f"sandbox failed: {result.detail or 'no detail'}"),
            )
        return CoreResponse(
            text=result.stdout,
            prompt_tokens=0,  # an interpreter reads and writes no model tokens
            completion_tokens=0,
            latency_s=result.wall_s,
            model=self.model,
            finish_reason="stop" if result.ok else result.status.value,
            metadata=meta,
        )

    def _finish(self, done: list[CoreResponse | None], to_run: list[tuple[int, ExecRequest]], results: Any) -> list[CoreResponse]:
        if not isinstance(results, list) or len(results) != len(to_run):
            got = len(results) if isinstance(results, list) else type(results).__name__
            results = [f"sandbox returned {got} results for {len(to_run)} programs"] * len(to_run)
        for (i, _), result in zip(to_run, results):
            if isinstance(result, ExecResult):
                done[i] = self._response(result)
            else:
                reason = result if isinstance(result, str) else f"sandbox returned a {type(result).__name__}"
                done[i] = CoreResponse(model=self.model, error=_infra_failure(reason))
        return [r for r in done if r is not None]

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Run each request's program; one sandbox ``run`` call for the whole batch."""
        done, to_run = self._plan(list(requests))
        try:
            results = self.sandbox.run([r for _, r in to_run]) if to_run else []
        except Exception as exc:
            results = _sandbox_raised(exc, len(to_run))
        return self._finish(done, to_run, results)

    async def agenerate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        done, to_run = self._plan(list(requests))
        try:
            results = await self.sandbox.arun([r for _, r in to_run]) if to_run else []
        except Exception as exc:
            results = _sandbox_raised(exc, len(to_run))
        return self._finish(done, to_run, results)

    def close(self) -> None:
        """The sandbox belongs to the caller and is left open."""


def _infra_failure(message: str) -> CoreFailure:
    return CoreFailure(CoreFailureKind.INTERNAL, message)


def _sandbox_raised(exc: BaseException, n: int) -> list[str]:
    """The sandbox itself broke: each of the ``n`` programs gets the same infrastructure failure."""
    return [f"sandbox raised {type(exc).__name__}: {exc}"] * n
