"""`mm swap` with a guard-mode server wallet on the devnet (real service, real anvil, the
markets deployment): the exact approval and the swap are service jobs. Execute waits for the
approval job before it sends the swap; a job that stops at ``AWAITING_MFA`` is recorded and
``swap status`` reports it; once the human approves, the swap completes and pays the quote."""

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
from server.test_client import attach_chain, fund, init_server_wallet, sign_in
from server.test_policy_service import policy_yaml

from mm_agent import Wallet
from mm_agent.local.state import Home
from mm_agent.markets.swap import SwapService

from .test_predict_server import Approver

CHAIN = 31337


def _guarded(svc: Any, chain: Any, home: Home, markets: dict[str, Any],
             monkeypatch: pytest.MonkeyPatch, limit: str) -> tuple[Any, Approver]:
    sign_in(svc, home, monkeypatch)
    attach_chain(svc, chain)
    data = Home(svc.data_dir)  # the service's engine knows the devnet's markets
    data.write_json("devnet.json", {**data.read_json("devnet.json"), "markets": markets})
    home.write_json("devnet.json", {**home.read_json("devnet.json"), "markets": markets})
    init_server_wallet(home, "guard")
    wallet = Wallet.from_env(home=home)
    fund(chain, wallet.address, musd=200)
    approver = Approver(svc)
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    router = markets["contracts"]["UniswapV2Router02"]
    # The router is allowlisted; the pairs receive the sold token (token_recipients).
    pairs = [p["pair"] for p in markets["pools"]]
    change = wallet.set_policy(policy_yaml(wallet.address, allow=[musd, mdai, router],
                                           recipients=pairs, chains=[CHAIN], limit=limit))
    if change.get("status") == "pending_approval":
        approver.approve_next()
        assert wallet.requests.wait(change["pollingId"], 30).status == "COMPLETED"
    return wallet, approver


@pytest.fixture
def roomy(service: Any, chain: Any, devnet_home: Home, markets: dict[str, Any],  # noqa: F811
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Approver]]:
    """Router allowlisted, a $1000 rolling limit: swaps go through without the human."""
    yield _guarded(service, chain, devnet_home, markets, monkeypatch, "1000")


@pytest.fixture
def tight(service: Any, chain: Any, devnet_home: Home, markets: dict[str, Any],  # noqa: F811
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Approver]]:
    """Router allowlisted, a $50 rolling limit: a $100 swap needs the human."""
    yield _guarded(service, chain, devnet_home, markets, monkeypatch, "50")


def test_server_wallet_swap_receives_the_quote(roomy: tuple[Any, Approver], chain: Any,
                                               markets: dict[str, Any]) -> None:
    wallet, _ = roomy
    mdai = chain.token("mDAI")["address"]
    swaps = SwapService(wallet)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="100", from_chain=CHAIN,
                    slippage="1")
    router = markets["contracts"]["UniswapV2Router02"]
    assert q["approval"]["spender"] == router and q["approval"]["amount"] == str(100 * 10**6)
    before = chain.erc20_balance(mdai, wallet.address)
    # wait=False (the CLI's default): the approval job is still waited for before the swap.
    done = swaps.execute(q["quoteId"], wait=False)
    assert done["approvalRequest"]["status"] == "COMPLETED", done
    assert done["status"] in ("SUBMITTED", "COMPLETED"), done
    if done["status"] == "SUBMITTED":
        wallet.requests.wait(done["swapRequest"]["pollingId"], 30)
    final = swaps.status(q["quoteId"])
    assert final["status"] == "COMPLETED", final
    got = chain.erc20_balance(mdai, wallet.address) - before
    assert got == int(q["destAssetAmount"]) == int(final["received"])
    assert swaps.allowance(CHAIN, chain.token("mUSD")["address"], wallet.address, router) == 0


def test_server_wallet_swap_waits_for_the_human(tight: tuple[Any, Approver],
                                                chain: Any) -> None:
    wallet, approver = tight
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    swaps = SwapService(wallet)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="100", from_chain=CHAIN,
                    slippage="1")
    before = chain.erc20_balance(mdai, wallet.address)
    # The exact approval ($100 over a $50 window) stops at AWAITING_MFA: recorded, no swap.
    out = swaps.execute(q["quoteId"], wallet_timeout=1)
    assert out["status"] == "APPROVAL_PENDING", out
    assert out["approvalRequest"]["status"] == "AWAITING_MFA" and "swapRequest" not in out
    seen = swaps.status(q["quoteId"])
    assert seen["status"] == "APPROVAL_PENDING"
    assert seen["approvalRequest"]["status"] == "AWAITING_MFA"
    assert swaps.allowance(CHAIN, musd, wallet.address, q["router"]) == 0

    # The human approves it; execute again waits for the approval job, then sends the swap,
    # which (the window is spent) waits for the human in turn.
    approver.approve_next()
    out = swaps.execute(q["quoteId"], wallet_timeout=5)
    assert out["approvalRequest"]["status"] == "COMPLETED", out
    assert out["status"] == "SUBMITTED", out
    assert out["swapRequest"]["status"] == "AWAITING_MFA" and out["txHash"] is None
    seen = swaps.status(q["quoteId"])
    assert seen["status"] == "SUBMITTED" and seen["swapRequest"]["status"] == "AWAITING_MFA"
    assert chain.erc20_balance(mdai, wallet.address) == before

    approver.approve_next()
    wallet.requests.wait(out["swapRequest"]["pollingId"], 30)
    final = swaps.status(q["quoteId"])
    assert final["status"] == "COMPLETED", final
    got = chain.erc20_balance(mdai, wallet.address) - before
    assert got == int(q["destAssetAmount"]) == int(final["received"])
