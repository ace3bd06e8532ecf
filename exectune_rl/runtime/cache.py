"""A persistent response cache, so reruns and resumed training never pay twice for a call.

SQLite (embedded, zero set-up) in WAL mode: many threads and many processes may read and
write one cache file at once. Only successful responses are stored: a failed call is retried
next time, never replayed.

Example:
    >>> from exectune_rl.cores import CallableCore, CoreRequest
    >>> cache = ResponseCache(tmp_path / "responses.sqlite")          # doctest: +SKIP
    >>> core = CachedCore(CallableCore(lambda r: "42", model="echo"), cache)  # doctest: +SKIP
    >>> core.generate([CoreRequest.from_prompt("6*7?")])[0].cached   # doctest: +SKIP
    False
    >>> core.generate([CoreRequest.from_prompt("6*7?")])[0].cached   # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.cores.base import Core, CoreRequest, CoreResponse
from exectune_rl.errors import CacheError, ConfigError

__all__ = ["CacheStats", "ResponseCache", "CachedCore", "request_key", "default_cache_path"]

logger = logging.getLogger(__name__)

_KEY_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s REAL,
    finish_reason TEXT,
    metadata TEXT,
    created REAL NOT NULL
) WITHOUT ROWID
"""


def default_cache_path() -> Path:
    """``$EXECTUNE_CACHE_DIR/responses.sqlite`` (default ``~/.cache/exectune``)."""
    from exectune_rl.env import settings

    return settings().cache_dir / "responses.sqlite"


def request_key(request: CoreRequest, model: str, namespace: str = "") -> str:
    """The cache key of a request: a hash of model, sampling parameters, messages and sample index.

    ``metadata`` is not part of the key (it is never sent to the model). Floats are normalised
    so ``temperature=0`` and ``temperature=0.0`` share a key.

    Example:
        >>> a = request_key(CoreRequest.from_prompt("hi", temperature=0), "m")
        >>> a == request_key(CoreRequest.from_prompt("hi", temperature=0.0), "m")
        True
        >>> a == request_key(CoreRequest.from_prompt("hi", sample_index=1), "m")
        False
    """
    payload = {
        "v": _KEY_VERSION,
        "ns": namespace,
        "model": model,
        "messages": [[m["role"], m["content"]] + sorted((k, v) for k, v in m.items() if k not in ("role", "content"))
                     for m in request.messages],
        "temperature": float(request.temperature),
        "top_p": float(request.top_p),
        "max_tokens": int(request.max_tokens),
        "stop": list(request.stop),
        "sample_index": int(request.sample_index),
    }
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate (text decoded with surrogateescape) still gets a key.
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _storable(response: CoreResponse) -> bool:
    """False for text SQLite cannot hold (a lone surrogate): such a response is served, not stored."""
    try:
        for text in (response.text, response.model, response.finish_reason or ""):
            text.encode("utf-8")
    except UnicodeEncodeError:
        logger.warning("response of %r holds text that is not valid UTF-8; not cached", response.model)
        return False
    return True


@dataclass(frozen=True)
class CacheStats:
    """Counters of one ``ResponseCache`` object (this process only).

    Attributes:
        hits / misses: Lookups that found / did not find a response.
        writes: Responses stored.
        enabled: False for a disabled cache (every lookup is then a miss).
    """

    hits: int
    misses: int
    writes: int
    enabled: bool

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


