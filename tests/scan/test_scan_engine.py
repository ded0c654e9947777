"""The scan engine: aggregation, remote scanners (fail closed), everyday Benign actions."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from mm_agent.errors import RpcError
from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import Feature, ScanInput, aggregate, scan

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
DEX = cs("0x" + "5d" * 20)
FRESH = cs("0x" + "e0" * 20)
CONTRACTS = {TOKEN.lower(), DEX.lower()}
SECRET_URL = "https://scanner.example/v1?apiKey=sk-live-123"


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    return "0x" + (keccak256(signature.encode())[:4] + encode(inner.split(","), list(args))).hex()


def tx_input(to: str, data: str = "0x", value: int = 0, *, decode: bool = True,
             **kw: Any) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": value, "data": data, "authorizationList": None},
        decoded=decode_calldata(data, to=to, value=value) if decode else None,
        is_contract=kw.pop("is_contract", lambda a: a.lower() in CONTRACTS), **kw,
    )


def native_sim(delta: int) -> dict[str, Any]:
    return {"success": True, "revertReason": None, "gasUsed": 21000, "exposures": [],
            "balanceChanges": [
                {"address": WALLET, "asset": {"type": "native", "address": None,
                                              "symbol": "ETH", "decimals": 18, "tokenId": None},
                 "delta": str(-delta)},
                {"address": FRESH, "asset": {"type": "native", "address": None,
                                             "symbol": "ETH", "decimals": 18, "tokenId": None},
                 "delta": str(delta)}]}


class Raising:
    def scan(self, inp: ScanInput) -> list[Feature]:
        raise ConnectionError(f"cannot reach {SECRET_URL}")


class Flagging:
    def scan(self, inp: ScanInput) -> list[Feature]:
        return [Feature("Warning", "REMOTE_RISK", "remote says risky", inp.tx_to,
                        "other", "remote")]


class Garbage:
    def scan(self, inp: ScanInput) -> Any:
        return {"resultType": "Benign"}


def test_everyday_actions_are_benign() -> None:
    everyday = [
        tx_input(FRESH, value=10**17, simulation=native_sim(10**17)),
        tx_input(TOKEN, calldata("approve(address,uint256)", DEX, 25 * 10**6)),
        tx_input(TOKEN, calldata("transfer(address,uint256)", FRESH, 5 * 10**6)),
        ScanInput(kind="message", chain_id=1, wallet=WALLET,
                  message="Sign in to app.example\nNonce: 42"),
    ]
    for inp in everyday:
        result = scan(inp)
        assert result.result_type == "Benign", result.to_dict()
        assert result.reason == "" and result.classification == ""


def test_to_dict_is_blockaid_shaped() -> None:
    out = scan(tx_input(TOKEN, calldata("approve(address,uint256)", FRESH, 1))).to_dict()
    # Issue 9: the scan also carries the grants the action hands out (for the policy).
    assert set(out) == {"resultType", "reason", "classification", "description", "features",
                        "grants"}
    assert out["resultType"] == "Malicious" and out["reason"] == "approval_farming"
    assert set(out["features"][0]) == {"type", "featureId", "description", "address"}


def test_remote_scanner_raising_yields_error_without_leaking() -> None:
    r = scan(tx_input(FRESH, value=1), remote=[Raising()])
    assert r.result_type == "Error"
    assert r.features[0].feature_id == "REMOTE_SCANNER_ERROR"
    assert "apiKey" not in str(r.to_dict()) and "ConnectionError" in r.description


def test_malicious_beats_remote_error_and_error_beats_warning() -> None:
    bad = tx_input(TOKEN, calldata("approve(address,uint256)", FRESH, 1))
    assert scan(bad, remote=[Raising()]).result_type == "Malicious"
    assert scan(tx_input(FRESH, value=1), remote=[Flagging(), Raising()]).result_type == "Error"


def test_remote_features_are_merged_and_garbage_fails_closed() -> None:
    r = scan(tx_input(FRESH, value=1), remote=[Flagging()])
    assert (r.result_type, r.reason, r.classification) == ("Warning", "other", "remote")
    assert scan(tx_input(FRESH, value=1), remote=[Garbage()]).result_type == "Error"


def test_failing_local_lookup_fails_closed() -> None:
    def rpc_down(address: str) -> bool:
        raise RpcError("node down")

    inp = tx_input(TOKEN, calldata("approve(address,uint256)", DEX, 1), is_contract=rpc_down)
    r = scan(inp)
    assert r.result_type == "Error" and r.features[0].feature_id == "LOCAL_RULE_ERROR"


def test_calldata_is_decoded_when_the_caller_did_not() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", FRESH, 1), decode=False))
    assert r.reason == "approval_farming"


def test_undecodable_calldata_is_noted_not_fatal() -> None:
    r = scan(tx_input(TOKEN, "0xzz", decode=False))
    assert r.result_type == "Benign" and r.features[0].feature_id == "UNDECODED_CALLDATA"


def test_is_contract_is_memoised_per_scan() -> None:
    calls: list[str] = []

    def probe(address: str) -> bool:
        calls.append(address)
        return True

    inner = bytes.fromhex(calldata("approve(address,uint256)", DEX, 2**256 - 1)[2:])
    scan(tx_input(DEX, calldata("multicall(bytes[])", [inner, inner]), is_contract=probe))
    assert len(calls) == len({c.lower() for c in calls})


def test_aggregate_worst_wins_and_info_is_benign() -> None:
    info = Feature("Info", "I", "info")
    warn = Feature("Warning", "W", "warn", None, "approval_farming", "x")
    mal = Feature("Malicious", "M", "mal", None, "known_malicious", "y")
    r = aggregate([info, warn, mal])
    assert (r.result_type, r.reason, r.description) == ("Malicious", "known_malicious", "mal")
    assert [f.feature_id for f in r.features] == ["M", "W", "I"]
    r = aggregate([info])
    assert (r.result_type, r.reason, r.classification) == ("Benign", "", "")
    assert aggregate([]).result_type == "Benign"
