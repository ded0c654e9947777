"""`mm swap` on Uniswap V3 with Uniswap's own bytecode, at Base's addresses (chain 8453 on a
private anvil): the path real chains take, run end to end without the internet.

The chain: WETH9 (the vendored one) at Base's WETH, a 6-decimal token at Base's USDC (so the
symbols ``ETH``/``USDC`` resolve as on Base) and an 18-decimal one (``TKN``, named by address),
the V3 factory (v3-core 1.0.1), QuoterV2 (v3-periphery 1.4.4), SwapRouter02
(swap-router-contracts 1.3.1) — all npm bytecode, ``tests/markets/contracts/uniswap_v3/`` —
and pools created, initialised and funded through the NonfungiblePositionManager.

Each contract that must sit at a canonical address is deployed normally, then *relocated*:
its runtime code, with every occurrence of the deployed address replaced by the canonical one
(``NoDelegateCall``'s ``original`` immutable in the factory), and its storage, copied there
(``anvil_setCode``/``anvil_setStorageAt``), and the deployed copy wiped. That is byte for byte
what deploying at the canonical address would have produced; QuoterV2, SwapRouter02 and the
position manager are constructed with the canonical factory and WETH, so pools are CREATE2'd
by the factory at its canonical address and every pool address the periphery computes
(``POOL_INIT_CODE_HASH``) is the real one.
"""

from __future__ import annotations

import gzip
import json
import math
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1, TEST_MNEMONIC
from helpers import free_port, wait_rpc

from mm_agent import MMError, Wallet
from mm_agent.devnet import find_anvil
from mm_agent.evm.chains import resolve_token
from mm_agent.local.config import Config
from mm_agent.local.state import Home
from mm_agent.markets.chain import Chain, encode_call, load_artifact
from mm_agent.markets.swap import V3_DEPLOYMENTS, SwapService

CHAIN = 8453
DEP = V3_DEPLOYMENTS[CHAIN]
USDC = str(resolve_token(CHAIN, "USDC").address)  # type: ignore[union-attr]
DEPLOYER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil account 2
V3_DIR = Path(__file__).parent / "contracts" / "uniswap_v3"
FULL_RANGE = {10: 887270, 60: 887220}  # max usable tick per tick spacing
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
QUOTE_SINGLE = "quoteExactInputSingle((address,address,uint256,uint24,uint160))"


def _creation(name: str) -> str:
    return str(json.loads((V3_DIR / f"{name}.json").read_text())["bytecode"])


def _deploy(c: Chain, code: str, types: list[str] | None = None,
            args: list[Any] | None = None) -> str:
    from eth_abi import encode

    data = code + (encode(types, args).hex() if types else "")
    receipt = c.wait(c.send(DEPLOYER, None, data), "deploying")
    return str(receipt["contractAddress"])


def relocate(c: Chain, deployed: str, target: str) -> None:
    """Make ``target`` hold what deploying there would have: ``deployed``'s runtime code with
    its own address (an immutable such as ``address(this)``) rewritten, and its storage."""
    state = json.loads(gzip.decompress(bytes.fromhex(c.rpc.call("anvil_dumpState")[2:])))
    account = state["accounts"][deployed.lower()]
    code = bytes.fromhex(account["code"][2:]).replace(bytes.fromhex(deployed[2:]),
                                                      bytes.fromhex(target[2:]))
    c.rpc.call("anvil_setCode", [target, "0x" + code.hex()])
    for slot, value in account["storage"].items():
        c.rpc.call("anvil_setStorageAt", [target, slot, "0x" + value[2:].rjust(64, "0")])
    c.rpc.call("anvil_setCode", [deployed, "0x"])  # nothing may keep using the deployed copy


def sqrt_price_x96(amount0: int, amount1: int) -> int:
    """The pool's sqrt(token1/token0) in Q64.96 for a price of ``amount1`` per ``amount0``."""
    return math.isqrt(amount1 * 2**192 // amount0)


@dataclass
class V3Node:
    url: str
    tkn: str
    npm: str
    rpc: Chain

    def balance(self, token: str | None, owner: str) -> int:
        if token is None:
            return int(self.rpc.rpc.call("eth_getBalance", [owner, "latest"]), 16)
        return int(self.rpc.call(token, encode_call("balanceOf(address)", ["address"],
                                                    [owner])).removeprefix("0x") or "0", 16)

    def nonce(self, who: str) -> int:
        return int(self.rpc.rpc.call("eth_getTransactionCount", [who, "latest"]), 16)

    def quoter(self, tin: str, tout: str, amount: int, fee: int) -> int:
        """QuoterV2's own answer, asked directly."""
        raw = self.rpc.call(DEP.quoter_v2, encode_call(
            QUOTE_SINGLE, ["(address,address,uint256,uint24,uint160)"],
            [(tin, tout, amount, fee, 0)]), ["uint256", "uint160", "uint32", "uint256"])
        return int(raw[0])

    def mint(self, token: str, to: str, amount: int) -> None:
        self.rpc.transact(DEPLOYER, token, encode_call("mint(address,uint256)",
                                                       ["address", "uint256"], [to, amount]))

    def router_swap(self, sender: str, tin: str, tout: str, fee: int, amount: int,
                    value: int = 0) -> None:
        """``sender`` swaps straight through SwapRouter02 (moves the pool)."""
        call = encode_call(
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))",
            ["(address,address,uint24,address,uint256,uint256,uint160)"],
            [(tin, tout, fee, sender, amount, 0, 0)])
        self.rpc.transact(sender, DEP.swap_router02, call, value=value, label="moving the pool")


