"""A few JSON-RPC helpers for deploying and calling contracts from an unlocked devnet account.

Contract artifacts: ``mm_agent/contracts/<Name>.json`` (compiled here with solc 0.8.28) and
``mm_agent/contracts/vendor/<Name>.json`` (bytecode from npm packages, see
``scripts/fetch_market_artifacts.sh``).
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from mm_agent.errors import DevnetError, MMError
from mm_agent.evm.rpc import RpcClient
from mm_agent.evm.signatures import keccak256

__all__ = ["CONTRACTS_DIR", "Chain", "encode_call", "load_artifact", "selector"]

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
RECEIPT_TIMEOUT = 30.0
GAS_MARGIN = 50_000  # on top of 1.3 x the estimate (see ``send``)


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """``contracts/<name>.json`` or ``contracts/vendor/<name>.json`` (abi, bytecode, ...)."""
    for path in (CONTRACTS_DIR / f"{name}.json", CONTRACTS_DIR / "vendor" / f"{name}.json"):
        if path.exists():
            return json.loads(path.read_text())
    raise DevnetError(
        f"No artifact for {name}.",
        hint="Run scripts/compile_contracts.sh (own contracts) or "
             "scripts/fetch_market_artifacts.sh (vendored ones).",
    )


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


class Chain:
    """Sends transactions from unlocked accounts (anvil) and reads with ``eth_call``."""

    def __init__(self, rpc_url: str, *, timeout: float = RECEIPT_TIMEOUT) -> None:
        import httpx

        self.url = rpc_url
        # trust_env=False: a proxy from the environment must not intercept 127.0.0.1 traffic.
        self.rpc = RpcClient(rpc_url, client=httpx.Client(timeout=10.0, trust_env=False))
        self.timeout = timeout

    def close(self) -> None:
        self.rpc.close()

    def __enter__(self) -> Chain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes ---------------------------------------------------------------------------------
    def send(self, sender: str, to: str | None, data: bytes | str = b"", value: int = 0) -> str:
        tx: dict[str, Any] = {"from": sender, "data": _hex(data)}
        if to is not None:
            tx["to"] = to
        if value:
            tx["value"] = hex(value)
        # With a margin: the node's estimate is made in a block that may carry another second
        # than the one the transaction lands in, and some contracts pay for that (a Uniswap
        # pool writes a new price observation once per second: ~20 000 gas more).
        try:
            estimate = int(self.rpc.call("eth_estimateGas", [tx]), 16)
        except MMError:
            pass  # it would revert: the node refuses or mines it as before, and says why
        else:
            tx["gas"] = hex(estimate * 13 // 10 + GAS_MARGIN)
        return str(self.rpc.call("eth_sendTransaction", [tx]))

    def wait(self, tx_hash: str, label: str = "transaction") -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if receipt:
                if int(receipt.get("status", "0x0"), 16) != 1:
                    raise DevnetError(f"{label} reverted (tx {tx_hash}).")
                return dict(receipt)
            if time.monotonic() > deadline:
                raise DevnetError(f"No receipt for {label} ({tx_hash}) after {self.timeout:.0f} s.")
            time.sleep(0.05)

    def transact(self, sender: str, to: str, data: bytes | str, *, value: int = 0,
                 label: str = "transaction") -> dict[str, Any]:
        return self.wait(self.send(sender, to, data, value), label)

    def deploy(self, sender: str, artifact: str, types: list[str] | None = None,
               args: list[Any] | None = None) -> str:
        from eth_abi import encode
        from eth_utils import to_checksum_address

        code = load_artifact(artifact)["bytecode"]
        data = code + (encode(types, args).hex() if types else "")
        receipt = self.wait(self.send(sender, None, data), f"deploying {artifact}")
        if not receipt.get("contractAddress"):
            raise DevnetError(f"Deploying {artifact} created no contract.")
        return str(to_checksum_address(receipt["contractAddress"]))

    # --- reads ----------------------------------------------------------------------------------
    def call(self, to: str, data: bytes | str, out_types: list[str] | None = None,
             sender: str | None = None) -> Any:
        from eth_abi import decode

        tx: dict[str, Any] = {"to": to, "data": _hex(data)}
        if sender:
            tx["from"] = sender
        raw = self.rpc.call("eth_call", [tx, "latest"])
        if out_types is None:
            return raw
        values = decode(out_types, bytes.fromhex(raw[2:]))
        return values[0] if len(out_types) == 1 else values

    def has_code(self, address: str) -> bool:
        return self.rpc.call("eth_getCode", [address, "latest"]) not in ("0x", "0x0", None)

    def accounts(self) -> list[str]:
        from eth_utils import to_checksum_address

        return [to_checksum_address(a) for a in self.rpc.call("eth_accounts")]


def encode_call(signature: str, types: list[str], args: list[Any]) -> bytes:
    """Calldata ``selector(signature) ‖ abi.encode(types, args)``."""
    from eth_abi import encode

    return selector(signature) + encode(types, args)


def _hex(data: bytes | str) -> str:
    if isinstance(data, bytes):
        return "0x" + data.hex()
    return data if data.startswith("0x") else "0x" + data