class ResponseCache(TransientState):
    """A SQLite-backed store of core responses, safe for threads and processes.

    Args:
        path: The database file; default :func:`default_cache_path`. Parent folders are made.
        enabled: False turns the cache off: ``get`` always misses and ``put`` stores nothing.
        timeout_s: How long to wait for another writer's lock before raising ``CacheError``.

    Raises:
        CacheError: the file is not a SQLite database (corrupted), is locked for longer than
            ``timeout_s``, or cannot be created.

    Example:
        >>> cache = ResponseCache(tmp_path / "c.sqlite")                  # doctest: +SKIP
        >>> req = CoreRequest.from_prompt("hi")                             # doctest: +SKIP
        >>> cache.put(req, CoreResponse(text="hello", model="m"))           # doctest: +SKIP
        True
        >>> cache.get(req, "m").text, cache.stats().hits                    # doctest: +SKIP
        ('hello', 1)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, enabled: bool = True, timeout_s: float = 30.0):
        if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not timeout_s > 0:
            raise ConfigError(f"ResponseCache timeout_s must be positive, got {timeout_s!r}")
        self.enabled = bool(enabled)
        self.path = Path(path).expanduser() if path is not None else (default_cache_path() if enabled else None)
        self.timeout_s = float(timeout_s)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._hits = self._misses = self._writes = 0
        self._closed = False
        if self.enabled:
            self._connect()  # fail fast on a corrupted, locked or unwritable file

    @classmethod
    def disabled(cls) -> "ResponseCache":
        """A cache that stores nothing and always misses (for runs that must call the core).

        Example:
            >>> ResponseCache.disabled().get(CoreRequest.from_prompt("hi"), "m") is None
            True
        """
        return cls(None, enabled=False)

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r}, enabled={self.enabled})"

    # A pickled cache (a reward sent to a worker process) carries its path and settings;
    # the copy opens its own connections on first use.
    _transient = ("_local", "_lock", "_connections")

    def _init_transient(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections = []
        self._pid = os.getpid()

    # -- connections -------------------------------------------------------------------
    def _wrap_error(self, exc: sqlite3.Error, action: str) -> CacheError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return CacheError(
                f"response cache {self.path} is locked by another writer for more than {self.timeout_s:g}s "
                f"while trying to {action}; raise timeout_s or use a separate cache file ({text})"
            )
        if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return CacheError(
                f"response cache {self.path} is corrupted or not a SQLite database ({text}); "
                f"delete the file or point the cache elsewhere"
            )
        return CacheError(f"response cache {self.path}: cannot {action}: {text}")

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise CacheError(f"response cache {self.path} was used after close()")
        if os.getpid() != self._pid:
            # A SQLite connection must not cross a fork: the child opens its own.
            self._local = threading.local()
            self._connections = []
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the folder of response cache {self.path}: {exc}") from exc
        try:
            conn = sqlite3.connect(str(self.path), timeout=self.timeout_s, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise self._wrap_error(exc, "open it") from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    # -- lookups -----------------------------------------------------------------------
    def get_key(self, key: str) -> CoreResponse | None:
        """The stored response for a raw key, or None. Counts a hit or a miss."""
        if not self.enabled:
            with self._lock:
                self._misses += 1
            return None
        try:
            row = self._connect().execute(
                "SELECT model, text, prompt_tokens, completion_tokens, latency_s, finish_reason, metadata "
                "FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._wrap_error(exc, "read") from exc
        with self._lock:
            if row is None:
                self._misses += 1
            else:
                self._hits += 1
        if row is None:
            return None
        model, text, p_tok, c_tok, latency, finish, meta = row
        return CoreResponse(
            text=text,
            prompt_tokens=p_tok,
            completion_tokens=c_tok,
            latency_s=latency or 0.0,
            model=model,
            cached=True,
            finish_reason=finish,
            metadata=json.loads(meta) if meta else {},
        )

    def get(self, request: CoreRequest | str, model: str | None = None, namespace: str = "") -> CoreResponse | None:
        """The stored response for ``request`` sent to ``model``, or None (a miss).

        Args:
            request: The request, or a key from :func:`request_key`.
            model: The model name the key is built with (needed with a request).
            namespace: Separates caches of different cores that share a model name.
        """
        if isinstance(request, str):
            return self.get_key(request)
        if not isinstance(request, CoreRequest):
            raise ConfigError(f"ResponseCache.get takes a CoreRequest or a key str, got {type(request).__name__}")
        if model is None:
            raise ConfigError("ResponseCache.get(request, model): the model name is part of the key")
        return self.get_key(request_key(request, model, namespace))

    def put_many(self, items: Sequence[tuple[str, CoreResponse]]) -> int:
        """Store ``(key, response)`` pairs in one transaction; failed responses are skipped.

        The first response stored under a key wins, so concurrent writers of the same sample
        agree on one answer. Returns how many pairs were new.
        """
        rows = [
            (
                key,
                resp.model,
                resp.text,
                resp.prompt_tokens,
                resp.completion_tokens,
                resp.latency_s,
                resp.finish_reason,
                json.dumps(dict(resp.metadata), default=str) if resp.metadata else None,
                time.time(),
            )
            for key, resp in items
            if resp.ok and not resp.cached and _storable(resp)
        ]
        if not self.enabled or not rows:
            return 0
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                written = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._wrap_error(exc, "write") from exc
        with self._lock:
            self._writes += written
        return written

    def put(self, request: CoreRequest | str, response: CoreResponse, model: str | None = None, namespace: str = "") -> bool:
        """Store a successful response (failures are never stored). Returns True when stored.

        Args:
            request: The request that produced ``response``, or a key from :func:`request_key`.
            response: The response; its ``model`` is used when ``model`` is not given.
            model: The model name the key is built with (normally ``core.model``).
            namespace: Separates caches of different cores that share a model name.
        """
        if isinstance(request, str):
            key = request
        elif not isinstance(request, CoreRequest):
            raise ConfigError(f"ResponseCache.put takes a CoreRequest or a key str, got {type(request).__name__}")
        else:
            key = request_key(request, model if model is not None else response.model, namespace)
        return self.put_many([(key, response)]) == 1

    # -- housekeeping ------------------------------------------------------------------
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(hits=self._hits, misses=self._misses, writes=self._writes, enabled=self.enabled)

    def __len__(self) -> int:
        if not self.enabled:
            return 0
        try:
            return int(self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._wrap_error(exc, "count entries") from exc

    def clear(self) -> None:
        """Delete every stored response."""
        if self.enabled:
            try:
                self._connect().execute("DELETE FROM responses")
            except sqlite3.Error as exc:
                raise self._wrap_error(exc, "clear") from exc

    def close(self) -> None:
        """Close every connection this object opened. Idempotent."""
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # closing is best effort
                pass
        self._local = threading.local()
        self._closed = True

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedCore(Core):
    """A core that answers from a ``ResponseCache`` and calls the wrapped core only on misses.

    Misses of one batch go to the wrapped core in one ``generate`` call (batching is kept),
    and identical requests within a batch are sent once.

    Args:
        core: The core to wrap.
        cache: The cache; ``ResponseCache.disabled()`` makes this a pass-through.
        namespace: Separates cores that report the same model name but answer differently
            (two ``CallableCore`` functions, two checkpoints); default ``""``.

    Example:
        >>> from exectune_rl.cores import CallableCore
        >>> core = CachedCore(CallableCore(lambda r: "42", model="echo"), ResponseCache.disabled())
        >>> core.generate([CoreRequest.from_prompt("6*7?")])[0].text
        '42'
    """

    def __init__(self, core: Core, cache: ResponseCache, *, namespace: str = "") -> None:
        if not isinstance(core, Core):
            raise ConfigError(f"CachedCore wraps a Core, got {type(core).__name__}")
        if not isinstance(cache, ResponseCache):
            raise ConfigError(f"CachedCore needs a ResponseCache, got {type(cache).__name__}")
        self.core = core
        self.prompt_builder = core.prompt_builder  # the wrapped core is prompted as before
        self.cache = cache
        self.namespace = namespace
        self.model = core.model

    def _lookup(self, requests: Sequence[CoreRequest]) -> tuple[list[Any], dict[str, CoreRequest]]:
        """Cached responses in place, keys elsewhere; plus the distinct missing requests."""
        slots: list[Any] = []
        missing: dict[str, CoreRequest] = {}
        for req in requests:
            start = time.perf_counter()
            key = request_key(req, self.core.model, self.namespace)
            hit = None if key in missing else self.cache.get_key(key)
            if hit is not None:
                slots.append(dataclasses.replace(hit, latency_s=time.perf_counter() - start))
            else:
                slots.append(key)
                missing.setdefault(key, req)
        return slots, missing

    def _merge(self, slots: list[Any], missing: dict[str, CoreRequest], fresh: Sequence[CoreResponse]) -> list[CoreResponse]:
        if len(fresh) != len(missing):
            raise CacheError(f"wrapped core {self.core!r} returned {len(fresh)} responses for {len(missing)} requests")
        by_key = dict(zip(missing, fresh))
        self.cache.put_many(list(by_key.items()))
        out: list[CoreResponse] = []
        served: set[str] = set()
        for slot in slots:
            if not isinstance(slot, str):
                out.append(slot)
                continue
            resp = by_key[slot]
            # A repeat of a request in the same batch was not paid for again: say so.
            out.append(dataclasses.replace(resp, cached=True) if slot in served and resp.ok else resp)
            served.add(slot)
        return out

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        slots, missing = self._lookup(requests)
        fresh = self.core.generate(list(missing.values())) if missing else []
        return self._merge(slots, missing, fresh)

    async def agenerate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        slots, missing = self._lookup(requests)
        fresh = await self.core.agenerate(list(missing.values())) if missing else []
        return self._merge(slots, missing, fresh)

    def close(self) -> None:
        """Close the wrapped core (the cache may be shared and stays open)."""
        self.core.close()

    def __repr__(self) -> str:
        return f"CachedCore({self.core!r}, {self.cache!r})"
