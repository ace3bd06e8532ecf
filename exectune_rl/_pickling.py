"""Pickling for objects that hold locks, clients or threads: the configuration travels, the
live parts are rebuilt on arrival."""

from __future__ import annotations

from typing import Any

__all__ = ["TransientState"]


class TransientState:
    """Mixin: attributes named in ``_transient`` are left out of the pickle and rebuilt by
    ``_init_transient()`` after unpickling.

    Example:
        >>> import threading
        >>> class Counter(TransientState):
        ...     _transient = ("_lock",)
        ...     def __init__(self):
        ...         self.n = 0
        ...         self._init_transient()
        ...     def _init_transient(self):
        ...         self._lock = threading.Lock()
    """

    _transient: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self._transient:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_transient()

    def _init_transient(self) -> None:
        """Rebuild the attributes named in ``_transient``."""
