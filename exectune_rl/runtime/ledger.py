"""A cost ledger: every call's tokens and money, with totals per run, per task and per model.

The money comes from :func:`~exectune_rl.runtime.prices.estimate_cost_usd`. A call to a model
that no price table knows is recorded with ``cost_usd=None`` and counted as unpriced, so totals
say "unknown" instead of pretending the call was free. A call answered from the response cache
cost nothing; what it would have cost is kept as ``saved_usd``.

Example:
    >>> ledger = CostLedger(run_id="demo")
    >>> req = CoreRequest.from_prompt("2+2?", metadata={"task_id": "t1"})
    >>> _ = ledger.record(req, CoreResponse(text="4", prompt_tokens=1000, completion_tokens=100, model="gpt-4o-mini"))
    >>> ledger.totals().calls, round(ledger.totals().cost_usd, 8)
    (1, 0.00021)
    >>> list(ledger.per_task())
    ['t1']
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError, DataError
from exectune_rl.runtime.prices import PriceTable, _check_tokens, estimate_cost_usd
from exectune_rl.runtime.tokens import estimate_tokens

__all__ = ["LedgerEntry", "LedgerTotals", "CostLedger", "MeteredCore"]


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded call.

    Attributes:
        run_id / task_id / role: What the call belonged to (``role``: "core", "guide", "teacher"...).
        model: The model that answered.
        prompt_tokens / completion_tokens: Usage (reported, or estimated offline: see ``tokens_estimated``).
        cost_usd: Dollars paid; 0 for a cache hit; None when the model's price is unknown.
        saved_usd: For a cache hit, what the call would have cost (None if unknown); else 0.
        cached / ok / failure: Whether the cache answered, whether the call succeeded, the failure kind.
        latency_s / attempts / timestamp: Timing and retries.
    """

    run_id: str
    task_id: str | None
    role: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool
    cost_usd: float | None
    saved_usd: float | None
    cached: bool
    ok: bool
    failure: str | None
    latency_s: float
    attempts: int
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LedgerTotals:
    """Sums over a group of ledger entries.

    ``cost_usd`` is None when any call in the group had an unknown price; ``known_cost_usd``
    is then the sum over the calls whose price is known.
    """

    calls: int = 0
    ok_calls: int = 0
    failed_calls: int = 0
    cached_calls: int = 0
    estimated_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    known_cost_usd: float = 0.0
    saved_usd: float = 0.0
    unpriced_calls: int = 0
    unpriced_models: tuple[str, ...] = ()
    latency_s: float = 0.0

    @property
    def cost_usd(self) -> float | None:
        return None if self.unpriced_calls else self.known_cost_usd

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["unpriced_models"] = list(self.unpriced_models)
        out["cost_usd"] = self.cost_usd
        out["total_tokens"] = self.total_tokens
        return out

    @classmethod
    def of(cls, entries: Iterable[LedgerEntry]) -> "LedgerTotals":
        calls = ok = failed = cached = estimated = p_tok = c_tok = unpriced = 0
        known = saved = latency = 0.0
        models: set[str] = set()
        for e in entries:
            calls += 1
            ok += e.ok
            failed += not e.ok
            cached += e.cached
            estimated += e.tokens_estimated
            p_tok += e.prompt_tokens
            c_tok += e.completion_tokens
            latency += e.latency_s
            saved += e.saved_usd or 0.0
            if e.cost_usd is None:
                unpriced += 1
                models.add(e.model)
            else:
                known += e.cost_usd
        return cls(calls, ok, failed, cached, estimated, p_tok, c_tok, known, saved, unpriced, tuple(sorted(models)), latency)


