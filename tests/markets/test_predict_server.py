"""`mm predict` with a guard-mode server wallet on the devnet (real service, real anvil, the
devnet market service): setup through the policy, a small buy inside the rolling-24h limit
completes alone, a large one waits at ``AWAITING_MFA`` (``outflow_limit``) and is posted and
filled once the human approves it through the mailed link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from server.conftest import (  # noqa: F401  (fixtures)
    database_urls,
    db_backend,
    pg_cluster,
    service,
    service_factory,
)
from server.test_approvals import post, wait_for_links
from server.test_client import attach_chain, fund, init_server_wallet, sign_in
from server.test_policy_service import policy_yaml

from mm_agent import Wallet
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain
from mm_agent.markets.devnet_deploy import erc1155_balance
from mm_agent.markets.predict import Predict
from mm_agent.operations.handlers.predict import verified_contracts


class Approver:
    """The human: approves approval mails through their link, each once."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.done: list[str] = []

    def approve_next(self, *_args: Any) -> None:
        links = wait_for_links(self.svc.outbox_messages, len(self.done) + 1)
        for _link, approval_id, secret in links:
            if approval_id not in self.done:
                resp = post(self.svc, approval_id, t=secret, decision="approve")
                assert resp.status_code == 200, resp.text
                self.done.append(approval_id)
                return


@pytest.fixture
def guarded(service: Any, chain: Any, devnet_home: Home, markets: dict[str, Any],  # noqa: F811
            market_service: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ...]]:
    """A guard-mode server wallet with 200 mUSD, a policy allowing the devnet's mUSD, Conditional
    Tokens and CTF exchange with a $50 rolling limit, and `mm predict` pointed at the service."""
    from mm_agent.security.policy.document import template
    from mm_agent.security.scan import reference_prices

    sign_in(service, devnet_home, monkeypatch)
    attach_chain(service, chain)
    data = Home(service.data_dir)  # the service's engine knows the devnet's markets
    data.write_json("devnet.json", {**data.read_json("devnet.json"), "markets": markets})
    local = devnet_home.read_json("devnet.json")
    devnet_home.write_json("devnet.json", {**local, "markets": {
        **markets, "service": {"url": market_service.url,
                               "gammaUrl": market_service.url + "/gamma"}}})
    init_server_wallet(devnet_home, "guard")
    wallet = Wallet.from_env(home=devnet_home)
    fund(chain, wallet.address, musd=200)
    approver = Approver(service)

    musd = chain.token("mUSD")["address"]
    exchange = markets["contracts"]["CtfExchange"]
    ctf = markets["contracts"]["ConditionalTokens"]
    # The policy template offers the devnet's exchange for the allowlist.
    assert exchange in template(wallet.address, devnet={"markets": markets})
    change = wallet.set_policy(policy_yaml(wallet.address, allow=[musd, ctf, exchange],
                                           chains=[31337], limit="50"))
    if change.get("status") == "pending_approval":
        approver.approve_next()
        assert wallet.requests.wait(change["pollingId"], 30).status == "COMPLETED"
    with Predict(wallet, home=devnet_home, reference_prices=reference_prices,
                 contracts=verified_contracts) as p:
        yield p, wallet, approver, service


def test_guard_limit_sends_a_large_buy_to_awaiting_mfa(guarded: tuple[Any, ...], rpc: Chain,
                                                       markets: dict[str, Any]) -> None:
    p, wallet, approver, svc = guarded
    # Setup: the ClobAuth signature and the two approvals go through the server's pipeline;
    # whatever the policy holds (an unlimited grant exceeds what a $50 window can value) the
    # human approves through the mailed link while the wallet waits.
    wallet.on_awaiting = approver.approve_next
    assert p.setup()["setupComplete"] is True
    wallet.on_awaiting = None
    mails = len(svc.outbox_messages())

    yes = markets["markets"][0]["tokens"][0]["tokenId"]
    # Inside the limit ($5.50 of a $50 window): signed, posted and filled without the human.
    small = p.place(yes, "buy", "10", "0.55")
    assert small["status"] == "FILLED" and small["cost"] == "5.5"
    assert len(svc.outbox_messages()) == mails  # no approval mail

    # Over the limit (worst case $90): the order's signing request waits for the human.
    big = p.place(yes, "buy", "150", "0.60", wallet_timeout=1)
    assert big["status"] == "AWAITING_MFA" and big["txHashes"] == []
    assert big["next"] == f"mm predict watch --id {big['orderId']} --wait"
    signing = wallet.requests.get(big["signingPollingId"])
    assert signing.status == "AWAITING_MFA" and signing.kind == "typed-data"
    rules = {v["rule"] for v in signing.preview["policy"]["violations"]}
    assert rules == {"outflow_limit"}, rules
    assert p.watch(big["orderId"])["status"] == "AWAITING_MFA"  # nothing posted yet
    assert p.orders()["orders"] == []

    approver.approve_next()  # the human opens the mailed link and approves
    done = p.watch(big["orderId"], wait=True, timeout=30)
    # 90 at 0.55 then 60 at 0.60 on the book; the service settled it on chain.
    assert done["status"] == "FILLED" and done["filledSize"] == "150" and done["txHashes"]
    assert done["cost"] == "85.5"
    assert erc1155_balance(rpc, markets["contracts"]["ConditionalTokens"], wallet.address,
                           yes) == 160_000_000
    assert p.watch(big["orderId"])["status"] == "FILLED"


