"""A swap quote outlives the human approval of its token allowance, and the pool is read again
after approvals, right before the swap is built (devnet Uniswap V2, controllable clock).

- Server wallet (guard mode, real service): the exact approval stops at ``AWAITING_MFA``; the
  human takes longer than ``QUOTE_TTL_SECONDS``; ``execute`` again continues the
  ``APPROVAL_PENDING`` quote (a plain ``QUOTED`` one of the same age is ``QUOTE_EXPIRED``). When
  the pool moved while the human was deciding, the approval completes but the swap is refused
  (``SWAP_PRICE_MOVED``) and not signed.
- BYOK: another trader moves the pool between the approval (mined) and the swap, inside one
  ``execute``: the swap is not signed; once the pool is back, the expired but approved quote
  executes and pays at least its minimum.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1, Anvil
from server.conftest import (  # noqa: F401  (fixtures)
    database_urls,
    db_backend,
    pg_cluster,
    service,
    service_factory,
)

from mm_agent import MMError, Wallet
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.swap import QUOTE_TTL_SECONDS, SwapService

from .test_predict_server import Approver
from .test_swap import _mint, swap_home  # noqa: F401  (fixture)
from .test_swap_server import tight  # noqa: F401  (fixture)

CHAIN = 31337
LATE = QUOTE_TTL_SECONDS + 600  # the human answers ten minutes after the quote expired


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def _trade(chain: Anvil, trader: str, router: str, sell: str, buy: str, amount: int) -> int:
    """``trader`` sells ``amount`` of ``sell`` for ``buy`` on the V2 router; returns what it
    got."""
    before = chain.erc20_balance(buy, trader)
    with Chain(chain.url) as c:
        c.transact(trader, sell, encode_call("approve(address,uint256)", ["address", "uint256"],
                                             [router, amount]))
        c.transact(trader, router, encode_call(
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            ["uint256", "uint256", "address[]", "address", "uint256"],
            [amount, 0, [sell, buy], trader, 2**40]))
    return chain.erc20_balance(buy, trader) - before


def _nonce(chain: Anvil, who: str) -> int:
    return int(chain.rpc("eth_getTransactionCount", [who, "latest"]), 16)


# --- server wallet: the human is slow --------------------------------------------------------
def test_approval_pending_quote_outlives_its_expiry(tight: tuple[Any, Approver],  # noqa: F811
                                                    chain: Anvil) -> None:
    wallet, approver = tight
    mdai = chain.token("mDAI")["address"]
    clock = Clock()
    swaps = SwapService(wallet, now=clock)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="100", from_chain=CHAIN,
                    slippage="1")
    idle = swaps.quote(from_token="mUSD", to_token="mDAI", amount="1", from_chain=CHAIN)
    out = swaps.execute(q["quoteId"], wallet_timeout=1)
    assert out["status"] == "APPROVAL_PENDING"
    assert out["approvalRequest"]["status"] == "AWAITING_MFA"

    clock.t += LATE
    assert swaps.status(q["quoteId"])["status"] == "APPROVAL_PENDING"  # not EXPIRED
    assert swaps.status(idle["quoteId"])["status"] == "EXPIRED"
    with pytest.raises(MMError) as err:
        swaps.execute(idle["quoteId"])
    assert err.value.code == "QUOTE_EXPIRED"

    before = chain.erc20_balance(mdai, wallet.address)
    approver.approve_next()
    out = swaps.execute(q["quoteId"], wallet_timeout=5)
    assert out["approvalRequest"]["status"] == "COMPLETED", out
    assert out["status"] == "SUBMITTED" and out["swapRequest"]["status"] == "AWAITING_MFA"
    # The deadline is from the chain's time now, not from the quote.
    head = int(chain.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    assert head < out["deadline"] <= head + 600
    approver.approve_next()
    wallet.requests.wait(out["swapRequest"]["pollingId"], 30)
    final = swaps.status(q["quoteId"])
    assert final["status"] == "COMPLETED", final
    got = chain.erc20_balance(mdai, wallet.address) - before
    assert got == int(final["received"]) >= int(q["minDestAssetAmount"])


def test_pool_moved_while_the_human_approved(tight: tuple[Any, Approver],  # noqa: F811
                                             chain: Anvil, markets: dict[str, Any]) -> None:
    wallet, approver = tight
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    router = markets["contracts"]["UniswapV2Router02"]
    clock = Clock()
    swaps = SwapService(wallet, now=clock)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="100", from_chain=CHAIN,
                    slippage="1")
    assert swaps.execute(q["quoteId"], wallet_timeout=1)["status"] == "APPROVAL_PENDING"
    # While the human decides, someone buys mDAI with 5 000 mUSD; then the human approves.
    _mint(chain, "mUSD", ACCOUNT1, 5_000 * 10**6)
    _trade(chain, ACCOUNT1, router, musd, mdai, 5_000 * 10**6)
    clock.t += LATE
    approver.approve_next()
    with pytest.raises(MMError) as err:
        swaps.execute(q["quoteId"], wallet_timeout=5)
    assert err.value.code == "SWAP_PRICE_MOVED"
    assert int(err.value.details["destAssetAmountNow"]) < int(q["minDestAssetAmount"])
    # The approval was mined (the human gave it); the swap was never sent.
    nonce = _nonce(chain, wallet.address)
    record = swaps.status(q["quoteId"])
    assert record["status"] == "APPROVAL_PENDING" and "swapRequest" not in record
    assert record["approvalRequest"]["status"] == "COMPLETED"
    assert swaps.allowance(CHAIN, musd, wallet.address, router) == 100 * 10**6
    assert _nonce(chain, wallet.address) == nonce


# --- BYOK: the pool moves between the approval and the swap -----------------------------------
class MovedAfterApproval:
    """The BYOK wallet, while another trader moves the pool right after the wallet's approval
    is mined: what a slow block or a front-runner does between approval and swap."""

    def __init__(self, wallet: Wallet, move: Any) -> None:
        self._wallet, self._move, self.sent = wallet, move, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wallet, name)

    def send_transaction(self, **kwargs: Any) -> Any:
        self.sent.append(kwargs["intent"])
        req = self._wallet.send_transaction(**kwargs)
        if kwargs["intent"].startswith("Approve exactly"):
            self._move()
        return req


def test_pool_is_read_again_after_the_approval(swap_home: Home, chain: Anvil) -> None:  # noqa: F811
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    router = swap_home.read_json("devnet.json")["markets"]["contracts"]["UniswapV2Router02"]
    _mint(chain, "mUSD", ACCOUNT0, 1_000 * 10**6)
    _mint(chain, "mUSD", ACCOUNT1, 5_000 * 10**6)
    bought: list[int] = []
    wallet = MovedAfterApproval(
        Wallet.from_env(home=swap_home),
        lambda: bought.append(_trade(chain, ACCOUNT1, router, musd, mdai, 5_000 * 10**6)))
    clock = Clock()
    swaps = SwapService(wallet, now=clock)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="1000", from_chain=CHAIN,
                    slippage="1")
    nonce = _nonce(chain, ACCOUNT0)
    with pytest.raises(MMError) as err:
        swaps.execute(q["quoteId"])
    assert err.value.code == "SWAP_PRICE_MOVED"
    assert len(wallet.sent) == 1 and wallet.sent[0].startswith("Approve exactly")
    assert _nonce(chain, ACCOUNT0) == nonce + 1  # the approval only: the swap was not signed
    assert err.value.details["quote"]["status"] == "APPROVAL_PENDING"
    assert swaps.status(q["quoteId"])["approvalRequest"]["status"] == "COMPLETED"

    # Later (the quote has expired), the trader sells the mDAI back and the pool is near where
    # it was: the approved quote goes on, with no second approval, and pays its minimum.
    clock.t += LATE
    _trade(chain, ACCOUNT1, router, mdai, musd, bought[0])
    before = chain.erc20_balance(mdai, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED", done
    assert len(wallet.sent) == 2 and wallet.sent[1].startswith("Swap ")
    got = chain.erc20_balance(mdai, ACCOUNT0) - before
    assert got == int(done["received"]) >= int(q["minDestAssetAmount"])