class CostLedger(TransientState):
    """Records every call's usage and money; thread-safe.

    Args:
        run_id: Names this run in every entry (default: a timestamp).
        prices: A ``PriceTable`` or a mapping of model -> price per million tokens,
            consulted before ``genai-prices``.
        estimate_missing_usage: Estimate tokens offline when a successful call reported no usage.

    Example:
        >>> ledger = CostLedger(run_id="r", prices={"local": 0})
        >>> _ = ledger.record_usage("local", 10, 5, task_id="t", role="guide")
        >>> ledger.totals().cost_usd
        0.0
    """

    def __init__(
        self,
        run_id: str | None = None,
        *,
        prices: PriceTable | Mapping[str, Any] | None = None,
        estimate_missing_usage: bool = True,
    ) -> None:
        self.run_id = run_id or time.strftime("run-%Y%m%d-%H%M%S")
        self.prices = PriceTable.coerce(prices)
        self.estimate_missing_usage = estimate_missing_usage
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    _transient = ("_lock",)

    def _init_transient(self) -> None:
        self._lock = threading.Lock()

    def _price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        if not model:
            return None
        return estimate_cost_usd(model, prompt_tokens, completion_tokens, table=self.prices)

    def _append(self, entry: LedgerEntry) -> LedgerEntry:
        with self._lock:
            self._entries.append(entry)
        return entry

    def record(self, request: CoreRequest, response: CoreResponse, *, role: str = "core") -> LedgerEntry:
        """Record one core call. The task id comes from ``request.metadata["task_id"]``.

        A failed call that reported no usage is recorded with 0 tokens and 0 dollars (APIs do
        not bill refused calls); a successful one without usage gets an offline estimate.
        """
        # CoreResponse admits only non-negative int counts or None (unreported).
        p_tok, c_tok = response.prompt_tokens, response.completion_tokens
        estimated = False
        if p_tok is None or c_tok is None:
            if response.ok and self.estimate_missing_usage:
                p_tok = estimate_tokens(request.prompt_text) if p_tok is None else p_tok
                c_tok = estimate_tokens(response.text) if c_tok is None else c_tok
                estimated = True
            else:
                p_tok, c_tok = p_tok or 0, c_tok or 0
        model = response.model
        if not response.ok and p_tok == 0 and c_tok == 0:
            price: float | None = 0.0
        else:
            price = self._price(model, p_tok, c_tok)
        task_id = request.metadata.get("task_id")
        return self._append(
            LedgerEntry(
                run_id=self.run_id,
                task_id=None if task_id is None else str(task_id),
                role=role,
                model=model,
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
                tokens_estimated=estimated,
                cost_usd=0.0 if response.cached else price,
                saved_usd=price if response.cached else 0.0,
                cached=response.cached,
                ok=response.ok,
                failure=None if response.error is None else response.error.kind.value,
                latency_s=response.latency_s,
                attempts=response.attempts,
                timestamp=time.time(),
            )
        )

    def record_many(self, requests: Sequence[CoreRequest], responses: Sequence[CoreResponse], *, role: str = "core") -> None:
        """Record a batch of calls (requests and responses in the same order)."""
        if len(requests) != len(responses):
            raise ConfigError(f"record_many got {len(requests)} requests but {len(responses)} responses")
        for req, resp in zip(requests, responses):
            self.record(req, resp, role=role)

    def record_usage(
        self, model: str, prompt_tokens: int, completion_tokens: int, *, task_id: str | None = None, role: str = "guide"
    ) -> LedgerEntry:
        """Record tokens spent outside a core call (the guide's own generation, say).

        Raises:
            ConfigError: a token count that is not a non-negative int.
        """
        _check_tokens(prompt_tokens, completion_tokens)
        return self._append(
            LedgerEntry(
                run_id=self.run_id, task_id=task_id, role=role, model=model,
                prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, tokens_estimated=False,
                cost_usd=self._price(model, prompt_tokens, completion_tokens), saved_usd=0.0,
                cached=False, ok=True, failure=None, latency_s=0.0, attempts=1, timestamp=time.time(),
            )
        )  # fmt: skip

    # -- reading -----------------------------------------------------------------------
    @property
    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def totals(self, *, role: str | None = None) -> LedgerTotals:
        """Totals over every entry (or those of one role)."""
        return LedgerTotals.of(e for e in self.entries if role is None or e.role == role)

    def _group(self, attr: str) -> dict[str, LedgerTotals]:
        groups: dict[str, list[LedgerEntry]] = {}
        for e in self.entries:
            key = getattr(e, attr)
            groups.setdefault("" if key is None else str(key), []).append(e)
        return {k: LedgerTotals.of(v) for k, v in groups.items()}

    def per_task(self) -> dict[str, LedgerTotals]:
        """Totals per task id, in first-seen order; calls without a task id group under ``""``."""
        return self._group("task_id")

    def per_run(self) -> dict[str, LedgerTotals]:
        """Totals per run id (a ledger merged from several runs has several)."""
        return self._group("run_id")

    def per_model(self) -> dict[str, LedgerTotals]:
        return self._group("model")

    def per_role(self) -> dict[str, LedgerTotals]:
        return self._group("role")

    def merge(self, other: "CostLedger") -> None:
        """Append another ledger's entries (their run ids are kept)."""
        for e in other.entries:
            self._append(e)

    # -- export ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "totals": self.totals().to_dict(),
            "per_run": {k: v.to_dict() for k, v in self.per_run().items()},
            "per_task": {k: v.to_dict() for k, v in self.per_task().items()},
            "per_model": {k: v.to_dict() for k, v in self.per_model().items()},
            "entries": [e.to_dict() for e in self.entries],
        }

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write totals and every entry as JSON; returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return out

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write one CSV row per entry (unknown costs as empty cells); returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        names = [f.name for f in dataclasses.fields(LedgerEntry)]
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            for e in self.entries:
                writer.writerow({k: ("" if v is None else v) for k, v in e.to_dict().items()})
        return out

    @classmethod
    def from_json(cls, path: str | os.PathLike[str], *, prices: PriceTable | Mapping[str, Any] | None = None) -> "CostLedger":
        """Load a ledger written by :meth:`to_json` (to resume a run or merge runs)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            ledger = cls(run_id=data["run_id"], prices=prices)
            names = {f.name for f in dataclasses.fields(LedgerEntry)}
            for row in data["entries"]:
                ledger._append(LedgerEntry(**{k: row[k] for k in names}))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path} is not a ledger written by CostLedger.to_json: {exc}") from exc
        return ledger


class MeteredCore(Core):
    """A core that records every call it makes in a ``CostLedger``.

    Wrap the cached core (``MeteredCore(CachedCore(core, cache), ledger)``) so cache hits are
    recorded as free.

    Args:
        core: The core to meter.
        ledger: Where calls are recorded.
        role: The role written in each entry ("core", "teacher"...).

    Example:
        >>> from exectune_rl.cores import CallableCore
        >>> ledger = CostLedger(prices={"echo": 0})
        >>> core = MeteredCore(CallableCore(lambda r: "ok", model="echo"), ledger)
        >>> _ = core.generate([CoreRequest.from_prompt("hi")])
        >>> len(ledger), ledger.totals().cost_usd
        (1, 0.0)
    """

    def __init__(self, core: Core, ledger: CostLedger, *, role: str = "core") -> None:
        if not isinstance(core, Core):
            raise ConfigError(f"MeteredCore wraps a Core, got {type(core).__name__}")
        self.core = core
        self.prompt_builder = core.prompt_builder  # the wrapped core is prompted as before
        self.ledger = ledger
        self.role = role
        self.model = core.model

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        requests = list(requests)
        responses = self.core.generate(requests)
        self.ledger.record_many(requests, responses, role=self.role)
        return responses

    async def agenerate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        requests = list(requests)
        responses = await self.core.agenerate(requests)
        self.ledger.record_many(requests, responses, role=self.role)
        return responses

    def close(self) -> None:
        self.core.close()
