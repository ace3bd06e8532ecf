"""``RaySandbox``: ``LocalSandbox`` pools on the nodes of a Ray cluster, one actor per node.

Each actor owns a ``LocalSandbox`` on its node (placed with a hard
``NodeAffinitySchedulingStrategy``), sized by the node's CPUs, and reserves that many CPUs
(``num_cpus``) so Ray schedules nothing else onto them. A batch is cut into chunks that go to
the least loaded actor with room (in-flight requests per worker), at most ``max_in_flight``
chunks per actor at a time: a fast node takes more chunks than a slow one, and a batch of
100k requests streams through, never more than ``actors x max_in_flight`` chunks in Ray's
object store at once. Results come back in input order.

An actor (or its node) that dies mid-batch loses no result: its chunks are retried once on
another actor (``retried=True``), and otherwise come back ``INFRA``; the actor is replaced on
its node when the node is still there. Isolation is ``LocalSandbox``'s, unchanged.

Example:
    >>> from exectune_sandbox_ray import RaySandbox
    >>> from exectune_rl.sandboxes import ExecRequest
    >>> with RaySandbox(local_cpus=2) as sb:                      # doctest: +SKIP
    ...     [r] = sb.run([ExecRequest("print(6 * 7)")])
    >>> r.stdout                                                  # doctest: +SKIP
    '42\\n'
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from exectune_rl.errors import ConfigError, MissingDependencyError, SandboxClosedError, SandboxError
from exectune_rl.sandboxes import ExecRequest, ExecResult, Sandbox

from exectune_sandbox_ray._actor import SandboxActor
from exectune_sandbox_ray._batch import _Batch

__all__ = ["RaySandbox", "RayNotInstalledError"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install exectune-sandbox-ray"


class RayNotInstalledError(MissingDependencyError):
    """Ray is not importable; the message says how to install the plugin with it."""

    def __init__(self) -> None:
        ImportError.__init__(self, f"ray is not installed; the Ray sandbox needs it: {INSTALL_HINT} (it depends on ray>=2.60)")
        self.package = "ray"
        self.extra = None


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayNotInstalledError`."""
    try:
        import ray
    except ImportError as exc:
        raise RayNotInstalledError() from exc
    return ray


# One Ray connection per process; the sandboxes that started it share it and the last to
# close shuts it down. A connection made by someone else (a Ray job, a trainer) is left alone.
_connection = {"owners": 0}
_connection_lock = threading.Lock()


def _connect(ray: Any, address: str | None, local_cpus: int | None, init_options: dict[str, Any]) -> bool:
    """Connect (or start a local cluster); True when this call made the connection."""
    with _connection_lock:
        if ray.is_initialized():
            if _connection["owners"]:
                _connection["owners"] += 1
                return True
            return False
        # Nothing leaves the machine: no usage report, no dashboard.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        opts: dict[str, Any] = {"logging_level": logging.WARNING}
        if address is None and "RAY_ADDRESS" not in os.environ:
            opts.update(address="local", include_dashboard=False)
            if local_cpus is not None:
                opts["num_cpus"] = local_cpus
        else:
            opts["address"] = address
        opts.update(init_options)
        ray.init(**opts)
        _connection["owners"] += 1
        return True


def _disconnect(ray: Any) -> None:
    with _connection_lock:
        _connection["owners"] -= 1
        if _connection["owners"] == 0 and ray.is_initialized():
            ray.shutdown()


_actor_class: dict[str, Any] = {}


def _remote_actor(ray: Any) -> Any:
    if "cls" not in _actor_class:
        _actor_class["cls"] = ray.remote(SandboxActor)
    return _actor_class["cls"]


class _Slot:
    """One actor of the pool and what is in flight on it."""

    def __init__(self, node_id: str, workers: int, num_cpus: float, actor: Any, ready: Any) -> None:
        self.node_id = node_id
        self.workers = workers
        self.num_cpus = num_cpus
        self.actor = actor
        self.ready = ready  # the info() call that says the actor is up
        self.state = "starting"
        self.started = time.monotonic()
        self.info: dict[str, Any] = {}
        self.chunks = 0
        self.load = 0


