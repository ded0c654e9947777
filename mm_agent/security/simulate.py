"""Transaction simulation: success or revert reason, gas, balance changes and exposures.

Primary path: ``eth_simulateV1`` with ``traceTransfers`` (native value moves appear as ERC-20
style Transfer logs from 0xEeeee…; anvil, geth and reth support it). We read the logs of the
simulated call and turn them into per-address balance deltas (native, ERC-20, ERC-721,
ERC-1155) and into exposures (ERC-20 approvals, approval-for-all, Permit2 allowances).

Fallback, for nodes without ``eth_simulateV1``: ``eth_call`` for success and revert data plus
``eth_estimateGas`` for gas; balance changes are then derived from the transaction itself
(native ``value`` and a decoded ERC-20 ``transfer``), and ``simulation.method`` says
``"fallback"`` so readers know the trace is partial.

Fidelity: a contract can tell a naive simulation from execution (``tx.gasprice == 0``,
``block.basefee == 0``, a huge ``gasleft()``, a stale timestamp). The pipeline therefore
simulates with the gas limit and fees that will be signed, ``validation: true`` (so the EVM
sees the real base fee) and ``blockOverrides`` for the next block (:func:`next_block_overrides`).
The fallback passes the same gas and fees to ``eth_call`` but cannot override the block.

Sequences (a wallet's queue, :func:`simulate_sequence`): ONE ``eth_simulateV1`` call with one
block per transaction (:func:`sequential_block_overrides`: numbers and times strictly
increasing, as nodes require), so each sees the state the ones before it leave. Calls carry no
``nonce``: the node takes the sender's state nonce, which each simulated transaction bumps.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from mm_agent.errors import RpcError
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.rpc import RpcClient, hex_to_int, to_hex

__all__ = [
    "BLOCK_SECONDS",
    "UNLIMITED_THRESHOLD",
    "method_missing",
    "next_block_overrides",
    "sequence_request",
    "sequential_block_overrides",
    "simulate_sequence",
    "simulate_transaction",
    "simulation_request",
]

log = logging.getLogger("mm_agent.security.simulate")

NATIVE_PSEUDO = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
UNLIMITED_THRESHOLD = 2**255  # ERC-20 "infinite" approvals are max uint256 or close to it
PERMIT2_UNLIMITED = 2**160 - 1
# supportsInterface(bytes4) with the ERC-1155 interface id, padded to one word.
ERC165_SUPPORTS = "0x01ffc9a7"
ERC1155_ID = "d9b67a26" + "0" * 56


def _topic(sig: str) -> str:
    from mm_agent.evm.keccak import keccak256

    return "0x" + keccak256(sig.encode()).hex()


T_TRANSFER = _topic("Transfer(address,address,uint256)")
T_APPROVAL = _topic("Approval(address,address,uint256)")
T_APPROVAL_ALL = _topic("ApprovalForAll(address,address,bool)")
T_SINGLE = _topic("TransferSingle(address,address,address,uint256,uint256)")
T_BATCH = _topic("TransferBatch(address,address,address,uint256[],uint256[])")
T_PERMIT2_APPROVAL = _topic("Approval(address,address,address,uint160,uint48)")
T_PERMIT2_PERMIT = _topic("Permit(address,address,address,uint160,uint48,uint48)")

AssetLookup = Callable[[str], dict[str, Any]]  # token address -> asset dict (symbol, decimals)


def _addr(word: str) -> str:
    return to_checksum_address("0x" + word[-40:])


def _words(data: str) -> list[int]:
    body = data[2:] if data.startswith("0x") else data
    return [int(body[i : i + 64], 16) for i in range(0, len(body), 64)]


class _Tracker:
    def __init__(self, asset_of: AssetLookup,
                 nft_standard: Callable[[str], str] | None = None) -> None:
        self.asset_of = asset_of
        # ApprovalForAll has the same shape in ERC-721 and ERC-1155: ask the contract (ERC-165).
        self.nft_standard = nft_standard or (lambda _token: "erc721")
        self.deltas: dict[tuple[str, str, int | None], int] = defaultdict(int)
        self.assets: dict[tuple[str, int | None], dict[str, Any]] = {}
        self.exposures: list[dict[str, Any]] = []

    def move(self, token: str, kind: str, src: str, dst: str, amount: int,
             token_id: int | None = None) -> None:
        key_asset = (token.lower(), token_id)
        if key_asset not in self.assets:
            if kind == "native":
                self.assets[key_asset] = {"type": "native", "address": None, "symbol": None,
                                          "decimals": 18, "tokenId": None}
            else:
                base = dict(self.asset_of(token)) if kind == "erc20" else {
                    "address": to_checksum_address(token), "symbol": None, "decimals": 0}
                base.update({"type": kind, "tokenId": str(token_id) if token_id is not None
                             else None})
                self.assets[key_asset] = base
        if src.lower() != "0x" + "0" * 40:
            self.deltas[(src, token.lower(), token_id)] -= amount
        if dst.lower() != "0x" + "0" * 40:
            self.deltas[(dst, token.lower(), token_id)] += amount

    def apply_log(self, entry: dict[str, Any], owner: str) -> None:
        topics = [t.lower() for t in entry.get("topics", [])]
        if not topics:
            return
        token = entry["address"]
        data = entry.get("data", "0x")
        t0 = topics[0]
        if t0 == T_TRANSFER and len(topics) == 3:
            kind = "native" if token.lower() == NATIVE_PSEUDO else "erc20"
            self.move(token, kind, _addr(topics[1]), _addr(topics[2]), _words(data)[0])
        elif t0 == T_TRANSFER and len(topics) == 4:
            self.move(token, "erc721", _addr(topics[1]), _addr(topics[2]), 1, int(topics[3], 16))
        elif t0 == T_SINGLE and len(topics) == 4:
            tid, amount = _words(data)[:2]
            self.move(token, "erc1155", _addr(topics[2]), _addr(topics[3]), amount, tid)
        elif t0 == T_BATCH and len(topics) == 4:
            from eth_abi import decode

            ids, amounts = decode(["uint256[]", "uint256[]"], bytes.fromhex(data[2:]))
            for tid, amount in zip(ids, amounts, strict=False):
                self.move(token, "erc1155", _addr(topics[2]), _addr(topics[3]), amount, tid)
        elif t0 == T_APPROVAL and len(topics) == 3 and _addr(topics[1]) == owner:
            amount = _words(data)[0] if data not in ("0x", "") else 0
            self.exposures.append(self._exposure(_addr(topics[2]), {
                **self.asset_of(token), "type": "erc20", "tokenId": None},
                amount, amount >= UNLIMITED_THRESHOLD, None))
        elif t0 == T_APPROVAL and len(topics) == 4 and _addr(topics[1]) == owner:
            self.exposures.append(self._exposure(_addr(topics[2]), {
                "type": "erc721", "address": to_checksum_address(token), "symbol": None,
                "decimals": 0, "tokenId": str(int(topics[3], 16))}, 1, False, None))
        elif t0 == T_APPROVAL_ALL and len(topics) == 3 and _addr(topics[1]) == owner:
            if _words(data)[0]:
                self.exposures.append(self._exposure(_addr(topics[2]), {
                    "type": self.nft_standard(token), "address": to_checksum_address(token),
                    "symbol": None, "decimals": 0, "tokenId": None}, None, True, None))
        elif t0 in (T_PERMIT2_APPROVAL, T_PERMIT2_PERMIT) and len(topics) == 4 \
                and _addr(topics[1]) == owner:
            words = _words(data)
            amount, expiration = words[0], words[1]
            self.exposures.append(self._exposure(_addr(topics[3]), {
                **self.asset_of(_addr(topics[2])), "type": "erc20", "tokenId": None},
                amount, amount >= PERMIT2_UNLIMITED, expiration or None))

    @staticmethod
    def _exposure(spender: str, asset: dict[str, Any], amount: int | None, unlimited: bool,
                  expiration: int | None) -> dict[str, Any]:
        return {"spender": spender, "asset": asset,
                "amount": None if amount is None else str(amount),
                "unlimited": unlimited, "expiration": expiration}

    def balance_changes(self) -> list[dict[str, Any]]:
        out = []
        for (address, token, token_id), delta in self.deltas.items():
            if delta == 0:
                continue
            out.append({"address": address, "asset": self.assets[(token, token_id)],
                        "delta": str(delta)})
        return out


def _call_obj(tx: dict[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"from": tx["from"], "value": to_hex(tx.get("value", 0)),
                            "data": tx.get("data") or "0x"}
    if tx.get("to"):
        call["to"] = tx["to"]
    # The gas limit and fees that will be signed: a contract reading gasleft() or
    # tx.gasprice must see in the preview what it will see on chain.
    for key in ("gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"):
        if tx.get(key) is not None:
            call[key] = to_hex(tx[key])
    return call


# Seconds between blocks, for the plausible timestamp of the block a transaction lands in.
BLOCK_SECONDS: dict[int, int] = {
    1: 12, 11155111: 12, 8453: 2, 84532: 2, 59144: 2, 42161: 1, 10: 2, 137: 2, 80002: 2,
    56: 3, 31337: 1,
}
# The devnet's clock is its own (anvil keeps an offset across snapshots and time travel), so
# the wall clock says nothing about its next block: latest + 1 s there.
_OWN_CLOCK_CHAINS = frozenset({31337})


def next_block_overrides(chain_id: int, latest: dict[str, Any], base_fee: int,
                         *, now: float | None = None) -> dict[str, Any]:
    """``blockOverrides`` for the block the transaction will really land in: the next number,
    latest timestamp + the chain's block time (or the wall clock when the chain is idle), the
    expected next base fee and the latest block's coinbase."""
    import time

    latest_ts = hex_to_int(latest.get("timestamp"))
    when = latest_ts + BLOCK_SECONDS.get(chain_id, 12)
    if chain_id not in _OWN_CLOCK_CHAINS:
        when = max(when, int(time.time() if now is None else now))
    return {
        "number": to_hex(hex_to_int(latest.get("number")) + 1),
        "time": to_hex(when),
        "baseFeePerGas": to_hex(base_fee),
        "feeRecipient": latest.get("miner") or "0x" + "0" * 40,
    }


