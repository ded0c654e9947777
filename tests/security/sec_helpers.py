"""Helpers for the security-pipeline tests: calldata encoding, a tiny recording JSON-RPC proxy,
wallet construction with a given config, and the contract shape of the section-5 preview."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from helpers import wait_until

from mm_agent.evm.fees import FEE_CAP_MULTIPLIER
from mm_agent.local.config import Config
from mm_agent.local.state import Home

MAX_UINT256 = 2**256 - 1
ZERO = "0x" + "0" * 40
# Fresh EOAs nobody on the devnet has used (no code, no history).
FRESH = "0x1111111111111111111111111111111111111111"
FRESH2 = "0x2222222222222222222222222222222222222222"


def calldata(signature: str, *values: Any) -> str:
    """``calldata("transfer(address,uint256)", to, 5)`` → 0x-hex calldata."""
    types = signature[signature.index("(") + 1 : -1]
    type_list = [t for t in types.split(",") if t]
    selector = function_signature_to_4byte_selector(signature)
    return "0x" + (selector + encode(type_list, list(values))).hex()


def tx_payload(to: str, data: str = "0x", value: int = 0) -> dict[str, Any]:
    return {"to": to, "data": data, "value": hex(value)}


def send_unlocked(chain: Any, sender: str, to: str, data: str) -> dict[str, Any]:
    """A setup transaction from one of anvil's unlocked accounts; returns its receipt."""
    tx_hash = chain.rpc("eth_sendTransaction", [{"from": sender, "to": to, "data": data}])
    # anvil's automine answers with the hash and mines right after: poll for the receipt.
    receipt = wait_until(lambda: chain.rpc("eth_getTransactionReceipt", [tx_hash]), timeout=10,
                         interval=0.01, what=f"setup tx {tx_hash} to be mined")
    assert int(receipt["status"], 16) == 1, f"setup tx {tx_hash} reverted"
    return receipt


def nonce(rpc: Callable[..., Any], address: str, tag: str = "pending") -> int:
    return int(rpc("eth_getTransactionCount", [address, tag]), 16)


def make_wallet(home: Home, *, hook: Any = None, settings: dict[str, str] | None = None,
                env: dict[str, str] | None = None) -> Any:
    """A BYOK ``Wallet`` on ``home``: ``settings`` are persisted through ``Config.set`` (as
    `mm config set` would), ``env`` are ``MM_*`` overrides seen by this wallet only."""
    from mm_agent import Wallet

    config = Config(home, env=dict(env or {}))
    for key, value in (settings or {}).items():
        config.set(key, value)
    return Wallet.from_env(home=home, config=config, approval_hook=hook)


# --- preview shape (contract §5) ----------------------------------------------------------------
PREVIEW_KEYS = {"intent", "decoded", "simulation", "scan", "policy", "requiresApproval"}
# Transactions also carry what will be signed (issue 9): gas limit and fees, wei as strings.
FEES_KEYS = {"gasLimit", "maxFeePerGas", "maxPriorityFeePerGas", "maxReplacementFeePerGas",
             "baseFee", "worstCaseFeeWei", "source"}
DECODED_KEYS = {"functionName", "params", "effectiveRecipient"}
SIMULATION_KEYS = {"success", "revertReason", "gasUsed", "balanceChanges", "exposures"}
SIMULATION_EXTRA = {"method"}  # which simulation path ran (eth_simulateV1 | fallback)
CHANGE_KEYS = {"address", "asset", "delta"}
ASSET_KEYS = {"type", "address", "symbol", "decimals", "tokenId"}
EXPOSURE_KEYS = {"spender", "asset", "amount", "unlimited", "expiration"}
SCAN_KEYS = {"resultType", "reason", "classification", "description", "features", "grants"}
FEATURE_KEYS = {"type", "featureId", "description", "address"}
POLICY_KEYS = {"decision", "violations"}


