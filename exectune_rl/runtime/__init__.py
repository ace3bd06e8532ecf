"""The GCoP runtime: a response cache, a cost ledger and prices, shared by every core.

Example:
    >>> from exectune_rl.cores import CallableCore, CoreRequest
    >>> from exectune_rl.runtime import CostLedger, ResponseCache, wrap_core
    >>> ledger = CostLedger(prices={"echo": 0})
    >>> core = wrap_core(CallableCore(lambda r: "ok", model="echo"), cache=ResponseCache.disabled(), ledger=ledger)
    >>> core.generate([CoreRequest.from_prompt("hi")])[0].text, len(ledger)
    ('ok', 1)
"""

from __future__ import annotations

from exectune_rl.cores.base import Core
from exectune_rl.runtime.cache import CachedCore, CacheStats, ResponseCache, default_cache_path, request_key
from exectune_rl.runtime.ledger import CostLedger, LedgerEntry, LedgerTotals, MeteredCore
from exectune_rl.runtime.prices import ModelPrice, PriceTable, estimate_cost_usd, genai_prices_lookup
from exectune_rl.runtime.tokens import estimate_tokens

__all__ = [
    "ResponseCache",
    "CachedCore",
    "CacheStats",
    "request_key",
    "default_cache_path",
    "CostLedger",
    "LedgerEntry",
    "LedgerTotals",
    "MeteredCore",
    "ModelPrice",
    "PriceTable",
    "estimate_cost_usd",
    "genai_prices_lookup",
    "estimate_tokens",
    "wrap_core",
]


def wrap_core(
    core: Core,
    *,
    cache: ResponseCache | None = None,
    ledger: CostLedger | None = None,
    namespace: str = "",
    role: str = "core",
) -> Core:
    """Put a core behind a cache (inner) and a ledger (outer), the order that makes hits free.

    Args:
        core: The core to wrap.
        cache: A ``ResponseCache``, or None for no cache.
        ledger: A ``CostLedger``, or None for no metering.
        namespace: Cache namespace (see ``CachedCore``).
        role: Ledger role of the calls.

    Returns:
        The wrapped core (``core`` itself when both are None).
    """
    if cache is not None:
        core = CachedCore(core, cache, namespace=namespace)
    if ledger is not None:
        core = MeteredCore(core, ledger, role=role)
    return core
