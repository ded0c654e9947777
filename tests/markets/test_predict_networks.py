"""`mm predict` in ``testnet`` mode: the real-network back end (Polygon Amoy, 80002) runs its
whole path — setup, markets, book, place, orders, cancel, positions — against the local market
service and a second anvil started with ``--chain-id 80002``.

The contracts sit at the addresses of the verified registry (``known_protocols``: the CTF
Exchange V2, pUSD and the Conditional Tokens on Amoy): the devnet's contracts are deployed,
then their runtime code is placed at those addresses (``anvil_setCode``), so the client signs
for and approves exactly what it would on Amoy. Nothing reaches the internet: the CLOB and
Gamma base URLs, the geoblock check's and ``rpc.80002`` point at the local service and
anvil.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from helpers import free_port, wait_rpc

from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.devnet_deploy import DEFAULT_MARKETS, create_market, erc1155_balance
from mm_agent.markets.predict import Predict, set_mode
from mm_agent.operations.handlers.predict import verified_contracts

from .conftest import serving

ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
AMOY = 80002


def _etch(chain: Chain, source: str, target: str, slots: int = 8) -> None:
    """Place ``source``'s runtime code and first storage slots at ``target``."""
    code = chain.rpc.call("eth_getCode", [source, "latest"])
    chain.rpc.call("anvil_setCode", [target, code])
    for slot in range(slots):
        value = chain.rpc.call("eth_getStorageAt", [source, hex(slot), "latest"])
        if int(value, 16):
            chain.rpc.call("anvil_setStorageAt", [target, hex(slot), "0x" + value[2:].rjust(
                64, "0")])


def deploy_amoy_markets(url: str) -> dict[str, Any]:
    """The markets record of an 80002 anvil whose contracts sit at Amoy's verified addresses."""
    verified = verified_contracts(AMOY)
    assert verified is not None
    pusd = verified["collateral"]["address"]
    ctf = verified["conditionalTokens"]
    exchange = verified["exchange"]
    with Chain(url) as chain:
        deployer = chain.accounts()[5]  # not the wallet (account 0) nor the maker (account 2)
        _etch(chain, chain.deploy(deployer, "DemoERC20", ["string", "string", "uint8", "uint256"],
                                  ["Polymarket USD", "pUSD", 6, 0]), pusd)
        _etch(chain, chain.deploy(deployer, "ConditionalTokens"), ctf)
        # The exchange's immutables (collateral, Conditional Tokens) are the Amoy addresses.
        _etch(chain, chain.deploy(deployer, "DevnetCtfExchange", ["address", "address"],
                                  [pusd, ctf]), exchange)
        chain.transact(deployer, exchange, encode_call("addOperator(address)", ["address"],
                                                       [deployer]), label="addOperator")
        markets = [create_market(chain, ctf, pusd, deployer, q, sender=deployer)
                   for q in DEFAULT_MARKETS]
    return {"chainId": AMOY, "deployer": deployer, "operator": deployer, "oracle": deployer,
            "collateral": {"symbol": "pUSD", "address": pusd, "decimals": 6},
            "contracts": {"ConditionalTokens": ctf, "CtfExchange": exchange},
            "pools": [], "markets": markets}