def sequential_block_overrides(chain_id: int, latest: dict[str, Any], base_fee: int, count: int,
                               *, now: float | None = None) -> list[dict[str, Any]]:
    """``blockOverrides`` for ``count`` transactions landing one per block after ``latest``:
    block k is :func:`next_block_overrides` with the number + k and the time + k block times
    (nodes require both strictly increasing), the same expected base fee and coinbase."""
    first = next_block_overrides(chain_id, latest, base_fee, now=now)
    number, when = hex_to_int(first["number"]), hex_to_int(first["time"])
    step = BLOCK_SECONDS.get(chain_id, 12)
    return [{**first, "number": to_hex(number + k), "time": to_hex(when + k * step)}
            for k in range(count)]


def _nft_standard(rpc: RpcClient) -> Callable[[str], str]:
    """``erc1155`` if the contract says so through ERC-165, else ``erc721``."""

    def standard(token: str) -> str:
        try:
            raw = rpc.call("eth_call", [{"to": token, "data": ERC165_SUPPORTS + ERC1155_ID},
                                        "latest"])
        except RpcError:
            return "erc721"
        return "erc1155" if raw and raw != "0x" and int(raw, 16) == 1 else "erc721"

    return standard


_UNSET: Any = object()
_MISSING_HINTS = ("not found", "does not exist", "not supported", "unsupported",
                  "not available", "unknown method", "not implemented")