class RaySandbox(Sandbox):
    """Runs requests on ``LocalSandbox`` pools spread over a Ray cluster's nodes.

    Args:
        workers: Worker interpreters per actor (default: the node's CPUs / ``actors_per_node``).
        address: Ray cluster to join: ``"auto"`` (a running one, else an error) or an address
            (``"10.0.0.1:6379"``, ``"ray://..."``). None: a connection this process already
            has, else ``RAY_ADDRESS``, else a new local cluster of ``local_cpus`` CPUs.
        local_cpus: CPUs of the local cluster started when there is none (None: all).
        actors_per_node: Actors placed on each node (1: one pool per node).
        num_cpus: CPUs each actor reserves (default: one per worker, at most the node's share),
            so Ray puts no other work on the cores that run programs.
        skip_gpu_nodes: Place no actor on nodes with GPUs (keep them for the trainer).
        nodes: Only these node ids or IP addresses (None: every alive node with a CPU).
        max_in_flight: Chunks an actor holds at once; bounds what sits in the object store.
        chunk_size: Requests per chunk (None: sized from the batch and the actor's workers).
        retry_on_actor_death: Re-run a dead actor's chunk once on another actor.
        start_timeout_s: How long an actor may take to be placed and start its pool.
        local_options: More ``LocalSandbox`` arguments for every actor (``allowed_packages``...).
        init_options: More ``ray.init`` arguments, used when this sandbox connects.

    Raises:
        RayNotInstalledError: Ray is not installed.
        SandboxError: no actor could be placed and started.

    Example:
        >>> sb = RaySandbox(address="auto", skip_gpu_nodes=True)   # doctest: +SKIP
    """

    name = "ray"
    supports_judge = True

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        local_cpus: int | None = None,
        actors_per_node: int = 1,
        num_cpus: float | None = None,
        skip_gpu_nodes: bool = False,
        nodes: Sequence[str] | None = None,
        max_in_flight: int = 3,
        chunk_size: int | None = None,
        retry_on_actor_death: bool = True,
        start_timeout_s: float = 120.0,
        local_options: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        for name, value in (("workers", workers), ("local_cpus", local_cpus), ("chunk_size", chunk_size)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"RaySandbox {name} must be a positive int or None, got {value!r}")
        for name, value in (("actors_per_node", actors_per_node), ("max_in_flight", max_in_flight)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"RaySandbox {name} must be a positive int, got {value!r}")
        if num_cpus is not None and not (isinstance(num_cpus, (int, float)) and num_cpus >= 0):
            raise ConfigError(f"RaySandbox num_cpus must be a number >= 0, got {num_cpus!r}")
        if isinstance(nodes, str):
            raise ConfigError(f"RaySandbox nodes must be a list of node ids or addresses, got {nodes!r}")
        self._ray = import_ray()
        self._init_args = {
            "workers": workers, "address": address, "local_cpus": local_cpus, "actors_per_node": actors_per_node,
            "num_cpus": num_cpus, "skip_gpu_nodes": skip_gpu_nodes, "nodes": None if nodes is None else list(nodes),
            "max_in_flight": max_in_flight, "chunk_size": chunk_size, "retry_on_actor_death": retry_on_actor_death,
            "start_timeout_s": start_timeout_s, "local_options": dict(local_options or {}),
            "init_options": dict(init_options or {}),
        }
        self.max_in_flight = max_in_flight
        self.chunk_size = chunk_size
        self.retry_on_actor_death = retry_on_actor_death
        self.start_timeout_s = start_timeout_s
        self.replacements = 0
        self._lock = threading.Lock()
        self._closed = False
        self._slots: list[_Slot] = []
        self._owns_actors = True
        self._owns_connection = _connect(self._ray, address, local_cpus, self._init_args["init_options"])
        try:
            for node_id, cpus in self._placement():
                self._slots.extend(self._spawn(node_id, *self._size(cpus)) for _ in range(actors_per_node))
            if not self._slots:
                raise SandboxError("the Ray cluster has no alive node with a CPU to place a sandbox actor on"
                                   + (" (GPU nodes skipped)" if skip_gpu_nodes else ""))
            self._await_start()
        except BaseException:
            self.close()
            raise

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this sandbox cannot be made here (Ray is not installed), or None; imports nothing.

        Example:
            >>> RaySandbox.unavailable_reason()   # doctest: +SKIP
        """
        import importlib.util

        return None if importlib.util.find_spec("ray") is not None else str(RayNotInstalledError())

    # ------------------------------------------------------------------ placement

    def _placement(self) -> list[tuple[str, int]]:
        wanted = None if self._init_args["nodes"] is None else set(self._init_args["nodes"])
        out = []
        for node in self._ray.nodes():
            resources = node.get("Resources", {})
            cpus = int(resources.get("CPU", 0))
            if not node.get("Alive") or cpus < 1:
                continue
            if self._init_args["skip_gpu_nodes"] and resources.get("GPU", 0) > 0:
                continue
            if wanted is not None and not wanted & {node["NodeID"], node.get("NodeManagerAddress")}:
                continue
            out.append((node["NodeID"], cpus))
        return out

    def _size(self, node_cpus: int) -> tuple[int, float]:
        share = max(1, node_cpus // self._init_args["actors_per_node"])
        workers = self._init_args["workers"] or share
        num_cpus = self._init_args["num_cpus"]
        return workers, float(min(workers, share) if num_cpus is None else num_cpus)

    def _spawn(self, node_id: str, workers: int, num_cpus: float) -> _Slot:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor = _remote_actor(self._ray).options(
            num_cpus=num_cpus, max_concurrency=self.max_in_flight + 2, max_restarts=0, max_task_retries=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        ).remote(workers, self._init_args["local_options"])
        return _Slot(node_id, workers, num_cpus, actor, actor.info.remote())

    def _await_start(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while any(s.state == "starting" for s in self._slots) and time.monotonic() < deadline:
            refs = [s.ready for s in self._slots if s.state == "starting"]
            self._ray.wait(refs, num_returns=len(refs), timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            self._poll_starting()
        self._poll_starting(expire=True)
        live = [s for s in self._slots if s.state == "live"]
        if not live:
            raise SandboxError(
                f"no Ray sandbox actor started within {self.start_timeout_s:g} s: each reserves num_cpus "
                f"({', '.join(sorted({f'{s.num_cpus:g}' for s in self._slots}))}) on its node; free them or "
                "pass smaller workers/num_cpus")
        if len(live) < len(self._slots):
            logger.warning("RaySandbox: %d of %d actors started", len(live), len(self._slots))
        self._slots = live
        isolation = live[0].info.get("isolation", ())
        logger.info("RaySandbox: %d actors, %d workers, isolation %s", len(live), self.workers, ",".join(isolation))

    def _poll_starting(self, expire: bool = False) -> None:
        """Mark actors whose start finished live (or dead); with ``expire``, give up on slow ones."""
        with self._lock:
            starting = [s for s in self._slots if s.state == "starting"]
        if not starting:
            return
        ready, _ = self._ray.wait([s.ready for s in starting], num_returns=len(starting), timeout=0)
        ready = set(ready)
        for slot in starting:
            if slot.ready in ready:
                try:
                    slot.info = self._ray.get(slot.ready)
                    slot.state = "live"
                except Exception as exc:
                    logger.warning("RaySandbox: an actor on node %s failed to start: %s", slot.node_id[:12], exc)
                    self._drop(slot)
            elif expire or time.monotonic() - slot.started > self.start_timeout_s:
                logger.warning("RaySandbox: an actor on node %s did not start in %g s", slot.node_id[:12], self.start_timeout_s)
                self._drop(slot)

    def _drop(self, slot: _Slot) -> None:
        with self._lock:
            slot.state = "dead"
            if slot in self._slots:
                self._slots.remove(slot)
        try:
            self._ray.kill(slot.actor, no_restart=True)
        except Exception:
            pass

    def _replace(self, slot: _Slot, reason: str) -> None:
        """Retire a failed actor; start a new one on its node when the node is still alive."""
        with self._lock:
            if slot.state == "dead":
                return  # another chunk of the same actor (maybe another caller's) reported it
            slot.state = "dead"
        logger.warning("RaySandbox: actor on node %s (pid %s) failed: %s; replacing it",
                       slot.node_id[:12], slot.info.get("pid"), reason)
        self._drop(slot)
        if self._closed:
            return
        alive = {n["NodeID"] for n in self._ray.nodes() if n.get("Alive")}
        if slot.node_id not in alive:
            logger.warning("RaySandbox: node %s is gone; the pool goes on with %d actors", slot.node_id[:12], len(self._slots))
            return
        new = self._spawn(slot.node_id, slot.workers, slot.num_cpus)
        with self._lock:
            self._slots.append(new)
            self.replacements += 1

    # ------------------------------------------------------------------ scheduling

    def _pick(self, exclude: _Slot | None = None) -> _Slot | None:
        """The live actor with room and the fewest in-flight requests per worker; reserves a chunk."""
        with self._lock:
            room = [s for s in self._slots if s.state == "live" and s.chunks < self.max_in_flight and s is not exclude]
            if not room:
                return None
            slot = min(room, key=lambda s: (s.load / s.workers, s.chunks))
            slot.chunks += 1
            return slot

    def _release(self, slot: _Slot, n: int) -> None:
        with self._lock:
            slot.chunks -= 1
            slot.load -= n

    def _chunk(self, n: int, slot: _Slot) -> int:
        if self.chunk_size is not None:
            return self.chunk_size
        total = sum(s.workers for s in self._slots if s.state != "dead") or 1
        # Enough chunks that every actor holds a few (balance, and a short tail), at most 16
        # requests per worker (what one chunk keeps in flight), at least one.
        per_worker = max(1, min(16, math.ceil(n / (total * self.max_in_flight * 2))))
        return per_worker * slot.workers

    def _has_actor(self, exclude: _Slot | None = None) -> bool:
        """Whether some actor (other than ``exclude``) is live or starting."""
        with self._lock:
            return any(s.state != "dead" and s is not exclude for s in self._slots)

    def _pick_possible(self) -> bool:
        with self._lock:
            return any(s.state == "live" and s.chunks < self.max_in_flight for s in self._slots)

    def _has_live(self) -> bool:
        with self._lock:
            return any(s.state == "live" for s in self._slots)

    def _starting_refs(self) -> list[Any]:
        with self._lock:
            return [s.ready for s in self._slots if s.state == "starting"]

    # ------------------------------------------------------------------ the contract

    @property
    def workers(self) -> int:
        """Worker interpreters over all live actors."""
        return sum(s.workers for s in self._slots if s.state == "live")

    @property
    def actors(self) -> list[dict[str, Any]]:
        """``info()`` of each live actor: ``pid``, ``host``, ``node_id``, ``workers``, ``isolation``."""
        return [dict(s.info) for s in self._slots if s.state == "live"]

    @property
    def actor_pids(self) -> list[int]:
        return [s.info["pid"] for s in self._slots if s.state == "live"]

    @property
    def isolation(self) -> tuple[str, ...]:
        """The isolation layers that hold on the first actor's pool."""
        live = [s for s in self._slots if s.state == "live"]
        return tuple(live[0].info.get("isolation", ())) if live else ()

    def actor_stats(self, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Fresh ``info()`` of every live actor, with ``cpu_s``: the actor process's own CPU
        seconds (dispatch and (de)serialisation; its workers and programs not included).

        Example:
            >>> sum(a["cpu_s"] for a in sb.actor_stats())   # doctest: +SKIP
        """
        with self._lock:
            live = [s for s in self._slots if s.state == "live"]
        return list(self._ray.get([s.actor.info.remote() for s in live], timeout=timeout_s))

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Run every request on the cluster; results come back in input order.

        Raises:
            TypeError: ``requests`` is not a sequence of ``ExecRequest`` (or code strings).
            SandboxClosedError: the sandbox was closed.
        """
        if self._closed:
            raise SandboxClosedError("RaySandbox is closed")
        requests = self.requests_of(requests)
        if not requests:
            return []
        return _Batch(self, requests).run()

    def close(self) -> None:
        """Stop the actors (and the local cluster this sandbox started). Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            slots, self._slots = list(self._slots), []
        if self._owns_actors and slots:
            try:  # let each pool stop its workers, then kill the actor (which also ends a stuck one)
                stops = [s.actor.close.remote() for s in slots if s.state == "live"]
                self._ray.wait(stops, num_returns=len(stops), timeout=30)
            except Exception:
                pass
            for s in slots:
                try:
                    self._ray.kill(s.actor, no_restart=True)
                except Exception:
                    pass
        if getattr(self, "_owns_connection", False):
            self._owns_connection = False
            _disconnect(self._ray)

    def __getstate__(self) -> dict[str, Any]:
        # A copy shares the actors (their handles travel within the cluster) rather than
        # reserving a second set of CPUs; it does not stop them when it closes.
        ctx = self._ray.get_runtime_context()
        handles = [(s.node_id, s.workers, s.num_cpus, s.actor, s.info) for s in self._slots if s.state == "live"]
        return {"args": self._init_args, "gcs_address": ctx.gcs_address, "handles": handles}

    def __setstate__(self, state: dict[str, Any]) -> None:
        args = state["args"]
        self._ray = import_ray()
        self._init_args = args
        self.max_in_flight, self.chunk_size = args["max_in_flight"], args["chunk_size"]
        self.retry_on_actor_death, self.start_timeout_s = args["retry_on_actor_death"], args["start_timeout_s"]
        self.replacements = 0
        self._lock = threading.Lock()
        self._closed = False
        self._owns_actors = False
        self._owns_connection = _connect(self._ray, state["gcs_address"], None, {})
        self._slots = []
        for node_id, workers, num_cpus, actor, info in state["handles"]:
            slot = _Slot(node_id, workers, num_cpus, actor, None)
            slot.state, slot.info = "live", info
            self._slots.append(slot)

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass
