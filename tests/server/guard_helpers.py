"""Helpers for the guard-mode tests: deploy the test-only GuardProbe contract, act as the
service's wallet on anvil for setup (impersonation), encode calls, submit and read violations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from helpers import wait_until

from .test_jobs import Api

CONTRACTS = Path(__file__).parent / "contracts"


def calldata(signature: str, *values: Any) -> str:
    types = [t for t in signature[signature.index("(") + 1: -1].split(",") if t]
    return "0x" + (function_signature_to_4byte_selector(signature)
                   + encode(types, list(values))).hex()


def mined(chain: Any, tx_hash: str) -> dict[str, Any]:
    receipt = wait_until(lambda: chain.rpc("eth_getTransactionReceipt", [tx_hash]), timeout=10,
                         interval=0.01, what=f"tx {tx_hash} to be mined")
    assert int(receipt["status"], 16) == 1, receipt
    return dict(receipt)


def send_as(chain: Any, sender: str, to: str | None, data: str, value: int = 0) -> dict[str, Any]:
    """A setup transaction from ``sender`` (anvil impersonates any account)."""
    chain.rpc("anvil_impersonateAccount", [sender])
    try:
        tx: dict[str, Any] = {"from": sender, "data": data, "value": hex(value)}
        if to:
            tx["to"] = to
        return mined(chain, chain.rpc("eth_sendTransaction", [tx]))
    finally:
        chain.rpc("anvil_stopImpersonatingAccount", [sender])


def deploy_probe(chain: Any) -> str:
    artifact = json.loads((CONTRACTS / "GuardProbe.json").read_text())
    receipt = send_as(chain, chain.deployed["deployer"], None, artifact["bytecode"])
    return str(receipt["contractAddress"])


def submit_tx(api: Api, address: str, to: str, data: str, value: int = 0,
              **extra: Any) -> dict[str, Any]:
    return api.wait(api.submit(address, {"kind": "transaction", "chainId": 31337, "payload": {
        "to": to, "value": hex(value), "data": data}, **extra})["pollingId"])


def violations(req: dict[str, Any], rule: str | None = None) -> list[str]:
    return [v["message"] for v in req["preview"]["policy"]["violations"]
            if rule is None or v["rule"] == rule]
