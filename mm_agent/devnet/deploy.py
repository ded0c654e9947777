"""The demo set deployed on the devnet: tokens (mUSD, mDAI, mNFT, mITEM) and contracts
(Puller, Reverter), from the compiled artifacts in ``mm_agent/contracts/``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mm_agent.errors import DevnetError

from .rpc import rpc as _rpc
from .rpc import rpc_client as _client

if TYPE_CHECKING:
    import httpx

__all__ = ["CONTRACTS_DIR", "deploy_demo_contracts", "load_artifact"]

# mm_agent/contracts (scripts/compile_contracts.mjs writes the artifacts there).
CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
RECEIPT_TIMEOUT = 30.0  # seconds per deployment receipt (plus block time when interval mining)

# (artifact, symbol, name, decimals, standard, initial supply in whole tokens)
_TOKENS: tuple[tuple[str, str, str, int, str, int], ...] = (
    ("DemoERC20", "mUSD", "Mock USD", 6, "erc20", 1_000_000),
    ("DemoERC20", "mDAI", "Mock DAI", 18, "erc20", 1_000_000),
    ("DemoERC721", "mNFT", "Mock NFT", 0, "erc721", 0),
    ("DemoERC1155", "mITEM", "Mock Items", 0, "erc1155", 0),
)
_CONTRACTS = ("Puller", "Reverter")


def load_artifact(name: str) -> dict[str, Any]:
    """The compiled artifact ``mm_agent/contracts/<name>.json`` (abi, bytecode, ...)."""
    path = CONTRACTS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DevnetError(
            f"No compiled artifact for {name} ({path}).",
            hint="Run scripts/compile_contracts.sh.",
        ) from None



def _wait_receipt(client: httpx.Client, url: str, tx_hash: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        receipt = _rpc(client, url, "eth_getTransactionReceipt", [tx_hash])
        if receipt:
            return receipt
        if time.monotonic() > deadline:
            raise DevnetError(f"No receipt for {tx_hash} after {timeout:.0f} s.")
        time.sleep(0.1)


def deploy_demo_contracts(rpc_url: str, *, block_time: float | None = None) -> dict[str, Any]:
    """Deploy the demo set on the node at ``rpc_url`` from its first unlocked account.

    Returns ``{"deployer", "tokens": [...], "contracts": {"Puller", "Reverter"}}`` in the
    ``devnet.json`` shape. Works on any anvil (tests start their own).
    """
    from eth_abi import encode
    from eth_utils import to_checksum_address

    with _client() as client:
        accounts = _rpc(client, rpc_url, "eth_accounts")
        if not accounts:
            raise DevnetError(f"{rpc_url} has no unlocked account to deploy from.")
        deployer = to_checksum_address(accounts[0])

        def send(artifact: str, types: list[str], args: list[Any]) -> str:
            data = load_artifact(artifact)["bytecode"] + encode(types, args).hex()
            return _rpc(client, rpc_url, "eth_sendTransaction", [{"from": deployer, "data": data}])

        # Send everything first, then collect receipts: with interval mining they land together.
        pending: list[tuple[str, str]] = []
        for artifact, symbol, name, decimals, _std, supply in _TOKENS:
            if artifact == "DemoERC20":
                types = ["string", "string", "uint8", "uint256"]
                args: list[Any] = [name, symbol, decimals, supply * 10**decimals]
                pending.append((symbol, send(artifact, types, args)))
            else:
                pending.append((symbol, send(artifact, [], [])))
        for name in _CONTRACTS:
            pending.append((name, send(name, [], [])))

        timeout = RECEIPT_TIMEOUT + 3 * (block_time or 0)
        addresses: dict[str, str] = {}
        for label, tx_hash in pending:
            receipt = _wait_receipt(client, rpc_url, tx_hash, timeout)
            if int(receipt.get("status", "0x0"), 16) != 1 or not receipt.get("contractAddress"):
                raise DevnetError(f"Deploying {label} failed (tx {tx_hash}).")
            addresses[label] = to_checksum_address(receipt["contractAddress"])

    tokens = [
        {
            "symbol": symbol,
            "name": name,
            "address": addresses[symbol],
            "decimals": decimals,
            "standard": standard,
        }
        for _artifact, symbol, name, decimals, standard, _supply in _TOKENS
    ]
    return {
        "deployer": deployer,
        "tokens": tokens,
        "contracts": {name: addresses[name] for name in _CONTRACTS},
    }