def _add_pool(c: Chain, npm: str, a: tuple[str, int], b: tuple[str, int], fee: int,
              spacing: int) -> None:
    """Create, initialise at ``a[1]`` : ``b[1]`` and fund a full-range position with them."""
    (t0, amount0), (t1, amount1) = sorted([a, b], key=lambda x: int(x[0], 16))
    c.transact(DEPLOYER, npm, encode_call(
        "createAndInitializePoolIfNecessary(address,address,uint24,uint160)",
        ["address", "address", "uint24", "uint160"],
        [t0, t1, fee, sqrt_price_x96(amount0, amount1)]), label="creating a pool")
    c.transact(DEPLOYER, npm, encode_call(
        "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,"
        "uint256))",
        ["(address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256)"],
        [(t0, t1, fee, -FULL_RANGE[spacing], FULL_RANGE[spacing], amount0, amount1, 0, 0,
          DEPLOYER, 2**32)]), label="adding liquidity")


def deploy_v3(url: str) -> V3Node:
    c = Chain(url)
    weth = _deploy(c, load_artifact("WETH9")["bytecode"])
    relocate(c, weth, DEP.weth)
    token_code = load_artifact("DemoERC20")["bytecode"]
    erc20 = ["string", "string", "uint8", "uint256"]
    usdc = _deploy(c, token_code, erc20, ["USD Coin", "USDC", 6, 0])
    relocate(c, usdc, USDC)
    tkn = _deploy(c, token_code, erc20, ["Test Token", "TKN", 18, 0])
    factory = _deploy(c, _creation("UniswapV3Factory"))
    relocate(c, factory, DEP.factory)
    npm = _deploy(c, _creation("NonfungiblePositionManager"), ["address"] * 3,
                  [DEP.factory, DEP.weth, "0x" + "00" * 20])
    quoter = _deploy(c, _creation("QuoterV2"), ["address", "address"], [DEP.factory, DEP.weth])
    relocate(c, quoter, DEP.quoter_v2)
    router = _deploy(c, _creation("SwapRouter02"), ["address"] * 4,
                     ["0x" + "00" * 20, DEP.factory, npm, DEP.weth])
    relocate(c, router, DEP.swap_router02)
    # Liquidity: ETH at 2000 USDC in the 0.05 % and (thinner) 0.3 % pools, TKN at 1 USDC.
    c.transact(DEPLOYER, DEP.weth, encode_call("deposit()", [], []), value=200 * 10**18)
    node = V3Node(url, tkn, npm, c)
    node.mint(USDC, DEPLOYER, 2_000_000 * 10**6)
    node.mint(tkn, DEPLOYER, 1_000_000 * 10**18)
    for token in (DEP.weth, USDC, tkn):
        c.transact(DEPLOYER, token, encode_call("approve(address,uint256)",
                                                ["address", "uint256"], [npm, 2**256 - 1]))
    _add_pool(c, npm, (DEP.weth, 100 * 10**18), (USDC, 200_000 * 10**6), 500, 10)
    _add_pool(c, npm, (DEP.weth, 10 * 10**18), (USDC, 20_000 * 10**6), 3000, 60)
    _add_pool(c, npm, (USDC, 500_000 * 10**6), (tkn, 500_000 * 10**18), 3000, 60)
    return node


