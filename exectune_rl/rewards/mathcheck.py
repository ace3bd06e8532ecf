"""Math answers checked with math-verify in worker processes.

math-verify bounds its parsing and comparison with ``SIGALRM``, which only works on a
process's main thread: inside a trainer's reward call (often not the main thread) its timeouts
are silently off and one pathological expression can stall training. Here every check runs
in a small process pool, on the workers' main threads; a parent-side backstop kills a worker
that still hangs, and the item is reported as a timeout (the output's fault), while a dead
pool is reported as infrastructure.

Example:
    >>> with MathVerifier(workers=1) as mv:                          # doctest: +SKIP
    ...     [r] = mv.verify(["so the total is $18."], ["#### 18"])
    >>> r.status                                                     # doctest: +SKIP
    <ExecutionStatus.CORRECT: 'correct'>
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl._subprocess import kill_and_reap
from exectune_rl.errors import ConfigError
from exectune_rl.rewards.execution import ExecutionResult, ExecutionStatus, Grading

__all__ = ["MathVerifier", "normalize_gold", "verify_inline"]

logger = logging.getLogger(__name__)


def normalize_gold(answer: Any) -> str:
    """The gold final answer, without GSM8K's worked solution (``... #### 72`` gives ``72``).

    Example:
        >>> normalize_gold("3 + 4 = 7\\n#### 7")
        '7'
    """
    text = "" if answer is None else str(answer)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    return text.strip()


_DELIMITED = re.compile(r"(?<!\\)\$|\\boxed|\\\(|\\\[")
_LATEX_WORDS = re.compile(r"\\text\{[^{}]*\}|\\[A-Za-z]+")
_PROSE = re.compile(r"[A-Za-z]{2,}")


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str, timeout_s: int | None) -> Any:
    r"""The gold answer, parsed once.

    A gold that is an expression (no words once LaTeX commands and ``\text{}`` are set aside:
    ``(1, 2)``, ``2\sqrt{3}``, ``3^{10}``, ``x=3, y=7``) is read whole, as LaTeX: read as plain
    text, math-verify would keep its last number, and ``\boxed{2}`` would match the gold
    ``(1, 2)``. A gold in delimiters (``$...$``, ``\boxed{}``) or in prose ("72 dollars") is
    read as math-verify reads an answer.
    """
    from math_verify import parse

    if _DELIMITED.search(gold) or _PROSE.search(_LATEX_WORDS.sub(" ", gold)):
        parsed = parse(gold, parsing_timeout=timeout_s)
        if not parsed and not _DELIMITED.search(gold):
            parsed = parse(f"${gold}$", parsing_timeout=timeout_s)
        return parsed
    return parse(f"${gold}$", parsing_timeout=timeout_s) or parse(gold, parsing_timeout=timeout_s)


_ANSWER_FIXES = (
    (re.compile(r"\\boxed\s+\{"), r"\\boxed{"),  # "\boxed {7}": math-verify finds no box
    (re.compile(r"\\\$"), ""),  # "\$72": a dollar sign, not math
    (re.compile(r"(\\boxed\{[^{}]*?\d)\.\}"), r"\1}"),  # "\boxed{7.}": a sentence's full stop in the box
)


def _answer_text(answer: str) -> str:
    """An answer as math-verify reads it, with spellings it misreads put right."""
    for pattern, repl in _ANSWER_FIXES:
        answer = pattern.sub(repl, answer)
    return answer


def verify_inline(pairs: Sequence[tuple[str, str]], timeout_s: int | None = 5) -> list[tuple[str, str]]:
    """Check (answer, gold) pairs in this process; returns (status value, detail) pairs.

    Its timeouts only work on the main thread; :class:`MathVerifier` calls it in workers.
    Off the main thread (``math_workers=0`` under an async reward or a trainer's thread)
    the checks run without timeouts: math-verify's SIGALRM would otherwise raise, and every
    answer would be scored as wrong.
    """
    from math_verify import parse, verify

    if threading.current_thread() is not threading.main_thread():
        timeout_s = None
    out: list[tuple[str, str]] = []
    for answer, gold in pairs:
        try:
            gold_parsed = _parse_gold(gold, timeout_s)
            if not gold_parsed:
                out.append((ExecutionStatus.INFRA.value, f"gold answer {gold[:60]!r} does not parse"))
                continue
            parsed = parse(_answer_text(answer), parsing_timeout=timeout_s)
            if not parsed:
                out.append((ExecutionStatus.NO_ANSWER.value, "no final answer found"))
                continue
            ok = verify(gold_parsed, parsed, timeout_seconds=timeout_s)
            shown = str(parsed[-1])[:60]
            out.append((ExecutionStatus.CORRECT.value if ok else ExecutionStatus.WRONG.value, f"answer {shown}"))
        except Exception as exc:  # math-verify's own failures count against the output, not the run
            out.append((ExecutionStatus.WRONG.value, f"verification error: {type(exc).__name__}"))
    return out


class _Worker:
    """One worker process and the chunk it is checking."""

    def __init__(self, timeout_s: int) -> None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exectune_rl.rewards._mathworker", str(timeout_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.ready = False
        self.chunk: int | None = None
        self.deadline = 0.0

    def send(self, pairs: list[tuple[str, str]], chunk: int, deadline: float) -> bool:
        self.chunk, self.deadline = chunk, deadline
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(pairs) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def kill(self) -> None:
        kill_and_reap(self.proc, timeout_s=5)


class MathVerifier(TransientState):
    """Checks final answers against gold answers in a pool of worker processes.

    Workers are fresh interpreters (``python -m exectune_rl.rewards._mathworker``), started on
    first use and kept; they never re-run the caller's script, whatever its ``__main__`` guard.

    Args:
        workers: Worker processes (0 checks in the calling process: no timeouts off the
            main thread; for debugging only).
        timeout_s: math-verify's own parsing/verification timeout (whole seconds).
        chunk_size: Items sent to a worker at once.
        grading: Credit for finding an answer that is wrong (``parse_credit`` when graded).
        startup_timeout_s: How long a worker may take to start (import sympy).
        backstop_s: Seconds a worker may spend on one item before it is killed (default:
            twice ``timeout_s`` plus 5, as math-verify may spend a timeout on parsing and
            another on comparing).

    Example:
        >>> mv = MathVerifier(workers=2, timeout_s=3)   # doctest: +SKIP
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        timeout_s: int = 5,
        chunk_size: int = 16,
        grading: Grading | None = None,
        startup_timeout_s: float = 60.0,
        backstop_s: float | None = None,
    ) -> None:
        if not isinstance(workers, int) or workers < 0:
            raise ConfigError(f"workers must be an int >= 0, got {workers!r}")
        if not isinstance(timeout_s, int) or timeout_s < 1:
            raise ConfigError(f"timeout_s must be a whole number of seconds >= 1, got {timeout_s!r}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ConfigError(f"chunk_size must be a positive int, got {chunk_size!r}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.chunk_size = chunk_size
        self.grading = grading or Grading(graded=False)
        self.startup_timeout_s = startup_timeout_s
        self.backstop_s = backstop_s
        self._init_transient()

    # Worker processes do not pickle: a copy starts its own on first use.
    _transient = ("_pool", "_lock")

    def _init_transient(self) -> None:
        self._pool: list[_Worker] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the worker processes. Idempotent."""
        pool, self._pool = self._pool, []
        for w in pool:
            w.kill()

    def __enter__(self) -> "MathVerifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # workers are children: do not leave them behind
        try:
            self.close()
        except Exception:
            pass

    def verify(self, answers: Sequence[str], golds: Sequence[Any]) -> list[ExecutionResult]:
        """Check each answer text against its gold answer.

        Args:
            answers: The core's outputs (free text; the final answer is extracted).
            golds: Gold answers (``"72"``, ``"\\\\frac{1}{2}"``, GSM8K's ``"... #### 72"``).

        Returns:
            One :class:`ExecutionResult` per answer (CORRECT, WRONG, NO_ANSWER, TIMEOUT, or
            INFRA when the workers failed).
        """
        if len(answers) != len(golds):
            raise ConfigError(f"answers and golds differ in length: {len(answers)} vs {len(golds)}")
        pairs = [(a if isinstance(a, str) else "", normalize_gold(g)) for a, g in zip(answers, golds)]
        if not pairs:
            return []
        if self.workers == 0:
            raw = verify_inline(pairs, self.timeout_s)
        else:
            with self._lock:  # one batch at a time owns the workers
                raw = self._run_pool(pairs)
        return [self._result(status, detail) for status, detail in raw]

    def _result(self, status: str, detail: str) -> ExecutionResult:
        try:
            st = ExecutionStatus(status)
        except ValueError:
            st = ExecutionStatus.INFRA
        if st is ExecutionStatus.INFRA:
            return ExecutionResult.infra(detail)
        success = st is ExecutionStatus.CORRECT
        found = st in (ExecutionStatus.CORRECT, ExecutionStatus.WRONG)
        value = self.grading.value(success, found, found, 1.0 if success else 0.0)
        return ExecutionResult(st, value, success=success, parses=found, runs=found, detail=detail)

    def _backstop(self, n: int) -> float:
        per_item = self.backstop_s if self.backstop_s is not None else 2.0 * self.timeout_s + 5.0
        return per_item * n

    def _spawn(self) -> _Worker:
        w = _Worker(self.timeout_s)
        w.deadline = time.monotonic() + self.startup_timeout_s
        return w

    def _run_pool(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        while len(self._pool) < self.workers:
            self._pool.append(self._spawn())
        batch = _Batch([pairs[i : i + self.chunk_size] for i in range(0, len(pairs), self.chunk_size)])
        sel = selectors.DefaultSelector()
        try:
            for w in self._pool:
                sel.register(w.proc.stdout, selectors.EVENT_READ, w)  # type: ignore[arg-type]
            while not batch.done():
                if batch.failures > 2 * self.workers + 2:
                    logger.warning("math verifier workers keep failing; giving up on this batch")
                    break
                self._dispatch(batch, sel)
                busy = [w for w in self._pool if w.chunk is not None or not w.ready]
                if not busy:
                    break
                wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
                for key, _ in sel.select(timeout=wait):
                    self._read(key.data, sel, batch)
                now = time.monotonic()
                for w in list(self._pool):
                    if (w.chunk is not None or not w.ready) and now > w.deadline:
                        self._timeout(w, sel, batch)
        finally:
            sel.close()
        return batch.results()

    def _dispatch(self, batch: "_Batch", sel: selectors.BaseSelector) -> None:
        for w in list(self._pool):
            if w.ready and w.chunk is None and batch.queue:
                ci = batch.queue.pop(0)
                chunk = batch.chunks[ci]
                if not w.send(chunk, ci, time.monotonic() + self._backstop(len(chunk))):
                    self._replace(w, sel)
                    batch.fail(ci)

    def _replace(self, w: _Worker, sel: selectors.BaseSelector) -> None:
        sel.unregister(w.proc.stdout)  # type: ignore[arg-type]
        w.kill()
        fresh = self._spawn()
        self._pool[self._pool.index(w)] = fresh
        sel.register(fresh.proc.stdout, selectors.EVENT_READ, fresh)  # type: ignore[arg-type]

    def _read(self, w: _Worker, sel: selectors.BaseSelector, batch: "_Batch") -> None:
        assert w.proc.stdout is not None
        line = w.proc.stdout.readline()
        if not w.ready:
            if line.strip() == "ready":
                w.ready = True
            else:  # the interpreter could not start or import math-verify
                self._replace(w, sel)
                batch.failures += 1
            return
        ci = w.chunk
        if ci is None:
            return
        try:
            reply = [(str(st), str(d)) for st, d in json.loads(line)] if line else None
        except (ValueError, TypeError):
            reply = None
        if reply is None or len(reply) != len(batch.chunks[ci]):
            self._replace(w, sel)
            batch.fail(ci)
            return
        batch.out[ci] = reply
        w.chunk = None

    def _timeout(self, w: _Worker, sel: selectors.BaseSelector, batch: "_Batch") -> None:
        """A worker hung past the backstop: only the culprit item counts as a timeout."""
        ci = w.chunk
        self._replace(w, sel)
        if ci is None:
            logger.warning("a math verifier worker did not start in %.0f s", self.startup_timeout_s)
            batch.failures += 1
            return
        logger.warning("math verification hung past its backstop; the worker was replaced")
        batch.split(ci)


class _Batch:
    """Book-keeping of one ``verify`` call: chunks, the queue, replies, retries and splits."""

    def __init__(self, chunks: list[list[tuple[str, str]]]) -> None:
        self.chunks = chunks
        self.n_top = len(chunks)
        self.queue = list(range(len(chunks)))
        self.out: dict[int, list[tuple[str, str]]] = {}
        self.parts: dict[int, list[int]] = {}
        self.retried: set[int] = set()
        self.failures = 0

    def done(self) -> bool:
        return not self.queue and all(self._complete(i) for i in range(self.n_top))

    def _complete(self, i: int) -> bool:
        if i in self.parts:
            return all(j in self.out for j in self.parts[i])
        return i in self.out

    def fail(self, ci: int) -> None:
        """A worker died on chunk ``ci``: infrastructure. Retry once, then report INFRA."""
        self.failures += 1
        if ci in self.retried:
            self.out[ci] = [(ExecutionStatus.INFRA.value, "math verifier worker died")] * len(self.chunks[ci])
        else:
            self.retried.add(ci)
            self.queue.insert(0, ci)

    def split(self, ci: int) -> None:
        if len(self.chunks[ci]) == 1:
            self.out[ci] = [(ExecutionStatus.TIMEOUT.value, "verification did not finish in time")]
            return
        kids = []
        for pair in self.chunks[ci]:
            self.chunks.append([pair])
            kids.append(len(self.chunks) - 1)
        self.parts[ci] = kids
        self.queue.extend(kids)

    def results(self) -> list[tuple[str, str]]:
        infra = (ExecutionStatus.INFRA.value, "math verifier workers failed")
        items: list[tuple[str, str]] = []
        for i in range(self.n_top):
            ids = self.parts.get(i, [i])
            for j in ids:
                items.extend(self.out.get(j, [infra] * len(self.chunks[j])))
        return items
