"""`mm swap` on the devnet's Uniswap V2 (markets deployment), from the Python API and the CLI:
a swap receives the quoted amount, the approval is exact, a quote the pool has moved past is
refused before anything is signed, quotes expire, cross-chain is BRIDGE_UNSUPPORTED, and the
V3 address table is checked for code before use."""

from __future__ import annotations

import stat
from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1, Anvil

from mm_agent import MMError
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.devnet_deploy import deploy_markets
from mm_agent.markets.swap import V3_DEPLOYMENTS, SwapService, V3Deployment

CHAIN = 31337
APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"


@pytest.fixture
def swap_home(byok_home: Home, chain: Anvil) -> Home:
    """The BYOK devnet home with the markets deployment recorded as `mm devnet start` does."""
    record = deploy_markets(chain.url, tokens=chain.deployed["tokens"])
    devnet = byok_home.read_json("devnet.json")
    byok_home.write_json("devnet.json", {**devnet, "markets": record})
    return byok_home


@pytest.fixture
def swaps(swap_home: Home) -> SwapService:
    from mm_agent import Wallet

    return SwapService(Wallet.from_env(home=swap_home))


def _mint(chain: Anvil, symbol: str, to: str, amount: int) -> None:
    with Chain(chain.url) as c:
        c.transact(to, chain.token(symbol)["address"], encode_call(
            "mint(address,uint256)", ["address", "uint256"], [to, amount]))


def _nonce(chain: Anvil) -> int:
    return int(chain.rpc("eth_getTransactionCount", [ACCOUNT0, "latest"]), 16)