@pytest.fixture(scope="module")
def v3_node() -> Iterator[V3Node]:
    port = free_port()
    proc = subprocess.Popen([find_anvil(), "--port", str(port), "--chain-id", str(CHAIN),
                             "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_rpc(url, timeout=15, proc=proc)
        node = deploy_v3(url)
        yield node
        node.rpc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def v3(v3_node: V3Node) -> Iterator[V3Node]:
    snap = v3_node.rpc.rpc.call("evm_snapshot")
    yield v3_node
    v3_node.rpc.rpc.call("evm_revert", [snap])


@pytest.fixture
def v3_home(mm_home: Home, v3: V3Node) -> Home:
    """A BYOK wallet (account 0) whose rpc.8453 is the V3 anvil."""
    from mm_agent.wallets.byok.keyring import ByokKeyring

    mm_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    Config(mm_home).set(f"rpc.{CHAIN}", v3.url)
    return mm_home


@pytest.fixture
def swaps(v3_home: Home) -> SwapService:
    return SwapService(Wallet.from_env(home=v3_home))


def _logs(v3: V3Node, tx_hash: str) -> list[dict[str, Any]]:
    receipt = v3.rpc.rpc.call("eth_getTransactionReceipt", [tx_hash])
    assert int(receipt["status"], 16) == 1
    return list(receipt["logs"])


def _gas(v3: V3Node, tx_hash: str) -> int:
    receipt = v3.rpc.rpc.call("eth_getTransactionReceipt", [tx_hash])
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def test_the_chain_is_uniswap_at_bases_addresses(v3: V3Node) -> None:
    """The relocated contracts answer as the real ones: the factory at its address knows the
    pools (CREATE2 from that address), the periphery points at it and at WETH."""
    c = v3.rpc
    for target in (DEP.quoter_v2, DEP.swap_router02):
        assert c.call(target, encode_call("factory()", [], []), ["address"]).lower() == \
            DEP.factory.lower()
        assert c.call(target, encode_call("WETH9()", [], []), ["address"]).lower() == \
            DEP.weth.lower()
    pool = c.call(DEP.factory, encode_call("getPool(address,address,uint24)",
                                           ["address", "address", "uint24"],
                                           [DEP.weth, USDC, 500]), ["address"])
    assert int(pool, 16) != 0
    assert c.call(pool, encode_call("factory()", [], []), ["address"]).lower() == \
        DEP.factory.lower()
    assert c.call(USDC, encode_call("decimals()", [], []), ["uint8"]) == 6


def test_eth_to_usdc_receives_what_quoterv2_says(swaps: SwapService, v3: V3Node) -> None:
    q = swaps.quote(from_token="ETH", to_token="USDC", amount="1", from_chain=CHAIN)
    assert q["protocols"] == ["uniswap-v3"] and q["approval"] is None
    assert q["router"].lower() == DEP.swap_router02.lower() and q["fee"] == 500
    assert q["destAsset"]["address"].lower() == USDC.lower()
    # The quote is QuoterV2's answer for the best tier (the deeper 0.05 % pool).
    said = v3.quoter(DEP.weth, USDC, 10**18, 500)
    assert int(q["destAssetAmount"]) == said > v3.quoter(DEP.weth, USDC, 10**18, 3000)
    assert 1_900 * 10**6 < said < 2_000 * 10**6
    before = v3.balance(USDC, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED", done
    tx = v3.rpc.rpc.call("eth_getTransactionByHash", [done["txHash"]])
    assert tx["to"].lower() == DEP.swap_router02.lower() and int(tx["value"], 16) == 10**18
    got = v3.balance(USDC, ACCOUNT0) - before
    assert got == said == int(done["received"])


def test_token_in_is_approved_exactly_through_the_pipeline(swaps: SwapService,
                                                           v3: V3Node) -> None:
    v3.mint(USDC, ACCOUNT0, 5_000 * 10**6)
    wallet = swaps.wallet
    # USDC → ETH: exact approval, exactInputSingle to the router, then unwrapWETH9.
    q = swaps.quote(from_token="USDC", to_token="ETH", amount="2000", from_chain=CHAIN,
                    slippage="1")
    amount = 2_000 * 10**6
    assert q["approval"] == {"token": USDC, "spender": DEP.swap_router02, "amount": str(amount),
                             "currentAllowance": "0"}
    said = v3.quoter(USDC, DEP.weth, amount, 500)
    assert int(q["destAssetAmount"]) == said
    eth_before = v3.balance(None, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED", done
    approval = done["approvalRequest"]
    assert approval["status"] == "COMPLETED" and "resetRequest" not in done
    assert wallet.requests.get(approval["pollingId"]).tx_hash == approval["txHash"]
    approvals = [lg for lg in _logs(v3, approval["txHash"]) if lg["topics"][0] == APPROVAL]
    assert [int(lg["data"], 16) for lg in approvals] == [amount]
    assert swaps.allowance(CHAIN, USDC, ACCOUNT0, DEP.swap_router02) == 0  # all of it spent
    spent_gas = _gas(v3, approval["txHash"]) + _gas(v3, done["txHash"])
    got = v3.balance(None, ACCOUNT0) - eth_before + spent_gas
    assert got == said == int(done["received"])

    # USDC → TKN by address (a token the chain's registry does not know).
    q = swaps.quote(from_token="USDC", to_token=v3.tkn, amount="1000", from_chain=CHAIN,
                    slippage="1")
    assert q["destAsset"]["symbol"] == "TKN" and q["destAsset"]["decimals"] == 18
    said = v3.quoter(USDC, v3.tkn, 1_000 * 10**6, 3000)
    before = v3.balance(v3.tkn, ACCOUNT0)
    done = swaps.execute(q["quoteId"])
    assert done["status"] == "COMPLETED", done
    assert v3.balance(v3.tkn, ACCOUNT0) - before == said == int(done["received"])


def test_moved_pool_is_refused_before_anything_is_signed(swaps: SwapService,
                                                         v3: V3Node) -> None:
    v3.mint(USDC, ACCOUNT0, 1_000 * 10**6)
    q = swaps.quote(from_token="USDC", to_token="ETH", amount="1000", from_chain=CHAIN,
                    slippage="0.5")
    assert q["approval"] is not None
    # Someone else buys ETH with 40 000 USDC in the 0.05 % pool: our USDC now buys less.
    v3.mint(USDC, ACCOUNT1, 40_000 * 10**6)
    v3.rpc.transact(ACCOUNT1, USDC, encode_call("approve(address,uint256)",
                                                ["address", "uint256"],
                                                [DEP.swap_router02, 2**256 - 1]))
    v3.router_swap(ACCOUNT1, USDC, DEP.weth, 500, 40_000 * 10**6)
    assert v3.quoter(USDC, DEP.weth, 1_000 * 10**6, 500) < int(q["minDestAssetAmount"])
    nonce = v3.nonce(ACCOUNT0)
    with pytest.raises(MMError) as err:
        swaps.execute(q["quoteId"])
    assert err.value.code == "SWAP_PRICE_MOVED"
    assert v3.nonce(ACCOUNT0) == nonce  # not even the approval was signed
    assert swaps.allowance(CHAIN, USDC, ACCOUNT0, DEP.swap_router02) == 0
    assert swaps.status(q["quoteId"])["status"] == "QUOTED"


def test_swap_from_the_cli(v3_home: Home, mm_cli: Any, v3: V3Node) -> None:
    v3.mint(USDC, ACCOUNT0, 500 * 10**6)
    rc, out, err = mm_cli("swap", "quote", "--from", "USDC", "--to", v3.tkn, "--amount",
                          "250", "--from-chain", str(CHAIN), "--slippage", "1")
    assert rc == 0, (out, err)
    q = out["data"]
    assert q["protocols"] == ["uniswap-v3"] and q["approval"]["amount"] == str(250 * 10**6)
    said = v3.quoter(USDC, v3.tkn, 250 * 10**6, 3000)
    assert int(q["destAssetAmount"]) == said
    before = v3.balance(v3.tkn, ACCOUNT0)
    rc, out, err = mm_cli("swap", "execute", "--quote-id", q["quoteId"])
    assert rc == 0, (out, err)
    assert out["data"]["status"] == "COMPLETED"
    assert out["data"]["approvalRequest"]["status"] == "COMPLETED"
    assert v3.balance(v3.tkn, ACCOUNT0) - before == said == int(out["data"]["received"])
    rc, out, _ = mm_cli("swap", "status", "--quote-id", q["quoteId"])
    assert rc == 0 and out["data"]["status"] == "COMPLETED"


def test_a_quoter_built_on_another_factory_is_refused(swaps: SwapService, v3: V3Node) -> None:
    """Pools are looked up on the table's factory: a QuoterV2 (or router) at the table's
    address built on another factory would quote or trade elsewhere, so nothing is quoted."""
    c = v3.rpc
    elsewhere = _deploy(c, _creation("QuoterV2"), ["address", "address"], [v3.npm, DEP.weth])
    c.rpc.call("anvil_setCode", [DEP.quoter_v2, c.rpc.call("eth_getCode",
                                                            [elsewhere, "latest"])])
    with pytest.raises(MMError) as err:
        swaps.quote(from_token="ETH", to_token="USDC", amount="1", from_chain=CHAIN)
    assert err.value.code == "SWAP_PROTOCOL_UNAVAILABLE"
    c.rpc.call("anvil_setCode", [DEP.swap_router02, "0x"])
    with pytest.raises(MMError) as err:
        swaps.quote(from_token="ETH", to_token="USDC", amount="1", from_chain=CHAIN)
    assert err.value.code == "SWAP_PROTOCOL_UNAVAILABLE" and "SwapRouter02" in err.value.message
