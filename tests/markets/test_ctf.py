"""Conditional Tokens ids computed off-chain equal the deployed contract's view functions."""

from __future__ import annotations

from typing import Any

from mm_agent.markets import ctf
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.devnet_deploy import (
    create_market,
    erc20_balance,
    erc1155_balance,
    resolve_market,
    split_collateral,
)

ACCOUNT2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _view(rpc: Chain, ctf_address: str, sig: str, types: list[str], args: list[Any],
          out: str) -> Any:
    return rpc.call(ctf_address, encode_call(sig, types, args), [out])


def test_ids_match_the_contract(markets: dict[str, Any], rpc: Chain) -> None:
    ctf_address = markets["contracts"]["ConditionalTokens"]
    collateral = markets["collateral"]["address"]
    for market in markets["markets"]:
        qid = bytes.fromhex(market["questionId"][2:])
        cid = _view(rpc, ctf_address, "getConditionId(address,bytes32,uint256)",
                    ["address", "bytes32", "uint256"], [market["oracle"], qid, 2], "bytes32")
        assert "0x" + cid.hex() == market["conditionId"]
        assert ctf.condition_id(market["oracle"], qid, 2) == cid
        assert _view(rpc, ctf_address, "getOutcomeSlotCount(bytes32)", ["bytes32"], [cid],
                     "uint256") == 2
        for index_set, token in zip(ctf.BINARY_PARTITION, market["tokens"], strict=True):
            coll = _view(rpc, ctf_address, "getCollectionId(bytes32,bytes32,uint256)",
                         ["bytes32", "bytes32", "uint256"], [ctf.ZERO32, cid, index_set],
                         "bytes32")
            assert ctf.collection_id(cid, index_set) == coll
            pos = _view(rpc, ctf_address, "getPositionId(address,bytes32)",
                        ["address", "bytes32"], [collateral, coll], "uint256")
            assert ctf.position_id(collateral, coll) == pos == int(token["tokenId"])
    # A nested collection (parent != 0) uses the curve addition: same answer.
    first, second = markets["markets"]
    parent = ctf.collection_id(first["conditionId"], 1)
    for index_set in (1, 2, 3):
        onchain = _view(rpc, ctf_address, "getCollectionId(bytes32,bytes32,uint256)",
                        ["bytes32", "bytes32", "uint256"],
                        [parent, bytes.fromhex(second["conditionId"][2:]), index_set], "bytes32")
        assert ctf.collection_id(second["conditionId"], index_set, parent) == onchain


def test_split_resolve_redeem(markets: dict[str, Any], rpc: Chain) -> None:
    ctf_address = markets["contracts"]["ConditionalTokens"]
    collateral = markets["collateral"]["address"]
    market = create_market(rpc, ctf_address, collateral, markets["oracle"],
                           "Will this test pass?", sender=markets["deployer"])
    yes, no = (int(t["tokenId"]) for t in market["tokens"])
    split_collateral(rpc, ctf_address, collateral, ACCOUNT2, market["conditionId"], 25_000_000)
    assert erc1155_balance(rpc, ctf_address, ACCOUNT2, yes) == 25_000_000
    assert erc1155_balance(rpc, ctf_address, ACCOUNT2, no) == 25_000_000
    assert erc20_balance(rpc, collateral, ACCOUNT2) == 0
    resolve_market(rpc, ctf_address, market, [1, 0])
    rpc.transact(ACCOUNT2, ctf_address,
                 ctf.redeem_positions_calldata(collateral, market["conditionId"]))
    assert erc20_balance(rpc, collateral, ACCOUNT2) == 25_000_000  # YES paid 1, NO 0
    assert erc1155_balance(rpc, ctf_address, ACCOUNT2, yes) == 0