def method_missing(exc: RpcError) -> bool:
    """Whether an ``eth_simulateV1`` error means the node lacks the method (→ fallback)."""
    if exc.details.get("rpcCode") == -32601:
        return True
    low = exc.message.lower()
    return any(hint in low for hint in _MISSING_HINTS) or ": http " in low


def simulation_request(tx: dict[str, Any], *, block: dict[str, Any] | None = None,
                       validation: bool = False) -> tuple[str, list[Any]]:
    """The ``eth_simulateV1`` call for ``tx``, so callers can batch it with their own reads.

    ``block`` are the ``blockOverrides`` of the simulated block; ``validation`` makes the node
    charge gas and expose the real ``block.basefee`` (without it the EVM sees a base fee of 0).
    """
    state_call: dict[str, Any] = {"calls": [_call_obj(tx)]}
    if block:
        state_call["blockOverrides"] = block
    return "eth_simulateV1", [
        {"blockStateCalls": [state_call], "traceTransfers": True, "validation": validation},
        "latest",
    ]


def sequence_request(txs: list[dict[str, Any]], blocks: list[dict[str, Any]], *,
                     validation: bool) -> tuple[str, list[Any]]:
    """ONE ``eth_simulateV1`` call running ``txs`` in sequence, ``txs[k]`` alone in the block
    ``blocks[k]`` describes: each sees the state the ones before it leave, in the block it
    would land in if they were mined one per block."""
    if len(txs) != len(blocks):
        raise ValueError("one block per transaction")
    states = [{"blockOverrides": block, "calls": [_call_obj(tx)]}
              for tx, block in zip(txs, blocks, strict=True)]
    return "eth_simulateV1", [
        {"blockStateCalls": states, "traceTransfers": True, "validation": validation}, "latest"]


def simulate_sequence(
    rpc: RpcClient,
    txs: list[dict[str, Any]],
    *,
    blocks: list[dict[str, Any]],
    asset_of: AssetLookup,
    native_symbol: str = "ETH",
    decode_revert: Callable[[str | None], str | None] | None = None,
    validation: bool = True,
) -> list[dict[str, Any]]:
    """:func:`simulate_transaction` for a sequence, in ONE ``eth_simulateV1`` call (see
    :func:`sequence_request`); one simulation dict per transaction, in order.

    Raises what the node raises (``RpcError``, ``InsufficientFunds``): with ``validation`` a
    node refuses the whole request when one call is invalid (geth says so for the request,
    not for a call), and a node without ``eth_simulateV1`` cannot run a sequence at all. The
    caller decides what to plan instead (``txplan`` plans the first transaction alone).
    """
    out = rpc.call(*sequence_request(txs, blocks, validation=validation))
    if not isinstance(out, list) or len(out) != len(txs):
        raise RpcError("eth_simulateV1: the node answered a different number of blocks.")
    nft = _nft_standard(rpc)
    return [_v1_result(tx, block["calls"][0], _Tracker(asset_of, nft), native_symbol,
                       decode_revert) for tx, block in zip(txs, out, strict=True)]


