"""Gnosis Conditional Tokens (ERC-1155 outcome tokens), computed off-chain.

The ids follow ``CTHelpers`` of ``@gnosis.pm/conditional-tokens-contracts`` 1.0.3 (the bytecode
the devnet deploys):

- ``conditionId = keccak256(oracle ‖ questionId ‖ uint256 outcomeSlotCount)`` (packed);
- ``collectionId``: ``keccak256(conditionId ‖ uint256 indexSet)`` mapped onto the alt_bn128
  curve, added to the parent collection's point, compressed into 254 bits plus a parity bit;
- ``positionId = uint256(keccak256(collateral ‖ collectionId))`` — the ERC-1155 token id.

A binary market has two outcome slots: YES is index set ``0b01`` (1), NO is ``0b10`` (2).
Functions named ``*_calldata`` return the calldata of the contract's entry points.
"""

from __future__ import annotations

from typing import Any

from mm_agent.evm.signatures import keccak256

__all__ = [
    "BINARY_PARTITION",
    "NO_INDEX_SET",
    "YES_INDEX_SET",
    "ZERO32",
    "binary_position_ids",
    "collection_id",
    "condition_id",
    "merge_positions_calldata",
    "position_id",
    "prepare_condition_calldata",
    "question_id",
    "redeem_positions_calldata",
    "report_payouts_calldata",
    "set_approval_for_all_calldata",
    "split_position_calldata",
]

ZERO32 = b"\x00" * 32
YES_INDEX_SET = 1
NO_INDEX_SET = 2
BINARY_PARTITION = (YES_INDEX_SET, NO_INDEX_SET)

# alt_bn128 base field and curve y² = x³ + 3.
_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
_B = 3


def _b32(value: bytes | str) -> bytes:
    raw = bytes.fromhex(value[2:] if value.startswith("0x") else value) \
        if isinstance(value, str) else value
    if len(raw) != 32:
        raise ValueError("expected 32 bytes")
    return raw


def _addr(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"{address!r} is not an address")
    return raw


def question_id(text: str) -> bytes:
    """A devnet question id: ``keccak256(utf-8 text)``."""
    return keccak256(text.encode())


def condition_id(oracle: str, question: bytes | str, outcome_slot_count: int = 2) -> bytes:
    return keccak256(_addr(oracle) + _b32(question) + outcome_slot_count.to_bytes(32, "big"))


def _sqrt(a: int) -> int:
    # _P ≡ 3 (mod 4): a^((p+1)/4) is a square root whenever one exists.
    return pow(a, (_P + 1) // 4, _P)


def _ec_add(p1: tuple[int, int], p2: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = p1, p2
    if (x1, y1) == (0, 0):
        return p2
    if (x2, y2) == (0, 0):
        return p1
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return (0, 0)
        lam = 3 * x1 * x1 * pow(2 * y1, -1, _P) % _P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (lam * lam - x1 - x2) % _P
    return x3, (lam * (x1 - x3) - y1) % _P


def collection_id(condition: bytes | str, index_set: int,
                  parent_collection: bytes | str = ZERO32) -> bytes:
    x1 = int.from_bytes(keccak256(_b32(condition) + index_set.to_bytes(32, "big")), "big")
    odd = x1 >> 255 != 0
    while True:
        x1 = (x1 + 1) % _P
        yy = (x1 * x1 * x1 + _B) % _P
        y1 = _sqrt(yy)
        if y1 * y1 % _P == yy:
            break
    if (odd and y1 % 2 == 0) or (not odd and y1 % 2 == 1):
        y1 = _P - y1
    x2 = int.from_bytes(_b32(parent_collection), "big")
    if x2:
        odd2 = x2 >> 254 != 0
        x2 &= (1 << 254) - 1
        yy2 = (x2 * x2 * x2 + _B) % _P
        y2 = _sqrt(yy2)
        if (odd2 and y2 % 2 == 0) or (not odd2 and y2 % 2 == 1):
            y2 = _P - y2
        if y2 * y2 % _P != yy2:
            raise ValueError("invalid parent collection id")
        x1, y1 = _ec_add((x1, y1), (x2, y2))
    if y1 % 2 == 1:
        x1 ^= 1 << 254
    return x1.to_bytes(32, "big")


def position_id(collateral: str, collection: bytes | str) -> int:
    return int.from_bytes(keccak256(_addr(collateral) + _b32(collection)), "big")


def binary_position_ids(collateral: str, condition: bytes | str) -> dict[str, int]:
    """``{"YES": tokenId, "NO": tokenId}`` of a two-outcome condition with no parent."""
    return {
        "YES": position_id(collateral, collection_id(condition, YES_INDEX_SET)),
        "NO": position_id(collateral, collection_id(condition, NO_INDEX_SET)),
    }


# --- calldata ------------------------------------------------------------------------------------
def _call(signature: str, types: list[str], args: list[Any]) -> bytes:
    from eth_abi import encode

    return keccak256(signature.encode())[:4] + encode(types, args)


def prepare_condition_calldata(oracle: str, question: bytes | str, slots: int = 2) -> bytes:
    return _call("prepareCondition(address,bytes32,uint256)", ["address", "bytes32", "uint256"],
                 [oracle, _b32(question), slots])


def report_payouts_calldata(question: bytes | str, payouts: list[int]) -> bytes:
    """Sent by the oracle: e.g. ``[1, 0]`` resolves a binary market YES."""
    return _call("reportPayouts(bytes32,uint256[])", ["bytes32", "uint256[]"],
                 [_b32(question), payouts])


def split_position_calldata(collateral: str, condition: bytes | str, amount: int,
                            partition: tuple[int, ...] = BINARY_PARTITION,
                            parent_collection: bytes | str = ZERO32) -> bytes:
    """Locks ``amount`` collateral (approved to the CTF) for ``amount`` of each outcome."""
    return _call("splitPosition(address,bytes32,bytes32,uint256[],uint256)",
                 ["address", "bytes32", "bytes32", "uint256[]", "uint256"],
                 [collateral, _b32(parent_collection), _b32(condition), list(partition), amount])


def merge_positions_calldata(collateral: str, condition: bytes | str, amount: int,
                             partition: tuple[int, ...] = BINARY_PARTITION,
                             parent_collection: bytes | str = ZERO32) -> bytes:
    return _call("mergePositions(address,bytes32,bytes32,uint256[],uint256)",
                 ["address", "bytes32", "bytes32", "uint256[]", "uint256"],
                 [collateral, _b32(parent_collection), _b32(condition), list(partition), amount])


def redeem_positions_calldata(collateral: str, condition: bytes | str,
                              index_sets: tuple[int, ...] = BINARY_PARTITION,
                              parent_collection: bytes | str = ZERO32) -> bytes:
    return _call("redeemPositions(address,bytes32,bytes32,uint256[])",
                 ["address", "bytes32", "bytes32", "uint256[]"],
                 [collateral, _b32(parent_collection), _b32(condition), list(index_sets)])


def set_approval_for_all_calldata(operator: str, approved: bool = True) -> bytes:
    return _call("setApprovalForAll(address,bool)", ["address", "bool"], [operator, approved])
