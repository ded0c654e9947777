"""Rule family 5: risky transfers and outflows (mm_agent.security.scan.rules_transfers)."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from mm_agent.evm.addresses import ZERO_ADDRESS
from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import ScanInput, scan

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
NFT = cs("0x" + "6f" * 20)
ROUTER = cs("0x" + "4c" * 20)  # known contract
CLAIM = cs("0x" + "5d" * 20)  # a contract never used
EOA = cs("0x" + "e0" * 20)
CONTRACTS = {a.lower() for a in (TOKEN, NFT, ROUTER, CLAIM)}


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    types = inner.split(",") if inner else []
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, list(args))).hex()


def tx_input(to: str, data: str = "0x", value: int = 0,
             simulation: dict[str, Any] | None = None) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": value, "data": data},
        decoded=decode_calldata(data, to=to, value=value), simulation=simulation,
        is_contract=lambda a: a.lower() in CONTRACTS,
        known_counterparties=frozenset({ROUTER.lower(), TOKEN.lower()}),
    )


def ids(r: Any) -> list[str]:
    return [f.feature_id for f in r.features]


def test_erc20_to_its_own_contract_warns() -> None:
    r = scan(tx_input(TOKEN, calldata("transfer(address,uint256)", TOKEN, 5)))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "other", "transfer_to_token_contract")


def test_nft_to_its_own_contract_warns() -> None:
    data = calldata("safeTransferFrom(address,address,uint256)", WALLET, NFT, 7)
    assert scan(tx_input(NFT, data)).classification == "transfer_to_token_contract"


def test_erc1155_and_erc20_to_zero_address_warn() -> None:
    data = calldata("safeTransferFrom(address,address,uint256,uint256,bytes)",
                    WALLET, ZERO_ADDRESS, 1, 2, b"")
    assert scan(tx_input(NFT, data)).classification == "transfer_to_zero_address"
    r = scan(tx_input(TOKEN, calldata("transfer(address,uint256)", ZERO_ADDRESS, 5)))
    assert (r.result_type, r.classification) == ("Warning", "transfer_to_zero_address")


def test_native_to_zero_address_warns() -> None:
    r = scan(tx_input(ZERO_ADDRESS, value=1))
    assert (r.result_type, r.classification) == ("Warning", "transfer_to_zero_address")
    assert ids(r) == ["NATIVE_TO_ZERO_ADDRESS"]


def test_plain_transfers_to_people_are_benign() -> None:
    assert scan(tx_input(EOA, value=10**18)).result_type == "Benign"
    assert scan(tx_input(TOKEN, calldata("transfer(address,uint256)", EOA, 5))
                ).result_type == "Benign"


# --- outflow with nothing back ------------------------------------------------------------------
def change(asset_type: str, delta: int, address: str = WALLET) -> dict[str, Any]:
    asset = {"type": asset_type, "address": None if asset_type == "native" else TOKEN,
             "symbol": "ETH" if asset_type == "native" else "USDC",
             "decimals": 18 if asset_type == "native" else 6, "tokenId": None}
    return {"address": address, "asset": asset, "delta": str(delta)}


def sim(*changes: dict[str, Any], success: bool = True) -> dict[str, Any]:
    return {"success": success, "revertReason": None, "gasUsed": 80000,
            "balanceChanges": list(changes), "exposures": []}


def test_tokens_leaving_for_unknown_contract_with_nothing_back_warns() -> None:
    s = sim(change("erc20", -100), change("erc20", 100, CLAIM))
    r = scan(tx_input(CLAIM, calldata("claim(uint256)", 1), simulation=s))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "transfer_farming", "outflow_without_return")
    assert r.features[0].address == CLAIM and "USDC" in r.description


def test_native_value_to_unknown_contract_with_nothing_back_warns() -> None:
    s = sim(change("native", -(10**17)))
    r = scan(tx_input(CLAIM, calldata("mint()"), value=10**17, simulation=s))
    assert r.reason == "transfer_farming"


def test_outflow_negatives() -> None:
    data = calldata("claim(uint256)", 1)
    # Something comes back (a swap, a deposit for shares).
    assert scan(tx_input(CLAIM, data, simulation=sim(change("erc20", -100),
                                                      change("native", 10**15)))
                ).result_type == "Benign"
    # A contract the wallet used before.
    assert scan(tx_input(ROUTER, data, simulation=sim(change("erc20", -100)))
                ).result_type == "Benign"
    # Only gas: a native decrease without value sent.
    assert scan(tx_input(CLAIM, data, simulation=sim(change("native", -(10**15))))
                ).result_type == "Benign"
    # A reverting simulation is never broadcast; the scan does not guess.
    assert scan(tx_input(CLAIM, data, simulation=sim(change("erc20", -100), success=False))
                ).result_type == "Benign"
    # An ERC-20 transfer to a person with its simulation.
    transfer = calldata("transfer(address,uint256)", EOA, 100)
    assert scan(tx_input(TOKEN, transfer, simulation=sim(change("erc20", -100)))
                ).result_type == "Benign"


def test_erc20_transfer_to_unknown_contract_warns() -> None:
    transfer = calldata("transfer(address,uint256)", CLAIM, 100)
    r = scan(tx_input(TOKEN, transfer, simulation=sim(change("erc20", -100))))
    assert r.reason == "transfer_farming" and r.features[0].address == CLAIM