def _is_int_str(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip("-").isdigit()


def check_asset(asset: dict[str, Any]) -> None:
    assert set(asset) == ASSET_KEYS, asset
    assert asset["type"] in ("native", "erc20", "erc721", "erc1155")
    assert asset["tokenId"] is None or _is_int_str(asset["tokenId"])
    if asset["type"] == "native":
        assert asset["address"] is None
    else:
        assert isinstance(asset["address"], str) and asset["address"].startswith("0x")


def check_preview_shape(p: dict[str, Any], *, transaction: bool = True) -> None:
    """Every key of the contract's preview object, no more (``simulation.method`` and a
    transaction's ``fees`` aside)."""
    extra = {"fees"} if transaction else set()
    assert set(p) == PREVIEW_KEYS | extra, set(p) ^ (PREVIEW_KEYS | extra)
    if transaction:
        assert set(p["fees"]) == FEES_KEYS, p["fees"]
        assert p["fees"]["source"] in ("estimate", "payload")
        assert all(_is_int_str(p["fees"][k]) for k in FEES_KEYS - {"source"})
        # The worst case includes stuck-tx replacements: gas limit x the disclosed ceiling.
        assert int(p["fees"]["maxReplacementFeePerGas"]) == (
            FEE_CAP_MULTIPLIER * int(p["fees"]["maxFeePerGas"]))
        assert int(p["fees"]["worstCaseFeeWei"]) == (
            int(p["fees"]["gasLimit"]) * int(p["fees"]["maxReplacementFeePerGas"]))
    assert isinstance(p["intent"], str) and p["intent"]
    assert isinstance(p["requiresApproval"], bool)
    assert set(p["policy"]) == POLICY_KEYS
    assert p["policy"]["decision"] in ("allow", "approval_required", "deny")
    assert isinstance(p["policy"]["violations"], list)
    scan = p["scan"]
    assert set(scan) == SCAN_KEYS, scan
    assert scan["resultType"] in ("Benign", "Warning", "Malicious", "Error")
    for f in scan["features"]:
        assert set(f) == FEATURE_KEYS, f
        assert f["type"] in ("Benign", "Warning", "Malicious", "Info", "Error")
    assert p["requiresApproval"] == (p["policy"]["decision"] == "approval_required")
    if not transaction:
        return
    assert set(p["decoded"]) == DECODED_KEYS, p["decoded"]
    assert isinstance(p["decoded"]["params"], list)
    sim = p["simulation"]
    assert SIMULATION_KEYS <= set(sim) <= SIMULATION_KEYS | SIMULATION_EXTRA, set(sim)
    assert isinstance(sim["success"], bool)
    assert _is_int_str(sim["gasUsed"])
    for change in sim["balanceChanges"]:
        assert set(change) == CHANGE_KEYS, change
        assert _is_int_str(change["delta"]) and change["delta"] != "0"
        check_asset(change["asset"])
    for exp in sim["exposures"]:
        assert set(exp) == EXPOSURE_KEYS, exp
        assert isinstance(exp["unlimited"], bool)
        assert exp["amount"] is None or _is_int_str(exp["amount"])
        check_asset(exp["asset"])


def deltas(preview: dict[str, Any]) -> dict[tuple[str, str, str | None, str | None], int]:
    """{(holder lowercase, asset type, asset address lowercase, tokenId): delta}."""
    out = {}
    for c in preview["simulation"]["balanceChanges"]:
        a = c["asset"]
        key = (c["address"].lower(), a["type"], (a["address"] or "").lower() or None, a["tokenId"])
        out[key] = int(c["delta"])
    return out


def feature_ids(preview: dict[str, Any]) -> set[str]:
    return {f["featureId"] for f in preview["scan"]["features"]}


# --- a recording JSON-RPC proxy -----------------------------------------------------------------
class RpcProxy:
    """A threaded HTTP JSON-RPC proxy in front of ``upstream`` that records every method it
    sees and answers "method not found" for the methods in ``refuse``."""

    def __init__(self, upstream: str, *, refuse: Iterable[str] = ()) -> None:
        self.upstream = upstream
        self.refuse = set(refuse)
        self.methods: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = proxy._handle(body)
                raw = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _one(self, req: dict[str, Any]) -> dict[str, Any] | None:
        method = req.get("method", "")
        with self._lock:
            self.methods.append(method)
        if method in self.refuse:
            return {"jsonrpc": "2.0", "id": req.get("id"),
                    "error": {"code": -32601, "message": f"the method {method} does not exist"}}
        return None

    def _handle(self, body: Any) -> Any:
        items = body if isinstance(body, list) else [body]
        refused = {id(r): self._one(r) for r in items}
        forward = [r for r in items if refused[id(r)] is None]
        answers: dict[Any, Any] = {}
        if forward:
            upstream = self._client.post(self.upstream, json=forward).json()
            for answer in upstream if isinstance(upstream, list) else [upstream]:
                answers[answer.get("id")] = answer
        out = [refused[id(r)] or answers.get(r.get("id")) for r in items]
        return out if isinstance(body, list) else out[0]

    def count(self, method: str) -> int:
        with self._lock:
            return self.methods.count(method)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()
