"""The runtime package's public names and the wrap_core helper."""

from __future__ import annotations

import exectune_rl.runtime as runtime
from exectune_rl.cores import CallableCore
from exectune_rl.runtime import CachedCore, CostLedger, MeteredCore, ResponseCache, wrap_core


def test_all_names_resolve():
    assert len(runtime.__all__) == len(set(runtime.__all__))
    for name in runtime.__all__:
        assert hasattr(runtime, name), name


def test_wrap_core_orders_cache_inside_ledger():
    core = CallableCore(lambda r: "x", model="m")
    assert wrap_core(core) is core
    cached = wrap_core(core, cache=ResponseCache.disabled())
    assert isinstance(cached, CachedCore) and cached.core is core
    both = wrap_core(core, cache=ResponseCache.disabled(), ledger=CostLedger(), role="teacher")
    assert isinstance(both, MeteredCore) and isinstance(both.core, CachedCore) and both.role == "teacher"
    assert both.model == "m"