@pytest.fixture(scope="module")
def amoy() -> Iterator[str]:
    """A second anvil with Amoy's chain id."""
    from mm_agent.devnet.process import find_anvil

    port = free_port()
    proc = subprocess.Popen([find_anvil(), "--port", str(port), "--chain-id", str(AMOY),
                             "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_rpc(url, timeout=15, proc=proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def amoy_service(amoy: str) -> Iterator[Any]:
    """The market service over the Amoy-addressed markets (market maker seeded)."""
    with Chain(amoy) as chain:
        snap = chain.rpc.call("evm_snapshot")
    with serving(amoy, deploy_amoy_markets(amoy)) as service:
        yield service
    with Chain(amoy) as chain:
        chain.rpc.call("evm_revert", [snap])


@pytest.fixture
def testnet(byok_home: Any, amoy: str, amoy_service: Any) -> Iterator[Predict]:
    from mm_agent import Wallet
    from mm_agent.security.scan import reference_prices

    byok_home.write_json("config.json", {
        "rpc.80002": amoy, "predict.testnet.clobUrl": amoy_service.url,
        "predict.testnet.gammaUrl": amoy_service.url + "/gamma",
        "predict.testnet.geoblockUrl": amoy_service.url})
    assert set_mode(byok_home, "testnet")["chainId"] == AMOY
    # The wallet's collateral: pUSD minted with the demo token's open mint.
    with Chain(amoy) as chain:
        chain.transact(ACCOUNT0, amoy_service.collateral, encode_call(
            "mint(address,uint256)", ["address", "uint256"], [ACCOUNT0, 500 * 10**6]),
            label="minting pUSD")
    wallet = Wallet.from_env(home=byok_home)
    with Predict(wallet, home=byok_home, reference_prices=reference_prices,
                 contracts=verified_contracts) as p:
        yield p


def test_testnet_backend_runs_its_whole_path_locally(testnet: Predict, amoy: str,
                                                     amoy_service: Any) -> None:
    p = testnet
    verified = verified_contracts(AMOY)
    assert verified is not None
    assert verified["exchangeName"] == "Polymarket CTF Exchange V2 (Amoy)"
    assert p.mode == "testnet" and p.chain_id == AMOY
    assert p.exchange == verified["exchange"] == amoy_service.exchange

    status = p.status()
    assert status["chainId"] == AMOY and status["clob"] == "ok" and status["gamma"] == "ok"
    assert status["account"]["setupComplete"] is False
    setup = p.setup()
    assert setup["setupComplete"] is True
    assert [t["step"] for t in setup["transactions"]] == ["approveCollateral",
                                                          "approveOutcomeTokens"]
    assert p.balance()["collateral"] == "pUSD" and p.balance()["pusd"] == "500"

    listed = p.markets_list()["markets"]
    assert listed and p.markets_list()["source"] == "testnet"
    slug = amoy_service.markets[0]["slug"]
    assert [m["slug"] for m in p.markets_search("block")["markets"]] == \
        [amoy_service.markets[1]["slug"]]
    market = p.markets_get(slug)
    yes = market["tokens"][0]["tokenId"]
    assert p.book(yes)["asks"][-1] == {"price": "0.55", "size": "100"}
    assert p.quote(yes, "buy", "150")["estimatedCost"] == "85"

    # A buy that crosses the book: settled on the 80002 chain at the verified exchange.
    placed = p.place(yes, "buy", "150", "0.60")
    assert placed["status"] == "FILLED" and placed["cost"] == "85" and placed["txHashes"]
    assert placed["source"] == "testnet"
    with Chain(amoy) as chain:
        assert erc1155_balance(chain, verified["conditionalTokens"], ACCOUNT0, yes) == \
            150_000_000
        receipt = chain.rpc.call("eth_getTransactionReceipt", [placed["txHashes"][0]])
        assert receipt["to"].lower() == verified["exchange"].lower()
    assert [(x["tokenId"], x["size"]) for x in p.positions()["positions"]] == [(yes, "150")]

    # A resting order, listed, then cancelled (by id, then nothing left for --market).
    rest = p.place(yes, "buy", "10", "0.30")
    assert rest["status"] == "OPEN"
    assert [o["orderId"] for o in p.orders()["orders"]] == [rest["orderId"]]
    assert Decimal(p.book(yes)["bids"][0]["price"]) == Decimal("0.3")
    assert p.cancel(order_id=rest["orderId"])["canceled"] == [rest["orderId"]]
    assert p.orders()["orders"] == []
    assert p.cancel(market=slug)["canceled"] == []
    assert p.watch(rest["orderId"])["status"] == "CANCELLED"
    kinds = [h["kind"] for h in p.history()["history"]]
    assert kinds[:3] == ["cancel", "cancel", "order"]


def test_mainnet_uses_polygon_and_its_verified_exchange(byok_home: Any) -> None:
    """No network I/O: the back end's contracts and hosts before any call."""
    from mm_agent import Wallet
    from mm_agent.markets.predict import DEFAULT_CLOB_URL, DEFAULT_GAMMA_URL

    set_mode(byok_home, "mainnet")
    with Predict(Wallet.from_env(home=byok_home), home=byok_home,
                 contracts=verified_contracts) as p:
        b = p.backend
        assert b["chainId"] == 137
        assert b["exchange"] == "0xE111180000d2663C0091e4f400237545B87B996B"
        assert b["collateral"]["symbol"] == "pUSD"
        assert b["conditionalTokens"] == "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
        assert (b["clobUrl"], b["gammaUrl"]) == (DEFAULT_CLOB_URL, DEFAULT_GAMMA_URL)
    # Without the verified registry the client refuses (never a service-named exchange).
    from mm_agent.errors import PredictBackendUnavailable

    with Predict(Wallet.from_env(home=byok_home), home=byok_home) as p, \
            pytest.raises(PredictBackendUnavailable):
        _ = p.exchange