def test_eth_swap_receives_the_quote(swaps: SwapService, chain: Anvil) -> None:
    musd = chain.token("mUSD")["address"]
    q = swaps.quote(from_token="ETH", to_token="mUSD", amount="1", from_chain=CHAIN)
    assert q["protocols"] == ["uniswap-v2"] and q["approval"] is None
    assert 1_900 * 10**6 < int(q["destAssetAmount"]) < 2_000 * 10**6
    assert int(q["minDestAssetAmount"]) == int(q["destAssetAmount"]) * 9950 // 10000
    assert q["slippage"] == "0.5" and 0 < float(q["priceImpact"]) < 2
    before = chain.erc20_balance(musd, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED" and done["txHash"]
    got = chain.erc20_balance(musd, ACCOUNT0) - before
    assert got == int(q["destAssetAmount"]) == int(done["received"])
    assert swaps.status(q["quoteId"])["status"] == "COMPLETED"
    with pytest.raises(MMError) as exc:
        swaps.execute(q["quoteId"])
    assert exc.value.code == "QUOTE_ALREADY_EXECUTED"


def test_token_swap_approves_exactly_the_amount(swaps: SwapService, chain: Anvil,
                                                swap_home: Home) -> None:
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    amount = 250 * 10**6
    _mint(chain, "mUSD", ACCOUNT0, amount)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="250", from_chain=CHAIN,
                    slippage="1")
    router = swap_home.read_json("devnet.json")["markets"]["contracts"]["UniswapV2Router02"]
    assert q["approval"] == {"token": musd, "spender": router, "amount": str(amount),
                             "currentAllowance": "0"}
    before = chain.erc20_balance(mdai, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED"
    assert done["approvalRequest"]["status"] == "COMPLETED"
    assert chain.erc20_balance(mdai, ACCOUNT0) - before == int(q["destAssetAmount"])
    # The one approval this wallet signed: exactly the amount, to the router.
    owner_topic = "0x" + ACCOUNT0.lower()[2:].rjust(64, "0")
    logs = chain.rpc("eth_getLogs", [{"address": musd, "fromBlock": "0x0",
                                      "topics": [APPROVAL, owner_topic]}])
    signed = [lg for lg in logs if lg["transactionHash"] == done["approvalRequest"]["txHash"]]
    assert len(signed) == 1
    assert to_checksum_address("0x" + signed[0]["topics"][2][-40:]) == router
    assert int(signed[0]["data"], 16) == amount
    # Spent by the swap: nothing left approved.
    assert swaps.allowance(CHAIN, musd, ACCOUNT0, router) == 0


def test_stale_quote_is_refused_before_anything_is_signed(swaps: SwapService, chain: Anvil,
                                                          swap_home: Home) -> None:
    musd = chain.token("mUSD")["address"]
    _mint(chain, "mUSD", ACCOUNT0, 1_000 * 10**6)
    q = swaps.quote(from_token="mUSD", to_token="mDAI", amount="1000", from_chain=CHAIN)
    # Someone else buys mDAI with 5 000 mUSD: the pool moves well past 0.5 %.
    markets = swap_home.read_json("devnet.json")["markets"]
    router = markets["contracts"]["UniswapV2Router02"]
    big = 5_000 * 10**6
    _mint(chain, "mUSD", ACCOUNT1, big)
    with Chain(chain.url) as c:
        c.transact(ACCOUNT1, musd, encode_call("approve(address,uint256)",
                                               ["address", "uint256"], [router, big]))
        c.transact(ACCOUNT1, router, encode_call(
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            ["uint256", "uint256", "address[]", "address", "uint256"],
            [big, 0, [musd, chain.token("mDAI")["address"]], ACCOUNT1, 2**40]))
    nonce, log = _nonce(chain), swap_home.read_json("requests.json", [])
    with pytest.raises(MMError) as exc:
        swaps.execute(q["quoteId"])
    assert exc.value.code == "SWAP_PRICE_MOVED"
    assert int(exc.value.details["destAssetAmountNow"]) < int(q["minDestAssetAmount"])
    assert _nonce(chain) == nonce, "nothing may be signed, not even the approval"
    assert swap_home.read_json("requests.json", []) == log
    assert swaps.allowance(CHAIN, musd, ACCOUNT0, router) == 0
    # A wider slippage quoted now goes through.
    q2 = swaps.quote(from_token="mUSD", to_token="mDAI", amount="1000", from_chain=CHAIN,
                     slippage="1")
    assert swaps.execute(q2["quoteId"])["status"] == "COMPLETED"


def test_quotes_expire_and_are_stored_privately(swap_home: Home) -> None:
    from mm_agent import Wallet

    clock = [1_000_000.0]
    swaps = SwapService(Wallet.from_env(home=swap_home), now=lambda: clock[0])
    q = swaps.quote(from_token="ETH", to_token="mUSD", amount="0.1", from_chain=CHAIN)
    path = swap_home.path("swaps.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert q["quoteId"] in swap_home.read_json("swaps.json")["quotes"]
    clock[0] += 121
    assert swaps.status(q["quoteId"])["status"] == "EXPIRED"
    with pytest.raises(MMError) as exc:
        swaps.execute(q["quoteId"])
    assert exc.value.code == "QUOTE_EXPIRED"
    with pytest.raises(MMError) as exc:
        swaps.execute("no-such-quote")
    assert exc.value.code == "QUOTE_NOT_FOUND"


def test_bridge_and_bad_params(swaps: SwapService) -> None:
    def code(**kw: Any) -> str:
        args = {"from_token": "ETH", "to_token": "mUSD", "amount": "1", "from_chain": CHAIN}
        with pytest.raises(MMError) as exc:
            swaps.quote(**{**args, **kw})
        return exc.value.code

    assert code(to_chain=1) == "BRIDGE_UNSUPPORTED"
    assert code(to_address=ACCOUNT1) == "INVALID_SWAP_PARAMS"
    assert code(slippage="101") == "INVALID_SWAP_PARAMS"
    assert code(slippage="0.001") == "INVALID_SWAP_PARAMS"
    assert code(to_token="ETH") == "INVALID_SWAP_PARAMS"
    huge = swaps.quote(from_token="ETH", to_token="mUSD", amount="1000000", from_chain=CHAIN)
    assert float(huge["priceImpact"]) > 99 and any("Price impact" in w
                                                   for w in huge["warnings"])
    assert code(to_token="DEMO") in ("NO_QUOTES", "UNKNOWN_TOKEN")


def test_v3_addresses_are_checked_for_code(swap_home: Home) -> None:
    from mm_agent import Wallet

    for dep in V3_DEPLOYMENTS.values():  # checksummed addresses, four distinct contracts
        for a in (dep.factory, dep.quoter_v2, dep.swap_router02, dep.weth):
            assert to_checksum_address(a) == a
        assert len({dep.factory, dep.quoter_v2, dep.swap_router02, dep.weth}) == 4
    assert V3_DEPLOYMENTS[1].swap_router02 == "0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45"
    assert V3_DEPLOYMENTS[8453].quoter_v2 == "0x3d4e44Eb1374240CE5F1B871ab261CD16335B76a"
    # The mainnet table pointed at the devnet: no code there, so no quote and no swap.
    swaps = SwapService(Wallet.from_env(home=swap_home),
                        v3_deployments={CHAIN: V3_DEPLOYMENTS[1]})
    with pytest.raises(MMError) as exc:
        swaps.quote(from_token="ETH", to_token="mUSD", amount="1", from_chain=CHAIN)
    assert exc.value.code == "SWAP_PROTOCOL_UNAVAILABLE"
    assert "QuoterV2" in exc.value.message


def test_swap_from_the_cli(swap_home: Home, mm_cli: Any, chain: Anvil) -> None:
    musd = chain.token("mUSD")["address"]
    rc, out, _ = mm_cli("swap", "quote", "--from", "ETH", "--to", "mUSD", "--amount", "0.5",
                        "--from-chain", str(CHAIN), "--slippage", "1")
    assert rc == 0, out
    q = out["data"]
    for key in ("quoteId", "destAssetAmount", "minDestAssetAmount", "priceImpact", "slippage",
                "protocols", "warnings", "expiresAt"):
        assert key in q
    before = chain.erc20_balance(musd, ACCOUNT0)
    rc, out, _ = mm_cli("swap", "execute", "--quote-id", q["quoteId"])
    assert rc == 0, out
    assert chain.erc20_balance(musd, ACCOUNT0) - before == int(q["destAssetAmount"])
    rc, out, _ = mm_cli("swap", "status", "--quote-id", q["quoteId"])
    assert out["data"]["status"] == "COMPLETED"
    rc, out, _ = mm_cli("swap", "quote", "--from", "ETH", "--to", "mUSD", "--amount", "0.5",
                        "--from-chain", str(CHAIN), "--to-chain", "1")
    assert rc == 1 and out["error"]["code"] == "BRIDGE_UNSUPPORTED"


def test_v3_deployment_type() -> None:
    dep = V3Deployment("0x" + "1" * 40, "0x" + "2" * 40, "0x" + "3" * 40, "0x" + "4" * 40)
    assert dep.swap_router02.endswith("3" * 40)
