"""Per-wallet lanes: the transactions one wallet has queued run in batches, one batch at a time.

A wallet's transactions are ordered by their nonces anyway, so running them on many workers
at once only makes them queue on the nonce row. A lane (one per wallet and chain) is drained
by one worker at a time instead; the worker takes up to ``max_batch`` queued jobs and runs
them as one batch (``batch.py``: one sequential simulation, one policy transaction, one
signing transaction). What a batch could not finish (the jobs behind one that stopped for a
human, a denial or a revert) goes back to the FRONT of its lane, in order, to be simulated
again. Different wallets' lanes run in parallel on the pool.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

__all__ = ["Lanes"]

log = logging.getLogger("mm_agent.server.services.jobs")


class Lanes:
    """``spawn(fn, *args)`` runs on the worker pool; ``run(batch)`` runs one batch of polling
    ids and returns the ones to run again (in order)."""

    def __init__(self, spawn: Callable[..., Future[Any]],
                 run: Callable[[list[str]], list[str]], *, max_batch: int = 32) -> None:
        self._spawn = spawn
        self._run = run
        self.max_batch = max_batch
        self._queued: dict[Hashable, collections.deque[str]] = {}
        self._active: set[Hashable] = set()
        self._lock = threading.Lock()

    def add(self, key: Hashable, polling_id: str) -> None:
        with self._lock:
            self._queued.setdefault(key, collections.deque()).append(polling_id)
            if key in self._active:
                return  # its worker takes it in a later batch
            self._active.add(key)
        self._spawn(self._drain, key)

    def queued(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queued.values())

    def _drain(self, key: Hashable) -> None:
        while True:
            with self._lock:
                queue = self._queued.get(key)
                if not queue:
                    self._queued.pop(key, None)
                    self._active.discard(key)
                    return
                batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
            again: list[str] = []
            try:
                again = self._run(batch)
            except Exception:  # the batch's own edges record job failures; keep draining
                log.exception("a batch of %d job(s) crashed", len(batch))
            if again:
                with self._lock:
                    self._queued.setdefault(key, collections.deque()).extendleft(
                        reversed(again))
