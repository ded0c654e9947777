"""Nonce reservation that never reuses or skips a nonce.

Reservations for one (chain, address) are serialised by a process-local lock *and* the
MM_HOME state lock, so concurrent sends from threads or from several `mm` processes each get
the next nonce. The next nonce is ``max(chain pending count, last reserved + 1)``; a
reservation released before broadcast (simulation reverted, signing refused) is handed back
only if it is still the newest, so no gap appears. A reservation the chain has not seen for
``STALE_SECONDS`` (a crashed process, a devnet that was reset) gives way to the chain's count,
so a lost reservation cannot leave the account stuck behind a gap.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from mm_agent.local.state import Home

from .rpc import RpcClient, hex_to_int

__all__ = ["NonceManager"]

STALE_SECONDS = 120.0
_LOCKS: dict[str, threading.Lock] = defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


def _key(chain_id: int, address: str) -> str:
    return f"{chain_id}:{address.lower()}"


class NonceManager:
    NAME = "nonces.json"

    def __init__(self, home: Home) -> None:
        self.home = home

    def _lock(self, key: str) -> threading.Lock:
        with _LOCKS_GUARD:
            return _LOCKS[key]

    def _next(self, rpc: RpcClient, data: dict[str, Any], key: str, address: str) -> int:
        pending = hex_to_int(rpc.call("eth_getTransactionCount", [address, "pending"]))
        entry = data.get(key) or {}
        stored = int(entry.get("next", 0))
        if stored > pending and time.time() - float(entry.get("at", 0)) > STALE_SECONDS:
            stored = pending
        return max(pending, stored)

    def peek(self, rpc: RpcClient, chain_id: int, address: str) -> int:
        """The nonce ``reserve`` would hand out now, without reserving it."""
        data: dict[str, Any] = self.home.read_json(self.NAME, {}) or {}
        return self._next(rpc, data, _key(chain_id, address), address)

    def reserve(self, rpc: RpcClient, chain_id: int, address: str) -> int:
        key = _key(chain_id, address)
        with self._lock(key), self.home.locked(".nonces.lock"):
            data: dict[str, Any] = self.home.read_json(self.NAME, {}) or {}
            nonce = self._next(rpc, data, key, address)
            data[key] = {"next": nonce + 1, "at": time.time()}
            self.home.write_json(self.NAME, data)
            return nonce

    def release(self, chain_id: int, address: str, nonce: int) -> None:
        key = _key(chain_id, address)
        with self._lock(key), self.home.locked(".nonces.lock"):
            data: dict[str, Any] = self.home.read_json(self.NAME, {}) or {}
            entry = data.get(key) or {}
            if int(entry.get("next", 0)) == nonce + 1:
                data[key] = {"next": nonce, "at": entry.get("at", 0)}
                self.home.write_json(self.NAME, data)