def _maker_sells_into(market_service: Any, rpc: Chain, token_id: str, size: str,
                      price: str) -> str:
    """The market maker (anvil account 2, unlocked) sells ``size`` at ``price``: a taker that
    hits a resting bid; returns the settlement's transaction hash."""
    import json

    from mm_agent.markets import orders as morders
    from mm_agent.markets.service import MARKET_MAKER

    order = morders.build_order(maker=MARKET_MAKER, token_id=int(token_id), side="SELL",
                                price=price, size=size)
    typed = morders.order_typed_data(order, chain_id=market_service.chain_id,
                                     exchange=market_service.exchange)
    signature = rpc.rpc.call("eth_signTypedData_v4", [MARKET_MAKER, json.dumps(typed)])
    key = market_service._creds_for(MARKET_MAKER, 0)["apiKey"]
    resp = market_service.post_order(MARKET_MAKER, key, {
        "order": {**order.message(), "side": "SELL", "signature": signature},
        "owner": key, "orderType": "FAK"})
    assert resp.get("transactionsHashes"), resp
    return str(resp["transactionsHashes"][0])


def test_cancel_releases_the_unfilled_share_verified_on_chain(
        guarded: tuple[Any, ...], rpc: Chain, markets: dict[str, Any],
        market_service: Any) -> None:
    """Issue 15: a cancel releases the unfilled remainder read from chain — by the service,
    from the chain (``POST /v1/requests/{pollingId}/release``), never from the client."""
    from mm_agent.errors import MMError

    p, wallet, approver, svc = guarded
    wallet.on_awaiting = approver.approve_next
    assert p.setup()["setupComplete"] is True
    wallet.on_awaiting = None
    yes = markets["markets"][0]["tokens"][0]["tokenId"]

    # A resting $40 BUY (80 at 0.50, inside the 0.45/0.55 spread) counts $40 when signed.
    first = p.place(yes, "buy", "80", "0.50")
    assert first["status"] == "OPEN" and first["signingPollingId"]
    over = p.place(yes, "buy", "40", "0.50", wallet_timeout=1)  # $40 + $20 > $50
    assert over["status"] == "AWAITING_MFA"
    wallet.requests.cancel(over["signingPollingId"])  # withdrawn: its reservation never was
    mails = len(svc.outbox_messages())  # the one above asked the human; nothing below does

    # A release for an order that is not cancelled on chain changes nothing.
    with pytest.raises(MMError) as err:
        wallet.requests.release_order(first["signingPollingId"], "0x" + "ab" * 32)
    assert err.value.code == "ORDER_NOT_CANCELLED"

    # Cancel: off the book, then on chain through the wallet; the service verifies and
    # releases all $40 (nothing filled).
    out = p.cancel(order_id=first["orderId"])
    assert out["canceled"] == [first["orderId"]]
    [rel] = out["released"]
    assert rel["released"] is True, rel
    assert rel["filledMakerAmount"] == "0" and rel["unfilledMakerAmount"] == "40000000"
    assert rel["releasedUsd"] == "40.00" and rel["remainingUsd"] == "0.00"
    # A second release is a no-op.
    again = wallet.requests.release_order(first["signingPollingId"], rel["cancelTxHash"])
    assert again["released"] is False and again["outflowState"] == "settled"
    assert again["remainingUsd"] == "0.00"

    # The window has room again: a new $40 BUY goes through without the human.
    second = p.place(yes, "buy", "80", "0.50")
    assert second["status"] == "OPEN"
    assert len(svc.outbox_messages()) == mails  # neither the cancel nor the new buy asked

    # Partly filled: the maker sells 30 into it ($15 filled); the cancel releases $25 only.
    fill_tx = _maker_sells_into(market_service, rpc, yes, "30", "0.50")
    with pytest.raises(MMError) as err:  # a fill is not a cancel
        wallet.requests.release_order(second["signingPollingId"], fill_tx)
    assert err.value.code == "ORDER_NOT_CANCELLED"
    out = p.cancel(order_id=second["orderId"])
    [rel] = out["released"]
    assert rel["released"] is True, rel
    assert rel["filledMakerAmount"] == "15000000" and rel["unfilledMakerAmount"] == "25000000"
    assert rel["reservedUsd"] == "40.00" and rel["releasedUsd"] == "25.00"
    assert rel["remainingUsd"] == "15.00"
    # The filled $15 still counts: $15 + $40 is over the $50 limit, $15 + $25 is not.
    assert p.place(yes, "buy", "80", "0.50", wallet_timeout=1)["status"] == "AWAITING_MFA"
    assert p.place(yes, "buy", "50", "0.50")["status"] == "OPEN"


def test_exact_approve_passes_guard_mode_without_the_human(guarded: tuple[Any, ...],
                                                           rpc: Chain,
                                                           markets: dict[str, Any]) -> None:
    """`mm predict approve --amount`: an exact grant to the allowlisted exchange, valued inside
    the rolling limit, goes through the server's pipeline without the human (setup's unlimited
    one needed them); `auth` signs its ClobAuth through the same pipeline."""
    from mm_agent.markets.chain import encode_call

    p, wallet, approver, svc = guarded
    wallet.on_awaiting = approver.approve_next
    assert p.setup()["approvals"]["collateralAllowance"] == "unlimited"
    wallet.on_awaiting = None
    mails = len(svc.outbox_messages())
    assert p.auth()["valid"] is True
    out = p.approve("20")
    assert [t["step"] for t in out["transactions"]] == ["approveCollateral"]
    assert out["approvals"]["collateralAllowance"] == "20" and out["setupComplete"] is True
    allowance = rpc.call(markets["collateral"]["address"], encode_call(
        "allowance(address,address)", ["address", "address"],
        [wallet.address, markets["contracts"]["CtfExchange"]]), ["uint256"])
    assert int(allowance) == 20_000_000
    assert len(svc.outbox_messages()) == mails  # no approval mail
