"""Is this RPC endpoint really the chain it is configured for?

A misconfigured ``rpc.<chainId>`` (or a devnet record pointing at another node) would make the
simulation describe one chain while the signature is valid on another. ``eth_chainId`` is
asked once per (URL, chain) per process, before the first preview; a mismatch is
``RPC_CHAIN_MISMATCH`` and nothing is previewed, signed or recorded. Only a confirmed match is
remembered: an unreachable endpoint is asked again next time.
"""

from __future__ import annotations

import threading
from typing import Any

from mm_agent.errors import RpcChainMismatch, RpcError
from mm_agent.evm.rpc import redact_url

__all__ = ["forget", "verify_chain_id"]

_VERIFIED: set[tuple[str, int]] = set()
_LOCK = threading.Lock()


def verify_chain_id(client: Any, chain_id: int) -> None:
    """Raise ``RPC_CHAIN_MISMATCH`` if ``client``'s node is not chain ``chain_id``.

    ``client`` is an :class:`~mm_agent.evm.rpc.RpcClient` (``url`` and ``call``). A node without
    ``eth_chainId`` is let through (nothing to compare); network errors propagate.
    """
    key = (str(client.url), int(chain_id))
    if key in _VERIFIED:
        return
    try:
        raw = client.call("eth_chainId")
    except RpcError as exc:
        if "method" in str(exc).lower() and "not" in str(exc).lower():
            return  # eth_chainId unsupported: cannot check, do not block
        raise
    actual = int(raw, 16) if isinstance(raw, str) else int(raw)
    if actual != chain_id:
        raise RpcChainMismatch(
            f"The RPC endpoint {redact_url(key[0])} configured for chain {chain_id} serves chain "
            f"{actual}. Nothing was previewed or signed.",
            hint=f"Point rpc.{chain_id} at a node of chain {chain_id} (`mm config set "
                 f"rpc.{chain_id} URL`, MM_RPC_{chain_id}, or for the service "
                 f"`mm server start --rpc {chain_id}=URL`).",
            details={"chainId": chain_id, "rpcChainId": actual},
        )
    with _LOCK:
        _VERIFIED.add(key)


def forget() -> None:
    """Drop remembered checks (tests; a devnet restarted under the same URL)."""
    with _LOCK:
        _VERIFIED.clear()