def simulate_transaction(
    rpc: RpcClient,
    tx: dict[str, Any],
    *,
    asset_of: AssetLookup,
    native_symbol: str = "ETH",
    decode_revert: Callable[[str | None], str | None] | None = None,
    v1_response: Any = _UNSET,
    v1_error: RpcError | None = None,
    block: dict[str, Any] | None = None,
    validation: bool = False,
) -> dict[str, Any]:
    """Simulate ``tx`` (``from``, ``to``, ``value`` int, ``data`` hex; ``gas`` and fee fields
    when known) on the latest state, in the block described by ``block`` (overrides).

    A caller that already sent :func:`simulation_request` (in a batch) passes its result as
    ``v1_response``, or the error it raised as ``v1_error``; otherwise the call is made here.
    """
    owner = to_checksum_address(tx["from"])
    tracker = _Tracker(asset_of, _nft_standard(rpc))
    call = _call_obj(tx)
    blocks = v1_response
    if v1_error is None and blocks is _UNSET:
        try:
            blocks = rpc.call(*simulation_request(tx, block=block, validation=validation))
        except RpcError as exc:
            if not method_missing(exc):
                # The node has eth_simulateV1 and refused this transaction (intrinsic gas,
                # fee below the base fee, ...): it would not execute either. Fail closed
                # rather than fall back to the partial trace.
                return {"success": False, "revertReason": exc.message, "gasUsed": "0",
                        "balanceChanges": [], "exposures": [], "method": "eth_simulateV1"}
            v1_error = exc
    if v1_error is not None:
        log.debug("eth_simulateV1 unavailable (%s); using the fallback", v1_error.message)
        return _fallback(rpc, tx, call, owner, tracker, native_symbol, decode_revert)
    return _v1_result(tx, blocks[0]["calls"][0], tracker, native_symbol, decode_revert)


def _v1_result(tx: dict[str, Any], result: dict[str, Any], tracker: _Tracker, native_symbol: str,
               decode_revert: Callable[[str | None], str | None] | None) -> dict[str, Any]:
    """One ``eth_simulateV1`` call result → the preview's simulation object."""
    owner = to_checksum_address(tx["from"])
    method = "eth_simulateV1"
    success = hex_to_int(result.get("status")) == 1
    revert_reason = None
    if not success:
        err = result.get("error") or {}
        data = err.get("data") or result.get("returnData")
        revert_reason = (decode_revert(data) if decode_revert else None) or err.get("message") \
            or "execution reverted"
    else:
        for entry in result.get("logs", []):
            tracker.apply_log(entry, owner)
    changes = tracker.balance_changes()
    for change in changes:
        if change["asset"]["type"] == "native":
            change["asset"]["symbol"] = native_symbol
    return {
        "success": success,
        "revertReason": revert_reason,
        "gasUsed": str(hex_to_int(result.get("gasUsed"))),
        "balanceChanges": changes,
        "exposures": tracker.exposures,
        "method": method,
    }


def _fallback(
    rpc: RpcClient, tx: dict[str, Any], call: dict[str, Any], owner: str, tracker: _Tracker,
    native_symbol: str, decode_revert: Callable[[str | None], str | None] | None,
) -> dict[str, Any]:
    success, revert_reason, gas = True, None, 0
    try:
        rpc.call("eth_call", [call, "latest"])
        gas = hex_to_int(rpc.call("eth_estimateGas", [call, "latest"]))
    except RpcError as exc:
        success = False
        data = exc.details.get("data")
        revert_reason = (decode_revert(data) if decode_revert and data else None) or exc.message
    if success:
        value = int(tx.get("value") or 0)
        if value and tx.get("to"):
            tracker.move(NATIVE_PSEUDO, "native", owner, tx["to"], value)
        data = tx.get("data") or "0x"
        if data.startswith("0xa9059cbb") and tx.get("to") and len(data) >= 138:
            words = _words("0x" + data[10:])
            tracker.move(tx["to"], "erc20", owner, _addr(f"{words[0]:064x}"), words[1])
    changes = tracker.balance_changes()
    for change in changes:
        if change["asset"]["type"] == "native":
            change["asset"]["symbol"] = native_symbol
    return {"success": success, "revertReason": revert_reason, "gasUsed": str(gas),
            "balanceChanges": changes, "exposures": tracker.exposures, "method": "fallback"}
