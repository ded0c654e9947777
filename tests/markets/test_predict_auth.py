"""`mm predict auth` and `mm predict approve`: the two halves of setup on their own. Credentials
are derived by one ClobAuth signature through the wallet, checked with an L2 request and never
stored or shown (only the key id); approvals go through the same pipeline path as setup's,
unlimited only when missing or exactly ``--amount``. Devnet (Python API and CLI) and the
testnet back end against the local market service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mm_agent.errors import PredictSetupRequired
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.predict import Predict, read_state
from mm_agent.operations.handlers.predict import verified_contracts

from .test_predict_networks import ACCOUNT0, AMOY, amoy, amoy_service, testnet  # noqa: F401


def _allowance(chain: Chain, token: str, spender: str) -> int:
    return int(chain.call(token, encode_call("allowance(address,address)",
                                             ["address", "address"], [ACCOUNT0, spender]),
                          ["uint256"]))


def test_auth_then_approve_is_setup_on_the_devnet(predict_home: Home, wallet: Any, rpc: Chain,
                                                  markets: dict[str, Any]) -> None:
    from mm_agent.security.scan import reference_prices

    musd, exchange = markets["collateral"]["address"], markets["contracts"]["CtfExchange"]
    yes = markets["markets"][0]["tokens"][0]["tokenId"]
    with Predict(wallet, home=predict_home, reference_prices=reference_prices,
                 contracts=verified_contracts) as p:
        assert p.status()["account"]["credentials"] is False
        a = p.auth()
        assert a["credentials"] is True and a["valid"] is True and a["refreshed"] is False
        assert a["stored"] is False and a["source"] == "devnet"
        text = json.dumps(a)
        assert "secret" not in text and "passphrase" not in text
        # --refresh asks for creation first; the devnet derives the same key again.
        assert p.auth(refresh=True)["apiKey"] == a["apiKey"]
        account = p.status()["account"]
        assert account["credentials"] is True and account["setupComplete"] is False
        with pytest.raises(PredictSetupRequired):
            p.place(yes, "buy", "1", "0.55")

        # approve without --amount: the reference's approvals (unlimited, only when missing).
        ap = p.approve()
        assert [t["step"] for t in ap["transactions"]] == ["approveCollateral",
                                                          "approveOutcomeTokens"]
        assert all(t["status"] == "confirmed" for t in ap["transactions"])
        assert ap["approvals"]["collateralAllowance"] == "unlimited"
        assert ap["setupComplete"] is True and p.status()["account"]["setupComplete"] is True
        assert p.watch(ap["pollingId"])["status"] == "COMPLETED"
        assert p.approve()["transactions"] == []  # nothing missing: nothing sent

        # An exact allowance replaces the unlimited one (one transaction, then none).
        exact = p.approve("25")
        assert [t["step"] for t in exact["transactions"]] == ["approveCollateral"]
        assert exact["approvals"]["collateralAllowance"] == "25"
        assert _allowance(rpc, musd, exchange) == 25_000_000
        assert p.approve("25")["transactions"] == []
        # Trading spends from it.
        assert p.place(yes, "buy", "10", "0.55")["status"] == "FILLED"
        assert _allowance(rpc, musd, exchange) == 19_500_000
        assert [h["kind"] for h in p.history()["history"]][:2] == ["order", "approve"]
    state = read_state(predict_home)
    assert "secret" not in str(state) and "passphrase" not in str(state)
    assert state["accounts"][ACCOUNT0.lower()]["devnet"]["credentials"] is True


def test_auth_and_approve_from_the_cli(predict_home: Home, mm_cli: Any) -> None:
    rc, out, _ = mm_cli("predict", "auth")
    assert rc == 0 and out["data"]["credentials"] is True and out["data"]["valid"] is True
    assert "secret" not in json.dumps(out) and "passphrase" not in json.dumps(out)
    rc, out, _ = mm_cli("predict", "auth", "--refresh")
    assert rc == 0 and out["data"]["refreshed"] is True
    rc, out, _ = mm_cli("predict", "approve", "--amount", "5", "--wait")
    assert rc == 0, out
    assert out["data"]["approvals"]["collateralAllowance"] == "5"
    assert out["data"]["setupComplete"] is True
    rc, out, _ = mm_cli("predict", "watch", "--id", out["data"]["pollingId"])
    assert rc == 0 and out["data"]["kind"] == "approve"


@pytest.mark.parametrize(("args", "code"), [
    (("approve", "--amount", "0"), "INVALID_AMOUNT"),
    (("approve", "--amount", "-1"), None),
    (("approve", "--amount", "five"), None),
    (("auth", "--refresh", "yes"), None),
])
def test_bad_input_exits_2(predict_home: Home, mm_cli: Any, args: tuple[str, ...],
                           code: str | None) -> None:
    rc, out, _ = mm_cli("predict", *args)
    assert rc == 2, out
    assert out["ok"] is False and out["error"]["code"]
    if code:
        assert out["error"]["code"] == code


def test_testnet_auth_and_exact_approve(testnet: Predict, amoy: str,  # noqa: F811
                                        amoy_service: Any) -> None:  # noqa: F811
    p = testnet
    a = p.auth()
    assert a["valid"] is True and a["source"] == "testnet"
    assert amoy_service.api_keys_of(ACCOUNT0) == [a["apiKey"]]
    ap = p.approve("50")
    assert ap["setupComplete"] is True and ap["source"] == "testnet"
    verified = verified_contracts(AMOY)
    assert verified is not None
    with Chain(amoy) as chain:  # exactly 50 pUSD, for the verified exchange
        assert _allowance(chain, verified["collateral"]["address"],
                          verified["exchange"]) == 50_000_000
    yes = amoy_service.markets[0]["tokens"][0]["tokenId"]
    placed = p.place(yes, "buy", "10", "0.55")
    assert placed["status"] == "FILLED" and placed["cost"] == "5.5"
