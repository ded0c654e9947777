"""`mm swap execute` with a USDT-style token (tests/markets/contracts/ResetToken.sol: `approve`
reverts unless the current allowance or the new value is 0): a short, non-zero allowance is
reset with ``approve(router, 0)`` first, then the exact amount is approved — both through the
pipeline — and the swap receives the quote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ACCOUNT0, Anvil

from mm_agent import MMError, Wallet
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.devnet_deploy import DEFAULT_POOLS, deploy_markets
from mm_agent.markets.swap import SwapService

CHAIN = 31337
APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
ARTIFACT = Path(__file__).parent / "contracts" / "ResetToken.json"


@pytest.fixture
def reset_home(byok_home: Home, chain: Anvil) -> tuple[Home, str]:
    """The BYOK devnet home with the markets deployment plus an rUSD/mUSD pool."""
    with Chain(chain.url) as c:
        receipt = c.wait(c.send(ACCOUNT0, None, json.loads(ARTIFACT.read_text())["bytecode"]),
                         "deploying ResetToken")
    token = {"symbol": "rUSD", "name": "Reset USD", "decimals": 6,
             "address": to_checksum_address(receipt["contractAddress"])}
    tokens = [*chain.deployed["tokens"], token]
    record = deploy_markets(chain.url, tokens=tokens,
                            pools=(*DEFAULT_POOLS, ("rUSD", 100_000, "mUSD", 100_000)))
    devnet = byok_home.read_json("devnet.json")
    byok_home.write_json("devnet.json", {**devnet, "tokens": tokens, "markets": record})
    return byok_home, token["address"]


def _call(chain: Anvil, token: str, sig: str, types: list[str], args: list[object]) -> None:
    with Chain(chain.url) as c:
        c.transact(ACCOUNT0, token, encode_call(sig, types, args))


def test_short_nonzero_allowance_is_reset_first(reset_home: tuple[Home, str],
                                                chain: Anvil) -> None:
    home, rusd = reset_home
    router = home.read_json("devnet.json")["markets"]["contracts"]["UniswapV2Router02"]
    musd = chain.token("mUSD")["address"]
    wallet = Wallet.from_env(home=home)
    swaps = SwapService(wallet)
    _call(chain, rusd, "mint(address,uint256)", ["address", "uint256"], [ACCOUNT0, 300 * 10**6])
    # An earlier, smaller approval is left over: 10 rUSD.
    _call(chain, rusd, "approve(address,uint256)", ["address", "uint256"], [router, 10 * 10**6])
    # The token enforces the rule: a non-zero to non-zero approve reverts.
    with pytest.raises(MMError), Chain(chain.url) as c:
        c.transact(ACCOUNT0, rusd, encode_call("approve(address,uint256)",
                                               ["address", "uint256"], [router, 20 * 10**6]))
    assert swaps.allowance(CHAIN, rusd, ACCOUNT0, router) == 10 * 10**6

    q = swaps.quote(from_token="rUSD", to_token="mUSD", amount="100", from_chain=CHAIN,
                    slippage="1")
    assert q["approval"] == {"token": rusd, "spender": router, "amount": str(100 * 10**6),
                             "currentAllowance": str(10 * 10**6)}
    before = chain.erc20_balance(musd, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED", done
    reset, approval = done["resetRequest"], done["approvalRequest"]
    assert reset["status"] == approval["status"] == "COMPLETED"
    # Both went through the pipeline (the wallet's request log) and were mined in order:
    # approve(router, 0), then approve(router, exactly 100).
    for req in (reset, approval):
        assert wallet.requests.get(req["pollingId"]).tx_hash == req["txHash"]
    owner_topic = "0x" + ACCOUNT0.lower()[2:].rjust(64, "0")
    logs = chain.rpc("eth_getLogs", [{"address": rusd, "fromBlock": "0x0",
                                      "topics": [APPROVAL, owner_topic]}])
    mine = {lg["transactionHash"]: int(lg["data"], 16) for lg in logs}
    assert mine[reset["txHash"]] == 0 and mine[approval["txHash"]] == 100 * 10**6
    order = [lg["transactionHash"] for lg in logs]
    assert order.index(reset["txHash"]) < order.index(approval["txHash"])
    got = chain.erc20_balance(musd, ACCOUNT0) - before
    assert got == int(q["destAssetAmount"]) == int(done["received"])
    assert swaps.allowance(CHAIN, rusd, ACCOUNT0, router) == 0


def test_zero_allowance_is_not_reset(reset_home: tuple[Home, str], chain: Anvil) -> None:
    home, rusd = reset_home
    swaps = SwapService(Wallet.from_env(home=home))
    _call(chain, rusd, "mint(address,uint256)", ["address", "uint256"], [ACCOUNT0, 50 * 10**6])
    q = swaps.quote(from_token="rUSD", to_token="mUSD", amount="50", from_chain=CHAIN,
                    slippage="1")
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED" and "resetRequest" not in done
    assert done["approvalRequest"]["status"] == "COMPLETED"
