"""`mm tx <hash>`: a transaction's status read from the chain (both wallet modes)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mm_agent.errors import InvalidHash, TxNotFound
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.chains import DEVNET_CHAIN_ID, get_chain
from mm_agent.evm.rpc import hex_to_int
from mm_agent.local.request_log import WalletRequest

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Engine

__all__ = ["read_transaction"]

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def read_transaction(engine: Engine, tx_hash: str, chain_id: int | None,
                     known: Iterable[WalletRequest] = ()) -> dict[str, Any]:
    """``{txHash, chainId, status: pending|success|reverted, from, to, value, nonce,
    blockNumber, gasUsed, explorerUrl}``. Without ``chain_id`` the chain of the ``known``
    request with this hash is used, else the devnet when it runs, else Ethereum."""
    if not isinstance(tx_hash, str) or not _HASH.fullmatch(tx_hash):
        raise InvalidHash(f"{tx_hash!r} is not a transaction hash.")
    if chain_id is None:
        for req in known:
            if req.tx_hash and req.tx_hash.lower() == tx_hash.lower():
                chain_id = req.chain_id
                break
        chain_id = chain_id or (DEVNET_CHAIN_ID if engine.devnet() else 1)
    rpc = engine.rpc(chain_id)
    tx = rpc.call("eth_getTransactionByHash", [tx_hash])
    if not tx:
        raise TxNotFound(f"No transaction {tx_hash} on chain {chain_id}.")
    receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
    status = "pending" if not receipt else (
        "success" if hex_to_int(receipt.get("status")) == 1 else "reverted")
    chain = get_chain(chain_id)
    return {
        "txHash": tx_hash, "chainId": chain_id, "status": status,
        "from": validate_address(tx["from"]),
        "to": validate_address(tx["to"]) if tx.get("to") else None,
        "value": str(hex_to_int(tx.get("value"))), "nonce": hex_to_int(tx.get("nonce")),
        "blockNumber": hex_to_int(receipt.get("blockNumber")) if receipt else None,
        "gasUsed": str(hex_to_int(receipt.get("gasUsed"))) if receipt else None,
        "explorerUrl": chain.explorer_tx(tx_hash),
    }
